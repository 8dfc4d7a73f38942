"""The stock engine: what every stock change in Stockroom is built from.

It owns the guarded statements (one conditional UPDATE … RETURNING per kind of change),
the results an operation returns (EntryState, StockChange), the mutation runner
(`run_mutation`: one write transaction, idempotent replay, a retry when two repeats race),
the look-ups and locks the verbs share, and THE ledger writer (`write_ledger`), which
appends one or many ledger rows. The verbs live beside it by area (entries, holds,
orders, transfers, bulk, imports); no module outside this package writes inventory
entries or ledger rows (tests/unit/test_stock_writers.py checks that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    and_,
    bindparam,
    insert,
    select,
    text,
    true,
    update,
)
from sqlalchemy.orm import Session

from app.database import insert_ignoring_conflicts
from app.models import (
    InventoryEntry,
    Location,
    Product,
    Reservation,
    StockMovement,
)
from app.permissions import Actor, system_actor
from app.services import events
from app.services.errors import (
    NotFound,
    PermissionDenied,
    ValidationError,
)
from app.services.idempotency import run_keyed
from app.services.validation import LIMIT, Checker, clean_text, is_id

entries = InventoryEntry.__table__
movements = StockMovement.__table__
reservations = Reservation.__table__
products = Product.__table__
locations = Location.__table__

ENTRY_COLUMNS = (
    entries.c.id,
    entries.c.store_id,
    entries.c.product_id,
    entries.c.location_id,
    entries.c.quantity,
    entries.c.reserved_quantity,
    entries.c.version,
    entries.c.average_cost,
)
EXPIRY_ACTOR = system_actor("expiry")
MAX_ORDER_LINES = 200
# Rows per statement when many ledger rows (or entries) are written at once.
WRITE_CHUNK = 5_000
# Built once: the values travel as execution parameters, so each call skips building the
# statement and computing its cache key (most of a ledger write's Python time).
INSERT_RESERVATION = insert(reservations).returning(reservations.c.id)


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class GuardedUpdate:
    """One conditional UPDATE … RETURNING, built once with bound parameters: for actors
    limited to some stores (`scoped`, with an expanding list of store ids) and for those
    who may act everywhere (`anywhere`)."""

    scoped: Any
    anywhere: Any


def guarded(values: Mapping[str, Any], condition: ColumnElement[bool]) -> GuardedUpdate:
    """A guarded change of one entry: it applies only when `condition` holds, bumps the
    version and stamps the entry's last movement."""

    def build(scope: ColumnElement[bool]) -> Any:
        return (
            update(entries)
            .where(entries.c.id == bindparam("entry_id"), scope, condition)
            .values(
                **values,
                version=entries.c.version + 1,
                updated_at=bindparam("now"),
                last_movement_at=bindparam("now"),
            )
            .returning(*ENTRY_COLUMNS)
        )

    stores = entries.c.store_id.in_(bindparam("stores", expanding=True))
    return GuardedUpdate(scoped=build(stores), anywhere=build(true()))


_n = bindparam("n", type_=Integer)
_on_hand, _held = entries.c.quantity, entries.c.reserved_quantity
ADD_ON_HAND = guarded({"quantity": _on_hand + _n}, _on_hand + _n <= LIMIT)
ADJUST_ON_HAND = guarded(
    {"quantity": _on_hand + _n}, and_(_on_hand + _n >= _held, _on_hand + _n <= LIMIT)
)
TAKE_AVAILABLE = guarded({"quantity": _on_hand - _n}, _on_hand - _held >= _n)
HOLD = guarded({"reserved_quantity": _held + _n}, _on_hand - _held >= _n)
RELEASE_HOLD = guarded({"reserved_quantity": _held - _n}, _held >= _n)
SHIP_HOLD = guarded({"reserved_quantity": _held - _n, "quantity": _on_hand - _n}, _held >= _n)
_replace_guard = and_(entries.c.version == bindparam("seen_version"), _held <= _n)
REPLACE_ON_HAND = guarded({"quantity": _n}, _replace_guard)
RECORD_COUNT = guarded({"quantity": _n, "last_counted_at": bindparam("now")}, _replace_guard)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EntryState:
    """An entry's quantities right after an operation."""

    id: int
    store_id: int
    product_id: int
    location_id: int
    quantity: int
    reserved_quantity: int
    version: int
    # The moving average cost of a unit (app.models.purchasing.COST_SCALE); None while
    # unknown, and in results stored before costs were kept.
    average_cost: int | None = None

    @property
    def available_quantity(self) -> int:
        return self.quantity - self.reserved_quantity

    @classmethod
    def of(cls, row: Row[Any]) -> EntryState:
        return cls(**{c.name: getattr(row, c.name) for c in ENTRY_COLUMNS})


