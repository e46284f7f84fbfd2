"""Data-subject requests: export everything about a person's cluster, erase it for good (PIPL §45, §47)."""

import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from openpyxl import load_workbook

from siyu.cdp import identity
from siyu.cdp.identity import Ident
from siyu.cdp.models import Event, Identifier, Order, Person, Product, RawBatch, Source, Suppression
from siyu.cdp.services import record_order
from siyu.customers.models import Customer, Note
from siyu.messaging.models import MassMessage, MassTask
from siyu.orgs.models import AuditEntry
from siyu.privacy import requests
from siyu.privacy.fields import encrypted_fields
from siyu.privacy.models import SubjectRequest
from tests.customers.test_list import make_customer, make_staff
from tests.factories import make_org

pytestmark = pytest.mark.django_db

PHONE, NAME = "13912345678", "林小雨"


@pytest.fixture
def world():
    org = make_org()
    staff = make_staff(org, "guide1")
    customer = make_customer(org, NAME, (staff, {"mobiles": [PHONE], "remark": f"{NAME} 老客"}))
    Note.objects.create(org=org, customer=customer, text=f"{NAME}喜欢乌龙茶")
    person = identity.person_for_customer(customer)
    # The web shop knows her by her phone and a user id; the phone leads to her WeCom customer.
    web = identity.resolve(org, [Ident("user_id", "u-77"), Ident("anonymous_id", "anon-77"), Ident("phone", PHONE)],
                           source="web")
    assert web == person
    source = Source.objects.create(org=org, name="官网", kind=Source.Kind.WEB)
    now = timezone.now()
    for n in range(3):
        Event.objects.create(org=org, source=source, person=person, type="track", name="Product Viewed",
                             message_id=f"m-{n}", timestamp=now - timedelta(hours=n), received_at=now,
                             properties={"sku": "TEA-1"}, context={"ip": "10.1.2.3"})
    product = Product.objects.create(org=org, sku="TEA-1", name="桂花乌龙", price=Decimal("88.00"))
    order = record_order(org, customer, [{"product": product, "quantity": 2}], now, order_no="T-1")
    Order.objects.for_org(org).filter(pk=order.pk).update(person=person)
    return {"org": org, "customer": customer, "person": person, "source": source, "order": order, "staff": staff}


def _bundle(org, request) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(requests.read_bundle(org.pk, request.file)))


def test_export_holds_every_identifier_event_order_and_the_wecom_side(world):
    org = world["org"]
    request = requests.export_subject(org, Ident("user_id", "u-77"))
    archive = _bundle(org, request)
    data = json.loads(archive.read("person.json"))
    assert {(i["type"], i["value"]) for i in data["identifiers"]} >= {
        ("user_id", "u-77"), ("anonymous_id", "anon-77"), ("phone", PHONE),
        ("external_userid", world["customer"].external_userid)}
    assert sorted(e["message_id"] for e in data["events"]) == ["m-0", "m-1", "m-2"]
    assert data["events"][0]["context"] == {"ip": "10.1.2.3"}  # decrypted: it is her own data
    assert [o["order_no"] for o in data["orders"]] == ["T-1"]
    assert data["orders"][0]["lines"][0]["product"] == "桂花乌龙"
    wecom = data["wecom"][0]
    assert wecom["customer"]["name"] == NAME
    assert json.loads(wecom["relations"][0]["remark_mobiles"]) == [PHONE]
    assert [n["text"] for n in wecom["notes"]] == [f"{NAME}喜欢乌龙茶"]
    book = load_workbook(io.BytesIO(archive.read("person.xlsx")))
    assert {"标识", "事件", "订单", "企业微信客户"} <= set(book.sheetnames)
    assert request.summary == {"persons": 1, "identifiers": 4, "events": 3, "orders": 1, "wecom_customers": 1}
    entry = AuditEntry.objects.for_org(org).get(action="privacy.subject_exported")
    assert PHONE not in json.dumps(entry.details) and "u-77" not in json.dumps(entry.details)


def test_the_bundle_rests_encrypted(world):
    org = world["org"]
    request = requests.export_subject(org, Ident("phone", PHONE))
    raw = (requests.bundle_dir(org.pk) / request.file).read_bytes()
    assert raw.startswith(b"v1.") and b"PK" not in raw[:10]
    assert requests.read_bundle(org.pk, "../" + request.file) is None


def _raw_database_text() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def _decrypted_columns_text() -> str:
    chunks = []
    for model, field in encrypted_fields():
        chunks.extend(repr(v) for v in model._base_manager.values_list(field.name, flat=True))
    return "\n".join(chunks)


