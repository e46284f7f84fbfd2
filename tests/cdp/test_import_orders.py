"""Order import: Youzan, Taobao (GBK) and Xiaoe-tong (XLSX) exports, a custom mapping, bad rows reported by line,
column and reason, all-or-nothing vs good-rows-only, idempotent re-imports, and buyers bound to WeCom customers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from siyu.cdp import identity
from siyu.cdp.models import Identifier, ImportMapping, Order, OrderImport, OrderLine, OrderStatus, Person, Product
from siyu.cdp.order_import import BEIJING, FileError, parse, start_import, store
from siyu.core.events import DomainEvent, Kind
from siyu.core.jobs import run_job
from siyu.core.models import Job
from siyu.orgs.models import Staff
from tests.customers.test_list import make_customer

FILES = Path(__file__).parent / "files"
ALL, GOOD = OrderImport.Mode.ALL_OR_NOTHING, OrderImport.Mode.GOOD_ROWS


def data(name: str) -> bytes:
    return (FILES / name).read_bytes()


def run(org, name: str, mode=GOOD, preset="youzan", mapping=None, by=None) -> OrderImport:
    """Upload ``name`` as a member would and let its job run."""
    batch = start_import(org, data(name), filename=name, mode=mode, preset=preset, mapping=mapping, by=by)
    run_job(batch.job_id)
    batch.refresh_from_db()
    return batch


def test_a_youzan_export_with_three_malformed_rows_reports_exactly_those_rows(world):
    batch = run(world.org, "youzan_3_bad.csv", mode=GOOD, by=world.admin.user)
    assert Job.objects.for_org(world.org).get(pk=batch.job_id).status == Job.Status.SUCCEEDED
    assert [(e["line"], e["column"]) for e in batch.errors] == [(4, "订单实付金额"), (7, "下单时间"), (9, "商品数量")]
    reasons = [e["reason"] for e in batch.errors]
    assert "金额" in reasons[0] and "时间" in reasons[1] and "数量" in reasons[2]
    assert batch.rows == 8 and batch.skipped_orders == 3 and batch.created_orders == 4


def test_good_rows_only_stores_the_other_orders_with_their_lines_amounts_status_and_refunds(world):
    run(world.org, "youzan_3_bad.csv", mode=GOOD)
    orders = {o.order_no: o for o in Order.objects.for_org(world.org).filter(source="youzan")}
    assert sorted(orders) == ["E20240101", "E20240102", "E20240104", "E20240106"]
    two_items = orders["E20240102"]
    assert [(line.product.sku, line.quantity, line.unit_price) for line in two_items.lines.order_by("pk")] == [
        ("C-1", 1, Decimal("88.50")), ("CUP-1", 1, Decimal("61.50"))]
    assert two_items.total == Decimal("150.00") and two_items.status == OrderStatus.SHIPPED
    assert two_items.paid_at.astimezone(BEIJING).isoformat() == "2024-01-02T11:05:00+08:00"
    assert two_items.buyer_name == "阿May" and two_items.buyer_phone == "13800138002"
    closed = orders["E20240106"]
    assert closed.status == OrderStatus.CLOSED and closed.refund_total == Decimal("88.50")
    # Products are upserted by their SKU: two orders of CUP-1 share one product.
    assert Product.objects.for_org(world.org).filter(sku="CUP-1").count() == 1
    # The receiver's phone stands in when the buyer's is missing; phones are stored encrypted with a blind index.
    assert Order.objects.for_org(world.org).filter(buyer_phone_index=orders["E20240104"].buyer_phone_index).get(
    ).order_no == "E20240104"
    with connection.cursor() as cursor:
        cursor.execute("SELECT buyer_phone FROM cdp_order WHERE order_no = 'E20240101'")
        assert "13800138001" not in cursor.fetchone()[0]
    assert DomainEvent.objects.for_org(world.org).filter(kind=Kind.ORDER_RECORDED).count() == 4


def test_all_or_nothing_stores_nothing_when_a_row_is_bad(world):
    batch = run(world.org, "youzan_3_bad.csv", mode=ALL)
    assert len(batch.errors) == 3 and batch.created_orders == 0 and batch.skipped_orders == 7
    assert not Order.objects.for_org(world.org).exists() and not OrderLine.objects.for_org(world.org).exists()
    assert not Person.objects.for_org(world.org).exists() and not Product.objects.for_org(world.org).exists()


def test_re_importing_the_same_file_changes_nothing(world):
    first = run(world.org, "youzan_3_bad.csv")
    before = (list(Order.objects.for_org(world.org).values_list("pk", "total", "person_id")),
              Person.objects.for_org(world.org).count(), Identifier.objects.for_org(world.org).count(),
              OrderLine.objects.for_org(world.org).count(), DomainEvent.objects.for_org(world.org).count())
    again = run(world.org, "youzan_3_bad.csv")
    assert (again.created_orders, again.existing_orders) == (0, 4) and first.created_orders == 4
    assert before == (list(Order.objects.for_org(world.org).values_list("pk", "total", "person_id")),
                      Person.objects.for_org(world.org).count(), Identifier.objects.for_org(world.org).count(),
                      OrderLine.objects.for_org(world.org).count(), DomainEvent.objects.for_org(world.org).count())


def test_orders_bind_to_the_wecom_customer_whose_remark_phone_is_the_buyers(world):
    staff = Staff.objects.create(org=world.org, userid="zhang", name="张导购", store=world.e1,
                                 membership=world.guide_e1, is_customer_contact=True)
    customer = make_customer(world.org, "林女士", (staff, {"mobiles": ["138 0013 8001"]}))
    stranger = make_customer(world.other_org, "别家", (Staff.objects.create(org=world.other_org, userid="x"),
                                                      {"mobiles": ["13800138002"]}))
    run(world.org, "youzan_3_bad.csv")
    bound = Order.objects.for_org(world.org).get(order_no="E20240101")
    assert bound.customer == customer and bound.person.customer == customer
    assert bound.person.sources == ["wecom", "import:youzan"]
    assert identity.find(world.org, identity.Ident("phone", "13800138001")) == bound.person
    # Another brand's customer with the same phone is no match, and a buyer nobody knows is a new person.
    other = Order.objects.for_org(world.org).get(order_no="E20240102")
    assert other.customer is None and other.person.customer is None and stranger.org_id != world.org.pk
    assert "import:youzan" in set(Identifier.objects.for_org(world.org).filter(person=other.person)
                                  .values_list("source", flat=True))


def test_a_taobao_csv_in_gbk_imports_with_its_member_names(world):
    raw = data("taobao_gbk.csv")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the fixture really is GBK
    batch = run(world.org, "taobao_gbk.csv", preset="taobao")
    assert batch.errors == [] and batch.created_orders == 2
    order = Order.objects.for_org(world.org).get(order_no="3850112233445566778")
    assert order.total == Decimal("158.00") and order.status == OrderStatus.COMPLETED
    assert order.buyer_name == "tb林小姐" and order.buyer_phone == "13800138011"
    assert order.lines.get().product.name == "【双11】明前龙井 礼盒装"
    assert identity.find(world.org, identity.Ident("member_id", "tb林小姐", namespace="taobao")) == order.person
    assert Order.objects.for_org(world.org).get(order_no="3850112233445566779").status == OrderStatus.PAID


def test_an_xlsx_export_imports(world):
    batch = run(world.org, "xiaoe.xlsx", preset="xiaoe")
    assert batch.errors == [] and batch.created_orders == 2
    refunded = Order.objects.for_org(world.org).get(source="xiaoe", order_no="o_2024020212346")
    assert refunded.status == OrderStatus.REFUNDED and refunded.total == Decimal("299.00")
    assert refunded.lines.get().product.name == "茶艺进阶课" and refunded.buyer_name == "学员B"


def test_a_custom_mapping_reads_a_brands_own_headers(world):
    mapping = ImportMapping.objects.create(org=world.org, name="门店收银", source="pos", columns={
        "order_no": "小票号", "ordered_at": "消费时间", "buyer_phone": "会员手机", "product_name": "货品", "sku": "货号",
        "quantity": "件数", "unit_price": "单价", "total": "应收"})
    with pytest.raises(FileError):
        parse(data("custom_pos.csv"), preset="youzan")  # the presets do not know these headers
    batch = run(world.org, "custom_pos.csv", preset="", mapping=mapping)
    assert batch.errors == [] and batch.preset == "custom"
    order = Order.objects.for_org(world.org).get(source="pos", order_no="POS-0001")
    assert order.total == Decimal("294.00") and order.lines.get().quantity == 3
    assert order.ordered_at.astimezone(BEIJING).isoformat() == "2024-03-01T15:20:00+08:00"


def test_a_file_missing_a_required_column_is_one_clear_problem_and_stores_nothing(world):
    batch = run(world.org, "custom_pos.csv", preset="taobao")
    assert len(batch.errors) == 1 and "订单编号" in batch.errors[0]["reason"]
    assert not Order.objects.for_org(world.org).exists()


def test_an_erased_buyer_is_counted_and_nothing_is_stored_for_them(world):
    from siyu.cdp.models import Suppression

    normalized = identity.normalize("phone", "13800138001")
    Suppression.objects.create(org=world.org, kind="phone", value_index=identity.value_index("phone", "", normalized))
    parsed = parse(data("youzan_3_bad.csv"), preset="youzan")
    outcome = store(world.org, parsed, source="youzan", mode=GOOD)
    assert (outcome.created, outcome.erased) == (3, 1)
    assert not Order.objects.for_org(world.org).filter(order_no="E20240101").exists()


def test_line_numbers_are_the_files_own_when_a_cell_spans_lines(world):
    text = ("订单号,订单状态,下单时间,商品名称,商品数量,订单实付金额,买家手机号\n"
            'Y1,交易完成,2024-01-01 10:00:00,"礼盒\n（两行的商品名）",1,10,13800138041\n'
            "Y2,交易完成,2024-01-01 10:00:00,茶杯,x,10,13800138042\n")
    parsed = parse(text.encode("gb18030"), preset="youzan")
    assert [(p.line, p.column) for p in parsed.problems] == [(4, "商品数量")]
    assert parsed.orders[0].lines[0].product_name == "礼盒\n（两行的商品名）"


def test_the_uploaded_export_waits_for_its_job_encrypted_and_is_gone_after(world, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    batch = start_import(world.org, data("youzan_3_bad.csv"), filename="youzan.csv", mode=GOOD, preset="youzan")
    [waiting] = tmp_path.rglob("*.upload")
    assert b"13800138002" not in waiting.read_bytes() and "阿May".encode() not in waiting.read_bytes()
    run_job(batch.job_id)
    batch.refresh_from_db()
    assert batch.created_orders == 4 and not list(tmp_path.rglob("*.upload"))
