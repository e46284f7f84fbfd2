"""The script library (话术库): every change to folders and scripts, the review, usage records, and the reads the
console and the chat sidebar make (search, what a member may use, usage counts).

Personal scripts belong to one member and need no review; HQ scripts are reviewed, and the checker
(:func:`siyu.content.compliance.check`) runs on submit and on approval: a "block" finding stops approval unless
the reviewer overrides it with a reason, which is audited."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.content import compliance, variables
from siyu.content import library as library_common
from siyu.content.models import Scope, Script, ScriptFolder, ScriptUse
from siyu.core import events
from siyu.orgs import audit
from siyu.orgs.models import Membership

MAX_TITLE = Script._meta.get_field("title").max_length
MAX_BODY = 1000
MAX_FOLDER_NAME = ScriptFolder._meta.get_field("name").max_length
MAX_REASON = Script._meta.get_field("override_reason").max_length

# What other parts react to: a shared script guides may now send, and each use (the guide's activity).
APPROVED = events.define_kind("script.approved", gettext_lazy("话术审核通过"))
USED = events.define_kind("script.used", gettext_lazy("话术使用"))


def search_text(title: str, body: str) -> str:
    return library_common.search_text(title, body)


_require, _actor = library_common.require, library_common.actor


def _check_scope(scope: str, by: Membership | None) -> None:
    if scope not in Scope.values:
        raise ValidationError({"scope": _("请选择有效的选项。")})
    _require(by, "content.scripts_shared" if scope == Scope.HQ else "content.scripts")
    if scope == Scope.PERSONAL and by is None:
        raise ValidationError({"scope": _("个人话术需要指定所属成员。")})


def _own(row, by: Membership | None) -> None:
    """A personal row may be changed by its owner only; HQ rows by those who keep the shared library."""
    if row.scope == Scope.PERSONAL:
        if by is not None and row.owner_id != by.pk:
            raise PermissionDenied("not the owner of this personal script")
    else:
        _require(by, "content.scripts_shared")


def create_folder(org, *, name: str, scope: str, parent: ScriptFolder | None = None,
                  by: Membership | None) -> ScriptFolder:
    """A folder in HQ's shared tree or in the member's own; a child stays in its parent's scope."""
    _check_scope(scope, by)
    return library_common.create_folder(ScriptFolder, org, name=name, scope=scope, parent=parent, by=by,
                                        action="content.script_folder_created")


def _clean_script(org, *, folder, title: str, body: str, scope: str, by) -> tuple[str, str]:
    title = (title or "").strip()
    body = (body or "").strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [_("请填写标题。")]
    elif len(title) > MAX_TITLE:
        errors["title"] = [_("标题最多 %(max)d 个字。") % {"max": MAX_TITLE}]
    if not body:
        errors["body"] = [_("请填写话术内容。")]
    elif len(body) > MAX_BODY:
        errors["body"] = [_("话术内容最多 %(max)d 个字。") % {"max": MAX_BODY}]
    else:
        unknown = variables.unknown_variables(body)
        if unknown:
            errors["body"] = [_("不认识的变量：%(names)s。可用的变量：%(known)s。") % {
                "names": "、".join("{%s}" % n for n in unknown),
                "known": "、".join("{%s}" % n for n in variables.VARIABLES)}]
    if folder is not None and (folder.org_id != getattr(org, "pk", org) or folder.scope != scope or (
            scope == Scope.PERSONAL and folder.owner_id != getattr(by, "pk", None))):
        errors["folder"] = [_("分组必须与话术属于同一范围。")]
    if errors:
        raise ValidationError(errors)
    return title, body


def save_script(org, *, script: Script | None = None, folder: ScriptFolder | None, title: str, body: str,
                scope: str, by: Membership | None) -> Script:
    """Create a script, or change one. An HQ script goes (back) to draft and must be reviewed again; a personal
    script is usable at once."""
    if script is not None:
        _own(script, by)
        scope = script.scope  # a script keeps its scope: sharing a personal one means writing an HQ one
    _check_scope(scope, by)
    title, body = _clean_script(org, folder=folder, title=title, body=body, scope=scope, by=by)
    status = Script.Status.APPROVED if scope == Scope.PERSONAL else Script.Status.DRAFT
    with transaction.atomic():
        if script is None:
            script = Script(org_id=getattr(org, "pk", org), scope=scope, created_by=_actor(by),
                            owner=by if scope == Scope.PERSONAL else None)
            action = "content.script_created"
        else:
            action = "content.script_changed"
        script.folder, script.title, script.body, script.status = folder, title, body, status
        script.review_comment = script.override_reason = ""
        script.search_text = search_text(title, body)
        script.save()
        if scope == Scope.HQ:  # a guide's own wording is theirs; HQ's shared library is what the audit log keeps
            audit.record(action, org=org, actor=_actor(by), obj=script, details={"title": title})
    return script


def submit_for_review(script: Script, *, by: Membership | None) -> list[compliance.Finding]:
    """Send an HQ draft (or a rejected script, changed) to review; returns the checker's findings so the author
    sees at once what a reviewer will see."""
    _own(script, by)
    if script.scope != Scope.HQ or script.status not in (Script.Status.DRAFT, Script.Status.REJECTED):
        raise ValidationError(_("只有草稿或被驳回的总部话术可以提交审核。"))
    findings = compliance.check(f"{script.title}\n{script.body}", org=script.org_id)
    with transaction.atomic():
        _move(script, Script.Status.IN_REVIEW, submitted_at=timezone.now())
        audit.record("content.script_submitted", org=script.org_id, actor=_actor(by), obj=script,
                     details={"title": script.title, "blocked": sum(f.blocks for f in findings)})
    return findings


