"""What the script and material libraries share: who may act, pinyin search text, and the guarded status move of
their review (draft → in review → approved / rejected)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils import timezone
from pypinyin import Style, lazy_pinyin

from siyu.content.models import Scope
from siyu.orgs import audit
from siyu.orgs.models import Membership

_NOT_WORD = re.compile(r"\W+")


def require(by: Membership | None, capability: str) -> None:
    if by is not None:
        by.require(capability)


def actor(by: Membership | None):
    return by.user if by is not None else None


def search_text(*texts: str) -> str:
    """What :func:`search` matches with LIKE: each text lower-cased, then its pinyin initials and full pinyin
    (欢迎语 → ``hyy`` and ``huanyingyu``), the texts kept apart so initials do not run across them."""
    parts = []
    for text in texts:
        plain = _NOT_WORD.sub("", text.lower())
        initials = "".join(lazy_pinyin(plain, style=Style.FIRST_LETTER, errors=lambda chars: list(chars)))
        full = "".join(lazy_pinyin(plain, errors=lambda chars: list(chars)))
        parts += [text.lower(), initials, full]
    return "\n".join(parts)


def search(rows, query: str):
    """Rows whose texts contain ``query``, or whose pinyin (initials or full) does: 欢迎, hyy, huanying."""
    query = (query or "").strip().lower()
    if not query:
        return rows
    plain = _NOT_WORD.sub("", query)
    found = Q(search_text__contains=query)
    if plain and plain != query:
        found |= Q(search_text__contains=plain)
    return rows.filter(found)


def move(row, status: str, stale_message: str, **fields) -> None:
    """Change ``row``'s status only from the one the caller read: two reviewers at once cannot both decide."""
    updated = type(row).objects.for_org(row.org_id).filter(pk=row.pk, status=row.status).update(
        status=status, updated_at=timezone.now(), **fields)
    if not updated:
        raise ValidationError(stale_message)
    row.status = status
    for name, value in fields.items():
        setattr(row, name, value)


def create_folder(model, org, *, name: str, scope: str, parent=None, by: Membership | None, action: str):
    """A folder (``model``) in HQ's shared tree or in the member's own; a child stays in its parent's scope. The
    caller has checked that ``by`` may write in ``scope``."""
    name = (name or "").strip()
    max_name = model._meta.get_field("name").max_length
    if not name:
        raise ValidationError({"name": _("请填写分组名称。")})
    if len(name) > max_name:
        raise ValidationError({"name": _("分组名称最多 %(max)d 个字。") % {"max": max_name}})
    if parent is not None:
        if parent.org_id != getattr(org, "pk", org) or parent.scope != scope or (
                scope == Scope.PERSONAL and parent.owner_id != by.pk):
            raise ValidationError({"parent": _("上级分组必须属于同一范围。")})
    with transaction.atomic():
        folder = model.objects.create(org_id=getattr(org, "pk", org), name=name, scope=scope, parent=parent,
                                      owner=by if scope == Scope.PERSONAL else None)
        audit.record(action, org=org, actor=actor(by), obj=folder, details={"name": name, "scope": scope})
    return folder
