"""Model: a hypothesis state machine drives the stock service against a pure-Python model.

Every step calls one service function (reserve, release, fulfill, adjust, set, count,
return, transfer, delete, the expiry sweep, keyed repeats) with the model's prediction of
the exact result or error; after every step the database's entries, holds and ledger
length must equal the model's, I1–I4 must hold, and the stock tallies must sum to a count of
the entries. The per-step check reads everything in one statement and replays only the
ledger rows the step added (LedgerWatch); the shared
oracle (tests/oracle.py: the application's verify_ledger, a replay from zero, and the
rest) runs in full at the end of every example.

The machine that runs (PurchasingMachine) adds purchase orders: drafts of a line or two,
ordered, received in part, in full or beyond the order (refused, naming every line over,
unless confirmed), and cancelled, open or partly received, with stale versions and keyed
repeats among them. The model predicts each entry's incoming (what open lines still
bring), on hand and average cost (worked out here from the rule: half up, the receipt's
cost, a transfer's units at the source's average), and each line's received quantities and
its order's status and version; the per-step check compares them all and checks the
receipts' ledger rows line by line (P1, P2 each step; P3, P4 at the end, by the oracle).

One app and database per test, emptied at the start of each example. Examples and steps
come from the hypothesis profile (tests/conftest.py): 50 examples × 20 steps locally,
200 × 50 with HYPOTHESIS_PROFILE=ci. Both backends run the full budget: about 30 s on
PostgreSQL and 18 s on SQLite for the CI budget on a quiet two-core machine (the full
oracle after every step, and TRUNCATE per example, took 220 s and 50 s there). On a
busier one, about 55 s and 30 s, with the purchase orders as without them (same seed).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import StopTest, UnsatisfiedAssumption
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from oracle import MAX_REPORTED, assert_invariants, movements
from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Connection,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session, scoped_session

from app.clock import frozen_at
from app.extensions import db
from app.models import (
    OPEN_STATUSES,
    Location,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    StockTally,
    Store,
    Supplier,
)
from app.models.inventory import MOVEMENT_TYPES, RESERVATION_STATUSES
from app.models.tallies import COUNTS as TALLY_COUNTS
from app.permissions import system_actor
from app.services import purchasing, stock
from app.services.errors import (
    BelowReserved,
    Conflict,
    EntryHasIncoming,
    EntryHasReservations,
    ExceedsReserved,
    IdempotencyKeyReused,
    InsufficientStock,
    NotFound,
    OverReceipt,
    ReservationNotActive,
    StalePurchaseOrder,
    StaleStock,
    StockroomError,
    ValidationError,
)
from app.services.stock.engine import entries, reservations

ACTOR = system_actor("model")
# How hypothesis ends an example early (out of data, or a filter never satisfied).
CUT_SHORT = (StopTest, UnsatisfiedAssumption)
START = datetime(2030, 1, 1, 9, 0)
PRODUCTS = 2
LOCATIONS = 3
KEYS = ("key-a", "key-b", "key-c")
ORDERS = ("ORDER-1", "ORDER-2")

SERVICE: dict[str, Callable[..., Any]] = {
    "reserve": stock.reserve_stock,
    "release": stock.release_stock,
    "fulfill": stock.fulfill_stock,
    "adjust": stock.adjust_stock,
    "set": stock.set_stock,
    "count": stock.count_stock,
    "return": stock.return_stock,
    "transfer": stock.transfer_stock,
    "delete": stock.delete_entry,
}


@dataclass
class Entry:
    id: int
    product: int
    location: int
    quantity: int = 0
    reserved: int = 0
    version: int = 1
    average: int | None = None  # the moving average cost of a unit, stored scale


@dataclass
class Hold:
    id: int
    entry_id: int | None
    quantity: int
    open: int
    order_ref: str
    expires_at: datetime | None
    status: str = "active"
    product: int = 0
    location: int = 0
    line_ref: str | None = None
    bundle_id: int | None = None  # a bundle line's component hold: the bundle …
    bundle_units: int | None = None  # … and how many of it the line holds
    shipped: int = 0  # units fulfilled from this hold
    returned: int = 0  # units that came back to it by an order's return


@dataclass
class Line:
    """A purchase order line: what it orders where, at what cost, and what came."""

    id: int
    order_id: int
    product: int
    location: int
    ordered: int
    cost: int  # a unit's, stored scale (the order is in the store's currency)
    received: int = 0
    over: int = 0  # received beyond the order, confirmed

    @property
    def room(self) -> int:
        """What a receipt may take without a confirmation."""
        return self.ordered + self.over - self.received


@dataclass
class Order:
    id: int
    number: str
    lines: list[int]  # line ids, ascending
    status: str = "draft"
    version: int = 1


@dataclass
class Ok:
    """A predicted success: `apply` updates the model from (and checks) the result."""

    apply: Callable[[stock.StockChange], None]


@dataclass
class Replay:
    first: stock.StockChange


Outcome = Ok | Replay | StockroomError


@dataclass
class Model:
    entries: dict[int, Entry] = field(default_factory=dict)
    holds: dict[int, Hold] = field(default_factory=dict)
    gone: set[int] = field(default_factory=set)  # deleted entry ids
    ledger: int = 0
    now: datetime = START
    orders: dict[int, Order] = field(default_factory=dict)
    lines: dict[int, Line] = field(default_factory=dict)

    def incoming(self, product: int, location: int) -> int:
        """What open orders still bring here: ordered − received, not below 0, summed over
        their lines bound for this product and location."""
        return sum(
            max(line.ordered - line.received, 0) for line in self.lines.values()
            if (line.product, line.location) == (product, location)
            and self.orders[line.order_id].status in OPEN_STATUSES
        )

    def at(self, product: int, location: int) -> Entry | None:
        return next(
            (e for e in self.entries.values() if (e.product, e.location) == (product, location)),
            None,
        )

    def active_holds(self, entry_id: int) -> list[Hold]:
        return sorted(
            (h for h in self.holds.values() if h.entry_id == entry_id and h.status == "active"),
            key=lambda h: h.id,
        )

    def due(self, entry_id: int | None = None) -> list[Hold]:
        return [
            h for h in self.holds.values()
            if h.status == "active" and h.entry_id is not None
            and (entry_id is None or h.entry_id == entry_id)
            and h.expires_at is not None and h.expires_at <= self.now
        ]

    def expire(self, holds: list[Hold]) -> None:
        for entry_id in sorted({h.entry_id for h in holds if h.entry_id is not None}):
            mine = [h for h in holds if h.entry_id == entry_id]
            entry = self.entries[entry_id]
            entry.reserved -= sum(h.open for h in mine)
            entry.version += 1
            for h in mine:
                h.status, h.open = "expired", 0
                self.ledger += 1


def averaged(on_hand: int, average: int | None, quantity: int, cost: int | None) -> int | None:
    """The average cost of a unit once `quantity` units at `cost` join `on_hand` units at
    `average`, rounded half up (written here from the rule, not taken from the service):
    units of unknown cost leave it; with none on hand, or none known, the new units set it."""
    if cost is None or quantity <= 0:
        return average
    if average is None or on_hand <= 0:
        return cost
    exact = Fraction(on_hand * average + quantity * cost, on_hand + quantity)
    return math.floor(exact + Fraction(1, 2))


def check_entry(state: stock.EntryState, entry: Entry) -> None:
    got = (state.id, state.quantity, state.reserved_quantity, state.version, state.average_cost)
    assert got == (entry.id, entry.quantity, entry.reserved, entry.version, entry.average), (
        got, entry)


class StockMachine(RuleBasedStateMachine):
    # What each operation a step names calls; a machine with more rules adds to it.
    SERVICE = SERVICE

    def __init__(self, reset: Callable[[], None]) -> None:
        super().__init__()
        self.reset = reset
        self.model = Model()
        self.keyed: dict[str, tuple[str, dict[str, Any], stock.StockChange]] = {}
        self.products: list[int] = []
        self.locations: list[int] = []
        self.watch = LedgerWatch()
        self.reader: Connection | None = None

    # ------------------------------------------------------------------ set-up

    @initialize(
        quantities=st.lists(st.integers(0, 30), min_size=PRODUCTS * LOCATIONS,
                       max_size=PRODUCTS * LOCATIONS),
        present=st.lists(st.booleans(), min_size=PRODUCTS * LOCATIONS,
                         max_size=PRODUCTS * LOCATIONS),
    )
    def open_the_store(self, quantities: list[int], present: list[bool]) -> None:
        self.reset()
        self.watch = LedgerWatch()
        with frozen_at(START):
            store = Store(name="Model store", slug="model")
            db.session.add(store)
            db.session.flush()
            products = [Product(store_id=store.id, sku=f"SKU-{n}", title=f"Product {n}")
                        for n in range(PRODUCTS)]
            locations = [Location(store_id=store.id, code=f"LOC_{n}")
                         for n in range(LOCATIONS)]
            db.session.add_all(products + locations)
            db.session.flush()
            # Read before the commit expires them: afterwards each would be a query.
            self.products = [p.id for p in products]
            self.locations = [loc.id for loc in locations]
            self.furnish(store.id)
            db.session.commit()
            present = [True, *present[1:]]  # at least one entry to work on
            cells = [(p, loc) for p in self.products for loc in self.locations]
            for (product, location), quantity, wanted in zip(cells, quantities, present,
                                                             strict=True):
                if not wanted:
                    continue
                change = stock.create_entry(
                    actor=ACTOR, product_id=product, location_id=location, quantity=quantity
                )
                self.model.entries[change.entry.id] = Entry(
                    change.entry.id, product, location, quantity
                )
                self.model.ledger += 1 if quantity else 0

    def furnish(self, store_id: int) -> None:
        """What a machine with more rules adds to the store, in its opening transaction."""

    # ------------------------------------------------------------------ the step

    def perform(
        self, op: str, params: dict[str, Any], key: str | None,
        predict: Callable[[], Outcome],
    ) -> None:
        """Predict, call the service, compare; on success let the prediction update the
        model. A key seen before replays (same request) or is refused (another one)."""
        expires_at = params.get("expires_at")
        outcome: Outcome
        if key is not None and key in self.keyed:
            # A key seen before answers first: a repeat replays even once its expiry passed.
            first_op, first_params, first = self.keyed[key]
            same = (first_op, first_params) == (op, params)
            outcome = Replay(first) if same else IdempotencyKeyReused()
        elif expires_at is not None and expires_at <= self.model.now:
            outcome = ValidationError({"expires_at": "Must be in the future."})
        else:
            outcome = predict()
        try:
            with frozen_at(self.model.now):
                change = self.SERVICE[op](actor=ACTOR, idempotency_key=key, **params)
        except StockroomError as exc:
            assert isinstance(outcome, StockroomError), (
                f"{op} {params}: raised {exc!r}, the model expected {outcome}"
            )
            assert (type(exc), str(exc)) == (type(outcome), str(outcome))
            if outcome.fields:
                assert exc.fields == outcome.fields
            return
        assert not isinstance(outcome, StockroomError), (
            f"{op} {params}: succeeded, the model expected {outcome!r}"
        )
        if isinstance(outcome, Replay):
            assert change.replayed
            self.check_replay(op, change, outcome.first)
            return
        assert not change.replayed
        outcome.apply(change)
        if key is not None:
            self.keyed[key] = (op, params, change)

    def check_replay(self, op: str, again: Any, first: Any) -> None:
        """A repeat gives the first result back."""
        assert replace(again, replayed=False) == first

    def pick_entry(
        self, data: st.DataObject, prefer: Callable[[Entry], bool] | None = None
    ) -> int:
        """Mostly a live entry (mostly one that `prefer`s, if any do), now and then one
        that was deleted."""
        live = sorted(self.model.entries)
        gone = sorted(self.model.gone)
        if gone and data.draw(st.integers(0, 9), label="deleted?") == 0:
            return data.draw(st.sampled_from(gone), label="deleted entry")
        preferred = [i for i in live if prefer is not None and prefer(self.model.entries[i])]
        if preferred and data.draw(st.integers(0, 4), label="preferred?"):
            return data.draw(st.sampled_from(preferred), label="preferred entry")
        return data.draw(st.sampled_from(live), label="entry")

    @staticmethod
    def key(data: st.DataObject) -> str | None:
        return data.draw(st.none() | st.sampled_from(KEYS), label="key")

    # ------------------------------------------------------------------ rules

    @precondition(lambda self: self.model.entries)
    @rule(data=st.data(), quantity=st.integers(1, 6), order=st.sampled_from(ORDERS),
          expires_in=st.none() | st.integers(1, 60))
    def reserve(
        self, data: st.DataObject, quantity: int, order: str, expires_in: int | None
    ) -> None:
        # Mostly an entry where it can succeed, counting holds past their expiry as free.
        entry_id = self.pick_entry(data, prefer=lambda e: self.obtainable(e) >= quantity)
        self.reserve_units(data, entry_id, quantity, order, expires_in)

    @precondition(lambda self: self.model.entries)
    @rule(data=st.data(), order=st.sampled_from(ORDERS), expires_in=st.none() | st.integers(1, 60))
    def reserve_at_the_limit(
        self, data: st.DataObject, order: str, expires_in: int | None
    ) -> None:
        """Exactly what is available, a little more (reclaiming holds past their expiry),
        or one unit too many."""
        m = self.model
        entry_id = self.pick_entry(data)
        e = m.entries.get(entry_id)
        available = e.quantity - e.reserved if e else 0
        extra = data.draw(st.integers(0, (self.obtainable(e) if e else 0) - available + 1),
                          label="beyond available")
        self.reserve_units(data, entry_id, max(1, available + extra), order, expires_in)

    def obtainable(self, e: Entry) -> int:
        """What a reservation can get: available, plus the holds past their expiry."""
        return e.quantity - e.reserved + sum(h.open for h in self.model.due(e.id))

    def reserve_units(
        self, data: st.DataObject, entry_id: int, quantity: int, order_ref: str,
        expires_in: int | None,
    ) -> None:
        m = self.model
        expires_at = None if expires_in is None else m.now + timedelta(minutes=expires_in)
        params = {"entry_id": entry_id, "quantity": quantity, "order_ref": order_ref,
                  "expires_at": expires_at}

        def predict() -> Outcome:
            if entry_id not in m.entries:
                return NotFound("Inventory entry not found.")
            e = m.entries[entry_id]
            available, due = e.quantity - e.reserved, []
            if quantity > available:
                # A short reservation first retires the entry's holds past their expiry.
                due = m.due(entry_id)
                available += sum(h.open for h in due)
                if not due or quantity > available:
                    return InsufficientStock(available, quantity)

            def apply(change: stock.StockChange) -> None:
                m.expire(due)
                e.reserved += quantity
                e.version += 1
                m.ledger += 1
                (rid,) = change.reservation_ids
                assert rid not in m.holds
                m.holds[rid] = Hold(rid, e.id, quantity, quantity, order_ref, expires_at,
                                    product=e.product, location=e.location)
                check_entry(change.entry, e)

            return Ok(apply)

        self.perform("reserve", params, self.key(data), predict)

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data(), fulfil=st.booleans(), whole=st.booleans())
    def close_a_hold(self, data: st.DataObject, fulfil: bool, whole: bool) -> None:
        m = self.model
        active = sorted(h.id for h in m.holds.values() if h.status == "active")
        if active and data.draw(st.integers(0, 4), label="an active hold?"):
            hold = m.holds[data.draw(st.sampled_from(active), label="hold")]
        else:
            hold = m.holds[data.draw(st.sampled_from(sorted(m.holds)), label="any hold")]
        # Now and then one unit more than the hold has left.
        quantity = None if whole else data.draw(st.integers(1, hold.open + 1), label="quantity")
        verb = "fulfill" if fulfil else "release"
        params = {"reservation_id": hold.id, "quantity": quantity}

        def predict() -> Outcome:
            if hold.status != "active" or hold.entry_id is None:
                return ReservationNotActive(hold.id, hold.status)
            amount = quantity if quantity is not None else hold.open
            e = m.entries[hold.entry_id]
            if amount > e.reserved:
                return ExceedsReserved(verb, amount, e.reserved)
            if amount > hold.open:
                return ExceedsReserved(verb, amount, hold.open)
            return Ok(lambda change: self.take(change, e, [(hold, amount)], verb))

        self.perform(verb, params, self.key(data), predict)

    @precondition(lambda self: self.model.entries)
    @rule(data=st.data(), fulfil=st.booleans(), order=st.none() | st.sampled_from(ORDERS))
    def close_by_quantity(self, data: st.DataObject, fulfil: bool, order: str | None) -> None:
        m = self.model
        entry_id = self.pick_entry(data, prefer=lambda e: e.reserved > 0)
        reserved = m.entries[entry_id].reserved if entry_id in m.entries else 0
        quantity = data.draw(st.integers(1, reserved + 1), label="quantity")
        verb = "fulfill" if fulfil else "release"
        order_ref = order
        params = {"entry_id": entry_id, "quantity": quantity, "order_ref": order_ref}

        def predict() -> Outcome:
            if entry_id not in m.entries:
                return NotFound("Inventory entry not found.")
            e = m.entries[entry_id]
            if quantity > e.reserved:
                return ExceedsReserved(verb, quantity, e.reserved)
            holds = [h for h in m.active_holds(e.id)
                     if order_ref is None or h.order_ref == order_ref]
            if quantity > sum(h.open for h in holds):
                return ExceedsReserved(verb, quantity, sum(h.open for h in holds))
            pieces, left = [], quantity
            for h in holds:  # oldest first
                if left:
                    pieces.append((h, min(left, h.open)))
                    left -= pieces[-1][1]
            return Ok(lambda change: self.take(change, e, pieces, verb))

        self.perform(verb, params, self.key(data), predict)

    def take(
        self, change: stock.StockChange, e: Entry, pieces: list[tuple[Hold, int]],
        verb: str,
    ) -> None:
        amount = sum(taken for _, taken in pieces)
        for hold, taken in pieces:
            hold.open -= taken
            hold.shipped += taken if verb == "fulfill" else 0
            if hold.open == 0:
                hold.status = "fulfilled" if verb == "fulfill" else "released"
            self.model.ledger += 1
        e.reserved -= amount
        if verb == "fulfill":
            e.quantity -= amount
        e.version += 1
        assert change.reservation_ids == tuple(h.id for h, _ in pieces)
        assert len(change.movement_ids) == len(pieces)
        check_entry(change.entry, e)

    @precondition(lambda self: self.model.entries)
    @rule(data=st.data(), delta=st.integers(-12, 12).filter(bool))
    def adjust(self, data: st.DataObject, delta: int) -> None:
        m = self.model
        entry_id = self.pick_entry(data)
        params = {"entry_id": entry_id, "delta": delta, "reason": "Model"}

        def predict() -> Outcome:
            if entry_id not in m.entries:
                return NotFound("Inventory entry not found.")
            e = m.entries[entry_id]
            if e.quantity + delta < e.reserved:
                return InsufficientStock(e.quantity - e.reserved, -delta)
            return Ok(lambda change: self.moved(change, e, delta))

        self.perform("adjust", params, self.key(data), predict)

    @precondition(lambda self: self.model.entries)
    @rule(data=st.data(), quantity=st.integers(1, 6))
    def return_units(self, data: st.DataObject, quantity: int) -> None:
        m = self.model
        entry_id = self.pick_entry(data)
        params = {"entry_id": entry_id, "quantity": quantity, "reason": "Returned"}

        def predict() -> Outcome:
            if entry_id not in m.entries:
                return NotFound("Inventory entry not found.")
            e = m.entries[entry_id]
            return Ok(lambda change: self.moved(change, e, quantity))

        self.perform("return", params, self.key(data), predict)

    def moved(self, change: stock.StockChange, e: Entry, delta: int) -> None:
        e.quantity += delta
        e.version += 1
        self.model.ledger += 1
        check_entry(change.entry, e)

    @precondition(lambda self: self.model.entries)
    @rule(data=st.data(), counting=st.booleans(), quantity=st.integers(0, 25),
          form=st.sampled_from(["none", "version", "stale-version", "quantity",
                                "stale-quantity"]))
    def set_or_count(self, data: st.DataObject, counting: bool, quantity: int, form: str) -> None:
        m = self.model
        entry_id = self.pick_entry(data)
        e = m.entries.get(entry_id)
        version = e.version if e else 1
        on_hand = e.quantity if e else 0
        op = "count" if counting else "set"
        params = {
            "entry_id": entry_id, "counted_quantity" if counting else "quantity": quantity,
            "expected_version": {"version": version, "stale-version": version + 1}.get(form),
            "expected_quantity": {"quantity": on_hand, "stale-quantity": on_hand + 1}.get(form),
        }

        def predict() -> Outcome:
            if e is None:
                return NotFound("Inventory entry not found.")
            if form.startswith("stale"):
                return StaleStock(e.quantity, e.reserved, e.version)
            if quantity < e.reserved:
                return BelowReserved(quantity, e.reserved, counted=counting)

            def apply(change: stock.StockChange) -> None:
                assert change.previous_quantity == e.quantity
                if counting:
                    assert change.details == {"discrepancy": quantity - e.quantity}
                self.moved(change, e, quantity - e.quantity)

            return Ok(apply)

        self.perform(op, params, self.key(data), predict)

    @rule(data=st.data(), quantity=st.integers(1, 10))
    def transfer(self, data: st.DataObject, quantity: int) -> None:
        m = self.model
        if m.entries and data.draw(st.integers(0, 5), label="from an entry?"):
            e = m.entries[data.draw(st.sampled_from(sorted(m.entries)), label="source")]
            product, source = e.product, e.location
            target = data.draw(
                st.sampled_from([loc for loc in self.locations if loc != source]), label="to"
            )
        else:
            product = data.draw(st.sampled_from(self.products), label="product")
            source, target = data.draw(
                st.permutations(self.locations).map(lambda p: p[:2]), label="from, to"
            )
        params = {"product_id": product, "from_location_id": source,
                  "to_location_id": target, "quantity": quantity}

        def predict() -> Outcome:
            src = m.at(product, source)
            if src is None:
                return NotFound("This product has no stock at the source location.")
            if quantity > src.quantity - src.reserved:
                return InsufficientStock(src.quantity - src.reserved, quantity)

            def apply(change: stock.StockChange) -> None:
                dst = m.at(product, target)
                if dst is None:  # the transfer created it
                    dst = Entry(change.entries[1].id, product, target)
                    assert dst.id not in m.entries and dst.id not in m.gone
                    m.entries[dst.id] = dst
                # The units arrive at the source's average cost.
                dst.average = averaged(dst.quantity, dst.average, quantity, src.average)
                src.quantity -= quantity
                dst.quantity += quantity
                src.version += 1
                dst.version += 1
                m.ledger += 2
                check_entry(change.entries[0], src)
                check_entry(change.entries[1], dst)

            return Ok(apply)

        self.perform("transfer", params, self.key(data), predict)

    # Deleting the last few entries would leave the other rules little to do.
    @precondition(lambda self: len(self.model.entries) > 2)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        m = self.model
        entry_id = self.pick_entry(data)
        params = {"entry_id": entry_id}

        def predict() -> Outcome:
            if entry_id not in m.entries:
                return NotFound("Inventory entry not found.")
            e = m.entries[entry_id]
            if e.reserved:
                return EntryHasReservations(e.reserved)
            if m.incoming(e.product, e.location):
                return EntryHasIncoming(m.incoming(e.product, e.location))

            def apply(change: stock.StockChange) -> None:
                assert change.previous_quantity == e.quantity
                del m.entries[e.id]
                m.gone.add(e.id)
                for hold in m.holds.values():
                    if hold.entry_id == e.id:
                        hold.entry_id = None
                m.ledger += 1

            return Ok(apply)

        self.perform("delete", params, self.key(data), predict)

    @rule(minutes=st.integers(1, 90))
    def time_passes(self, minutes: int) -> None:
        self.model.now += timedelta(minutes=minutes)

    @rule()
    def sweep(self) -> None:
        due = self.model.due()
        with frozen_at(self.model.now):
            assert stock.expire_reservations() == len(due)
        self.model.expire(due)

    @precondition(lambda self: self.keyed)
    @rule(data=st.data())
    def repeat_a_keyed_request(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.keyed)), label="repeated key")
        op, params, _ = self.keyed[key]

        def unreachable() -> Outcome:
            raise AssertionError("perform() answers a stored key without a prediction")

        self.perform(op, params, key, unreachable)

    # ------------------------------------------------------------------ after every step

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        """The model's entries, holds and ledger length, and I1–I4, from one read: the ledger
        rows added by the step are replayed onto running sums kept here, and the ledger's
        per-entry totals (count and sums over every row) must equal those sums."""
        m = self.model
        if self.reader is None and db.engine.dialect.name == "postgresql":
            # A connection of its own for these reads, outside any transaction: one round
            # trip a step (one statement, so one snapshot). SQLite reads in-process, and
            # its connections keep the transaction handling app/database.py gives them.
            self.reader = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        snapshot = read_snapshot(self.reader or db.session, self.watch.last_id)
        stored = {
            e.id: Entry(e.id, e.product_id, e.location_id, e.quantity, e.reserved, e.version,
                        e.average_cost)
            for e in snapshot.entries.values()
        }
        assert stored == m.entries
        # Incoming is what the model's open orders still bring, and whatever is on its way
        # somewhere has an entry there to arrive at (P1).
        assert {e.id: e.incoming for e in snapshot.entries.values()} == {
            e.id: m.incoming(e.product, e.location) for e in m.entries.values()
        }
        for line in m.lines.values():
            if m.incoming(line.product, line.location):
                assert m.at(line.product, line.location) is not None, line
        assert {
            x.id: (x.order_id, x.product_id, x.location_id, x.ordered, x.received, x.over,
                   x.unit_cost, x.status, x.version, x.number)
            for x in snapshot.lines.values()
        } == {
            x.id: (x.order_id, x.product, x.location, x.ordered, x.received, x.over, x.cost,
                   m.orders[x.order_id].status, m.orders[x.order_id].version,
                   m.orders[x.order_id].number)
            for x in m.lines.values()
        }
        assert {
            h.id: (h.entry_id, h.product_id, h.location_id, h.quantity, h.open_quantity,
                   h.status, h.order_ref, h.line_ref, h.bundle_id, h.bundle_units)
            for h in snapshot.holds.values()
        } == {
            h.id: (h.entry_id, h.product, h.location, h.quantity, h.open, h.status,
                   h.order_ref, h.line_ref, h.bundle_id, h.bundle_units)
            for h in m.holds.values()
        }
        assert sum(count for count, _, _ in snapshot.totals.values()) == m.ledger
        # The overview's totals, kept by triggers, equal a count of the entries.
        zero = (0,) * len(TALLY_COUNTS)
        assert {k: v for k, v in snapshot.tallies.items() if v != zero} == \
            snapshot.recounted_tallies()
        problems = (self.watch.violations(snapshot) + self.receipt_violations(snapshot)
                    + self.more_violations(snapshot))
        assert not problems, "\n  ".join([f"{len(problems)} invariant violation(s):",
                                            *problems[:MAX_REPORTED]])

    def receipt_violations(self, snapshot: Snapshot) -> list[str]:
        """P2 step by step: each new ledger row naming a purchase order line is a receipt
        of it, at its place, at its cost, referring to its order; and what those rows
        brought, line by line, is what each line has received."""
        m = self.model
        problems = []
        for mv in snapshot.new_movements:
            if mv.purchase_order_line_id is None:
                continue  # (a new entry's opening stock is `received` too)
            line = m.lines.get(mv.purchase_order_line_id)
            self.watch.delivered[mv.purchase_order_line_id] = \
                self.watch.delivered.get(mv.purchase_order_line_id, 0) + mv.quantity_delta
            if line is None:
                problems.append(f"P2 movement {mv.id}: names line {mv.purchase_order_line_id}, "
                                "which the model does not have")
                continue
            seen = (mv.type, mv.product_id, mv.location_id, mv.unit_cost, mv.reference)
            wanted = ("received", line.product, line.location, line.cost,
                      m.orders[line.order_id].number)
            if seen != wanted or mv.quantity_delta <= 0 or mv.reserved_delta:
                problems.append(f"P2 movement {mv.id} ({mv.quantity_delta:+}): {seen}, "
                                f"receiving line {line.id} should be {wanted}")
        received = {x.id: x.received for x in m.lines.values() if x.received}
        if self.watch.delivered != received:
            problems.append(f"P2 the ledger brought {self.watch.delivered} by line, the lines "
                            f"received {received}")
        return problems

    def more_violations(self, snapshot: Snapshot) -> list[str]:
        """What a machine with more rules checks after every step besides."""
        return []

    def teardown(self) -> None:
        # Before the next example replaces the database (a new file, on SQLite).
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        # The whole oracle once an example's steps are done (both ledger verifiers, the
        # replay from zero), also when hypothesis cuts an example short, but not when a
        # step failed: that failure is the one to report.
        leaving = sys.exc_info()[1]
        if self.products and (leaving is None or isinstance(leaving, CUT_SHORT)):
            assert_invariants()


# ---------------------------------------------------------------------- purchasing

PURCHASING_SERVICE: dict[str, Callable[..., Any]] = {
    "create_po": purchasing.create_purchase_order,
    "order_po": purchasing.order_purchase_order,
    "cancel_po": purchasing.cancel_purchase_order,
    "receive_po": purchasing.receive_purchase_order,
}
# The verbs that answer with the order itself: a repeat answers with the order as it
# stands now, not as the first call left it.
ORDER_VIEWS = ("create_po", "order_po", "cancel_po")
# How a call names the order's version: not at all (mostly), as it stands, or stale.
VERSION_FORMS = st.sampled_from(["none", "none", "none", "version", "stale"])


def text_amount(stored: int) -> str:
    """A stored cost as the decimal text a caller sends: 12345 is "1.2345"."""
    return f"{stored // 10_000}.{stored % 10_000:04d}"


class PurchasingMachine(StockMachine):
    """The stock model with purchase orders: drafts of a line or two, placed with the
    supplier (an entry made, empty, where one is missing), received in part, in full or
    beyond the order (only when confirmed), and cancelled. The model predicts every
    outcome, and after each step each entry's incoming (what its open lines still bring),
    on hand and average cost, and every line's received and over-received quantities and
    its order's status and version must equal the database's."""

    SERVICE = {**SERVICE, **PURCHASING_SERVICE}

    def __init__(self, reset: Callable[[], None]) -> None:
        super().__init__(reset)
        self.supplier = 0
        self.created: int | None = None  # the order the last create made

    def furnish(self, store_id: int) -> None:
        supplier = Supplier(store_id=store_id, name="Model supplier", currency="USD")
        db.session.add(supplier)
        db.session.flush()
        self.supplier = supplier.id

    def label(self, line: Line) -> str:
        """How an over-receipt names a line: "SKU at CODE"."""
        return (f"SKU-{self.products.index(line.product)} at "
                f"LOC_{self.locations.index(line.location)}")

    @staticmethod
    def order_key(data: st.DataObject) -> str | None:
        """A key for one call in four: half of them, as the stock rules draw keys, would
        mostly meet a key used already and be refused before the order is looked at."""
        if data.draw(st.integers(0, 3), label="keyed?"):
            return None
        return data.draw(st.sampled_from(KEYS), label="key")

    def pick_order(self, data: st.DataObject, prefer: Callable[[Order], bool], odds: int = 4
                   ) -> Order:
        """An order that `prefer`s (if any does) `odds` times in `odds` + 1, else any."""
        m = self.model
        preferred = [i for i in sorted(m.orders) if prefer(m.orders[i])]
        if preferred and data.draw(st.integers(0, odds), label="preferred order?"):
            return m.orders[data.draw(st.sampled_from(preferred), label="order")]
        return m.orders[data.draw(st.sampled_from(sorted(m.orders)), label="any order")]

    @staticmethod
    def version(order: Order, form: str) -> int | None:
        return {"version": order.version, "stale": order.version + 1}.get(form)

    def check_order(self, view: purchasing.PurchaseOrderView, order: Order) -> None:
        m = self.model
        got = (view.id, view.number, view.supplier_id, view.status, view.version,
               sorted((x.id, x.product_id, x.location_id, x.ordered_qty, x.received_qty,
                       x.over_received_qty, x.unit_cost) for x in view.lines))
        wanted = (order.id, order.number, self.supplier, order.status, order.version,
                  [(x.id, x.product, x.location, x.ordered, x.received, x.over,
                    Decimal(x.cost).scaleb(-4)) for x in map(m.lines.__getitem__, order.lines)])
        assert got == wanted, (got, wanted)

    def check_replay(self, op: str, again: Any, first: Any) -> None:
        if op in ORDER_VIEWS:
            self.check_order(again, self.model.orders[first.id])
        else:
            super().check_replay(op, again, first)

    def stale(self, order: Order) -> StalePurchaseOrder:
        return StalePurchaseOrder(order.number, order.version)

    def not_open(self, order: Order, tail: str) -> Conflict:
        return Conflict(f"{order.number} is {purchasing.STATUS_LABELS[order.status].lower()}: "
                        + tail)

    # ------------------------------------------------------------------ rules

    @rule(data=st.data(), place=st.integers(0, 4))
    def place_an_order(self, data: st.DataObject, place: int) -> None:
        """A draft of a line or two (anywhere: an entry or not), mostly ordered at once."""
        m = self.model
        cells = [(p, loc) for p in self.products for loc in self.locations]
        pairs = data.draw(st.lists(st.sampled_from(cells), min_size=1, max_size=2,
                                   unique=True), label="where")
        wanted = [(product, location,
                   data.draw(st.integers(1, 8), label="quantity"),
                   data.draw(st.integers(0, 40_000), label="unit cost"))
                  for product, location in pairs]
        params = {"supplier_id": self.supplier, "lines": [
            {"product_id": p, "location_id": loc, "quantity": q, "unit_cost": text_amount(c)}
            for p, loc, q, c in wanted]}

        def predict() -> Outcome:
            def apply(view: purchasing.PurchaseOrderView) -> None:
                number = f"PO-{len(m.orders) + 1:04d}"
                made = {(x.product_id, x.location_id): x.id for x in view.lines}
                assert sorted(made) == sorted(pairs), (made, pairs)
                for p, loc, q, c in wanted:
                    assert made[(p, loc)] not in m.lines
                    m.lines[made[(p, loc)]] = Line(made[(p, loc)], view.id, p, loc, q, c)
                assert view.id not in m.orders
                m.orders[view.id] = Order(view.id, number, sorted(made.values()))
                self.check_order(view, m.orders[view.id])
                self.created = view.id

            return Ok(apply)

        self.created = None
        self.perform("create_po", params, self.order_key(data), predict)
        if self.created is not None and place:
            self.order_it(data, m.orders[self.created], "none")

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data(), form=VERSION_FORMS)
    def order_a_draft(self, data: st.DataObject, form: str) -> None:
        order = self.pick_order(data, prefer=lambda o: o.status == "draft")
        self.order_it(data, order, form)

    def order_it(self, data: st.DataObject, order: Order, form: str) -> None:
        m = self.model
        params = {"order_id": order.id, "expected_version": self.version(order, form)}

        def predict() -> Outcome:
            if form == "stale":
                return self.stale(order)
            if order.status != "draft":
                return self.not_open(order, "only a draft can be ordered.")

            def apply(view: purchasing.PurchaseOrderView) -> None:
                order.status = "ordered"
                order.version += 1
                # Where nothing was tracked yet, an empty entry awaits the delivery.
                for line in map(m.lines.__getitem__, order.lines):
                    if m.at(line.product, line.location) is None:
                        self.adopt_entry(line.product, line.location)
                self.check_order(view, order)

            return Ok(apply)

        self.perform("order_po", params, self.order_key(data), predict)

    def adopt_entry(self, product: int, location: int) -> None:
        """An entry the service made, empty: the model learns its id from the database."""
        entry_id = db.session.execute(
            select(entries.c.id).where(entries.c.product_id == product,
                                       entries.c.location_id == location)
        ).scalar_one()
        db.session.rollback()
        m = self.model
        assert entry_id not in m.entries and entry_id not in m.gone
        m.entries[entry_id] = Entry(entry_id, product, location)

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data(), form=VERSION_FORMS, confirm=st.integers(0, 3))
    def receive(self, data: st.DataObject, form: str, confirm: int) -> None:
        """Some of an order's lines (named by line or by product and location), each part
        of what it awaits, all of it, or a unit or two beyond; the over-receipt confirmed
        now and then."""
        m = self.model
        order = self.pick_order(data, prefer=lambda o: o.status in OPEN_STATUSES, odds=8)
        chosen = data.draw(st.lists(st.sampled_from(order.lines), min_size=1,
                                    max_size=len(order.lines), unique=True), label="lines")
        plan = [(m.lines[i], self.some_of(data, m.lines[i].room)) for i in chosen]
        self.receive_lines(data, order, plan, confirm == 0, form)

    @staticmethod
    def some_of(data: st.DataObject, room: int) -> int:
        """Part of what a line awaits, all of it, or one to three units beyond."""
        how = data.draw(st.sampled_from(["part", "all", "beyond"]), label="how much")
        if how == "part" and room > 1:
            return data.draw(st.integers(1, room - 1), label="part")
        if how == "all" and room > 0:
            return room
        return max(room, 0) + data.draw(st.integers(1, 3), label="beyond")

    @precondition(lambda self: any(o.status in OPEN_STATUSES
                                   for o in self.model.orders.values()))
    @rule(data=st.data())
    def receive_the_rest(self, data: st.DataObject) -> None:
        """Everything an open order still awaits, every line at once."""
        m = self.model
        order = self.pick_order(data, prefer=lambda o: o.status in OPEN_STATUSES)
        plan = [(line, line.ordered - line.received)
                for line in map(m.lines.__getitem__, order.lines)
                if line.ordered > line.received]
        if plan:
            self.receive_lines(data, order, plan, False, "none")

    def receive_lines(self, data: st.DataObject, order: Order, plan: list[tuple[Line, int]],
                      confirm_over: bool, form: str) -> None:
        m = self.model
        sent: list[dict[str, int]] = [
            {"line_id": line.id, "quantity": quantity}
            if data.draw(st.integers(0, 3), label="by line id?") else
            {"product_id": line.product, "location_id": line.location, "quantity": quantity}
            for line, quantity in plan
        ]
        params = {"order_id": order.id, "lines": sent, "confirm_over": confirm_over,
                  "expected_version": self.version(order, form)}

        def predict() -> Outcome:
            if form == "stale":
                return self.stale(order)
            if order.status not in OPEN_STATUSES:
                return self.not_open(order, "only an ordered purchase order is received.")
            overs = [max(quantity - line.room, 0) for line, quantity in plan]
            refused = [
                {"field": f"lines[{n}].quantity", "label": self.label(line),
                 "quantity": quantity, "ordered": line.ordered, "received": line.received,
                 "over": over}
                for n, ((line, quantity), over) in enumerate(zip(plan, overs, strict=True))
                if over
            ]
            if refused and not confirm_over:
                return OverReceipt(order.number, refused)

            def apply(change: stock.StockChange) -> None:
                states = {(s.product_id, s.location_id): s for s in change.entries}
                assert len(states) == len(plan)
                assert [s.id for s in change.entries] == sorted(s.id for s in change.entries)
                for (line, quantity), over in zip(plan, overs, strict=True):
                    e = m.at(line.product, line.location)
                    if e is None:  # deleted since the order was placed: made again
                        e = Entry(states[(line.product, line.location)].id, line.product,
                                  line.location)
                        assert e.id not in m.entries and e.id not in m.gone
                        m.entries[e.id] = e
                    e.average = averaged(e.quantity, e.average, quantity, line.cost)
                    e.quantity += quantity
                    e.version += 1
                    m.ledger += 1
                    line.received += quantity
                    line.over += over
                    check_entry(states[(line.product, line.location)], e)
                complete = all(m.lines[i].received >= m.lines[i].ordered for i in order.lines)
                order.status = "received" if complete else "partially_received"
                order.version += 1
                assert change.details == {
                    "order_id": order.id, "number": order.number, "status": order.status,
                    "lines": [{"line_id": line.id, "quantity": quantity, "over": over}
                              for (line, quantity), over in zip(plan, overs, strict=True)],
                }
                assert len(change.movement_ids) == len(plan)

            return Ok(apply)

        self.perform("receive_po", params, self.order_key(data), predict)

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data(), form=VERSION_FORMS)
    def cancel_an_order(self, data: st.DataObject, form: str) -> None:
        """Mostly an order received in part (if there is one), else a draft or an order
        not received yet, now and then one that is closed already."""
        m = self.model
        partly = any(o.status == "partially_received" for o in m.orders.values())
        order = self.pick_order(
            data, odds=4, prefer=lambda o: o.status == "partially_received" if partly
            else o.status in ("draft", "ordered"))
        params = {"order_id": order.id, "expected_version": self.version(order, form)}

        def predict() -> Outcome:
            if form == "stale":
                return self.stale(order)
            if order.status in ("received", "cancelled"):
                return self.not_open(order, "there is nothing left to cancel.")

            def apply(view: purchasing.PurchaseOrderView) -> None:
                order.status = "cancelled"
                order.version += 1
                self.check_order(view, order)

            return Ok(apply)

        self.perform("cancel_po", params, self.order_key(data), predict)


# ---------------------------------------------------------------------- the per-step read

# One UNION ALL of every entry, every hold, every purchase order line with its order, the
# ledger rows past a given id, and per entry the ledger's row count and sums over all its
# rows: a single statement, so one snapshot and one round trip. Each row is a kind, up to
# WIDTH integers and up to WORDS strings.
WIDTH = 14
WORDS = 4
ENTRY, HOLD, MOVEMENT, TOTAL, TALLY, LINE = 1, 2, 3, 4, 5, 6
purchase_lines = PurchaseOrderLine.__table__
purchase_orders = PurchaseOrder.__table__


def _branch(kind: int, numbers: list[Any], words: tuple[Any, ...] = ()) -> Select[Any]:
    ints = [cast(n, BigInteger) for n in numbers]
    ints += [cast(null(), BigInteger)] * (WIDTH - len(numbers))
    strs = [cast(w, String) for w in words] + [cast(null(), String)] * (WORDS - len(words))
    columns = [literal_column(str(kind)), *ints, *strs]
    return select(*(c.label(f"c{i}") for i, c in enumerate(columns)))


def _snapshot_query() -> CompoundSelect:
    e, h, mv, t = entries.c, reservations.c, movements.c, StockTally.__table__.c
    pl, po = purchase_lines.c, purchase_orders.c
    return union_all(
        _branch(ENTRY, [e.id, e.store_id, e.product_id, e.location_id, e.quantity,
                        e.reserved_quantity, e.version, e.incoming_quantity, e.average_cost]),
        _branch(HOLD, [h.id, h.entry_id, h.store_id, h.product_id, h.location_id, h.quantity,
                       h.open_quantity, h.bundle_id, h.bundle_units],
                (h.status, h.order_ref, h.line_ref)),
        _branch(MOVEMENT, [mv.id, mv.entry_id, mv.store_id, mv.product_id, mv.location_id,
                           mv.quantity_delta, mv.reserved_delta, mv.quantity_after,
                           mv.reserved_after, Product.store_id, Location.store_id,
                           mv.reservation_id, mv.purchase_order_line_id, mv.unit_cost],
                (mv.type, mv.actor_name, mv.reason, mv.reference))
        .select_from(movements)
        .outerjoin(Product, Product.id == mv.product_id)
        .outerjoin(Location, Location.id == mv.location_id)
        .where(mv.id > bindparam("after")),
        _branch(TOTAL, [mv.entry_id, func.count(), func.sum(mv.quantity_delta),
                        func.sum(mv.reserved_delta)])
        .group_by(mv.entry_id),
        _branch(TALLY, [t.store_id, t.location_id,
                        *(func.sum(t[c]) for c in TALLY_COUNTS)])
        .group_by(t.store_id, t.location_id),
        _branch(LINE, [pl.id, pl.order_id, pl.product_id, pl.location_id, pl.ordered_qty,
                       pl.received_qty, pl.over_received_qty, pl.unit_cost, po.version],
                (po.status, po.number))
        .select_from(purchase_lines.join(purchase_orders, po.id == pl.order_id)),
    )


SNAPSHOT = _snapshot_query()


@dataclass(frozen=True)
class EntryRow:
    id: int
    store_id: int
    product_id: int
    location_id: int
    quantity: int
    reserved: int
    version: int
    incoming: int
    average_cost: int | None


@dataclass(frozen=True)
class HoldRow:
    id: int
    entry_id: int | None
    store_id: int
    product_id: int
    location_id: int
    quantity: int
    open_quantity: int
    bundle_id: int | None
    bundle_units: int | None
    status: str
    order_ref: str
    line_ref: str | None


@dataclass(frozen=True)
class MovementRow:
    id: int
    entry_id: int
    store_id: int
    product_id: int
    location_id: int
    quantity_delta: int
    reserved_delta: int
    quantity_after: int | None
    reserved_after: int | None
    product_store: int | None
    location_store: int | None
    reservation_id: int | None
    purchase_order_line_id: int | None
    unit_cost: int | None
    type: str
    actor_name: str | None
    reason: str | None
    reference: str | None


@dataclass(frozen=True)
class LineRow:
    """A purchase order line, with its order's version, status and number."""

    id: int
    order_id: int
    product_id: int
    location_id: int
    ordered: int
    received: int
    over: int
    unit_cost: int
    version: int
    status: str
    number: str


