"""Raw event batches are kept a week after normalization for re-drives, then deleted: they quote personal data."""

from datetime import timedelta

from django.utils import timezone

from siyu.cdp.models import RawBatch, Source
from siyu.cdp.person_tasks import RAW_BATCH_RETENTION, purge_normalized_raw_batches
from tests.factories import make_org


def test_normalized_batches_older_than_a_week_are_deleted(db):
    org = make_org()
    source = Source.objects.create(org=org, name="官网", kind=Source.Kind.WEB)
    old = timezone.now() - timedelta(days=RAW_BATCH_RETENTION, hours=1)

    def batch(key, status, received_at):
        return RawBatch.objects.create(org=org, source=source, idempotency_key=key, status=status,
                                       received_at=received_at, body="[]")

    gone = batch("old-done", RawBatch.Status.DONE, old)
    kept = [batch("new-done", RawBatch.Status.DONE, timezone.now()),
            batch("old-pending", RawBatch.Status.PENDING, old), batch("old-failed", RawBatch.Status.FAILED, old)]
    assert purge_normalized_raw_batches.call_local() == 1
    remaining = set(RawBatch.objects.for_org(org).values_list("pk", flat=True))
    assert gone.pk not in remaining and remaining == {row.pk for row in kept}
