"""Every console page and list, opened as every role, with another store's and another guide's rows beside the
viewer's own: what the viewer may not see never appears (names, counts), and guessed ids answer 403 or 404.

The brand has three guides in three stores (E1 and E2 under the EAST region, S1 under SOUTH). Each guide has a
customer, a reminder, a loss alert, a welcome message, a job and a group; one channel code lists all three
guides (a shared code) and one group code of store E1 sends to the groups of the E1 and E2 guides.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from siyu.channels.models import ChannelCode, ChannelStaff, CustomerChannel, WelcomeMessage
from siyu.core.models import Job
from siyu.core.tenancy import UnscopedTenantQuery, request_guard, system_read
from siyu.customers.models import Customer, Relation
from siyu.groups.models import CustomerGroup, GroupCode, GroupMember
from siyu.lifecycle.models import LossAlert, Reminder, Rule
from siyu.orgs.models import Staff, Store
from tests.factories import client_for

KEYS = ("E1", "E2", "S1")
SEES = {
    "owner": {"E1", "E2", "S1"},
    "admin": {"E1", "E2", "S1"},
    "east_manager": {"E1", "E2"},
    "s1_manager": {"S1"},
    "guide_e1": {"E1"},
}
ROLES = list(SEES)


class Brand:
    """The world plus one guide's worth of rows per store, each row's text ending in its store key."""

    def __init__(self, world):
        self.world = world
        org = self.org = world.org
        now = timezone.now()
        self.staff, self.customers, self.relations, self.groups = {}, {}, {}, {}
        self.reminders, self.alerts, self.welcomes, self.jobs = {}, {}, {}, {}
        for key, store, member in (("E1", world.e1, world.guide_e1), ("E2", world.e2, world.guide_e2),
                                   ("S1", world.s1, world.guide_s1)):
            staff = Staff.objects.create(org=org, userid=f"guide-{key}", name=f"导购{key}", store=store, membership=member,
                                         is_customer_contact=True)
            customer = Customer.objects.create(org=org, external_userid=f"wm-{key}", name=f"顾客{key}", first_added_at=now,
                                               is_friend=True)
            relation = Relation.objects.create(org=org, customer=customer, staff=staff, added_at=now)
            self.staff[key], self.customers[key], self.relations[key] = staff, customer, relation
            self.groups[key] = CustomerGroup.objects.create(org=org, chat_id=f"wr-{key}", name=f"福利群{key}", owner=staff,
                                                            owner_userid=staff.userid, member_count=2)
            self.reminders[key] = Reminder.objects.create(org=org, kind=Reminder.Kind.FOLLOW_UP, customer=customer,
                                                          staff=staff, title=f"回访{key}", due_at=now + timedelta(days=1),
                                                          idempotency_key=f"test:{key}")
            self.alerts[key] = LossAlert.objects.create(org=org, customer=customer, relation=relation, staff=staff,
                                                        store=store, reason=LossAlert.Reason.DELETED_BY_CUSTOMER, occurred_at=now)
            self.welcomes[key] = WelcomeMessage.objects.create(org=org, staff=staff, text=f"欢迎语{key}")
            self.jobs[key] = Job.objects.create(org=org, kind="customers.export", title=f"导出任务{key}",
                                                created_by=member.user)
        # One channel code every guide is on, each with the customer they brought in.
        self.shared_code = ChannelCode.objects.create(org=org, public_id="shared", name="共享海报码", state="c_shared",
                                                      config_id="cfg-shared")
        # A code only the S1 guide is on: the E1 guide must not open it by guessing its id.
        self.s1_code = ChannelCode.objects.create(org=org, public_id="s1only", name="南区专用码", state="c_s1",
                                                  config_id="cfg-s1")
        ChannelStaff.objects.create(org=org, code=self.s1_code, staff=self.staff["S1"])
        for position, key in enumerate(KEYS):
            ChannelStaff.objects.create(org=org, code=self.shared_code, staff=self.staff[key], position=position)
            CustomerChannel.objects.create(org=org, customer=self.customers[key], code=self.shared_code,
                                           relation=self.relations[key], staff=self.staff[key], state="c_shared",
                                           is_first=True, first_at=now, last_at=now)
        # A group code of store E1 that also fills the E2 guide's group; S1 has its own.
        self.group_code = GroupCode.objects.create(org=org, public_id="gshared", name="东区共享群码", store=world.e1,
                                                   state="g_shared", chat_ids=["wr-E1", "wr-E2"], config_id="cfg-g")
        self.s1_group_code = GroupCode.objects.create(org=org, public_id="gs1", name="南区群码", store=world.s1,
                                                      state="g_s1", chat_ids=["wr-S1"], config_id="cfg-gs1")
        for key in KEYS:
            state = "g_s1" if key == "S1" else "g_shared"
            GroupMember.objects.create(org=org, group=self.groups[key], userid=f"wm-{key}", type=GroupMember.Type.EXTERNAL,
                                       customer=self.customers[key], name=f"顾客{key}", join_time=now, state=state)
        self.rule = Rule.objects.create(org=org, name="关键词规则S1", kind=Rule.Kind.KEYWORD)


@pytest.fixture
def brand(world):
    return Brand(world)


def hidden_from(role: str) -> set[str]:
    return set(KEYS) - SEES[role]


# (path, capability-free description) of every list page; each must show none of the hidden rows.
LISTS = [
    "/", "/stores/", "/members/", "/staff/", "/transfers/", "/jobs/", "/customers/", "/board/", "/todos/", "/loss/",
    "/channels/", "/channels/welcome/", "/groups/codes/", "/groups/store-codes/", "/groups/store-codes/stores/",
    "/rules/", "/reports/lifecycle/", "/settings/lifecycle/", "/analytics/channels/", "/audit/", "/tags/",
    "/settings/wecom/events/", "/settings/wecom/calls/", "/api/v1/customers", "/api/v1/channels", "/api/v1/members",
]


def markers(key: str) -> list[str]:
    """Text that names a row of store ``key``'s guide: customer, reminder, welcome, job."""
    return [f"顾客{key}", f"回访{key}", f"欢迎语{key}", f"导出任务{key}", f"wm-{key}"]


