import re

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Count

from siyu.content import materials
from siyu.tracking import links
from siyu.tracking.models import TrackedLink
from tests.content.materials_support import make
from tests.tracking.support import customer, material, staff

pytestmark = pytest.mark.django_db


def test_tracked_url_is_one_address_per_material_customer_staff_and_channel(world):
    alice, bob = staff(world, "alice"), staff(world, "bob")
    wang, li = customer(world, alice), customer(world, alice, name="李先生")
    article = material(world)
    first = links.tracked_url(article, customer=wang, staff=alice, channel="sidebar")
    assert links.tracked_url(article, customer=wang, staff=alice, channel="sidebar") == first
    others = {links.tracked_url(article, customer=li, staff=alice, channel="sidebar"),
              links.tracked_url(article, customer=wang, staff=bob, channel="sidebar"),
              links.tracked_url(article, customer=wang, staff=alice, channel="welcome")}
    assert first not in others and len(others) == 3
    assert TrackedLink.objects.for_org(world.org).count() == 4
    # Without a customer or a sender (NULLs never collide in a unique constraint) it is still one link.
    assert links.tracked_url(article, customer=None, staff=None, channel="journey") == \
        links.tracked_url(article, customer=None, staff=None, channel="journey")
    assert not TrackedLink.objects.for_org(world.org).values("material", "customer", "staff", "channel") \
        .annotate(n=Count("id")).filter(n__gt=1).exists()


def test_tracked_url_tokens_are_random_and_long_enough_not_to_be_guessed(world):
    alice = staff(world, "alice")
    article = material(world)
    tokens = [TrackedLink.objects.get(pk=links.link_for(article, customer=customer(world, alice), staff=alice,
                                                        channel="sidebar").pk).token for _ in range(30)]
    assert len(set(tokens)) == 30
    assert all(len(t) == 12 for t in tokens)
    # Not a counter: neighbouring links share no common prefix beyond chance.
    assert len({t[:3] for t in tokens}) > 25
    url = links.tracked_url(article, customer=None, staff=alice, channel="sop")
    assert re.fullmatch(r"https?://[^/]+/t/[A-Za-z0-9_-]{12}/", url)


def test_unknown_channel_and_unapproved_material_are_refused(world):
    alice = staff(world, "alice")
    draft = make(world)
    with pytest.raises(ValidationError):
        links.tracked_url(draft, customer=None, staff=alice, channel="sidebar")
    with pytest.raises(ValidationError):
        links.tracked_url(material(world), customer=None, staff=alice, channel="carrier-pigeon")
    assert not TrackedLink.objects.for_org(world.org).exists()


@pytest.mark.parametrize("kind", ["article", "link", "image", "poster", "video", "pdf", "file"])
def test_every_kind_goes_as_a_card_to_its_tracked_page(world, kind):
    alice = staff(world, "alice")
    wang = customer(world, alice)
    row = material(world, kind)
    attachment = links.attachment_for(row, customer=wang, staff=alice, channel="sidebar")
    assert attachment["msgtype"] == "link"
    assert attachment["link"]["url"] == links.tracked_url(row, customer=wang, staff=alice, channel="sidebar")
    assert attachment["link"]["title"] == row.title
    if kind in ("article", "link"):
        plain = materials.to_attachment(row)["link"]
        assert {k: v for k, v in attachment["link"].items() if k != "url"} == \
            {k: v for k, v in plain.items() if k != "url"}


@pytest.mark.parametrize("kind,msgtype", [("image", "image"), ("video", "video"), ("file", "file"),
                                          ("article", "link")])
def test_untracked_media_goes_as_wecom_media(world, kind, msgtype):
    alice = staff(world, "alice")
    row = material(world, kind)
    attachment = links.attachment_for(row, customer=customer(world, alice), staff=alice, channel="welcome",
                                      tracked=False)
    assert attachment["msgtype"] == msgtype
    if msgtype != "link":
        assert attachment == materials.to_attachment(row)
        assert not TrackedLink.objects.for_org(world.org).exists()


def test_a_miniprogram_has_no_web_page_and_goes_as_it_is(world):
    alice = staff(world, "alice")
    row = material(world, "miniprogram")
    assert links.attachment_for(row, customer=None, staff=alice, channel="sidebar") == materials.to_attachment(row)


def test_long_file_titles_are_cut_to_what_a_card_holds(world):
    alice = staff(world, "alice")
    row = material(world, "pdf", title="秋" * 60)
    title = links.attachment_for(row, customer=None, staff=alice, channel="sidebar")["link"]["title"]
    assert len(title.encode()) <= 128 and title == "秋" * 42
