"""Every public path resolves to the view it was written for: a catch-all pattern of one app must not swallow
another app's page (the SOP phone page once answered as a material page)."""

import pytest
from django.urls import resolve

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("path", "view"), [
    ("/m/sop/", "sop:mobile"),
    ("/m/sop/tasks/1/done/", "sop:mobile_done"),
    ("/h5/material/abc.def/", "content:material_public"),
    ("/w/", "workbench:home"),
    ("/s/", "sidebar:entry"),
    ("/s/harness/", "sidebar:harness"),
    ("/s/c/wmAbC-12_x/", "sidebar:customer"),
    ("/s/c/wmAbC-12_x/send/", "sidebar:send"),
    ("/s/g/wrAbC-12_x/", "sidebar:group"),
    ("/conversations/", "conversations:archive"),
    ("/groups/", "groups:list"),
    ("/groups/codes/", "groups:codes"),
])
def test_each_path_reaches_its_own_view(path, view):
    assert resolve(path).view_name == view
