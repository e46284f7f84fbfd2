"""Alerts the chat-archive watch raises: a guide's message with a word the brand forbids, or a customer complaining.

The alert is a durable row: delivering it notifies the guide's store managers once (a WeCom app message); the
review (open → confirmed / dismissed) is a separate state the managers move. It keeps the findings' positions and
rules, never the words themselves, because a finding may be an ID number: the text stays in the encrypted message.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.durable import DurableRow
from siyu.privacy.fields import EncryptedTextField


class ChatAlert(DurableRow):
    class Kind(models.TextChoices):
        STAFF = "staff", _("员工违规用语")
        COMPLAINT = "complaint", _("客户投诉")

    class Review(models.TextChoices):
        OPEN = "open", _("待处理")
        CONFIRMED = "confirmed", _("确认违规")
        DISMISSED = "dismissed", _("误报")

    message = models.ForeignKey("wecom.ChatMessage", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The guide's store when the message was sent: which managers are told and may review it.
    store = models.ForeignKey("orgs.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # [{"start", "end", "rule", "severity"}]: offsets into the message text.
    findings = models.JSONField(default=list)
    rules = models.JSONField(default=list)  # the findings' distinct rules, for the list's filter and labels
    notified = models.JSONField(default=list, blank=True)  # WeCom userids of the managers told
    notified_at = models.DateTimeField(null=True, blank=True)
    review = models.CharField(_("处理结果"), max_length=10, choices=Review.choices, default=Review.OPEN)
    review_note = EncryptedTextField(_("处理备注"), max_length=200)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta(DurableRow.Meta):
        ordering = ["-created_at", "-id"]
        verbose_name = _("会话预警")
        indexes = [
            *DurableRow.Meta.indexes,
            models.Index(fields=["org", "review", "-created_at"], name="chatalert_review"),
            models.Index(fields=["org", "store", "review"], name="chatalert_store"),
        ]

    def perform(self) -> None:
        from siyu.conversations.watch import notify

        notify(self)

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(store_id__in=store_ids)
