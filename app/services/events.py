"""The outbox: every stock change and the record changes integrators follow become events,
written by the transaction that makes the change (app.models.events says why and how they
are numbered).

Writers only note what happened (`note_ledger`, `note_threshold`, `emit`); the events are
written once, when the transaction commits (a `before_commit` hook on every session):
- each ledger row gives one `stock.changed`;
- a row that moves an entry of a physical product from one level to another (out: nothing
  available; low: at or below its threshold; in stock otherwise) also gives `stock.out`,
  `stock.low` or `stock.back_in_stock`: once per crossing, never on a change that stays
  below;
- a change of threshold that moves an entry across gives the same, with no ledger row;
  an import row that changes quantity and threshold together is judged from the old
  threshold before it to the new one after.
The store's numbers are taken last, so that its `event_sequences` row is locked only for
the instant between the events' insert and the commit. If writing the events fails, the
commit fails, and the change with it.

`feed` reads a store's events after a number, each as the payload a consumer receives.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Row, and_, event, insert, select, update
from sqlalchemy.orm import Session, SessionTransaction

from app.clock import utcnow
from app.database import insert_ignoring_conflicts
from app.extensions import db
from app.models import (
    Event,
    EventSequence,
    InventoryEntry,
    Location,
    Product,
    StockMovement,
    Store,
)
from app.permissions import Actor
from app.services.errors import ValidationError
from app.services.queries.lookups import resolve_store

events = Event.__table__
sequences = EventSequence.__table__
entries = InventoryEntry.__table__
movements = StockMovement.__table__
products = Product.__table__
locations = Location.__table__
stores = Store.__table__

_PENDING = "stockroom_pending_events"
# What an entry's level becomes, and the event that says so.
CROSSINGS = {"out": "stock.out", "low": "stock.low", "in": "stock.back_in_stock"}
FEED_LIMIT = 100
MAX_FEED_LIMIT = 1000
_LOOKUP_CHUNK = 1000


class MovedRow(Protocol):
    """A ledger row as the stock engine writes it (app.services.stock.engine.LedgerRow)."""

    @property
    def store_id(self) -> int: ...
    @property
    def entry_id(self) -> int: ...
    @property
    def product_id(self) -> int: ...
    @property
    def location_id(self) -> int: ...
    @property
    def quantity_delta(self) -> int: ...
    @property
    def reserved_delta(self) -> int: ...
    @property
    def quantity_after(self) -> int: ...
    @property
    def reserved_after(self) -> int: ...


class EntryAfter(Protocol):
    """Anything carrying an entry's identity and its quantities after a change (the stock
    engine's entry rows, the threshold writers' entries)."""

    @property
    def id(self) -> int: ...
    @property
    def store_id(self) -> int: ...
    @property
    def product_id(self) -> int: ...
    @property
    def location_id(self) -> int: ...
    @property
    def quantity(self) -> int: ...
    @property
    def reserved_quantity(self) -> int: ...


@dataclass(frozen=True)
class _Noted:
    """One event to write: a type and what it points at or carries."""

    store_id: int
    type: str
    entry_id: int | None = None
    movement_id: int | None = None
    product_id: int | None = None
    location_id: int | None = None
    data: Mapping[str, Any] | None = None


# --------------------------------------------------------------------------- writers


def level(available: int, threshold: int) -> str:
    """Where an entry of a physical product stands: out, low or in."""
    if available <= 0:
        return "out"
    if threshold > 0 and available <= threshold:
        return "low"
    return "in"


def _pending(session: Session) -> list[Any]:
    return session.info.setdefault(_PENDING, [])


def note_ledger(session: Session, rows: Sequence[MovedRow], ids: Sequence[int]) -> None:
    """The ledger rows `rows`, written with ids `ids`, in the caller's transaction."""
    if rows:
        _pending(session).append(("ledger", rows, ids))


def note_threshold(session: Session, entry: EntryAfter, before: int, after: int) -> None:
    """The entry's threshold went from `before` to `after`, its quantities unchanged."""
    if before != after:
        _pending(session).append(("threshold", entry, before, after))


def note_threshold_with_stock(session: Session, entry_id: int, before: int) -> None:
    """The entry's next ledger row in this transaction comes with a new threshold, which
    was `before`: its crossing is judged from where it stood under the old threshold."""
    _pending(session).append(("threshold_before", entry_id, before))


def emit(session: Session, store_id: int, event_type: str, data: Mapping[str, Any]) -> None:
    """A record event (a reservation expired, a purchase order placed) with its payload."""
    _pending(session).append(("record", _Noted(store_id, event_type, data=dict(data))))


