"""The console menu. Each capability adds its pages here; an entry shows only to roles that may use it."""

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


NAV: list[NavItem] = [
    NavItem(_("总览"), _("数据总览"), "console:dashboard", "dashboard.view", "chart"),
    NavItem(_("组织"), _("门店"), "orgs:stores", "stores.view", "store"),
    NavItem(_("组织"), _("成员"), "orgs:members", "members.view", "people"),
    NavItem(_("系统"), _("后台任务"), "core:jobs", "jobs.view", "clock"),
    NavItem(_("系统"), _("审计日志"), "orgs:audit", "audit.view", "shield"),
]


def menu_for(membership, current_path: str) -> list[dict]:
    """Sections with the entries ``membership`` may open, marking the current one."""
    sections: dict[str, list[dict]] = {}
    for item in NAV:
        if membership is None or not membership.can(item.capability):
            continue
        url = reverse(item.url_name)
        active = current_path == url or (url != "/" and current_path.startswith(url))
        sections.setdefault(str(item.section), []).append(
            {"label": item.label, "url": url, "icon": item.icon, "active": active}
        )
    return [{"title": title, "items": items} for title, items in sections.items()]
