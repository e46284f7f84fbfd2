"""Moments against the real simulator: one add_moment_task per moment through the chosen staff to tagged
customers, a worker dying around the WeCom call, the content checks and the promotional cap, results and
reactions on the timeline, cancelling, and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from siyu.core import durable
from siyu.customers.models import TimelineEvent
from siyu.customers.profile import timeline_text
from siyu.moments import checks, publish, results, services, tasks
from siyu.moments.models import Moment, MomentMedia, MomentPublish, Reaction, StaffResult
from siyu.orgs.models import AuditEntry
from siyu.wecom.client import WeComClient
from siyu.wecom.simulator.errors import SimulatorError
from tests.messaging.mass_helpers import Corp
from tests.moments.helpers import corp_tag, mp4, png, tag

pytestmark = pytest.mark.django_db
TEXT = "春季新品到店，欢迎来看看"


@pytest.fixture
def corp(world, clock):
    corp = Corp(world.org)
    clock.attach(corp.sim)
    yield corp
    corp.stop()


@pytest.fixture
def vip(corp, world):
    """Two staff; ann has 3 customers, 2 of them tagged 金卡; bob has 2 customers, 1 tagged."""
    ann, bob = corp.staff(2)
    a = corp.customers(ann, 3)
    b = corp.customers(bob, 2)
    gold = corp_tag(corp, "金卡")
    tag(corp, gold, ann, a[:2])
    tag(corp, gold, bob, b[:1])
    return {"ann": ann, "bob": bob, "gold": gold, "ann_customers": a, "bob_customers": b}


def compose(world, **kw) -> Moment:
    return services.create_moment(world.org, by=world.admin, **{"text": TEXT, **kw})


def wecom_moments(corp) -> list:
    return list(corp.sim.state.moments.values())


def settle(corp, clock) -> None:
    """Run what is due, let WeCom's job finish (moment_task_seconds), and run again."""
    corp.run()
    clock.advance(seconds=corp.sim.limits.moment_task_seconds + 5)
    corp.run()


def test_an_image_moment_goes_out_once_through_the_chosen_staff_to_tagged_customers(world, corp, vip, clock):
    moment = compose(world, kind="images", files=[png(), png((0, 90, 200), "b.png")], tag_ids=[vip["gold"].pk],
                     staff_ids=[vip["ann"].pk])
    assert checks.dry_run(moment).audience == 2  # ann's two gold customers; bob is not a sender
    services.schedule_moment(moment, by=world.admin)
    settle(corp, clock)

    [made] = wecom_moments(corp)
    assert [a["msgtype"] for a in made.attachments] == ["image", "image"]
    assert made.text == {"content": TEXT}
    assert set(made.audience) == {vip["ann"].userid}
    assert sorted(made.audience[vip["ann"].userid]) == sorted(c.external_userid for c in vip["ann_customers"][:2])
    moment.refresh_from_db()
    assert (moment.status, moment.moment_id, moment.call_state) == (Moment.Status.PUBLISHING, made.moment_id, "created")
    assert MomentPublish.objects.for_org(world.org).get().status == MomentPublish.Status.DONE

    corp.sim.publish_moment(made.moment_id, vip["ann"].userid)
    assert tasks.fetch_moment_results.call_local() == 1
    moment.refresh_from_db()
    assert moment.status == Moment.Status.PUBLISHED
    row = StaffResult.objects.for_org(world.org).get(moment=moment)
    assert (row.userid, row.published, row.audience, row.visible) == (vip["ann"].userid, True, 2, 2)
    assert AuditEntry.objects.for_org(world.org).filter(action="moments.scheduled").count() == 1


