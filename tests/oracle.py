"""The shared test oracle: RELIABILITY.md's invariants I1–I4, checked against the database,
and what purchasing adds to them: incoming, receipts and the average cost.

Call `assert_invariants()` inside an app context after every concurrency and property test.
It reads every entry, reservation, ledger row and purchase order line and checks them two
ways: through the application's own `verify_ledger()` and through an independent replay
written here, so a bug in one cannot hide a bug in the other.

Purchasing (P): P1 an entry's incoming is the outstanding quantity (ordered − received,
not below 0) of the lines of open orders bound for it, and no such line lacks an entry;
P2 a line's received quantity is what the ledger's `received` rows naming it add up to,
and never beyond ordered + confirmed over; P3 an order's status agrees with its lines;
P4 an entry's average cost is its ledger replayed: each row that adds units at a unit
cost averages them in.
"""

from __future__ import annotations

from collections import defaultdict
from fractions import Fraction
from typing import Any

from sqlalchemy import Executable, Row, func, select

from app.extensions import db
from app.models import (
    InventoryEntry,
    Location,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
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
order_lines = PurchaseOrderLine.__table__
orders = PurchaseOrder.__table__

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
                       entries.c.location_id, entries.c.quantity, entries.c.reserved_quantity,
                       entries.c.incoming_quantity, entries.c.average_cost)
            )
        }
        purchase_lines = session.execute(
            select(order_lines, orders.c.status, orders.c.number)
            .join(orders, orders.c.id == order_lines.c.order_id)
            .order_by(order_lines.c.id)
        ).all()
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
        problems.extend(_purchasing_violations(entry_rows, ledger, purchase_lines))
    finally:
        session.rollback()
    return problems


def _half_up(value: Fraction) -> int:
    return int((value + Fraction(1, 2)) // 1)


def _purchasing_violations(entry_rows: dict[int, Any], ledger: list[Any],
                           purchase_lines: list[Any]) -> list[str]:
    problems: list[str] = []
    # P1: incoming is what open orders still bring.
    bringing: dict[tuple[int, int], int] = defaultdict(int)
    for line in purchase_lines:
        if line.status in ("ordered", "partially_received"):
            bringing[(line.product_id, line.location_id)] += max(
                line.ordered_qty - line.received_qty, 0)
    at = {(e.product_id, e.location_id): e for e in entry_rows.values()}
    for e in entry_rows.values():
        expected = bringing.get((e.product_id, e.location_id), 0)
        if e.incoming_quantity != expected:
            problems.append(f"P1 entry {e.id}: incoming {e.incoming_quantity}, open purchase "
                            f"orders bring {expected}")
    for (product_id, location_id), units in bringing.items():
        if units and (product_id, location_id) not in at:
            problems.append(f"P1 {units} units of product {product_id} on their way to "
                            f"location {location_id}, which has no entry")

    # P2: a line has received what its ledger rows brought, within ordered + confirmed.
    delivered: dict[int, int] = defaultdict(int)
    for m in ledger:
        if m.purchase_order_line_id is not None:
            if m.type != "received" or m.quantity_delta <= 0:
                problems.append(f"P2 movement {m.id}: names line {m.purchase_order_line_id} "
                                f"but is a {m.type} of {m.quantity_delta}")
            delivered[m.purchase_order_line_id] += m.quantity_delta
    by_order: dict[int, list[Any]] = defaultdict(list)
    for line in purchase_lines:
        by_order[line.order_id].append(line)
        if delivered.get(line.id, 0) != line.received_qty:
            problems.append(f"P2 line {line.id} of {line.number}: received {line.received_qty}, "
                            f"the ledger brought {delivered.get(line.id, 0)}")
        if line.received_qty > line.ordered_qty + line.over_received_qty:
            problems.append(f"P2 line {line.id} of {line.number}: received {line.received_qty} "
                            f"of {line.ordered_qty} ordered, {line.over_received_qty} over "
                            "confirmed")

    # P3: the status says what the lines say.
    for order_lines_of in by_order.values():
        status, number = order_lines_of[0].status, order_lines_of[0].number
        complete = all(x.received_qty >= x.ordered_qty for x in order_lines_of)
        received = sum(x.received_qty for x in order_lines_of)
        fits = {
            "draft": received == 0, "ordered": received == 0,
            "partially_received": received > 0 and not complete,
            "received": complete, "cancelled": True,
        }[status]
        if not fits:
            problems.append(f"P3 {number} is {status} with {received} received "
                            f"({'all' if complete else 'not all'} lines complete)")

    # P4: the average cost replayed from the ledger.
    running: dict[int, tuple[int, int | None]] = {}
    for m in ledger:
        on_hand, average = running.get(m.entry_id, (0, None))
        if m.quantity_delta > 0 and m.unit_cost is not None:
            if average is None or on_hand <= 0:
                average = m.unit_cost
            else:
                average = _half_up(Fraction(on_hand * average + m.quantity_delta * m.unit_cost,
                                            on_hand + m.quantity_delta))
        running[m.entry_id] = (on_hand + m.quantity_delta, average)
    for e in entry_rows.values():
        replayed = running.get(e.id, (0, None))[1]
        if e.average_cost != replayed:
            problems.append(f"P4 entry {e.id}: average cost {e.average_cost}, the ledger "
                            f"replays to {replayed}")
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
