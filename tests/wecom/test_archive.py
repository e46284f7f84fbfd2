"""The chat archive: simulated chats are stored once however often they are fetched, the cursor advances in
pages, odd messages are kept without crashing, msgaudit_notify and the periodic task pull, the source is
chosen per organization, and the SDK adapter decrypts with the private key (with a stand-in for the SDK)."""

from __future__ import annotations

import base64
import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import Client

from siyu.core.dispatch import dispatch_once
from siyu.core.events import DomainEvent, Kind
from siyu.customers.models import TimelineEvent
from siyu.wecom import archive, tasks
from siyu.wecom.archive import ArchiveSourceUnavailable, SimulatorArchiveSource, fetch_archive
from siyu.wecom.archive_wecom import FinanceSdk, WeComSdkArchiveSource, load_private_keys
from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.models import DEFAULT_API_BASE, ArchiveCursor, CallbackEvent, ChatMessage, WeComConnection
from siyu.wecom.receiver import forget_cryptor
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread
from siyu.wecom.simulator.state import ArchiveMessage as SimArchiveMessage
from siyu.wecom.sync import start_full_sync
from tests.wecom.helpers import event_xml, post_callback

CORP_ID = "ww9c8b7a6f5e4d3c2b"
SECRET = "archive-secret"


class Chats:
    """An organization connected to a simulator with one member, two customers and a group, mirrored into Siyu."""

    def __init__(self, org, capture):
        self.org = org
        self.sim = Simulator(CORP_ID, SECRET, "1000002", generate_token(), generate_encoding_aes_key(),
                             clock=SimClock(1_717_200_000, frozen=True))
        base_url, self.stop = run_in_thread(self.sim)
        self.connection = WeComConnection.objects.create(
            org=org, corp_id=CORP_ID, agent_id="1000002", secret=SECRET, callback_token=generate_token(),
            encoding_aes_key=generate_encoding_aes_key(), api_base=f"{base_url}/cgi-bin/",
        )
        forget_cryptor(org.slug)
        self.sim.add_staff("zhangsan", "张三")
        self.first = self.sim.add_customer("zhangsan", name="王女士")["external_userid"]
        self.second = self.sim.add_customer("zhangsan", name="赵先生")["external_userid"]
        self.group = self.sim.create_group("zhangsan", name="香薰群", members=[self.first, self.second])["chat_id"]
        with capture(execute=True):
            start_full_sync(org)

    def cursor(self) -> int:
        return ArchiveCursor.objects.for_org(self.org).get().seq


@pytest.fixture
def chats(world, settings, django_capture_on_commit_callbacks):
    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    chats = Chats(world.org, django_capture_on_commit_callbacks)
    yield chats
    chats.stop()
    chats.sim.close()


class Announced:
    """The messages a ``message.archived`` event was written for, in order."""

    def __init__(self, org):
        self.org = org

    def _msgids(self) -> list[str]:
        ids = DomainEvent.objects.for_org(self.org).filter(kind=Kind.MESSAGE_ARCHIVED).order_by("pk").values_list(
            "subject_id", flat=True)
        by_pk = dict(ChatMessage.objects.for_org(self.org).values_list("pk", "msgid"))
        return [by_pk[pk] for pk in ids]

    def __eq__(self, other) -> bool:
        return self._msgids() == other

    def __len__(self) -> int:
        return len(self._msgids())


@pytest.fixture
def announced(world):
    return Announced(world.org)


def fetch(org, capture, **kwargs) -> int:
    with capture(execute=True):
        return fetch_archive(org, **kwargs)


