"""Bulk actions on customers as jobs with progress: add or remove tags, export to Excel, rebuild the phone index.

A bulk action names its customers either by the list's filter (the query string, re-validated by the same form
when the job runs) or by ids; either way the job reads them through ``visible_to`` of the member who started it,
so a job never touches a customer its starter could not see. Starting and finishing are both audited; an export
masks phone numbers unless the member may see personal data (``pii.view``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from siyu.core import spreadsheets
from siyu.core.jobs import Progress, job_handler, register_job_result, start_job
from siyu.core.models import Job
from siyu.customers.profile import list_columns
from siyu.customers.models import Customer, Relation, RelationTag, Tag
from siyu.customers.queries import filter_customers, reindex_customer_phones
from siyu.customers.tagging import tag_relation, untag_relation
from siyu.customers.tags import taggable_relations
from siyu.orgs import audit
from siyu.orgs.models import Membership
from siyu.privacy import sealed
from siyu.privacy.masking import mask_phone
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import NotConnected, WeComError, as_validation_error

BULK_TAG = "customers.bulk_tag"
EXPORT = "customers.export"
EXPORT_CONTEXT = b"siyu.customers.export"
REINDEX_PHONES = "customers.reindex_phones"
CHUNK = 500
MAX_ERRORS_KEPT = 20


def filter_params(querydict) -> dict[str, list[str]]:
    """The list's filter parameters as plain JSON (paging cursors dropped)."""
    return {key: querydict.getlist(key) for key in querydict if key not in {"after", "before", "csrfmiddlewaretoken"}}


def start_bulk(viewer, *, action: str, scope: str, ids: list[int] | None = None, filters: dict | None = None,
               tags: list[Tag] | None = None) -> Job:
    """Queue a bulk action for ``viewer`` (a Membership with ``customers.bulk``)."""
    viewer.require("customers.bulk")
    tags = list(tags or [])
    params = {"viewer": viewer.pk, "action": action, "scope": scope, "ids": list(ids or [])[:1000],
              "filters": filters or {}, "tags": [t.pk for t in tags]}
    names = "、".join(t.name for t in tags[:5]) + ("…" if len(tags) > 5 else "")
    if action == "export":
        kind, title = EXPORT, _("导出客户")
    elif action == "add_tags":
        kind, title = BULK_TAG, _("批量打标签：%(tags)s") % {"tags": names}
    elif action == "remove_tags":
        kind, title = BULK_TAG, _("批量移除标签：%(tags)s") % {"tags": names}
    else:
        raise ValidationError({"action": _("未知的操作。")})
    job = start_job(org=viewer.org, kind=kind, title=title, params=params, by=viewer.user)
    audit.record("customers.export_requested" if kind == EXPORT else "customers.bulk_started", org=viewer.org_id,
                 actor=viewer.user, obj=job, details={"action": action, "scope": scope, "selected": len(params["ids"]),
                                                      "filters": _masked_filters(params["filters"]), "tags": [t.name for t in tags]})
    return job


def start_phone_reindex(org, *, by=None) -> Job:
    job = start_job(org=org, kind=REINDEX_PHONES, title=_("重建客户手机号索引"), by=by)
    audit.record("customers.phones_reindex_started", org=org, actor=by, obj=job)
    return job


# -- the customers of a job -----------------------------------------------------------------------------------
def _viewer(job: Job) -> Membership:
    viewer = Membership.objects.for_org(job.org_id).select_related("user", "org").filter(pk=job.params.get("viewer")).first()
    if viewer is None or not viewer.can("customers.bulk"):
        raise PermissionDenied(_("发起人已无批量操作权限。"))
    return viewer


def job_customers(job: Job, viewer: Membership):
    """The customers a bulk job acts on, as its starter may see them."""
    params = job.params
    if params.get("scope") == "selected":
        return Customer.objects.visible_to(viewer).filter(pk__in=params.get("ids") or [])
    from siyu.customers.forms import CustomerFilterForm

    query = QueryDict(mutable=True)
    for key, values in (params.get("filters") or {}).items():
        query.setlist(key, values)
    form = CustomerFilterForm(query, viewer=viewer)
    if not form.is_valid():
        raise ValidationError(_("筛选条件已失效（例如标签或员工已删除），请重新筛选后再试。"))
    return filter_customers(viewer, form.cleaned_data)


