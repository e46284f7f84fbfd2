"""The timeline kinds moments write: a customer liked or commented on a staff member's moment."""

from __future__ import annotations

from django.utils.translation import gettext as _


def _liked(event) -> str:
    return _("点赞了朋友圈“%(text)s”") % {"text": event.data.get("text", "")}


def _commented(event) -> str:
    return _("评论了朋友圈“%(text)s”") % {"text": event.data.get("text", "")}


def connect() -> None:
    from siyu.customers.profile import register_timeline_kind

    register_timeline_kind("moment_liked", _liked)
    register_timeline_kind("moment_commented", _commented)