def test_a_video_and_a_link_go_out_with_wecoms_attachment_shapes(world, corp, vip, clock):
    video = compose(world, kind="video", files=[mp4()])
    link = compose(world, kind="link", files=[png()], link_title="新品手册", link_url="https://example.com/book")
    for moment in (video, link):
        services.schedule_moment(moment, by=world.admin)
    settle(corp, clock)
    shapes = sorted([a["msgtype"] for a in m.attachments] for m in wecom_moments(corp))
    assert shapes == [["link"], ["video"]]
    [made_link] = [m for m in wecom_moments(corp) if m.attachments[0]["msgtype"] == "link"]
    assert made_link.attachments[0]["link"]["url"] == "https://example.com/book"
    assert Moment.objects.for_org(world.org).filter(status=Moment.Status.PUBLISHING).count() == 2


def test_likes_and_comments_land_on_the_timeline_once(world, corp, vip, clock):
    moment = compose(world, tag_ids=[vip["gold"].pk])
    services.schedule_moment(moment, by=world.admin)
    settle(corp, clock)
    moment.refresh_from_db()
    ann, bob = vip["ann"].userid, vip["bob"].userid
    first, second = vip["ann_customers"][:2]
    corp.sim.publish_moment(moment.moment_id, ann)
    corp.sim.like_moment(moment.moment_id, ann, first.external_userid)
    corp.sim.comment_moment(moment.moment_id, ann, second.external_userid)

    results.fetch_results(moment)
    results.fetch_results(moment)  # read again: nothing new, nothing written twice
    def events():
        return TimelineEvent.objects.for_org(world.org).filter(kind__startswith="moment_")

    assert sorted((e.customer_id, e.kind) for e in events()) == sorted(
        [(first.pk, "moment_liked"), (second.pk, "moment_commented")])
    assert {e.staff_id for e in events()} == {vip["ann"].pk}
    assert timeline_text(events().get(kind="moment_liked")) == f"点赞了朋友圈“{TEXT}”"
    moment.refresh_from_db()
    assert moment.status == Moment.Status.PUBLISHING  # bob has not published yet

    clock.advance(minutes=1)
    corp.sim.comment_moment(moment.moment_id, ann, second.external_userid)  # a second comment, later
    corp.sim.publish_moment(moment.moment_id, bob)
    results.fetch_results(moment)
    assert events().filter(kind="moment_commented", customer=second).count() == 2
    assert events().count() == 3
    assert Reaction.objects.for_org(world.org).count() == 3
    rows = {r.userid: r for r in StaffResult.objects.for_org(world.org).filter(moment=moment)}
    assert (rows[ann].likes, rows[ann].comments, rows[bob].published, rows[bob].visible) == (1, 2, True, 1)
    moment.refresh_from_db()
    assert moment.status == Moment.Status.PUBLISHED


def _claimed(world) -> MomentPublish:
    [row] = durable.claim(MomentPublish, owner="dead-worker", limit=10, lease_seconds=settings.DISPATCH_LEASE_SECONDS)
    return row


def test_a_worker_dying_after_the_wecom_call_never_makes_a_second_task(world, corp, vip, clock):
    moment = compose(world, kind="images", files=[png()])
    services.schedule_moment(moment, by=world.admin)
    _claimed(world)
    # The dead worker: the call reached WeCom and the job id was lost with the worker.
    with WeComClient.for_org(world.org) as client:
        publish.begin_call(moment)
        publish.call_wecom(client, moment)
    assert len(wecom_moments(corp)) == 1

    clock.advance(seconds=settings.DISPATCH_LEASE_SECONDS + 1)  # the lease expires; another worker takes over
    settle(corp, clock)
    [made] = wecom_moments(corp)
    moment.refresh_from_db()
    assert moment.moment_id == made.moment_id  # found again, not made twice
    assert moment.status == Moment.Status.PUBLISHING


def test_a_call_that_never_reached_wecom_is_made_once_after_waiting(world, corp, vip, clock):
    moment = compose(world)
    services.schedule_moment(moment, by=world.admin)
    _claimed(world)
    publish.begin_call(moment)  # the worker died just before the call
    clock.advance(seconds=settings.DISPATCH_LEASE_SECONDS + 1)
    corp.run()
    assert not wecom_moments(corp)  # not yet: WeCom may still be creating a task it would list later
    clock.advance(minutes=4)
    settle(corp, clock)
    [made] = wecom_moments(corp)
    moment.refresh_from_db()
    assert moment.moment_id == made.moment_id


