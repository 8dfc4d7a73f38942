"""What purchase orders do to stock: incoming quantities, receipts and the moving average
cost. The purchasing service (app.services.purchasing) decides what an order may do and
calls these inside its own transaction, with the order's row locked first; entries are
then locked in primary-key order, as every multi-row stock operation locks them.

Incoming is derived, never typed: an entry's `incoming_quantity` is the outstanding
quantity (ordered − received, never below 0) of the lines of open orders (ordered or
partially received) bound for its product and location. It is recounted from those lines,
not nudged by a delta, in the same transaction as the change that moves it, after the
entries are locked, by a statement of its own: on PostgreSQL that statement sees every
other order's change committed while we waited for the lock, and a change still in flight
recounts again itself once it holds the lock.

The average cost follows each receipt (`moving_average`); adjustments, counts, holds and
returns keep it; a transfer brings its units at the source's average.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.orm import Session

from app.models import OPEN_STATUSES, PurchaseOrder, PurchaseOrderLine
from app.permissions import Actor
from app.services.errors import Conflict, QuantityTooLarge
from app.services.stock.engine import (
    ENTRY_COLUMNS,
    EntryState,
    LedgerRow,
    chunks,
    ensure_entries,
    entries,
    locations,
    lock_entries,
    write_ledger,
)
from app.services.validation import LIMIT

lines = PurchaseOrderLine.__table__
orders = PurchaseOrder.__table__


def moving_average(on_hand: int, average: int | None, quantity: int,
                   unit_cost: int | None) -> int | None:
    """The average cost of a unit after `quantity` units costing `unit_cost` each join
    `on_hand` units at `average`: (on_hand × average + quantity × unit_cost) ÷ (on_hand +
    quantity), rounded half up to the stored scale. Units of unknown cost (None) leave the
    average as it is; with nothing on hand before, or no known average, the new units set
    it."""
    if unit_cost is None or quantity <= 0:
        return average
    if average is None or on_hand <= 0:
        return unit_cost
    total = on_hand + quantity
    return (2 * (on_hand * average + quantity * unit_cost) + total) // (2 * total)


# --------------------------------------------------------------------------- incoming

OUTSTANDING = case(
    (lines.c.ordered_qty > lines.c.received_qty, lines.c.ordered_qty - lines.c.received_qty),
    else_=0,
)
_outstanding_here = (
    select(func.coalesce(func.sum(OUTSTANDING), 0))
    .select_from(lines.join(orders, orders.c.id == lines.c.order_id))
    .where(
        lines.c.product_id == entries.c.product_id,
        lines.c.location_id == entries.c.location_id,
        orders.c.status.in_(OPEN_STATUSES),
    )
    .scalar_subquery()
)
RECOUNT_INCOMING = (
    update(entries)
    .where(entries.c.id.in_(bindparam("ids", expanding=True)))
    .values(incoming_quantity=_outstanding_here, updated_at=bindparam("now"))
)


def _recount(session: Session, entry_ids: Iterable[int], now: datetime) -> None:
    for chunk in chunks(sorted(set(entry_ids)), 500):
        session.execute(RECOUNT_INCOMING, {"ids": list(chunk), "now": now})


def _ensure_and_lock(
    session: Session, store_id: int, pairs: Iterable[tuple[int, int]], now: datetime
) -> dict[tuple[int, int], int]:
    """Each pair's entry, created where missing, locked in primary-key order. An entry
    deleted between finding and locking it is made again: once locked, it stays."""
    wanted = sorted(set(pairs))
    for _attempt in range(3):
        ids = ensure_entries(session, store_id, wanted, now)
        locked = set(session.scalars(
            select(entries.c.id).where(entries.c.id.in_(sorted(ids.values())))
            .order_by(entries.c.id).with_for_update()
        ))
        if locked == set(ids.values()):
            return ids
    # pragma: no cover - a delete would have to win the race three times running
    raise Conflict("Inventory entries changed while this was applied; try again.")


def expect_deliveries(
    session: Session, store_id: int, pairs: Iterable[tuple[int, int]], now: datetime
) -> None:
    """An order was placed for these (product, location) pairs: each has an entry (created
    empty where missing, so what is on its way shows where it will arrive), each location
    is still in use, and their incoming counts the order. Raises Conflict naming an
    archived location."""
    ids = _ensure_and_lock(session, store_id, pairs, now)
    # Shared locks on the locations after the entry locks, in the order archive_location
    # takes them: an archive either waits for this order and then sees what it brings,
    # or this order waits for the archive and sees it.
    archived = session.execute(
        select(locations.c.code)
        .where(locations.c.id.in_(sorted({loc for _, loc in ids})),
               locations.c.archived_at.is_not(None))
        .order_by(locations.c.id)
        .with_for_update(read=True)
    ).scalars().all()
    if archived:
        raise Conflict(f"Location {archived[0]} is archived: nothing can be ordered to it.")
    _recount(session, ids.values(), now)


def refresh_incoming(
    session: Session, store_id: int, pairs: Iterable[tuple[int, int]], now: datetime
) -> None:
    """Lines bound for these (product, location) pairs left the open orders (cancelled):
    recount their entries' incoming."""
    wanted = set(pairs)
    if not wanted:
        return
    ids = [
        row.id for row in session.execute(
            select(entries.c.id, entries.c.product_id, entries.c.location_id).where(
                entries.c.store_id == store_id,
                entries.c.product_id.in_(sorted({p for p, _ in wanted})),
            )
        )
        if (row.product_id, row.location_id) in wanted
    ]
    lock_entries(session, ids)
    _recount(session, ids, now)


