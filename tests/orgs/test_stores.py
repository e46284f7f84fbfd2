"""A store opened, edited (name, address, location, hours), closed and reopened from the console, with audit;
bad input is a field error that changes nothing; only members who manage stores may change one they can see."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from siyu.orgs import services

from siyu.orgs.models import AuditEntry, Store
from tests.factories import client_for

GOOD = {
    "name": "南京路店", "city": "上海", "address": "南京东路 1 号", "latitude": "31.235000", "longitude": "121.480000",
    "hours_mon": "", "hours_tue": "10:00-22:00", "hours_wed": "10:00-22:00", "hours_thu": "10:00-22:00",
    "hours_fri": "10:00-14:00，17:00-02:00", "hours_sat": "09:00-24:00", "hours_sun": "09:00-24:00",
}


def test_every_member_opens_a_store_they_can_see_and_nobody_another_brands(world):
    url = reverse("orgs:store", args=[world.e1.pk])
    page = client_for(world.guide_e1).get(url)
    assert page.status_code == 200 and world.e1.name in page.content.decode()
    assert 'data-testid="store-form"' not in page.content.decode()  # a guide reads, does not edit
    assert client_for(world.guide_e1).get(reverse("orgs:store", args=[world.s1.pk])).status_code == 404
    assert client_for(world.admin).get(reverse("orgs:store", args=[world.other_store.pk])).status_code == 404
    assert f'href="{url}"' in client_for(world.admin).get(reverse("orgs:stores")).content.decode()


def test_hq_edits_location_and_hours_and_it_is_audited(world):
    client = client_for(world.admin)
    response = client.post(reverse("orgs:store", args=[world.e1.pk]), GOOD, follow=True)
    assert response.status_code == 200
    store = Store.objects.for_org(world.org).get(pk=world.e1.pk)
    assert (store.name, store.city, store.address) == ("南京路店", "上海", "南京东路 1 号")
    assert (store.latitude, store.longitude) == (Decimal("31.235000"), Decimal("121.480000"))
    assert store.opening_hours == {
        "tue": [["10:00", "22:00"]], "wed": [["10:00", "22:00"]], "thu": [["10:00", "22:00"]],
        "fri": [["10:00", "14:00"], ["17:00", "02:00"]], "sat": [["09:00", "24:00"]], "sun": [["09:00", "24:00"]],
    }
    hours = response.content.decode().split('data-testid="store-hours">')[1].split("</dd>")[0]
    assert hours.index("周一") < hours.index("周二") < hours.index("周日") and "休息" in hours
    entry = AuditEntry.objects.for_org(world.org).get(action="store.updated")
    assert {"name", "latitude", "longitude", "opening_hours"} <= set(entry.details["changed"])


def test_bad_hours_or_half_a_coordinate_are_field_errors_and_change_nothing(world):
    client = client_for(world.admin)
    before = Store.objects.for_org(world.org).get(pk=world.e1.pk)
    for changes, message in [
        ({"hours_tue": "25:00-26:00"}, "10:00-22:00 的格式"),
        ({"hours_tue": "morning"}, "10:00-22:00 的格式"),
        ({"longitude": ""}, "纬度和经度须同时填写"),
        ({"latitude": "91"}, "90"),
        ({"name": ""}, "请填写此项。"),
    ]:
        response = client.post(reverse("orgs:store", args=[world.e1.pk]), {**GOOD, **changes})
        assert response.status_code == 400 and message in response.content.decode(), changes
    after = Store.objects.for_org(world.org).get(pk=world.e1.pk)
    assert (after.name, after.latitude, after.opening_hours) == (before.name, before.latitude, before.opening_hours)
    assert not AuditEntry.objects.for_org(world.org).filter(action="store.updated").exists()


def test_only_store_managers_may_change_a_store(world):
    guide = client_for(world.guide_e1)
    assert guide.post(reverse("orgs:store", args=[world.e1.pk]), GOOD).status_code == 403
    assert guide.post(reverse("orgs:store_set_active", args=[world.e1.pk]), {"active": "0"}).status_code == 403
    store = Store.objects.for_org(world.org).get(pk=world.e1.pk)
    assert store.name != "南京路店" and store.is_active


def test_close_and_reopen_a_store(world):
    client = client_for(world.admin)
    client.post(reverse("orgs:store_set_active", args=[world.e1.pk]), {"active": "0"})
    assert not Store.objects.for_org(world.org).get(pk=world.e1.pk).is_active
    client.post(reverse("orgs:store_set_active", args=[world.e1.pk]), {"active": "1"})
    assert Store.objects.for_org(world.org).get(pk=world.e1.pk).is_active
    actions = list(AuditEntry.objects.for_org(world.org).filter(action__in=["store.closed", "store.reopened"]).order_by("pk")
                   .values_list("action", flat=True))
    assert actions == ["store.closed", "store.reopened"]



def test_the_service_refuses_a_store_outside_the_members_scope(world):
    with pytest.raises(PermissionDenied):
        services.set_store_active(world.other_store, active=False, by=world.admin)
    with pytest.raises(PermissionDenied):
        services.update_store(world.e1, by=world.guide_e1, name="x", city="", address="", latitude=None,
                              longitude=None, opening_hours={})
    assert Store.objects.for_org(world.other_org).get(pk=world.other_store.pk).is_active
