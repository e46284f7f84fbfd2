"""Acceptance: channel statistics match the events the simulator generated, recomputed independently.

A seeded month is played on the simulator (tests/analytics/story.py); its callbacks reach Siyu's callback URL and
are processed by the dispatcher. The statistics Siyu computes — through the query, the page and the CSV export —
are compared with figures computed here from the simulator's own records only.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from siyu.analytics import queries
from siyu.analytics.queries import ChannelInfo, StatsFilter, channel_stats, partner_report
from siyu.customers.models import Relation
from siyu.orgs.models import Staff
from tests.analytics.story import (
    CODES,
    Corp,
    actual_stats,
    expected_stats,
    friendships,
    local_day,
    play,
    story_start,
)
from tests.factories import client_for

SEED = 20210214


@pytest.fixture
def corp(world):
    corp = Corp(world.org, story_start())
    yield corp
    corp.stop()
    corp.sim.close()


@pytest.fixture
def story(world, corp):
    corp.staff("alice", world.e1, membership=world.guide_e1)
    corp.staff("bob", world.e1)
    corp.staff("carol", world.s1)
    corp.staff("dave", world.e2)
    for state, users in CODES.items():
        corp.contact_way(state, users)
    started = corp.sim.now()
    happened = play(corp, seed=SEED, start=started)
    assert set(corp.statuses) == {200}, "every callback was accepted"
    return {"start": started, "end": corp.sim.now(), "happened": happened}


def as_expected(expected: dict) -> dict:
    return {key: figures.as_tuple() for key, figures in expected.items()}


def at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def totals(expected: dict) -> dict:
    names = ("adds", "deleted_by_customer", "deleted_by_staff", "eligible_7", "retained_7", "eligible_30",
             "retained_30", "wrote", "replied")
    return {n: sum(getattr(e, n) for e in expected.values()) for n in names}


def test_channel_statistics_filters_and_visibility_match_the_simulators_events(world, corp, story):
    sim = corp.sim
    first, last = local_day(story["start"]), local_day(story["end"])
    whole = StatsFilter(start=first, end=last)
    expected = expected_stats(sim, start=first, end=last, now=story["end"])
    stats = channel_stats(world.admin, whole, now=at(story["end"]))
    assert actual_stats(stats) == as_expected(expected)

    # The story is rich enough to mean something.
    sums = totals(expected)
    assert sums["adds"] >= 100 and sums["deleted_by_customer"] >= 10 and sums["deleted_by_staff"] >= 5
    assert 0 < sums["eligible_30"] < sums["eligible_7"] < sums["adds"]
    assert sums["retained_7"] < sums["eligible_7"] and sums["retained_30"] < sums["eligible_30"]
    assert 0 < sums["replied"] < sums["wrote"]
    assert {key[1] for key in expected} == set(CODES) and {key[2] for key in expected} == {"alice", "bob", "carol", "dave"}
    added = [f.added for f in friendships(sim) if f.state]
    assert any(local_day(t) != at(t).date() for t in added), "some adds fall on a different day in UTC and Beijing"
    assert stats.total.adds == sums["adds"] and stats.total.net == sums["adds"] - sums["deleted_by_customer"] - sums["deleted_by_staff"]

    # Adds without a channel, and the handover side of a transfer, are not channel figures.
    relations = Relation.objects.for_org(world.org)
    assert relations.filter(state="").exists()
    transferred = relations.get(status=Relation.Status.TRANSFERRED)
    assert transferred.state and story["happened"]["transfer"] == 1
    assert sums["adds"] == relations.exclude(state="").count()

    # A window in the middle: deletions count on their own day, whenever the friendship began.
    middle = StatsFilter(start=first + timedelta(days=10), end=first + timedelta(days=20))
    expected = expected_stats(sim, start=middle.start, end=middle.end, now=story["end"])
    assert actual_stats(channel_stats(world.admin, middle, now=at(story["end"]))) == as_expected(expected)

    # Retention is clock-based: two weeks later every add of the window is 7 days old, more are 30 days old.
    later = story["end"] + 14 * 86400
    expected = expected_stats(sim, start=first, end=last, now=later)
    assert actual_stats(channel_stats(world.admin, whole, now=at(later))) == as_expected(expected)
    assert totals(expected)["eligible_7"] == sums["adds"] and totals(expected)["eligible_30"] > sums["eligible_30"]

    # Filters and visibility, against the same records narrowed the same way.
    now = story["end"]
    east = {"alice", "bob", "dave"}  # stores E1, E1, E2 of region EAST

    def check(viewer, keep, **narrow):
        filters = StatsFilter(start=first, end=last, **narrow)
        expected = expected_stats(sim, start=first, end=last, now=now, keep=keep)
        got = actual_stats(channel_stats(viewer, filters, now=at(now)))
        assert got == as_expected(expected) and got

    check(world.admin, lambda f: f.state == "tea_sakura", state="tea_sakura")
    bob = Staff.objects.for_org(world.org).get(userid="bob")
    check(world.admin, lambda f: f.userid == "bob", staff_id=bob.pk)
    check(world.admin, lambda f: f.userid in east, store_id=world.east.pk)
    check(world.admin, lambda f: f.userid == "dave" and f.state == "ad_douyin", store_id=world.e2.pk, state="ad_douyin")
    # Who sees what: a region manager their stores' staff, a store manager theirs, a guide their own customers.
    check(world.east_manager, lambda f: f.userid in east)
    check(world.s1_manager, lambda f: f.userid == "carol")
    check(world.guide_e1, lambda f: f.userid == "alice")
    assert not channel_stats(world.guide_e2, StatsFilter(start=first, end=last), now=at(now)).rows
    assert not channel_stats(world.other_admin, StatsFilter(start=first, end=last), now=at(now)).rows
    # A store manager narrowing to a store outside theirs gets nothing, not that store's figures.
    assert not channel_stats(world.s1_manager, StatsFilter(start=first, end=last, store_id=world.e1.pk), now=at(now)).rows


def test_page_export_and_partner_report_match_the_simulators_events(world, corp, story, monkeypatch):
    sim = corp.sim
    first, last = local_day(story["start"]), local_day(story["end"])
    query = {"start": first.isoformat(), "end": last.isoformat()}
    client = client_for(world.admin)

    response = client.get(reverse("analytics:channels"), query)
    assert response.status_code == 200
    expected = expected_stats(sim, start=first, end=last, now=time.time())  # the page counts as of the real now
    total = response.context["total"]
    for name, value in totals(expected).items():
        assert getattr(total, name) == value, name
    page = response.content.decode()
    assert 'data-chart="trend-chart-data"' in page and 'id="trend-chart-data"' in page
    trend = response.context["trend_chart"]
    assert sum(trend["series"][0]["data"]) == totals(expected)["adds"]
    assert len(trend["xAxis"]["data"]) == (last - first).days + 1

    exported = client.post(reverse("analytics:export"), {**query, "format": "csv", "group": "detail"})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    body = exported.content
    assert body.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, rows, total_row = lines[0], lines[1:-1], lines[-1]
    col = {name: i for i, name in enumerate(header)}
    got = {
        (r[col["日期"]], r[col["渠道参数"]], r[col["员工账号"]]): tuple(int(r[col[c]]) for c in (
            "新增客户", "客户删除员工", "员工删除客户", "满7天的新增", "7天后仍为好友", "满30天的新增", "30天后仍为好友",
            "发来消息的客户", "已回复"))
        for r in rows
    }
    assert got == {(k[0].isoformat(), k[1], k[2]): v.as_tuple()[:9] for k, v in expected.items()}
    for r in rows:
        key = (datetime.strptime(r[col["日期"]], "%Y-%m-%d").date(), r[col["渠道参数"]], r[col["员工账号"]])
        e = expected[key]
        assert r[col["净增客户"]] == str(e.adds - e.deleted_by_customer - e.deleted_by_staff)
        average = r[col["平均首次回复时长(秒)"]]
        if e.replied:
            assert float(average) == pytest.approx(e.reply_seconds / e.replied, abs=0.06), (key, average)
        else:
            assert average == "", (key, average)
    assert total_row[0] == "合计" and int(total_row[col["新增客户"]]) == totals(expected)["adds"]

    # Partner channels: the tea shop's code belongs to a partner; its share is of all channel adds.
    directory = {
        "tea_sakura": ChannelInfo("tea_sakura", "樱花季联名", "跨界合作", 7, "茶饮品牌"),
        "poster_e1": ChannelInfo("poster_e1", "门店海报"),
        "ad_douyin": ChannelInfo("ad_douyin", "抖音广告", "", 9, "短视频平台"),
    }
    monkeypatch.setattr(queries, "channel_directory", lambda org: directory)
    now = story["end"]
    expected = expected_stats(sim, start=first, end=last, now=now)
    report = {e.partner_id: e for e in partner_report(world.admin, StatsFilter(start=first, end=last), now=at(now))}
    adds = {state: sum(v.adds for k, v in expected.items() if k[1] == state) for state in CODES}
    assert set(report) == {7, 9, None}
    assert report[7].adds == adds["tea_sakura"] and report[7].name == "茶饮品牌"
    assert report[9].adds == adds["ad_douyin"] and report[None].adds == adds["poster_e1"]
    assert report[7].share == pytest.approx(adds["tea_sakura"] / sum(adds.values()))
    assert sum(e.share for e in report.values()) == pytest.approx(1)
    tea = [v for k, v in expected.items() if k[1] == "tea_sakura"]
    assert (report[7].retained_30, report[7].eligible_30) == (sum(v.retained_30 for v in tea), sum(v.eligible_30 for v in tea))
    # The partner filter narrows the figures, not the traffic-share report.
    response = client.get(reverse("analytics:channels"), {**query, "partner": "7"})
    assert response.status_code == 200
    assert response.context["total"].adds == totals({k: v for k, v in expected_stats(
        sim, start=first, end=last, now=time.time()).items() if k[1] == "tea_sakura"})["adds"]
    assert {e.partner_id for e in response.context["partners"]} == {7, 9, None}
    assert "茶饮品牌" in response.content.decode() and "樱花季联名" in response.content.decode()
