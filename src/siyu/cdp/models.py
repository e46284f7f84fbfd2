"""The customer data platform's tables: products and orders, sources and their events, and persons (OneID) with
their identifiers."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.tenancy import TenantModel
from siyu.customers.models import CustomerScoped
from siyu.privacy.fields import BlindIndexField, EncryptedJSONField, EncryptedTextField
from siyu.privacy.keyring import normalize_phone


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


class OrderStatus(models.TextChoices):
    PENDING = "pending", _("待付款")
    PAID = "paid", _("已付款")
    SHIPPED = "shipped", _("已发货")
    COMPLETED = "completed", _("已完成")
    CLOSED = "closed", _("已关闭")
    REFUNDED = "refunded", _("已退款")


class Order(CustomerScoped, TenantModel):
    """One purchase by a person, from any source (store POS, mall, import); ``customer`` is the person's WeCom
    customer when there is one. ``staff`` is the guide credited."""

    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="orders")
    person = models.ForeignKey("cdp.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    order_no = models.CharField(_("订单号"), max_length=64, blank=True)
    source = models.CharField(_("来源"), max_length=30, default="manual")
    total = models.DecimalField(_("金额"), max_digits=14, decimal_places=2, default=Decimal("0"))
    ordered_at = models.DateTimeField(_("下单时间"))
    created_at = models.DateTimeField(auto_now_add=True)
    # -- what marketplace exports and the orders API carry (siyu.cdp.order_import, siyu.cdp.orders_api) --
    status = models.CharField(_("状态"), max_length=12, choices=OrderStatus.choices, default=OrderStatus.PAID)
    paid_at = models.DateTimeField(_("付款时间"), null=True, blank=True)
    refund_total = models.DecimalField(_("退款金额"), max_digits=14, decimal_places=2, default=Decimal("0"))
    buyer_phone = EncryptedTextField(_("买家手机号"), index_field="buyer_phone_index")
    buyer_phone_index = BlindIndexField(source="buyer_phone", purpose="phone", normalizer=normalize_phone)
    buyer_name = EncryptedTextField(_("买家昵称"))
    import_batch = models.ForeignKey("cdp.OrderImport", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="orders")

    class Meta:
        ordering = ["-ordered_at", "-id"]
        verbose_name = _("订单")
        constraints = [
            # An order imported twice (a retried import, a repeated webhook) is one order.
            models.UniqueConstraint(fields=["org", "source", "order_no"], condition=~Q(order_no=""),
                                    name="order_unique_per_source"),
        ]
        indexes = [models.Index(fields=["org", "customer", "-ordered_at"], name="order_customer_time"),
                   models.Index(fields=["org", "person", "-ordered_at"], name="order_person_time")]

    def __str__(self) -> str:
        return self.order_no or f"#{self.pk}"


class OrderLine(TenantModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField(_("数量"), default=1)
    unit_price = models.DecimalField(_("单价"), max_digits=12, decimal_places=2)
    amount = models.DecimalField(_("小计"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["org", "product"], name="orderline_org_product")]


# -- the person side: one human across WeCom, web, app, mini-program, stores and marketplaces ----------------------


class Source(TenantModel):
    """Where events come from (a web shop, an app, a mini-program, a store POS, a server). Write keys belong to it."""

    class Kind(models.TextChoices):
        WEB = "web", _("网站")
        APP = "app", _("App")
        MINIPROGRAM = "miniprogram", _("小程序")
        POS = "pos", _("门店收银")
        SERVER = "server", _("服务端")

    name = models.CharField(_("名称"), max_length=60)
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("数据源")
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="source_name_unique_per_org")]

    def __str__(self) -> str:
        return self.name


class Person(CustomerScoped, TenantModel):
    """The unified human of an organization (OneID): zero or one WeCom customer plus identifiers, traits, events
    and orders from every touchpoint. A person absorbed by a merge keeps its row with ``merged_into`` set, so an
    old id still leads to the survivor and a split can bring it back. Store managers and guides see the persons of
    the WeCom customers they see; a person known only from the web or an import is brand-wide data."""

    # No index of its own on org: person_org_merged and person_org_last_seen lead with it.
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+", db_index=False)
    customer = models.OneToOneField("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="person")
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="absorbed")
    # The person's name as the latest identify call or order gave it: personal data, encrypted at rest.
    name = EncryptedTextField(_("姓名"))
    # Custom traits from identify calls (latest value per key), queried by segments. Personal fields (phone, email,
    # name, address, birthday) never land here: they become identifiers or encrypted columns.
    traits = models.JSONField(_("属性"), default=dict, blank=True)
    first_seen_at = models.DateTimeField(_("首次出现"), null=True, blank=True)
    last_seen_at = models.DateTimeField(_("最近出现"), null=True, blank=True)
    sources = models.JSONField(_("来源"), default=list, blank=True)  # Source.Kind values and "wecom"/"import:<preset>"
    # Order aggregates and RFM, recomputed from orders (siyu.cdp.traits).
    orders_count = models.PositiveIntegerField(_("订单数"), default=0)
    total_spend = models.DecimalField(_("累计消费"), max_digits=14, decimal_places=2, default=Decimal("0"))
    average_order_value = models.DecimalField(_("客单价"), max_digits=14, decimal_places=2, default=Decimal("0"))
    first_order_at = models.DateTimeField(_("首单时间"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("最近下单"), null=True, blank=True)
    mean_purchase_interval_days = models.FloatField(_("平均回购间隔（天）"), null=True, blank=True)
    r_score = models.PositiveSmallIntegerField(_("R 分"), null=True, blank=True)
    f_score = models.PositiveSmallIntegerField(_("F 分"), null=True, blank=True)
    m_score = models.PositiveSmallIntegerField(_("M 分"), null=True, blank=True)
    rfm_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("用户")
        indexes = [
            models.Index(fields=["org", "merged_into"], name="person_org_merged"),
            models.Index(fields=["org", "-last_seen_at"], name="person_org_last_seen"),
        ]

    def __str__(self) -> str:
        return self.name or f"#{self.pk}"


class Identifier(TenantModel):
    """One identifier of a person. The value is encrypted; ``value_index`` (keyed HMAC of the normalized value) is
    what lookups and the uniqueness constraint use, so one value belongs to at most one person of the org."""

    class Kind(models.TextChoices):
        EXTERNAL_USERID = "external_userid", _("企业微信客户 ID")
        UNIONID = "unionid", _("UnionID")
        OPENID = "openid", _("OpenID")
        PHONE = "phone", _("手机号")
        MEMBER_ID = "member_id", _("会员号")
        EMAIL = "email", _("邮箱")
        USER_ID = "user_id", _("用户 ID")
        ANONYMOUS_ID = "anonymous_id", _("匿名 ID")
        DEVICE_ID = "device_id", _("设备 ID")

    # No index of its own on org: the unique constraint leads with it, and each extra index is paid on every
    # insert of a million-identifier batch.
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+", db_index=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    namespace = models.CharField(_("命名空间"), max_length=64, blank=True)  # the app id of an openid
    value = EncryptedTextField(_("值"))
    value_index = models.CharField(max_length=64)
    source = models.CharField(_("来源"), max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "id"]
        verbose_name = _("标识")
        constraints = [models.UniqueConstraint(fields=["org", "kind", "namespace", "value_index"],
                                               name="identifier_unique_per_org")]
        # A person's identifiers are found through the person index alone (ids are unique across orgs).

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"

    # Whoever sees the person sees its identifiers (masked on screen).
    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(person_id__in=Person.objects.filter(Person.scope_stores(store_ids)).values("pk"))

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(person_id__in=Person.objects.filter(Person.scope_owner(viewer)).values("pk"))


class Event(TenantModel):
    """One event of a person as a tracking SDK sent it (Segment spec), normalized from a raw batch.

    Keys lead with ``org`` and the time column is ``timestamp``: PostgreSQL can partition this table by month on
    ``timestamp`` and Citus can distribute it by ``org`` (docs/cdp.md)."""

    class Type(models.TextChoices):
        TRACK = "track", _("行为")
        IDENTIFY = "identify", _("识别")
        PAGE = "page", _("页面")
        SCREEN = "screen", _("屏幕")
        GROUP = "group", _("分组")
        ALIAS = "alias", _("关联")

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="events")
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    type = models.CharField(_("类型"), max_length=10, choices=Type.choices)
    name = models.CharField(_("事件"), max_length=200, blank=True)  # track's event, page/screen's name
    message_id = models.CharField(max_length=100)
    timestamp = models.DateTimeField(_("发生时间"))  # corrected for the device's clock skew
    received_at = models.DateTimeField(_("接收时间"))
    properties = models.JSONField(default=dict, blank=True)
    # context carries the device's IP, user agent and locale: personal data, encrypted at rest.
    context = EncryptedJSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        verbose_name = _("事件")
        constraints = [models.UniqueConstraint(fields=["org", "source", "message_id"], name="event_message_once")]
        indexes = [
            models.Index(fields=["org", "person", "timestamp"], name="event_org_person_time"),
            models.Index(fields=["org", "name", "timestamp"], name="event_org_name_time"),
            models.Index(fields=["org", "timestamp"], name="event_org_time"),
        ]

    def __str__(self) -> str:
        return self.name or self.type

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(person_id__in=Person.objects.filter(Person.scope_stores(store_ids)).values("pk"))

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(person_id__in=Person.objects.filter(Person.scope_owner(viewer)).values("pk"))


class Suppression(TenantModel):
    """An identifier of an erased person, kept only as a keyed hash (the identifier's blind index) so that
    receiving it again does not bring the person back (《个人信息保护法》 erasure, siyu.privacy.requests)."""

    kind = models.CharField(max_length=20, choices=Identifier.Kind.choices)
    namespace = models.CharField(max_length=64, blank=True)
    value_index = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "kind", "namespace", "value_index"],
                                               name="suppression_unique_per_org")]


# -- OneID: merges, the review queue, keep-apart pairs, blocked values, trait history ------------------------------


class Merge(TenantModel):
    """One person absorbed into another, with the identifier that linked them (masked) and why. ``moved`` lists
    the rows that moved to the survivor so a split can give them back."""

    survivor = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="merges_won")
    absorbed = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="merges_lost")
    link_kind = models.CharField(_("关联标识类型"), max_length=20, choices=Identifier.Kind.choices)
    link_masked = models.CharField(_("关联标识"), max_length=120)
    evidence = models.CharField(_("依据"), max_length=500)
    moved = models.JSONField(default=dict, blank=True)  # {"identifiers": [ids], "events": [ids], "orders": [ids]}
    by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    split_at = models.DateTimeField(_("拆分时间"), null=True, blank=True)
    split_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("合并记录")
        indexes = [models.Index(fields=["org", "survivor"], name="merge_org_survivor"),
                   models.Index(fields=["org", "absorbed"], name="merge_org_absorbed")]

    def __str__(self) -> str:
        return self.evidence


class MergeReview(TenantModel):
    """A merge a guard stopped, waiting for an operator: merge the two persons or keep them apart. One pending
    review per linking identifier and guard; ``occurrences`` counts how often the data asked for it again."""

    class Guard(models.TextChoices):
        TWO_CUSTOMERS = "two_customers", _("两人各有不同的企业微信客户")
        MEMBER_ID = "member_id", _("两人各有不同的会员号")
        UNIONID = "unionid", _("两人各有不同的 UnionID")
        CAP = "cap", _("同类标识超过上限")

    class Status(models.TextChoices):
        PENDING = "pending", _("待处理")
        MERGED = "merged", _("已合并")
        KEPT_APART = "kept_apart", _("保持分开")

    person_a = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    person_b = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    link_kind = models.CharField(_("关联标识类型"), max_length=20, choices=Identifier.Kind.choices)
    link_index = models.CharField(max_length=64)
    link_masked = models.CharField(_("关联标识"), max_length=120)
    guard = models.CharField(_("拦截原因"), max_length=20, choices=Guard.choices)
    evidence = models.CharField(_("依据"), max_length=500)
    occurrences = models.PositiveIntegerField(_("次数"), default=1)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("待审合并")
        constraints = [models.UniqueConstraint(fields=["org", "link_kind", "link_index", "guard"],
                                               condition=Q(status="pending"), name="mergereview_pending_once")]
        indexes = [models.Index(fields=["org", "status", "-created_at"], name="mergereview_org_status")]


class KeepApart(TenantModel):
    """Two persons an operator said are different people (a split, a rejected review): never merged again.
    ``low`` < ``high`` so a pair is stored once."""

    low = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    high = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "low", "high"], name="keepapart_pair_once")]


class BlockedValue(TenantModel):
    """A value this organization never links persons by (a store's phone, a shared test account)."""

    kind = models.CharField(_("类型"), max_length=20, choices=Identifier.Kind.choices)
    value = EncryptedTextField(_("值"))
    value_index = models.CharField(max_length=64)
    note = models.CharField(_("备注"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "id"]
        verbose_name = _("屏蔽标识")
        constraints = [models.UniqueConstraint(fields=["org", "kind", "value_index"], name="blockedvalue_once")]


class TraitChange(TenantModel):
    """One change of a person's custom trait (identify calls, imports): the history the profile shows."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="trait_changes")
    key = models.CharField(_("属性"), max_length=100)
    old = models.JSONField(null=True, blank=True)
    new = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(_("时间"))
    source = models.CharField(_("来源"), max_length=40, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["org", "person", "-at"], name="traitchange_org_person")]
# -- order import (存量转私域) and the orders API ---------------------------------------------------------------------


class OrderImport(TenantModel):
    """One upload of a marketplace export (Taobao/Tmall, Youzan, Xiaoe-tong or a custom mapping), run as a job.
    ``errors`` holds each bad row as ``{"line", "column", "reason"}``; reasons never quote the cell, so no personal
    data lands in this unencrypted column."""

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all", _("全部成功才导入")
        GOOD_ROWS = "good", _("只导入无误的订单")

    job = models.OneToOneField("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(_("来源"), max_length=30)
    preset = models.CharField(_("模板"), max_length=20)
    mapping_name = models.CharField(_("自定义映射"), max_length=60, blank=True)
    filename = models.CharField(_("文件名"), max_length=200)
    mode = models.CharField(_("导入方式"), max_length=4, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    rows = models.PositiveIntegerField(_("数据行"), default=0)
    created_orders = models.PositiveIntegerField(_("新增订单"), default=0)
    existing_orders = models.PositiveIntegerField(_("已存在订单"), default=0)
    skipped_orders = models.PositiveIntegerField(_("未导入订单"), default=0)
    erased_persons = models.PositiveIntegerField(_("已删除用户的订单"), default=0)
    errors = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey("orgs.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("订单导入")

    def __str__(self) -> str:
        return self.filename


class ImportMapping(TenantModel):
    """A column mapping an organization saved for its own exports: ``columns`` maps our field names to the
    header of the column holding it."""

    name = models.CharField(_("名称"), max_length=60)
    source = models.CharField(_("订单来源"), max_length=30)
    columns = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("导入映射")
        constraints = [models.UniqueConstraint(fields=["org", "name"], name="import_mapping_name_unique_per_org")]

    def __str__(self) -> str:
        return self.name




# -- event ingestion: write keys, raw batches as the API landed them, rejects by reason ----------------------------

from siyu.core.durable import DurableRow  # noqa: E402 - kept with the ingestion block it serves


class WriteKey(TenantModel):
    """A key a tracking SDK sends to write a source's events. Only a keyed hash of the key is stored (the key is
    shown once, when created); ``prefix`` lets people tell keys apart. A key works until ``revoked_at``: a
    revoke sets it to now, a rotation to now + the grace period (siyu.cdp.sources.ROTATION_GRACE)."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="write_keys")
    key_hash = models.CharField(max_length=64)
    prefix = models.CharField(_("前缀"), max_length=16)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("失效时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("写入密钥")
        constraints = [models.UniqueConstraint(fields=["org", "key_hash"], name="writekey_hash_unique_per_org")]
        # The request path finds a key by its hash alone, before it knows the organization.
        indexes = [models.Index(fields=["key_hash"], name="writekey_hash")]

    def __str__(self) -> str:
        return f"{self.prefix}…"


class RawBatch(DurableRow):
    """One accepted request of the event API exactly as validated (a JSON list of messages, encrypted: traits and
    context carry phones, e-mails and IPs), landed before the 200; the dispatcher normalizes it into events."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="raw_batches")
    body = EncryptedTextField()
    events = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField()

    class Meta(DurableRow.Meta):
        indexes = [*DurableRow.Meta.indexes,
                   models.Index(fields=["org", "source", "received_at"], name="rawbatch_org_source_time")]

    @classmethod
    def perform_many(cls, rows):
        from siyu.cdp.normalize import normalize_batches

        return normalize_batches(rows)


class IngestReject(TenantModel):
    """How many requests (or, for ``erased_person``, events) of a source were refused on a day, by reason."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="rejects")
    day = models.DateField()
    reason = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "source", "day", "reason"],
                                               name="ingestreject_once_per_day")]
