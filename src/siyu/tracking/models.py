"""Tracked links (one per material, recipient, sender and channel), the visits opened through them, and the
"reading now" notices sent to the guide."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from siyu.core.durable import DurableRow
from siyu.core.tenancy import TenantModel
from siyu.customers.models import CustomerScoped


class TrackedLink(TenantModel):
    """The address one recipient got for one material: whoever opens it is counted against this send."""

    class Channel(models.TextChoices):
        SIDEBAR = "sidebar", _("聊天侧边栏")
        WELCOME = "welcome", _("欢迎语")
        SOP = "sop", _("SOP")
        JOURNEY = "journey", _("自动化旅程")
        MASS = "mass", _("群发")

    token = models.CharField(max_length=16)
    material = models.ForeignKey("content.Material", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+")
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("追踪链接")
        constraints = [
            models.UniqueConstraint(fields=["org", "token"], name="tracking_link_token"),
            # One link per send target; rows without a customer or sender are deduplicated by tracked_url.
            models.UniqueConstraint(fields=["org", "material", "customer", "staff", "channel"],
                                    name="tracking_link_target"),
        ]
        # The H5 page finds a link by its token alone (the address carries no organization).
        indexes = [models.Index(fields=["token"], name="tracking_link_by_token"),
                   models.Index(fields=["org", "material"], name="tracking_link_material")]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(staff__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(staff__membership_id=viewer.pk)


class Visit(DurableRow):
    """One opening of a tracked link, and the durable work it starts (timeline, rules, the guide's notice).

    The row is written by the H5 page's request in one INSERT and performed by the dispatcher; a visit that
    ends (the page is hidden) is due again, and performing it then writes its reading time onto the timeline.
    """

    # Every open inserts a row, and each index is one more page written per insert. These two columns are led
    # by indexes the table has anyway: ``org`` by the unique (org, idempotency key), ``link`` by (link, id).
    org = models.ForeignKey("orgs.Organization", on_delete=models.CASCADE, related_name="+", db_index=False)
    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="visits", db_index=False)
    visitor = models.CharField(max_length=32)
    opened_at = models.DateTimeField()
    # Reading time (visible seconds) and the deepest scroll (percent), counted only after consent.
    seconds = models.PositiveIntegerField(default=0)
    depth = models.PositiveSmallIntegerField(default=0)
    consented = models.BooleanField(null=True)
    # Decided when performed: opened by another visitor than the link's first, i.e. the recipient shared it.
    forwarded = models.BooleanField(default=False)
    timeline_event = models.ForeignKey("customers.TimelineEvent", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")

    class Meta(DurableRow.Meta):
        verbose_name = _("素材打开")
        indexes = [*DurableRow.Meta.indexes, models.Index(fields=["link", "id"], name="tracking_visit_link")]

    @classmethod
    def scope_stores(cls, store_ids) -> Q:
        return Q(link__staff__store_id__in=store_ids)

    @classmethod
    def scope_owner(cls, viewer) -> Q:
        return Q(link__staff__membership_id=viewer.pk)

    def perform(self) -> None:
        from siyu.tracking import reactions

        reactions.react(self)


class ReadingNotice(CustomerScoped, DurableRow):
    """A "王女士 正在阅读《…》" app message to the guide who sent the material; the idempotency key holds the
    customer, the material and the hour it belongs to, so one goes out per customer and material per hour."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    material = models.ForeignKey("content.Material", on_delete=models.CASCADE, related_name="+")
    staff = models.ForeignKey("orgs.Staff", on_delete=models.CASCADE, related_name="+")
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="+")

    class Meta(DurableRow.Meta):
        verbose_name = _("阅读提醒")
        indexes = [*DurableRow.Meta.indexes,
                   models.Index(fields=["org", "customer", "material", "-due_at"], name="tracking_notice_last")]

    def perform(self) -> None:
        from siyu.tracking import reactions

        reactions.notify(self)
