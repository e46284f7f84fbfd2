from django import template
from django.utils.translation import gettext as _

from siyu.tracking import queries

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """Reading time as people say it: 40 秒, 2 分 5 秒, 1 小时 3 分."""
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _("%(h)d 小时 %(m)d 分") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)d 分 %(s)d 秒") % {"m": minutes, "s": secs}
    return _("%(s)d 秒") % {"s": secs}


@register.filter
def percent(value) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


@register.simple_tag(takes_context=True)
def reach_figures(context, materials):
    """Sends and opens of a page of materials for the viewer, read once for the page."""
    return queries.list_figures(context["request"].membership, [m.pk for m in materials])


@register.simple_tag
def reach_of(figures, material):
    return figures.get(material.pk) or queries.Figures()
