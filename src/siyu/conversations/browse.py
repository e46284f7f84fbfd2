"""Reading the chat archive in the console: conversations, one customer's or one guide's messages, text search,
and the findings of an alert highlighted — always through ``visible_to`` and with personal data masked for roles
that may not see it.

Message text is encrypted at rest, so the database cannot search it: a search decrypts the newest messages of the
chosen scope, at most :data:`SEARCH_SCAN` of them, and says so when it stopped early (narrow the dates to go
further back).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max

from siyu.content import compliance
from siyu.content.compliance import Finding
from siyu.content.highlight import highlight
from siyu.privacy.masking import mask_text
from siyu.wecom.models import ChatMessage

SEARCH_SCAN = 5000
PERSONAL_RULES = frozenset({compliance.PHONE_NUMBER, compliance.ID_NUMBER})


def mask_personal(text: str) -> str:
    """``text`` with every mobile number and ID number in it masked (their first 3 and last 4 characters kept)."""
    spans = [f for f in compliance.check(text) if f.rule in PERSONAL_RULES]
    for f in sorted(spans, key=lambda f: f.start, reverse=True):
        text = text[:f.start] + mask_text(f.term, 3, 4) + text[f.end:]
    return text


def messages_for(viewer, *, customer_id: int | None = None, staff_id: int | None = None,
                 start: datetime | None = None, end: datetime | None = None):
    rows = ChatMessage.objects.visible_to(viewer).select_related("customer", "staff")
    if customer_id is not None:
        rows = rows.filter(customer_id=customer_id)
    if staff_id is not None:
        rows = rows.filter(staff_id=staff_id)
    if start is not None:
        rows = rows.filter(sent_at__gte=start)
    if end is not None:
        rows = rows.filter(sent_at__lt=end)
    return rows.order_by("-sent_at", "-seq")


def conversations(viewer, *, staff_id: int | None = None, start=None, end=None):
    """One row per customer and guide (direct chats) or per group, newest first: who, how many, last message time."""
    rows = messages_for(viewer, staff_id=staff_id, start=start, end=end).exclude(customer=None, room_id="")
    return (rows.order_by().values("customer_id", "customer__name", "staff_id", "staff__name", "room_id")
            .annotate(messages=Count("id"), last_at=Max("sent_at")).order_by("-last_at"))


@dataclass
class Search:
    hits: list[ChatMessage]
    scanned: int
    stopped_early: bool


def search(rows, query: str) -> Search:
    """The messages among ``rows`` (newest first) whose text contains ``query``, ignoring case and full-width forms."""
    needle = compliance.normalize_term(query)
    hits, scanned = [], 0
    for message in rows[:SEARCH_SCAN + 1]:
        if scanned == SEARCH_SCAN:
            return Search(hits, scanned, True)
        scanned += 1
        if needle and needle in compliance.normalize_term(message.text):
            hits.append(message)
    return Search(hits, scanned, False)


def shown(text: str, *, findings: list[Finding] = (), query: str = "", may_see_personal: bool):
    """A message's text as safe HTML: findings (or the search term) marked, personal data masked unless allowed."""
    marks = list(findings)
    if query:
        at = text.lower().find(query.lower())
        if at >= 0:
            marks.append(Finding(text[at:at + len(query)], at, at + len(query), "search", "flag", ""))
    if not may_see_personal:
        masked = mask_personal(text)
        if len(masked) == len(text):  # masking keeps lengths, so the marks still point at the right characters
            text = masked
    return highlight(text, marks)


def alert_findings(alert) -> list[Finding]:
    text = alert.message.text
    return [Finding(text[f["start"]:f["end"]], f["start"], f["end"], f["rule"], f["severity"],
                    str(compliance.BASIS.get(f["rule"], ""))) for f in alert.findings if f["end"] <= len(text)]


def rule_label(rule: str) -> str:
    return str(compliance.RULE_LABELS.get(rule, rule))
