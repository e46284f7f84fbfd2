"""The demo brand's chat watch: a competitor's name on its sensitive-word list, and a few archived chats that
raised alerts (a guide naming the competitor, a guide asking for an ID number, a customer threatening a
complaint), so the alert list and the archive show what the watch does.

Idempotent: the chats have fixed message ids and the alerts their idempotency keys.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from siyu.content import services as content_services
from siyu.content.models import SensitiveWord
from siyu.conversations import watch
from siyu.customers.models import Relation
from siyu.wecom.models import ChatMessage

COMPETITOR = "喜茶茶"  # a made-up competitor: the demo names no real brand
CHATS = [  # (hours ago, from the customer, text)
    (30, True, "上次买的桂花乌龙喝出了异物，再不处理我就打12315投诉了"),
    (29, False, "实在抱歉，我马上帮您处理退款，今天就给您回复"),
    (20, False, f"{COMPETITOR}那边的原料都是次品，还是我们家的好"),
    (6, False, "办会员要登记一下，麻烦发一下身份证号码给我"),
]


def load_conversation_demo(org) -> None:
    if not SensitiveWord.objects.for_org(org).filter(word=COMPETITOR).exists():
        content_services.add_word(org, word=COMPETITOR, category=SensitiveWord.Category.COMPETITOR,
                                  severity="flag", note="竞品名称，不要在聊天中评价竞品", by=None)
    relations = list(Relation.objects.for_org(org).filter(status=Relation.Status.ACTIVE, staff__store__isnull=False)
                     .select_related("customer", "staff").order_by("pk")[:2])
    now = timezone.now()
    for n, (hours, from_customer, text) in enumerate(CHATS):
        relation = relations[min(n // 2, len(relations) - 1)] if relations else None
        if relation is None:
            return
        customer, staff = relation.customer, relation.staff
        message, created = ChatMessage.objects.for_org(org).get_or_create(
            org=org, msgid=f"demo-watch-{n}",
            defaults={"seq": 0, "sender": customer.external_userid if from_customer else staff.userid,
                      "receivers": [staff.userid if from_customer else customer.external_userid], "msgtype": "text",
                      "text": text, "content": {"text": {"content": text}}, "sent_at": now - timedelta(hours=hours),
                      "customer": customer, "staff": staff, "from_customer": from_customer})
        if created:
            watch.raise_alert(message)