def _chunks(customers):
    last = 0
    while True:
        chunk = list(customers.filter(pk__gt=last).order_by("pk")[:CHUNK])
        if not chunk:
            return
        yield chunk
        last = chunk[-1].pk


# -- tags -----------------------------------------------------------------------------------------------------
@job_handler(BULK_TAG)
def run_bulk_tag(job: Job, progress: Progress) -> dict:
    viewer = _viewer(job)
    customers = job_customers(job, viewer)
    tags = list(Tag.objects.for_org(job.org_id).filter(pk__in=job.params.get("tags") or [], deleted=False))
    if not tags:
        raise ValidationError(_("要操作的标签已被删除。"))
    adding = job.params.get("action") == "add_tags"
    progress.set_total(customers.count())
    client = None
    if any(t.kind == Tag.Kind.CORP for t in tags):
        try:
            client = WeComClient.for_org(job.org_id)
        except NotConnected as error:
            raise as_validation_error(error) from None
    changed = touched = failed = skipped = 0
    errors: list[str] = []
    source_ref = f"job:{job.pk}"
    try:
        for chunk in _chunks(customers):
            for customer in chunk:
                try:
                    n = _tag_one(viewer, customer, tags, adding=adding, client=client, source_ref=source_ref)
                except WeComError as error:
                    failed += 1
                    if len(errors) < MAX_ERRORS_KEPT:
                        errors.append(f"{customer}: {error.errcode} {error.hint}")
                    continue
                if n is None:
                    skipped += 1
                else:
                    changed += n
                    touched += 1 if n else 0
            progress.advance(len(chunk))
    finally:
        if client is not None:
            client.close()
    result = {"customers": progress.job.done, "changed_customers": touched, "links": changed, "failed": failed,
              "skipped": skipped, "errors": errors}
    audit.record("customers.bulk_finished", org=job.org_id, actor=viewer.user, obj=job,
                 details={"action": job.params.get("action"), "tags": [t.name for t in tags], **result})
    progress.job.message = _("完成：%(n)d 位客户有变化，%(failed)d 位失败，%(skipped)d 位无可操作的好友关系。") % {
        "n": touched, "failed": failed, "skipped": skipped}
    return result


def _tag_one(viewer, customer, tags, *, adding: bool, client, source_ref: str) -> int | None:
    """Links added or removed on one customer; None when the viewer may tag none of its friendships."""
    n, any_relation = 0, False
    for tag in tags:
        if adding:
            relations = list(taggable_relations(viewer, customer, tag))
            any_relation = any_relation or bool(relations)
            for relation in relations:
                n += len(tag_relation(relation, [tag], source=RelationTag.Source.MANUAL, source_ref=source_ref,
                                      actor=viewer.user, client=client))
        else:
            relations = list(Relation.objects.visible_to(viewer).filter(customer=customer).select_related("staff", "customer", "org"))
            any_relation = any_relation or bool(relations)
            for relation in relations:
                n += len(untag_relation(relation, [tag], source=RelationTag.Source.MANUAL, actor=viewer.user, client=client))
    return n if any_relation else None


# -- export ---------------------------------------------------------------------------------------------------
def export_header() -> list[str]:
    return ([_("客户ID"), _("昵称"), _("类型"), _("性别"), _("企业"), _("首次添加时间"), _("仍是好友"), _("跟进员工"),
             pgettext("singular", "门店")] + [str(c.label) for c in list_columns()]
            + [_("备注"), _("手机号"), _("标签")])


def export_dir(org_id: int) -> Path:
    path = Path(settings.DATA_DIR) / "exports" / f"org-{org_id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def export_path(job: Job) -> Path | None:
    name = (job.result or {}).get("file")
    if not name or "/" in name or "\\" in name:
        return None
    path = export_dir(job.org_id) / name
    return path if path.exists() else None


def _phones(relation: Relation, show: bool) -> list[str]:
    try:
        numbers = json.loads(relation.remark_mobiles) if relation.remark_mobiles else []
    except ValueError:
        numbers = []
    return [str(n) if show else mask_phone(str(n)) for n in numbers if n]


