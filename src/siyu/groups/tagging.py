"""The brand's group tags: created and removed by HQ, put on customer groups by whoever may see the group.
Every change is audited. Mass messages to groups choose their groups by these tags (``siyu.messaging.mass``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from siyu.groups.models import CustomerGroup, GroupTag, GroupTagging
from siyu.orgs import audit
from siyu.orgs.models import Membership

NAME_MAX = 30
TAGS_PER_ORG = 500


@transaction.atomic
def create_tag(org, name: str, *, by: Membership) -> GroupTag:
    by.require("groups.tags")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("请填写标签名称。")})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": _("标签名称最多 %(n)d 个字。") % {"n": NAME_MAX}})
    if GroupTag.objects.for_org(org).count() >= TAGS_PER_ORG:
        raise ValidationError({"name": _("群标签最多 %(n)d 个。") % {"n": TAGS_PER_ORG}})
    try:
        with transaction.atomic():
            tag = GroupTag.objects.create(org=org, name=name)
    except IntegrityError:
        raise ValidationError({"name": _("已有同名的群标签。")}) from None
    audit.record("groups.tag_created", org=org, actor=by.user, obj=tag, details={"name": name})
    return tag


@transaction.atomic
def delete_tag(tag: GroupTag, *, by: Membership) -> None:
    by.require("groups.tags")
    groups = tag.taggings.count()
    audit.record("groups.tag_deleted", org=tag.org_id, actor=by.user, obj=tag, details={"name": tag.name, "groups": groups})
    tag.delete()


@transaction.atomic
def set_group_tags(group: CustomerGroup, tag_ids, *, by: Membership) -> list[GroupTag]:
    """Make ``tag_ids`` the group's tags (the caller has read ``group`` through ``visible_to``)."""
    by.require("groups.tag_groups")
    try:
        wanted = {int(pk) for pk in tag_ids}
    except (TypeError, ValueError):
        raise ValidationError({"tags": _("群标签不存在。")}) from None
    tags = list(GroupTag.objects.for_org(group.org_id).filter(pk__in=wanted))
    if len(tags) != len(wanted):
        raise ValidationError({"tags": _("群标签不存在。")})
    current = set(GroupTagging.objects.for_org(group.org_id).filter(group=group).values_list("tag_id", flat=True))
    GroupTagging.objects.for_org(group.org_id).filter(group=group).exclude(tag_id__in=wanted).delete()
    GroupTagging.objects.bulk_create([GroupTagging(org_id=group.org_id, group=group, tag_id=pk) for pk in wanted - current])
    if wanted != current:
        audit.record("groups.group_tagged", org=group.org_id, actor=by.user, obj=group,
                     details={"tags": "、".join(t.name for t in tags) or "—"})
    return tags
