"""The WeCom connection of an organization, the callback event log, API call log and rate windows,
departments, and archived chat messages."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.durable import DurableRow
from siyu.core.tenancy import TenantManager, TenantModel, TenantQuerySet
from siyu.privacy.fields import EncryptedJSONField, EncryptedTextField

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin/"


class WeComConnectionQuerySet(TenantQuerySet):
    def signing_in(self) -> WeComConnectionQuerySet:
        """Active connections of active brands, across brands: the public sign-in page only asks whether one
        exists, to offer sign-in with WeCom at all."""
        return self.filter(is_active=True, org__is_active=True)._scoped()


class WeComConnection(TenantModel):
    """How Siyu reaches one organization's corp: the self-built app's credentials and the callback keys."""

    corp_id = models.CharField(_("企业ID (CorpID)"), max_length=64)
    agent_id = models.CharField(_("应用 AgentId"), max_length=32)
    secret = EncryptedTextField(_("应用 Secret"))
    callback_token = models.CharField(_("回调 Token"), max_length=32)
    encoding_aes_key = EncryptedTextField(_("回调 EncodingAESKey"))
    api_base = models.URLField(_("接口地址"), max_length=300, default=DEFAULT_API_BASE)
    is_active = models.BooleanField(default=True)
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_report = models.JSONField(default=list, blank=True)
    last_full_sync_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantManager.from_queryset(WeComConnectionQuerySet)()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="wecom_connection_one_per_org")]

    def __str__(self) -> str:
        return f"{self.corp_id}/{self.agent_id}"


class CallbackEvent(DurableRow):
    """One callback from WeCom: stored (decrypted) before we acknowledge, then processed by the dispatcher.

    ``idempotency_key`` is a hash of the decrypted XML, so WeCom's retries of the same delivery are stored once.
    """

    event = models.CharField(max_length=40)
    change_type = models.CharField(max_length=40, blank=True)
    # Both encrypted: events such as change_contact carry staff mobile numbers, e-mail and addresses.
    payload = EncryptedJSONField()
    xml = EncryptedTextField()
    received_at = models.DateTimeField(auto_now_add=True)

    retry_base_seconds = 5

    class Meta(DurableRow.Meta):
        indexes = [
            *DurableRow.Meta.indexes,
            models.Index(fields=["org", "-received_at"], name="callback_org_received"),
        ]

    def perform(self) -> None:
        from siyu.wecom.events import process_event

        process_event(self)


class ApiCall(TenantModel):
    """One call to the WeCom API: for the admins' call log and to see which endpoint fails."""

    endpoint = models.CharField(max_length=100)
    errcode = models.IntegerField(null=True, blank=True)  # None: no answer (network error)
    errmsg = models.CharField(max_length=300, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["org", "-created_at"], name="apicall_org_time"),
            models.Index(fields=["org", "endpoint", "-created_at"], name="apicall_org_endpoint"),
        ]


class ApiRateWindow(TenantModel):
    """Calls made to one endpoint in one window (a minute or an hour), shared by every process."""

    endpoint = models.CharField(max_length=100)
    window = models.CharField(max_length=1)  # "m" or "h"
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "endpoint", "window", "window_start"], name="rate_window_unique")
        ]


class Department(TenantModel):
    dept_id = models.BigIntegerField()
    name = models.CharField(max_length=100)
    parent_id = models.BigIntegerField(null=True, blank=True)
    order = models.BigIntegerField(default=0)
    deleted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "dept_id"], name="department_unique")]


class ChatMessage(TenantModel):
    """A message from the session archive (会话存档): what keyword rules and sensitive-word checks read."""

    msgid = models.CharField(max_length=128)
    seq = models.BigIntegerField()
    action = models.CharField(max_length=10, default="send")
    sender = models.CharField(max_length=64)
    receivers = models.JSONField(default=list)
    room_id = models.CharField(max_length=64, blank=True)
    msgtype = models.CharField(max_length=20)
    # What customers and staff wrote is personal data (phones, addresses, order details): encrypted at rest.
    text = EncryptedTextField()
    content = EncryptedJSONField(default=dict)
    sent_at = models.DateTimeField()
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    from_customer = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["org", "msgid"], name="chatmessage_unique")]
        indexes = [
            models.Index(fields=["org", "customer", "sent_at"], name="chatmessage_customer_time"),
            models.Index(fields=["org", "seq"], name="chatmessage_org_seq"),
        ]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        # A store manager reads the chats of their stores' guides (the archive viewer); guides read none here.
        return Q(staff__store_id__in=store_ids)


class ArchiveCursor(TenantModel):
    """The last archive ``seq`` fetched for an organization (the archive only serves what comes after)."""

    seq = models.BigIntegerField(default=0)
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org"], name="archive_cursor_one_per_org")]
