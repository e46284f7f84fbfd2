"""Importing orders from marketplace exports (存量转私域): read a CSV or XLSX, check every row, then store the orders.

Reading never writes: :func:`parse` turns a file into orders and a list of bad rows (line, column, reason). Storing
(:func:`store`) is all-or-nothing or good-rows-only, idempotent by organization + source + order number, and turns
each buyer into a person through OneID, so a phone a guide noted on a WeCom customer binds the order to them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.cdp import identity
from siyu.cdp.models import ImportMapping, Order, OrderImport, OrderStatus, Product
from siyu.cdp.order_presets import FIELDS, PRESETS, REQUIRED
from siyu.cdp.services import Line, record_order
from siyu.core.jobs import Progress, job_handler, start_job
from siyu.core.models import Job
from siyu.orgs import audit
from siyu.privacy import sealed
from siyu.privacy.keyring import normalize_phone

JOB_KIND = "cdp.order_import"
UPLOAD_CONTEXT = b"siyu.cdp.order-upload"
MAX_BYTES = 50 * 1024 * 1024
MAX_ERRORS = 1000  # a file that is wrong everywhere reports its first thousand rows, and says how many in total
BEIJING = ZoneInfo("Asia/Shanghai")  # marketplace exports write Beijing time without a zone


class FileError(ValueError):
    """The file as a whole cannot be read (not CSV/XLSX, no header, a required column missing)."""


@dataclass
class Problem:
    line: int
    column: str
    reason: str

    def as_dict(self) -> dict:
        return {"line": self.line, "column": self.column, "reason": self.reason}


@dataclass
class ParsedLine:
    product_name: str
    sku: str
    quantity: int
    unit_price: Decimal | None


@dataclass
class ParsedOrder:
    order_no: str
    first_line: int
    ordered_at: datetime | None = None
    paid_at: datetime | None = None
    status: str = ""
    total: Decimal | None = None
    refund: Decimal = Decimal("0")
    buyer_name: str = ""
    phone: str = ""
    member_id: str = ""
    lines: list[ParsedLine] = field(default_factory=list)
    bad: bool = False
    # Identifiers the orders API names besides the phone and member id (user_id, external_userid).
    idents: list[identity.Ident] = field(default_factory=list)


@dataclass
class Parsed:
    rows: int
    orders: list[ParsedOrder]
    problems: list[Problem]


# -- reading a file -------------------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    """Text of a CSV export: UTF-8 with or without a byte-order mark, else GB18030 (a superset of the GBK that
    Taobao and Excel on Chinese Windows write)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise FileError(_("无法识别文件编码：请另存为 UTF-8 或 GBK 编码的 CSV，或 Excel（.xlsx）文件。")) from None


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    start = 1
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as error:
        raise FileError(_("第 %(line)d 行无法读取：%(error)s") % {"line": start, "error": error}) from None