def _products_of(session: Session, entry_ids: Iterable[int]) -> dict[int, tuple[int, bool, bool]]:
    """Per entry: its threshold, whether its product is physical, whether it backorders."""
    ids = sorted(set(entry_ids))
    found: dict[int, tuple[int, bool, bool]] = {}
    for start in range(0, len(ids), _LOOKUP_CHUNK):
        for row in session.execute(
            select(entries.c.id, entries.c.low_stock_threshold, products.c.type,
                   products.c.allow_backorder)
            .join(products, products.c.id == entries.c.product_id)
            .where(entries.c.id.in_(ids[start:start + _LOOKUP_CHUNK]))
        ):
            found[row.id] = (row.low_stock_threshold, row.type == "physical",
                             bool(row.allow_backorder))
    return found


def _status(to: str, backorders: bool) -> str:
    if to == "out":
        return "on_backorder" if backorders else "out_of_stock"
    return "low_stock" if to == "low" else "in_stock"


def _crossing(store_id: int, entry_id: int, product_id: int, location_id: int,
              movement_id: int | None, to: str, threshold: int, backorders: bool,
              extra: Mapping[str, Any] | None = None) -> _Noted:
    data = {"status": _status(to, backorders), "low_stock_threshold": threshold, **(extra or {})}
    return _Noted(store_id, CROSSINGS[to], entry_id, movement_id, product_id, location_id, data)


def _collect(session: Session, pending: list[Any]) -> list[_Noted]:
    """The events of the transaction's notes, in the order they happened."""
    touched = [r.entry_id for p in pending if p[0] == "ledger" for r in p[1]]
    touched += [p[1].id for p in pending if p[0] == "threshold"]
    facts = _products_of(session, touched) if touched else {}
    noted: list[_Noted] = []
    old_thresholds: dict[int, int] = {}
    for note in pending:
        kind = note[0]
        if kind == "record":
            noted.append(note[1])
        elif kind == "threshold_before":
            old_thresholds[note[1]] = note[2]
        elif kind == "ledger":
            _, rows, ids = note
            for row, movement_id in zip(rows, ids, strict=True):
                noted.append(_Noted(row.store_id, "stock.changed", row.entry_id, movement_id,
                                    row.product_id, row.location_id))
                fact = facts.get(row.entry_id)
                if fact is None or not fact[1]:
                    continue  # gone (deleted) or not kept in stock
                threshold, _, backorders = fact
                after = row.quantity_after - row.reserved_after
                before = after - row.quantity_delta + row.reserved_delta
                was = level(before, old_thresholds.pop(row.entry_id, threshold))
                now = level(after, threshold)
                if was != now:
                    noted.append(_crossing(row.store_id, row.entry_id, row.product_id,
                                           row.location_id, movement_id, now, threshold,
                                           backorders))
        else:
            _, entry, old, new = note
            fact = facts.get(entry.id)
            if fact is None or not fact[1]:
                continue
            _, _, backorders = fact
            available = entry.quantity - entry.reserved_quantity
            was, now = level(available, old), level(available, new)
            if was != now:
                noted.append(_crossing(
                    entry.store_id, entry.id, entry.product_id, entry.location_id, None, now,
                    new, backorders,
                    {"quantity": entry.quantity, "reserved_quantity": entry.reserved_quantity},
                ))
    return noted


def _take_numbers(session: Session, store_id: int, count: int) -> int:
    """Reserve `count` numbers of the store's events; the last of them. Locks the store's
    sequence row until the transaction ends."""
    bump = (
        update(sequences).where(sequences.c.store_id == store_id)
        .values(last_sequence=sequences.c.last_sequence + count)
        .returning(sequences.c.last_sequence)
    )
    last = session.execute(bump).scalar_one_or_none()
    if last is None:
        session.execute(
            insert_ignoring_conflicts(sequences, session.get_bind().dialect.name)
            .values(store_id=store_id, last_sequence=0)
        )
        last = session.execute(bump).scalar_one()
    return int(last)


