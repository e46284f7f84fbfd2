"""The CDP's menu entries and capabilities, registered when the console app is ready."""

from django.utils.translation import gettext_lazy as _

from siyu.console.nav import NavItem, register_nav
from siyu.cdp.models import Source
from siyu.orgs.audit_labels import register_audit_labels, register_detail_values
from siyu.orgs.roles import HQ, register_capabilities

register_capabilities({
    "cdp.persons": HQ,  # persons (OneID): profiles, merges and splits, the review queue, the block list
    "cdp.sources": HQ,  # sources of events: write keys and the debugger
    "orders.import": HQ,  # marketplace exports hold every buyer of the brand
    "orders.write": HQ,  # POST /api/v1/orders: an integration acting for the whole brand
})

register_nav(
    NavItem(_("客户数据"), _("用户"), "persons:list", "cdp.persons", "people", 50),
    NavItem(_("客户数据"), _("待审合并"), "persons:reviews", "cdp.persons", "swap", 60),
    NavItem(_("客户数据"), _("订单导入"), "imports:list", "orders.import", "upload", 70),
    NavItem(_("客户数据"), _("数据源"), "sources:list", "cdp.sources", "inbox", 80),
)

register_audit_labels(details={"prefix": _("密钥前缀")})
# A source's kind in its audit entries (cdp.source.created): 网站, 小程序 … rather than web, miniprogram.
register_detail_values("kind", {kind.value: kind.label for kind in Source.Kind})
