"""A due SOP task reaches its staff member: a WeCom app message (textcard) linking to the mobile task page,
sent once by the dispatcher through ``SopTask.perform``. Delivery rechecks the run first: a subject that left the
SOP's condition since the last sweep is stopped here instead of notified."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.durable import PermanentFailure
from siyu.lifecycle.reminders import NO_RECIPIENT, send_app_card
from siyu.orgs.models import Organization, Staff
from siyu.sop import enrollment
from siyu.sop.models import SopRun, SopTask
from siyu.wecom.errors import NotConnected, WeComError

DESCRIPTION_TEXT = 120


def task_page_url(org_id: int) -> str:
    """The mobile task page on Siyu's public address; ``org`` names the brand for signing in with WeCom."""
    slug = Organization.objects.filter(pk=org_id).values_list("slug", flat=True).first() or ""
    return f"{settings.PUBLIC_URL}{reverse('sop:mobile')}?org={slug}"


def notify(task: SopTask) -> None:
    """Tell the staff member the task is due; nothing is sent for a stopped run or a departed member."""
    org_id = task.org_id
    run = SopRun.objects.for_org(org_id).select_related("sop", "staff", "customer", "group").get(pk=task.run_id)
    if run.status == SopRun.Status.ACTIVE:
        reason = enrollment.leavers(run.sop).get(run.pk)
        if reason:
            enrollment.stop_runs(org_id, [run.pk], reason)
            run.status = SopRun.Status.STOPPED
    if run.status != SopRun.Status.ACTIVE or run.staff.status == Staff.Status.DEPARTED or task.completed_at:
        return
    subject = str(run.group.name or run.group.chat_id) if run.group_id else str(run.customer)
    due = timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M")
    description = "\n".join((subject, task.content[:DESCRIPTION_TEXT], _("到期：%(time)s") % {"time": due}))
    try:
        send_app_card(org_id, run.staff.userid, title=_("SOP 任务：%(name)s") % {"name": run.sop.name},
                      description=description, url=task_page_url(org_id))
    except NotConnected:
        return  # the mobile page and the console calendar still show it
    except WeComError as error:
        if error.errcode == NO_RECIPIENT:
            raise PermanentFailure(f"{run.staff.userid} cannot receive app messages: {error.errmsg}") from error
        raise
    SopTask.objects.for_org(org_id).filter(pk=task.pk).update(notified_at=timezone.now())
