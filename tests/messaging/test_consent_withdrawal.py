"""The acceptance path end to end: one customer withdraws on the H5 consent page, another replies 退订 to their
guide in chat; the next mass message's dry run leaves both out, naming the reason with its count, and a third who
did nothing stays in."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from siyu.customers.models import Customer
from siyu.messaging import reasons
from siyu.messaging.dryrun import dry_run
from siyu.privacy import consent
from tests.privacy.test_stopwords import feed
from tests.wecom.test_archive import chats  # noqa: F401  (an organization chatting through a simulator)

pytestmark = pytest.mark.django_db


def test_withdrawn_by_h5_or_by_tuiding_are_left_out_of_the_next_mass_message(
        chats, django_capture_on_commit_callbacks):  # noqa: F811
    org, sim = chats.org, chats.sim
    by_chat = Customer.objects.for_org(org).get(external_userid=chats.first)
    by_page = Customer.objects.for_org(org).get(external_userid=chats.second)
    stays = Customer.objects.create(org=org, external_userid="wm-stays", name="钱女士")
    before = dt.datetime.fromtimestamp(sim.clock.now() - 60, dt.UTC)
    notice = consent.publish_notice(org, title="隐私政策", body="正文", by=None)
    for customer in (by_chat, by_page, stays):
        consent.grant_consent(customer, "marketing", by=None, source="import", notice_version=notice.version,
                              at=before)
    ids = [by_chat.pk, by_page.pk, stays.pk]

    def next_send():
        return dry_run(org, send=("test.mass", 1), customer_ids=ids, purpose="marketing", channel="mass_message",
                       content="周末会员日，到店有礼")

    assert next_send().excluded == 0

    url = reverse("privacy:consent_page", args=[consent.link_token(by_page)])
    browser = Client(enforce_csrf_checks=True)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', browser.get(url).content.decode()).group(1)
    answer = browser.post(url, {"purpose": "marketing", "action": "withdraw", "csrfmiddlewaretoken": token})
    assert answer.status_code == 302
    summary = next_send()
    assert [(r.code, r.count) for r in summary.reasons if r.outcome == "excluded"] == [(reasons.NO_CONSENT, 1)]

    sim.advance(5)
    sim.chat(chats.first, "退订", userid="zhangsan")
    feed(chats, django_capture_on_commit_callbacks)
    summary = next_send()
    assert [(r.code, r.count) for r in summary.reasons if r.outcome == "excluded"] == [(reasons.NO_CONSENT, 2)]
    assert summary.excluded == 2 and summary.included + summary.held == 1
    assert sorted(next(r for r in summary.reasons if r.code == reasons.NO_CONSENT).examples) == ["王**", "赵**"]
