"""Staff rotation: the pure policy, and the contact way rewritten in the simulator as caps fill and slots turn."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from siyu.channels import rotation, services
from siyu.channels.models import ChannelCode, RotationSync
from siyu.customers.models import Relation
from siyu.orgs.models import Staff

BEIJING = ZoneInfo("Asia/Shanghai")
MONDAY_0900 = datetime(2026, 3, 2, 9, 0, tzinfo=BEIJING)  # a Monday


class P:  # a stand-in staff member for the pure policy
    def __init__(self, pk, status=Staff.Status.ACTIVE):
        self.pk, self.status = pk, status

    def __repr__(self):
        return f"P{self.pk}"


def slot(days, start, end, *ids):
    return rotation.Slot(frozenset(days), rotation.minutes_of(start), rotation.minutes_of(end), ids)


# -- the pure policy ------------------------------------------------------------------------------------------
def test_round_robin_lists_every_active_primary_and_falls_back_to_backup():
    a, b, c, gone = P(1), P(2), P(3), P(4, Staff.Status.DEPARTED)
    assert rotation.pick("round_robin", [a, gone, b], [c], now=MONDAY_0900) == [a, b]
    assert rotation.pick("round_robin", [gone], [c], now=MONDAY_0900) == [c]
    assert rotation.pick("round_robin", [gone], [], now=MONDAY_0900) == []


def test_daily_cap_drops_full_staff_then_uses_backup():
    a, b, c = P(1), P(2), P(3)
    pick = lambda counts: rotation.pick("daily_cap", [a, b], [c], daily_cap=3, counts=counts, now=MONDAY_0900)  # noqa: E731
    assert pick({}) == [a, b]
    assert pick({1: 3, 2: 2}) == [b]
    assert pick({1: 3, 2: 3}) == [c]
    assert pick({1: 7, 2: 3, 3: 99}) == [c]  # backup staff have no cap


def test_time_slots_pick_the_staff_of_the_covering_slots():
    a, b, c = P(1), P(2), P(3)
    slots = [slot([0, 1, 2, 3, 4], "09:00", "12:00", 1), slot([0, 1, 2, 3, 4], "12:00", "18:00", 2), slot([5, 6], "00:00", "24:00", 1, 2)]
    at = lambda **kw: MONDAY_0900.replace(**kw)  # noqa: E731
    assert rotation.pick("time_slots", [a, b], [c], slots=slots, now=at(hour=11, minute=59)) == [a]
    assert rotation.pick("time_slots", [a, b], [c], slots=slots, now=at(hour=12, minute=0)) == [b]
    assert rotation.pick("time_slots", [a, b], [c], slots=slots, now=at(hour=18, minute=0)) == [c]  # nobody: backup
    assert rotation.pick("time_slots", [a, b], [c], slots=slots, now=MONDAY_0900 + timedelta(days=5, hours=14)) == [a, b]
    # Slots are read in Beijing time whatever the server's clock zone: 03:59 UTC is 11:59 in Beijing.
    utc = datetime(2026, 3, 2, 3, 59, tzinfo=ZoneInfo("UTC"))
    assert rotation.pick("time_slots", [a, b], [c], slots=slots, now=utc) == [a]


def test_minutes_of_refuses_nonsense():
    assert rotation.minutes_of("24:00") == 1440 and rotation.minutes_of("09:30") == 570
    for bad in ("9", "24:01", "12:60", "ab:cd", "12:5"):
        with pytest.raises(ValueError):
            rotation.minutes_of(bad)


# -- in the simulator -----------------------------------------------------------------------------------------
def test_a_daily_cap_of_3_sends_the_4th_customer_to_the_backup_staff_member(world, corp):
    alice, carol = corp.staff("alice"), corp.staff("carol")
    code = services.create_channel_code(world.org, by=world.admin, name="抖音直播间", staff=[alice], backup_staff=[carol],
                                        policy="daily_cap", daily_cap=3)
    assert corp.way(code)["user"] == ["alice"]
    receivers = [corp.scan(code)["userid"] for _ in range(5)]
    assert receivers == ["alice", "alice", "alice", "carol", "carol"]
    code.refresh_from_db()
    assert code.current_userids == ["carol"] == corp.way(code)["user"]
    assert corp.calls("externalcontact/update_contact_way", errcode=0) == 1  # rewritten once, when alice was full
    assert Relation.objects.for_org(world.org).filter(state=code.state, staff=alice).count() == 3


def test_caps_share_the_load_among_primary_staff_then_backup(world, corp):
    alice, bob, carol = corp.staff("alice"), corp.staff("bob"), corp.staff("carol")
    code = services.create_channel_code(world.org, by=world.admin, name="小红书", staff=[alice, bob], backup_staff=[carol],
                                        policy="daily_cap", daily_cap=2)
    receivers = [corp.scan(code)["userid"] for _ in range(6)]
    assert sorted(receivers[:4]) == ["alice", "alice", "bob", "bob"] and receivers[4:] == ["carol", "carol"]


def test_caps_reset_at_midnight(world, corp):
    alice, carol = corp.staff("alice"), corp.staff("carol")
    code = services.create_channel_code(world.org, by=world.admin, name="直播", staff=[alice], backup_staff=[carol],
                                        policy="daily_cap", daily_cap=1)
    assert corp.scan(code)["userid"] == "alice"
    code.refresh_from_db()
    assert code.current_userids == ["carol"]
    tomorrow = rotation.day_start(timezone.now()) + timedelta(days=1, minutes=1)
    assert rotation.refresh_rotations(now=tomorrow) == 1
    assert corp.way(code)["user"] == ["alice"]


def test_a_time_slot_policy_switches_staff_at_the_slot_boundary(world, corp):
    alice, bob, carol = corp.staff("alice"), corp.staff("bob"), corp.staff("carol")
    every_day = list(range(7))
    code = services.create_channel_code(world.org, by=world.admin, name="门店到店", staff=[alice, bob], backup_staff=[carol],
                                        policy="time_slots", time_slots=[
                                            {"days": every_day, "start": "09:00", "end": "12:00", "staff": [alice.pk]},
                                            {"days": every_day, "start": "12:00", "end": "21:00", "staff": [bob.pk]}])
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    before, boundary = today.replace(hour=11, minute=59), today.replace(hour=12, minute=0)

    rotation.refresh_rotations(now=before)
    assert corp.way(code)["user"] == ["alice"]
    assert [corp.scan(code)["userid"] for _ in range(2)] == ["alice", "alice"]

    assert rotation.refresh_rotations(now=boundary) == 1
    assert corp.way(code)["user"] == ["bob"]
    assert [corp.scan(code)["userid"] for _ in range(2)] == ["bob", "bob"]

    assert rotation.refresh_rotations(now=today.replace(hour=21, minute=0)) == 1
    assert corp.scan(code)["userid"] == "carol"  # no slot covers 21:00: the backup staff member
    assert rotation.refresh_rotations(now=today.replace(hour=21, minute=1)) == 0  # nothing changed, no call
    code.refresh_from_db()
    assert rotation.next_change(code, today.replace(hour=10)) == today.replace(hour=12)


def test_round_robin_keeps_every_staff_member_and_wecom_alternates(world, corp):
    alice, bob = corp.staff("alice"), corp.staff("bob")
    code = services.create_channel_code(world.org, by=world.admin, name="海报", staff=[alice, bob])
    assert [corp.scan(code)["userid"] for _ in range(4)] == ["alice", "bob", "alice", "bob"]
    assert corp.calls("externalcontact/update_contact_way") == 0
    assert not RotationSync.objects.for_org(world.org).exists()


def test_a_departed_staff_member_leaves_every_code_they_were_on(world, corp):
    alice, bob = corp.staff("alice"), corp.staff("bob")
    code = services.create_channel_code(world.org, by=world.admin, name="海报", staff=[alice, bob])
    corp.sim.remove_staff("alice")  # delete_user reaches Siyu; the member is marked departed
    corp.run()
    code.refresh_from_db()
    assert Staff.objects.for_org(world.org).get(userid="alice").status == Staff.Status.DEPARTED
    assert code.current_userids == ["bob"] == corp.way(code)["user"]


def test_paused_codes_are_not_rotated(world, corp):
    alice, carol = corp.staff("alice"), corp.staff("carol")
    code = services.create_channel_code(world.org, by=world.admin, name="直播", staff=[alice], backup_staff=[carol],
                                        policy="daily_cap", daily_cap=1)
    services.pause_channel_code(code, by=world.admin)
    assert not rotation.sync_rotation(ChannelCode.objects.for_org(world.org).get(pk=code.pk))


def test_a_day_starts_at_beijing_midnight_not_utc_midnight(world):
    """Caps count adds since 00:00 Beijing time: at 07:30 in Beijing (23:30 UTC the evening before) an add at
    01:00 Beijing is today's, and one at 23:00 Beijing the night before is not."""
    from siyu.channels.models import CustomerChannel
    from siyu.customers.models import Customer

    shanghai = ZoneInfo("Asia/Shanghai")
    morning = datetime(2024, 6, 3, 7, 30, tzinfo=shanghai)
    assert rotation.day_start(morning) == datetime(2024, 6, 3, 0, 0, tzinfo=shanghai)
    staff = Staff.objects.create(org=world.org, userid="alice", name="张晓")
    code = ChannelCode.objects.create(org=world.org, public_id="cap", name="直播", state="c_cap")
    for n, at in enumerate((datetime(2024, 6, 3, 1, 0, tzinfo=shanghai), datetime(2024, 6, 2, 23, 0, tzinfo=shanghai))):
        customer = Customer.objects.create(org=world.org, external_userid=f"wm-cap-{n}")
        relation = Relation.objects.create(org=world.org, customer=customer, staff=staff)
        CustomerChannel.objects.create(org=world.org, customer=customer, code=code, relation=relation, staff=staff,
                                       state=code.state, first_at=at, last_at=at)
    assert rotation.adds_today(code, morning) == {staff.pk: 1}
