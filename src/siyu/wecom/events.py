"""Processing stored callback events. Each (Event, ChangeType) has one handler; unknown ones are kept as
recorded and marked done, so a new WeCom event type never blocks the queue."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.utils import timezone

from siyu.core.durable import RetryLater
from siyu.customers import services as customers
from siyu.customers import timeline
from siyu.customers.models import Relation
from siyu.groups import services as groups
from siyu.orgs import staff as staff_services
from siyu.orgs.models import Staff
from siyu.wecom import endpoints
from siyu.wecom.archive import fetch_archive
from siyu.wecom.client import WeComClient
from siyu.wecom.models import CallbackEvent, Department

log = logging.getLogger(__name__)

WELCOME_WINDOW = timedelta(seconds=20)  # a WelcomeCode is valid 20 s after the add (doc 92599)


def _contact(event: CallbackEvent, client):
    p = event.payload
    userid, external_userid = p.get("UserID", ""), p.get("ExternalUserID", "")
    at = customers.from_epoch(p.get("CreateTime"))
    change = event.change_type
    if change in {"add_external_contact", "add_half_external_contact"}:
        relation = customers.customer_added(event.org, userid=userid, external_userid=external_userid,
                                            state=p.get("State", ""), welcome_code=p.get("WelcomeCode", ""),
                                            client=client, at=at)
        if relation is None and at is not None and timezone.now() - at < WELCOME_WINDOW:
            # Community reports (unverified, a simulator switch): right after the add, externalcontact/get may
            # answer 84061 for a moment. Retry while the welcome code can still be used instead of dropping both.
            raise RetryLater(1.0, f"WeCom does not list {external_userid} for {userid} yet")
    elif change == "edit_external_contact":
        customers.refresh_customer(event.org, external_userid, client)
    elif change == "del_external_contact":
        status = Relation.Status.TRANSFERRED if p.get("Source") == "DELETE_BY_TRANSFER" else Relation.Status.DELETED_BY_STAFF
        customers.relation_ended(event.org, userid=userid, external_userid=external_userid, status=status, at=at)
    elif change == "del_follow_user":
        customers.relation_ended(event.org, userid=userid, external_userid=external_userid,
                                 status=Relation.Status.DELETED_BY_CUSTOMER, at=at)
    elif change == "transfer_fail":
        customers.transfer_failed(event.org, takeover_userid=userid, external_userid=external_userid, reason=p.get("FailReason", ""))
    elif change == "msg_audit_approved":
        customer = customers.refresh_customer(event.org, external_userid, client)
        if customer is not None:
            timeline.record(customer, "msg_audit_approved", at=at, staff=staff_services.staff_for(event.org, userid))
    else:
        log.info("ignored change_external_contact/%s", change)


def _chat(event: CallbackEvent, client):
    chat_id = event.payload.get("ChatId", "")
    if event.change_type == "dismiss":
        groups.dismiss_group(event.org, chat_id)
    else:  # create, update (members, owner, name, notice): re-read the group
        groups.refresh_group(event.org, chat_id, client)


def _tag(event: CallbackEvent, client):
    p = event.payload
    if event.change_type == "delete":
        customers.delete_tag_or_group(event.org, p.get("Id", ""), p.get("TagType", "tag"))
        return
    # create / update / shuffle: re-read the group or tag from WeCom. A shuffle with an empty Id means every
    # group was reordered (reference §8), so everything is re-read.
    if not p.get("Id"):
        tag_groups = endpoints.corp_tag_list(client)
    elif p.get("TagType") == "tag":
        tag_groups = endpoints.corp_tag_list(client, tag_ids=[p["Id"]])
    else:
        tag_groups = endpoints.corp_tag_list(client, group_ids=[p["Id"]])
    customers.upsert_tag_groups(event.org, tag_groups)


def _member(event: CallbackEvent, client):
    p = event.payload
    change = event.change_type
    if change in {"create_user", "update_user"}:
        # A partial record: callback URLs set after 2022-08-15 get only UserID and Department (doc 90970), and
        # upsert_staff changes only the fields present, so a missing Name or Mobile keeps what Siyu has.
        info = dict(p)
        if p.get("NewUserID"):
            info["UserID"] = p["NewUserID"]
        staff_services.upsert_staff(event.org, info, previous_userid=p.get("UserID"))
    elif change == "delete_user":
        staff = Staff.objects.for_org(event.org).filter(userid=p.get("UserID", "")).first()
        if staff is not None:
            staff_services.mark_departed(staff, at=customers.from_epoch(p.get("CreateTime")))
    elif change in {"create_party", "update_party"}:
        defaults = {"deleted": False}
        if p.get("Name"):
            defaults["name"] = p["Name"][:100]
        if p.get("ParentId"):
            defaults["parent_id"] = int(p["ParentId"])
        if p.get("Order"):
            defaults["order"] = int(p["Order"])
        Department.objects.for_org(event.org).update_or_create(org=event.org, dept_id=int(p["Id"]), defaults=defaults)
    elif change == "delete_party":
        Department.objects.for_org(event.org).filter(dept_id=int(p.get("Id", 0))).update(deleted=True)


def _archive_notify(event: CallbackEvent, client):
    """msgaudit_notify carries no seq: it only says the archive has news, so pull from our cursor."""
    fetch_archive(event.org)


HANDLERS = {
    "change_external_contact": _contact,
    "change_external_chat": _chat,
    "change_external_tag": _tag,
    "change_contact": _member,
    "msgaudit_notify": _archive_notify,
}


def process_event(event: CallbackEvent) -> None:
    """Apply one stored event. Idempotent: handlers re-read WeCom state, so a re-run converges to the same rows."""
    handler = HANDLERS.get(event.event)
    if handler is None:
        log.info("no handler for %s/%s; kept as recorded", event.event, event.change_type)
        return
    with WeComClient.for_org(event.org) as client:
        handler(event, client)
