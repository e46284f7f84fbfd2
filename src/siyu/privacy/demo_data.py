"""The demo brand's privacy notice and consent: a published notice, and consent given by the first customers when
they were added (some withdrew marketing later), so the customer pages and the consent condition have data.

Idempotent: a second ``siyu demo`` adds nothing once the notice exists.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from siyu.customers.models import Customer
from siyu.privacy.consent import current_notice, grant_consent, publish_notice, withdraw_consent
from siyu.privacy.models import ConsentRecord, Purpose

CONSENTED = 200  # the first customers (by id) consented to marketing and profiling on the H5 page when added
WITHDREW_EVERY = 9  # … and every ninth of them withdrew marketing a week later

NOTICE_TITLE = "山茶物语隐私政策"
NOTICE_BODY = """我们重视你的个人信息。本政策说明山茶物语（示例品牌）在企业微信中如何收集和使用你的信息。

一、我们收集的信息：你的企业微信昵称、你告诉门店导购的手机号、你在门店和线上商城的订单。
二、使用目的：经你同意后，向你发送新品和优惠消息（营销消息）；根据订单和互动为你推荐合适的商品（用户画像）；在你主动分享位置时为你推荐最近的门店（位置信息）。
三、我们从不收集人脸、声纹、指纹等生物识别信息。
四、你可以随时在本页面撤回任何一项授权，或在聊天中回复“退订”停止接收营销消息，撤回后立即生效。
五、你可以联系门店或客服，查阅、复制或删除你的个人信息。"""


def load_privacy_demo(org) -> None:
    if current_notice(org) is not None:
        return
    notice = publish_notice(org, title=NOTICE_TITLE, body=NOTICE_BODY, by=None)
    customers = Customer.objects.for_org(org).exclude(first_added_at=None).order_by("pk")[:CONSENTED]
    now = timezone.now()
    for n, customer in enumerate(customers):
        at = min(customer.first_added_at, now)
        evidence = {"page": "h5", "demo": True}
        for purpose in (Purpose.MARKETING, Purpose.PROFILING):
            grant_consent(customer, purpose, by=None, source=ConsentRecord.Source.H5, notice_version=notice.version,
                          evidence=evidence, at=at)
        if n % WITHDREW_EVERY == 0:
            withdraw_consent(customer, Purpose.MARKETING, by=None, source=ConsentRecord.Source.H5,
                             notice_version=notice.version, evidence=evidence, at=min(at + timedelta(days=7), now))