def test_erase_leaves_nothing_and_the_same_identifiers_bring_nobody_back(world):
    org = world["org"]
    # A normalized batch of the event API that quoted her (kept for re-drives) must not keep her either.
    RawBatch.objects.create(org=org, source=world["source"], received_at=timezone.now(), status=RawBatch.Status.DONE,
                            idempotency_key="raw-1", body=json.dumps([{"type": "identify", "userId": "u-77",
                                                                       "traits": {"phone": PHONE}}]))
    # A group message went to her and another customer; WeCom reported her as failed once.
    her = world["customer"].external_userid
    message = MassMessage.objects.create(org=org, title="新品", text="秋冬新品上市", audience={"tag_ids": []})
    task = MassTask.objects.create(org=org, message=message, staff=world["staff"], userid="guide1",
                                   external_userids=[her, "wmSomeoneElse"], fail_list=[her], idempotency_key="mass-1")
    assert PHONE in _decrypted_columns_text() and NAME in _raw_database_text()  # the scans below can see them
    request = requests.erase_subject(org, Ident("anonymous_id", "anon-77"))

    raw, decrypted = _raw_database_text(), _decrypted_columns_text()
    for secret in (PHONE, NAME, "u-77", "anon-77", world["customer"].external_userid, "10.1.2.3"):
        assert secret not in raw and secret not in decrypted, secret
    assert not Event.objects.for_org(org).exists()
    assert not Person.objects.for_org(org).exists() and not Customer.objects.for_org(org).exists()
    task.refresh_from_db()
    assert (task.external_userids, task.fail_list) == (["wmSomeoneElse"], [])
    assert not Identifier.objects.for_org(org).exists()
    order = Order.objects.for_org(org).get(pk=world["order"].pk)  # kept for the books, detached from her
    assert order.person_id is None and order.customer_id is None and order.total > 0
    assert Suppression.objects.for_org(org).count() == 4
    assert request.summary["events"] == 3 and request.summary["orders"] == 1 and request.summary["raw_batches"] == 1

    for idents in ([Ident("user_id", "u-77")], [Ident("phone", PHONE), Ident("email", "new@example.com")]):
        with pytest.raises(identity.Suppressed):
            identity.resolve(org, idents, source="web")
    assert not Person.objects.for_org(org).exists() and not Identifier.objects.for_org(org).exists()
    assert AuditEntry.objects.for_org(org).filter(action="privacy.subject_erased").count() == 1


def test_erase_covers_persons_merged_into_the_survivor(world):
    org = world["org"]
    other = Person.objects.create(org=org, merged_into=world["person"], name="旧账号")
    Identifier.objects.create(org=org, person=other, kind="member_id", value="M-9",
                              value_index=identity.value_index("member_id", "", "M-9"))
    requests.erase_subject(org, Ident("phone", PHONE))
    assert not Person.objects.for_org(org).exists()
    with pytest.raises(identity.Suppressed):
        identity.resolve(org, [Ident("member_id", "M-9")])


def test_an_unknown_or_malformed_identifier_changes_nothing(world):
    org = world["org"]
    with pytest.raises(requests.ValidationError) as error:
        requests.erase_subject(org, Ident("phone", "13800000000"))
    assert "identifier" in error.value.message_dict
    for text in ("13912345678", "fax:1", "phone:", ""):
        with pytest.raises(requests.ValidationError):
            requests.parse_identifier(text)
    assert Person.objects.for_org(org).count() == 1 and not Suppression.objects.for_org(org).exists()


def test_command_line_export_and_erase(world, tmp_path):
    org = world["org"]
    out = io.StringIO()
    target = tmp_path / "her.zip"
    call_command("privacy", "export", "--org", org.slug, "--identifier", f"phone:{PHONE}", "--output", str(target),
                 stdout=out)
    assert out.getvalue().strip().splitlines()[-1] == str(target)
    assert "person.json" in zipfile.ZipFile(target).namelist()
    with pytest.raises(CommandError, match="没有找到"):
        call_command("privacy", "erase", "--org", org.slug, "--identifier", "user_id:nobody")
    call_command("privacy", "erase", "--org", org.slug, "--identifier", "user_id:u-77", stdout=io.StringIO())
    assert not Person.objects.for_org(org).exists()


def test_console_page_exports_erases_and_keeps_guides_out(world):
    from siyu.orgs.models import Role
    from tests.factories import client_for, make_member, make_store

    org = world["org"]
    hq = client_for(make_member(org, Role.HQ_ADMIN))
    page = hq.get("/privacy/requests/")
    assert page.status_code == 200 and "个人信息请求" in page.content.decode()
    assert hq.post("/privacy/requests/", {"kind": "phone", "value": PHONE, "action": "export"}).status_code == 302
    done = SubjectRequest.objects.for_org(org).get()
    download = hq.get(f"/privacy/requests/{done.pk}/download/")
    assert download["Content-Type"] == "application/zip"
    assert "person.json" in zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    assert "138" not in done.identifier and "139****5678" in done.identifier

    refused = hq.post("/privacy/requests/", {"kind": "user_id", "value": "u-77", "action": "erase", "confirm": ""})
    assert refused.status_code == 400 and "请输入“删除”二字确认" in refused.content.decode()
    missing = hq.post("/privacy/requests/", {"kind": "user_id", "value": "nobody", "action": "erase", "confirm": "删除"})
    assert missing.status_code == 400 and "没有找到持有该标识的用户" in missing.content.decode()
    assert Person.objects.for_org(org).count() == 1

    guide = client_for(make_member(org, Role.GUIDE, store=make_store(org)))
    assert guide.get("/privacy/requests/").status_code == 403
    assert guide.get(f"/privacy/requests/{done.pk}/download/").status_code == 403
    assert guide.post("/privacy/requests/", {"kind": "user_id", "value": "u-77", "action": "erase",
                                             "confirm": "删除"}).status_code == 403
    assert Person.objects.for_org(org).count() == 1

    assert hq.post("/privacy/requests/", {"kind": "user_id", "value": "u-77", "action": "erase",
                                          "confirm": "删除"}).status_code == 302
    assert not Person.objects.for_org(org).exists()
    assert "删除个人信息" in hq.get("/privacy/requests/").content.decode()


def test_the_audit_log_reads_subject_requests_in_words(world):
    from siyu.orgs.models import Role
    from tests.factories import client_for, make_member

    org = world["org"]
    owner = make_member(org, Role.OWNER)
    requests.erase_subject(org, Ident("phone", PHONE), by=owner)
    page = client_for(owner).get("/audit/").content.decode()
    assert "删除个人信息" in page and "个人信息请求" in page and "事件数" in page
    assert "privacy.subject_erased" not in page and "wecom_customers" not in page
