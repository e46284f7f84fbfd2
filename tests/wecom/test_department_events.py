"""``change_contact`` department events (create_party, update_party, delete_party), from the encrypted callback
through the dispatcher to the mirrored Department rows."""

from __future__ import annotations

from django.test import Client

from siyu.core.dispatch import dispatch_once
from siyu.wecom.models import Department
from tests.wecom.helpers import event_xml, post_callback
from tests.wecom.test_event_views import wired  # noqa: F401 - the fixture: the org connected to a simulator


def deliver(world, connection, change_type: str, **fields) -> None:
    xml = event_xml("change_contact", change_type, **fields)
    assert post_callback(Client(), world.org, connection, xml).status_code == 200
    while dispatch_once(owner="test"):
        pass


def departments(org) -> dict:
    return {d.dept_id: (d.name, d.parent_id, d.order, d.deleted) for d in Department.objects.for_org(org)}


def test_department_events_create_update_and_delete_the_mirror(world, wired):  # noqa: F811
    deliver(world, wired, "create_party", Id="2", Name="华东区", ParentId="1", Order="10")
    deliver(world, wired, "create_party", Id="3", Name="南京路店", ParentId="2", Order="1")
    assert departments(world.org) == {2: ("华东区", 1, 10, False), 3: ("南京路店", 2, 1, False)}
    # An update carries only what changed: a rename keeps the parent and order.
    deliver(world, wired, "update_party", Id="3", Name="南京东路店")
    deliver(world, wired, "update_party", Id="2", ParentId="5")
    assert departments(world.org) == {2: ("华东区", 5, 10, False), 3: ("南京东路店", 2, 1, False)}
    deliver(world, wired, "delete_party", Id="3")
    assert departments(world.org)[3] == ("南京东路店", 2, 1, True)
    # A department made again under the same id comes back.
    deliver(world, wired, "create_party", Id="3", Name="南京东路店", ParentId="2", Order="1")
    assert departments(world.org)[3] == ("南京东路店", 2, 1, False)
    # Another brand's mirror is untouched.
    assert departments(world.other_org) == {}
