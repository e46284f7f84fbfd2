"""Apps contribute their menu entries, capabilities and behaviour events through registries: every entry a role
sees leads to a page it may open, and a capability means one set of roles."""

from __future__ import annotations

import pytest
from django.urls import reverse

from siyu.console.nav import NAV, menu_for
from siyu.lifecycle import rules
from siyu.orgs.roles import CAPABILITIES, HQ, Role, register_capabilities, role_can
from tests.factories import client_for


def test_every_app_registered_its_entries_and_each_names_a_known_capability():
    apps = {item.url_name.split(":")[0] for item in NAV}
    assert {"console", "orgs", "core", "customers", "wecom", "channels", "groups", "analytics", "lifecycle"} <= apps
    assert all(item.capability in CAPABILITIES for item in NAV)
    assert {"channels.view", "groupcodes.manage", "lifecycle.rules", "pii.view", "jobs.view"} <= set(CAPABILITIES)
    assert rules.BEHAVIOUR_EVENTS["group_joined"] == "加入客户群"
    assert rules.TIMELINE_OF_EVENT["group_joined"] == ("joined_group", "group_id")


def test_a_capability_cannot_be_registered_again_with_other_roles():
    register_capabilities({"channels.manage": HQ})  # the same again is harmless
    with pytest.raises(ValueError):
        register_capabilities({"channels.manage": frozenset(Role)})
    assert not role_can(Role.GUIDE, "channels.manage")


@pytest.mark.parametrize("role", ["admin", "east_manager", "guide_e1"])
def test_every_menu_entry_a_role_sees_opens_for_it(world, role):
    member = getattr(world, role)
    menu = menu_for(member, "/")
    urls = [item["url"] for section in menu for item in section["items"]]
    assert urls and len(urls) == len(set(urls))
    assert [s["title"] for s in menu][0] == "总览"
    client = client_for(member)
    for url in urls:
        assert client.get(url).status_code == 200, url
    hidden = [reverse(item.url_name) for item in NAV if not member.can(item.capability)]
    assert not set(hidden) & set(urls)
