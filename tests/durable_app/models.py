"""A durable row used only by tests and benchmarks of the dispatcher itself."""

import time

from django.db import models

from siyu.core.durable import DurableRow, PermanentFailure
from siyu.core.tenancy import TenantModel


class ChoreBase(DurableRow):
    """Records one Effect per idempotency key; can sleep (to be killed mid-work) or fail on demand.

    ``sleep_seconds`` sleeps before the effect, ``sleep_after_effect`` between the effect and completion (the
    window where a crash leaves a written effect on a row that is not done). ``sleep_attempts`` limits both
    sleeps to the first attempts, so the worker that takes the row over finishes it at once; 0 sleeps always.
    """

    sleep_seconds = models.FloatField(default=0)
    sleep_after_effect = models.FloatField(default=0)
    sleep_attempts = models.PositiveIntegerField(default=0)
    fail_times = models.PositiveIntegerField(default=0)
    permanent = models.BooleanField(default=False)

    retry_base_seconds = 0

    class Meta(DurableRow.Meta):
        abstract = True

    def _sleep(self, seconds: float) -> None:
        if seconds and (not self.sleep_attempts or self.attempts <= self.sleep_attempts):
            time.sleep(seconds)

    def perform(self) -> None:
        self._sleep(self.sleep_seconds)
        if self.permanent:
            raise PermanentFailure("refused")
        if self.attempts <= self.fail_times:
            raise RuntimeError(f"transient failure on attempt {self.attempts}")
        Effect.objects.get_or_create(org_id=self.org_id, key=self.idempotency_key, defaults={"by": self.lease_owner})
        self._sleep(self.sleep_after_effect)


class Chore(ChoreBase):
    pass


class UrgentChore(ChoreBase):
    """A deadline-lane row: served before Chores, and expired when it could not start within 20 s of its due time."""

    dispatch_lane = 0
    deadline_seconds = 20


class Effect(TenantModel):
    key = models.CharField(max_length=128)
    by = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["org", "key"], name="effect_unique_key")]
