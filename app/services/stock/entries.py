"""Stock verbs on one inventory entry: create and delete it, adjust, set or count its
on-hand quantity, and set its low-stock threshold.

Each verb takes primitives and an actor, checks the actor's permission for the entry's
store, changes the entry with one guarded statement, writes its ledger row through the
engine in the same transaction, and commits once.

Setting on-hand to the quantity it already has (or counting exactly what is there) is not
refused and not skipped: it writes a `set` (or `count`) row with a change of 0, so the
ledger keeps the confirmation of who checked the figure and when, and the entry's version
moves on like after any other write.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import insert_ignoring_conflicts
from app.models import UNLIMITED_TYPES
from app.permissions import ADJUST, CATALOG, DELETE, THRESHOLD, Actor
from app.services import audit, events
from app.services.audit import THRESHOLD_SET
from app.services.bundles import bundle_parts
from app.services.errors import (
    BelowReserved,
    BundleProduct,
    Conflict,
    DuplicateEntry,
    EntryHasIncoming,
    EntryHasReservations,
    InsufficientStock,
    NotFound,
    QuantityTooLarge,
    StaleStock,
    UnlimitedProduct,
)
from app.services.money import check_amount
from app.services.stock.engine import (
    ADJUST_ON_HAND,
    ENTRY_COLUMNS,
    RECORD_COUNT,
    REPLACE_ON_HAND,
    EntryState,
    StockChange,
    available,
    change_entry,
    entries,
    entry_for,
    locations,
    lock_products_for_new_entries,
    products,
    record,
    require,
    run_mutation,
    store_scope,
)
from app.services.validation import LIMIT, Checker, clean_text, is_id


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
        row = change_entry(session, actor, ADJUST, ADJUST_ON_HAND, entry_id, now, n=delta)
        if row is None:
            current = entry_for(session, actor, ADJUST, entry_id)
            if current.quantity + delta > LIMIT:
                raise QuantityTooLarge()
            raise InsufficientStock(available(current), -delta)
        movement = record(
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
    """Replace on-hand with an exact quantity; the quantity it already has is recorded as
    a confirmation (a `set` row of 0). Raises BelowReserved, StaleStock."""
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


def set_threshold(
    *,
    actor: Actor,
    entry_id: int,
    low_stock_threshold: int,
    idempotency_key: str | None = None,
) -> StockChange:
    """Set the low-stock threshold (0 disables it); the status follows at once. A change
    leaves an audit row (setting the value it already has records nothing)."""
    check = Checker()
    check.whole("low_stock_threshold", low_stock_threshold, minimum=0)
    check.done()

    def work(session: Session) -> StockChange:
        # Not a quantity change: no ledger row, and the version stays so open forms stay valid.
        # The audit trail keeps who changed it from what: the row is read under its lock.
        if not is_id(entry_id):
            raise NotFound("Inventory entry not found.", {"entry_id": "No such inventory entry."})
        before = session.execute(
            select(entries.c.low_stock_threshold, products.c.sku, locations.c.code)
            .join(products, products.c.id == entries.c.product_id)
            .join(locations, locations.c.id == entries.c.location_id)
            .where(entries.c.id == entry_id, store_scope(actor, THRESHOLD))
            .with_for_update(of=entries)
        ).one_or_none()
        row = session.execute(
            update(entries)
            .where(entries.c.id == entry_id, store_scope(actor, THRESHOLD))
            .values(low_stock_threshold=low_stock_threshold, updated_at=utcnow())
            .returning(*ENTRY_COLUMNS)
        ).one_or_none()
        if row is None:
            entry_for(session, actor, THRESHOLD, entry_id)
            # pragma: no cover - raced a delete
            raise NotFound("Inventory entry not found.", {"entry_id": "No such inventory entry."})
        if before is not None and before.low_stock_threshold != low_stock_threshold:
            events.note_threshold(session, row, before.low_stock_threshold, low_stock_threshold)
            audit.record(
                session, actor, THRESHOLD_SET, "entry", row.id, f"{before.sku} at {before.code}",
                store_id=row.store_id, product_id=row.product_id,
                changes={"low_stock_threshold": (before.low_stock_threshold, low_stock_threshold)},
            )
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
    """Remove an entry; its ledger closes with a `deleted` row. Refused while units are
    reserved or on their way (open purchase orders bring them here). Raises
    EntryHasReservations, EntryHasIncoming."""
    check = Checker()
    check.text("reason", reason, required=False, max_length=200)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        current = entry_for(session, actor, DELETE, entry_id, lock=True)
        if current.reserved_quantity:
            raise EntryHasReservations(current.reserved_quantity)
        incoming = session.scalar(
            select(entries.c.incoming_quantity).where(entries.c.id == entry_id)
        )
        if incoming:
            raise EntryHasIncoming(incoming)
        gone = replace(EntryState.of(current), quantity=0, reserved_quantity=0)
        movement = record(
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
    unit_cost: Any = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Start tracking a product at a location, optionally with stock received.

    Incoming is what open purchase orders bring, kept by the stock engine: an entry starts
    with none, and `incoming_quantity` (still taken, for callers that send 0) refuses any
    other figure rather than keep one no order stands behind.
    `unit_cost` (in the store's currency: an int, a Decimal or decimal text) is what a unit
    of the opening stock cost: it starts the entry's average cost, and the opening ledger
    row carries it, so the stock has a value before its first receipt. Without it the
    entry's cost stays unknown until a receipt says.
    Raises DuplicateEntry, UnlimitedProduct, NotFound."""
    check = Checker()
    for name, value in (("product_id", product_id), ("location_id", location_id)):
        if not is_id(value):
            check.fail(name, "Choose one from the list.")
    check.whole("quantity", quantity, minimum=0)
    check.whole("low_stock_threshold", low_stock_threshold, minimum=0)
    check.whole("incoming_quantity", incoming_quantity, minimum=0)
    if type(incoming_quantity) is int and incoming_quantity > 0:
        check.fail("incoming_quantity", "Incoming comes from open purchase orders: order "
                                        "the stock rather than type what is on its way.")
    check.text("reason", reason, required=False, max_length=200)
    cost = check_amount(check, "unit_cost", unit_cost, required=False)
    if cost is not None and quantity == 0:
        check.fail("unit_cost", "A unit cost goes with opening stock: enter a quantity too, "
                                "or leave the cost for the first receipt.")
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
        require(actor, CATALOG, product.store_id)
        if product.type in UNLIMITED_TYPES:
            raise UnlimitedProduct(
                f"{product.sku} is a {product.type} product: its stock is unlimited and "
                "needs no inventory entry."
            )
        if bundle_parts(session, [product_id]):
            raise BundleProduct(
                f"{product.sku} is a bundle: it holds no stock of its own. Stock its "
                "components instead."
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
                quantity=quantity, reserved_quantity=0, incoming_quantity=0,
                low_stock_threshold=low_stock_threshold, version=1, created_at=now,
                updated_at=now, last_movement_at=now if quantity else None,
                average_cost=cost,
            )
            .returning(*ENTRY_COLUMNS)
        ).one_or_none()
        if row is None:
            raise DuplicateEntry(f"{product.sku} already has an entry at {location.code}.")
        # The entry is a record as well as stock: its start, with the settings it began
        # with, is in the audit trail; its opening stock is in the ledger.
        audit.record(
            session, actor, "entry.created", "entry", row.id, f"{product.sku} at {location.code}",
            store_id=row.store_id, product_id=row.product_id, now=now,
            changes={"low_stock_threshold": (None, low_stock_threshold)},
        )
        moved: tuple[int, ...] = ()
        if quantity:
            moved = (
                record(session, actor, row, "received", quantity, 0, now,
                       reason=clean_text(reason) or "Opening stock", unit_cost=cost),
            )
        return StockChange("create", (EntryState.of(row),), moved)

    return run_mutation(
        "create", actor, idempotency_key,
        {
            "product_id": product_id, "location_id": location_id, "quantity": quantity,
            "low_stock_threshold": low_stock_threshold, "incoming_quantity": incoming_quantity,
            "reason": reason, "unit_cost": None if cost is None else str(cost),
        },
        work,
    )


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
        current = entry_for(session, actor, ADJUST, entry_id, lock=True)
        if (expected_version is not None and current.version != expected_version) or (
            expected_quantity is not None and current.quantity != expected_quantity
        ):
            raise StaleStock(current.quantity, current.reserved_quantity, current.version)
        if quantity < current.reserved_quantity:
            raise BelowReserved(quantity, current.reserved_quantity, counted=counting)
        row = change_entry(
            session, actor, ADJUST, RECORD_COUNT if counting else REPLACE_ON_HAND, entry_id,
            now, n=quantity, seen_version=current.version,
        )
        if row is None:  # pragma: no cover - the row is locked for this transaction
            raise StaleStock(current.quantity, current.reserved_quantity, current.version)
        # A delta of 0 is still written: the row is the record that the figure was confirmed.
        delta = quantity - current.quantity
        movement = record(
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


__all__ = [
    "adjust_stock",
    "count_stock",
    "create_entry",
    "delete_entry",
    "set_stock",
    "set_threshold",
]
