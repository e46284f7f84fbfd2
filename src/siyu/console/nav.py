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
    NavItem(_("组织"), _("员工"), "orgs:staff", "staff.view", "people"),
    NavItem(_("组织"), _("离职继承"), "orgs:transfers", "transfers.manage", "swap"),
    NavItem(_("系统"), _("后台任务"), "core:jobs", "jobs.view", "clock"),
    NavItem(_("系统"), _("审计日志"), "orgs:audit", "audit.view", "shield"),
    NavItem(_("企业微信"), _("企业微信连接"), "wecom:connection", "org.settings", "link"),
    NavItem(_("企业微信"), _("接口调用日志"), "wecom:calls", "org.settings", "list"),
]


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
