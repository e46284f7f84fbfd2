"""The variables a script may contain, in one place: their names as typed (``{客户称呼}``), a label, and how each is
filled for one customer and one guide. A name not listed here is a form error when the script is saved."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

# {name}: a brace, up to 20 characters that are neither braces nor spaces, a brace.
PATTERN = re.compile(r"\{([^{}\s]{1,20})\}")


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    fill: Callable  # (customer or None, guide Membership) -> str


def _customer_name(customer, guide) -> str:
    if customer is None:
        return ""
    staff = getattr(guide, "staff", None)
    relation = customer.relations.filter(staff=staff).first() if staff is not None else None
    return (relation.remark if relation is not None and relation.remark else customer.name) or ""


def _guide_name(customer, guide) -> str:
    staff = getattr(guide, "staff", None)
    return (staff.name if staff is not None and staff.name else guide.user.name) or ""


def _store_name(customer, guide) -> str:
    return guide.store.name if guide.store_id else ""


VARIABLES: dict[str, Variable] = {v.name: v for v in (
    Variable("客户称呼", _("客户的备注名，没有备注时用昵称"), _customer_name),
    Variable("导购姓名", _("发送话术的导购的姓名"), _guide_name),
    Variable("门店", _("导购所在门店的名称"), _store_name),
)}


def unknown_variables(text: str) -> list[str]:
    """The variable names in ``text`` that are not in :data:`VARIABLES`, in order of appearance, each once."""
    return list(dict.fromkeys(name for name in PATTERN.findall(text) if name not in VARIABLES))


def render(text: str, *, customer=None, guide, values: dict[str, str] | None = None) -> str:
    """``text`` with each known variable replaced by its value for ``customer`` and ``guide`` (a Membership).
    Values are computed once each; pass the same ``values`` dict to fill several texts for one customer and guide
    with one computation. A text with unknown variables never gets here (the service refuses it)."""
    values = {} if values is None else values

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in VARIABLES:
            return match.group(0)
        if name not in values:
            values[name] = VARIABLES[name].fill(customer, guide)
        return values[name]

    return PATTERN.sub(fill, text)
