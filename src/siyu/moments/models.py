"""客户朋友圈: posts published through staff with ``add_moment_task``, their media, the brand's moment settings,
and what WeCom reports back per staff member (published or not, who can see it, likes and comments)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from siyu.core.durable import DurableRow
from siyu.core.tenancy import TenantModel


class MomentSettings(TenantModel):
    """The brand's rules for moments; the defaults apply until saved once. Seed 001: a brand that posts
    promotions every day loses its customers' attention, so one promotional post a day is the default."""

    promotional_per_day = models.PositiveIntegerField(_("每天最多营销朋友圈条数"), default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("朋友圈设置")
        constraints = [models.UniqueConstraint(fields=["org"], name="moments_settings_one_per_org")]


class Moment(TenantModel):
    """One post: text plus up to 9 images, or one video, or one link (WeCom's rule, reference §3.10), visible to
    customers with ``tag_ids`` (none: all of them) of the staff in ``staff_ids`` (none: every member)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SCHEDULED = "scheduled", _("待发布")
        PUBLISHING = "publishing", _("发布中")
        PUBLISHED = "published", _("已发布")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")

    class Kind(models.TextChoices):
        TEXT = "text", _("纯文字")
        IMAGES = "images", _("图片")
        VIDEO = "video", _("视频")
        LINK = "link", _("链接")

    class CallState(models.TextChoices):
        NEW = "new", _("未调用")
        CALLING = "calling", _("调用中")
        CREATED = "created", _("已创建")
        REFUSED = "refused", _("被拒绝")

    text = models.TextField(_("内容"), blank=True)
    kind = models.CharField(_("附件类型"), max_length=10, choices=Kind.choices, default=Kind.TEXT)
    link_title = models.CharField(_("链接标题"), max_length=128, blank=True)
    link_url = models.CharField(_("链接地址"), max_length=2048, blank=True)
    tag_ids = models.JSONField(_("可见标签"), default=list, blank=True)
    staff_ids = models.JSONField(_("发表员工"), default=list, blank=True)
    promotional = models.BooleanField(_("营销类"), default=False)
    scheduled_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    # The time the post counts against the promotional cap: scheduled_at, or when it was scheduled to go now.
    publish_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The one add_moment_task call: ``calling`` is committed before it, so a retry knows WeCom may hold the task.
    call_state = models.CharField(max_length=10, choices=CallState.choices, default=CallState.NEW)
    called_at = models.DateTimeField(null=True, blank=True)
    jobid = models.CharField(max_length=128, blank=True)
    moment_id = models.CharField(max_length=128, blank=True)
    error = models.CharField(max_length=300, blank=True)
    results_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("客户朋友圈")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["org", "status"], name="moments_moment_status"),
                   models.Index(fields=["org", "publish_at"], name="moments_moment_publish_at")]

    def __str__(self) -> str:
        return (self.text or self.link_title or str(self.pk))[:30]

    @property
    def editable(self) -> bool:
        return self.status == self.Status.DRAFT


class MomentMedia(TenantModel):
    """An image or video of a moment, kept here: WeCom's ``upload_attachment`` ids expire after three days, so
    the file is uploaded again whenever the remembered id is gone (:mod:`siyu.wecom.media`)."""

    class Kind(models.TextChoices):
        IMAGE = "image", _("图片")
        VIDEO = "video", _("视频")

    moment = models.ForeignKey(Moment, on_delete=models.CASCADE, related_name="media")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    data = models.BinaryField()

    class Meta:
        verbose_name = _("朋友圈附件")
        ordering = ["position", "pk"]


class MomentPublish(DurableRow):
    """Publishes one moment when it is due: the one ``add_moment_task`` call, then waiting for WeCom's job to
    give the moment id. One row per moment (its idempotency key)."""

    moment = models.ForeignKey(Moment, on_delete=models.CASCADE, related_name="+")
    retry_base_seconds = 5

    class Meta(DurableRow.Meta):
        pass

    def perform(self) -> None:
        from siyu.moments import publish

        publish.publish(self)


class StaffResult(TenantModel):
    """What WeCom last reported for one staff member's copy of a moment."""

    moment = models.ForeignKey(Moment, on_delete=models.CASCADE, related_name="results")
    userid = models.CharField(max_length=64)
    staff = models.ForeignKey("orgs.Staff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    published = models.BooleanField(default=False)
    audience = models.PositiveIntegerField(default=0)  # the customers the copy is meant for
    visible = models.PositiveIntegerField(default=0)  # the customers who can see the published copy
    likes = models.PositiveIntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)
    fetched_at = models.DateTimeField()

    class Meta:
        verbose_name = _("朋友圈发表结果")
        ordering = ["userid"]
        constraints = [models.UniqueConstraint(fields=["org", "moment", "userid"], name="moments_result_unique")]


class Reaction(TenantModel):
    """A customer's like or comment, stored once (the unique key) so it reaches the timeline once."""

    class Kind(models.TextChoices):
        LIKE = "like", _("点赞")
        COMMENT = "comment", _("评论")

    moment = models.ForeignKey(Moment, on_delete=models.CASCADE, related_name="reactions")
    userid = models.CharField(max_length=64)
    external_userid = models.CharField(max_length=64)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    reacted_at = models.DateTimeField()

    class Meta:
        verbose_name = _("朋友圈互动")
        constraints = [models.UniqueConstraint(fields=["org", "moment", "userid", "external_userid", "kind", "reacted_at"],
                                               name="moments_reaction_once")]
