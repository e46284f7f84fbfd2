"""The mobile task page (H5, opened from the WeCom app message): the signed-in staff member's SOP tasks due today
or overdue, each with its content, a copy button, one-click send and "mark done"."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from siyu.messaging.models import Decision
from siyu.sop import queries, services
from siyu.sop.models import SopTask
from siyu.wecom.errors import WeComError


def staff_member(view):
    """Signed in through WeCom (the page is opened inside the app: sign-in is silent there) with a staff member."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            query = {"next": request.get_full_path(), "flow": "app"}
            if request.GET.get("org"):
                query["org"] = request.GET["org"]
            return redirect(f"{reverse('wecom:oauth_start')}?{urlencode(query)}")
        membership = request.membership
        if membership is None or getattr(membership, "staff", None) is None:
            return render(request, "sop/mobile_none.html", status=403)
        return view(request, *args, **kwargs)

    return guarded


def _task(request, pk: int) -> SopTask:
    # Only the member's own tasks: another guide's task is "not found", not "forbidden" (nothing to learn).
    return get_object_or_404(queries.open_tasks(request.membership), pk=pk)


@staff_member
def task_page(request):
    tasks = list(queries.open_tasks(request.membership))
    today = timezone.localdate()
    for task in tasks:
        task.overdue = timezone.localtime(task.due_at).date() < today
    return render(request, "sop/mobile.html", {"tasks": tasks, "org": request.membership.org})


@staff_member
@require_POST
def task_done(request, pk: int):
    task = _task(request, pk)
    try:
        services.complete_task(task, by=request.membership)
    except PermissionDenied as error:
        raise Http404 from error
    messages.success(request, _("已标记完成。"))
    return redirect("sop:mobile")


@staff_member
@require_POST
def task_send(request, pk: int):
    task = _task(request, pk)
    try:
        result = services.send_task(task, by=request.membership)
    except PermissionDenied as error:
        raise Http404 from error
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("sop:mobile")
    except WeComError as error:
        messages.error(request, _("企业微信暂时无法创建群发：%(error)s") % {"error": error.errmsg})
        return redirect("sop:mobile")
    if result.sent:
        messages.success(request, _("已创建群发，请在企业微信中确认发送。"))
    elif result.outcome == Decision.Outcome.HELD:
        when = timezone.localtime(result.release_at).strftime("%H:%M")
        messages.warning(request, _("%(reason)s：%(time)s 之后再发送。") % {"reason": result.reason, "time": when})
    else:
        messages.error(request, _("未发送：%(reason)s") % {"reason": result.reason})
    return redirect("sop:mobile")