@dataclass
class Snapshot:
    entries: dict[int, EntryRow] = field(default_factory=dict)
    holds: dict[int, HoldRow] = field(default_factory=dict)
    new_movements: list[MovementRow] = field(default_factory=list)
    # entry id → (ledger rows, sum of quantity deltas, sum of reserved deltas)
    totals: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    # (store, location) → the stock tallies' sums, in TALLY_COUNTS order
    tallies: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)
    lines: dict[int, LineRow] = field(default_factory=dict)

    def recounted_tallies(self) -> dict[tuple[int, int], tuple[int, ...]]:
        """What the tallies must sum to, counted from the entries: the model's products are
        physical without backorders and its entries have no threshold, so an entry is out
        of stock when nothing is available and never low or on backorder."""
        counted: dict[tuple[int, int], list[int]] = {}
        for e in self.entries.values():
            place = counted.setdefault((e.store_id, e.location_id), [0] * len(TALLY_COUNTS))
            for i, value in enumerate((1, e.quantity, e.reserved, 0,
                                       int(e.quantity - e.reserved <= 0), 0)):
                place[i] += value
        return {key: tuple(sums) for key, sums in counted.items()}


def read_snapshot(reader: Connection | scoped_session[Session], after: int) -> Snapshot:
    """Everything committed so far (the movements: those with an id above `after`)."""
    snapshot = Snapshot()
    reader.rollback()  # a fresh snapshot
    try:
        rows = reader.execute(SNAPSHOT, {"after": after}).all()
    finally:
        reader.rollback()
    for kind, *values in rows:
        n = [None if v is None else int(v) for v in values[:WIDTH]]
        words = values[WIDTH:]
        if kind == ENTRY:
            snapshot.entries[n[0]] = EntryRow(*n[:9])
        elif kind == HOLD:
            snapshot.holds[n[0]] = HoldRow(*n[:9], *words[:3])
        elif kind == MOVEMENT:
            snapshot.new_movements.append(MovementRow(*n, *words))
        elif kind == TOTAL:
            snapshot.totals[n[0]] = (n[1], n[2], n[3])
        elif kind == LINE:
            snapshot.lines[n[0]] = LineRow(*n[:9], *words[:2])
        else:
            snapshot.tallies[(n[0], n[1])] = tuple(n[2:2 + len(TALLY_COUNTS)])
    snapshot.new_movements.sort(key=lambda mv: mv.id)
    return snapshot


