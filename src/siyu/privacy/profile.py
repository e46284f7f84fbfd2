"""What consent adds to the customer pages: a section with each purpose's state, the consent history and the
customer's own consent link, and how consent changes read on the timeline."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.privacy.models import ConsentRecord, Purpose

PURPOSES = dict(Purpose.choices)
SOURCES = dict(ConsentRecord.Source.choices)
HISTORY = 20


def consent_section(customer, viewer) -> dict:
    from siyu.privacy.consent import consent_link

    history = list(ConsentRecord.objects.visible_to(viewer).filter(customer=customer).select_related("recorded_by")
                   .order_by("-at", "-id")[:HISTORY])
    # The latest record per purpose is the current state; the history is newest first.
    latest: dict[str, ConsentRecord] = {}
    for row in history:
        latest.setdefault(row.purpose, row)
    states = [{"purpose": label, "record": latest.get(value)} for value, label in Purpose.choices]
    return {"consent_states": states, "consent_history": history, "consent_link": consent_link(customer)}


def _consent_changed(event) -> str:
    d = event.data
    words = {"purpose": PURPOSES.get(d.get("purpose"), d.get("purpose", "")),
             "source": SOURCES.get(d.get("source"), d.get("source", ""))}
    if d.get("granted"):
        return _("同意了“%(purpose)s”（来源：%(source)s）") % words
    return _("撤回了“%(purpose)s”的授权（来源：%(source)s）") % words


def register() -> None:
    from siyu.customers.profile import register_profile_section, register_timeline_kind
    from siyu.orgs.audit_labels import register_detail_values
    from siyu.privacy.consent import TIMELINE_KIND

    register_profile_section("privacy/_profile_consent.html", consent_section, order=60, key="privacy.consent",
                             title=gettext_lazy("授权同意"))
    register_timeline_kind(TIMELINE_KIND, _consent_changed)
    register_detail_values("purpose", PURPOSES)
    register_detail_values("consent_source", SOURCES)
