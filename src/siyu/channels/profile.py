"""How the customer pages read what channel codes did: a tag's ``channel:5`` source and an add's ``state`` as the
code's name, and the timeline kinds this app writes (``remarked``, ``welcomed``)."""

from __future__ import annotations

from django.utils.translation import gettext as _


def _code_name(org_id: int, pk: str) -> str | None:
    # The read lives in channels.queries: the label names where a customer the viewer already sees came from.
    from siyu.channels.queries import code_name

    return code_name(org_id, pk)


def _state_name(org_id: int, state: str) -> str | None:
    from siyu.channels.queries import state_code_name

    return state_code_name(org_id, state)


def _remarked(event) -> str:
    text = _("备注改为“%(remark)s”") % {"remark": event.data.get("remark", "")}
    channel = _code_name(event.org_id, (event.data.get("source_ref") or "").partition(":")[2])
    return text + (_("（渠道“%(channel)s”自动备注）") % {"channel": channel} if channel else "")


def _welcomed(event) -> str:
    attachments = event.data.get("attachments") or 0
    if attachments:
        return _("收到欢迎语（含 %(count)s 个附件）") % {"count": attachments}
    return _("收到欢迎语")


def connect() -> None:
    from siyu.channels.models import ChannelCode, WelcomeMessage
    from siyu.customers.profile import register_reference, register_timeline_kind
    from siyu.orgs.audit_labels import register_detail_values

    register_detail_values("policy", dict(ChannelCode.Policy.choices))
    register_detail_values("scope", dict(WelcomeMessage.Scope.choices))
    register_reference("channel", _code_name)
    register_reference("state", _state_name)
    register_timeline_kind("remarked", _remarked)
    register_timeline_kind("welcomed", _welcomed)
