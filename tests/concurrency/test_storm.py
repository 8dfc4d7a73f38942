"""Storm: every stock operation at once, on two stores × three products × three locations,
with purchase orders placed, received and cancelled among them.

Sixteen workers make fifty seeded random calls each. Afterwards I1–I4 and P1–P4 hold,
every product's on-hand total moved by exactly what the non-transfer calls reported (a
receipt's lines included), every ledger row belongs to a successful call, the only errors
are the domain's own refusals, and what the purchasing calls report accounts for each
line's received quantity, each order's status and each entry's incoming.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter, defaultdict
from typing import Any

from oracle import assert_invariants, committed, entry_row, ledger_rows
from sqlalchemy import func, select

from app.models import OPEN_STATUSES, PurchaseOrder, PurchaseOrderLine
from app.permissions import system_actor
from app.services import purchasing, stock
from app.services.errors import (
    BelowReserved,
    Conflict,
    ExceedsReserved,
    InsufficientStock,
    OverReceipt,
    ReservationNotActive,
    StaleStock,
)
from app.services.stock.engine import entries

from .harness import hammer, summary

THREADS = 16
ROUNDS = 50
SEED = int(os.environ.get("STORM_SEED", "20251125"))
OPENING_STOCK = 40
# The refusals a correct engine gives under contention; anything else is a failure.
EXPECTED_REFUSALS = (
    InsufficientStock, ExceedsReserved, BelowReserved, StaleStock, ReservationNotActive,
)
# How often each operation comes up: cancelling less than the rest, so that most orders
# stay open long enough to be received.
OPERATIONS = {"reserve": 3, "release": 3, "fulfill": 3, "adjust": 3, "set": 3, "count": 3,
              "transfer": 3, "order": 2, "receive": 3, "cancel": 1}
# The refusals of purchasing a correct service gives under contention: an order received
# or cancelled meanwhile, more than a line awaits (unconfirmed), nothing left to cancel.
CLOSED_ORDER = ("only an ordered purchase order is received", "there is nothing left to cancel")
OPENING_ORDERS = 4  # per store, placed before the storm
purchase_lines = PurchaseOrderLine.__table__
purchase_orders = PurchaseOrder.__table__


def expected_refusal(error: Exception) -> bool:
    if isinstance(error, (*EXPECTED_REFUSALS, OverReceipt)):
        return True
    return type(error) is Conflict and any(reason in str(error) for reason in CLOSED_ORDER)


def on_hand_by_product() -> dict[int, int]:
    return {
        r.product_id: int(r.total)
        for r in committed(
            select(entries.c.product_id, func.sum(entries.c.quantity).label("total"))
            .group_by(entries.c.product_id)
        )
    }


def test_random_storm_keeps_every_invariant(app, make_store, make_location, make_product):
    stores = [make_store() for _ in range(2)]
    locations = {s.id: [make_location(s).id for _ in range(3)] for s in stores}
    products = {s.id: [make_product(s).id for _ in range(3)] for s in stores}
    product_store = {p: s for s, ps in products.items() for p in ps}
    setup = system_actor("storm-setup")
    # (product, location) → entry id. The third location starts empty: transfers create its
    # entries while the storm runs, and later calls pick them up from here.
    known: dict[tuple[int, int], int] = {}
    for s in stores:
        for p in products[s.id]:
            for loc in locations[s.id][:2]:
                change = stock.create_entry(
                    actor=setup, product_id=p, location_id=loc, quantity=OPENING_STOCK
                )
                known[(p, loc)] = change.entry.id
    suppliers = {s.id: purchasing.create_supplier(actor=setup, store_id=s.id,
                                                  name="Storm supply").id for s in stores}
    # Purchase orders: id → {line id: (product, location, ordered)}; the lines of each
    # are bound for any of the store's three locations, the empty one too.
    placed: dict[int, dict[int, tuple[int, int, int]]] = {}

    def place_order(actor: Any, rng: random.Random) -> purchasing.PurchaseOrderView:
        store = rng.choice(list(products))
        pairs = rng.sample([(p, loc) for p in products[store] for loc in locations[store]],
                           rng.randint(1, 3))
        draft = purchasing.create_purchase_order(
            actor=actor, supplier_id=suppliers[store],
            lines=[{"product_id": p, "location_id": loc, "quantity": rng.randint(2, 12),
                    "unit_cost": f"{rng.randint(0, 20)}.{rng.randint(0, 9999):04d}"}
                   for p, loc in pairs])
        order = purchasing.order_purchase_order(actor=actor, order_id=draft.id)
        with shared_lock:
            placed[order.id] = {x.id: (x.product_id, x.location_id, x.ordered_qty)
                                for x in order.lines}
        return order

    shared_lock = threading.Lock()
    holds: list[int] = []
    opening_rng = random.Random(f"{SEED}-orders")
    for _ in range(OPENING_ORDERS * len(stores)):
        place_order(setup, opening_rng)
    opening = on_hand_by_product()
    ledger_before = ledger_rows()

    def pick_entry(rng: random.Random) -> int:
        with shared_lock:
            return rng.choice(sorted(known.values()))

    def call(thread: int, n: int) -> tuple[str, int | None, int, stock.StockChange]:
        """One random call; returns (operation, product, on-hand change, result)."""
        rng = random.Random(f"{SEED}-{thread}-{n}")
        actor = system_actor(f"storm-{thread}")
        op = rng.choices(list(OPERATIONS), weights=list(OPERATIONS.values()))[0]
        if op == "order":
            return op, None, 0, place_order(actor, rng)
        if op in ("receive", "cancel"):
            with shared_lock:
                order_id = rng.choice(sorted(placed))
                lines = sorted(placed[order_id])
            if op == "cancel":
                return op, None, 0, purchasing.cancel_purchase_order(actor=actor,
                                                                     order_id=order_id)
            change = purchasing.receive_purchase_order(
                actor=actor, order_id=order_id, confirm_over=rng.random() < 0.3,
                lines=[{"line_id": line, "quantity": rng.randint(1, 4)}
                       for line in rng.sample(lines, min(len(lines), rng.randint(1, 2)))])
            with shared_lock:  # an entry made by ordering is one to work on now
                known.update({(e.product_id, e.location_id): e.id for e in change.entries})
            return op, None, 0, change
        if op == "transfer":
            store = rng.choice(list(products))
            product = rng.choice(products[store])
            with shared_lock:
                sources = [loc for loc in locations[store] if (product, loc) in known]
            source = rng.choice(sources)
            target = rng.choice([loc for loc in locations[store] if loc != source])
            change = stock.transfer_stock(
                actor=actor, product_id=product, from_location_id=source,
                to_location_id=target, quantity=rng.randint(1, 6),
            )
            with shared_lock:
                known[(product, target)] = change.entries[1].id
            return op, product, 0, change
        if op in ("release", "fulfill"):
            verb = stock.release_stock if op == "release" else stock.fulfill_stock
            by_hold = rng.random() < 0.5 and holds
            amount = rng.randint(1, 3)
            if by_hold:
                with shared_lock:
                    hold = rng.choice(holds)
                # Releases may take a whole hold; fulfilments always say how many, so the
                # on-hand change is known from the request alone.
                if op == "release" and rng.random() < 0.5:
                    change = verb(actor=actor, reservation_id=hold)
                else:
                    change = verb(actor=actor, reservation_id=hold, quantity=amount)
            else:
                change = verb(actor=actor, entry_id=pick_entry(rng), quantity=amount)
            return op, change.entry.product_id, -amount if op == "fulfill" else 0, change
        entry_id = pick_entry(rng)
        if op == "reserve":
            change = stock.reserve_stock(
                actor=actor, entry_id=entry_id, quantity=rng.randint(1, 5),
                order_ref=f"STORM-{thread}-{n}",
            )
            with shared_lock:
                holds.append(change.reservation_ids[0])
            return op, change.entry.product_id, 0, change
        if op == "adjust":
            delta = rng.choice([-1, 1]) * rng.randint(1, 8)
            change = stock.adjust_stock(
                actor=actor, entry_id=entry_id, delta=delta, reason="storm"
            )
            return op, change.entry.product_id, delta, change
        # set / count, half of them as a form loaded a moment ago would send them
        version = None
        if rng.random() < 0.5:
            version = entry_row(entry_id).version
        quantity = rng.randint(0, 60)
        if op == "set":
            change = stock.set_stock(
                actor=actor, entry_id=entry_id, quantity=quantity, expected_version=version
            )
        else:
            change = stock.count_stock(
                actor=actor, entry_id=entry_id, counted_quantity=quantity,
                expected_version=version,
            )
        assert change.previous_quantity is not None
        return op, change.entry.product_id, quantity - change.previous_quantity, change

    outcomes = hammer(app, THREADS, ROUNDS, call)

    print("\nstorm:", summary(outcomes))
    unexpected = [e for _, _, e in outcomes.errors if not expected_refusal(e)]
    assert unexpected == [], f"{summary(outcomes)}; first unexpected: {unexpected[0]!r}"
    succeeded = Counter(op for op, *_ in outcomes.values)
    print("succeeded:", dict(sorted(succeeded.items())))
    assert set(succeeded) == set(OPERATIONS), f"a storm without every operation: {succeeded}"

    # What each receipt brought, by line, and which orders were cancelled, as the calls
    # report it.
    brought: dict[int, int] = defaultdict(int)
    cancelled = set()
    expected = defaultdict(int, opening)
    for op, product, change_in_hand, change in outcomes.values:
        if op == "receive":
            for line in change.details["lines"]:
                brought[line["line_id"]] += line["quantity"]
                expected[placed[change.details["order_id"]][line["line_id"]][0]] += \
                    line["quantity"]
        elif op == "cancel":
            cancelled.add(change.id)
        elif product is not None:
            expected[product] += change_in_hand
    assert on_hand_by_product() == dict(expected), "on-hand totals drifted"
    assert sorted(on_hand_by_product()) == sorted(product_store)
    assert_purchasing_reported(placed, brought, cancelled)

    movement_ids = [m for *_, change in outcomes.values
                    for m in getattr(change, "movement_ids", ())]
    assert len(set(movement_ids)) == len(movement_ids), "two calls claim one ledger row"
    assert ledger_rows() - ledger_before == len(movement_ids), (
        "ledger rows that no successful call wrote (or calls whose rows are missing)"
    )
    assert_invariants()




def assert_purchasing_reported(placed: dict[int, dict[int, tuple[int, int, int]]],
                               brought: dict[int, int], cancelled: set[int]) -> None:
    """Each line received what the successful receipts say they took of it; an order is
    cancelled exactly when a cancellation succeeded, else received once every line has
    its ordered quantity, else still open; and each entry's incoming is what the open
    orders still bring there, worked out from the calls alone."""
    stored_lines = {r.id: r.received_qty for r in committed(
        select(purchase_lines.c.id, purchase_lines.c.received_qty))}
    assert stored_lines == {line: brought.get(line, 0)
                            for lines in placed.values() for line in lines}
    statuses = dict(committed(select(purchase_orders.c.id, purchase_orders.c.status)))
    incoming: dict[tuple[int, int], int] = defaultdict(int)
    for order_id, lines in placed.items():
        complete = all(brought.get(line, 0) >= ordered for line, (*_, ordered) in lines.items())
        status = ("cancelled" if order_id in cancelled else "received" if complete
                  else "partially_received" if any(brought.get(line) for line in lines)
                  else "ordered")
        assert statuses[order_id] == status, (order_id, statuses[order_id], status)
        if status in OPEN_STATUSES:
            for line, (product, location, ordered) in lines.items():
                incoming[(product, location)] += max(ordered - brought.get(line, 0), 0)
    stored = {(r.product_id, r.location_id): r.incoming_quantity for r in committed(
        select(entries.c.product_id, entries.c.location_id, entries.c.incoming_quantity))}
    assert {k: v for k, v in stored.items() if v} == {k: v for k, v in incoming.items() if v}
    assert any(incoming.values()), "a storm that left nothing on its way"
