"""Products and orders: the minimum the lifecycle automation needs (purchase rules, repurchase reminders).

The CDP issue extends this app (imports, persons, events); these tables stay the source of orders.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.tenancy import TenantModel


class Product(TenantModel):
    """Something the brand sells. ``cycle_days`` is how long one lasts (消耗周期), which drives repurchase reminders."""

    # Brand-wide reference data every member works with (visible_to gives them all of it).
    shared_with_members = True

    sku = models.CharField(_("商品编码"), max_length=64)
    name = models.CharField(_("商品名称"), max_length=100)
    category = models.CharField(_("品类"), max_length=50, blank=True)
    price = models.DecimalField(_("价格"), max_digits=12, decimal_places=2, default=Decimal("0"),
                                validators=[MinValueValidator(Decimal("0"))])
    cycle_days = models.PositiveIntegerField(_("消耗周期（天）"), null=True, blank=True,
                                             help_text=_("一件商品通常用多少天；留空表示不提醒复购。"))
    is_active = models.BooleanField(_("在售"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["category", "name", "id"]
        verbose_name = _("商品")
        constraints = [models.UniqueConstraint(fields=["org", "sku"], name="product_sku_unique_per_org")]
        indexes = [models.Index(fields=["org", "category"], name="product_org_category")]

    def __str__(self) -> str:
        return self.name


class Order(TenantModel):
    """One purchase by a customer, from any source (store POS, mall, import). ``staff`` is the guide credited."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="orders")
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    order_no = models.CharField(_("订单号"), max_length=64, blank=True)
    source = models.CharField(_("来源"), max_length=30, default="manual")
    total = models.DecimalField(_("金额"), max_digits=14, decimal_places=2, default=Decimal("0"))
    ordered_at = models.DateTimeField(_("下单时间"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        verbose_name = _("订单")
        constraints = [
            # An order imported twice (a retried import, a repeated webhook) is one order.
            models.UniqueConstraint(fields=["org", "source", "order_no"], condition=~Q(order_no=""),
                                    name="order_unique_per_source"),
        ]
        indexes = [models.Index(fields=["org", "customer", "-ordered_at"], name="order_customer_time")]

    def __str__(self) -> str:
        return self.order_no or f"#{self.pk}"

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        from siyu.customers.models import Customer

        return Q(customer_id__in=Customer.objects.filter(Customer.scope_stores(store_ids)).values("pk"))

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        from siyu.customers.models import Customer

        return Q(customer_id__in=Customer.objects.filter(Customer.scope_owner(viewer)).values("pk"))


class OrderLine(TenantModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField(_("数量"), default=1)
    unit_price = models.DecimalField(_("单价"), max_digits=12, decimal_places=2)
    amount = models.DecimalField(_("小计"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["org", "product"], name="orderline_org_product")]
