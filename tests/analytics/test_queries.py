"""The definitions, case by case, with rows written explicitly: Beijing days, retention against a clock,
first-reply time, what is not a channel add, groupings and partners."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from siyu.analytics import queries
from siyu.analytics.queries import ChannelInfo, StatsFilter, channel_stats, partner_report, relation_count
from siyu.customers.models import Customer, Relation
from siyu.orgs.models import Staff
from siyu.wecom.models import ChatMessage

SH = ZoneInfo("Asia/Shanghai")
DEL_C, DEL_S = Relation.Status.DELETED_BY_CUSTOMER, Relation.Status.DELETED_BY_STAFF
_n = itertools.count(1)


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


class Brand:
    def __init__(self, world):
        self.org = world.org
        self.alice = Staff.objects.create(org=world.org, userid="alice", name="Alice", store=world.e1,
                                          membership=world.guide_e1)
        self.bob = Staff.objects.create(org=world.org, userid="bob", name="Bob", store=world.s1)

    def add(self, staff, state, added_at, status=Relation.Status.ACTIVE, deleted_at=None, customer=None):
        customer = customer or Customer.objects.create(org=self.org, external_userid=f"wm{next(_n)}")
        return Relation.objects.create(org=self.org, customer=customer, staff=staff, state=state, added_at=added_at,
                                       status=status, deleted_at=deleted_at)

    def say(self, relation, at, *, from_customer, room_id=""):
        n = next(_n)
        return ChatMessage.objects.create(
            org=self.org, msgid=f"m{n}", seq=n, sender="x", msgtype="text", sent_at=at, room_id=room_id,
            customer=relation.customer, staff=relation.staff, from_customer=from_customer,
        )


@pytest.fixture
def brand(world):
    return Brand(world)


def stats(viewer, start, end, now, **narrow):
    return channel_stats(viewer, StatsFilter(start=start, end=end, **narrow), now=now)


def test_days_are_beijing_days(world, brand):
    brand.add(brand.alice, "poster", datetime(2024, 6, 1, 15, 59, 59, tzinfo=UTC))  # 23:59:59 in Beijing
    brand.add(brand.alice, "poster", datetime(2024, 6, 1, 16, 0, 0, tzinfo=UTC))    # 00:00 on the 2nd
    brand.add(brand.alice, "poster", bj(2024, 6, 3, 9), DEL_C, datetime(2024, 6, 3, 16, 30, tzinfo=UTC))
    now = bj(2024, 7, 1)
    assert [(r.day, r.adds) for r in stats(world.admin, date(2024, 6, 1), date(2024, 6, 1), now).rows] == [(date(2024, 6, 1), 1)]
    assert [(r.day, r.adds) for r in stats(world.admin, date(2024, 6, 2), date(2024, 6, 2), now).rows] == [(date(2024, 6, 2), 1)]
    # Deleted at 00:30 Beijing on the 4th: a deletion of the 4th, though the add was on the 3rd.
    result = stats(world.admin, date(2024, 6, 3), date(2024, 6, 4), now)
    assert [(r.day, r.adds, r.deleted_by_customer, r.net) for r in result.rows] == [
        (date(2024, 6, 4), 0, 1, -1), (date(2024, 6, 3), 1, 0, 1)]
    assert [d.day for d in result.daily()] == [date(2024, 6, 3), date(2024, 6, 4)]


def test_retention_counts_only_adds_old_enough_and_deletions_within_the_window(world, brand):
    t = bj(2024, 6, 1, 10)
    brand.add(brand.alice, "tea", t)                                               # still a friend
    brand.add(brand.alice, "tea", t, DEL_C, t + timedelta(days=3))                 # lost within 7 days
    brand.add(brand.alice, "tea", t, DEL_S, t + timedelta(days=14))                # kept 7 days, lost within 30
    brand.add(brand.alice, "tea", t, DEL_C, t + timedelta(days=34))                # kept 30 days
    brand.add(brand.alice, "tea", t, DEL_C, t + timedelta(days=7))                 # a friend at exactly 7 days, not 30
    brand.add(brand.alice, "tea", t, Relation.Status.TRANSFERRED, t + timedelta(days=2))  # handed over: not lost
    brand.add(brand.alice, "tea", bj(2024, 6, 25, 10))                            # 7 days old on 7/20, not 30
    brand.add(brand.alice, "tea", bj(2024, 7, 15, 10), DEL_C, bj(2024, 7, 16, 10))  # too young for either

    result = stats(world.admin, date(2024, 6, 1), date(2024, 7, 20), bj(2024, 7, 20, 12))
    total = result.total
    assert (total.adds, total.deleted_by_customer, total.deleted_by_staff, total.net) == (8, 4, 1, 3)
    assert (total.eligible_7, total.retained_7) == (7, 6)
    assert (total.eligible_30, total.retained_30) == (6, 3)
    assert total.retention_7 == pytest.approx(6 / 7) and total.retention_30 == pytest.approx(3 / 6)

    # The clock moves on: the late adds become old enough.
    later = stats(world.admin, date(2024, 6, 1), date(2024, 7, 20), bj(2024, 8, 30)).total
    assert (later.eligible_7, later.retained_7, later.eligible_30, later.retained_30) == (8, 6, 8, 4)
    # Nothing old enough: no rate at all, rather than 0% or 100%.
    early = stats(world.admin, date(2024, 6, 1), date(2024, 6, 1), bj(2024, 6, 5)).total
    assert early.adds == 6 and early.eligible_7 == 0 and early.retention_7 is None and early.retention_30 is None


def test_first_reply_time_runs_from_the_customers_first_message_after_the_add(world, brand):
    t = bj(2024, 6, 1, 10)
    answered = brand.add(brand.alice, "tea", t)
    brand.say(answered, t - timedelta(days=3), from_customer=True)   # before this friendship: not counted
    brand.say(answered, t + timedelta(minutes=1), from_customer=False)  # a greeting, nothing asked yet
    brand.say(answered, t + timedelta(minutes=10), from_customer=True)
    brand.say(answered, t + timedelta(minutes=12), from_customer=True)
    brand.say(answered, t + timedelta(minutes=20), from_customer=False, room_id="wrGroup")  # in a group: not 1:1
    brand.say(answered, t + timedelta(minutes=40), from_customer=False)  # the reply: 30 minutes
    brand.say(answered, t + timedelta(minutes=50), from_customer=False)
    unanswered = brand.add(brand.alice, "tea", t)
    brand.say(unanswered, t + timedelta(hours=2), from_customer=True)
    brand.add(brand.alice, "tea", t)  # never wrote
    # Bob's message to Alice's customer is not Alice's reply.
    other = brand.add(brand.alice, "tea", t)
    brand.say(other, t + timedelta(minutes=5), from_customer=True)
    ChatMessage.objects.create(org=brand.org, msgid="bob", seq=999, sender="bob", msgtype="text",
                               sent_at=t + timedelta(minutes=6), customer=other.customer, staff=brand.bob)

    total = stats(world.admin, date(2024, 6, 1), date(2024, 6, 1), bj(2024, 7, 1)).total
    assert (total.adds, total.wrote, total.replied, total.unanswered) == (4, 3, 1, 2)
    assert total.avg_reply_seconds == pytest.approx(30 * 60)

    second = brand.add(brand.bob, "tea", t)
    brand.say(second, t + timedelta(seconds=5), from_customer=True)
    brand.say(second, t + timedelta(seconds=95), from_customer=False)
    total = stats(world.admin, date(2024, 6, 1), date(2024, 6, 1), bj(2024, 7, 1)).total
    assert total.replied == 2 and total.avg_reply_seconds == pytest.approx((1800 + 90) / 2)


def test_only_channel_friendships_count(world, brand):
    t = bj(2024, 6, 1, 10)
    brand.add(brand.alice, "", t)  # added by mobile number, or the takeover side of a transfer: no state
    brand.add(brand.alice, "", t, DEL_C, t + timedelta(hours=1))
    brand.add(brand.alice, "tea", t)
    # A customer who deleted Alice and scanned again is one friendship, at the latest add.
    brand.add(brand.alice, "poster", bj(2024, 6, 3, 10))
    result = stats(world.admin, date(2024, 6, 1), date(2024, 6, 30), bj(2024, 7, 1))
    assert result.total.adds == 2 and result.total.deletions == 0
    assert relation_count(world.admin, StatsFilter(start=date(2024, 6, 1), end=date(2024, 6, 30))) == 2


def test_groupings_add_up_and_name_channels(world, brand, monkeypatch):
    monkeypatch.setattr(queries, "channel_directory", lambda org: {
        "tea": ChannelInfo("tea", "樱花季联名", "跨界合作", 3, "茶饮品牌"),
    })
    for day in (1, 2, 2, 5):
        brand.add(brand.alice, "tea", bj(2024, 6, day, 10))
        brand.add(brand.bob, "poster", bj(2024, 6, day, 11), DEL_S, bj(2024, 6, day + 1, 9))
    result = stats(world.admin, date(2024, 6, 1), date(2024, 6, 7), bj(2024, 7, 1))
    for by in ("detail", "channel", "staff", "day"):
        rows = result.grouped(by)
        assert sum(r.adds for r in rows) == 8 and sum(r.deleted_by_staff for r in rows) == 4, by
    channels = {r.state: r for r in result.grouped("channel")}
    assert channels["tea"].channel.label == "樱花季联名" and channels["tea"].channel.partner_name == "茶饮品牌"
    assert channels["poster"].channel.label == "poster"  # no code has this state: shown as the state
    staff = {r.staff.userid: r for r in result.grouped("staff")}
    assert (staff["alice"].adds, staff["bob"].net) == (4, 0)
    days = result.grouped("day")
    assert len(days) == 7 and days[0].day == date(2024, 6, 7) and days[-1].day == date(2024, 6, 1)
    detail = result.grouped("detail")
    assert detail[0].day == date(2024, 6, 6) and {(r.day, r.staff.userid) for r in detail if r.adds == 2} == {
        (date(2024, 6, 2), "alice"), (date(2024, 6, 2), "bob")}

    # The partner filter keeps the partner's channels; the traffic-share report ignores it.
    narrowed = stats(world.admin, date(2024, 6, 1), date(2024, 6, 7), bj(2024, 7, 1), partner_id=3)
    assert narrowed.total.adds == 4 and {r.state for r in narrowed.rows} == {"tea"}
    report = partner_report(world.admin, narrowed.filters, now=bj(2024, 7, 1), stats=narrowed)
    assert [(e.partner_id, e.adds, e.share) for e in report] == [(3, 4, 0.5), (None, 4, 0.5)]


def test_viewers_see_their_scope_only(world, brand):
    t = bj(2024, 6, 1, 10)
    brand.add(brand.alice, "tea", t)  # store E1, guide_e1's own staff record
    brand.add(brand.bob, "tea", t)    # store S1
    period = (date(2024, 6, 1), date(2024, 6, 1), bj(2024, 7, 1))
    assert stats(world.admin, *period).total.adds == 2
    assert {r.staff.userid for r in stats(world.east_manager, *period).rows} == {"alice"}
    assert {r.staff.userid for r in stats(world.s1_manager, *period).rows} == {"bob"}
    assert {r.staff.userid for r in stats(world.guide_e1, *period).rows} == {"alice"}
    assert stats(world.guide_s1, *period).rows == []  # no staff record linked to this guide
    assert stats(world.other_admin, *period).rows == []


@pytest.mark.skipif(not queries.channels_installed(), reason="siyu.channels is not installed")
def test_channel_codes_name_their_states_old_and_new(world, brand):
    from siyu.channels.models import ChannelCode, ChannelFolder, ChannelState, Partner

    partner = Partner.objects.create(org=brand.org, name="茶饮品牌")
    folder = ChannelFolder.objects.create(org=brand.org, name="跨界合作")
    code = ChannelCode.objects.create(org=brand.org, public_id="p1", name="樱花季联名", state="sakura2",
                                      folder=folder, partner=partner)
    ChannelState.objects.create(org=brand.org, code=code, state="sakura1")  # the state before an edit
    ChannelState.objects.create(org=brand.org, code=code, state="sakura2")
    t = bj(2024, 6, 1, 10)
    brand.add(brand.alice, "sakura1", t)
    brand.add(brand.alice, "sakura2", t)
    brand.add(brand.bob, "walk_in", t)
    result = stats(world.admin, date(2024, 6, 1), date(2024, 6, 1), bj(2024, 7, 1))
    names = {r.state: (r.channel.label, r.channel.folder, r.channel.partner_name) for r in result.grouped("channel")}
    assert names == {"sakura1": ("樱花季联名", "跨界合作", "茶饮品牌"), "sakura2": ("樱花季联名", "跨界合作", "茶饮品牌"),
                     "walk_in": ("walk_in", "", "")}
    report = partner_report(world.admin, result.filters, now=bj(2024, 7, 1))
    assert [(e.partner_id, e.name, e.adds) for e in report] == [(partner.pk, "茶饮品牌", 2), (None, "", 1)]
    assert queries.partners(queries.channel_directory(brand.org)) == [(partner.pk, "茶饮品牌")]
    narrowed = stats(world.admin, date(2024, 6, 1), date(2024, 6, 1), bj(2024, 7, 1), partner_id=partner.pk)
    assert narrowed.total.adds == 2
