"""Deadlock: opposing transfers between two locations never deadlock and conserve stock.

Each side also runs against `naive_transfer`, which locks rows in request order the way
an obvious implementation would, and must fail there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Flask
from oracle import assert_invariants, entry_row, invariant_violations, ledger_rows
from sqlalchemy import insert, select, text, update

from app.clock import utcnow
from app.extensions import db
from app.permissions import Actor, system_actor
from app.services import stock
from app.services.errors import InsufficientStock
from app.services.stock.engine import ENTRY_COLUMNS, entries, movements

from .harness import Outcomes, hammer, summary

THREADS = 16
ROUNDS = 25
STOCK = 1000


def naive_transfer(
    *, actor: Actor, product_id: int, from_location_id: int, to_location_id: int,
    quantity: int, prelude: tuple[str, ...] = (), **_: Any,
) -> tuple[int, int]:
    """Check the source, then update source and target in the order the request names
    them: two opposite transfers each hold the row the other needs next."""
    session = db.session
    for statement in prelude:
        session.execute(text(statement))

    def entry_at(location_id: int) -> Any:
        return session.execute(
            select(*ENTRY_COLUMNS).where(
                entries.c.product_id == product_id, entries.c.location_id == location_id
            )
        ).one()

    try:
        source = entry_at(from_location_id)
        if source.quantity - source.reserved_quantity < quantity:
            raise InsufficientStock(source.quantity - source.reserved_quantity, quantity)
        target = entry_at(to_location_id)
        now = utcnow()
        ids = []
        for row, delta, kind in ((source, -quantity, "transfer_out"),
                                 (target, quantity, "transfer_in")):
            after = session.execute(
                update(entries).where(entries.c.id == row.id)
                .values(quantity=entries.c.quantity + delta, version=entries.c.version + 1)
                .returning(*ENTRY_COLUMNS)
            ).one()
            ids.append(session.execute(
                insert(movements).values(
                    store_id=after.store_id, entry_id=after.id, product_id=after.product_id,
                    location_id=after.location_id, type=kind, quantity_delta=delta,
                    reserved_delta=0, quantity_after=after.quantity,
                    reserved_after=after.reserved_quantity, actor_name=actor.name,
                    created_at=now,
                ).returning(movements.c.id)
            ).scalar_one())
            time.sleep(0.005)  # the gap between touching the first row and the second
        session.commit()
        return ids[0], ids[1]
    except BaseException:
        session.rollback()
        raise


def real_transfer(**kwargs: Any) -> tuple[int, ...]:
    return stock.transfer_stock(**kwargs).movement_ids


def run_opposing_transfers(
    app: Flask, make: Callable[..., Any], transfer: Callable[..., tuple[int, ...]], rounds: int
) -> tuple[list[str], Outcomes]:
    store = make.store()
    product = make.product(store)
    a, b = (make.entry(quantity=STOCK, product=product, location=make.location(store))
            for _ in range(2))
    before = ledger_rows()

    def call(thread: int, n: int) -> tuple[int, ...]:
        # Half the workers start A→B, half B→A, and every worker alternates.
        forward = (thread + n) % 2 == 0
        source, target = (a, b) if forward else (b, a)
        return transfer(
            actor=system_actor(f"mover-{thread}"), product_id=a.product_id,
            from_location_id=source.location_id, to_location_id=target.location_id,
            quantity=1 + (thread + n) % 3,
        )

    outcomes = hammer(app, THREADS, rounds, call)

    problems = []
    if outcomes.errors:
        problems.append(f"{len(outcomes.errors)} errors surfaced, e.g. {outcomes.errors[0][2]!r}")
    totals = [entry_row(a.id).quantity, entry_row(b.id).quantity]
    if sum(totals) != 2 * STOCK:
        problems.append(f"on hand {totals} sums to {sum(totals)}, not {2 * STOCK}")
    if ledger_rows() - before != 2 * len(outcomes.results):
        problems.append(f"{ledger_rows() - before} ledger rows for "
                        f"{len(outcomes.results)} transfers")
    problems.extend(invariant_violations())
    return problems, outcomes


def test_opposing_transfers_never_deadlock_and_conserve_stock(app, factories):
    problems, outcomes = run_opposing_transfers(app, factories, real_transfer, ROUNDS)

    assert problems == [], summary(outcomes)
    assert len(outcomes.results) == THREADS * ROUNDS
    assert_invariants()


def test_the_deadlock_test_catches_request_order_locking(app, factories, backend):
    # A few rounds show the failure; the full battery would only repeat it.
    naive, rounds = naive_transfer, 5
    if backend == "postgresql":
        superuser = db.session.execute(text("SELECT current_setting('is_superuser')")).scalar()
        db.session.rollback()
        if superuser == "on":
            # Detect each deadlock after 20 ms instead of the default second.
            naive = partial(naive_transfer, prelude=("SET LOCAL deadlock_timeout = '20ms'",))
        else:
            rounds = 1  # every deadlock costs a second to detect; one round shows them
    problems, outcomes = run_opposing_transfers(app, factories, naive, rounds)

    print(f"\nnaive transfer on {backend}: {summary(outcomes)}; {problems[:2]}")
    assert problems, "request-order locking passed the deadlock test: it cannot fail"
    if backend == "postgresql":
        assert any("deadlock detected" in str(e) for _, _, e in outcomes.errors)
