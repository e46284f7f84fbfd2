"""A durable row used only by tests and benchmarks of the dispatcher itself."""

import time

from django.db import models

from siyu.core.durable import DurableRow, PermanentFailure
from siyu.core.tenancy import TenantModel


class Chore(DurableRow):
    """Records one Effect per idempotency key; can sleep (to be killed mid-work) or fail on demand."""

    sleep_seconds = models.FloatField(default=0)
    fail_times = models.PositiveIntegerField(default=0)
    permanent = models.BooleanField(default=False)

    retry_base_seconds = 0

    def perform(self) -> None:
        if self.sleep_seconds:
            time.sleep(self.sleep_seconds)
        if self.permanent:
            raise PermanentFailure("refused")
        if self.attempts <= self.fail_times:
            raise RuntimeError(f"transient failure on attempt {self.attempts}")
        Effect.objects.get_or_create(org_id=self.org_id, key=self.idempotency_key, defaults={"by": self.lease_owner})


class Effect(TenantModel):
    key = models.CharField(max_length=128)
    by = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "key"], name="effect_unique_key")]
