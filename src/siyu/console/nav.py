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
    NavItem(_("系统"), _("事件投递"), "core:event_deliveries", "org.settings", "inbox"),
    NavItem(_("客户"), _("客户列表"), "customers:list", "customers.view", "people"),
    NavItem(_("客户"), _("企业标签"), "customers:tags", "tags.manage", "tag"),
    NavItem(_("客户"), _("我的个人标签"), "customers:personal_tags", "customers.edit", "tag"),
    NavItem(_("客户"), _("受保护标签词"), "customers:protected_labels", "tags.manage", "shield"),
    NavItem(_("企业微信"), _("企业微信连接"), "wecom:connection", "org.settings", "link"),
    NavItem(_("企业微信"), _("接口调用日志"), "wecom:calls", "org.settings", "list"),
    NavItem(_("企业微信"), _("回调事件"), "wecom:events", "org.settings", "inbox"),
    NavItem(_("企业微信"), _("全量同步"), "wecom:sync", "org.settings", "refresh"),
    NavItem(_("获客"), _("渠道活码"), "channels:list", "channels.view", "qrcode"),
    NavItem(_("获客"), _("欢迎语"), "channels:welcome", "channels.manage", "chat"),
    NavItem(_("获客"), _("群活码"), "groups:codes", "groupcodes.view", "qrcode"),
    NavItem(_("获客"), _("区域码"), "groups:store_codes", "storecodes.view", "map"),
    NavItem(_("获客"), _("渠道统计"), "analytics:channels", "analytics.view", "chart"),
    NavItem(_("客户运营"), _("客户阶段"), "lifecycle:board", "lifecycle.board", "columns"),
    NavItem(_("客户运营"), _("待办提醒"), "lifecycle:todos", "lifecycle.todos", "bell"),
    NavItem(_("客户运营"), _("流失提醒"), "lifecycle:alerts", "lifecycle.alerts", "alert"),
    NavItem(_("客户运营"), _("自动打标签"), "lifecycle:rules", "lifecycle.rules", "tag"),
    NavItem(_("客户运营"), _("运营报表"), "lifecycle:reports", "lifecycle.reports", "chart"),
    NavItem(_("客户运营"), _("阶段与提醒设置"), "lifecycle:settings", "lifecycle.stages", "settings"),
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
