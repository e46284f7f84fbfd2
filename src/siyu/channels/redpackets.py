"""New-customer red packets (新客红包): a budget that is never exceeded, one packet per customer, paid once.

* **Budget**: granting reserves the amount with one conditional UPDATE
  (``spent_fen = spent_fen + x WHERE spent_fen + x <= budget_fen``), atomic on SQLite (one writer at a time) and
  on PostgreSQL (the row lock makes a concurrent UPDATE re-check the condition); a check constraint backs it up.
* **One per customer**: a unique ``recipient_key`` (the unionid when WeCom gives one, else the external_userid)
  on the payout; a second grant for the same person rolls its reservation back.
* **Paid once**: the bill number is derived from the organization and the recipient, is the row's idempotency
  key and is handed to the provider, which refuses a bill number it has seen; a retry after a crash asks the
  provider about that bill instead of paying again.

Payment goes through a :class:`PaymentProvider`. The default is :class:`SimulatedProvider`, which records
payouts in :class:`~siyu.channels.models.SimulatedPayment`; a real one (WeChat Pay 企业付款, a bank) is named by
the ``CHANNELS_PAYMENT_PROVIDER`` setting (a dotted path to a class taking no arguments).
"""

from __future__ import annotations

import hashlib
import logging
import random
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from siyu.channels.models import ChannelCode, RedPacketPayout, RedPacketRule, SimulatedPayment
from siyu.core.durable import PermanentFailure
from siyu.customers import timeline
from siyu.customers.models import Relation

log = logging.getLogger(__name__)

DEFAULT_PROVIDER = "siyu.channels.redpackets.SimulatedProvider"
RESERVE_TRIES = 3


# -- the payment adapter ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PaymentResult:
    """What a provider says about one bill: ``paid``, ``duplicate`` (bill number seen before) or ``failed``."""

    status: str
    provider_ref: str = ""
    message: str = ""
    retryable: bool = False

    PAID = "paid"
    DUPLICATE = "duplicate"
    FAILED = "failed"


class PaymentProvider:
    """Pays ``amount_fen`` to ``recipient`` once per ``bill_no``. Subclass for a real payment channel."""

    def pay(self, *, org_id: int, bill_no: str, recipient: str, amount_fen: int, description: str = "") -> PaymentResult:
        raise NotImplementedError

    def query(self, *, org_id: int, bill_no: str) -> PaymentResult | None:
        """The outcome of an earlier ``pay`` with this bill number; None when the provider never saw it."""
        raise NotImplementedError


class SimulatedProvider(PaymentProvider):
    """Records payouts in the database and refuses a bill number it has already paid (like a real provider)."""

    def pay(self, *, org_id, bill_no, recipient, amount_fen, description=""):
        try:
            with transaction.atomic():
                payment = SimulatedPayment.objects.create(
                    org_id=org_id, bill_no=bill_no, recipient=recipient, amount_fen=amount_fen, description=description[:100],
                )
        except IntegrityError:
            return PaymentResult(PaymentResult.DUPLICATE, message="duplicate bill_no")
        return PaymentResult(PaymentResult.PAID, provider_ref=f"SIM{payment.pk:012d}")

    def query(self, *, org_id, bill_no):
        payment = SimulatedPayment.objects.for_org(org_id).filter(bill_no=bill_no).first()
        if payment is None:
            return None
        return PaymentResult(PaymentResult.PAID, provider_ref=f"SIM{payment.pk:012d}")


@lru_cache(maxsize=4)
def _provider_class(path: str):
    return import_string(path)


def get_provider() -> PaymentProvider:
    return _provider_class(getattr(settings, "CHANNELS_PAYMENT_PROVIDER", DEFAULT_PROVIDER))()


# -- granting -------------------------------------------------------------------------------------------------
def recipient_of(customer) -> tuple[str, str]:
    """(recipient_key, recipient): one packet per person — by unionid when WeCom knows it, else external_userid."""
    if customer.unionid:
        return f"unionid:{customer.unionid}", customer.external_userid
    return f"external_userid:{customer.external_userid}", customer.external_userid


def bill_no_for(org_id: int, recipient_key: str) -> str:
    """32 letters and digits, the same for the same person every time (so a second grant cannot pay twice)."""
    return "RP" + hashlib.sha256(f"{org_id}:{recipient_key}".encode()).hexdigest()[:30]


def draw(rule: RedPacketRule, rng: random.Random | None = None) -> int:
    if rule.mode == RedPacketRule.Mode.RANDOM:
        return (rng or random).randint(rule.min_fen, rule.max_fen)
    return rule.amount_fen


