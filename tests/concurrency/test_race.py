"""Race: many concurrent reservations on one entry grant exactly the stock, never more.

Each race also runs against `naive_reserve`, a read-modify-write kept here on purpose, and
must fail there: a race test that cannot fail proves nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from oracle import assert_invariants, entry_row, invariant_violations, ledger_rows
from sqlalchemy import insert, select, update

from app.clock import utcnow
from app.extensions import db
from app.permissions import Actor, system_actor
from app.services import stock
from app.services.errors import InsufficientStock
from app.services.stock.engine import ENTRY_COLUMNS, entries, movements, reservations

from .harness import Outcomes, hammer, summary

THREADS = 16
ROUNDS = 25
RACES = [
    pytest.param(1, 100, id="1-of-100"),
    pytest.param(3, 101, id="3-of-101"),
    pytest.param(7, 101, id="7-of-101"),
]


def naive_reserve(
    *, actor: Actor, entry_id: int, quantity: int, order_ref: str, **_: Any
) -> int:
    """The bug this battery exists to catch: read, check in Python, write an absolute value.

    It runs in a plain transaction (a deferred BEGIN on SQLite, READ COMMITTED on
    PostgreSQL), not in write_transaction, and otherwise writes what the service writes.
    """
    session = db.session
    try:
        row = session.execute(select(*ENTRY_COLUMNS).where(entries.c.id == entry_id)).one()
        available = row.quantity - row.reserved_quantity
        if available < quantity:
            raise InsufficientStock(available, quantity)
        time.sleep(0.001)  # the gap every real request has between its read and its write
        reserved = row.reserved_quantity + quantity
        now = utcnow()
        session.execute(
            update(entries).where(entries.c.id == entry_id)
            .values(reserved_quantity=reserved, version=row.version + 1, updated_at=now)
        )
        hold = session.execute(
            insert(reservations).values(
                store_id=row.store_id, entry_id=row.id, product_id=row.product_id,
                location_id=row.location_id, order_ref=order_ref, quantity=quantity,
                open_quantity=quantity, status="active", created_at=now,
            ).returning(reservations.c.id)
        ).scalar_one()
        movement = session.execute(
            insert(movements).values(
                store_id=row.store_id, entry_id=row.id, product_id=row.product_id,
                location_id=row.location_id, type="reserved", quantity_delta=0,
                reserved_delta=quantity, quantity_after=row.quantity, reserved_after=reserved,
                reference=order_ref, reservation_id=hold, actor_name=actor.name,
                created_at=now,
            ).returning(movements.c.id)
        ).scalar_one()
        session.commit()
        return int(movement)
    except BaseException:
        session.rollback()
        raise


def real_reserve(**kwargs: Any) -> int:
    return stock.reserve_stock(**kwargs).movement_ids[0]


def run_race(
    app: Flask, entry_id: int, quantity: int, stock: int, reserve: Callable[..., int]
) -> tuple[list[str], Outcomes]:
    """16 × 25 reserves of `quantity` at once; returns every way the outcome misses the
    pass criteria, and the outcomes themselves."""
    before = ledger_rows()
    actors = [system_actor(f"race-{t}") for t in range(THREADS)]

    def call(thread: int, n: int) -> int:
        return reserve(
            actor=actors[thread], entry_id=entry_id, quantity=quantity,
            order_ref=f"ORDER-{thread}-{n}",
        )

    outcomes = hammer(app, THREADS, ROUNDS, call)

    granted = len(outcomes.results)
    expected = stock // quantity
    problems = []
    if granted != expected:
        problems.append(f"{granted} reservations granted, expected exactly {expected}")
    unclean = [
        e for e in outcomes.errors_of(InsufficientStock)
        if e.requested != quantity or not 0 <= e.available < quantity
    ]
    if unclean:
        problems.append(f"{len(unclean)} refusals with wrong figures, e.g. {unclean[0]}")
    others = outcomes.errors_not_of(InsufficientStock)
    if others:
        problems.append(f"{len(others)} errors other than a refusal, e.g. {others[0]!r}")
    if granted + len(outcomes.errors) != THREADS * ROUNDS:
        problems.append("some requests have no outcome")
    entry = entry_row(entry_id)
    if (entry.quantity, entry.reserved_quantity) != (stock, expected * quantity):
        problems.append(
            f"entry holds {entry.quantity}/{entry.reserved_quantity} reserved, expected "
            f"{stock}/{expected * quantity}"
        )
    if ledger_rows() - before != granted:
        problems.append(f"{ledger_rows() - before} ledger rows for {granted} reservations")
    if len(set(outcomes.values)) != granted:
        problems.append("two reservations share a ledger row")
    problems.extend(invariant_violations())
    return problems, outcomes


@pytest.mark.parametrize(("quantity", "stock"), RACES)
def test_concurrent_reserves_grant_exactly_the_stock(app, make_entry, quantity, stock):
    entry = make_entry(quantity=stock)

    problems, outcomes = run_race(app, entry.id, quantity, stock, real_reserve)

    assert problems == [], summary(outcomes)
    assert len(outcomes.errors_of(InsufficientStock)) == THREADS * ROUNDS - stock // quantity
    assert_invariants()


@pytest.mark.parametrize(("quantity", "stock"), RACES)
def test_the_race_catches_a_naive_read_modify_write(app, make_entry, backend, quantity, stock):
    entry = make_entry(quantity=stock)

    problems, outcomes = run_race(app, entry.id, quantity, stock, naive_reserve)

    print(f"\nnaive reserve {quantity} of {stock} on {backend}: {summary(outcomes)}; "
          f"{len(problems)} problem(s): {problems[:3]}")
    assert problems, "a naive read-modify-write passed the race: the test cannot fail"
