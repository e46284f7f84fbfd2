"""Callbacks: personal data never reaches the database file in plaintext, a freshness window, a depth limit."""

import json
import os
import stat
import time
import zipfile
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client, override_settings

from siyu.core.dispatch import dispatch_once
from siyu.core.models import Job
from siyu.customers import bulk
from siyu.orgs.models import AuditEntry, Staff
from siyu.wecom.models import CallbackEvent
from tests.customers.test_list import make_customer, make_staff
from tests.factories import client_for
from tests.wecom.helpers import connect, event_xml, post_callback

MOBILE = "13912345678"
REMARK_MOBILE = "13787654321"


def _scan(path: Path, needles: list[bytes]) -> list[bytes]:
    """Like `strings file | grep`: which of the needles occur anywhere in the raw bytes of the file."""
    data = path.read_bytes() if path.exists() else b""
    return [needle for needle in needles if needle in data]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="scans the SQLite file itself")
@pytest.mark.django_db(transaction=True)
def test_no_phone_number_reaches_the_sqlite_file_or_its_wal(world_tx, django_capture_on_commit_callbacks):
    world = world_tx
    org = world.org
    wecom = connect(org)
    inner = event_xml("change_contact", "create_user", UserID="lisi", Name="李四", Mobile=MOBILE,
                      Email="lisi@example.com", Address="上海市徐汇区漕溪北路1号")
    assert post_callback(Client(), org, wecom, inner).status_code == 200
    dispatch_once()
    staff = Staff.objects.for_org(org).get(userid="lisi")
    assert staff.mobile == MOBILE  # processed, from the encrypted payload
    event = CallbackEvent.objects.for_org(org).get()
    assert event.payload["Mobile"] == MOBILE and MOBILE in event.xml  # readable through the model only

    make_customer(org, "王五", (make_staff(org, "zhangsan"), {"mobiles": [REMARK_MOBILE]}))
    with django_capture_on_commit_callbacks(execute=True):
        # Searched by the remark phone: the job's arguments and the audit entry must not keep it readable.
        client_for(world.owner).post("/customers/bulk/?q=" + REMARK_MOBILE, {"action": "export", "scope": "filter"})
    job = Job.objects.for_org(org).get(kind=bulk.EXPORT)
    export = bulk.export_path(job)
    assert export is not None and job.params["filters"]["q"] == [REMARK_MOBILE] and job.result["rows"] == 1
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert not zipfile.is_zipfile(export)  # sealed: an .xlsx in the clear is a ZIP archive

    database = Path(connection.settings_dict["NAME"])
    needles = [MOBILE.encode(), REMARK_MOBILE.encode(), "漕溪北路".encode(), b"lisi@example.com"]
    assert _scan(database, needles) == []
    assert _scan(Path(f"{database}-wal"), needles) == []
    exported = AuditEntry.objects.for_org(org).get(action="customers.exported")
    assert exported.details["filters"]["q"] == ["137****4321"]


@pytest.fixture
def wired(db, world):
    return world.org, connect(world.org)


@override_settings(WECOM_CALLBACK_WINDOW=3600)
def test_a_callback_outside_the_window_is_refused_and_one_inside_is_stored_once(wired):
    org, wecom = wired
    inner = event_xml("change_external_contact", "del_follow_user", UserID="zs", ExternalUserID="wmX")
    old = post_callback(Client(), org, wecom, inner, timestamp=int(time.time()) - 7200)
    assert old.status_code == 400
    assert not CallbackEvent.objects.for_org(org).exists()
    future = post_callback(Client(), org, wecom, inner, timestamp=int(time.time()) + 7200)
    assert future.status_code == 400
    for _ in range(2):  # a replay inside the window is de-duplicated
        assert post_callback(Client(), org, wecom, inner, nonce="same").status_code == 200
    assert CallbackEvent.objects.for_org(org).count() == 1


def test_xml_nested_600_deep_is_refused_not_a_500(wired):
    org, wecom = wired
    inner = "<xml><Event>change_contact</Event>" + "<a>" * 600 + "x" + "</a>" * 600 + "</xml>"
    response = post_callback(Client(), org, wecom, inner)
    assert response.status_code == 400
    assert not CallbackEvent.objects.for_org(org).exists()


@pytest.fixture
def world_tx(transactional_db):
    from tests.factories import World

    return World()
