"""How the console names where a person's data came from."""

from django.utils.translation import gettext as _

from siyu.cdp.models import Source


def source_label(value: str) -> str:
    """A person's source as the console names it: 企业微信, a source kind's label, or an import's preset."""
    if value == "wecom":
        return _("企业微信")
    if value in Source.Kind.values:
        return str(Source.Kind(value).label)
    from siyu.cdp.order_presets import PRESETS

    if value.startswith("import:"):
        key = value.removeprefix("import:")
        # A custom mapping's source is the operator's own word; a preset's is its marketplace's name.
        return _("导入：%(preset)s") % {"preset": PRESETS[key].label if key in PRESETS else key}
    if value in PRESETS:  # an order's source: the marketplace it was imported from
        return str(PRESETS[value].label)
    if value == "manual":
        return _("手工录入")
    return value
