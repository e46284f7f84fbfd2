"""What an open causes, performed by the dispatcher: the timeline entry with its reading time, the behaviour rules,
the guide's "reading now" message (once per customer and material an hour), and forwards."""

from datetime import timedelta

import pytest
from django.test import Client

from siyu.customers.models import RelationTag, TimelineEvent
from siyu.customers.profile import timeline_renderer
from siyu.lifecycle import rules
from siyu.tracking import links, opens
from siyu.tracking.models import ReadingNotice, Visit
from tests.tracking.support import material, visit_key

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def sent(world, corp, commit):
    alice = corp.staff("alice", world.e1, membership=world.guide_e1)
    with commit():
        wang = corp.customer(alice, name="王女士")
    article = material(world, title="秋冬新品")
    link = links.link_for(article, customer=wang, staff=alice, channel="sidebar")
    return link


def _read(client, link, beats=(), *, choice="y"):
    """Open the link; consent; send ``beats`` (seconds, depth); the last one as the page is hidden."""
    url = f"/t/{link.token}/"
    response = client.get(url)
    assert response.status_code == 200
    key = visit_key(response)
    if choice:
        client.post(f"{url}consent", {"visit": key, "choice": choice})
    for n, (seconds, depth) in enumerate(beats, 1):
        client.post(f"{url}beat", {"visit": key, "seconds": seconds, "depth": depth,
                                   "final": "1" if n == len(beats) else ""})
    return Visit.objects.get(pk=opens.visit_of(key))


def _opened(world):
    return list(TimelineEvent.objects.for_org(world.org).filter(kind="material_opened"))


def test_forty_seconds_of_reading_land_on_the_timeline_with_their_duration(world, corp, sent, commit):
    reader = Client()
    url = f"/t/{sent.token}/"
    with commit():
        key = visit_key(reader.get(url))
    # The open is on the timeline at once, before any reading time is known.
    (entry,) = _opened(world)
    assert (entry.data["ref"], entry.data["title"], entry.data["seconds"]) == (str(sent.material_id), "秋冬新品", 0)
    reader.post(f"{url}consent", {"visit": key, "choice": "y"})
    with commit():
        for seconds, depth, final in ((10, 30, ""), (10, 70, ""), (10, 90, ""), (10, 90, "1")):
            reader.post(f"{url}beat", {"visit": key, "seconds": seconds, "depth": depth, "final": final})
    (entry,) = _opened(world)
    assert (entry.data["seconds"], entry.data["depth"]) == (40, 90)
    text = timeline_renderer("material_opened")(entry)
    assert "秋冬新品" in text and "40 秒" in text and "90%" in text


def test_the_guide_is_told_once_per_customer_and_material_an_hour(world, corp, sent, commit, clock):
    clock.attach(corp.sim)
    # Half a minute before the hour turns: the second open is in the next clock hour yet within the hour.
    clock.set((clock.now() + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0) - timedelta(seconds=30))
    reader = Client()
    with commit():
        _read(reader, sent)
    clock.advance(minutes=1)
    with commit():
        _read(reader, sent)
    told = corp.sim.messages("alice")
    assert len(told) == 1
    assert told[0]["content"]["title"] == "王女士 正在阅读《秋冬新品》"
    assert ReadingNotice.objects.count() == 1
    clock.advance(minutes=61)
    with commit():
        _read(reader, sent)
    assert len(corp.sim.messages("alice")) == 2


def test_a_behaviour_rule_tags_the_customer_who_opened_the_material(world, corp, sent, commit):
    (tag,) = corp.tags("看过秋冬新品")
    rules.save_rule(world.org, name="看新品", kind="behaviour", tags=[tag],
                    config={"event": "material_opened", "ref": str(sent.material_id)})
    with commit():
        _read(Client(), sent, choice="")
    tagged = RelationTag.objects.for_org(world.org).get(tag=tag)
    assert tagged.relation.customer_id == sent.customer_id
    assert tagged.source_ref.endswith(f"event:material_opened:visit{Visit.objects.get().pk}")


def test_an_open_by_another_reader_is_a_forward_of_the_sharer(world, corp, sent, commit):
    with commit():
        own = _read(Client(), sent)
    with commit():
        other = _read(Client(), sent, [(10, 50)])
    own.refresh_from_db()
    other.refresh_from_db()
    assert (own.forwarded, other.forwarded) == (False, True)
    assert other.link_id == sent.pk and sent.customer_id is not None  # linked to the sharer through their link
    # The customer's timeline has their own open only, and the guide heard of it once.
    assert len(_opened(world)) == 1 and len(corp.sim.messages("alice")) == 1
