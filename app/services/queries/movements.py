"""Read models for the stock ledger: the audit log, one entry's history and its chart, CSV.

The audit log shows the stores where the actor holds audit:read; an entry's own history
needs only inventory:read, since whoever may see an entry may see how it got there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Select,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)

from app.extensions import db
from app.models import InventoryEntry, Location, Product, StockMovement, Store, User
from app.permissions import AUDIT, READ, Actor
from app.services.cursors import decode_cursor, encode_cursor
from app.services.errors import NotFound

movements = StockMovement.__table__
entries = InventoryEntry.__table__
products = Product.__table__
locations = Location.__table__
stores = Store.__table__
users = User.__table__

TYPE_LABELS = {
    "received": "Received",
    "adjustment": "Adjustment",
    "set": "Set",
    "count": "Count",
    "transfer_out": "Transfer out",
    "transfer_in": "Transfer in",
    "reserved": "Reserved",
    "released": "Released",
    "fulfilled": "Fulfilled",
    "returned": "Returned",
    "deleted": "Deleted",
}

# Counting a huge filtered ledger costs a full scan; past this many rows "10,000+" is enough.
COUNT_CAP = 10_000
CSV_BATCH = 500
SERIES_CAP = 5_000


def audit_scope(actor: Actor, column: Any = movements.c.store_id) -> ColumnElement[bool]:
    """Rows of stores where the actor may read the audit log."""
    return _scope(actor, AUDIT, column)


def can_audit(actor: Actor) -> bool:
    """Whether the actor may read the audit log of at least one store."""
    allowed = actor.stores_with(AUDIT)
    return allowed is None or bool(allowed)


def _scope(actor: Actor, permission: str, column: Any) -> ColumnElement[bool]:
    allowed = actor.stores_with(permission)
    if allowed is None:
        return true()
    return column.in_(sorted(allowed))


@dataclass(frozen=True)
class MovementFilters:
    """What narrows the audit log; the URL carries all of it."""

    store_id: int | None = None
    product_id: int | None = None
    location_id: int | None = None
    movement_type: str | None = None
    actor_id: int | None = None
    actor_name: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    # The batch a bulk change, an import or a transfer wrote its rows under.
    batch_ref: str | None = None


@dataclass(frozen=True)
class MovementView:
    id: int
    created_at: datetime
    type: str
    store_id: int
    store_name: str
    entry_id: int
    entry_exists: bool
    product_id: int
    sku: str
    title: str
    location_id: int
    location_code: str
    quantity_delta: int
    reserved_delta: int
    quantity_after: int
    reserved_after: int
    reason: str | None
    reference: str | None
    reservation_id: int | None
    batch_ref: str | None
    actor_id: int | None
    actor_name: str

    @property
    def available_after(self) -> int:
        return self.quantity_after - self.reserved_after

    @property
    def type_label(self) -> str:
        return TYPE_LABELS.get(self.type, self.type)


@dataclass(frozen=True)
class MovementPage:
    rows: list[MovementView]
    total: int
    total_capped: bool
    next_cursor: str | None
    prev_cursor: str | None


def _movement_select() -> Select[Any]:
    return (
        select(
            movements.c.id,
            movements.c.created_at,
            movements.c.type,
            movements.c.store_id,
            stores.c.name.label("store_name"),
            movements.c.entry_id,
            entries.c.id.is_not(None).label("entry_exists"),
            movements.c.product_id,
            products.c.sku,
            products.c.title,
            movements.c.location_id,
            locations.c.code.label("location_code"),
            movements.c.quantity_delta,
            movements.c.reserved_delta,
            movements.c.quantity_after,
            movements.c.reserved_after,
            movements.c.reason,
            movements.c.reference,
            movements.c.reservation_id,
            movements.c.batch_ref,
            movements.c.actor_id,
            movements.c.actor_name,
        )
        .select_from(movements)
        .join(products, products.c.id == movements.c.product_id)
        .join(locations, locations.c.id == movements.c.location_id)
        .join(stores, stores.c.id == movements.c.store_id)
        # Movements outlive their entry; this only tells the page whether to link to it.
        .outerjoin(entries, entries.c.id == movements.c.entry_id)
    )


def _view(row: Any) -> MovementView:
    values = row._asdict()
    values["entry_exists"] = bool(values["entry_exists"])
    return MovementView(**values)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _conditions(actor: Actor, filters: MovementFilters) -> list[ColumnElement[bool]]:
    conditions = [audit_scope(actor)]
    if filters.store_id is not None:
        conditions.append(movements.c.store_id == filters.store_id)
    if filters.product_id is not None:
        conditions.append(movements.c.product_id == filters.product_id)
    if filters.location_id is not None:
        conditions.append(movements.c.location_id == filters.location_id)
    if filters.movement_type is not None:
        conditions.append(movements.c.type == filters.movement_type)
    if filters.actor_id is not None:
        conditions.append(movements.c.actor_id == filters.actor_id)
    if filters.actor_name:
        pattern = "%" + _escape_like(filters.actor_name.strip()) + "%"
        # The ledger keeps the sign-in email; people also know each other by display name.
        named = select(users.c.id).where(users.c.name.ilike(pattern, escape="\\"))
        conditions.append(
            or_(
                movements.c.actor_name.ilike(pattern, escape="\\"),
                movements.c.actor_id.in_(named),
            )
        )
    if filters.batch_ref is not None:
        conditions.append(movements.c.batch_ref == filters.batch_ref)
    if filters.date_from is not None:
        conditions.append(movements.c.created_at >= _day_start(filters.date_from))
    if filters.date_to is not None and filters.date_to < date.max:
        conditions.append(movements.c.created_at < _day_start(filters.date_to + timedelta(days=1)))
    return conditions


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _page(
    query: Select[Any], count_from: Select[Any], cursor: str | None, limit: int
) -> MovementPage:
    """Newest first on (created_at, id), so a deep page costs what the first one does."""
    key = decode_cursor(cursor, datetime) if cursor else None
    backwards = bool(key and key.backwards)
    pair = tuple_(movements.c.created_at, movements.c.id)
    if key is not None:
        bound = tuple_(literal(key.value, DateTime()), literal(key.id, Integer()))
        query = query.where(pair > bound if backwards else pair < bound)
    # Walking backwards reads the opposite order and flips the page.
    order = (
        (movements.c.created_at, movements.c.id)
        if backwards
        else (movements.c.created_at.desc(), movements.c.id.desc())
    )
    fetched = [_view(r) for r in db.session.execute(query.order_by(*order).limit(limit + 1))]
    more = len(fetched) > limit
    fetched = fetched[:limit]
    if backwards:
        fetched.reverse()

    total = db.session.execute(
        select(func.count()).select_from(count_from.limit(COUNT_CAP + 1).subquery())
    ).scalar_one()

    next_cursor = prev_cursor = None
    if fetched:
        first, last = fetched[0], fetched[-1]
        if more or backwards:
            next_cursor = encode_cursor(last.created_at, last.id, backwards=False)
        if key is not None and (more or not backwards):
            prev_cursor = encode_cursor(first.created_at, first.id, backwards=True)
    return MovementPage(
        rows=fetched, total=min(int(total), COUNT_CAP), total_capped=total > COUNT_CAP,
        next_cursor=next_cursor, prev_cursor=prev_cursor,
    )


def list_movements(
    actor: Actor, filters: MovementFilters, *, cursor: str | None = None, limit: int = 50
) -> MovementPage:
    """One page of the audit log, newest first. Ids from stores the actor may not audit
    match nothing. Raises ValidationError naming `cursor` for a forged page link."""
    conditions = _conditions(actor, filters)
    return _page(
        _movement_select().where(*conditions),
        select(movements.c.id).where(*conditions),
        cursor,
        limit,
    )


def iter_movements_csv(actor: Actor, filters: MovementFilters) -> Iterator[MovementView]:
    """Every movement matching the filters, newest first, read in batches through a
    server-side cursor so an export of any size runs in constant memory."""
    query = (
        _movement_select()
        .where(*_conditions(actor, filters))
        .order_by(movements.c.created_at.desc(), movements.c.id.desc())
    )
    result = db.session.execute(query, execution_options={"yield_per": CSV_BATCH})
    try:
        for batch in result.partitions():
            for row in batch:
                yield _view(row)
    finally:
        result.close()


def _require_entry(actor: Actor, entry_id: int) -> None:
    """An entry's history is visible while the entry is, and after its deletion to readers
    of its store. Raises NotFound otherwise, also for foreign stores."""
    live = exists().where(entries.c.id == entry_id, _scope(actor, READ, entries.c.store_id))
    moved = exists().where(
        movements.c.entry_id == entry_id, _scope(actor, READ, movements.c.store_id)
    )
    if not db.session.execute(select(or_(live, moved))).scalar_one():
        raise NotFound("Inventory entry not found.")


def entry_history(
    actor: Actor, entry_id: int, *, cursor: str | None = None, limit: int = 25
) -> MovementPage:
    """One page of an entry's movements, newest first. Raises NotFound, ValidationError."""
    _require_entry(actor, entry_id)
    conditions = (movements.c.entry_id == entry_id, _scope(actor, READ, movements.c.store_id))
    return _page(
        _movement_select().where(*conditions),
        select(movements.c.id).where(*conditions),
        cursor,
        limit,
    )


