"""The dry run: the guard's plan for a send without writing anything, summed up for the person about to send it
(counts per reason, a few masked example customers per reason, the content findings highlighted)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from siyu.content.highlight import highlight
from siyu.customers.models import Customer
from siyu.messaging import guard, reasons
from siyu.messaging.models import Decision
from siyu.privacy.masking import mask_name


@dataclass
class ReasonRow:
    code: str
    label: str
    outcome: str
    count: int
    examples: list[str] = field(default_factory=list)


@dataclass
class DryRun:
    total: int
    included: int
    held: int
    excluded: int
    blocked: bool
    reasons: list[ReasonRow]
    findings: list
    highlighted: SafeString


def dry_run(org, *, send, customer_ids, purpose: str, channel: str, content: str, at=None, approved_by=None) -> DryRun:
    """What ``guard.plan`` would decide now, written nowhere."""
    result = guard.plan(org, send=send, customer_ids=customer_ids, purpose=purpose, channel=channel, content=content,
                        at=at, approved_by=approved_by, dry_run=True)
    examples: dict[str, list[int]] = {}
    outcome_of: dict[str, str] = {}
    for pk, (outcome, reason, _detail, _release) in result.decisions.items():
        if reason:
            outcome_of.setdefault(reason, outcome)
            found = examples.setdefault(reason, [])
            if len(found) < guard.EXAMPLES:
                found.append(pk)
    wanted = [pk for ids in examples.values() for pk in ids]
    names = dict(Customer.objects.for_org(result.org_id).filter(pk__in=wanted).values_list("pk", "name"))
    counts = result.reason_counts()
    rows = [ReasonRow(code, reasons.label(code), outcome_of[code], n,
                      [mask_name(names.get(pk, "")) or "—" for pk in sorted(examples[code])])
            for code, n in counts.most_common()]
    totals = result.counts()
    return DryRun(total=len(result.decisions), included=totals[Decision.Outcome.INCLUDED],
                  held=totals[Decision.Outcome.HELD], excluded=totals[Decision.Outcome.EXCLUDED],
                  blocked=result.blocked, reasons=rows, findings=result.findings,
                  highlighted=highlight(content, result.findings))


def render(request, summary: DryRun) -> str:
    """The dry run as the console partial (``messaging/_dry_run.html``), for a page or an HTMX swap."""
    return render_to_string("messaging/_dry_run.html", {"dry": summary}, request=request)


def group_dry_run(org, *, chat_ids, content: str, at=None, message_id=None) -> DryRun:
    """What ``guard.plan_groups`` would decide now for a group send; the examples are group names."""
    from siyu.groups.models import CustomerGroup

    org_id = getattr(org, "pk", org)
    result = guard.plan_groups(org_id, chat_ids=chat_ids, content=content, at=at, message_id=message_id)
    names = dict(CustomerGroup.objects.for_org(org_id).filter(chat_id__in=list(result.decisions))
                 .values_list("chat_id", "name"))
    by_reason: dict[str, list[str]] = {}
    outcome_of: dict[str, str] = {}
    for chat, (outcome, reason, _detail) in sorted(result.decisions.items()):
        if reason:
            by_reason.setdefault(reason, []).append(chat)
            outcome_of[reason] = outcome
    rows = [ReasonRow(code, reasons.label(code), outcome_of[code], len(chats),
                      [names.get(c) or "—" for c in chats[:guard.EXAMPLES]])
            for code, chats in sorted(by_reason.items(), key=lambda item: -len(item[1]))]
    totals = Counter(outcome for outcome, _reason, _detail in result.decisions.values())
    return DryRun(total=len(result.decisions), included=totals[Decision.Outcome.INCLUDED],
                  held=totals[Decision.Outcome.HELD], excluded=totals[Decision.Outcome.EXCLUDED],
                  blocked=result.blocked, reasons=rows, findings=result.findings,
                  highlighted=highlight(content, result.findings))