# --------------------------------------------------------------------------- receiving


@dataclass(frozen=True)
class Delivery:
    """Units of one purchase order line arriving: how many, what each cost in the store's
    currency (stored scale), and how many of them are beyond the order (confirmed)."""

    line_id: int
    product_id: int
    location_id: int
    quantity: int
    unit_cost: int
    over: int = 0


_ADD_RECEIVED = (
    update(entries)
    .where(entries.c.id == bindparam("entry_id"), entries.c.quantity + bindparam("n") <= LIMIT)
    .values(
        quantity=entries.c.quantity + bindparam("n"),
        average_cost=bindparam("average"),
        version=entries.c.version + 1,
        updated_at=bindparam("now"),
        last_movement_at=bindparam("now"),
    )
    .returning(*ENTRY_COLUMNS)
)


def receive_deliveries(
    session: Session,
    actor: Actor,
    store_id: int,
    deliveries: Sequence[Delivery],
    now: datetime,
    *,
    reference: str,
    reason: str | None = None,
) -> tuple[list[EntryState], list[int]]:
    """Put received units on hand: one `received` ledger row per delivery naming its line,
    all in one batch; each entry's average cost follows; incoming is recounted (the caller
    has already raised the lines' received quantities). Returns the entries after and the
    ledger rows' ids. Raises QuantityTooLarge."""
    ids = _ensure_and_lock(
        session, store_id, [(d.product_id, d.location_id) for d in deliveries], now
    )
    entry_ids = sorted(set(ids.values()))
    # Read under the locks: the average needs on hand as it is before.
    current: dict[int, Any] = {
        row.id: row for row in session.execute(
            select(*ENTRY_COLUMNS).where(entries.c.id.in_(entry_ids))
        )
    }
    after: dict[int, Any] = {}
    ledger: list[LedgerRow] = []
    for d in sorted(deliveries, key=lambda d: (ids[(d.product_id, d.location_id)], d.line_id)):
        entry_id = ids[(d.product_id, d.location_id)]
        before = after.get(entry_id) or current[entry_id]
        average = moving_average(before.quantity, before.average_cost, d.quantity, d.unit_cost)
        row = session.execute(
            _ADD_RECEIVED, {"entry_id": entry_id, "n": d.quantity, "average": average, "now": now}
        ).one_or_none()
        if row is None:
            raise QuantityTooLarge()
        after[entry_id] = row
        note = reason
        if d.over and not note:
            note = f"{d.over:,} beyond the order, confirmed"
        ledger.append(LedgerRow.of(
            row, "received", d.quantity, reason=note, reference=reference,
            unit_cost=d.unit_cost, purchase_order_line_id=d.line_id,
        ))
    _recount(session, entry_ids, now)
    movement_ids = write_ledger(session, actor, ledger, now, batch_ref=uuid.uuid4().hex)
    return [EntryState.of(after[i]) for i in entry_ids], movement_ids


__all__ = [
    "OUTSTANDING",
    "Delivery",
    "expect_deliveries",
    "moving_average",
    "receive_deliveries",
    "refresh_incoming",
]
