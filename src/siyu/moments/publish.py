"""The one ``add_moment_task`` call of a moment, made so that a crash never creates a second WeCom task.

``call_state`` becomes ``calling`` (committed) before the call and ``created`` with the job id after it. A worker
that dies in between leaves ``calling``; add_moment_task takes no idempotency key, so the retry lists the
enterprise moments created around the call (``get_moment_list``, filter_type 0) and adopts the one with the same
text and attachment kinds that no other moment of the brand holds. WeCom lists a moment only once its job has
finished, so a retry that finds nothing waits :data:`SETTLE` after the call before making it again.
Once the job id is known the row polls ``get_moment_task_result`` until WeCom gives the moment id.
"""

from __future__ import annotations

from datetime import timedelta

from siyu.core import clock
from siyu.core.durable import RetryLater
from siyu.customers.models import Tag
from siyu.moments.models import Moment, MomentMedia, MomentPublish
from siyu.orgs.models import Staff
from siyu.wecom import media as wecom_media
from siyu.wecom import messaging_endpoints as wecom
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import RateLimited, SystemBusy, TokenInvalid, WeComError, WeComNetworkError

Status = Moment.Status
CallState = Moment.CallState
LOOKUP_MARGIN = timedelta(hours=1)
LOOKUP_SPAN = timedelta(days=29)  # get_moment_list takes a span of at most 30 days
SETTLE = timedelta(minutes=3)
POLL_SECONDS = 5.0
MEDIA_EXPIRED = wecom_media.MEDIA_EXPIRED
UNKNOWN_OUTCOME = (RateLimited, SystemBusy, TokenInvalid, WeComNetworkError)


def _media(moment: Moment) -> list[MomentMedia]:
    return list(MomentMedia.objects.for_org(moment.org_id).filter(moment=moment))


def attachments(client, moment: Moment) -> list[dict]:
    """The moment's attachments in add_moment_task's form, each file uploaded (or its remembered id reused)."""
    ids = [wecom_media.attachment_media_id(client, moment.org_id, media_type=m.kind, filename=m.filename,
                                           data=bytes(m.data)) for m in _media(moment)]
    if moment.kind == Moment.Kind.IMAGES:
        return [{"msgtype": "image", "image": {"media_id": media_id}} for media_id in ids]
    if moment.kind == Moment.Kind.VIDEO:
        return [{"msgtype": "video", "video": {"media_id": ids[0]}}]
    if moment.kind == Moment.Kind.LINK:
        # A link's media_id is its cover image (reference §3.10).
        return [{"msgtype": "link", "link": {"title": moment.link_title, "url": moment.link_url, "media_id": ids[0]}}]
    return []


def senders(moment: Moment) -> list[str]:
    return list(Staff.objects.for_org(moment.org_id).filter(pk__in=moment.staff_ids).values_list("userid", flat=True))


def tags(moment: Moment) -> list[str]:
    return list(Tag.objects.for_org(moment.org_id).filter(pk__in=moment.tag_ids).values_list("wecom_id", flat=True))


def begin_call(moment: Moment) -> bool:
    """Committed before the call: from now on a retry must assume WeCom may have the task. False when the moment
    was cancelled meanwhile (the compare-and-set finds it so): then no call is made."""
    called_at = clock.now()
    claimed = Moment.objects.for_org(moment.org_id).filter(pk=moment.pk).exclude(status=Status.CANCELLED).update(
        called_at=called_at, call_state=CallState.CALLING, status=Status.PUBLISHING)
    if claimed:
        moment.called_at, moment.call_state, moment.status = called_at, CallState.CALLING, Status.PUBLISHING
    return bool(claimed)


def call_wecom(client, moment: Moment) -> str:
    """add_moment_task with the moment's content; a media id WeCom no longer knows (40007) is uploaded again
    once — WeCom refuses such a call before creating anything, so the second call cannot make a second task."""
    def call() -> str:
        return wecom.add_moment_task(client, text=moment.text, attachments=attachments(client, moment),
                                     senders=senders(moment), tags=tags(moment))
    try:
        return call()
    except WeComError as error:
        if error.errcode != MEDIA_EXPIRED:
            raise
    wecom_media.forget_attachments(moment.org_id, [bytes(m.data) for m in _media(moment)])
    return call()