def lists_show_no_hidden_rows(brand, role):
    client = client_for(getattr(brand.world, role))
    for path in LISTS:
        response = client.get(path)
        assert response.status_code in (200, 403), (path, response.status_code)
        body = response.content.decode()
        for key in hidden_from(role):
            for text in markers(key):
                assert text not in body, f"{role} sees {text} on {path}"


def figure(body: str, testid: str) -> int:
    return int(re.search(rf'data-testid="{testid}">\s*(\d+)', body).group(1))


def shared_channel_code_shows_only_the_viewers_customers_and_counts(brand, role):
    body = client_for(getattr(brand.world, role)).get(f"/channels/{brand.shared_code.pk}/").content.decode()
    for key in KEYS:
        assert (f"顾客{key}" in body) == (key in SEES[role]), (role, key)
    assert figure(body, "adds-total") == len(SEES[role])
    assert figure(body, "adds-today") == len(SEES[role])
    api = client_for(getattr(brand.world, role)).get(f"/api/v1/channels/{brand.shared_code.pk}/customers").json()
    names = {row["name"] for row in (api["items"] if isinstance(api, dict) else api)}
    assert names == {f"顾客{key}" for key in SEES[role]}


def shared_group_code_shows_only_the_viewers_members_and_counts(brand, role):
    response = client_for(getattr(brand.world, role)).get(f"/groups/codes/{brand.group_code.pk}/")
    if role == "s1_manager":
        assert response.status_code == 404  # another region's store code
        return
    body = response.content.decode()
    for key in ("E1", "E2"):
        assert (f"顾客{key}" in body) == (key in SEES[role]), (role, key)
    assert figure(body, "joins-total") == len({"E1", "E2"} & SEES[role])