def _reserve(rule: RedPacketRule, amount: int) -> bool:
    """Take ``amount`` from the budget if it fits; one statement, so concurrent grants can never overdraw."""
    return bool(
        RedPacketRule.objects.for_org(rule.org_id)
        .filter(pk=rule.pk, enabled=True, spent_fen__lte=F("budget_fen") - amount)
        .update(spent_fen=F("spent_fen") + amount)
    )


def _reserve_some(rule: RedPacketRule, wanted: int) -> int:
    """Reserve ``wanted``; a random rule takes what is left when that is still at least its minimum."""
    amount = wanted
    for _ in range(RESERVE_TRIES):
        if amount <= 0 or _reserve(rule, amount):
            return max(amount, 0)
        if rule.mode != RedPacketRule.Mode.RANDOM:
            return 0
        left = RedPacketRule.objects.for_org(rule.org_id).filter(pk=rule.pk).values_list("budget_fen", "spent_fen").first()
        remaining = (left[0] - left[1]) if left else 0
        if remaining < rule.min_fen:
            return 0
        amount = min(amount, remaining)
    return 0


def is_new_customer(relation: Relation) -> bool:
    """A new customer: this is their first friendship with anyone of the brand."""
    return not Relation.objects.for_org(relation.org_id).filter(customer_id=relation.customer_id).exclude(pk=relation.pk).exists()


def grant(relation: Relation, code: ChannelCode) -> RedPacketPayout | None:
    """Grant the code's new-customer red packet to ``relation``'s customer, if they are new, have had none and
    the budget allows. Returns the payout row (paid later by the dispatcher) or None."""
    rule = RedPacketRule.objects.for_org(code.org_id).filter(code=code, enabled=True).first()
    if rule is None or not is_new_customer(relation):
        return None
    recipient_key, recipient = recipient_of(relation.customer)
    if RedPacketPayout.objects.for_org(code.org_id).filter(recipient_key=recipient_key).exists():
        return None
    try:
        with transaction.atomic():
            amount = _reserve_some(rule, draw(rule))
            if not amount:
                return None
            bill_no = bill_no_for(code.org_id, recipient_key)
            return RedPacketPayout.objects.create(
                org_id=code.org_id, idempotency_key=bill_no, bill_no=bill_no, rule=rule, code=code,
                customer_id=relation.customer_id, relation=relation, recipient_key=recipient_key, recipient=recipient,
                amount_fen=amount,
            )
    except IntegrityError:
        return None  # a concurrent grant for the same person won; its reservation stands, this one rolled back


# -- paying (RedPacketPayout.perform) -------------------------------------------------------------------------
def _release(row: RedPacketPayout) -> None:
    """Give a refused payout's amount back to the budget, once."""
    with transaction.atomic():
        if RedPacketPayout.objects.for_org(row.org_id).filter(pk=row.pk, released=False).update(released=True):
            RedPacketRule.objects.for_org(row.org_id).filter(pk=row.rule_id).update(spent_fen=F("spent_fen") - row.amount_fen)


def _paid(row: RedPacketPayout, result: PaymentResult) -> None:
    with transaction.atomic():
        RedPacketPayout.objects.for_org(row.org_id).filter(pk=row.pk).update(
            outcome=RedPacketPayout.Outcome.PAID, provider_ref=result.provider_ref[:64], paid_at=timezone.now(),
        )
        timeline.record(row.customer, "red_packet_paid", amount_fen=row.amount_fen, code_id=row.code_id, bill_no=row.bill_no)


def perform_payout(row: RedPacketPayout) -> None:
    if row.outcome == RedPacketPayout.Outcome.PAID:
        return
    provider = get_provider()
    rule = RedPacketRule.objects.for_org(row.org_id).filter(pk=row.rule_id).first()
    result = provider.pay(org_id=row.org_id, bill_no=row.bill_no, recipient=row.recipient, amount_fen=row.amount_fen,
                          description=(rule.wishing if rule else "") or "新客红包")
    if result.status == PaymentResult.DUPLICATE:
        # We asked before (the answer, or our record of it, was lost): the provider's record decides.
        result = provider.query(org_id=row.org_id, bill_no=row.bill_no) or PaymentResult(
            PaymentResult.FAILED, message="bill number refused as a duplicate but unknown to the provider")
    if result.status == PaymentResult.PAID:
        _paid(row, result)
        return
    if result.retryable:
        raise RuntimeError(result.message or "payment provider asked to retry")
    RedPacketPayout.objects.for_org(row.org_id).filter(pk=row.pk).update(outcome=RedPacketPayout.Outcome.FAILED)
    _release(row)
    raise PermanentFailure(result.message or "payment refused")