def _export_rows(org_id: int, customers, *, show_phones: bool, progress: Progress) -> Iterator[list]:
    registered = list_columns()
    for chunk in _chunks(customers):
        ids = [c.pk for c in chunk]
        relations: dict[int, list[Relation]] = {}
        for relation in (Relation.objects.for_org(org_id).filter(customer_id__in=ids)
                         .select_related("staff", "staff__store").order_by("pk")):
            relations.setdefault(relation.customer_id, []).append(relation)
        tags: dict[int, list[str]] = {}
        for customer_id, tag_name in (RelationTag.objects.for_org(org_id)
                                      .filter(relation__customer_id__in=ids, tag__deleted=False)
                                      .values_list("relation__customer_id", "tag__name").order_by("tag_id").distinct()):
            tags.setdefault(customer_id, []).append(tag_name)
        extra = [column.values(org_id, ids) for column in registered]
        for customer in chunk:
            mine = relations.get(customer.pk, [])
            phones = dict.fromkeys(p for r in mine for p in _phones(r, show_phones))
            stores = dict.fromkeys(r.staff.store.name for r in mine if r.staff.store_id)
            yield [
                customer.external_userid, customer.name, customer.get_type_display(), customer.get_gender_display(),
                customer.corp_name, customer.first_added_at, _("是") if customer.is_friend else _("否"),
                "、".join(str(r.staff) for r in mine), "、".join(stores), *(values.get(customer.pk, "") for values in extra),
                "、".join(r.remark for r in mine if r.remark), "、".join(phones), "、".join(dict.fromkeys(tags.get(customer.pk, []))),
            ]
        progress.advance(len(chunk))


@job_handler(EXPORT)
def run_export(job: Job, progress: Progress) -> dict:
    """Write the customers of the job, as its starter may see them, to an Excel file kept for them alone."""
    viewer = _viewer(job)
    customers = job_customers(job, viewer)
    show_phones = viewer.can("pii.view")
    progress.set_total(customers.count())
    name = f"customers-{job.pk}-{secrets.token_hex(8)}.xlsx.enc"
    header = export_header()
    rows = _export_rows(job.org_id, customers, show_phones=show_phones, progress=progress)
    # Widths are fixed before the first row is streamed: fit them to the first chunk.
    first = list(islice(rows, CHUNK))
    counted = _Counted(chain(first, rows))
    sealed.write_xlsx(export_dir(job.org_id) / name, header, counted, sheet=_("客户"),
                      widths=spreadsheets.measure(header, first), context=EXPORT_CONTEXT)
    result = {"file": name, "rows": counted.n, "phones_masked": not show_phones}
    audit.record("customers.exported", org=job.org_id, actor=viewer.user, obj=job,
                 details={**result, "filters": _masked_filters(job.params.get("filters")), "scope": job.params.get("scope")})
    progress.job.message = _("已导出 %(n)d 位客户。") % {"n": counted.n}
    return result


register_job_result(EXPORT, lambda job: reverse("customers:export_download", args=[job.pk]))


class _Counted:
    """An iterable that counts what went through it."""

    def __init__(self, rows):
        self.rows, self.n = rows, 0

    def __iter__(self):
        for row in self.rows:
            self.n += 1
            yield row


# -- the phone index ------------------------------------------------------------------------------------------
@job_handler(REINDEX_PHONES)
def run_phone_reindex(job: Job, progress: Progress) -> dict:
    progress.set_total(Relation.objects.for_org(job.org_id).exclude(remark_mobiles="").count())
    indexed = reindex_customer_phones(job.org_id, progress=progress.advance)
    return {"phones": indexed}


def _masked_filters(filters):
    """The export's filters for the audit log, with a searched phone number masked: the log is kept for years."""
    if not isinstance(filters, dict) or not filters.get("q"):
        return filters

    def masked(text):
        text = str(text)
        return mask_phone(text) if sum(ch.isdigit() for ch in text) >= 7 else text

    q = filters["q"]
    return {**filters, "q": [masked(v) for v in q] if isinstance(q, list) else masked(q)}
