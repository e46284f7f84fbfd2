"""The customer list's columns: the built-in ones, those other apps register (channel, stage), which of them a
viewer chose to see (``cols`` in the query string) and how many rows a page shows (``size``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.customers import queries
from siyu.customers.profile import list_columns

BUILT_IN = [
    ("staff", _("跟进员工")), ("store", pgettext_lazy("singular", "门店")), ("remark", _("备注")), ("tags", _("标签")),
    ("added", _("首次添加")), ("status", _("状态")),
]
PAGE_SIZES = (20, 50, 100)


@dataclass(frozen=True)
class ListColumn:
    key: str
    label: str
    chosen: bool
    registered: bool


def available() -> list[tuple[str, str, bool]]:
    """(key, label, registered) of every column, registered ones (channel, stage…) after the customer's name."""
    return [(c.key, c.label, True) for c in list_columns()] + [(key, label, False) for key, label in BUILT_IN]


def columns(params) -> list[ListColumn]:
    """Every column with whether it is shown: the ``cols`` asked for, or all of them when none (or junk) is."""
    every = available()
    asked = set(params.getlist("cols")) & {key for key, _label, _registered in every}
    return [ListColumn(key, label, not asked or key in asked, registered) for key, label, registered in every]


def page_size(params) -> int:
    """The ``size`` asked for if it is one of :data:`PAGE_SIZES`, else the list's default."""
    size = params.get("size", "")
    return int(size) if size.isdigit() and int(size) in PAGE_SIZES else queries.PAGE_SIZE


def fill(org, rows, shown: list[ListColumn]) -> None:
    """Give each row its cells in column order; a registered column's text is read for the whole page at once."""
    ids = [row.customer.pk for row in rows]
    registered = {c.key: c for c in list_columns()}
    texts = {c.key: registered[c.key].values(org, ids) for c in shown if c.registered and c.chosen and ids}
    for row in rows:
        row.cells = [(c, texts[c.key].get(row.customer.pk, "") if c.key in texts else None) for c in shown if c.chosen]
