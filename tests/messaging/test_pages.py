"""The messaging settings page (HQ only, audited, field errors without a write), its HTMX dry run, and the
decisions on the customer's page."""

from __future__ import annotations

import pytest

from siyu.messaging.models import Decision, FrequencyCap, Policy
from siyu.orgs.models import AuditEntry
from siyu.privacy.consent import withdraw_consent
from tests.factories import client_for
from tests.messaging.helpers import beijing, customers, plan, tag_customer

pytestmark = pytest.mark.django_db

GOOD = {"receive_rule": "day1", "quiet_start": "22:00", "quiet_end": "08:30", "timezone": "Asia/Shanghai",
        "stale_after_hours": "12", "protect_minors": "on", "cap_sop_max": "3", "cap_sop_days": "7"}


def test_hq_saves_the_settings_and_the_change_is_audited(world):
    [ann] = customers(world.org, 1)
    tag = tag_customer(world.org, ann, "孕期")
    client = client_for(world.admin)
    assert client.get("/messaging/settings/").status_code == 200
    response = client.post("/messaging/settings/", {**GOOD, "protected_tags": [tag.pk]})
    assert response.status_code == 302
    policy = Policy.objects.for_org(world.org).get()
    quiet = (f"{policy.quiet_start:%H:%M}", f"{policy.quiet_end:%H:%M}")
    assert (policy.receive_rule, quiet) == ("day1", ("22:00", "08:30"))
    assert (policy.protect_minors, policy.protect_seniors, policy.protected_tag_ids) == (True, False, [tag.pk])
    cap = FrequencyCap.objects.for_org(world.org).get()
    assert (cap.channel, cap.max_messages, cap.days) == ("sop", 3, 7)
    entry = AuditEntry.objects.get(action="messaging.policy_saved")
    assert entry.actor == world.admin.user and entry.details["caps"] == {"sop": "3/7"}
    page = client.get("/messaging/settings/").content.decode()
    assert 'value="22:00"' in page


@pytest.mark.parametrize("bad, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"cap_sop_days": ""}, "cap_sop_max"),
    ({"stale_after_hours": "0"}, "stale_after_hours"),
    ({"receive_rule": "week8"}, "receive_rule"),
])
def test_bad_settings_are_a_field_error_and_change_nothing(world, bad, field):
    response = client_for(world.admin).post("/messaging/settings/", {**GOOD, **bad})
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not Policy.objects.for_org(world.org).exists() and not FrequencyCap.objects.for_org(world.org).exists()
    assert not AuditEntry.objects.filter(action="messaging.policy_saved").exists()


def test_another_brands_tag_cannot_be_protected_here(world):
    [other] = customers(world.other_org, 1, prefix="x")
    foreign = tag_customer(world.other_org, other, "外部")
    response = client_for(world.admin).post("/messaging/settings/", {**GOOD, "protected_tags": [foreign.pk]})
    assert response.status_code == 400 and "protected_tags" in response.context["form"].errors


def test_guides_and_managers_cannot_open_the_settings(world):
    for member in (world.guide_e1, world.east_manager):
        assert client_for(member).get("/messaging/settings/").status_code == 403


def test_the_dry_run_partial_counts_reasons_and_highlights_blocked_words(world):
    ann, bob = customers(world.org, 2)
    withdraw_consent(bob, "marketing", by=None, source="h5")
    client = client_for(world.admin)
    response = client.post("/messaging/dry-run/", {"content": "全网最低价，快来抢", "purpose": "marketing",
                                                   "channel": "mass_message"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200 and 'data-testid="dry-run"' in page and "<html" not in page
    assert "内容违规，不能发送" in page and ">全网最低价</mark>" in page
    response = client.post("/messaging/dry-run/", {"content": "春季新品到店", "purpose": "marketing",
                                                   "channel": "sop"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert 'data-reason="no_consent"' in page and "未授权该用途" in page
    assert not Decision.objects.for_org(world.org).exists()
    bad = client.post("/messaging/dry-run/", {"content": "", "purpose": "spam", "channel": "sop"})
    assert bad.status_code == 400


def test_the_customer_page_lists_the_guards_decisions(world):
    ann, bob = customers(world.org, 2)
    withdraw_consent(bob, "marketing", by=None, source="h5", at=beijing(2027, 3, 1, 10))
    plan(world.org, [ann.pk, bob.pk], beijing(2027, 4, 1, 23))
    page = client_for(world.admin).get(f"/customers/{bob.pk}/").content.decode()
    assert "消息触达记录" in page and "未授权该用途" in page and "营销消息" in page
    page = client_for(world.admin).get(f"/customers/{ann.pk}/").content.decode()
    assert "免打扰时段，暂缓发送" in page and "2027-04-02 09:00" in page
