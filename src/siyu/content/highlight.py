"""A checked text as safe HTML: each finding wrapped in ``<mark>``, everything else escaped. Used wherever findings
are shown (the check page, and the send and review pages that show a draft's findings)."""

from __future__ import annotations

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from siyu.content.compliance import Finding


def highlight(text: str, findings: list[Finding]) -> SafeString:
    """``text`` with ``findings`` (non-overlapping, as :func:`~siyu.content.compliance.check` returns them) marked:
    ``<mark class="finding finding-block" title="《广告法》第九条（三）">国家级</mark>``."""
    parts: list[str] = []
    at = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < at:  # overlapping input: the earlier mark already covers it
            continue
        parts.append(escape(text[at:finding.start]))
        parts.append(format_html('<mark class="finding finding-{}" title="{}" data-rule="{}">{}</mark>',
                                 finding.severity, finding.basis, finding.rule, text[finding.start:finding.end]))
        at = finding.end
    parts.append(escape(text[at:]))
    return mark_safe("".join(parts))  # noqa: S308  (every piece above is escaped or built by format_html)
