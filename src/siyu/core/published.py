"""What every published code shares: channel live codes, group live codes and, next, fission, lottery and check-in
posters. Each is a WeCom object (``config_id``, ``qr_code``) that customers reach by scanning, named by a
``state`` WeCom hands back on every add or join, and printed under a ``public_id`` on posters.

A ``state`` says which code a customer came through, so it must name one code of one kind: a group code that
reused a channel code's state would credit its joins to the wrong campaign. :func:`state_holder` asks every kind
of code (every concrete subclass of :class:`PublishedCode`), including the states a code had before an edit.
"""

from __future__ import annotations

import secrets

from django.apps import apps
from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core.tenancy import TenantModel
from siyu.wecom.states import STATE_MAX, random_state


class PublishedCode(TenantModel):
    """The columns and life cycle (active → paused → active …, → deleted) of a code customers scan."""

    class Status(models.TextChoices):
        ACTIVE = "active", gettext_lazy("使用中")
        PAUSED = "paused", gettext_lazy("已暂停")
        DELETED = "deleted", gettext_lazy("已删除")

    public_id = models.CharField(max_length=16, editable=False)
    state = models.CharField(gettext_lazy("渠道参数"), max_length=STATE_MAX)
    config_id = models.CharField(max_length=64, blank=True)
    qr_code = models.URLField(max_length=500, blank=True)
    status = models.CharField(gettext_lazy("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @classmethod
    def holders_of_state(cls, org, state: str) -> list[PublishedCode]:
        """The codes of this kind that have (or once had) ``state``; each kind knows where it keeps old ones."""
        raise NotImplementedError(f"{cls.__name__} must say which of its codes used a state")


def published_kinds() -> list[type[PublishedCode]]:
    return [model for model in apps.get_models() if issubclass(model, PublishedCode)]


def state_holder(org, state: str, *, exclude: PublishedCode | None = None) -> PublishedCode | None:
    """The code of any kind in ``org`` that has or had ``state`` (other than ``exclude``), else None."""
    for kind in published_kinds():
        for code in kind.holders_of_state(org, state):
            if exclude is None or type(code) is not type(exclude) or code.pk != exclude.pk:
                return code
    return None


def state_taken_error(org, state: str, *, exclude: PublishedCode | None = None) -> str | None:
    """The form error for a state another code (of any kind) already used, else None."""
    holder = state_holder(org, state, exclude=exclude)
    if holder is None:
        return None
    return _("渠道参数已被%(kind)s“%(name)s”使用过，请换一个。") % {"kind": holder._meta.verbose_name, "name": holder.name}


def new_state(org, prefix: str) -> str:
    """A fresh state: ``prefix`` and ten random letters and digits no code of the org has used."""
    return random_state(prefix, lambda state: state_holder(org, state) is not None)


def new_public_id(org, model: type[models.Model]) -> str:
    """A fresh, unguessable id for a code's public pages (12 URL-safe characters)."""
    while True:
        public_id = secrets.token_urlsafe(9)[:12]
        if not model.objects.for_org(org).filter(public_id=public_id).exists():
            return public_id
