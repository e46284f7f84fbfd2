"""What the guard adds to the customer page: the decisions about this customer, newest first.

Decisions are read where they are stored instead of being copied into the timeline table: one send to a
million customers would otherwise write a million timeline rows beside the million decisions it already wrote.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from siyu.messaging import reasons
from siyu.messaging.models import Decision

SHOWN = 20


def decisions_section(customer, viewer) -> dict:
    rows = (Decision.objects.visible_to(viewer).filter(customer=customer).select_related("send")
            .order_by("-decided_at", "-pk")[:SHOWN])
    return {"decisions": [(row, reasons.label(row.reason), reasons.detail_text(row.reason, row.detail))
                          for row in rows]}


def register() -> None:
    from siyu.customers.profile import register_profile_section

    register_profile_section("messaging/_profile_decisions.html", decisions_section, order=80,
                             key="messaging.decisions", title=_("消息触达记录"))
