"""The order import pages: HQ uploads an export and reads the report; mappings are saved per brand; other roles
and brands are kept out."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from siyu.cdp.models import ImportMapping, Order, OrderImport
from siyu.orgs.models import AuditEntry
from tests.factories import client_for

FILES = Path(__file__).parent / "files"


def upload(client, name: str, template: str, mode: str):
    return client.post(reverse("imports:list"), {
        "file": SimpleUploadedFile(name, (FILES / name).read_bytes()), "template": template, "mode": mode})


def test_hq_uploads_an_export_and_reads_every_bad_row_in_the_report(world, django_capture_on_commit_callbacks):
    hq = client_for(world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(hq, "youzan_3_bad.csv", "youzan", "good")
    batch = OrderImport.objects.for_org(world.org).get()
    assert response.status_code == 302 and response.url == reverse("imports:detail", args=[batch.pk])
    page = hq.get(response.url).content.decode()
    for line, column in ((4, "订单实付金额"), (7, "下单时间"), (9, "商品数量")):
        assert f'<td class="num">{line}</td><td>{column}</td>' in page
    assert Order.objects.for_org(world.org).count() == 4
    assert AuditEntry.objects.for_org(world.org).filter(action="orders.import_started").count() == 1
    listing = hq.get(reverse("imports:list")).content.decode()
    assert "youzan_3_bad.csv" in listing
    assert client_for(world.other_admin).get(reverse("imports:detail", args=[batch.pk])).status_code == 404


def test_an_upload_without_a_file_is_a_form_error_and_starts_nothing(world):
    response = client_for(world.admin).post(reverse("imports:list"), {"template": "youzan", "mode": "all"})
    assert response.status_code == 200 and response.context["form"].errors["file"]
    assert not OrderImport.objects.for_org(world.org).exists()


def test_store_roles_may_not_import(world):
    for member in (world.east_manager, world.guide_e1):
        assert client_for(member).get(reverse("imports:list")).status_code == 403


def test_a_saved_mapping_is_offered_for_uploads(world, django_capture_on_commit_callbacks):
    hq = client_for(world.admin)
    bad = hq.post(reverse("imports:mapping_new"), {"name": "POS", "source": "pos", "col_order_no": "小票号"})
    assert bad.status_code == 200 and not ImportMapping.objects.for_org(world.org).exists()
    fields = {"name": "门店收银", "source": "pos", "col_order_no": "小票号", "col_ordered_at": "消费时间",
              "col_buyer_phone": "会员手机", "col_product_name": "货品", "col_sku": "货号", "col_quantity": "件数",
              "col_unit_price": "单价", "col_total": "应收"}
    assert hq.post(reverse("imports:mapping_new"), fields).status_code == 302
    mapping = ImportMapping.objects.for_org(world.org).get()
    assert mapping.columns["order_no"] == "小票号" and "refund_status" not in mapping.columns
    with django_capture_on_commit_callbacks(execute=True):
        upload(hq, "custom_pos.csv", f"mapping:{mapping.pk}", "all")
    assert sorted(Order.objects.for_org(world.org).filter(source="pos").values_list("order_no", flat=True)) == [
        "POS-0001", "POS-0002"]