@dataclass(frozen=True)
class StockChange:
    """What an operation did; stored as JSON so an idempotent repeat can replay it."""

    operation: str
    entries: tuple[EntryState, ...] = ()
    movement_ids: tuple[int, ...] = ()
    reservation_ids: tuple[int, ...] = ()
    previous_quantity: int | None = None
    replayed: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def entry(self) -> EntryState:
        return self.entries[0]

    def to_json(self) -> dict[str, Any]:
        """The change as plain data, what dataclasses.asdict gives less `replayed`; built
        field by field, since every API mutation and idempotency record pays for it."""
        return {
            "operation": self.operation,
            "entries": tuple(
                {"id": e.id, "store_id": e.store_id, "product_id": e.product_id,
                 "location_id": e.location_id, "quantity": e.quantity,
                 "reserved_quantity": e.reserved_quantity, "version": e.version,
                 "average_cost": e.average_cost}
                for e in self.entries
            ),
            "movement_ids": tuple(self.movement_ids),
            "reservation_ids": tuple(self.reservation_ids),
            "previous_quantity": self.previous_quantity,
            "details": asdict(_Details(self.details))["value"] if self.details else {},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StockChange:
        return cls(
            operation=data["operation"],
            entries=tuple(EntryState(**e) for e in data["entries"]),
            movement_ids=tuple(data["movement_ids"]),
            reservation_ids=tuple(data["reservation_ids"]),
            previous_quantity=data["previous_quantity"],
            details=dict(data.get("details") or {}),
            replayed=True,
        )


@dataclass(frozen=True)
class _Details:
    """Copies a change's details as dataclasses.asdict copies any field (nested dicts,
    lists and tuples rebuilt, other values deep-copied), so a caller's changes to the JSON
    never reach the change."""

    value: Mapping[str, Any]


# --------------------------------------------------------------------------- the runner


def run_mutation(
    operation: str,
    actor: Actor,
    idempotency_key: str | None,
    params: Mapping[str, Any],
    work: Callable[[Session], StockChange],
) -> StockChange:
    """Run `work` in one write transaction; with a key, the first result is kept and
    every repeat of the same request replays it (app.services.idempotency.run_keyed).
    Raises IdempotencyKeyReused for a key sent with another request."""
    return run_keyed(operation, actor, idempotency_key, params, work,
                     save=StockChange.to_json, replay=StockChange.from_json)


# --------------------------------------------------------------------------- the ledger


# Anything carrying an entry's identity and its quantities after a change: the outbox's.
EntryAfter = events.EntryAfter


class LedgerRow(NamedTuple):
    """One ledger row to append: which entry, what moved, and its quantities after. The
    writer adds what a batch shares (batch reference, actor, time). A tuple, so a batch of
    thousands costs no more to build than the parameters the driver needs anyway.

    `unit_cost` is the cost of a unit the row moved: a receipt's own, else the entry's
    average in effect. Replaying a ledger's rows that add units at their unit cost gives the
    entry's average cost (stock.receipts.moving_average)."""

    store_id: int
    entry_id: int
    product_id: int
    location_id: int
    type: str
    quantity_delta: int
    reserved_delta: int
    quantity_after: int
    reserved_after: int
    reason: str | None = None
    reference: str | None = None
    reservation_id: int | None = None
    unit_cost: int | None = None
    purchase_order_line_id: int | None = None

    @classmethod
    def of(
        cls,
        after: EntryAfter,
        movement_type: str,
        quantity_delta: int,
        reserved_delta: int = 0,
        *,
        reason: str | None = None,
        reference: str | None = None,
        reservation_id: int | None = None,
        unit_cost: int | None = None,
        purchase_order_line_id: int | None = None,
    ) -> LedgerRow:
        """The row for a change that left the entry as `after`; without a `unit_cost`, the
        row carries the entry's average cost (when `after` has one)."""
        if unit_cost is None:
            unit_cost = getattr(after, "average_cost", None)
        return cls(
            after.store_id, after.id, after.product_id, after.location_id, movement_type,
            quantity_delta, reserved_delta, after.quantity, after.reserved_quantity,
            reason, reference, reservation_id, unit_cost, purchase_order_line_id,
        )


# The one list of a ledger row's columns: the row's own fields, then what a batch shares.
_ROW_FIELDS = LedgerRow._fields
_SHARED_FIELDS = ("batch_ref", "actor_id", "actor_name", "created_at")
LEDGER_COLUMNS = (*_ROW_FIELDS, *_SHARED_FIELDS)

INSERT_MOVEMENT = insert(movements).returning(movements.c.id)
# Many rows at once. SQLite: the driver's executemany on plain tuples, since per-row
# parameter processing in SQLAlchemy would cost more than the writes (so the time is sent
# in the text form SQLAlchemy stores). PostgreSQL: one statement per chunk, the rows
# travelling as one array per column.
_SQLITE_INSERT_MOVEMENTS = (
    f"INSERT INTO {movements.name} ({', '.join(LEDGER_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in LEDGER_COLUMNS)})"
)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _array_type(name: str) -> str:
    kind = movements.c[name].type
    if isinstance(kind, BigInteger):
        return "bigint[]"
    return "integer[]" if isinstance(kind, Integer) else "varchar[]"


_PG_INSERT_MOVEMENTS = text(
    f"INSERT INTO {movements.name} (id, {', '.join(LEDGER_COLUMNS)}) "
    f"SELECT v.id, {', '.join(f'v.{n}' for n in _ROW_FIELDS)}, "
    ":batch_ref, :actor_id, :actor_name, :created_at FROM unnest(CAST(:id AS integer[]), "
    + ", ".join(f"CAST(:{n} AS {_array_type(n)})" for n in _ROW_FIELDS)
    + f") AS v(id, {', '.join(_ROW_FIELDS)})"
).bindparams(bindparam("actor_id", type_=Integer))
_PG_NEXT_MOVEMENT_IDS = text(
    f"SELECT nextval(pg_get_serial_sequence('{movements.name}', 'id')) "
    "FROM generate_series(1, :n) ORDER BY 1"
)


def write_ledger(
    session: Session,
    actor: Actor,
    rows: Sequence[LedgerRow],
    now: datetime,
    *,
    batch_ref: str | None = None,
    want_ids: bool = True,
) -> list[int]:
    """THE ledger writer: append `rows` in order, in the caller's transaction, as `actor`
    at `now`, optionally sharing a batch reference. With `want_ids` it returns the new
    rows' ids (one statement per row); without, it writes in set-based chunks (bulk work
    and imports) and returns no ids."""
    if want_ids:
        shared = (batch_ref, actor.user_id, actor.name, now)
        ids = [
            session.execute(
                INSERT_MOVEMENT, dict(zip(LEDGER_COLUMNS, (*r, *shared), strict=True))
            ).scalar_one()
            for r in rows
        ]
        events.note_ledger(session, rows, ids)
        return ids
    postgres = session.get_bind().dialect.name == "postgresql"
    for chunk in chunks(rows, WRITE_CHUNK):
        if postgres:
            # The ids are drawn first, so that each row's events can name it.
            ids = list(session.execute(_PG_NEXT_MOVEMENT_IDS, {"n": len(chunk)}).scalars())
            columns = zip(*chunk, strict=True)
            session.execute(_PG_INSERT_MOVEMENTS, {
                "id": ids, **dict(zip(_ROW_FIELDS, map(list, columns), strict=True)),
                "batch_ref": batch_ref, "actor_id": actor.user_id, "actor_name": actor.name,
                "created_at": now,
            })
        else:
            shared = (batch_ref, actor.user_id, actor.name, now.strftime(SQLITE_TIME))
            connection = session.connection()
            connection.exec_driver_sql(
                _SQLITE_INSERT_MOVEMENTS, [(*r, *shared) for r in chunk]
            )
            # SQLite has one writer, which is us: the chunk's rows took the ids up to the
            # largest one, one after another.
            last = connection.exec_driver_sql(f"SELECT MAX(id) FROM {movements.name}").scalar()
            ids = list(range(int(last) - len(chunk) + 1, int(last) + 1))
        events.note_ledger(session, chunk, ids)
    return []


def record(
    session: Session,
    actor: Actor,
    after: EntryAfter,
    movement_type: str,
    quantity_delta: int,
    reserved_delta: int,
    now: datetime,
    *,
    reason: str | None = None,
    reference: str | None = None,
    reservation_id: int | None = None,
    batch_ref: str | None = None,
    unit_cost: int | None = None,
) -> int:
    """Append one ledger row carrying the entry's quantities after the change; its id."""
    row = LedgerRow.of(
        after, movement_type, quantity_delta, reserved_delta,
        reason=reason, reference=reference, reservation_id=reservation_id,
        unit_cost=unit_cost,
    )
    return write_ledger(session, actor, (row,), now, batch_ref=batch_ref)[0]


# --------------------------------------------------------------------------- shared steps


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """`items` in slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def change_entry(
    session: Session,
    actor: Actor,
    permission: str,
    statement: GuardedUpdate,
    entry_id: int,
    now: datetime,
    **params: Any,
) -> Row[Any] | None:
    """The conditional UPDATE at the heart of every operation: it applies only when the
    entry exists in a store where the actor holds `permission` and the statement's guard
    holds. A malformed id matches nothing; the caller's entry_for then reports NotFound."""
    if not is_id(entry_id):
        return None
    stores = actor.stores_with(permission)
    values = {"entry_id": entry_id, "now": now, **params}
    if stores is None:
        return session.execute(statement.anywhere, values).one_or_none()
    return session.execute(statement.scoped, {**values, "stores": sorted(stores)}).one_or_none()


def entry_for(
    session: Session, actor: Actor, permission: str, entry_id: Any, *, lock: bool = False
) -> Row[Any]:
    """The entry as it stands, or NotFound / PermissionDenied for this actor."""
    if not is_id(entry_id):
        raise NotFound("Inventory entry not found.", {"entry_id": "No such inventory entry."})
    query = select(*ENTRY_COLUMNS).where(entries.c.id == entry_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).one_or_none()
    if row is None or not actor.is_member(row.store_id):
        raise NotFound("Inventory entry not found.", {"entry_id": "No such inventory entry."})
    require(actor, permission, row.store_id)
    return row


def entry_exists(session: Session, entry_id: int) -> bool:
    """Whether the entry is there at all, whoever may see it."""
    return session.execute(select(entries.c.id).where(entries.c.id == entry_id)).first() is not None


def require(actor: Actor, permission: str, store_id: int) -> None:
    """PermissionDenied unless the actor holds `permission` in the store."""
    if not actor.can(permission, store_id):
        raise PermissionDenied(permission)


def store_scope(actor: Actor, permission: str) -> ColumnElement[bool]:
    """A condition on entries limiting them to the stores where the actor holds `permission`."""
    stores = actor.stores_with(permission)
    if stores is None:
        return true()
    return entries.c.store_id.in_(sorted(stores))


def available(row: Row[Any]) -> int:
    """On hand less reserved."""
    return int(row.quantity - row.reserved_quantity)


def lock_entries(session: Session, entry_ids: Iterable[int]) -> None:
    """Lock the entries in primary-key order, as every multi-row operation does."""
    ids = sorted(set(entry_ids))
    if ids:
        session.execute(
            select(entries.c.id).where(entries.c.id.in_(ids))
            .order_by(entries.c.id).with_for_update()
        ).all()


def lock_products_for_new_entries(session: Session, product_ids: Iterable[int]) -> None:
    """Share-lock the products a transaction is about to create entries of. A change of a
    product's type or backorder setting (catalog.update_product) updates the product after
    locking its entries; a new entry has no lock to wait on, so it waits on the product
    instead: then the stock tallies' triggers of the two see each other's work."""
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: one writer at a time already
    ids = sorted(set(product_ids))
    for start in range(0, len(ids), 10_000):
        session.execute(
            select(products.c.id).where(products.c.id.in_(ids[start:start + 10_000]))
            .order_by(products.c.id).with_for_update(read=True)
        ).all()


def ensure_entry(
    session: Session, store_id: int, product_id: int, location_id: int, now: datetime
) -> int:
    """The id of the product's entry at the location, created empty if missing."""
    lock_products_for_new_entries(session, [product_id])
    session.execute(
        insert_ignoring_conflicts(entries, session.get_bind().dialect.name).values(
            store_id=store_id, product_id=product_id, location_id=location_id, quantity=0,
            reserved_quantity=0, incoming_quantity=0, low_stock_threshold=0, version=1,
            created_at=now, updated_at=now,
        )
    )
    return session.execute(
        select(entries.c.id).where(
            entries.c.product_id == product_id, entries.c.location_id == location_id
        )
    ).scalar_one()


def ensure_entries(
    session: Session, store_id: int, pairs: Iterable[tuple[int, int]], now: datetime
) -> dict[tuple[int, int], int]:
    """The id of each (product, location)'s entry in the store, those missing created
    empty: one insert and one read however many pairs."""
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    lock_products_for_new_entries(session, [p for p, _ in wanted])
    session.execute(
        insert_ignoring_conflicts(entries, session.get_bind().dialect.name),
        [
            {"store_id": store_id, "product_id": p, "location_id": loc, "quantity": 0,
             "reserved_quantity": 0, "incoming_quantity": 0, "low_stock_threshold": 0,
             "version": 1, "created_at": now, "updated_at": now}
            for p, loc in wanted
        ],
    )
    found: dict[tuple[int, int], int] = {}
    for chunk in chunks(wanted, 500):
        for row in session.execute(
            select(entries.c.id, entries.c.product_id, entries.c.location_id).where(
                entries.c.store_id == store_id,
                entries.c.product_id.in_(sorted({p for p, _ in chunk})),
                entries.c.location_id.in_(sorted({loc for _, loc in chunk})),
            )
        ):
            found[(row.product_id, row.location_id)] = row.id
    return {pair: found[pair] for pair in wanted}


def insert_reservation(
    session: Session,
    actor: Actor,
    row: Row[Any],
    quantity: int,
    order_ref: str,
    line_ref: str | None,
    expires_at: datetime | None,
    now: datetime,
) -> int:
    """A new active hold on the entry `row`; its id."""
    return session.execute(
        INSERT_RESERVATION,
        {
            "store_id": row.store_id, "entry_id": row.id, "product_id": row.product_id,
            "location_id": row.location_id, "order_ref": clean_text(order_ref),
            "line_ref": clean_text(line_ref), "quantity": quantity, "open_quantity": quantity,
            "status": "active", "expires_at": expires_at, "created_by_id": actor.user_id,
            "created_at": now,
        },
    ).scalar_one()


# The longest a hold may be given to live, from now.
MAX_EXPIRY_SECONDS = 30 * 24 * 3600


def check_expiry(check: Checker, expires_at: Any, expires_in_seconds: Any) -> None:
    """A hold ends at a moment (`expires_at`) or after a while (`expires_in_seconds`), one or
    neither. A while is what a form or a retried request should send: it means the same on
    every repeat, so a keyed retry replays instead of looking like another request."""
    check.moment("expires_at", expires_at)
    if expires_in_seconds is not None:
        if expires_at is not None:
            check.fail("expires_in_seconds", "Give expires_at or expires_in_seconds, not both.")
        check.whole("expires_in_seconds", expires_in_seconds, minimum=1)
        if type(expires_in_seconds) is int and expires_in_seconds > MAX_EXPIRY_SECONDS:
            check.fail("expires_in_seconds", f"Must be at most {MAX_EXPIRY_SECONDS}.")


def expiry(expires_at: datetime | None, expires_in_seconds: int | None, now: datetime
           ) -> datetime | None:
    """When a hold made `now` ends, from what check_expiry accepted."""
    if expires_in_seconds:
        return now + timedelta(seconds=expires_in_seconds)
    return expires_at


def require_future_expiry(expires_at: datetime | None, now: datetime) -> None:
    """Checked inside the work, not before it: a keyed retry of a hold whose expiry has
    since passed replays the first result instead of failing validation."""
    if expires_at is not None and expires_at <= now:
        raise ValidationError({"expires_at": "Must be in the future."})


def check_order_refs(check: Checker, order_ref: Any, line_ref: Any) -> None:
    """An order reference is required, a line reference optional; both at most 100."""
    check.text("order_ref", order_ref, required=True, max_length=100)
    check.text("line_ref", line_ref, required=False, max_length=100)


__all__ = [
    "ADD_ON_HAND",
    "ADJUST_ON_HAND",
    "ENTRY_COLUMNS",
    "EXPIRY_ACTOR",
    "HOLD",
    "LEDGER_COLUMNS",
    "MAX_EXPIRY_SECONDS",
    "MAX_ORDER_LINES",
    "RECORD_COUNT",
    "RELEASE_HOLD",
    "REPLACE_ON_HAND",
    "SHIP_HOLD",
    "TAKE_AVAILABLE",
    "EntryState",
    "GuardedUpdate",
    "LedgerRow",
    "StockChange",
    "available",
    "change_entry",
    "check_expiry",
    "check_order_refs",
    "chunks",
    "ensure_entries",
    "ensure_entry",
    "entry_exists",
    "entry_for",
    "expiry",
    "guarded",
    "insert_reservation",
    "lock_entries",
    "lock_products_for_new_entries",
    "record",
    "require",
    "require_future_expiry",
    "run_mutation",
    "store_scope",
    "write_ledger",
]
