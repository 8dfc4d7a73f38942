"""Transfers: move units of a product between two locations of one store, both sides or
neither, creating the target entry when it is missing. The units arrive at the source's
average cost, which the target's average takes in as a receipt's would.

The two entries are updated in primary-key order, so opposing transfers never deadlock,
and the two ledger rows share a batch reference that pairs them.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, and_, bindparam, select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.permissions import ADJUST, Actor
from app.services.errors import Conflict, InsufficientStock, NotFound, QuantityTooLarge
from app.services.stock.engine import (
    ADD_ON_HAND,
    ENTRY_COLUMNS,
    TAKE_AVAILABLE,
    EntryState,
    StockChange,
    available,
    change_entry,
    ensure_entry,
    entries,
    entry_exists,
    entry_for,
    locations,
    record,
    require,
    run_mutation,
)
from app.services.stock.receipts import moving_average
from app.services.validation import Checker, clean_text, is_id

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
        require(actor, ADJUST, source.store_id)
        if source.target_location_id is None:
            raise NotFound("Target location not found.")
        if source.target_archived_at is not None:
            raise Conflict("The target location is archived.")
        target_id = source.target_entry_id or ensure_entry(
            session, source.store_id, product_id, to_location_id, now
        )

        # Update in primary-key order so opposing transfers can never deadlock.
        after: dict[int, Row[Any]] = {}
        for entry_id in sorted((source.id, target_id)):
            if entry_id == source.id:
                row = change_entry(
                    session, actor, ADJUST, TAKE_AVAILABLE, entry_id, now, n=quantity
                )
                if row is None:
                    current = entry_for(session, actor, ADJUST, entry_id)
                    raise InsufficientStock(available(current), quantity)
            else:
                row = change_entry(
                    session, actor, ADJUST, ADD_ON_HAND, entry_id, now, n=quantity
                )
                if row is None:
                    if entry_exists(session, entry_id):
                        raise QuantityTooLarge()
                    raise Conflict("The target entry was deleted meanwhile; nothing changed.")
            after[entry_id] = row
        _require_open_location(session, to_location_id)
        cost = after[source.id].average_cost
        arrived = after[target_id]
        average = moving_average(
            arrived.quantity - quantity, arrived.average_cost, quantity, cost
        )
        if average != arrived.average_cost:
            after[target_id] = session.execute(
                update(entries).where(entries.c.id == target_id)
                .values(average_cost=average).returning(*ENTRY_COLUMNS)
            ).one()
        pair = uuid.uuid4().hex
        text_reason, text_reference = clean_text(reason), clean_text(reference)
        out_id = record(
            session, actor, after[source.id], "transfer_out", -quantity, 0, now,
            reason=text_reason, reference=text_reference, batch_ref=pair,
        )
        in_id = record(
            session, actor, after[target_id], "transfer_in", quantity, 0, now,
            reason=text_reason, reference=text_reference, batch_ref=pair, unit_cost=cost,
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


__all__ = ["transfer_stock"]
