"""The demo brand's customer data: every customer a person, an imported Youzan export, a merge waiting in review."""

from siyu.cdp.demo_data import YOUZAN_FILE
from siyu.cdp.models import Event, MergeReview, Order, OrderImport, Person, RawBatch
from siyu.customers.models import Customer
from siyu.demo import load_demo
from siyu.segments.models import Segment
from tests.factories import drain


def test_the_demo_brand_has_persons_imported_orders_and_a_review(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        org = load_demo().org
    customers = Customer.objects.for_org(org)
    assert customers.count() > 1000
    assert Person.objects.for_org(org).filter(customer__in=customers).count() == customers.count()

    batch = OrderImport.objects.for_org(org).get(filename=YOUZAN_FILE)
    assert batch.finished_at is not None and batch.created_orders == 160
    assert [problem["line"] for problem in batch.errors] == [batch.rows, batch.rows + 1]  # the two broken rows
    imported = Order.objects.for_org(org).filter(source="youzan")
    # Every even buyer's phone is a WeCom customer's remark phone: those orders found their customer.
    assert imported.exclude(customer=None).count() == 80
    assert imported.filter(person=None).count() == 0

    drain()
    events = Event.objects.for_org(org)
    assert events.count() > 2000 and not RawBatch.objects.for_org(org).exclude(status="done").exists()
    assert set(events.values_list("source__kind", flat=True).distinct()) == {"web", "miniprogram"}
    assert events.filter(name="Material Opened").exists()
    # A visitor who signed in with the phone her guide noted is one person with her WeCom customer.
    assert events.exclude(person__customer=None).filter(source__kind="web").exists()

    segments = {s.name: s for s in Segment.objects.for_org(org)}
    assert set(segments) == {"复购老客", "线上活跃未成交", "沉睡唤醒"}
    assert all(s.member_count > 0 for s in segments.values()), {n: s.member_count for n, s in segments.items()}

    review = MergeReview.objects.for_org(org).get()
    assert review.status == MergeReview.Status.PENDING and review.guard == MergeReview.Guard.MEMBER_ID

    with django_capture_on_commit_callbacks(execute=True):
        load_demo()
    assert OrderImport.objects.for_org(org).count() == 1 and MergeReview.objects.for_org(org).count() == 1
    assert RawBatch.objects.for_org(org).count() == RawBatch.objects.for_org(org).filter(status="done").count()
    drain()
    assert Event.objects.for_org(org).count() == events.count()
    assert Person.objects.for_org(org).filter(customer__in=customers).count() == customers.count()