def test_at_most_one_promotional_moment_a_day_by_default(world, corp, vip, clock):
    first = compose(world, promotional=True)
    services.schedule_moment(first, by=world.admin)
    second = compose(world, text="周末会员日", promotional=True)
    assert checks.dry_run(second).over_cap
    with pytest.raises(ValidationError) as refused:
        services.schedule_moment(second, by=world.admin)
    assert "promotional" in refused.value.message_dict
    second.refresh_from_db()
    assert second.status == Moment.Status.DRAFT
    assert MomentPublish.objects.for_org(world.org).count() == 1

    services.schedule_moment(compose(world, text="门店营业时间调整"), by=world.admin)  # not promotional: no cap
    tomorrow = compose(world, text="明天的活动", promotional=True, scheduled_at=clock.now() + timedelta(days=1))
    services.schedule_moment(tomorrow, by=world.admin)  # another day
    services.cancel_moment(first, by=world.admin)  # a cancelled post frees its place
    services.schedule_moment(second, by=world.admin)

    third = compose(world, text="限时折扣", promotional=True)
    with pytest.raises(ValidationError):
        services.schedule_moment(third, by=world.admin)
    services.save_settings(world.org, by=world.admin, promotional_per_day=2)
    services.schedule_moment(third, by=world.admin)
    with pytest.raises(ValidationError):
        services.save_settings(world.org, by=world.admin, promotional_per_day=0)


def test_blocked_words_stop_scheduling_and_are_highlighted(world, corp, vip):
    moment = compose(world, text="全网最低价，国家级品质")
    dry = checks.dry_run(moment)
    assert dry.content_blocked
    assert 'finding-block' in dry.highlighted and ">全网最低价</mark>" in dry.highlighted
    with pytest.raises(ValidationError) as refused:
        services.schedule_moment(moment, by=world.admin)
    assert "全网最低价" in refused.value.message_dict["text"][0]
    moment.refresh_from_db()
    assert moment.status == Moment.Status.DRAFT
    assert not MomentPublish.objects.for_org(world.org).exists()
    services.update_moment(moment, by=world.admin, text="品质之选")
    services.schedule_moment(moment, by=world.admin)


def test_cancel_stops_a_schedule_and_a_task_members_have_not_published(world, corp, vip, clock):
    later = compose(world, scheduled_at=clock.now() + timedelta(hours=2))
    services.schedule_moment(later, by=world.admin)
    services.cancel_moment(later, by=world.admin)
    clock.advance(hours=3)
    corp.run()
    assert not wecom_moments(corp)

    now = compose(world)
    services.schedule_moment(now, by=world.admin)
    settle(corp, clock)
    now.refresh_from_db()
    services.cancel_moment(now, by=world.admin)
    [made] = wecom_moments(corp)
    assert made.cancelled
    with pytest.raises(SimulatorError):
        corp.sim.publish_moment(made.moment_id, vip["ann"].userid)
    with pytest.raises(ValidationError):
        services.cancel_moment(now, by=world.admin)
    assert AuditEntry.objects.for_org(world.org).filter(action="moments.cancelled").count() == 2


