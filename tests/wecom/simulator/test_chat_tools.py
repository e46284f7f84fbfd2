"""sendChatMessage as the WeCom client takes it from a chat-toolbar page (DOC 96935): into a chat the member has
open, in the documented shapes, with media ids from media/upload that are less than three days old."""

from __future__ import annotations

import json

import httpx
import pytest

from siyu.wecom.crypto import generate_encoding_aes_key, generate_token
from siyu.wecom.simulator import SimClock, Simulator, run_in_thread
from siyu.wecom.simulator.errors import SimulatorError
from siyu.wecom.simulator.state import Media


@pytest.fixture
def sim():
    sim = Simulator("wwchattools000001", "secret", "1000002", generate_token(), generate_encoding_aes_key(),
                    clock=SimClock(1_717_200_000, frozen=True), deliver=lambda url, params, body: 200)
    sim.add_staff("zhangsan", "张三")
    sim.add_staff("lisi", "李四")
    yield sim
    sim.close()


def media(sim, kind: str, *, attachment_type: int = 0) -> str:
    media_id = f"media-{kind}-{attachment_type}"
    sim.state.media[media_id] = Media(media_id, kind, sim.now(), f"x.{kind}", 10, attachment_type=attachment_type)
    return media_id


def test_a_text_goes_into_the_open_chat_and_is_recorded(sim):
    wang = sim.add_customer("zhangsan", name="王女士")["external_userid"]
    answer = sim.send_chat_message("zhangsan", {"msgtype": "text", "text": {"content": "你好"}}, external_userid=wang)
    assert answer["errMsg"] == "sendChatMessage:ok"
    assert [(m["userid"], m["external_userid"], m["text"]) for m in sim.chat_tool_messages()] == [
        ("zhangsan", wang, {"content": "你好"})]


@pytest.mark.parametrize("message, reason", [
    ({"msgtype": "voice", "voice": {}}, "invalid msgtype"),
    ({"msgtype": "text", "text": {"content": " "}}, "text.content is empty"),
    ({"msgtype": "text"}, "text must be an object"),
    ({"msgtype": "news", "news": {"link": "javascript:alert(1)", "title": "x"}}, "news.link"),
    ({"msgtype": "miniprogram", "miniprogram": {"appid": "wx1", "title": "x", "page": "pages/index"}}, ".html"),
    ({"msgtype": "image", "image": {"mediaid": "nope"}}, "invalid mediaid"),
])
def test_what_the_client_refuses(sim, message, reason):
    wang = sim.add_customer("zhangsan")["external_userid"]
    with pytest.raises(SimulatorError, match=reason):
        sim.send_chat_message("zhangsan", message, external_userid=wang)
    assert sim.chat_tool_messages() == []


def test_only_into_a_chat_the_member_has_open(sim):
    wang = sim.add_customer("zhangsan")["external_userid"]
    group = sim.create_group("zhangsan", name="香薰群", members=[wang])["chat_id"]
    text = {"msgtype": "text", "text": {"content": "你好"}}
    with pytest.raises(SimulatorError, match="without context"):
        sim.send_chat_message("lisi", text, external_userid=wang)  # not lisi's customer
    with pytest.raises(SimulatorError, match="without context"):
        sim.send_chat_message("lisi", text, chat_id=group)  # not in the group
    with pytest.raises(SimulatorError, match="without context"):
        sim.send_chat_message("zhangsan", text)  # no chat at all
    sim.customer_deletes_staff(wang, "zhangsan")
    with pytest.raises(SimulatorError, match="without context"):
        sim.send_chat_message("zhangsan", text, external_userid=wang)
    assert sim.send_chat_message("zhangsan", text, chat_id=group)["message"]["chat_id"] == group


def test_media_must_be_a_plain_upload_of_the_same_type_less_than_three_days_old(sim):
    wang = sim.add_customer("zhangsan")["external_userid"]
    video = media(sim, "video")
    for wrong in (media(sim, "image"), media(sim, "video", attachment_type=1)):
        with pytest.raises(SimulatorError, match="invalid mediaid"):
            sim.send_chat_message("zhangsan", {"msgtype": "video", "video": {"mediaid": wrong}}, external_userid=wang)
    sim.send_chat_message("zhangsan", {"msgtype": "video", "video": {"mediaid": video}}, external_userid=wang)
    sim.advance(3 * 86400)
    with pytest.raises(SimulatorError, match="invalid mediaid"):
        sim.send_chat_message("zhangsan", {"msgtype": "video", "video": {"mediaid": video}}, external_userid=wang)


def test_the_control_route_and_view(sim):
    wang = sim.add_customer("zhangsan")["external_userid"]
    base, stop = run_in_thread(sim)
    try:
        ok = httpx.post(f"{base}/sim/send-chat-message", content=json.dumps(
            {"userid": "zhangsan", "external_userid": wang, "message": {"msgtype": "text", "text": {"content": "在吗"}}}))
        refused = httpx.post(f"{base}/sim/send-chat-message", content=json.dumps(
            {"userid": "lisi", "external_userid": wang, "message": {"msgtype": "text", "text": {"content": "在吗"}}}))
        listed = httpx.get(f"{base}/sim/chat-tool-messages", params={"userid": "zhangsan"}).json()
    finally:
        stop()
    assert ok.status_code == 200 and ok.json()["errMsg"] == "sendChatMessage:ok"
    assert refused.status_code == 400 and "without context" in refused.json()["error"]
    assert [m["text"]["content"] for m in listed] == ["在吗"]