@dataclass
class LedgerWatch:
    """I1–I4 checked step by step: the ledger is replayed as it grows, onto running sums
    per entry, and every new row is checked once; the ledger's own per-entry totals, read
    in the same snapshot, must equal the running sums, so a row changed or lost after it
    was replayed still shows."""

    last_id: int = 0
    running: dict[int, list[int]] = field(default_factory=dict)  # entry → [rows, q, r]
    delivered: dict[int, int] = field(default_factory=dict)  # purchase order line → units
    places: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # store/prod/loc

    def violations(self, snap: Snapshot) -> list[str]:
        problems: list[str] = []
        for e in snap.entries.values():
            self.places.setdefault(e.id, (e.store_id, e.product_id, e.location_id))
            if (e.store_id, e.product_id, e.location_id) != self.places[e.id]:
                problems.append(f"entry {e.id}: moved to {e.store_id}/{e.product_id}/"
                                f"{e.location_id} from {self.places[e.id]}")
            # I1: 0 ≤ reserved ≤ quantity.
            if not 0 <= e.reserved <= e.quantity:
                problems.append(f"I1 entry {e.id}: reserved {e.reserved}, quantity {e.quantity}")

        # I2, the new rows: each one's resulting quantities follow from the rows before it.
        for mv in snap.new_movements:
            state = self.running.setdefault(mv.entry_id, [0, 0, 0])
            state[0] += 1
            state[1] += mv.quantity_delta
            state[2] += mv.reserved_delta
            if (mv.quantity_after, mv.reserved_after) != (state[1], state[2]):
                problems.append(
                    f"I2 movement {mv.id} (entry {mv.entry_id}, {mv.type}): records "
                    f"{mv.quantity_after}/{mv.reserved_after}, replay gives "
                    f"{state[1]}/{state[2]}"
                )
            if mv.id <= self.last_id:
                problems.append(f"ledger: movement {mv.id} arrived after {self.last_id}")
            self.last_id = max(self.last_id, mv.id)
            problems.extend(self.movement_problems(mv))
        # … and the whole ledger, as the database sums it, agrees with the replay.
        replayed = {entry_id: tuple(state) for entry_id, state in self.running.items()}
        for entry_id in sorted(replayed.keys() | snap.totals.keys(), key=str):
            if snap.totals.get(entry_id) != replayed.get(entry_id):
                problems.append(
                    f"I2 entry {entry_id}: ledger has rows/quantity/reserved "
                    f"{snap.totals.get(entry_id)}, rows replayed so far give "
                    f"{replayed.get(entry_id)}"
                )
        for e in snap.entries.values():
            _, q, r = replayed.get(e.id, (0, 0, 0))
            if (q, r) != (e.quantity, e.reserved):
                problems.append(f"I2 entry {e.id}: holds {e.quantity}/{e.reserved}, "
                                f"ledger replays to {q}/{r}")
        for entry_id, (_, q, r) in replayed.items():
            if entry_id not in snap.entries and (q, r) != (0, 0):
                problems.append(f"I2 deleted entry {entry_id}: ledger closes at {q}/{r}, "
                                "not 0/0")

        # I3: reserved = the sum of the entry's active holds; holds are self-consistent.
        held: dict[int, int] = {}
        for h in snap.holds.values():
            if h.status not in RESERVATION_STATUSES:
                problems.append(f"I3 reservation {h.id}: unknown status {h.status!r}")
            if (h.status == "active") != (h.open_quantity > 0) or not (
                0 <= h.open_quantity <= h.quantity
            ):
                problems.append(f"I3 reservation {h.id}: status {h.status} with open "
                                f"{h.open_quantity} of {h.quantity}")
            if h.status == "active":
                entry = snap.entries.get(h.entry_id) if h.entry_id is not None else None
                if entry is None:
                    problems.append(f"I3 reservation {h.id}: active without an entry")
                    continue
                held[entry.id] = held.get(entry.id, 0) + h.open_quantity
                if (h.store_id, h.product_id, h.location_id) != (
                    entry.store_id, entry.product_id, entry.location_id
                ):
                    problems.append(f"I3 reservation {h.id}: store/product/location differ "
                                    f"from entry {entry.id}")
        for e in snap.entries.values():
            if held.get(e.id, 0) != e.reserved:
                problems.append(f"I3 entry {e.id}: reserved {e.reserved}, active holds "
                                f"{held.get(e.id, 0)}")
        return problems

    def movement_problems(self, mv: MovementRow) -> list[str]:
        """I4: the row names an actor, its store, a type and the resulting quantities."""
        where = f"I4 movement {mv.id}"
        problems = []
        if not (mv.actor_name or "").strip():
            problems.append(f"{where}: no actor name")
        if mv.type not in MOVEMENT_TYPES:
            problems.append(f"{where}: unknown type {mv.type!r}")
        if mv.quantity_after is None or mv.reserved_after is None:
            problems.append(f"{where}: resulting quantities missing")
        if mv.product_store != mv.store_id:
            problems.append(f"{where}: store {mv.store_id}, product's store {mv.product_store}")
        if mv.location_store != mv.store_id:
            problems.append(f"{where}: store {mv.store_id}, location's store "
                            f"{mv.location_store}")
        place = self.places.get(mv.entry_id)
        if place is not None and place != (mv.store_id, mv.product_id, mv.location_id):
            problems.append(f"{where}: store/product/location differ from entry {mv.entry_id}")
        return problems


def test_the_stock_engine_matches_its_model(reset: Callable[[], None]) -> None:
    run_state_machine_as_test(
        lambda: PurchasingMachine(reset),
        settings=settings(deadline=None, suppress_health_check=[HealthCheck.too_slow]),
    )
