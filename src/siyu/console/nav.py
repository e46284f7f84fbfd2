"""The console menu. Each app adds its pages with :func:`register_nav`; an entry shows only to roles that may use it."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    section: str
    label: str
    url_name: str
    capability: str
    icon: str
    order: int = 100  # place within its section


NAV: list[NavItem] = []


def register_nav(*items: NavItem) -> None:
    """Add an app's menu entries (from its ``contributions`` module)."""
    NAV.extend(items)
    NAV.sort(key=lambda item: item.order)


def _deeper_entry(path: str, url: str) -> bool:
    """Another menu entry matches ``path`` more closely (``/settings/wecom/calls/`` is not ``/settings/wecom/``)."""
    return any(
        len(other) > len(url) and path.startswith(other)
        for other in (reverse(i.url_name) for i in NAV)
    )


# Sections appear in this order whatever order capabilities register their pages in.
SECTION_ORDER = [_("总览"), _("客户"), _("获客"), _("客户运营"), _("组织"), _("企业微信"), _("系统")]


def menu_for(membership, current_path: str) -> list[dict]:
    """Sections with the entries ``membership`` may open, marking the current one."""
    sections: dict[str, list[dict]] = {}
    for item in NAV:
        if membership is None or not membership.can(item.capability):
            continue
        url = reverse(item.url_name)
        active = current_path == url or (url != "/" and current_path.startswith(url) and not _deeper_entry(current_path, url))
        sections.setdefault(str(item.section), []).append(
            {"label": item.label, "url": url, "icon": item.icon, "active": active}
        )
    order = {str(title): n for n, title in enumerate(SECTION_ORDER)}
    ranked = sorted(sections.items(), key=lambda entry: order.get(entry[0], len(order)))
    return [{"title": title, "items": items} for title, items in ranked]
