"""Each material's figures by guide and by store, as the viewer may see them; a customer's reading history."""

import pytest
from django.test import Client

from siyu.tracking import links, queries
from siyu.tracking.models import Visit
from tests.factories import client_for, drain
from tests.tracking.support import customer, material, staff, visit_key

pytestmark = pytest.mark.django_db


def _open(link, reader=None, *, seconds=0, depth=0):
    reader = reader or Client()
    url = f"/t/{link.token}/"
    key = visit_key(reader.get(url))
    if seconds or depth:
        reader.post(f"{url}consent", {"visit": key, "choice": "y"})
        reader.post(f"{url}beat", {"visit": key, "seconds": seconds, "depth": depth, "final": "1"})
    return reader


@pytest.fixture
def sends(world):
    """Alice (store E1) sent the article to three customers, Bob (E2) to one; two of Alice's opened it, one of
    them twice and passed it on; Bob's did not open it."""
    alice = staff(world, "alice", world.e1, membership=world.guide_e1)
    bob = staff(world, "bob", world.e2, membership=world.guide_e2)
    article = material(world)
    wang, li, zhao = (customer(world, alice, name=n) for n in ("王女士", "李先生", "赵女士"))
    sent = {c: links.link_for(article, customer=c, staff=alice, channel="sidebar") for c in (wang, li, zhao)}
    links.link_for(article, customer=customer(world, bob), staff=bob, channel="sidebar")
    reader = _open(sent[wang], seconds=10, depth=40)
    _open(sent[wang], reader, seconds=10, depth=80)
    _open(sent[wang], seconds=10, depth=100)  # a friend of 王女士
    _open(sent[li], seconds=0)
    drain()
    return article, wang


def test_figures_by_guide_and_by_store(world, sends):
    article, _wang = sends
    (total,) = queries.material_figures(world.admin, article)
    assert (total.sends, total.unique_opens, total.opens, total.forwards) == (4, 2, 3, 1)
    assert total.open_rate == 0.5
    assert (total.seconds, total.average_depth) == (30, pytest.approx((40 + 80 + 100) / 3))
    by_guide = {f.label: (f.sends, f.unique_opens, f.forwards) for f in queries.material_figures(world.admin, article,
                                                                                               by="guide")}
    assert by_guide == {"员工alice": (3, 2, 1), "员工bob": (1, 0, 0)}
    by_store = {f.label: (f.sends, f.unique_opens, f.open_rate) for f in
                queries.material_figures(world.admin, article, by="store")}
    assert by_store == {world.e1.name: (3, 2, 2 / 3), world.e2.name: (1, 0, 0.0)}


def test_a_guide_sees_their_own_sends_only(world, sends):
    article, _wang = sends
    (mine,) = queries.material_figures(world.guide_e2, article)
    assert (mine.sends, mine.unique_opens) == (1, 0)
    assert {f.label for f in queries.material_figures(world.guide_e1, article, by="guide")} == {"员工alice"}
    assert queries.list_figures(world.guide_e1, [article.pk])[article.pk].sends == 3


def test_customer_history_lists_own_opens_with_reading_and_forwarding(world, sends):
    article, wang = sends
    history = queries.customer_history(wang)
    assert [(r.title, r.seconds, r.depth, r.forwarded) for r in history] == [
        (article.title, 10, 80, True), (article.title, 10, 40, True)]
    assert history[0].opened_at >= history[1].opened_at
    assert Visit.objects.filter(forwarded=True).count() == 1


def test_the_stats_page_and_the_list_show_the_figures(world, sends):
    article, wang = sends
    page = client_for(world.admin).get(f"/content/materials/{article.pk}/stats/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="sends">4<' in html and 'data-testid="forwards">1<' in html and "员工bob" in html
    listing = client_for(world.guide_e1).get("/content/materials/").content.decode()
    assert "3 / 67%" in listing
    profile = client_for(world.admin).get(f"/customers/{wang.pk}/").content.decode()
    assert 'data-testid="reading-history"' in profile and "已转发" in profile
    assert client_for(world.other_admin).get(f"/content/materials/{article.pk}/stats/").status_code == 404
