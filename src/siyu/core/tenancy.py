"""Tenant scoping: the one way to read tenant rows.

Every domain table has an ``org`` column. Reads go through ``Model.objects.for_org(org)`` (services, jobs,
callbacks: the whole organization) or ``Model.objects.visible_to(viewer)`` (a person in the console or API:
what their role lets them see). While a request is being served, evaluating a tenant queryset that went
through neither raises :class:`UnscopedTenantQuery`, so a view that forgets the scope fails loudly in tests
instead of leaking another brand's rows (NetBox's RestrictedQuerySet, made mandatory).

Inside a request the request layer (views, API handlers, forms, page helpers: :data:`REQUEST_LAYER`) may not
call ``for_org`` at all: a whole-brand read there is how one guide came to see another guide's customers. The
few legitimate ones (a public H5 page, which has no viewer) are named with :func:`system_read`. Services keep
``for_org``: they act for the brand and check the actor's permission themselves.
"""

from __future__ import annotations

import contextvars
import re
import sys
from contextlib import ContextDecorator
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from siyu.orgs.models import Membership

# Set by TenantMiddleware while a console/API request runs.
request_guard: contextvars.ContextVar[bool] = contextvars.ContextVar("siyu_tenant_guard", default=False)


# Why a whole-brand read is allowed while a request runs (set by system_read), else None.
_system_reason: contextvars.ContextVar[str | None] = contextvars.ContextVar("siyu_system_read", default=None)

# Modules that serve a viewer: inside a request they read through visible_to only.
REQUEST_LAYER = re.compile(
    r"^siyu\.(api|\w+\.(views|\w+_views|api|forms|profile|dashboard|context|access|paging|templatetags\.\w+))$")


class UnscopedTenantQuery(RuntimeError):
    """A view or API handler read a tenant table without ``visible_to`` (or ``for_org`` outside a named exception)."""


class system_read(ContextDecorator):
    """``with system_read("public H5 page"):`` (or as a decorator): whole-brand reads the request layer may make,
    named so a reviewer sees each exception to ``visible_to`` and why."""

    def __init__(self, reason: str):
        if not reason.strip():
            raise ValueError("system_read needs a reason")
        self.reason = reason
        self._tokens: list = []

    def __enter__(self):
        self._tokens.append(_system_reason.set(self.reason))
        return self

    def __exit__(self, *exc):
        _system_reason.reset(self._tokens.pop())
        return False


def _calling_module() -> str:
    """The first module outside Django and this file on the stack: who asked for ``for_org``."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name != __name__ and not name.startswith("django."):
            return name
        frame = frame.f_back
    return ""


def _refuse_whole_brand_read() -> None:
    if request_guard.get() and _system_reason.get() is None:
        caller = _calling_module()
        if REQUEST_LAYER.match(caller):
            raise UnscopedTenantQuery(
                f"{caller} read the whole brand with for_org() while serving a request: use visible_to(membership), "
                "or name the exception with system_read(reason)"
            )


class TenantQuerySet(models.QuerySet):
    _tenant_scoped = False

    def _clone(self):
        clone = super()._clone()
        clone._tenant_scoped = self._tenant_scoped
        return clone

    def _scoped(self) -> "TenantQuerySet":
        self._tenant_scoped = True
        return self

    def for_org(self, org) -> "TenantQuerySet":
        """All rows of one organization: for services, jobs and callbacks acting for the whole brand."""
        _refuse_whole_brand_read()
        return self.filter(org=org)._scoped()

    def visible_to(self, viewer: "Membership") -> "TenantQuerySet":
        """Rows ``viewer`` may see: the whole org for owners and HQ, their stores' (and their own) for managers,
        their own for guides.

        A model opts rows in for store-level roles by defining ``scope_stores(store_ids) -> Q`` and for a
        person's own rows ``scope_owner(viewer) -> Q``; a model without them is visible to whole-org roles only
        (deny by default). Brand-wide reference data every member works with (tag groups, stages, folders)
        says so with ``shared_with_members = True``.
        """
        qs = self.filter(org_id=viewer.org_id)
        if viewer.sees_whole_org or getattr(self.model, "shared_with_members", False):
            return qs._scoped()
        model = self.model
        if viewer.is_store_manager and hasattr(model, "scope_stores"):
            scope = model.scope_stores(viewer.store_ids())
            if hasattr(model, "scope_owner"):
                scope |= model.scope_owner(viewer)
            return qs.filter(scope)._scoped()
        if viewer.is_guide and hasattr(model, "scope_owner"):
            return qs.filter(model.scope_owner(viewer))._scoped()
        return qs.filter(Q(pk__in=[]))._scoped()

    def _check_scope(self) -> None:
        if request_guard.get() and not self._tenant_scoped:
            raise UnscopedTenantQuery(
                f"{self.model.__name__} was queried in a request without for_org() or visible_to()"
            )

    def _fetch_all(self):
        if self._result_cache is None:
            self._check_scope()
        super()._fetch_all()

    def count(self):
        self._check_scope()
        return super().count()

    def exists(self):
        self._check_scope()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._check_scope()
        return super().aggregate(*args, **kwargs)

    def iterator(self, *args, **kwargs):
        self._check_scope()
        return super().iterator(*args, **kwargs)

    def update(self, **kwargs):
        self._check_scope()
        return super().update(**kwargs)

    def delete(self):
        self._check_scope()
        return super().delete()


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    def get_queryset(self):
        qs = super().get_queryset()
        # Related managers (``customer.relations.all()``) start from an object the caller already holds,
        # which was itself read through a scoped path.
        if getattr(self, "instance", None) is not None:
            qs._tenant_scoped = True
        return qs


class TenantModel(models.Model):
    """Base for every domain table: an ``org`` column and the scoped manager."""

    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+")

    objects = TenantManager()

    class Meta:
        abstract = True