# Detail pages of one store's rows: path builders per kind, the store key the row belongs to.
DETAILS = {
    "customer": lambda b, k: f"/customers/{b.customers[k].pk}/",
    "customer timeline": lambda b, k: f"/customers/{b.customers[k].pk}/timeline/",
    "customer api": lambda b, k: f"/api/v1/customers/{b.customers[k].pk}",
    "staff": lambda b, k: f"/staff/{b.staff[k].pk}/",
    "member": lambda b, k: f"/members/{b.staff[k].membership_id}/",
    "member api": lambda b, k: f"/api/v1/members/{b.staff[k].membership_id}",
    "store api": lambda b, k: f"/api/v1/stores/{b.staff[k].store_id}",
    "loss alert": lambda b, k: f"/loss/{b.alerts[k].pk}/",
    "welcome message": lambda b, k: f"/channels/welcome/{b.welcomes[k].pk}/",
    "job progress": lambda b, k: f"/jobs/{b.jobs[k].pk}/progress/",
    "customer job": lambda b, k: f"/customers/jobs/{b.jobs[k].pk}/",
    "store location": lambda b, k: f"/groups/store-codes/stores/{b.staff[k].store_id}/",
}
PERSONAL = {"job progress", "customer job"}


def guessed_ids_of_hidden_rows_answer_403_or_404(brand, role):
    client = client_for(getattr(brand.world, role))
    viewer = getattr(brand.world, role)
    for kind, key in ((kind, key) for kind in DETAILS for key in KEYS):
        response = client.get(DETAILS[kind](brand, key))
        # A job is its creator's (HQ may follow any on the jobs page); a customer export only its creator's.
        mine = brand.jobs[key].created_by_id == viewer.user_id
        if key in hidden_from(role) or (kind in PERSONAL and not mine and not (kind == "job progress" and viewer.sees_whole_org)):
            assert response.status_code in (403, 404), (kind, role, key, response.status_code)
        else:
            assert response.status_code in (200, 403), (kind, role, key, response.status_code)
            for other in hidden_from(role):
                for text in markers(other):
                    assert text not in response.content.decode(), (kind, role, text)


def codes_rules_and_to_dos_of_others_cannot_be_opened_or_changed(brand, role):
    if role in ("owner", "admin"):
        return
    w = brand.world
    client = client_for(getattr(w, role))
    if "S1" in hidden_from(role):
        assert client.get(f"/channels/{brand.s1_code.pk}/").status_code == 404
        assert client.get(f"/channels/{brand.s1_code.pk}/qr.png").status_code == 404
        assert client.get(f"/groups/codes/{brand.s1_group_code.pk}/").status_code == 404
        assert client.post(f"/todos/{brand.reminders['S1'].pk}/done/").status_code in (403, 404)
    assert client.get(f"/rules/{brand.rule.pk}/").status_code == 403
    assert client.get("/settings/wecom/events/").status_code == 403
    brand.reminders["S1"].refresh_from_db()
    assert brand.reminders["S1"].completed_at is None if "S1" in hidden_from(role) else True


@pytest.mark.parametrize("role", ROLES)
def test_every_page_and_list_as(brand, role):
    """One brand per role (building it is the slow part), every check on it."""
    lists_show_no_hidden_rows(brand, role)
    shared_channel_code_shows_only_the_viewers_customers_and_counts(brand, role)
    shared_group_code_shows_only_the_viewers_members_and_counts(brand, role)
    guessed_ids_of_hidden_rows_answer_403_or_404(brand, role)
    codes_rules_and_to_dos_of_others_cannot_be_opened_or_changed(brand, role)


def test_the_request_layer_cannot_read_the_whole_brand_without_naming_why(brand):
    """``for_org`` from a view while a request runs fails; ``system_read`` names the exception; services may."""
    from siyu.channels import views

    token = request_guard.set(True)
    try:
        with pytest.raises(UnscopedTenantQuery, match="visible_to"):
            exec("Customer.objects.for_org(org)", {"Customer": Customer, "org": brand.org, "__name__": views.__name__})
        with system_read("a test naming its exception"):
            exec("Customer.objects.for_org(org)", {"Customer": Customer, "org": brand.org, "__name__": views.__name__})
        assert Store.objects.for_org(brand.org).count() == 7  # this module is not the request layer
    finally:
        request_guard.reset(token)
    with pytest.raises(ValueError):
        system_read(" ")
