"""Stale form: two people submit set/count against the same version; one wins, the other
is told the current value. A naive check-then-write must fail the same test."""

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
from app.permissions import ADJUST, Actor
from app.services import stock
from app.services.errors import StaleStock
from app.services.stock.engine import ENTRY_COLUMNS, entries, movements

from .harness import hammer, summary

ROUNDS = 10
PAIRS = [("set", "set"), ("count", "count"), ("set", "count")]


def submit(kind: str, **kwargs: Any) -> int:
    quantity = kwargs.pop("quantity")
    if kind == "set":
        change = stock.set_stock(quantity=quantity, **kwargs)
    else:
        change = stock.count_stock(counted_quantity=quantity, **kwargs)
    return change.entry.version


def naive_submit(
    kind: str, *, actor: Actor, entry_id: int, quantity: int, expected_version: int
) -> int:
    """Compare the version in Python, then write: both forms pass the check."""
    session = db.session
    try:
        row = session.execute(select(*ENTRY_COLUMNS).where(entries.c.id == entry_id)).one()
        if row.version != expected_version:
            raise StaleStock(row.quantity, row.reserved_quantity, row.version)
        time.sleep(0.001)
        after = session.execute(
            update(entries).where(entries.c.id == entry_id)
            .values(quantity=quantity, version=row.version + 1).returning(*ENTRY_COLUMNS)
        ).one()
        session.execute(insert(movements).values(
            store_id=row.store_id, entry_id=row.id, product_id=row.product_id,
            location_id=row.location_id, type=kind, quantity_delta=quantity - row.quantity,
            reserved_delta=0, quantity_after=quantity, reserved_after=row.reserved_quantity,
            actor_name=actor.name, created_at=utcnow(),
        ))
        session.commit()
        return int(after.version)
    except BaseException:
        session.rollback()
        raise


def race_two_forms(
    app: Flask, entry_id: int, actors: list[Actor], kinds: tuple[str, str],
    submit_form: Callable[..., int],
) -> list[str]:
    """ROUNDS times: load the entry, then both people submit at once. Returns every way
    the outcome misses "one succeeds, the other sees the winner's value"."""
    problems: list[str] = []
    for n in range(ROUNDS):
        loaded = entry_row(entry_id)
        before = ledger_rows()
        wanted = [20 + n, 40 + n]

        def call(
            thread: int, _n: int, version: int = loaded.version, wanted: list[int] = wanted
        ) -> int:
            return submit_form(
                kinds[thread], actor=actors[thread], entry_id=entry_id,
                quantity=wanted[thread], expected_version=version,
            )

        outcomes = hammer(app, 2, 1, call)
        now = entry_row(entry_id)
        stale = outcomes.errors_of(StaleStock)
        if len(outcomes.results) != 1 or len(stale) != 1:
            problems.append(f"round {n}: {summary(outcomes)}, expected one success, one stale")
            continue
        winner, _, version = outcomes.results[0]
        if (now.quantity, now.version) != (wanted[winner], version):
            problems.append(f"round {n}: entry {now.quantity} v{now.version}, winner wrote "
                            f"{wanted[winner]} v{version}")
        if (stale[0].quantity, stale[0].reserved, stale[0].version) != (
            now.quantity, now.reserved_quantity, now.version
        ) or f"on hand is now {now.quantity}" not in stale[0].message:
            problems.append(f"round {n}: the loser was shown {stale[0].message!r}")
        if ledger_rows() - before != 1:
            problems.append(f"round {n}: {ledger_rows() - before} ledger rows, expected 1")
    problems.extend(invariant_violations())
    return problems


@pytest.fixture
def two_people(make_store, make_user, actor_of) -> tuple[Any, list[Actor]]:
    store = make_store()
    owner = actor_of(make_user(role="owner", store=store))
    clerk = actor_of(make_user(role="staff", store=store, grants=(ADJUST,)))
    return store, [owner, clerk]


@pytest.mark.parametrize("kinds", PAIRS, ids="-".join)
def test_one_of_two_stale_forms_wins_the_other_sees_the_current_value(
    app, make_entry, two_people, kinds
):
    store, actors = two_people
    entry = make_entry(quantity=10, reserved=3, store=store)

    problems = race_two_forms(app, entry.id, actors, kinds, submit)

    assert problems == []
    assert_invariants()


def test_the_stale_form_test_catches_a_check_then_write(app, make_entry, two_people, backend):
    store, actors = two_people
    entry = make_entry(quantity=10, reserved=3, store=store)

    problems = race_two_forms(app, entry.id, actors, ("set", "set"), naive_submit)

    print(f"\nnaive stale form on {backend}: {len(problems)} problem(s): {problems[:2]}")
    assert problems, "a check-then-write passed the stale-form test: it cannot fail"