@pytest.mark.parametrize(("fields", "field"), [
    ({"text": "", "kind": "text"}, "text"),
    ({"text": "长" * 2001}, "text"),
    ({"kind": "poem"}, "kind"),
    ({"kind": "images", "files": []}, "files"),
    ({"kind": "images", "files": [png()] * 10}, "files"),
    ({"kind": "images", "files": [("not-an-image")]}, "files"),
    ({"kind": "video", "files": [png()]}, "files"),
    ({"kind": "text", "files": [png()]}, "files"),
    ({"kind": "link", "files": [png()], "link_title": "", "link_url": "https://example.com"}, "link_title"),
    ({"kind": "link", "files": [png()], "link_title": "手册", "link_url": "ftp://example.com"}, "link_url"),
    ({"kind": "link", "files": [], "link_title": "手册", "link_url": "https://example.com"}, "files"),
    ({"tag_ids": [999999]}, "tags"),
    ({"staff_ids": [999999]}, "staff"),
    ({"tag_ids": ["x"]}, "tags"),
])
def test_bad_input_is_refused_per_field_and_writes_nothing(world, corp, vip, clock, fields, field):
    from siyu.moments.services import Upload

    if fields.get("files") == ["not-an-image"]:
        fields = {**fields, "files": [Upload("fake.png", b"not an image at all")]}
    with pytest.raises(ValidationError) as refused:
        compose(world, **fields)
    assert field in refused.value.message_dict
    assert not Moment.objects.for_org(world.org).exists()
    assert not MomentMedia.objects.for_org(world.org).exists()


def test_a_past_schedule_time_and_oversized_files_are_refused(world, corp, clock):
    from siyu.moments.services import MAX_FILE_BYTES, Upload

    with pytest.raises(ValidationError) as refused:
        compose(world, scheduled_at=clock.now() - timedelta(minutes=1))
    assert set(refused.value.message_dict) == {"scheduled_at"}
    with pytest.raises(ValidationError) as refused:
        compose(world, kind="video", files=[Upload("big.mp4", b"\x00\x00\x00\x18ftyp" + b"\x00" * MAX_FILE_BYTES)])
    assert set(refused.value.message_dict) == {"files"}
    assert not Moment.objects.for_org(world.org).exists()

    stale = compose(world, scheduled_at=clock.now() + timedelta(hours=1))
    clock.advance(hours=2)  # the draft waited past its time
    with pytest.raises(ValidationError) as refused:
        services.schedule_moment(stale, by=world.admin)
    assert set(refused.value.message_dict) == {"scheduled_at"}
    stale.refresh_from_db()
    assert stale.status == Moment.Status.DRAFT and not MomentPublish.objects.for_org(world.org).exists()


def test_a_file_is_uploaded_once_and_again_when_wecom_forgot_it(world, corp, vip, clock):
    image = png((10, 120, 60), "same.png")
    for text in ("第一条", "第二条"):
        services.schedule_moment(compose(world, text=text, kind="images", files=[image]), by=world.admin)
    settle(corp, clock)
    uploads = [m for m in corp.sim.state.media.values() if m.attachment_type == 1]
    assert len(uploads) == 1  # the same bytes reuse the remembered media id
    assert len(wecom_moments(corp)) == 2

    # Three days later WeCom no longer knows the id Siyu still remembers (40007): it is uploaded again, once.
    corp.sim.advance(3 * 24 * 3600)
    services.schedule_moment(compose(world, text="第三条", kind="images", files=[image]), by=world.admin)
    settle(corp, clock)
    assert len([m for m in corp.sim.state.media.values() if m.attachment_type == 1]) == 2
    assert len(wecom_moments(corp)) == 3
    assert Moment.objects.for_org(world.org).filter(status=Moment.Status.PUBLISHING).count() == 3


def test_cancelling_while_wecom_creates_the_task_stops_it_once_it_exists(world, corp, vip, clock):
    moment = compose(world)
    services.schedule_moment(moment, by=world.admin)
    corp.run()  # the task is asked for; WeCom's job has not finished, so Siyu has no moment id yet
    moment.refresh_from_db()
    assert moment.jobid and not moment.moment_id
    services.cancel_moment(moment, by=world.admin)
    clock.advance(seconds=corp.sim.limits.moment_task_seconds + 5)
    corp.run()
    [made] = wecom_moments(corp)
    assert made.cancelled
    moment.refresh_from_db()
    assert (moment.status, moment.moment_id) == (Moment.Status.CANCELLED, made.moment_id)
