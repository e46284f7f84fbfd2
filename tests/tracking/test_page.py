"""The tracked H5 page: the open is recorded whatever the reader decides; reading time and depth only after
consent; bad beats change nothing."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.content import materials
from siyu.privacy import consent
from siyu.tracking import links, opens
from siyu.tracking.models import TrackedLink, Visit
from tests.content.materials_support import make
from tests.tracking.support import customer, material, staff, visit_key

pytestmark = pytest.mark.django_db


def _link(world, kind="article", **changes):
    alice = staff(world, "alice")
    row = material(world, kind, **changes)
    link = links.link_for(row, customer=customer(world, alice), staff=alice, channel="sidebar")
    return link, f"/t/{link.token}/"


def _visit(response) -> tuple[str, Visit]:
    key = visit_key(response)
    return key, Visit.objects.get(pk=opens.visit_of(key))


def test_the_open_is_recorded_without_consent_and_the_prompt_shown(world, client):
    consent.publish_notice(world.org, title="隐私政策", body="我们如何使用你的信息", by=None)
    link, url = _link(world)
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert link.material.title in page and "秋冬新品<strong>到店</strong>" in page
    assert 'data-testid="consent"' in page and 'data-testid="consent" role="dialog" aria-labelledby="consent-title" hidden' not in page
    assert "隐私政策" in page and "我们如何使用你的信息" in page
    visit = Visit.objects.get()
    assert (visit.link_id, visit.consented, visit.seconds, visit.status) == (link.pk, None, 0, "pending")
    assert response["Cache-Control"] == "private, no-store"


def test_unknown_unapproved_and_withdrawn_materials_are_not_found(world, client):
    link, url = _link(world)
    assert client.get("/t/nosuchtoken0/").status_code == 404
    materials.withdraw_material(link.material, by=world.admin)
    assert client.get(url).status_code == 404
    draft = make(world)
    draft_link = TrackedLink.objects.create(org=world.org, token="drafttoken01", material=draft, channel="sidebar")
    assert client.get(f"/t/{draft_link.token}/").status_code == 404
    assert not Visit.objects.exists()


def test_a_link_material_is_recorded_then_redirected(world, client):
    link, url = _link(world, "link")
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == "https://shop.example.com/new"
    assert Visit.objects.filter(link=link).count() == 1


def test_beats_without_consent_are_refused_and_change_nothing(world, client):
    link, url = _link(world)
    key, visit = _visit(client.get(url))
    response = client.post(f"{url}beat", {"visit": key, "seconds": 10, "depth": 50})
    assert response.status_code == 403
    visit.refresh_from_db()
    assert (visit.seconds, visit.depth) == (0, 0)


def test_declining_is_remembered_and_no_beat_counts_afterwards(world, client):
    link, url = _link(world)
    key, visit = _visit(client.get(url))
    assert client.post(f"{url}consent", {"visit": key, "choice": "n"}).status_code == 200
    assert client.post(f"{url}beat", {"visit": key, "seconds": 10, "depth": 50}).status_code == 403
    again = client.get(url)
    key2, second = _visit(again)
    assert second.consented is False and 'data-choice="n"' in again.content.decode()
    assert 'aria-labelledby="consent-title" hidden' in again.content.decode()
    assert client.post(f"{url}beat", {"visit": key2, "seconds": 10, "depth": 50}).status_code == 403
    assert [(v.seconds, v.depth) for v in Visit.objects.order_by("id")] == [(0, 0), (0, 0)]


def test_after_consent_beats_add_up_capped_and_depth_keeps_its_maximum(world, client):
    link, url = _link(world)
    key, visit = _visit(client.get(url))
    assert client.post(f"{url}consent", {"visit": key, "choice": "y"}).status_code == 200
    for seconds, depth in ((10, 20), (10, 60), (10, 40), (10, 55)):
        assert client.post(f"{url}beat", {"visit": key, "seconds": seconds, "depth": depth}).status_code == 204
    visit.refresh_from_db()
    assert (visit.consented, visit.seconds, visit.depth) == (True, 40, 60)
    # A phone that slept with the page open reports at most one beat's worth.
    client.post(f"{url}beat", {"visit": key, "seconds": 3600, "depth": 60})
    visit.refresh_from_db()
    assert visit.seconds == 40 + opens.BEAT_MAX_SECONDS
    # The next open by the same reader is consented from the start.
    assert _visit(client.get(url))[1].consented is True


def test_a_visit_key_only_works_on_its_own_link(world, client):
    link, url = _link(world)
    other = links.link_for(link.material, customer=None, staff=link.staff, channel="sop")
    key, visit = _visit(client.get(url))
    client.post(f"{url}consent", {"visit": key, "choice": "y"})
    assert client.post(f"/t/{other.token}/beat", {"visit": key, "seconds": 10, "depth": 10}).status_code == 403
    forged = opens.visit_key(visit.pk)[:-2] + "xx"
    assert client.post(f"{url}beat", {"visit": forged, "seconds": 10, "depth": 10}).status_code == 404
    visit.refresh_from_db()
    assert visit.seconds == 0


def test_bad_beats_are_refused_with_the_field_named(world, client):
    link, url = _link(world)
    key, visit = _visit(client.get(url))
    client.post(f"{url}consent", {"visit": key, "choice": "y"})
    for data, field in (({"visit": key, "seconds": -1, "depth": 10}, "seconds"),
                        ({"visit": key, "seconds": "abc", "depth": 10}, "seconds"),
                        ({"visit": key, "seconds": 5, "depth": 101}, "depth"),
                        ({"seconds": 5, "depth": 10}, "visit")):
        response = client.post(f"{url}beat", data)
        assert response.status_code == 400 and field in response.json()["errors"]
    assert client.get(f"{url}beat").status_code == 405
    visit.refresh_from_db()
    assert (visit.seconds, visit.depth) == (0, 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(["visit", "seconds", "depth", "final", "other"]),
                            st.one_of(st.text(max_size=50), st.integers(-10**12, 10**12)), max_size=5))
def test_fuzzed_beats_never_fail_and_never_count_unless_valid(world, client, data):
    if not TrackedLink.objects.exists():
        _link(world)
    link = TrackedLink.objects.get()
    visit = Visit.objects.create(org=world.org, link=link, visitor="v", opened_at=link.created_at, consented=True,
                                 idempotency_key=f"fuzz:{Visit.objects.count()}")
    response = client.post(f"/t/{link.token}/beat", data)
    assert response.status_code in (204, 400, 403, 404)
    visit.refresh_from_db()
    assert (visit.seconds, visit.depth) == (0, 0)  # no fuzzed example can carry this visit's signed key


@pytest.mark.django_db(transaction=True)
def test_a_link_deleted_after_the_process_cached_it_is_not_found(world, client):
    link, url = _link(world)
    assert client.get(url).status_code == 200
    TrackedLink.objects.filter(pk=link.pk).delete()  # its customer was deleted: the link goes with them
    assert client.get(url).status_code == 404
    assert not Visit.objects.exists()


def test_each_open_gets_its_own_addresses_and_key_from_the_shared_page(world, client):
    link, url = _link(world)
    other = links.link_for(link.material, customer=None, staff=link.staff, channel="sop")
    first, second = client.get(url).content.decode(), client.get(f"/t/{other.token}/").content.decode()
    assert f'data-beat-url="/t/{link.token}/beat"' in first and f'data-beat-url="/t/{other.token}/beat"' in second
    keys = [visit_key(client.get(url)) for _ in range(2)]
    assert keys[0] != keys[1] and all(opens.visit_of(k) for k in keys)
    assert "MARK" not in first + second
