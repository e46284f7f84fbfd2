"""Plain factory functions: real rows through the real services."""

import itertools

from django.test import Client

from siyu.orgs import services
from siyu.orgs.models import Membership, Organization, Store
from siyu.orgs.roles import Role

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_org(slug: str | None = None, name: str | None = None) -> Organization:
    n = next(_seq)
    return services.create_organization(slug=slug or f"brand-{n}", name=name or f"品牌{n}", by=None)


def make_store(org, code: str | None = None, kind=Store.Kind.STORE, parent=None, name: str | None = None) -> Store:
    n = next(_seq)
    return services.create_store(org=org, code=code or f"S{n}", name=name or f"门店{n}", kind=kind, parent=parent, by=None)


def make_member(org, role=Role.HQ_ADMIN, store=None, username: str | None = None, **extra) -> Membership:
    return services.add_member(
        org=org, username=username or f"user{next(_seq)}", role=role, store=store, password=PASSWORD, by=None, **extra
    )


def join(org, user, role=Role.HQ_ADMIN, store=None) -> Membership:
    """``user`` (an existing account) joins ``org`` the only way there is: an owner's invitation, accepted."""
    owner = Membership.objects.for_org(org).filter(role=Role.OWNER).first() or make_member(org, Role.OWNER)
    _invitation, token = services.invite_member(org=org, role=role, store=store, by=owner)
    return services.accept_invitation(token, user=user)


def client_for(membership: Membership) -> Client:
    """A test client signed in as ``membership``'s user, in ``membership``'s organization."""
    client = Client()
    client.force_login(membership.user)
    session = client.session
    session["org_id"] = membership.org_id
    session.save()
    return client


class World:
    """Two brands; brand A has HQ → 2 regions → 2 stores each, a manager per region and a guide per store."""

    def __init__(self):
        self.org = make_org("brand-a", "品牌A")
        self.other_org = make_org("brand-b", "品牌B")
        self.hq = make_store(self.org, "HQ", Store.Kind.HQ)
        self.east = make_store(self.org, "EAST", Store.Kind.REGION, parent=self.hq)
        self.south = make_store(self.org, "SOUTH", Store.Kind.REGION, parent=self.hq)
        self.e1 = make_store(self.org, "E1", parent=self.east)
        self.e2 = make_store(self.org, "E2", parent=self.east)
        self.s1 = make_store(self.org, "S1", parent=self.south)
        self.s2 = make_store(self.org, "S2", parent=self.south)
        self.owner = make_member(self.org, Role.OWNER, username="owner")
        self.admin = make_member(self.org, Role.HQ_ADMIN, username="admin")
        self.east_manager = make_member(self.org, Role.STORE_MANAGER, self.east, username="east_manager")
        self.s1_manager = make_member(self.org, Role.STORE_MANAGER, self.s1, username="s1_manager")
        self.guide_e1 = make_member(self.org, Role.GUIDE, self.e1, username="guide_e1")
        self.guide_e2 = make_member(self.org, Role.GUIDE, self.e2, username="guide_e2")
        self.guide_s1 = make_member(self.org, Role.GUIDE, self.s1, username="guide_s1")
        self.other_store = make_store(self.other_org, "X1")
        self.other_admin = make_member(self.other_org, Role.HQ_ADMIN, username="other_admin")
        self.other_guide = make_member(self.other_org, Role.GUIDE, self.other_store, username="other_guide")


def deliver_events() -> int:
    """Perform the domain events' deliveries that are due, and nothing else (not what they queue)."""
    from siyu.core import durable
    from siyu.core.events import EventDelivery

    rows = durable.claim(EventDelivery, owner="test", limit=10_000, lease_seconds=60)
    durable.run_rows(EventDelivery, rows, "test")
    return len(rows)


def drain(passes: int = 50) -> int:
    """Run dispatcher passes until nothing is due: the domain events' reactions, and what they queue, happen."""
    from siyu.core.dispatch import dispatch_once

    total = 0
    for _ in range(passes):
        performed = dispatch_once(owner="test")
        if not performed:
            return total
        total += performed
    raise AssertionError(f"still performing rows after {passes} dispatcher passes")
