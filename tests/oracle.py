"""The shared test oracle: RELIABILITY.md's invariants I1–I4, checked against the database.

Call `assert_invariants()` inside an app context after every concurrency and property test.
It reads every entry, reservation and ledger row and checks them two ways: through the
application's own `verify_ledger()` and through an independent replay written here, so a
bug in one cannot hide a bug in the other.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Executable, Row, func, select

from app.extensions import db
from app.models import (
    InventoryEntry,
    Location,
    Product,
    Reservation,
    StockMovement,
)
from app.models.inventory import MOVEMENT_TYPES, RESERVATION_STATUSES
from app.permissions import system_actor
from app.services import tallies
from app.services.ledger import verify_ledger
from app.services.queries import stock_stats, stock_stats_scan

entries = InventoryEntry.__table__
movements = StockMovement.__table__
reservations = Reservation.__table__

# Enough lines to diagnose a failure without drowning the report.
MAX_REPORTED = 25


def fresh_snapshot() -> None:
    """End any transaction the test's session left open, so the next read sees everything
    committed so far. (On SQLite a read transaction keeps its first snapshot: merely
    touching an expired ORM attribute before starting the workers would hide their work.)"""
    db.session.rollback()


def committed(query: Executable) -> list[Row[Any]]:
    """What `query` returns from a fresh snapshot of everything committed so far."""
    fresh_snapshot()
    try:
        return list(db.session.execute(query).all())
    finally:
        db.session.rollback()


def entry_row(entry_id: int) -> Row[Any]:
    """One entry as committed: id, store, product, location, quantities and version."""
    (row,) = committed(
        select(entries.c.id, entries.c.store_id, entries.c.product_id, entries.c.location_id,
               entries.c.quantity, entries.c.reserved_quantity, entries.c.version)
        .where(entries.c.id == entry_id)
    )
    return row


def invariant_violations() -> list[str]:
    """Every breach of I1–I4 in the current database, as readable lines; empty when sound."""
    problems: list[str] = []
    session = db.session
    fresh_snapshot()
    try:
        entry_rows = {
            r.id: r
            for r in session.execute(
                select(entries.c.id, entries.c.store_id, entries.c.product_id,
                       entries.c.location_id, entries.c.quantity, entries.c.reserved_quantity)
            )
        }
        ledger = session.execute(
            select(movements, Product.store_id.label("product_store"),
                   Location.store_id.label("location_store"))
            .outerjoin(Product, Product.id == movements.c.product_id)
            .outerjoin(Location, Location.id == movements.c.location_id)
            .order_by(movements.c.id)
        ).all()
        holds = session.execute(select(reservations).order_by(reservations.c.id)).all()

        # I1: 0 ≤ reserved ≤ quantity.
        for e in entry_rows.values():
            if not 0 <= e.reserved_quantity <= e.quantity:
                problems.append(
                    f"I1 entry {e.id}: reserved {e.reserved_quantity}, quantity {e.quantity}"
                )

        # I2 via the application's own verifier …
        problems.extend(f"I2/I3 verify_ledger: {m}" for m in verify_ledger())
        # The stock tallies (the overview's totals) equal a recount of the entries.
        problems.extend(f"tallies: {p}" for p in tallies.verify())
        everyone = system_actor("oracle")
        kept, counted = stock_stats(everyone), stock_stats_scan(everyone)
        if kept != counted:
            problems.append(f"tallies: overview totals {kept}, counting every entry {counted}")
        # … and via an independent replay from zero, row by row.
        running: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for m in ledger:
            state = running[m.entry_id]
            state[0] += m.quantity_delta
            state[1] += m.reserved_delta
            if (m.quantity_after, m.reserved_after) != tuple(state):
                problems.append(
                    f"I2 movement {m.id} (entry {m.entry_id}, {m.type}): records "
                    f"{m.quantity_after}/{m.reserved_after}, replay gives {state[0]}/{state[1]}"
                )
        for e in entry_rows.values():
            replayed = tuple(running.get(e.id, (0, 0)))
            if replayed != (e.quantity, e.reserved_quantity):
                problems.append(
                    f"I2 entry {e.id}: holds {e.quantity}/{e.reserved_quantity}, "
                    f"ledger replays to {replayed[0]}/{replayed[1]}"
                )
        for entry_id, (q, r) in running.items():
            if entry_id not in entry_rows and (q, r) != (0, 0):
                problems.append(f"I2 deleted entry {entry_id}: ledger closes at {q}/{r}, not 0/0")

        # I3: reserved = the sum of the entry's active holds; holds are self-consistent.
        held: dict[int, int] = defaultdict(int)
        for h in holds:
            if h.status not in RESERVATION_STATUSES:
                problems.append(f"I3 reservation {h.id}: unknown status {h.status!r}")
            if (h.status == "active") != (h.open_quantity > 0) or not (
                0 <= h.open_quantity <= h.quantity
            ):
                problems.append(
                    f"I3 reservation {h.id}: status {h.status} with open {h.open_quantity} "
                    f"of {h.quantity}"
                )
            if h.status == "active":
                if h.entry_id is None or h.entry_id not in entry_rows:
                    problems.append(f"I3 reservation {h.id}: active without an entry")
                    continue
                held[h.entry_id] += h.open_quantity
                entry = entry_rows[h.entry_id]
                if (h.store_id, h.product_id, h.location_id) != (
                    entry.store_id, entry.product_id, entry.location_id
                ):
                    problems.append(f"I3 reservation {h.id}: store/product/location differ "
                                    f"from entry {entry.id}")
        for e in entry_rows.values():
            if held[e.id] != e.reserved_quantity:
                problems.append(
                    f"I3 entry {e.id}: reserved {e.reserved_quantity}, active holds {held[e.id]}"
                )

        # I4: every ledger row names an actor, its store, a type and the resulting quantities.
        for m in ledger:
            where = f"I4 movement {m.id}"
            if not (m.actor_name or "").strip():
                problems.append(f"{where}: no actor name")
            if m.type not in MOVEMENT_TYPES:
                problems.append(f"{where}: unknown type {m.type!r}")
            if m.quantity_after is None or m.reserved_after is None:
                problems.append(f"{where}: resulting quantities missing")
            if m.product_store != m.store_id:
                problems.append(f"{where}: store {m.store_id}, product's store "
                                f"{m.product_store}")
            if m.location_store != m.store_id:
                problems.append(f"{where}: store {m.store_id}, location's store "
                                f"{m.location_store}")
            entry = entry_rows.get(m.entry_id)
            if entry is not None and (entry.store_id, entry.product_id, entry.location_id) != (
                m.store_id, m.product_id, m.location_id
            ):
                problems.append(f"{where}: store/product/location differ from entry {entry.id}")
    finally:
        session.rollback()
    return problems


def assert_invariants() -> None:
    """Fail with every breach of I1–I4 listed (the first MAX_REPORTED of them)."""
    problems = invariant_violations()
    if problems:
        shown = "\n  ".join(problems[:MAX_REPORTED])
        more = len(problems) - MAX_REPORTED
        tail = f"\n  … and {more} more" if more > 0 else ""
        raise AssertionError(f"{len(problems)} invariant violation(s):\n  {shown}{tail}")


def snapshot_tables() -> dict[str, list[Any]]:
    """Every row of every table, to show that a refused or failed operation changed nothing."""
    fresh_snapshot()
    try:
        return {
            t.name: db.session.execute(select(t).order_by(*t.primary_key.columns)).all()
            for t in db.metadata.sorted_tables
        }
    finally:
        db.session.rollback()


def ledger_rows(**where: Any) -> int:
    """How many ledger rows exist, optionally only those matching column=value filters."""
    fresh_snapshot()
    query = select(func.count()).select_from(movements)
    for column, value in where.items():
        query = query.where(movements.c[column] == value)
    try:
        return int(db.session.execute(query).scalar_one())
    finally:
        db.session.rollback()
