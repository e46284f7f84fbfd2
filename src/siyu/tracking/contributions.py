"""How opens read on the customer's timeline, and the reading history on the customer page."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.customers.profile import register_profile_section, register_timeline_kind
from siyu.tracking import queries
from siyu.tracking.templatetags.tracking import duration


def _opened(event) -> str:
    text = _("打开了素材《%(title)s》") % {"title": event.data.get("title", "")}
    seconds = event.data.get("seconds") or 0
    if seconds:
        text += _("，阅读 %(duration)s") % {"duration": duration(seconds)}
    depth = event.data.get("depth") or 0
    if depth:
        text += _("，读到 %(depth)d%%") % {"depth": depth}
    return text


def _history_section(customer, viewer) -> dict:
    return {"readings": queries.customer_history(customer)}


register_timeline_kind("material_opened", _opened)
register_profile_section("tracking/_profile_history.html", _history_section, order=85, key="tracking.history",
                         title=gettext_lazy("素材阅读"))