class SeriesPoint(NamedTuple):
    at: datetime
    on_hand: int
    available: int


def entry_series(actor: Actor, entry_id: int, since: datetime) -> list[SeriesPoint]:
    """On hand and available after each movement since `since`, oldest first. When the
    entry moved before, the first point carries the quantities it entered the window with,
    dated `since`. At most SERIES_CAP of the latest points. Raises NotFound."""
    _require_entry(actor, entry_id)
    scoped = (movements.c.entry_id == entry_id, _scope(actor, READ, movements.c.store_id))
    columns = (
        movements.c.created_at,
        movements.c.quantity_after,
        (movements.c.quantity_after - movements.c.reserved_after).label("available_after"),
    )
    recent = db.session.execute(
        select(*columns)
        .where(*scoped, movements.c.created_at >= since)
        .order_by(movements.c.created_at.desc(), movements.c.id.desc())
        .limit(SERIES_CAP)
    ).all()
    points = [SeriesPoint(r[0], int(r[1]), int(r[2])) for r in reversed(recent)]
    if len(recent) < SERIES_CAP:
        before = db.session.execute(
            select(*columns)
            .where(*scoped, movements.c.created_at < since)
            .order_by(movements.c.created_at.desc(), movements.c.id.desc())
            .limit(1)
        ).one_or_none()
        if before is not None:
            points.insert(0, SeriesPoint(since, int(before[1]), int(before[2])))
    return points


