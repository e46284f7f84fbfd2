"""Notes and follow-ups on a customer: written with their timeline event, validated, scoped to what the writer
may see, and announced to the reminders app."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from siyu.core.events import DomainEvent, Kind
from siyu.customers import notes
from siyu.customers.models import FollowUp, Note, TimelineEvent
from tests.customers.test_list import Shop
from tests.factories import client_for


@pytest.fixture
def shop(world):
    return Shop(world)


def events(customer, kind):
    return TimelineEvent.objects.for_org(customer.org_id).filter(customer=customer, kind=kind)


def test_note_is_written_with_its_timeline_event(world, shop):
    note = notes.add_note(shop.alice, "  想要一款适合送礼的茶  ", by=world.guide_e1)
    assert note.text == "想要一款适合送礼的茶" and note.staff == shop.zhang and note.author == world.guide_e1.user
    event = events(shop.alice, "note_added").get()
    assert event.data["text"] == "想要一款适合送礼的茶" and event.actor == world.guide_e1.user and event.staff == shop.zhang
    for text, message in [("   ", "请填写小记内容"), ("长" * 2001, "最多 2000 个字")]:
        with pytest.raises(ValidationError) as caught:
            notes.add_note(shop.alice, text, by=world.guide_e1)
        assert message in caught.value.message_dict["text"][0]
    assert Note.objects.for_org(world.org).count() == 1


def test_note_through_the_console(world, shop):
    client = client_for(world.guide_e1)
    response = client.post(reverse("customers:note_add", args=[shop.alice.pk]), {"text": "周末会来店里"})
    assert response.status_code == 302 and response["Location"].endswith("#timeline")
    page = client.get(reverse("customers:detail", args=[shop.alice.pk]))
    assert "周末会来店里" in page.content.decode()
    assert "小记：周末会来店里" in [e.text for e in page.context["timeline"]]
    response = client.post(reverse("customers:note_add", args=[shop.alice.pk]), {"text": ""})
    assert response.status_code == 400
    assert client_for(world.guide_e2).post(reverse("customers:note_add", args=[shop.alice.pk]), {"text": "x"}).status_code == 404


def follow_up_events(follow_up) -> int:
    return DomainEvent.objects.for_org(follow_up.org_id).filter(
        kind=Kind.FOLLOW_UP_SAVED, subject_type="customers.followup", subject_id=follow_up.pk).count()


def test_follow_up_is_data_for_the_reminders_app(world, shop):
    due = timezone.now() + timedelta(days=3)
    with pytest.raises(ValidationError) as caught:
        notes.add_follow_up(shop.alice, "回访", due_at=timezone.now() - timedelta(minutes=1), assignee=shop.zhang,
                            by=world.guide_e1)
    assert "due_at" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:  # a guide may only give follow-ups to themselves
        notes.add_follow_up(shop.alice, "回访", due_at=due, assignee=shop.wang, by=world.guide_e1)
    assert "assignee" in caught.value.message_dict
    assert not DomainEvent.objects.exists(), "a refused follow-up announced nothing"
    follow_up = notes.add_follow_up(shop.alice, "回访新品试喝感受", due_at=due, assignee=shop.zhang, by=world.guide_e1)
    assert follow_up_events(follow_up) == 1
    assert follow_up.status == FollowUp.Status.OPEN and follow_up.created_by == world.guide_e1.user
    event = events(shop.alice, "follow_up_scheduled").get()
    assert event.staff == shop.zhang and event.data["text"] == "回访新品试喝感受"
    notes.close_follow_up(follow_up, FollowUp.Status.DONE, by=world.guide_e1)
    notes.close_follow_up(follow_up, FollowUp.Status.CANCELLED, by=world.guide_e1)  # already closed: no change
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUp.Status.DONE and follow_up.closed_by == world.guide_e1.user
    assert events(shop.alice, "follow_up_closed").count() == 1
    assert follow_up_events(follow_up) == 2, "closing it announced it once, closing it again not at all"


def test_follow_up_through_the_console(world, shop):
    client = client_for(world.admin)
    due = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(reverse("customers:follow_up_add", args=[shop.carol.pk]),
                           {"text": "邀请参加品鉴会", "due_at": due, "assignee": shop.li.pk})
    assert response.status_code == 302
    follow_up = FollowUp.objects.for_org(world.org).get()
    assert follow_up.assignee == shop.li
    page = client.get(reverse("customers:detail", args=[shop.carol.pk]))
    assert "邀请参加品鉴会" in page.content.decode()
    assert any(text.startswith("安排跟进：邀请参加品鉴会") for text in (e.text for e in page.context["timeline"]))
    response = client.post(reverse("customers:follow_up_add", args=[shop.carol.pk]),
                           {"text": "x", "due_at": "not a date", "assignee": shop.li.pk})
    assert response.status_code == 400
    # The assignee list of a guide is only themselves.
    guide_page = client_for(world.guide_e1).get(reverse("customers:detail", args=[shop.carol.pk]))
    assert list(guide_page.context["follow_up_form"].fields["assignee"].queryset) == [shop.zhang]
    response = client_for(world.guide_e1).post(reverse("customers:follow_up_close", args=[shop.carol.pk, follow_up.pk]),
                                               {"status": "done"})
    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert follow_up.status == FollowUp.Status.DONE
    # Someone who cannot see the customer cannot close its follow-ups.
    assert client_for(world.guide_e2).post(reverse("customers:follow_up_close", args=[shop.carol.pk, follow_up.pk]),
                                           {"status": "done"}).status_code == 404
