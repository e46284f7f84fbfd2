"""What people wrote — archived chats, notes, follow-ups and the timeline entries quoting them — is stored
encrypted: the raw database never holds the phone number written in them, the models read it back, and the
migration helper seals rows written before encryption without touching tokens."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from siyu.customers import notes
from siyu.customers.models import Customer, FollowUp, Note, TimelineEvent
from siyu.orgs.models import Staff
from siyu.privacy.at_rest import encrypt_columns
from siyu.privacy.keyring import is_token
from siyu.wecom.models import ChatMessage

PHONE = "13912345678"


def raw(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def customer_of(world) -> Customer:
    return Customer.objects.create(org=world.org, external_userid="wmAtRest01", name="王女士")


def test_notes_follow_ups_and_their_timeline_entries_hold_no_plaintext(world):
    customer = customer_of(world)
    staff = Staff.objects.create(org=world.org, userid="zhangsan", name="张三", membership=world.admin)
    notes.add_note(customer, f"客户说新号码是 {PHONE}，住在静安区", by=world.admin)
    notes.add_follow_up(customer, f"周五打 {PHONE} 确认到货", due_at=timezone.now() + timedelta(days=2),
                        assignee=staff, by=world.admin)

    for table, column in [("customers_note", "text"), ("customers_followup", "text"), ("customers_timelineevent", "data")]:
        values = raw(table, column)
        assert values and all(is_token(v) for v in values), table
        assert not any(PHONE in v or "静安" in v for v in values), table
    assert PHONE in Note.objects.for_org(world.org).get().text
    assert PHONE in FollowUp.objects.for_org(world.org).get().text
    quoted = [e.data.get("text", "") for e in TimelineEvent.objects.for_org(world.org).filter(customer=customer)]
    assert any(PHONE in text for text in quoted)


def test_archived_chat_text_and_content_hold_no_plaintext(world):
    customer = customer_of(world)
    ChatMessage.objects.create(org=world.org, msgid="m1", seq=1, sender=customer.external_userid, receivers=["zhangsan"],
                               msgtype="text", text=f"我的电话 {PHONE}", content={"text": {"content": f"我的电话 {PHONE}"}},
                               sent_at=timezone.now(), customer=customer, from_customer=True)
    text, content = raw("wecom_chatmessage", "text")[0], raw("wecom_chatmessage", "content")[0]
    assert is_token(text) and is_token(content) and PHONE not in text + content
    message = ChatMessage.objects.for_org(world.org).get()
    assert message.text == f"我的电话 {PHONE}" and message.content["text"]["content"].endswith(PHONE)


def test_the_migration_helper_seals_plaintext_rows_and_leaves_tokens_alone(world):
    customer = customer_of(world)
    sealed = Note.objects.create(org=world.org, customer=customer, text="已加密的小记")
    with connection.cursor() as cursor:  # a row as it was stored before the field was encrypted
        cursor.execute("INSERT INTO customers_note (org_id, customer_id, text, created_at) VALUES (%s, %s, %s, %s)",
                       [world.org.pk, customer.pk, f"旧小记 {PHONE}", timezone.now()])
    token_before = raw("customers_note", "text")[0]

    encrypt_columns(connection, table="customers_note", label="customers.note", columns=("text",))

    stored = raw("customers_note", "text")
    assert stored[0] == token_before  # already a token: untouched
    assert is_token(stored[1]) and PHONE not in stored[1]
    assert sorted(n.text for n in Note.objects.for_org(world.org)) == sorted(["已加密的小记", f"旧小记 {PHONE}"])
    assert Note.objects.for_org(world.org).get(pk=sealed.pk).text == "已加密的小记"