# --------------------------------------------------------------------------- filter options


@dataclass(frozen=True)
class StoreOption:
    id: int
    name: str


@dataclass(frozen=True)
class LocationOption:
    id: int
    store_id: int
    code: str
    store_name: str


def audit_stores(actor: Actor) -> list[StoreOption]:
    """Stores whose audit log the actor may read, by name."""
    rows = db.session.execute(
        select(stores.c.id, stores.c.name)
        .where(stores.c.archived_at.is_(None), audit_scope(actor, stores.c.id))
        .order_by(stores.c.name, stores.c.id)
    )
    return [StoreOption(**r._asdict()) for r in rows]


def audit_locations(actor: Actor, *, store_id: int | None = None) -> list[LocationOption]:
    """Locations in stores the actor may audit, archived ones too: they have history."""
    query = (
        select(locations.c.id, locations.c.store_id, locations.c.code,
               stores.c.name.label("store_name"))
        .join(stores, stores.c.id == locations.c.store_id)
        .where(audit_scope(actor, locations.c.store_id))
    )
    if store_id is not None:
        query = query.where(locations.c.store_id == store_id)
    rows = db.session.execute(query.order_by(locations.c.code, stores.c.name, locations.c.id))
    return [LocationOption(**r._asdict()) for r in rows]


def filter_names(actor: Actor, filters: MovementFilters) -> dict[str, str | None]:
    """What the filtered ids are called, for the chips. Ids outside the stores the actor
    may audit resolve to None, exactly like ids that do not exist."""
    names: dict[str, str | None] = {}
    if filters.store_id is not None:
        names["store"] = db.session.execute(
            select(stores.c.name).where(
                stores.c.id == filters.store_id, audit_scope(actor, stores.c.id)
            )
        ).scalar_one_or_none()
    if filters.product_id is not None:
        row = db.session.execute(
            select(products.c.sku, products.c.title).where(
                products.c.id == filters.product_id, audit_scope(actor, products.c.store_id)
            )
        ).one_or_none()
        names["product"] = None if row is None else f"{row.sku} — {row.title}"
    if filters.location_id is not None:
        names["location"] = db.session.execute(
            select(locations.c.code).where(
                locations.c.id == filters.location_id, audit_scope(actor, locations.c.store_id)
            )
        ).scalar_one_or_none()
    if filters.actor_id is not None:
        # Named as the ledger recorded them, and only when they acted in a store the actor
        # audits: a user id must not reveal who works elsewhere.
        names["actor"] = db.session.execute(
            select(movements.c.actor_name)
            .where(movements.c.actor_id == filters.actor_id, audit_scope(actor))
            .order_by(movements.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    return names
