"""The one place stock changes.

Every public function here is a verb that takes primitives and an actor, checks the actor's
permission for the entry's store, changes stock with a single conditional statement (or
rows updated in primary-key order), writes its ledger rows in the same transaction, and
commits once. Browser, API and CLI all call these functions.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    and_,
    bindparam,
    case,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import insert_ignoring_conflicts, is_unique_violation, write_transaction
from app.models import (
    UNLIMITED_TYPES,
    IdempotencyRecord,
    InventoryEntry,
    Location,
    Product,
    Reservation,
    StockMovement,
)
from app.permissions import ADJUST, CATALOG, DELETE, RESERVE, THRESHOLD, Actor, system_actor
from app.services.errors import (
    BelowReserved,
    Conflict,
    DuplicateEntry,
    EntryHasReservations,
    ExceedsReserved,
    IdempotencyKeyReused,
    InsufficientStock,
    NotFound,
    OrderShort,
    PermissionDenied,
    QuantityTooLarge,
    ReservationNotActive,
    StaleStock,
    UnlimitedProduct,
    ValidationError,
)
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
)
EXPIRY_ACTOR = system_actor("expiry")
# Built once: the values travel as execution parameters, so each call skips building the
# statement and computing its cache key (most of a ledger write's Python time).
INSERT_MOVEMENT = insert(movements).returning(movements.c.id)
INSERT_RESERVATION = insert(reservations).returning(reservations.c.id)


@dataclass(frozen=True)
class GuardedUpdate:
    """One conditional UPDATE … RETURNING, built once with bound parameters: for actors
    limited to some stores (`scoped`, with an expanding list of store ids) and for those
    who may act everywhere (`anywhere`)."""

    scoped: Any
    anywhere: Any


def _guarded(values: Mapping[str, Any], condition: ColumnElement[bool]) -> GuardedUpdate:
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
ADD_ON_HAND = _guarded({"quantity": _on_hand + _n}, _on_hand + _n <= LIMIT)
ADJUST_ON_HAND = _guarded(
    {"quantity": _on_hand + _n}, and_(_on_hand + _n >= _held, _on_hand + _n <= LIMIT)
)
TAKE_AVAILABLE = _guarded({"quantity": _on_hand - _n}, _on_hand - _held >= _n)
HOLD = _guarded({"reserved_quantity": _held + _n}, _on_hand - _held >= _n)
RELEASE_HOLD = _guarded({"reserved_quantity": _held - _n}, _held >= _n)
SHIP_HOLD = _guarded({"reserved_quantity": _held - _n, "quantity": _on_hand - _n}, _held >= _n)
_replace_guard = and_(entries.c.version == bindparam("seen_version"), _held <= _n)
REPLACE_ON_HAND = _guarded({"quantity": _n}, _replace_guard)
RECORD_COUNT = _guarded({"quantity": _n, "last_counted_at": bindparam("now")}, _replace_guard)

_target_location = locations.alias("target_location")
_target_entry = entries.alias("target_entry")
TRANSFER_ENDS = (
    select(
        *ENTRY_COLUMNS,
        _target_location.c.id.label("target_location_id"),
        _target_location.c.archived_at.label("target_archived_at"),
        _target_entry.c.id.label("target_entry_id"),
    )
    .select_from(entries)
    .outerjoin(
        _target_location,
        and_(
            _target_location.c.id == bindparam("to_id"),
            _target_location.c.store_id == entries.c.store_id,
        ),
    )
    .outerjoin(
        _target_entry,
        and_(
            _target_entry.c.product_id == entries.c.product_id,
            _target_entry.c.location_id == _target_location.c.id,
        ),
    )
    .where(
        entries.c.product_id == bindparam("product_id"),
        entries.c.location_id == bindparam("from_id"),
    )
)
MAX_ORDER_LINES = 200


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
        data = asdict(self)
        data.pop("replayed")
        return data

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


# ---------------------------------------------------------------------------
# Public operations
# ---------------------------------------------------------------------------


def adjust_stock(
    *,
    actor: Actor,
    entry_id: int,
    delta: int,
    reason: str,
    reference: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Add or remove on-hand units. Raises InsufficientStock, QuantityTooLarge."""
    check = Checker()
    check.whole("delta", delta, nonzero=True)
    check.text("reason", reason, required=True, max_length=200)
    check.text("reference", reference, required=False, max_length=100)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        row = _change_entry(session, actor, ADJUST, ADJUST_ON_HAND, entry_id, now, n=delta)
        if row is None:
            current = _entry_for(session, actor, ADJUST, entry_id)
            if current.quantity + delta > LIMIT:
                raise QuantityTooLarge()
            raise InsufficientStock(_available(current), -delta)
        movement = _record(
            session, actor, row, "adjustment", delta, 0, now,
            reason=clean_text(reason), reference=clean_text(reference),
        )
        return StockChange("adjust", (EntryState.of(row),), (movement,))

    return run_mutation(
        "adjust", actor, idempotency_key,
        {"entry_id": entry_id, "delta": delta, "reason": reason, "reference": reference},
        work,
    )