def test_simulated_chats_land_once_even_when_fetched_twice(chats, announced, django_capture_on_commit_callbacks):
    org, sim = chats.org, chats.sim
    asked = sim.chat(chats.first, "请问这款香薰还有货吗？", userid="zhangsan")
    sim.advance(5)
    sim.chat(chats.first, "有的，今天下单明天到", userid="zhangsan", from_staff=True)
    sim.chat(chats.second, "群里有人用过吗", chat_id=chats.group)

    assert fetch(org, django_capture_on_commit_callbacks) == 3
    assert fetch(org, django_capture_on_commit_callbacks) == 0
    assert chats.cursor() == 3

    rows = list(ChatMessage.objects.for_org(org).select_related("customer", "staff"))
    assert [(m.seq, m.msgtype, m.text) for m in rows] == [
        (1, "text", "请问这款香薰还有货吗？"), (2, "text", "有的，今天下单明天到"), (3, "text", "群里有人用过吗")]
    question, answer, in_group = rows
    assert (question.from_customer, question.customer.external_userid, question.staff.userid) == (True, chats.first, "zhangsan")
    assert (question.sender, question.receivers, question.msgid) == (chats.first, ["zhangsan"], asked["msgid"])
    assert question.sent_at.timestamp() == asked["msgtime"] / 1000  # milliseconds
    assert (answer.from_customer, answer.customer.external_userid, answer.staff.userid) == (False, chats.first, "zhangsan")
    assert (in_group.room_id, in_group.from_customer, in_group.customer.external_userid, in_group.staff) == (
        chats.group, True, chats.second, None)
    chatted = TimelineEvent.objects.for_org(org).filter(kind="chatted")
    assert chatted.count() == 3
    [asked_entry] = [e for e in chatted.filter(customer=question.customer) if e.data["from_customer"]]
    assert asked_entry.data["text"] == "请问这款香薰还有货吗？"
    assert announced == [m.msgid for m in rows]

    # Even from the start again (a reset cursor, a replayed feed), nothing is stored or announced twice.
    ArchiveCursor.objects.for_org(org).update(seq=0)
    assert fetch(org, django_capture_on_commit_callbacks) == 0
    assert chats.cursor() == 3
    assert ChatMessage.objects.for_org(org).count() == 3 and chatted.count() == 3 and len(announced) == 3


def test_the_cursor_advances_page_by_page(chats, django_capture_on_commit_callbacks):
    for n in range(5):
        chats.sim.chat(chats.first, f"第{n}条")
    asked = []
    source = SimulatorArchiveSource(chats.connection)
    original = source.fetch
    source.fetch = lambda seq, limit: asked.append((seq, limit)) or original(seq, limit)

    assert fetch(chats.org, django_capture_on_commit_callbacks, source=source, limit=2, max_pages=2) == 4
    assert chats.cursor() == 4 and asked == [(0, 2), (2, 2)]
    assert fetch(chats.org, django_capture_on_commit_callbacks, source=source, limit=2) == 1
    assert chats.cursor() == 5 and asked[2:] == [(4, 2)]
    assert fetch(chats.org, django_capture_on_commit_callbacks, source=source, limit=2) == 0
    assert asked[3:] == [(5, 2)]
    assert ArchiveCursor.objects.for_org(chats.org).get().fetched_at is not None
    assert [m.text for m in ChatMessage.objects.for_org(chats.org)] == [f"第{n}条" for n in range(5)]
    source.close()


def test_odd_and_unknown_messages_are_stored_without_crashing(chats, announced, django_capture_on_commit_callbacks):
    first = chats.first
    odd = [
        {"msgid": "m-voice", "action": "send", "from": first, "tolist": ["zhangsan"], "roomid": "", "msgtime": 1717200001000,
         "msgtype": "voice", "voice": {"voice_size": 4, "play_length": 2, "sdkfileid": "CtYBMzA2OTAy", "md5sum": "abc"}},
        {"msgid": "m-switch", "action": "switch", "time": 1717200002000, "user": "zhangsan"},
        {"msgid": "m-odd", "from": first, "tolist": "zhangsan", "msgtime": "yesterday", "msgtype": "text", "text": {"content": 12}},
        {"msgid": "m-future", "action": "send", "from": "wbRobot01", "tolist": [first], "msgtime": 10**20, "msgtype": "hologram"},
        "a message that is not JSON object",
        {"msgid": "m-revoke", "action": "recall", "from": first, "tolist": ["zhangsan"], "msgtime": 1717200003000,
         "msgtype": "revoke", "revoke": {"pre_msgid": "m-voice"}},
    ]
    for n, message in enumerate(odd, 1):
        msgid = message["msgid"] if isinstance(message, dict) else "m-text-blob"
        chats.sim.state.archive.append(SimArchiveMessage(n, msgid, message))

    assert fetch(chats.org, django_capture_on_commit_callbacks) == 6
    rows = {m.msgid: m for m in ChatMessage.objects.for_org(chats.org)}
    assert set(rows) == {"m-voice", "m-switch", "m-odd", "m-future", "m-text-blob", "m-revoke"}
    assert (rows["m-voice"].msgtype, rows["m-voice"].text, rows["m-voice"].customer.external_userid) == ("voice", "", first)
    assert rows["m-voice"].content["voice"]["sdkfileid"] == "CtYBMzA2OTAy"
    assert (rows["m-switch"].action, rows["m-switch"].msgtype, rows["m-switch"].sender) == ("switch", "switch", "zhangsan")
    assert (rows["m-odd"].text, rows["m-odd"].receivers, rows["m-odd"].from_customer) == ("12", [], True)
    assert (rows["m-future"].msgtype, rows["m-future"].from_customer, rows["m-future"].customer) == ("hologram", False, None)
    assert (rows["m-text-blob"].msgtype, rows["m-text-blob"].content) == ("unknown", {"raw": "a message that is not JSON object"})
    assert (rows["m-revoke"].action, rows["m-revoke"].msgtype) == ("recall", "revoke")
    assert chats.cursor() == 6 and len(announced) == 6


