"""The demo has a past: 90 days of channel adds, losses, chats, orders and stage moves that the channel statistics
turn into curves and retention figures, written once however often the demo is loaded, and kept by a full sync
of the simulated corp."""

from __future__ import annotations

from datetime import timedelta

from django.db.models.functions import TruncDate
from django.utils import timezone

from siyu.analytics.queries import DAY_TZ, StatsFilter, channel_stats
from siyu.cdp.models import Order
from siyu.console import dashboard
from siyu.customers.models import Customer, Relation, TimelineEvent
from siyu.demo import load_demo
from siyu.demo_history import PREFIX
from siyu.lifecycle.models import StageChange
from siyu.orgs.models import Membership
from siyu.wecom.demo import seed_simulator
from siyu.wecom.models import ChatMessage
from tests.channels.conftest import Corp


def counts(org) -> dict:
    return {model.__name__: model.objects.for_org(org).count()
            for model in (Customer, Relation, Order, ChatMessage, StageChange, TimelineEvent)}


def test_history_makes_charts_and_retention_meaningful_and_loads_once(db):
    org = load_demo().org
    owner = Membership.objects.for_org(org).get(user__username="demo_owner")
    today = timezone.localdate(timezone=DAY_TZ)
    stats = channel_stats(owner, StatsFilter(start=today - timedelta(days=89), end=today))

    daily = stats.daily()
    assert sum(1 for day in daily if day.adds) >= 60
    assert max(day.adds for day in daily) < stats.total.adds / 10  # a curve, not one day's spike
    assert stats.total.deletions > 0 and stats.total.deleted_by_customer > stats.total.deleted_by_staff > 0
    for retention in (stats.total.retention_7, stats.total.retention_30):
        assert retention is not None and 0 < retention < 1
    assert stats.total.replied > 0 and stats.total.avg_reply_seconds > 0
    assert len(stats.grouped("channel")) == 4

    chart = dashboard.customer_chart(owner)
    added, lost = (series["data"] for series in chart["series"])
    assert sum(1 for n in added if n) >= 60 and sum(lost) > 0

    order_days = (Order.objects.for_org(org).annotate(day=TruncDate("ordered_at", tzinfo=DAY_TZ))
                  .values_list("day", flat=True).distinct().count())
    assert order_days >= 45
    assert StageChange.objects.for_org(org).filter(to_stage__name="复购").exists()

    before = counts(org)
    load_demo()
    assert counts(org) == before


def test_history_avatars_are_served_by_siyu(db, settings, client):
    org = load_demo().org
    avatars = set(Customer.objects.for_org(org).filter(external_userid__startswith=PREFIX)
                  .values_list("avatar", flat=True))
    assert len(avatars) > 1
    for avatar in avatars:
        assert avatar.startswith(f"{settings.PUBLIC_URL}/static/demo/")
        response = client.get(avatar.removeprefix(settings.PUBLIC_URL))
        assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_full_sync_of_the_simulated_corp_keeps_the_history(db, django_capture_on_commit_callbacks, settings):
    from siyu.core.models import Job
    from siyu.wecom.sync import start_full_sync

    settings.WECOM_BACKOFF_BASE, settings.WECOM_BACKOFF_MAX = 0.001, 0.01
    org = load_demo().org
    history = Relation.objects.for_org(org).filter(customer__external_userid__startswith=PREFIX)
    before = sorted(history.values_list("customer__external_userid", "status", "added_at", "deleted_at", "state",
                                           "customer__avatar"))
    corp = Corp(org, capture=django_capture_on_commit_callbacks)
    try:
        seed_simulator(corp.sim, org)
        seed_simulator(corp.sim, org)
        listed = [r for r in corp.sim.state.relations.values() if r.external_userid.startswith(PREFIX)]
        assert len(listed) == history.exclude(status=Relation.Status.DELETED_BY_STAFF).count()
        with django_capture_on_commit_callbacks(execute=True):
            job = start_full_sync(org, None)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, job.error
    finally:
        corp.close()
    assert sorted(history.values_list("customer__external_userid", "status", "added_at", "deleted_at", "state",
                                           "customer__avatar")) == before


def test_the_demo_starts_again_after_a_member_left_the_simulated_corp(db, django_capture_on_commit_callbacks):
    """A member removed through the simulator's control API keeps no friendships there; seeding again (a second
    ``siyu run --demo`` on the same data) must not stop on their history."""
    org = load_demo().org
    corp = Corp(org, capture=django_capture_on_commit_callbacks)
    try:
        seed_simulator(corp.sim, org)
        leaver = "demo_guide_hz01"
        corp.sim.remove_staff(leaver)
        seed_simulator(corp.sim, org)
        userids = {r.userid for r in corp.sim.state.relations.values() if r.external_userid.startswith(PREFIX)}
        assert "demo_guide_sh01" in userids
        assert not corp.sim.state.active_staff(leaver)
    finally:
        corp.close()


def test_a_run_on_another_port_moves_the_demo_pictures_there(db, settings):
    from siyu.channels import services as channel_services
    from siyu.channels.models import WelcomeMessage
    from siyu.demo import image_url

    settings.PUBLIC_URL = "http://127.0.0.1:8000"
    org = load_demo().org
    channel_services.save_welcome_message(org, text="欢迎！", attachments=[
        {"msgtype": "image", "image": {"pic_url": image_url("coupon.png")}}])
    settings.PUBLIC_URL = "http://127.0.0.1:8101"
    load_demo()
    avatars = list(Customer.objects.for_org(org).exclude(avatar="").values_list("avatar", flat=True))
    assert avatars and all(a.startswith("http://127.0.0.1:8101/static/demo/avatar-") for a in avatars)
    message = WelcomeMessage.objects.for_org(org).get(text="欢迎！")
    assert message.attachments[0]["image"]["pic_url"] == "http://127.0.0.1:8101/static/demo/coupon.png"