def set_stock(
    *,
    actor: Actor,
    entry_id: int,
    quantity: int,
    reason: str | None = None,
    expected_version: int | None = None,
    expected_quantity: int | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Replace on-hand with an exact quantity. Raises BelowReserved, StaleStock."""
    return _replace_quantity(
        "set", actor, entry_id, quantity, reason, expected_version, expected_quantity,
        idempotency_key,
    )


def count_stock(
    *,
    actor: Actor,
    entry_id: int,
    counted_quantity: int,
    reason: str | None = None,
    expected_version: int | None = None,
    expected_quantity: int | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Record a physical count: on-hand becomes what was counted, the discrepancy is kept
    in the ledger and last_counted_at is set. Raises BelowReserved, StaleStock."""
    return _replace_quantity(
        "count", actor, entry_id, counted_quantity, reason, expected_version,
        expected_quantity, idempotency_key,
    )


def reserve_stock(
    *,
    actor: Actor,
    entry_id: int,
    quantity: int,
    order_ref: str,
    line_ref: str | None = None,
    expires_at: datetime | None = None,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Hold units of an entry for an order line. Raises InsufficientStock."""
    check = Checker()
    check.whole("quantity", quantity, minimum=1)
    _check_order_refs(check, order_ref, line_ref)
    check.moment("expires_at", expires_at)
    check.text("reason", reason, required=False, max_length=200)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        _require_future_expiry(expires_at, now)

        def attempt() -> Row[Any] | None:
            return _change_entry(session, actor, RESERVE, HOLD, entry_id, now, n=quantity)

        row = attempt()
        if row is None:
            current = _entry_for(session, actor, RESERVE, entry_id)
            # Holds past their expiry no longer count: retire them and try once more.
            if _expire_entry(session, current.id, now):
                row = attempt()
            if row is None:
                current = _entry_for(session, actor, RESERVE, entry_id)
                raise InsufficientStock(_available(current), quantity)
        reservation_id = _insert_reservation(
            session, actor, row, quantity, order_ref, line_ref, expires_at, now
        )
        movement = _record(
            session, actor, row, "reserved", 0, quantity, now,
            reason=clean_text(reason), reference=clean_text(order_ref),
            reservation_id=reservation_id,
        )
        return StockChange("reserve", (EntryState.of(row),), (movement,), (reservation_id,))

    return run_mutation(
        "reserve", actor, idempotency_key,
        {
            "entry_id": entry_id, "quantity": quantity, "order_ref": order_ref,
            "line_ref": line_ref, "expires_at": expires_at, "reason": reason,
        },
        work,
    )


def release_stock(
    *,
    actor: Actor,
    entry_id: int | None = None,
    reservation_id: int | None = None,
    quantity: int | None = None,
    order_ref: str | None = None,
    line_ref: str | None = None,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Give held units back to available, by reservation id or by quantity on an entry
    (oldest holds first, optionally only those of one order). Raises ExceedsReserved,
    ReservationNotActive."""
    return _close_holds(
        "release", actor, entry_id, reservation_id, quantity, order_ref, line_ref, reason,
        idempotency_key,
    )


def fulfill_stock(
    *,
    actor: Actor,
    entry_id: int | None = None,
    reservation_id: int | None = None,
    quantity: int | None = None,
    order_ref: str | None = None,
    line_ref: str | None = None,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Ship held units: lowers on-hand and reserved together. Raises ExceedsReserved,
    ReservationNotActive."""
    return _close_holds(
        "fulfill", actor, entry_id, reservation_id, quantity, order_ref, line_ref, reason,
        idempotency_key,
    )


def return_stock(
    *,
    actor: Actor,
    entry_id: int,
    quantity: int,
    reason: str,
    reference: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Put returned units back on hand. Raises QuantityTooLarge."""
    check = Checker()
    check.whole("quantity", quantity, minimum=1)
    check.text("reason", reason, required=True, max_length=200)
    check.text("reference", reference, required=False, max_length=100)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        row = _change_entry(session, actor, ADJUST, ADD_ON_HAND, entry_id, now, n=quantity)
        if row is None:
            _entry_for(session, actor, ADJUST, entry_id)
            raise QuantityTooLarge()
        movement = _record(
            session, actor, row, "returned", quantity, 0, now,
            reason=clean_text(reason), reference=clean_text(reference),
        )
        return StockChange("return", (EntryState.of(row),), (movement,))

    return run_mutation(
        "return", actor, idempotency_key,
        {"entry_id": entry_id, "quantity": quantity, "reason": reason, "reference": reference},
        work,
    )


def transfer_stock(
    *,
    actor: Actor,
    product_id: int,
    from_location_id: int,
    to_location_id: int,
    quantity: int,
    reason: str | None = None,
    reference: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Move units between two locations of one store, both sides or neither; creates the
    target entry if missing. Raises InsufficientStock, NotFound."""
    check = Checker()
    check.whole("quantity", quantity, minimum=1)
    for name, value in (("from_location_id", from_location_id), ("to_location_id", to_location_id),
                        ("product_id", product_id)):
        if not is_id(value):
            check.fail(name, "Choose one from the list.")
    if from_location_id == to_location_id:
        check.fail("to_location_id", "Choose a location other than the source.")
    check.text("reason", reason, required=False, max_length=200)
    check.text("reference", reference, required=False, max_length=100)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        # One read finds the source, the target location (in the same store) and the
        # target entry if it already exists.
        source = session.execute(
            TRANSFER_ENDS,
            {"product_id": product_id, "from_id": from_location_id, "to_id": to_location_id},
        ).one_or_none()
        if source is None or not actor.is_member(source.store_id):
            raise NotFound("This product has no stock at the source location.")
        _require(actor, ADJUST, source.store_id)
        if source.target_location_id is None:
            raise NotFound("Target location not found.")
        if source.target_archived_at is not None:
            raise Conflict("The target location is archived.")
        target_id = source.target_entry_id or _ensure_entry(
            session, source.store_id, product_id, to_location_id, now
        )

        # Update in primary-key order so opposing transfers can never deadlock.
        after: dict[int, Row[Any]] = {}
        for entry_id in sorted((source.id, target_id)):
            if entry_id == source.id:
                row = _change_entry(
                    session, actor, ADJUST, TAKE_AVAILABLE, entry_id, now, n=quantity
                )
                if row is None:
                    current = _entry_for(session, actor, ADJUST, entry_id)
                    raise InsufficientStock(_available(current), quantity)
            else:
                row = _change_entry(
                    session, actor, ADJUST, ADD_ON_HAND, entry_id, now, n=quantity
                )
                if row is None:
                    if _entry_exists(session, entry_id):
                        raise QuantityTooLarge()
                    raise Conflict("The target entry was deleted meanwhile; nothing changed.")
            after[entry_id] = row
        _require_open_location(session, to_location_id)
        pair = uuid.uuid4().hex
        text_reason, text_reference = clean_text(reason), clean_text(reference)
        out_id = _record(
            session, actor, after[source.id], "transfer_out", -quantity, 0, now,
            reason=text_reason, reference=text_reference, batch_ref=pair,
        )
        in_id = _record(
            session, actor, after[target_id], "transfer_in", quantity, 0, now,
            reason=text_reason, reference=text_reference, batch_ref=pair,
        )
        return StockChange(
            "transfer",
            (EntryState.of(after[source.id]), EntryState.of(after[target_id])),
            (out_id, in_id),
        )

    return run_mutation(
        "transfer", actor, idempotency_key,
        {
            "product_id": product_id, "from_location_id": from_location_id,
            "to_location_id": to_location_id, "quantity": quantity, "reason": reason,
            "reference": reference,
        },
        work,
    )


def set_threshold(
    *,
    actor: Actor,
    entry_id: int,
    low_stock_threshold: int,
    idempotency_key: str | None = None,
) -> StockChange:
    """Set the low-stock threshold (0 disables it); the status follows at once."""
    check = Checker()
    check.whole("low_stock_threshold", low_stock_threshold, minimum=0)
    check.done()

    def work(session: Session) -> StockChange:
        # Not a quantity change: no ledger row, and the version stays so open forms stay valid.
        if not is_id(entry_id):
            raise NotFound("Inventory entry not found.", {"entry_id": "No such inventory entry."})
        row = session.execute(
            update(entries)
            .where(entries.c.id == entry_id, _store_scope(actor, THRESHOLD))
            .values(low_stock_threshold=low_stock_threshold, updated_at=utcnow())
            .returning(*ENTRY_COLUMNS)
        ).one_or_none()
        if row is None:
            _entry_for(session, actor, THRESHOLD, entry_id)
            # pragma: no cover - raced a delete
            raise NotFound("Inventory entry not found.", {"entry_id": "No such inventory entry."})
        return StockChange(
            "threshold", (EntryState.of(row),), details={"low_stock_threshold": low_stock_threshold}
        )

    return run_mutation(
        "threshold", actor, idempotency_key,
        {"entry_id": entry_id, "low_stock_threshold": low_stock_threshold}, work,
    )


def delete_entry(
    *,
    actor: Actor,
    entry_id: int,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Remove an entry; its ledger closes with a `deleted` row. Raises EntryHasReservations."""
    check = Checker()
    check.text("reason", reason, required=False, max_length=200)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        current = _entry_for(session, actor, DELETE, entry_id, lock=True)
        if current.reserved_quantity:
            raise EntryHasReservations(current.reserved_quantity)
        gone = replace(EntryState.of(current), quantity=0, reserved_quantity=0)
        movement = _record(
            session, actor, gone, "deleted", -current.quantity, 0, now,
            reason=clean_text(reason),
        )
        deleted = session.execute(
            entries.delete().where(entries.c.id == entry_id, entries.c.reserved_quantity == 0)
        )
        if deleted.rowcount != 1:  # pragma: no cover - the row lock makes this unreachable
            raise EntryHasReservations(current.reserved_quantity)
        return StockChange(
            "delete", (gone,), (movement,), previous_quantity=current.quantity
        )

    return run_mutation(
        "delete", actor, idempotency_key, {"entry_id": entry_id, "reason": reason}, work
    )


def create_entry(
    *,
    actor: Actor,
    product_id: int,
    location_id: int,
    quantity: int = 0,
    low_stock_threshold: int = 0,
    incoming_quantity: int = 0,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Start tracking a product at a location, optionally with stock received.
    Raises DuplicateEntry, UnlimitedProduct, NotFound."""
    check = Checker()
    for name, value in (("product_id", product_id), ("location_id", location_id)):
        if not is_id(value):
            check.fail(name, "Choose one from the list.")
    check.whole("quantity", quantity, minimum=0)
    check.whole("low_stock_threshold", low_stock_threshold, minimum=0)
    check.whole("incoming_quantity", incoming_quantity, minimum=0)
    check.text("reason", reason, required=False, max_length=200)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        lock_products_for_new_entries(session, [product_id])
        product = session.execute(
            select(products.c.store_id, products.c.sku, products.c.type).where(
                products.c.id == product_id
            )
        ).one_or_none()
        if product is None or not actor.is_member(product.store_id):
            raise NotFound("Product not found.", {"product_id": "No such product."})
        _require(actor, CATALOG, product.store_id)
        if product.type in UNLIMITED_TYPES:
            raise UnlimitedProduct(
                f"{product.sku} is a {product.type} product: its stock is unlimited and "
                "needs no inventory entry."
            )
        # FOR SHARE: an archive of this location waits for us, or we wait for it and
        # then see it archived (archive_location locks the location after its entries).
        location = session.execute(
            select(locations.c.code, locations.c.archived_at).where(
                locations.c.id == location_id, locations.c.store_id == product.store_id
            ).with_for_update(read=True)
        ).one_or_none()
        if location is None:
            raise NotFound("Location not found.")
        if location.archived_at is not None:
            raise Conflict(f"Location {location.code} is archived.")
        row = session.execute(
            insert_ignoring_conflicts(entries, session.get_bind().dialect.name)
            .values(
                store_id=product.store_id, product_id=product_id, location_id=location_id,
                quantity=quantity, reserved_quantity=0, incoming_quantity=incoming_quantity,
                low_stock_threshold=low_stock_threshold, version=1, created_at=now,
                updated_at=now, last_movement_at=now if quantity else None,
            )
            .returning(*ENTRY_COLUMNS)
        ).one_or_none()
        if row is None:
            raise DuplicateEntry(f"{product.sku} already has an entry at {location.code}.")
        moved: tuple[int, ...] = ()
        if quantity:
            moved = (
                _record(session, actor, row, "received", quantity, 0, now,
                        reason=clean_text(reason) or "Opening stock"),
            )
        return StockChange("create", (EntryState.of(row),), moved)

    return run_mutation(
        "create", actor, idempotency_key,
        {
            "product_id": product_id, "location_id": location_id, "quantity": quantity,
            "low_stock_threshold": low_stock_threshold, "incoming_quantity": incoming_quantity,
            "reason": reason,
        },
        work,
    )


def reserve_order(
    *,
    actor: Actor,
    store_id: int,
    order_ref: str,
    lines: Sequence[Mapping[str, Any]],
    expires_at: datetime | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Reserve every line of an order or none of them. Each line has product_id, quantity,
    line_ref and, for physical products, location_id. Unlimited products are granted
    without an entry. Raises OrderShort naming every short line, NotFound."""
    check = Checker()
    if not is_id(store_id):
        check.fail("store_id", "Choose a store.")
    _check_order_refs(check, order_ref, None)
    check.moment("expires_at", expires_at)
    if not isinstance(lines, Sequence) or not lines:
        check.fail("lines", "Add at least one line.")
    elif len(lines) > MAX_ORDER_LINES:
        check.fail("lines", f"At most {MAX_ORDER_LINES} lines per order.")
    else:
        for n, line in enumerate(lines):
            if not isinstance(line, Mapping):
                check.fail(f"lines[{n}]", "Each line needs product_id and quantity.")
                continue
            if not is_id(line.get("product_id")):
                check.fail(f"lines[{n}].product_id", "Choose a product.")
            if line.get("location_id") is not None and not is_id(line["location_id"]):
                check.fail(f"lines[{n}].location_id", "Choose a location.")
            check.whole(f"lines[{n}].quantity", line.get("quantity"), minimum=1)
            check.text(f"lines[{n}].line_ref", line.get("line_ref"), required=False,
                       max_length=100)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        _require_future_expiry(expires_at, now)
        if not actor.is_member(store_id):
            raise NotFound("Store not found.")
        _require(actor, RESERVE, store_id)
        found, physical, by_key = _resolve_order_lines(session, store_id, lines)

        def label(n: int, line: Mapping[str, Any]) -> str:
            ref = line.get("line_ref") or f"line {n + 1}"
            return f"{ref}: {found[line['product_id']].sku}"

        short: list[dict[str, Any]] = []
        planned = []
        for n, line in physical:
            entry_id = by_key.get((line["product_id"], line["location_id"]))
            if entry_id is None:
                short.append({"line": n, "label": label(n, line), "available": 0,
                              "requested": line["quantity"]})
            else:
                planned.append((entry_id, n, line))
        # Lock in primary-key order: two orders touching the same entries can't deadlock.
        planned.sort(key=lambda item: (item[0], item[1]))
        reservation_ids: list[int] = []
        movement_ids: list[int] = []
        states: dict[int, EntryState] = {}
        for entry_id, n, line in planned:
            qty = line["quantity"]
            row = _change_entry(session, actor, RESERVE, HOLD, entry_id, now, n=qty)
            if row is None and _expire_entry(session, entry_id, now):
                row = _change_entry(session, actor, RESERVE, HOLD, entry_id, now, n=qty)
            if row is None:
                current = _entry_for(session, actor, RESERVE, entry_id)
                short.append({"line": n, "label": label(n, line),
                              "available": _available(current), "requested": qty})
                continue
            # Record each line at once: its ledger row carries the quantities as they stood
            # after that very line, and expiring stale holds for a later line on the same
            # entry writes rows that must come after it. A short order rolls all this back.
            rid = _insert_reservation(
                session, actor, row, qty, order_ref, line.get("line_ref"), expires_at, now,
            )
            reservation_ids.append(rid)
            movement_ids.append(
                _record(session, actor, row, "reserved", 0, qty, now,
                        reference=clean_text(order_ref), reservation_id=rid)
            )
            states[row.id] = EntryState.of(row)
        if short:
            raise OrderShort(sorted(short, key=lambda s: s["line"]))

        granted_unlimited = [
            n for n, line in enumerate(lines)
            if found[line["product_id"]].type in UNLIMITED_TYPES
        ]
        return StockChange(
            "reserve_order", tuple(states.values()), tuple(movement_ids),
            tuple(reservation_ids), details={"unlimited_lines": granted_unlimited},
        )

    return run_mutation(
        "reserve_order", actor, idempotency_key,
        {"store_id": store_id, "order_ref": order_ref, "lines": [dict(x) for x in lines],
         "expires_at": expires_at},
        work,
    )


def expire_reservations(*, now: datetime | None = None, batch_size: int = 200) -> int:
    """Retire every active reservation past its expiry, returning its units to available.
    Running it again changes nothing. Returns how many reservations expired."""
    moment = now or utcnow()
    total = 0
    while True:
        with write_transaction() as session:
            entry_ids = session.scalars(
                select(reservations.c.entry_id)
                .where(
                    reservations.c.status == "active",
                    reservations.c.expires_at <= moment,
                    reservations.c.entry_id.is_not(None),
                )
                .group_by(reservations.c.entry_id)
                .order_by(reservations.c.entry_id)
                .limit(batch_size)
            ).all()
            for entry_id in entry_ids:
                total += _expire_entry(session, entry_id, moment)
        if len(entry_ids) < batch_size:
            return total


# ---------------------------------------------------------------------------
# Shared machinery
# ---------------------------------------------------------------------------


def _replace_quantity(
    operation: str,
    actor: Actor,
    entry_id: int,
    quantity: int,
    reason: str | None,
    expected_version: int | None,
    expected_quantity: int | None,
    idempotency_key: str | None,
) -> StockChange:
    counting = operation == "count"
    field_name = "counted_quantity" if counting else "quantity"
    check = Checker()
    check.whole(field_name, quantity, minimum=0)
    check.optional_whole("expected_version", expected_version, minimum=1)
    check.optional_whole("expected_quantity", expected_quantity, minimum=0)
    check.text("reason", reason, required=False, max_length=200)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        current = _entry_for(session, actor, ADJUST, entry_id, lock=True)
        if (expected_version is not None and current.version != expected_version) or (
            expected_quantity is not None and current.quantity != expected_quantity
        ):
            raise StaleStock(current.quantity, current.reserved_quantity, current.version)
        if quantity < current.reserved_quantity:
            raise BelowReserved(quantity, current.reserved_quantity, counted=counting)
        row = _change_entry(
            session, actor, ADJUST, RECORD_COUNT if counting else REPLACE_ON_HAND, entry_id,
            now, n=quantity, seen_version=current.version,
        )
        if row is None:  # pragma: no cover - the row is locked for this transaction
            raise StaleStock(current.quantity, current.reserved_quantity, current.version)
        delta = quantity - current.quantity
        movement = _record(
            session, actor, row, operation, delta, 0, now, reason=clean_text(reason)
        )
        details = {"discrepancy": delta} if counting else {}
        return StockChange(
            operation, (EntryState.of(row),), (movement,),
            previous_quantity=current.quantity, details=details,
        )

    return run_mutation(
        operation, actor, idempotency_key,
        {"entry_id": entry_id, field_name: quantity, "reason": reason,
         "expected_version": expected_version, "expected_quantity": expected_quantity},
        work,
    )


def _close_holds(
    verb: str,
    actor: Actor,
    entry_id: int | None,
    reservation_id: int | None,
    quantity: int | None,
    order_ref: str | None,
    line_ref: str | None,
    reason: str | None,
    idempotency_key: str | None,
) -> StockChange:
    fulfilling = verb == "fulfill"
    check = Checker()
    if (entry_id is None) == (reservation_id is None):
        check.fail("reservation_id", "Give either a reservation or an entry, not both.")
    for name, value in (("entry_id", entry_id), ("reservation_id", reservation_id)):
        if value is not None and not is_id(value):
            check.fail(name, "Choose one from the list.")
    if quantity is not None or reservation_id is None:
        check.whole("quantity", quantity, minimum=1)
    check.text("order_ref", order_ref, required=False, max_length=100)
    check.text("line_ref", line_ref, required=False, max_length=100)
    check.text("reason", reason, required=False, max_length=200)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        target_entry = entry_id
        amount = quantity
        if reservation_id is not None:
            hold = session.execute(
                select(reservations.c.store_id, reservations.c.entry_id,
                       reservations.c.status, reservations.c.open_quantity)
                .where(reservations.c.id == reservation_id)
            ).one_or_none()
            if hold is None or not actor.is_member(hold.store_id):
                raise NotFound("Reservation not found.")
            _require(actor, RESERVE, hold.store_id)
            if hold.status != "active" or hold.entry_id is None:
                raise ReservationNotActive(reservation_id, hold.status)
            target_entry = hold.entry_id
            amount = quantity if quantity is not None else hold.open_quantity
        assert target_entry is not None and amount is not None

        row = _change_entry(
            session, actor, RESERVE, SHIP_HOLD if fulfilling else RELEASE_HOLD, target_entry,
            now, n=amount,
        )
        if row is None:
            if reservation_id is not None:
                # While this waited for the entry, a sweep or another request may have
                # closed the hold: say so, rather than that too little is reserved.
                status = session.execute(
                    select(reservations.c.status).where(reservations.c.id == reservation_id)
                ).scalar_one()
                if status != "active":
                    raise ReservationNotActive(reservation_id, status)
            current = _entry_for(session, actor, RESERVE, target_entry)
            raise ExceedsReserved(verb, amount, current.reserved_quantity)

        # The entry row is now locked, so the holds below cannot move under us.
        final_status = "fulfilled" if fulfilling else "released"
        if reservation_id is not None:
            pieces = _take_from_hold(session, reservation_id, amount, final_status, now, verb)
        else:
            pieces = _take_from_oldest(
                session, target_entry, amount, order_ref, line_ref, final_status, now, verb
            )

        movement_type = "fulfilled" if fulfilling else "released"
        qty_before = row.quantity + (amount if fulfilling else 0)
        reserved_before = row.reserved_quantity + amount
        movement_ids = []
        for hold_id, taken, hold_order in pieces:
            qty_before -= taken if fulfilling else 0
            reserved_before -= taken
            state = replace(
                EntryState.of(row), quantity=qty_before, reserved_quantity=reserved_before
            )
            movement_ids.append(
                _record(
                    session, actor, state, movement_type, -taken if fulfilling else 0, -taken,
                    now, reason=clean_text(reason), reference=hold_order,
                    reservation_id=hold_id,
                )
            )
        return StockChange(
            verb, (EntryState.of(row),), tuple(movement_ids), tuple(p[0] for p in pieces)
        )

    return run_mutation(
        verb, actor, idempotency_key,
        {"entry_id": entry_id, "reservation_id": reservation_id, "quantity": quantity,
         "order_ref": order_ref, "line_ref": line_ref, "reason": reason},
        work,
    )


def _take_from_hold(
    session: Session, reservation_id: int, amount: int, final_status: str, now: datetime,
    verb: str,
) -> list[tuple[int, int, str]]:
    remaining = reservations.c.open_quantity - amount
    done = session.execute(
        update(reservations)
        .where(
            reservations.c.id == reservation_id,
            reservations.c.status == "active",
            reservations.c.open_quantity >= amount,
        )
        .values(
            open_quantity=remaining,
            status=case((remaining == 0, final_status), else_=reservations.c.status),
            closed_at=case((remaining == 0, now), else_=None),
        )
        .returning(reservations.c.id, reservations.c.order_ref)
    ).one_or_none()
    if done is None:
        hold = session.execute(
            select(reservations.c.status, reservations.c.open_quantity).where(
                reservations.c.id == reservation_id
            )
        ).one()
        if hold.status != "active":
            raise ReservationNotActive(reservation_id, hold.status)
        raise ExceedsReserved(verb, amount, hold.open_quantity)
    return [(reservation_id, amount, done.order_ref)]


def _take_from_oldest(
    session: Session,
    entry_id: int,
    amount: int,
    order_ref: str | None,
    line_ref: str | None,
    final_status: str,
    now: datetime,
    verb: str,
) -> list[tuple[int, int, str]]:
    """Take `amount` from the entry's holds, oldest first; each piece is (hold id, units,
    the hold's order reference, which its ledger row carries)."""
    query = select(
        reservations.c.id, reservations.c.open_quantity, reservations.c.order_ref
    ).where(
        reservations.c.entry_id == entry_id, reservations.c.status == "active"
    )
    if clean_text(order_ref):
        query = query.where(reservations.c.order_ref == clean_text(order_ref))
    if clean_text(line_ref):
        query = query.where(reservations.c.line_ref == clean_text(line_ref))
    holds = session.execute(query.order_by(reservations.c.id)).all()
    held = sum(h.open_quantity for h in holds)
    if held < amount:
        raise ExceedsReserved(verb, amount, held)
    pieces: list[tuple[int, int, str]] = []
    left = amount
    for hold in holds:
        if not left:
            break
        taken = min(left, hold.open_quantity)
        closing = taken == hold.open_quantity
        session.execute(
            update(reservations)
            .where(reservations.c.id == hold.id)
            .values(
                open_quantity=hold.open_quantity - taken,
                status=final_status if closing else "active",
                closed_at=now if closing else None,
            )
        )
        pieces.append((hold.id, taken, hold.order_ref))
        left -= taken
    return pieces


def _expire_entry(session: Session, entry_id: int, now: datetime) -> int:
    """Retire the entry's holds that are past expiry, inside the caller's transaction."""
    locked = session.execute(
        select(*ENTRY_COLUMNS).where(entries.c.id == entry_id).with_for_update()
    ).one_or_none()
    if locked is None:
        return 0
    holds = session.execute(
        select(reservations.c.id, reservations.c.open_quantity, reservations.c.order_ref)
        .where(
            reservations.c.entry_id == entry_id,
            reservations.c.status == "active",
            reservations.c.expires_at <= now,
        )
        .order_by(reservations.c.id)
    ).all()
    if not holds:
        return 0
    total = sum(h.open_quantity for h in holds)
    row = session.execute(
        update(entries)
        .where(entries.c.id == entry_id, entries.c.reserved_quantity >= total)
        .values(
            reserved_quantity=entries.c.reserved_quantity - total,
            version=entries.c.version + 1, updated_at=now, last_movement_at=now,
        )
        .returning(*ENTRY_COLUMNS)
    ).one()
    session.execute(
        update(reservations)
        .where(reservations.c.id.in_([h.id for h in holds]))
        .values(status="expired", open_quantity=0, closed_at=now)
    )
    reserved = row.reserved_quantity + total
    for hold in holds:
        reserved -= hold.open_quantity
        state = replace(EntryState.of(row), reserved_quantity=reserved)
        _record(
            session, EXPIRY_ACTOR, state, "released", 0, -hold.open_quantity, now,
            reason="Reservation expired", reference=hold.order_ref, reservation_id=hold.id,
        )
    return len(holds)


def run_mutation(
    operation: str,
    actor: Actor,
    idempotency_key: str | None,
    params: Mapping[str, Any],
    work: Callable[[Session], StockChange],
) -> StockChange:
    """Run `work` in one write transaction; with a key, the first result is kept and
    every repeat of the same request replays it."""
    if idempotency_key is None:
        with write_transaction() as session:
            return work(session)

    check = Checker()
    check.text("idempotency_key", idempotency_key, required=True, max_length=200)
    check.done()
    key = idempotency_key.strip()
    fingerprint = hashlib.sha256(
        json.dumps([operation, params], sort_keys=True, default=str).encode()
    ).hexdigest()
    records = IdempotencyRecord.__table__
    for _attempt in range(2):
        try:
            with write_transaction() as session:
                stored = session.execute(
                    select(records.c.request_hash, records.c.response).where(
                        records.c.actor_key == actor.key, records.c.key == key
                    )
                ).one_or_none()
                if stored is not None:
                    if stored.request_hash != fingerprint or stored.response is None:
                        raise IdempotencyKeyReused()
                    return StockChange.from_json(stored.response)
                # Claim the key before touching stock: a concurrent repeat blocks on this
                # row and then replays, instead of competing for the stock.
                record_id = session.execute(
                    insert(records)
                    .values(actor_key=actor.key, key=key, operation=operation,
                            request_hash=fingerprint, created_at=utcnow())
                    .returning(records.c.id)
                ).scalar_one()
                result = work(session)
                session.execute(
                    update(records).where(records.c.id == record_id)
                    .values(response=result.to_json())
                )
                return result
        except IntegrityError as exc:
            if not is_unique_violation(exc, "actor_key", "key"):
                raise
    raise Conflict("This request is already being processed; try again.")  # pragma: no cover


def _require_open_location(session: Session, location_id: int) -> None:
    """Refuse stock arriving at an archived location, checked under a shared lock taken
    after the entry locks, in the order archive_location takes them: either the archive
    waits for this transaction and then counts the new stock, or this one waits for the
    archive and sees it."""
    location = session.execute(
        select(locations.c.code, locations.c.archived_at)
        .where(locations.c.id == location_id)
        .with_for_update(read=True)
    ).one()
    if location.archived_at is not None:
        raise Conflict(f"Location {location.code} is archived.")


def _require_future_expiry(expires_at: datetime | None, now: datetime) -> None:
    """Checked inside the work, not before it: a keyed retry of a hold whose expiry has
    since passed replays the first result instead of failing validation."""
    if expires_at is not None and expires_at <= now:
        raise ValidationError({"expires_at": "Must be in the future."})


def _store_scope(actor: Actor, permission: str) -> ColumnElement[bool]:
    stores = actor.stores_with(permission)
    if stores is None:
        return true()
    return entries.c.store_id.in_(sorted(stores))


def _change_entry(
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
    holds. A malformed id matches nothing; the caller's _entry_for then reports NotFound."""
    if not is_id(entry_id):
        return None
    stores = actor.stores_with(permission)
    values = {"entry_id": entry_id, "now": now, **params}
    if stores is None:
        return session.execute(statement.anywhere, values).one_or_none()
    return session.execute(statement.scoped, {**values, "stores": sorted(stores)}).one_or_none()


def _entry_for(
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
    _require(actor, permission, row.store_id)
    return row


def _require(actor: Actor, permission: str, store_id: int) -> None:
    if not actor.can(permission, store_id):
        raise PermissionDenied(permission)


def _available(row: Row[Any]) -> int:
    return int(row.quantity - row.reserved_quantity)


def _check_order_refs(check: Checker, order_ref: Any, line_ref: Any) -> None:
    check.text("order_ref", order_ref, required=True, max_length=100)
    check.text("line_ref", line_ref, required=False, max_length=100)


def _resolve_order_lines(
    session: Session, store_id: int, lines: Sequence[Mapping[str, Any]]
) -> tuple[dict[int, Row[Any]], list[tuple[int, Mapping[str, Any]]], dict[tuple[int, int], int]]:
    """An order's products (by id), its physical lines (index, line) and the entry id of
    each (product, location) that has one. Raises NotFound for a product or location
    outside the store, ValidationError for a physical line without a location."""
    product_ids = {line["product_id"] for line in lines}
    found = {
        p.id: p
        for p in session.execute(
            select(products.c.id, products.c.sku, products.c.type).where(
                products.c.id.in_(product_ids), products.c.store_id == store_id
            )
        )
    }
    missing = sorted(product_ids - found.keys())
    if missing:
        n = next(n for n, line in enumerate(lines) if line["product_id"] == missing[0])
        raise NotFound(f"Product {missing[0]} not found.",
                       {f"lines[{n}].product_id": "No such product in this store."})
    physical = [
        (n, line) for n, line in enumerate(lines)
        if found[line["product_id"]].type not in UNLIMITED_TYPES
    ]
    if any(line.get("location_id") is None for _, line in physical):
        raise ValidationError({
            f"lines[{n}].location_id": "Choose a location for this physical product."
            for n, line in physical if line.get("location_id") is None
        })
    # A location outside this store is a foreign id (404), not a shortage.
    location_ids = {line["location_id"] for _, line in physical}
    unknown = sorted(location_ids - set(session.scalars(
        select(locations.c.id).where(
            locations.c.id.in_(location_ids), locations.c.store_id == store_id
        )
    )))
    if unknown:
        n = next(n for n, line in physical if line["location_id"] == unknown[0])
        raise NotFound(f"Location {unknown[0]} not found.",
                       {f"lines[{n}].location": "No such location in this store."})
    wanted = {(line["product_id"], line["location_id"]) for _, line in physical}
    by_key = {
        (r.product_id, r.location_id): r.id
        for r in session.execute(
            select(entries.c.id, entries.c.product_id, entries.c.location_id).where(
                entries.c.store_id == store_id,
                entries.c.product_id.in_({p for p, _ in wanted}),
            )
        )
        if (r.product_id, r.location_id) in wanted
    }
    return found, physical, by_key


def _entry_exists(session: Session, entry_id: int) -> bool:
    return session.execute(select(entries.c.id).where(entries.c.id == entry_id)).first() is not None


def _ensure_entry(
    session: Session, store_id: int, product_id: int, location_id: int, now: datetime
) -> int:
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


def _insert_reservation(
    session: Session,
    actor: Actor,
    row: Row[Any],
    quantity: int,
    order_ref: str,
    line_ref: str | None,
    expires_at: datetime | None,
    now: datetime,
) -> int:
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


def _record(
    session: Session,
    actor: Actor,
    after: Row[Any] | EntryState,
    movement_type: str,
    quantity_delta: int,
    reserved_delta: int,
    now: datetime,
    *,
    reason: str | None = None,
    reference: str | None = None,
    reservation_id: int | None = None,
    batch_ref: str | None = None,
) -> int:
    """Append one ledger row carrying the entry's quantities after the change."""
    return session.execute(
        INSERT_MOVEMENT,
        {
            "store_id": after.store_id, "entry_id": after.id, "product_id": after.product_id,
            "location_id": after.location_id, "type": movement_type,
            "quantity_delta": quantity_delta, "reserved_delta": reserved_delta,
            "quantity_after": after.quantity, "reserved_after": after.reserved_quantity,
            "reason": reason, "reference": reference, "reservation_id": reservation_id,
            "batch_ref": batch_ref, "actor_id": actor.user_id, "actor_name": actor.name,
            "created_at": now,
        },
    ).scalar_one()


__all__ = [
    "EntryState",
    "StockChange",
    "adjust_stock",
    "count_stock",
    "create_entry",
    "delete_entry",
    "expire_reservations",
    "fulfill_stock",
    "release_stock",
    "reserve_order",
    "reserve_stock",
    "return_stock",
    "set_stock",
    "set_threshold",
    "transfer_stock",
]