def test_msgaudit_notify_pulls_the_archive(chats):
    chats.sim.chat(chats.first, "在吗")
    xml = event_xml("msgaudit_notify")
    assert post_callback(Client(), chats.org, chats.connection, xml).status_code == 200
    assert CallbackEvent.objects.for_org(chats.org).get().event == "msgaudit_notify"

    dispatch_once(owner="test")

    assert CallbackEvent.objects.for_org(chats.org).get().status == "done"
    assert [m.text for m in ChatMessage.objects.for_org(chats.org)] == ["在吗"]


def test_the_periodic_task_pulls_for_every_organization_whose_archive_is_on(chats, world, settings,
                                                                           django_capture_on_commit_callbacks):
    chats.sim.chat(chats.first, "你好")
    WeComConnection.objects.create(  # points at WeCom itself: the simulator feed does not exist there
        org=world.other_org, corp_id="wwotherorg0000001", agent_id="1000002", secret="x",
        callback_token=generate_token(), encoding_aes_key=generate_encoding_aes_key(), api_base=DEFAULT_API_BASE,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.pull_archives.call_local() == 1
    assert ChatMessage.objects.for_org(chats.org).count() == 1
    assert not ChatMessage.objects.for_org(world.other_org).exists()

    settings.SIYU_ARCHIVE_SOURCE = {chats.org.slug: "off", "*": "simulator"}
    chats.sim.chat(chats.first, "还在吗")
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.pull_archives.call_local() == 0
    assert ChatMessage.objects.for_org(chats.org).count() == 1


def test_a_failing_source_leaves_the_cursor_where_it_was(chats, django_capture_on_commit_callbacks):
    chats.sim.chat(chats.first, "你好")
    chats.stop()  # the simulator is gone
    assert tasks.pull_archive.call_local(chats.org.pk) == 0
    with pytest.raises(archive.ArchiveError):
        fetch(chats.org, django_capture_on_commit_callbacks)
    assert ArchiveCursor.objects.for_org(chats.org).get().seq == 0


# -- choosing the source -------------------------------------------------------------------------------------------
def test_the_source_is_chosen_per_organization(world, settings, monkeypatch):
    for org in (world.org, world.other_org):
        WeComConnection.objects.create(
            org=org, corp_id=f"ww{org.pk:016d}", agent_id="1000002", secret="x", callback_token=generate_token(),
            encoding_aes_key=generate_encoding_aes_key(), api_base="http://127.0.0.1:9/cgi-bin/",
        )
    def source_for(org):
        source = archive.source_for(org)
        if source is not None:
            source.close()
        return source

    assert isinstance(source_for(world.org), SimulatorArchiveSource)  # the default
    assert archive.archive_url("http://127.0.0.1:9/cgi-bin/") == "http://127.0.0.1:9/sim/archive"
    assert archive.archive_url("http://sim.example/wecom/cgi-bin") == "http://sim.example/wecom/sim/archive"

    settings.SIYU_ARCHIVE_SOURCE = {world.org.slug: "wecom_sdk", "*": "simulator"}
    with pytest.raises(ArchiveSourceUnavailable, match="SIYU_ARCHIVE_SECRET"):
        source_for(world.org)
    assert isinstance(source_for(world.other_org), SimulatorArchiveSource)

    del settings.SIYU_ARCHIVE_SOURCE
    monkeypatch.setenv("SIYU_ARCHIVE_SOURCE", json.dumps({"*": "off"}))
    assert source_for(world.org) is None
    assert fetch_archive(world.org) == 0
    monkeypatch.setenv("SIYU_ARCHIVE_SOURCE", "carrier-pigeon")
    with pytest.raises(ArchiveSourceUnavailable, match="carrier-pigeon"):
        source_for(world.org)


def test_the_sdk_library_is_required_only_when_selected():
    with pytest.raises(ArchiveSourceUnavailable, match="cannot load"):
        FinanceSdk("/nonexistent/libWeWorkFinanceSdk_C.so", CORP_ID, "secret")


# -- the SDK adapter, with a stand-in for Tencent's library ----------------------------------------------------------
class FakeSdk:
    """GetChatData/DecryptData as the SDK answers them; ``DecryptData`` only works with the right random key."""

    def __init__(self, public_key, messages: list[dict]):
        self.chatdata, self.plaintexts = [], {}
        for seq, message in enumerate(messages, 1):
            random_key = f"key-{seq}".encode()
            ciphertext = f"cipher-{seq}"
            self.chatdata.append({
                "seq": seq, "msgid": message["msgid"], "publickey_ver": message.pop("_ver", 1),
                "encrypt_random_key": base64.b64encode(public_key.encrypt(random_key, padding.PKCS1v15())).decode(),
                "encrypt_chat_msg": ciphertext,
            })
            # The SDK's plaintext may carry raw control characters inside strings.
            self.plaintexts[(random_key, ciphertext)] = json.dumps(message, ensure_ascii=False).replace("\\n", "\n").encode()
        self.closed = False

    def get_chat_data(self, seq, limit, proxy, password, timeout) -> bytes:
        batch = [c for c in self.chatdata if c["seq"] > seq][:limit]
        return json.dumps({"errcode": 0, "errmsg": "ok", "chatdata": batch}).encode()

    def decrypt_data(self, random_key: bytes, encrypted: str) -> bytes:
        return self.plaintexts[(random_key, encrypted)]

    def close(self) -> None:
        self.closed = True


def test_the_sdk_adapter_decrypts_with_the_private_key(chats, tmp_path, django_capture_on_commit_callbacks):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "archive_v1.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
    os.chmod(pem, 0o600)
    first = chats.first
    sdk = FakeSdk(key.public_key(), [
        {"msgid": "sdk-1", "action": "send", "from": first, "tolist": ["zhangsan"], "roomid": "",
         "msgtime": 1717200000123, "msgtype": "text", "text": {"content": "第一行\n第二行"}},
        {"msgid": "sdk-2", "_ver": 7, "action": "send", "from": "zhangsan", "tolist": [first], "msgtime": 1717200001000,
         "msgtype": "text", "text": {"content": "版本 7 的私钥没有配置"}},
    ])
    source = WeComSdkArchiveSource(sdk, load_private_keys(f"1:{pem}"))

    assert fetch(chats.org, django_capture_on_commit_callbacks, source=source) == 2
    rows = {m.msgid: m for m in ChatMessage.objects.for_org(chats.org)}
    assert (rows["sdk-1"].text, rows["sdk-1"].customer.external_userid) == ("第一行第二行", first)
    assert rows["sdk-1"].sent_at.timestamp() == 1717200000.123
    assert rows["sdk-2"].msgtype == "undecryptable" and "10007" in rows["sdk-2"].content["error"]
    assert chats.cursor() == 2

    # One key for every version: "/path.pem" without a version prefix.
    any_version = WeComSdkArchiveSource(sdk, load_private_keys(str(pem)))
    assert [m.message.get("msgtype") for m in any_version.fetch(0, 10)] == ["text", "text"]
    with pytest.raises(ArchiveSourceUnavailable, match="cannot read"):
        load_private_keys(str(tmp_path / "missing.pem"))
