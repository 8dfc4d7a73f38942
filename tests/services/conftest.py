"""Fixtures for the service tests.

They read the database the way an auditor would: an entry's ledger rows, its stored row,
its reservations, and a snapshot of every table, so a refused operation can be shown to
have raised the exact error and changed nothing. After every test the ledger must replay
to the current quantities (RELIABILITY I1–I4).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Select, select

from app.extensions import db
from app.models import InventoryEntry, Location, Reservation, StockMovement, Store, User
from app.permissions import Actor
from app.services import tallies
from app.services.ledger import verify_ledger
from app.services.people import credentials

entries = InventoryEntry.__table__
movements = StockMovement.__table__
reservations = Reservation.__table__

# The columns that say what a ledger row did; the order `trail` reports them in.
TRAIL_COLUMNS = ("type", "quantity_delta", "reserved_delta", "quantity_after", "reserved_after")

_hash_once = functools.cache(credentials.hash_password)


@pytest.fixture(autouse=True)
def _hash_passwords_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 is slow on purpose and these tests never sign in: hash the one password once."""
    monkeypatch.setattr(credentials, "hash_password", _hash_once)


@pytest.fixture(autouse=True)
def _ledger_stays_sound(request: pytest.FixtureRequest, app: Flask) -> Iterator[None]:
    """Whatever a test did through the service layer, the ledger still explains the stock."""
    yield
    if "corrupts_ledger" not in request.fixturenames:
        assert [str(m) for m in verify_ledger()] == []
    # Every change reached the overview's totals through the triggers, whatever it was.
    assert tallies.verify() == []


@pytest.fixture
def corrupts_ledger() -> None:
    """Requested by a test that breaks the ledger on purpose to show the check can fail."""


def _read(query: Select[Any]) -> list[dict[str, Any]]:
    rows = [dict(row._mapping) for row in db.session.execute(query)]
    db.session.rollback()
    return rows


@pytest.fixture
def ledger(app: Flask) -> Callable[[int], list[dict[str, Any]]]:
    """Every ledger row of an entry, oldest first, each as a dict of its columns."""

    def read(entry_id: int) -> list[dict[str, Any]]:
        return _read(
            select(movements).where(movements.c.entry_id == entry_id).order_by(movements.c.id)
        )

    return read


@pytest.fixture
def trail(
    ledger: Callable[[int], list[dict[str, Any]]],
) -> Callable[[int], list[tuple[Any, ...]]]:
    """An entry's ledger as (type, quantity_delta, reserved_delta, quantity_after,
    reserved_after) tuples, oldest first."""
    return lambda entry_id: [tuple(row[c] for c in TRAIL_COLUMNS) for row in ledger(entry_id)]


@pytest.fixture
def stored(app: Flask) -> Callable[[int], dict[str, Any] | None]:
    """An entry's row as the database holds it now; None once deleted."""

    def read(entry_id: int) -> dict[str, Any] | None:
        rows = _read(select(entries).where(entries.c.id == entry_id))
        return rows[0] if rows else None

    return read


@pytest.fixture
def holds(app: Flask) -> Callable[..., list[dict[str, Any]]]:
    """Reservations, oldest first: of one entry, or of one product when the entry is gone."""

    def read(
        entry_id: int | None = None, *, product_id: int | None = None
    ) -> list[dict[str, Any]]:
        query = select(reservations).order_by(reservations.c.id)
        if entry_id is not None:
            query = query.where(reservations.c.entry_id == entry_id)
        if product_id is not None:
            query = query.where(reservations.c.product_id == product_id)
        return _read(query)

    return read


@pytest.fixture
def snapshot(app: Flask) -> Callable[[], dict[str, list[tuple[Any, ...]]]]:
    """Every row of every table, for 'nothing changed' assertions."""

    def take() -> dict[str, list[tuple[Any, ...]]]:
        state = {
            table.name: [
                tuple(row)
                for row in db.session.execute(
                    select(table).order_by(*table.primary_key.columns)
                )
            ]
            for table in db.metadata.sorted_tables
        }
        db.session.rollback()
        return state

    return take


@pytest.fixture
def refused(
    snapshot: Callable[[], dict[str, list[tuple[Any, ...]]]],
) -> Callable[..., Any]:
    """`with refused(Error, "exact message"):` — the block raises that error with that
    message (and, for validation errors, exactly those `fields`) and changes no row."""

    @contextmanager
    def check(
        error: type[Exception],
        message: str | None = None,
        *,
        fields: dict[str, str] | None = None,
    ) -> Iterator[pytest.ExceptionInfo[Any]]:
        before = snapshot()
        with pytest.raises(error) as info:
            yield info
        if message is not None:
            assert str(info.value) == message
        if fields is not None:
            assert info.value.fields == fields  # type: ignore[attr-defined]
        assert snapshot() == before, "a refused operation changed the database"

    return check


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store()


@pytest.fixture
def location(store: Store, make_location: Callable[..., Location]) -> Location:
    return make_location(store, "main")


@pytest.fixture
def member(
    make_user: Callable[..., User], actor_of: Callable[[User], Actor]
) -> Callable[..., Actor]:
    """`member(store, "staff", grants=(...))`: a real user with that membership, as an Actor."""

    def make(store: Store, role: str = "owner", grants: tuple[str, ...] = ()) -> Actor:
        return actor_of(make_user(role=role, store=store, grants=grants))

    return make


@pytest.fixture
def owner(store: Store, member: Callable[..., Actor]) -> Actor:
    """The owner of `store`, a user with an id, so ledger rows name them."""
    return member(store, "owner")
