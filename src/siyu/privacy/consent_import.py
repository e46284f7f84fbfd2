"""Importing consent from another system: a CSV (or XLSX) of lines ``external_userid`` or ``phone``, ``purpose``,
``state`` (granted / withdrawn), ``time``, checked row by row.

An import is a job with progress: the upload waits for it encrypted (:mod:`siyu.privacy.sealed`) and is deleted
once read. Reading never writes. Every row is checked first; good rows are stored and each bad row is reported with
its line, column and reason, so a file can be fixed and imported again: a line already imported (same customer,
purpose, state and time) is recognized and not recorded twice.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.cdp import identity
from siyu.cdp.order_import import MAX_BYTES, FileError, Problem, parse_phone, parse_time, read_table, upload_dir
from siyu.core.jobs import Progress, job_handler, register_job_result, start_job
from siyu.core.models import Job
from siyu.customers.models import Customer, CustomerPhone
from siyu.orgs import audit
from siyu.orgs.models import Membership
from siyu.privacy import sealed
from siyu.privacy.consent import grant_consent, withdraw_consent
from siyu.privacy.fields import blind_lookup
from siyu.privacy.models import ConsentRecord, Purpose

MAX_ROWS = 50_000
JOB_KIND = "privacy.consent_import"
UPLOAD_CONTEXT = b"siyu.privacy.consent-upload"
SHOWN_PROBLEMS = 1_000  # a report lists this many bad rows and counts the rest
# Header names accepted for each column, English and Chinese.
COLUMNS = {
    "external_userid": ("external_userid", "外部联系人id", "客户id"),
    "phone": ("phone", "mobile", "手机号", "手机"),
    "purpose": ("purpose", "用途"),
    "state": ("state", "status", "状态", "授权"),
    "time": ("time", "at", "时间", "授权时间"),
}
GRANTED = {"granted", "grant", "yes", "1", "同意", "已同意"}
WITHDRAWN = {"withdrawn", "withdraw", "no", "0", "撤回", "已撤回", "拒绝"}
PURPOSE_WORDS = {**{p: p for p in Purpose.values}, **{str(label): value for value, label in Purpose.choices}}


@dataclass
class Report:
    rows: int = 0
    recorded: int = 0
    existing: int = 0
    problems: list[Problem] = field(default_factory=list)


@dataclass
class _Line:
    line: int
    customer: Customer
    purpose: str
    granted: bool
    at: datetime


def _cell(row: list, index: int | None) -> str:
    if index is None or index >= len(row) or row[index] is None:
        return ""
    return str(row[index]).strip()


def _columns(header: list[str]) -> dict[str, int]:
    lowered = [h.strip().lower() for h in header]
    found = {}
    for name, titles in COLUMNS.items():
        for index, title in enumerate(lowered):
            if title in titles:
                found[name] = index
                break
    missing = [name for name in ("purpose", "state", "time") if name not in found]
    if "external_userid" not in found and "phone" not in found:
        missing.insert(0, "external_userid / phone")
    if missing:
        raise FileError(_("缺少这些列：%(columns)s。") % {"columns": "、".join(missing)})
    return found


def _customer(org, external_userid: str, phone: str) -> Customer | None:
    if external_userid:
        return Customer.objects.for_org(org).filter(external_userid=external_userid).first()
    person = identity.find(org, identity.Ident("phone", phone))
    if person is not None and person.customer_id is not None:
        return person.customer
    row = CustomerPhone.objects.for_org(org).filter(blind_lookup(CustomerPhone, "phone", phone)).first()
    return row.customer if row is not None else None


def _parse_row(org, number: int, row: list, columns: dict[str, int]) -> tuple[_Line | None, list[Problem]]:
    problems = []
    external_userid = _cell(row, columns.get("external_userid"))
    phone = ""
    if not external_userid:
        try:
            phone = parse_phone(_cell(row, columns.get("phone")))
        except ValueError as error:
            problems.append(Problem(number, "phone", str(error)))
        if not phone and not problems:
            problems.append(Problem(number, "external_userid", _("请填写客户的 external_userid 或手机号")))
    purpose = PURPOSE_WORDS.get(_cell(row, columns["purpose"]).lower()) or PURPOSE_WORDS.get(_cell(row, columns["purpose"]))
    if purpose is None:
        problems.append(Problem(number, "purpose", _("用途须为 marketing、profiling 或 location")))
    state = _cell(row, columns["state"]).lower()
    if state not in GRANTED | WITHDRAWN:
        problems.append(Problem(number, "state", _("状态须为 granted（同意）或 withdrawn（撤回）")))
    try:
        at = parse_time(row[columns["time"]] if columns["time"] < len(row) else None)
    except ValueError as error:
        problems.append(Problem(number, "time", str(error)))
        at = None
    else:
        if at is None:
            problems.append(Problem(number, "time", _("请填写时间")))
        elif at > timezone.now():
            problems.append(Problem(number, "time", _("时间不能晚于现在")))
    if problems:
        return None, problems
    customer = _customer(org, external_userid, phone)
    if customer is None:
        column = "external_userid" if external_userid else "phone"
        return None, [Problem(number, column, _("找不到这位客户"))]
    return _Line(number, customer, purpose, state in GRANTED, at), []


def import_consents(org, data: bytes, *, by, progress: Progress | None = None) -> Report:
    """Check every row of the file, then record the good ones (all in one transaction). ``by`` is the member who
    uploaded it."""
    report = Report()
    try:
        header, rows = read_table(data)
        columns = _columns(header)
        lines = []
        for number, row in rows:
            if not any(_cell(row, i) for i in range(len(row))):
                continue
            report.rows += 1
            if report.rows > MAX_ROWS:
                raise FileError(_("一次最多导入 %(n)d 行。") % {"n": MAX_ROWS})
            line, problems = _parse_row(org, number, row, columns)
            report.problems.extend(problems)
            if line is not None:
                lines.append(line)
            if progress is not None:
                progress.advance(1, _("已检查 %(n)d 行…") % {"n": report.rows})
    except FileError as error:
        report.problems = [Problem(1, "", str(error))]
        return report
    with transaction.atomic():
        for line in lines:
            known = ConsentRecord.objects.for_org(org).filter(
                customer=line.customer, purpose=line.purpose, granted=line.granted, at=line.at).exists()
            if known:
                report.existing += 1
                continue
            record = grant_consent if line.granted else withdraw_consent
            # by=None: the customer consented elsewhere; the upload itself is audited once below.
            record(line.customer, line.purpose, by=None, source=ConsentRecord.Source.IMPORT,
                   evidence={"line": line.line, "imported_by": by.user.pk if by is not None else None}, at=line.at)
            report.recorded += 1
        if by is not None:
            audit.record("privacy.consents_imported", org=org, actor=by.user,
                         details={"rows": report.rows, "recorded": report.recorded, "problems": len(report.problems)})
    return report


# -- the job --------------------------------------------------------------------------------------------------------
def start_import(org, data: bytes, *, by: Membership) -> Job:
    """Keep the uploaded file encrypted until its job reads it, and queue the job."""
    by.require("privacy.consents")
    if not data:
        raise ValidationError({"file": _("文件是空的。")})
    if len(data) > MAX_BYTES:
        raise ValidationError({"file": _("文件超过 %(mb)d MB。") % {"mb": MAX_BYTES // 1024 // 1024}})
    name = f"consents-{secrets.token_hex(8)}.upload"
    sealed.write(upload_dir(org.pk) / name, data, context=UPLOAD_CONTEXT)
    return start_job(org=org, kind=JOB_KIND, title=_("导入授权记录"), params={"file": name, "viewer": by.pk},
                     by=by.user)


@job_handler(JOB_KIND)
def run_import(job: Job, progress: Progress) -> dict:
    viewer = Membership.objects.for_org(job.org_id).select_related("org", "user").get(pk=job.params["viewer"])
    path = upload_dir(job.org_id) / job.params["file"]
    try:
        report = import_consents(viewer.org, sealed.read(path, context=UPLOAD_CONTEXT), by=viewer, progress=progress)
    finally:
        path.unlink(missing_ok=True)  # the file holds customers' phone numbers: never keep it after reading
    progress.job.message = _("已记录 %(n)d 条授权。") % {"n": report.recorded}
    return {"rows": report.rows, "recorded": report.recorded, "existing": report.existing,
            "problem_count": len(report.problems), "problems": [p.as_dict() for p in report.problems[:SHOWN_PROBLEMS]]}


register_job_result(JOB_KIND, lambda job: reverse("privacy:consent_import_report", args=[job.pk]))