def _xlsx_rows(data: bytes) -> Iterator[tuple[int, list]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise FileError(_("无法读取 Excel 文件：文件已损坏或不是 .xlsx 格式。")) from None
    try:
        for number, row in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
            yield number, list(row)
    finally:
        book.close()


def read_table(data: bytes) -> tuple[list[str], Iterator[tuple[int, list]]]:
    """The header and the numbered data rows of a CSV or XLSX file (an XLSX is a zip archive)."""
    if len(data) > MAX_BYTES:
        raise FileError(_("文件超过 %(mb)d MB。") % {"mb": MAX_BYTES // 1024 // 1024})
    rows = _xlsx_rows(data) if data[:4] == b"PK\x03\x04" else _csv_rows(data)
    for _line, header in rows:
        if any(_text(cell) for cell in header):
            return [_text(cell) for cell in header], rows
    raise FileError(_("文件是空的。"))


def _text(value) -> str:
    """A cell as text. Taobao writes long numbers as ``="2939…"`` (so Excel keeps every digit) and some tools
    prefix a tab or an apostrophe for the same reason."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().lstrip("\t'")
    if text.startswith('="') and text.endswith('"'):
        text = text[2:-1]
    return text.strip()


# -- columns --------------------------------------------------------------------------------------------------------


def columns_for(header: list[str], *, preset: str = "", mapping: ImportMapping | None = None) -> dict[str, int]:
    """Which column holds each field: from a preset's header names or an organization's saved mapping."""
    if mapping is not None:
        wanted = {name: (str(title),) for name, title in mapping.columns.items() if title}
    elif preset in PRESETS:
        wanted = PRESETS[preset].columns
    else:
        raise FileError(_("未知的导入模板。"))
    positions = {title: index for index, title in reversed(list(enumerate(header)))}
    found = {}
    for name, titles in wanted.items():
        for title in titles:
            if title in positions:
                found[name] = positions[title]
                break
    missing = [name for name in REQUIRED if name not in found]
    if "ordered_at" not in found and "paid_at" not in found:
        missing.append("ordered_at")
    if missing:
        raise FileError(_("缺少必需的列：%(columns)s。") % {
            "columns": "、".join(" / ".join(wanted.get(name, ())) or str(FIELDS[name]) for name in missing)})
    return found


# -- values ---------------------------------------------------------------------------------------------------------

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d",
                 "%Y/%m/%d", "%Y%m%d%H%M%S")
_EMPTY = {"", "-", "--", "null", "none", "无"}


def parse_time(value) -> datetime | None:
    """A moment from an export cell (Beijing time unless it says otherwise); None for an empty cell."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        text = _text(value)
        if text.lower() in _EMPTY:
            return None
        for fmt in _TIME_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(_("无法识别的时间，应为 2024-01-31 13:45:00 这样的格式"))
    if not (2000 <= moment.year <= 2100):
        raise ValueError(_("时间超出范围"))
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


def parse_amount(value) -> Decimal | None:
    text = _text(value).replace(",", "").replace("¥", "").replace("￥", "").replace("元", "").strip()
    if text.lower() in _EMPTY:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("不是金额")) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise ValueError(_("金额须为不小于 0 的数"))
    return amount.quantize(Decimal("0.01"))


def parse_quantity(value) -> int:
    text = _text(value)
    if text.lower() in _EMPTY:
        return 1
    try:
        quantity = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("数量须为正整数")) from None
    if quantity != quantity.to_integral_value() or not (1 <= quantity <= 100_000):
        raise ValueError(_("数量须为正整数"))
    return int(quantity)


def parse_phone(value) -> str:
    """A buyer's phone, normalized; "" when absent or masked (newer marketplace exports hide the middle digits)."""
    text = _text(value)
    if text.lower() in _EMPTY or "*" in text:
        return ""
    if re.search(r"[A-Za-z]", text):
        raise ValueError(_("手机号格式不正确"))
    try:
        phone = normalize_phone(text)
    except ValueError:
        raise ValueError(_("手机号格式不正确")) from None
    if not (5 <= len(phone.lstrip("+")) <= 15):
        raise ValueError(_("手机号格式不正确"))
    return phone


# Marketplace status texts → our status, most specific first (“买家已付款，等待卖家发货” mentions 发货 too).
_STATUS_WORDS = (
    (("退款成功", "已退款", "全额退款"), OrderStatus.REFUNDED),
    (("关闭", "取消", "已失效"), OrderStatus.CLOSED),
    (("等待买家付款", "待付款", "待支付", "未支付"), OrderStatus.PENDING),
    (("等待卖家发货", "待发货", "已付款", "已支付", "支付成功", "待成团"), OrderStatus.PAID),
    (("已发货", "等待买家确认", "待收货"), OrderStatus.SHIPPED),
    (("交易成功", "已完成", "交易完成", "已签收", "已收货"), OrderStatus.COMPLETED),
)


def parse_status(value) -> str:
    text = _text(value)
    if not text:
        return ""
    if text in OrderStatus.values:
        return text
    for words, status in _STATUS_WORDS:
        if any(word in text for word in words):
            return status
    raise ValueError(_("未知的订单状态"))


# -- rows → orders --------------------------------------------------------------------------------------------------


def parse(data: bytes, *, preset: str = "", mapping: ImportMapping | None = None,
          progress: Progress | None = None) -> Parsed:
    """Every order in the file and every bad row, without writing anything. Rows of one order number (an order
    with several items) become one order with several lines."""
    header, rows = read_table(data)
    columns = columns_for(header, preset=preset, mapping=mapping)
    member_from_name = mapping is None and PRESETS[preset].buyer_name_is_member_id
    titles = {name: header[index] for name, index in columns.items()}
    orders: dict[str, ParsedOrder] = {}
    problems: list[Problem] = []
    count = 0
    for line, row in rows:
        cells = {name: row[index] if index < len(row) else None for name, index in columns.items()}
        if not any(_text(value) for value in row):
            continue  # a blank line between blocks, or Excel's trailing rows
        count += 1
        row_problems = _parse_row(line, cells, titles, orders, member_from_name)
        problems.extend(row_problems)
        if progress is not None:
            progress.advance()
    return Parsed(rows=count, orders=list(orders.values()), problems=problems)


def _parse_row(line: int, cells: dict, titles: dict, orders: dict[str, ParsedOrder], member_from_name: bool
               ) -> list[Problem]:
    problems: list[Problem] = []

    def value(name, parser, default=None):
        if name not in cells:
            return default
        try:
            return parser(cells[name])
        except ValueError as error:
            problems.append(Problem(line, titles[name], str(error)))
            return default

    order_no = _text(cells["order_no"])[:64]
    if not order_no:
        problems.append(Problem(line, titles["order_no"], _("订单号为空")))
        return problems
    ordered_at = value("ordered_at", parse_time)
    paid_at = value("paid_at", parse_time)
    if ordered_at is None and paid_at is None and not problems:
        name = "ordered_at" if "ordered_at" in titles else "paid_at"
        problems.append(Problem(line, titles[name], _("下单时间为空")))
    status = value("status", parse_status, "")
    total = value("total", parse_amount)
    refund = value("refund_amount", parse_amount)
    refund_status = _text(cells.get("refund_status"))
    phone = value("buyer_phone", parse_phone, "") or value("receiver_phone", parse_phone, "")
    product_name = _text(cells["product_name"])[:100]
    sku = _text(cells.get("sku"))[:64]
    if not product_name and not sku:
        problems.append(Problem(line, titles["product_name"], _("商品名称为空")))
    quantity = value("quantity", parse_quantity, 1)
    unit_price = value("unit_price", parse_amount)

    order = orders.get(order_no)
    if order is None:
        order = orders[order_no] = ParsedOrder(order_no=order_no, first_line=line)
    order.bad = order.bad or bool(problems)
    if problems:
        return problems
    # Order-level cells repeat on every item row of Youzan's export; the first non-empty one counts.
    order.ordered_at = order.ordered_at or ordered_at or paid_at
    order.paid_at = order.paid_at or paid_at
    order.status = order.status or status
    order.total = order.total if order.total is not None else total
    order.phone = order.phone or phone
    buyer_name = _text(cells.get("buyer_name"))[:100]
    order.buyer_name = order.buyer_name or buyer_name
    member_id = _text(cells.get("member_id")) or (buyer_name if member_from_name else "")
    order.member_id = order.member_id or member_id[:100]
    price = unit_price if unit_price is not None else (total / quantity if total is not None and len(
        order.lines) == 0 else None)
    order.lines.append(ParsedLine(product_name=product_name or sku, sku=sku, quantity=quantity, unit_price=price))
    if refund is not None:
        order.refund += refund
    elif any(word in refund_status for word in ("退款成功", "已退款")) and price is not None:
        order.refund += price * quantity
    return problems


# -- storing --------------------------------------------------------------------------------------------------------


def _product(org, line: ParsedLine, source: str, cache: dict) -> Product:
    """The product of a line: by SKU when the export has one, else by name (a stable made-up SKU)."""
    sku = line.sku or f"{source}:" + hashlib.sha1(line.product_name.encode()).hexdigest()[:16]
    if sku not in cache:
        product = Product.objects.for_org(org).filter(sku=sku).first()
        if product is None and not line.sku:
            product = Product.objects.for_org(org).filter(name=line.product_name).first()
        if product is None:
            product = Product.objects.create(org=org, sku=sku, name=line.product_name,
                                             price=line.unit_price or Decimal("0"))
        cache[sku] = product
    return cache[sku]


def _buyer(org, order: ParsedOrder, source: str):
    """The person the buyer is (None when the order names no usable identifier)."""
    idents = list(order.idents)
    if order.phone:
        idents.append(identity.Ident(identity.Kind.PHONE, order.phone))
    if order.member_id:
        idents.append(identity.Ident(identity.Kind.MEMBER_ID, order.member_id, namespace=source))
    if not idents:
        return None
    for ident in idents:
        if ident.kind == identity.Kind.EXTERNAL_USERID:
            # A WeCom customer's person exists once asked for: ask first, so the order lands on it.
            from siyu.customers.models import Customer

            customer = Customer.objects.for_org(org).filter(external_userid=ident.value).first()
            if customer is not None:
                identity.person_for_customer(customer)
    label = f"import:{source}"
    try:
        person = identity.resolve(org, idents, source=label, evidence=f"order {source}:{order.order_no}")
    except ValueError as error:
        if isinstance(error, identity.Suppressed):
            raise
        return None
    if label not in person.sources:
        person.sources = [*person.sources, label]
        person.save(update_fields=["sources", "updated_at"])
    return person


@dataclass
class Outcome:
    created: int = 0
    existing: int = 0
    erased: int = 0


def store_order(org, parsed: ParsedOrder, *, source: str, batch: OrderImport | None, products: dict) -> str:
    """Store one parsed order: "created", "existing" (the same source + order number is already there) or
    "erased" (the buyer asked to be forgotten: nothing stored)."""
    if Order.objects.for_org(org).filter(source=source, order_no=parsed.order_no).exists():
        return "existing"
    try:
        person = _buyer(org, parsed, source)
    except identity.Suppressed:
        return "erased"
    lines = [Line(_product(org, line, source, products), line.quantity, line.unit_price) for line in parsed.lines]
    status = parsed.status or (OrderStatus.PAID if parsed.paid_at else OrderStatus.PENDING)
    record_order(org, person.customer if person else None, lines, parsed.ordered_at, source,
                 order_no=parsed.order_no, person=person, total=parsed.total,
                 details={"status": status, "paid_at": parsed.paid_at, "refund_total": parsed.refund,
                          "buyer_phone": parsed.phone, "buyer_name": parsed.buyer_name, "import_batch": batch})
    return "created"


def store(org, parsed: Parsed, *, source: str, mode: str, batch: OrderImport | None = None,
          progress: Progress | None = None) -> Outcome:
    """Store the good orders of ``parsed``. All-or-nothing stores nothing when any row is bad; good-rows-only
    skips each order that has a bad row (an order is never stored with some of its items missing)."""
    outcome = Outcome()
    if mode == OrderImport.Mode.ALL_OR_NOTHING and parsed.problems:
        return outcome
    products: dict = {}

    def run():
        for order in parsed.orders:
            if order.bad:
                continue
            try:
                with transaction.atomic():
                    result = store_order(org, order, source=source, batch=batch, products=products)
            except IntegrityError:
                # Another import or an API call stored the same order a moment ago: it is there, once.
                if not Order.objects.for_org(org).filter(source=source, order_no=order.order_no).exists():
                    raise
                result = "existing"
            setattr(outcome, result, getattr(outcome, result) + 1)
            if progress is not None:
                progress.advance()

    if mode == OrderImport.Mode.ALL_OR_NOTHING:
        with transaction.atomic():
            run()
    else:
        run()
    return outcome


# -- the job --------------------------------------------------------------------------------------------------------


def upload_dir(org_id: int) -> Path:
    path = Path(settings.DATA_DIR) / "imports" / f"org-{org_id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _upload_path(batch: OrderImport) -> Path:
    return upload_dir(batch.org_id) / f"orders-{batch.pk}.upload"


def start_import(org, data: bytes, *, filename: str, mode: str, preset: str = "",
                 mapping: ImportMapping | None = None, by=None) -> OrderImport:
    """Keep the uploaded file in the data directory (encrypted, owner-only; deleted once read) and queue its
    import."""
    if mapping is None and preset not in PRESETS:
        raise ValidationError({"preset": _("请选择导入模板。")})
    if mode not in OrderImport.Mode.values:
        raise ValidationError({"mode": _("请选择导入方式。")})
    if not data:
        raise ValidationError({"file": _("文件是空的。")})
    if len(data) > MAX_BYTES:
        raise ValidationError({"file": _("文件超过 %(mb)d MB。") % {"mb": MAX_BYTES // 1024 // 1024}})
    with transaction.atomic():
        batch = OrderImport.objects.create(
            org=org, source=mapping.source if mapping else preset, preset=preset if mapping is None else "custom",
            mapping_name=mapping.name if mapping else "", filename=(filename or "")[:200], mode=mode,
            created_by=getattr(by, "user", by))
        sealed.write(_upload_path(batch), data, context=UPLOAD_CONTEXT)
        batch.job = start_job(org=org, kind=JOB_KIND, title=_("导入订单：%(name)s") % {"name": batch.filename},
                              params={"import": batch.pk}, by=batch.created_by)
        batch.save(update_fields=["job"])
        if batch.created_by is not None:
            audit.record("orders.import_started", org=org, actor=batch.created_by, obj=batch,
                         details={"source": batch.source, "mode": mode})
    return batch


@transaction.atomic
def save_mapping(org, *, name: str, source: str, columns: dict[str, str], by=None) -> ImportMapping:
    """Create or replace an organization's custom column mapping."""
    name, source = (name or "").strip()[:60], (source or "").strip()[:30]
    errors = {}
    if not name:
        errors["name"] = _("请填写映射名称。")
    if not source or source in PRESETS:
        errors["source"] = _("请填写一个不同于内置模板的订单来源。")
    missing = [str(FIELDS[field]) for field in REQUIRED if not columns.get(field)]
    if not columns.get("ordered_at") and not columns.get("paid_at"):
        missing.append(str(FIELDS["ordered_at"]))
    if missing:
        errors["__all__"] = _("请填写这些列：%(fields)s。") % {"fields": "、".join(missing)}
    unknown = set(columns) - set(FIELDS)
    if unknown:
        errors["__all__"] = _("未知的字段。")
    if errors:
        raise ValidationError(errors)
    mapping, created = ImportMapping.objects.for_org(org).update_or_create(
        org=org, name=name, defaults={"source": source, "columns": columns})
    if by is not None:
        audit.record("orders.mapping_saved", org=org, actor=by, obj=mapping, details={"source": source})
    return mapping


@job_handler(JOB_KIND)
def run_import(job: Job, progress: Progress) -> dict:
    batch = OrderImport.objects.for_org(job.org_id).get(pk=job.params["import"])
    org = batch.org
    path = _upload_path(batch)
    mapping = (ImportMapping.objects.for_org(org).filter(name=batch.mapping_name).first()
               if batch.mapping_name else None)
    try:
        data = sealed.read(path, context=UPLOAD_CONTEXT)
        try:
            parsed = parse(data, preset=batch.preset, mapping=mapping, progress=progress)
        except FileError as error:
            parsed = Parsed(rows=0, orders=[], problems=[Problem(1, "", str(error))])
        progress.set_total(parsed.rows + sum(not order.bad for order in parsed.orders))
        outcome = store(org, parsed, source=batch.source, mode=batch.mode, batch=batch, progress=progress)
    finally:
        path.unlink(missing_ok=True)  # the export holds buyers' phones: never keep it after reading
    if parsed.problems and batch.mode == OrderImport.Mode.ALL_OR_NOTHING:
        skipped = len(parsed.orders)
    else:
        skipped = sum(order.bad for order in parsed.orders)
    OrderImport.objects.for_org(org).filter(pk=batch.pk).update(
        rows=parsed.rows, created_orders=outcome.created, existing_orders=outcome.existing, skipped_orders=skipped,
        erased_persons=outcome.erased, errors=[p.as_dict() for p in parsed.problems[:MAX_ERRORS]],
        finished_at=timezone.now())
    return {"import": batch.pk, "created": outcome.created, "existing": outcome.existing,
            "problems": len(parsed.problems)}
