"""Random sequences of every points operation keep every ledger invariant.

A hypothesis state machine drives the services with a fake clock (the ``now`` they take) and
keeps a plain Python model of each customer's lots: after every step the ledger check passes
and every lot's remaining points, and each balance, equal the model's. The model knows lots by
the ids the services gave them, but computes amounts, FIFO order and expiry dates itself.
"""

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from alliance.errors import ApplicationError
from points import services
from points.models import PointsLot
from points.selectors import customer_balance, ledger_check
from tests.factories import UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
PENDING_DAYS = 7
EXPIRY_MONTHS = 12
_serial = itertools.count()


def model_expiry(earned: datetime) -> datetime:
    local = earned.astimezone(SHANGHAI)
    month = local.month + EXPIRY_MONTHS  # 1-based month index of the expiry month
    year = local.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    # the first instant after that month
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=SHANGHAI)


@dataclass
class Lot:
    pk: int
    customer: int
    funder_id: int
    remaining: int
    state: str  # pending / available / cancelled / expired
    available_at: datetime
    expires_at: datetime


class PointsMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        n = next(_serial)
        self.now = datetime(2026, 1, 31, 23, 0, tzinfo=SHANGHAI)
        self.customers = [UserFactory(role="customer").pk for _ in range(2)]
        self.head_office = UserFactory(role="head_office", username=f"ho-sm-{n}")
        self.prefix = f"sm{n}"
        self.keys = itertools.count()
        self.lots: dict[int, Lot] = {}
        self.earns: list[int] = []  # earn entry ids
        self.earn_lots: dict[int, list[int]] = {}  # earn entry id -> its lots' pks
        self.earn_left: dict[int, int] = {}  # earn entry id -> points not yet reversed
        self.spends: dict[int, dict[int, int]] = {}  # spend entry id -> {lot pk: refundable}

    def key(self) -> str:
        return f"{self.prefix}:{next(self.keys)}"

    def learn_lots(self, entry, *, state: str) -> list[Lot]:
        new = []
        for db_lot in PointsLot.objects.filter(source_entry=entry).order_by("pk"):
            assert db_lot.pk not in self.lots
            lot = Lot(db_lot.pk, db_lot.account.customer_id, db_lot.funder_id,
                      db_lot.original_points, state, db_lot.available_at, db_lot.expires_at)
            self.lots[lot.pk] = lot
            new.append(lot)
        return new

    def fifo(self, customer: int) -> list[Lot]:
        return sorted(
            (lot for lot in self.lots.values() if lot.customer == customer
             and lot.state == "available" and lot.remaining > 0 and lot.expires_at > self.now),
            key=lambda lot: (lot.expires_at, lot.pk),
        )

    def take_fifo(self, customer: int, points: int) -> dict[int, int]:
        taken = {}
        for lot in self.fifo(customer):
            if points == 0:
                break
            take = min(points, lot.remaining)
            lot.remaining -= take
            taken[lot.pk] = take
            points -= take
        return taken

    # --- rules ---------------------------------------------------------------------------------

    @rule(c=st.integers(0, 1), base=st.sampled_from([0, 40, 100, 250]), extra=st.sampled_from([0, 0, 15]))
    def earn(self, c, base, extra):
        if base + extra == 0:
            base = 1
        entry = services.points_earn(
            customer_id=self.customers[c], base_points=base, merchant_funded_points=extra,
            merchant_id=1 if extra else None, idempotency_key=self.key(), now=self.now,
        )
        lots = self.learn_lots(entry, state="pending")
        assert [lot.remaining for lot in lots] == [x for x in (base, extra) if x]
        for lot in lots:
            assert lot.available_at == self.now + timedelta(days=PENDING_DAYS)
            assert lot.expires_at == model_expiry(self.now)
        self.earns.append(entry.pk)
        self.earn_lots[entry.pk] = [lot.pk for lot in lots]
        self.earn_left[entry.pk] = base + extra

    # mostly days and weeks (pending periods end), now and then a year (lots expire)
    @rule(days=st.one_of(*[st.integers(0, 20)] * 4, st.integers(380, 800)), hours=st.integers(0, 23))
    def advance_clock(self, days, hours):
        self.now += timedelta(days=days, hours=hours)

    @rule()
    def release_pending(self):
        for customer in self.customers:
            account = services.customer_account(customer_id=customer)
            services.points_release_pending(account_id=account.pk, now=self.now)
        for lot in self.lots.values():
            if lot.state == "pending" and lot.available_at <= self.now:
                lot.state = "available"

    @precondition(lambda self: self.earns)
    @rule(pick=st.integers(0, 10**6), part=st.integers(0, 400))
    def cancel_pending(self, pick, part):
        earn_id = self.earns[pick % len(self.earns)]
        lots = sorted((lot for lot in self.lots.values() if PointsLot.objects.filter(
            pk=lot.pk, source_entry_id=earn_id).exists()), key=lambda lot: lot.pk)
        pending = sum(lot.remaining for lot in lots if lot.state == "pending")
        points = part or None  # 0 means "all that is pending"
        wanted = points if points is not None else pending
        try:
            services.points_cancel_pending(earn_entry_id=earn_id, points=points,
                                           idempotency_key=self.key(), now=self.now)
        except ApplicationError as exc:
            assert exc.code == "points_not_pending" and (wanted == 0 or wanted > pending)
            return
        assert 0 < wanted <= pending
        event("cancelled pending points")
        self.earn_left[earn_id] -= wanted
        for lot in lots:
            if lot.state != "pending" or wanted == 0:
                continue
            take = min(wanted, lot.remaining)
            lot.remaining -= take
            wanted -= take
            if lot.remaining == 0:
                lot.state = "cancelled"

    @precondition(lambda self: self.earns)
    @rule(pick=st.integers(0, 10**6), part=st.integers(0, 60))
    def reverse_earn(self, pick, part):
        earn_id = self.earns[pick % len(self.earns)]
        own = [self.lots[pk] for pk in self.earn_lots[earn_id]]
        reversible = self.earn_left[earn_id]
        points = part or None  # 0 means "all that is left"
        wanted = points if points is not None else reversible
        try:
            reversal = services.points_reverse_earn(earn_entry_id=earn_id, points=points,
                                                    idempotency_key=self.key(), now=self.now)
        except ApplicationError as exc:
            assert exc.code == "points_reverse_exceeds_earn" and (wanted == 0 or wanted > reversible)
            return
        assert 0 < wanted <= reversible
        left = wanted
        for lot in own:  # own lots first: pending ones, then live available ones
            if lot.state == "pending" or (lot.state == "available" and lot.expires_at > self.now):
                take = min(left, lot.remaining)
                lot.remaining -= take
                left -= take
                if lot.state == "pending" and lot.remaining == 0 and take:
                    lot.state = "cancelled"
        if left:
            left -= sum(self.take_fifo(own[0].customer, left).values())
        event("reversal short" if left else "reversal in full")
        assert (reversal.points, reversal.taken, reversal.shortfall) == (wanted, wanted - left, left)
        self.earn_left[earn_id] -= wanted

    @rule(c=st.integers(0, 1), points=st.integers(1, 120), within=st.booleans())
    def spend(self, c, points, within):
        customer = self.customers[c]
        usable = sum(lot.remaining for lot in self.fifo(customer))
        if within and usable:  # half the time ask for no more than there is
            points = min(points, usable)
        try:
            entry = services.points_spend(customer_id=customer, points=points, merchant_id=2,
                                          idempotency_key=self.key(), now=self.now)
        except ApplicationError as exc:
            assert exc.code == "points_insufficient" and points > usable
            event("spend refused")
            return
        assert points <= usable
        event("spend")
        self.spends[entry.pk] = self.take_fifo(customer, points)

    @precondition(lambda self: self.spends)
    @rule(pick=st.integers(0, 10**6), part=st.integers(0, 80))
    def refund_spend(self, pick, part):
        spend_id = sorted(self.spends)[pick % len(self.spends)]
        allocations = self.spends[spend_id]
        refundable = sum(allocations.values())
        points = part or None
        wanted = points if points is not None else refundable
        try:
            entry = services.points_refund_spend(spend_entry_id=spend_id, points=points,
                                                 idempotency_key=self.key(), now=self.now)
        except ApplicationError as exc:
            assert exc.code == "points_refund_exceeds_spend" and (wanted == 0 or wanted > refundable)
            return
        assert 0 < wanted <= refundable
        to_new: dict[int, int] = {}
        order = sorted(allocations, key=lambda pk: (self.lots[pk].expires_at, pk), reverse=True)
        for pk in order:
            give = min(wanted, allocations[pk])
            if give == 0:
                continue
            allocations[pk] -= give
            wanted -= give
            lot = self.lots[pk]
            if lot.state == "available" and lot.expires_at > self.now:
                event("refund into the same lot")
                lot.remaining += give
            else:
                event("refund into a new lot")
                to_new[lot.funder_id] = to_new.get(lot.funder_id, 0) + give
        new = self.learn_lots(entry, state="available")
        assert [(lot.funder_id, lot.remaining) for lot in new] == sorted(to_new.items())
        for lot in new:
            assert lot.expires_at == model_expiry(self.now)

    @rule()
    def expire(self):
        for customer in self.customers:
            account = services.customer_account(customer_id=customer)
            if services.points_expire(account_id=account.pk, now=self.now):
                event("expired a lot")
        for lot in self.lots.values():
            if lot.state == "available" and lot.expires_at <= self.now:
                lot.remaining, lot.state = 0, "expired"

    @rule(c=st.integers(0, 1), points=st.integers(-300, 300).filter(bool))
    def adjust(self, c, points):
        customer = self.customers[c]
        usable = sum(lot.remaining for lot in self.fifo(customer))
        try:
            entry = services.points_adjust(actor=self.head_office, customer_id=customer,
                                           points=points, reason="state machine",
                                           idempotency_key=self.key(), now=self.now)
        except ApplicationError as exc:
            assert exc.code == "points_insufficient" and -points > usable
            return
        if points > 0:
            [lot] = self.learn_lots(entry, state="available")
            assert lot.remaining == points and lot.expires_at == model_expiry(self.now)
        else:
            self.take_fifo(customer, -points)

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def ledger_holds_and_matches_the_model(self):
        report = ledger_check()
        assert report.ok, "\n".join(map(str, report.breaks))
        db_lots = dict(
            PointsLot.objects.filter(pk__in=list(self.lots)).values_list("pk", "remaining_points")
        )
        assert db_lots == {pk: lot.remaining for pk, lot in self.lots.items()}
        db_states = dict(PointsLot.objects.filter(pk__in=list(self.lots)).values_list("pk", "state"))
        assert db_states == {pk: lot.state for pk, lot in self.lots.items()}
        for customer in self.customers:
            available = sum(lot.remaining for lot in self.lots.values()
                            if lot.customer == customer and lot.state == "available")
            pending = sum(lot.remaining for lot in self.lots.values()
                          if lot.customer == customer and lot.state == "pending")
            assert customer_balance(customer_id=customer) == (available, pending)


def test_random_operations_keep_every_invariant(db, settings):
    settings.ALLIANCE_POINTS_PENDING_DAYS = PENDING_DAYS
    settings.ALLIANCE_POINTS_EXPIRY_MONTHS = EXPIRY_MONTHS
    settings.ALLIANCE_POINTS_TIME_ZONE = "Asia/Shanghai"
    run_state_machine_as_test(
        PointsMachine,
        settings=hypothesis_settings(
            max_examples=30,
            stateful_step_count=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_the_model_expiry_agrees_with_the_examples():
    assert model_expiry(datetime(2026, 1, 31, 23, 30, tzinfo=SHANGHAI)) == datetime(
        2027, 2, 1, tzinfo=SHANGHAI)
    assert model_expiry(datetime(2026, 12, 3, tzinfo=SHANGHAI)) == datetime(2028, 1, 1, tzinfo=SHANGHAI)
    assert model_expiry(datetime(2026, 11, 3, tzinfo=SHANGHAI)) == datetime(2027, 12, 1, tzinfo=SHANGHAI)