def review_findings(script: Script) -> list[compliance.Finding]:
    """The checker's findings on the script as it is now (the organization's words may have changed)."""
    return compliance.check(f"{script.title}\n{script.body}", org=script.org_id)


def approve_script(script: Script, *, override_reason: str = "", by: Membership | None) -> Script:
    """Approve a script in review. Blocked terms stop it unless ``override_reason`` says why they may stay; the
    override is audited with the terms it let through."""
    _require(by, "content.review")
    if script.status != Script.Status.IN_REVIEW:
        raise ValidationError(_("只有审核中的话术可以审核。"))
    override_reason = (override_reason or "").strip()
    if len(override_reason) > MAX_REASON:
        raise ValidationError({"override_reason": _("放行理由最多 %(max)d 个字。") % {"max": MAX_REASON}})
    blocked = [f.term for f in review_findings(script) if f.blocks]
    if blocked and not override_reason:
        raise ValidationError({"override_reason": _("含有禁止使用的词（%(terms)s），请修改后重新提交，或填写放行理由。")
                                                  % {"terms": "、".join(dict.fromkeys(blocked))}})
    with transaction.atomic():
        _move(script, Script.Status.APPROVED, reviewed_by=_actor(by), reviewed_at=timezone.now(),
              override_reason=override_reason if blocked else "", review_comment="")
        if blocked:
            audit.record("content.script_overridden", org=script.org_id, actor=_actor(by), obj=script,
                         details={"title": script.title, "terms": "、".join(dict.fromkeys(blocked)),
                                  "reason": override_reason})
        audit.record("content.script_approved", org=script.org_id, actor=_actor(by), obj=script,
                     details={"title": script.title})
        events.emit(script.org_id, APPROVED, script, {"overridden": bool(blocked)})
    return script


def reject_script(script: Script, *, comment: str, by: Membership | None) -> Script:
    """Send a script in review back to its author with the reviewer's comment."""
    _require(by, "content.review")
    if script.status != Script.Status.IN_REVIEW:
        raise ValidationError(_("只有审核中的话术可以审核。"))
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": _("驳回时请写明原因，作者据此修改。")})
    if len(comment) > Script._meta.get_field("review_comment").max_length:
        raise ValidationError({"comment": _("审核意见最多 500 个字。")})
    with transaction.atomic():
        _move(script, Script.Status.REJECTED, reviewed_by=_actor(by), reviewed_at=timezone.now(),
              review_comment=comment)
        audit.record("content.script_rejected", org=script.org_id, actor=_actor(by), obj=script,
                     details={"title": script.title, "comment": comment})
    return script


def _move(script: Script, status: str, **fields) -> None:
    library_common.move(script, status, _("话术状态已被他人修改，请刷新后重试。"), **fields)


def record_use(script: Script, *, by: Membership) -> ScriptUse:
    """Count one use of ``script`` by ``by`` (the sidebar's send, the console's copy). Only a script the member
    may use counts: an approved HQ script or their own personal one."""
    if not usable_by(by).filter(pk=script.pk).exists():
        raise PermissionDenied("script not usable by this member")
    with transaction.atomic():
        use = ScriptUse.objects.create(org_id=script.org_id, script=script, membership=by,
                                       staff=getattr(by, "staff", None), used_at=timezone.now())
        events.emit(script.org_id, USED, use, {"script_id": script.pk, "membership_id": by.pk})
    return use


# Reads ---------------------------------------------------------------------------------------------------------

def library(viewer: Membership):
    """Scripts ``viewer`` sees in the console: HQ's (all states for those who keep or review them, approved for
    everyone else) and their own personal ones. Another member's personal scripts never, whatever the role."""
    return Script.objects.visible_to(viewer).filter(Q(scope=Scope.HQ) | Q(owner=viewer))


def usable_by(viewer: Membership):
    """Scripts ``viewer`` may send: approved HQ scripts and their own personal ones."""
    return library(viewer).filter(Q(scope=Scope.PERSONAL) | Q(status=Script.Status.APPROVED))


def folders(viewer: Membership):
    """The folders ``viewer`` sees: HQ's tree and their own."""
    return ScriptFolder.objects.visible_to(viewer).filter(Q(scope=Scope.HQ) | Q(owner=viewer))


search = library_common.search


def use_counts_by_member(viewer: Membership):
    """Uses per member that ``viewer`` may see (HQ: everyone; a manager: their stores; a guide: their own)."""
    return (ScriptUse.objects.visible_to(viewer).filter(membership__isnull=False)
            .values("membership_id", "membership__user__display_name", "membership__user__username",
                    "membership__store__name")
            .annotate(uses=Count("id"), scripts=Count("script", distinct=True)).order_by("-uses"))


def use_counts_by_script(viewer: Membership):
    """Uses per script, counting only the uses ``viewer`` may see."""
    return (ScriptUse.objects.visible_to(viewer).filter(script__in=library(viewer))
            .values("script_id", "script__title").annotate(uses=Count("id")).order_by("-uses"))
