from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def percent(ratio) -> str:
    """0.857 → "85.7%"; None (nothing to divide) → "—"."""
    if ratio is None:
        return "—"
    return f"{ratio * 100:.1f}%"


@register.filter
def duration(seconds) -> str:
    """Seconds as "2 小时 5 分" / "3 分 12 秒" / "45 秒"; None → "—"."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours >= 24:
        return _("%(d)d 天 %(h)d 小时") % {"d": hours // 24, "h": hours % 24}
    if hours:
        return _("%(h)d 小时 %(m)d 分") % {"h": hours, "m": minutes}
    if minutes:
        return _("%(m)d 分 %(s)d 秒") % {"m": minutes, "s": secs}
    return _("%(s)d 秒") % {"s": secs}
