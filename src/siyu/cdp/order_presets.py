"""Column presets for the order exports of Chinese marketplaces, and the fields an import understands.

Each preset maps one of our fields to the headers the marketplace uses for it, first match wins: exports changed
their headers over the years (Taobao's 订单报表 says 宝贝标题 where its 宝贝报表 says 标题), so a field may have several.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

# Our fields, in the order the mapping form shows them, with their labels.
FIELDS: dict[str, str] = {
    "order_no": _("订单号"),
    "ordered_at": _("下单时间"),
    "paid_at": _("付款时间"),
    "status": _("订单状态"),
    "total": _("实付金额"),
    "refund_amount": _("退款金额"),
    "refund_status": _("退款状态"),
    "buyer_name": _("买家昵称"),
    "buyer_phone": _("买家手机号"),
    "receiver_phone": _("收货人手机号"),
    "member_id": _("会员号"),
    "product_name": _("商品名称"),
    "sku": _("商品编码"),
    "quantity": _("数量"),
    "unit_price": _("单价"),
}
# Without these an order cannot be stored (ordered_at may fall back to paid_at).
REQUIRED = ("order_no", "product_name")


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    columns: dict[str, tuple[str, ...]]
    # A marketplace's member name is a stable account id (Taobao's 买家会员名); a nickname is not (Xiaoe-tong).
    buyer_name_is_member_id: bool = False


PRESETS: dict[str, Preset] = {
    # 千牛 → 交易 → 已卖出的宝贝 → 批量导出: the 订单报表 (one row per order) and the 宝贝报表 (one row per item).
    "taobao": Preset("taobao", _("淘宝 / 天猫"), {
        "order_no": ("订单编号", "主订单编号"),
        "ordered_at": ("订单创建时间",),
        "paid_at": ("订单付款时间",),
        "status": ("订单状态",),
        "total": ("买家实际支付金额", "总金额"),
        "refund_amount": ("退款金额",),
        "buyer_name": ("买家会员名",),
        "receiver_phone": ("联系手机", "联系电话"),
        "product_name": ("宝贝标题", "标题", "商品标题"),
        "sku": ("商家编码", "外部系统编号"),
        "quantity": ("购买数量", "宝贝总数量"),
        "unit_price": ("价格", "商品价格"),
    }, buyer_name_is_member_id=True),
    # 有赞微商城 → 订单 → 订单查询 → 导出 (订单商品明细: one row per item of an order).
    "youzan": Preset("youzan", _("有赞"), {
        "order_no": ("订单号",),
        "ordered_at": ("下单时间", "订单创建时间"),
        "paid_at": ("付款时间", "买家付款时间"),
        "status": ("订单状态",),
        "total": ("订单实付金额", "订单实付金额(元)"),
        "refund_amount": ("商品已退款金额", "退款金额"),
        "refund_status": ("退款状态", "商品退款状态"),
        "buyer_name": ("买家昵称", "下单人昵称"),
        "buyer_phone": ("买家手机号", "下单人手机号"),
        "receiver_phone": ("收货人手机号", "收货人手机号/提货人手机号"),
        "product_name": ("商品名称",),
        "sku": ("规格编码", "商品编码"),
        "quantity": ("商品数量",),
        "unit_price": ("商品单价", "商品单价(元)"),
    }),
    # 小鹅通 → 交易 → 订单管理 → 导出.
    "xiaoe": Preset("xiaoe", _("小鹅通"), {
        "order_no": ("订单号",),
        "ordered_at": ("下单时间", "创建时间"),
        "paid_at": ("支付时间",),
        "status": ("订单状态",),
        "total": ("实收金额", "实付金额"),
        "buyer_name": ("用户昵称",),
        "buyer_phone": ("手机号",),
        "product_name": ("商品名称",),
        "sku": ("商品ID", "资源ID"),
        "quantity": ("购买数量",),
        "unit_price": ("商品价格",),
    }),
}
