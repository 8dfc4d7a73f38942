"""Storm: every stock operation at once, on two stores × three products × three locations.

Sixteen workers make fifty seeded random calls each. Afterwards I1–I4 hold, every product's
on-hand total moved by exactly what the non-transfer calls reported, every ledger row
belongs to a successful call, and the only errors are the domain's own refusals.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter, defaultdict

from oracle import assert_invariants, committed, entry_row, ledger_rows
from sqlalchemy import func, select

from app.permissions import system_actor
from app.services import stock
from app.services.errors import (
    BelowReserved,
    ExceedsReserved,
    InsufficientStock,
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
OPERATIONS = ("reserve", "release", "fulfill", "adjust", "set", "count", "transfer")


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
    opening = on_hand_by_product()
    ledger_before = ledger_rows()

    shared_lock = threading.Lock()
    holds: list[int] = []

    def pick_entry(rng: random.Random) -> int:
        with shared_lock:
            return rng.choice(sorted(known.values()))

    def call(thread: int, n: int) -> tuple[str, int | None, int, stock.StockChange]:
        """One random call; returns (operation, product, on-hand change, result)."""
        rng = random.Random(f"{SEED}-{thread}-{n}")
        actor = system_actor(f"storm-{thread}")
        op = rng.choice(OPERATIONS)
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
    unexpected = outcomes.errors_not_of(*EXPECTED_REFUSALS)
    assert unexpected == [], f"{summary(outcomes)}; first unexpected: {unexpected[0]!r}"
    succeeded = Counter(op for op, *_ in outcomes.values)
    assert set(succeeded) == set(OPERATIONS), f"a storm without every operation: {succeeded}"

    expected = defaultdict(int, opening)
    for _op, product, change_in_hand, _change in outcomes.values:
        expected[product] += change_in_hand
    assert on_hand_by_product() == dict(expected), "on-hand totals drifted"
    assert sorted(on_hand_by_product()) == sorted(product_store)

    movement_ids = [m for *_, change in outcomes.values for m in change.movement_ids]
    assert len(set(movement_ids)) == len(movement_ids), "two calls claim one ledger row"
    assert ledger_rows() - ledger_before == len(movement_ids), (
        "ledger rows that no successful call wrote (or calls whose rows are missing)"
    )
    assert_invariants()