def write_pending(session: Session) -> int:
    """Write the transaction's events now; how many. Runs as the transaction commits."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return 0
    noted = _collect(session, pending)
    by_store: dict[int, list[_Noted]] = {}
    for item in noted:
        by_store.setdefault(item.store_id, []).append(item)
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for store_id in sorted(by_store):  # always the same order: no deadlock between stores
        items = by_store[store_id]
        first = _take_numbers(session, store_id, len(items)) - len(items) + 1
        rows.extend(
            {"store_id": store_id, "sequence": first + i, "type": item.type,
             "entry_id": item.entry_id, "movement_id": item.movement_id,
             "product_id": item.product_id, "location_id": item.location_id,
             "data": None if item.data is None else json.dumps(item.data, sort_keys=True),
             "created_at": now}
            for i, item in enumerate(items)
        )
    for start in range(0, len(rows), 5_000):
        session.execute(insert(events), rows[start:start + 5_000])
    return len(rows)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # A rolled-back transaction's notes go with it (a committed one has none left).
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


# --------------------------------------------------------------------------- the feed


@dataclass(frozen=True)
class FeedPage:
    store_id: int
    events: list[dict[str, Any]]
    # The number to ask after for the next page: the last one here, or `after` when empty.
    next_after: int
    has_more: bool


_FEED_COLUMNS = (
    events.c.id, events.c.store_id, events.c.sequence, events.c.type, events.c.entry_id,
    events.c.movement_id, events.c.product_id, events.c.location_id, events.c.data,
    events.c.created_at,
    movements.c.type.label("movement_type"), movements.c.quantity_delta,
    movements.c.reserved_delta, movements.c.quantity_after, movements.c.reserved_after,
    movements.c.reason, movements.c.reference, movements.c.reservation_id,
    movements.c.actor_id, movements.c.actor_name, movements.c.purchase_order_line_id,
    products.c.sku, products.c.title, locations.c.code.label("location_code"),
)


def event_rows(session: Session, condition: Any, *, limit: int | None = None,
               newest_first: bool = False) -> list[Row[Any]]:
    """Events matching `condition` with what their payloads need, in store then number order
    (or each store's newest first)."""
    order = ((events.c.store_id, events.c.sequence.desc()) if newest_first
             else (events.c.store_id, events.c.sequence))
    query = (
        select(*_FEED_COLUMNS).select_from(events)
        .outerjoin(movements, movements.c.id == events.c.movement_id)
        .outerjoin(products, products.c.id == events.c.product_id)
        .outerjoin(locations, locations.c.id == events.c.location_id)
        .where(condition).order_by(*order)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query))


def _moment(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def payload(row: Row[Any]) -> dict[str, Any]:
    """What a consumer receives for one event: the same in the feed and in a webhook."""
    data: dict[str, Any] = json.loads(row.data) if row.data else {}
    if row.entry_id is not None:
        stock: dict[str, Any] = {
            "entry_id": row.entry_id, "product_id": row.product_id, "sku": row.sku,
            "title": row.title, "location_id": row.location_id,
            "location": row.location_code,
        }
        if row.movement_id is not None:
            quantity, reserved = row.quantity_after, row.reserved_after
            stock.update({
                "movement_id": row.movement_id, "movement_type": row.movement_type,
                "quantity_before": quantity - row.quantity_delta, "quantity_after": quantity,
                "reserved_before": reserved - row.reserved_delta, "reserved_after": reserved,
                "available_before": (quantity - row.quantity_delta)
                - (reserved - row.reserved_delta),
                "available_after": quantity - reserved,
                "reason": row.reason, "reference": row.reference,
                "reservation_id": row.reservation_id,
                "purchase_order_line_id": row.purchase_order_line_id,
                "actor": {"user_id": row.actor_id, "name": row.actor_name},
            })
        else:
            quantity = data.pop("quantity", None)
            reserved = data.pop("reserved_quantity", None)
            if quantity is not None and reserved is not None:
                stock.update({"quantity_after": quantity, "reserved_after": reserved,
                              "available_after": quantity - reserved})
        data = {**stock, **data}
    return {
        "id": event_id(row.store_id, row.sequence), "type": row.type,
        "store_id": row.store_id, "sequence": row.sequence,
        "timestamp": _moment(row.created_at), "data": data,
    }


def event_id(store_id: int, sequence: int) -> str:
    """An event's id, the same in every delivery of it: the store and its number."""
    return f"evt_{store_id}_{sequence}"


def feed(actor: Actor, *, store_id: int | None, after: Any = 0, limit: Any = FEED_LIMIT,
         session: Session | None = None) -> FeedPage:
    """The store's events numbered after `after`, oldest first, at most `limit`. A consumer
    that stores the last number it handled and asks after it reads each event once, with
    no gap, whatever committed meanwhile."""
    problems: dict[str, str] = {}
    if type(after) is not int or after < 0:
        problems["after"] = "Must be a whole number, 0 or more."
    if type(limit) is not int or not 1 <= limit <= MAX_FEED_LIMIT:
        problems["limit"] = f"Must be a whole number from 1 to {MAX_FEED_LIMIT}."
    if problems:
        raise ValidationError(problems)
    store = resolve_store(actor, store_id)
    session = session or db.session()
    rows = event_rows(session, and_(events.c.store_id == store, events.c.sequence > after),
                      limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return FeedPage(store, [payload(r) for r in rows],
                    rows[-1].sequence if rows else after, more)


__all__ = [
    "CROSSINGS",
    "FEED_LIMIT",
    "MAX_FEED_LIMIT",
    "FeedPage",
    "emit",
    "event_id",
    "event_rows",
    "feed",
    "level",
    "note_ledger",
    "note_threshold",
    "note_threshold_with_stock",
    "payload",
    "write_pending",
]