def _kinds(moment: Moment) -> tuple:
    if moment.kind == Moment.Kind.IMAGES:
        return ("image", len(_media(moment)))
    return (str(moment.kind), 0)


def _summary_kinds(found: wecom.MomentSummary) -> tuple:
    if found.image_ids:
        return ("image", len(found.image_ids))
    if found.video:
        return ("video", 0)
    if found.link:
        return ("link", 0)
    return ("text", 0)


def find_created(client, moment: Moment) -> str:
    """The moment id of the task an interrupted call made, or "" (see the module docstring)."""
    start = int((moment.called_at - LOOKUP_MARGIN).timestamp())
    end = int(min(clock.now() + LOOKUP_MARGIN, moment.called_at + LOOKUP_SPAN).timestamp())
    taken = set(Moment.objects.for_org(moment.org_id).exclude(moment_id="").values_list("moment_id", flat=True))
    wanted = _kinds(moment)
    for found in wecom.moments(client, start=start, end=end, filter_type=0):
        if found.moment_id not in taken and found.text == moment.text and _summary_kinds(found) == wanted:
            return found.moment_id
    return ""


def _store(moment: Moment, **fields) -> None:
    for name, value in fields.items():
        setattr(moment, name, value)
    Moment.objects.for_org(moment.org_id).filter(pk=moment.pk).update(**fields)


def publish(row: MomentPublish) -> None:
    """Make the moment's one WeCom task (or find the one an interrupted attempt made), then wait for its id."""
    moment = Moment.objects.for_org(row.org_id).get(pk=row.moment_id)
    if moment.status in (Status.FAILED, Status.PUBLISHED) or moment.call_state == CallState.REFUSED:
        return
    try:
        with WeComClient.for_org(row.org_id) as client:
            if moment.call_state == CallState.CALLING:
                found = find_created(client, moment)
                if found:
                    _store(moment, call_state=CallState.CREATED, moment_id=found)
                elif clock.now() - moment.called_at < SETTLE:
                    raise RetryLater(60.0, "waiting for WeCom to list a task the last attempt may have made")
            if moment.call_state in (CallState.NEW, CallState.CALLING):
                if not begin_call(moment):
                    return
                try:
                    jobid = call_wecom(client, moment)
                except UNKNOWN_OUTCOME:
                    raise  # the outcome is unknown: the retry looks the task up first
                except WeComError as error:
                    # WeCom refused the call as a whole: no task exists, and calling again would be refused too.
                    _store(moment, call_state=CallState.REFUSED, status=Status.FAILED, error=str(error)[:300])
                    return
                _store(moment, call_state=CallState.CREATED, jobid=jobid)
            if not moment.moment_id:
                result = wecom.moment_task_result(client, moment.jobid)
                if not result.done:
                    raise RetryLater(POLL_SECONDS, "WeCom is still creating the moment")
                if not result.moment_id:
                    _store(moment, status=Status.FAILED, error="WeCom created no moment (no valid sender or tag)")
                    return
                _store(moment, moment_id=result.moment_id)
            _published_or_cancelled(client, moment)
    except (RateLimited, SystemBusy) as error:
        raise RetryLater(getattr(error, "retry_after", 60.0), str(error)) from error


def _published_or_cancelled(client, moment: Moment) -> None:
    if Moment.objects.for_org(moment.org_id).filter(pk=moment.pk, status=Status.CANCELLED).exists():
        # Cancelled while the call was under way: stop the task WeCom just made.
        wecom.cancel_moment_task(client, moment.moment_id)


def cancel_in_wecom(moment: Moment) -> None:
    """Stop the WeCom task: members who have not published can no longer publish it."""
    with WeComClient.for_org(moment.org_id) as client:
        wecom.cancel_moment_task(client, moment.moment_id)
