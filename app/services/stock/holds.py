"""Holds on stock: reserve units of an entry for an order line, release them, fulfill
(ship) them, take returned units back, and retire holds past their expiry.

A hold is a reservation row plus the entry's reserved quantity; both change together with
the ledger row, in one transaction, through the engine.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, case, select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import write_transaction
from app.permissions import ADJUST, RESERVE, Actor
from app.services import events
from app.services.errors import (
    Conflict,
    ExceedsReserved,
    InsufficientStock,
    NotFound,
    QuantityTooLarge,
    ReservationNotActive,
    ValidationError,
)
from app.services.stock.engine import (
    ADD_ON_HAND,
    ENTRY_COLUMNS,
    EXPIRY_ACTOR,
    HOLD,
    RELEASE_HOLD,
    SHIP_HOLD,
    EntryState,
    StockChange,
    available,
    change_entry,
    check_expiry,
    check_order_refs,
    entries,
    entry_for,
    expiry,
    insert_reservation,
    locations,
    lock_entries,
    record,
    require,
    require_future_expiry,
    reservations,
    run_mutation,
)
from app.services.validation import Checker, clean_text, is_id


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
    expires_in_seconds: int | None = None,
) -> StockChange:
    """Hold units of an entry for an order line, until `expires_at` or for
    `expires_in_seconds` (one or neither). Raises InsufficientStock."""
    check = Checker()
    check.whole("quantity", quantity, minimum=1)
    check_order_refs(check, order_ref, line_ref)
    check_expiry(check, expires_at, expires_in_seconds)
    check.text("reason", reason, required=False, max_length=200)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        require_future_expiry(expires_at, now)
        until = expiry(expires_at, expires_in_seconds, now)

        def attempt() -> Row[Any] | None:
            return change_entry(session, actor, RESERVE, HOLD, entry_id, now, n=quantity)

        row = attempt()
        if row is None:
            current = entry_for(session, actor, RESERVE, entry_id)
            # Holds past their expiry no longer count: retire them and try once more.
            if expire_entry(session, current.id, now):
                row = attempt()
            if row is None:
                current = entry_for(session, actor, RESERVE, entry_id)
                raise InsufficientStock(available(current), quantity)
        reservation_id = insert_reservation(
            session, actor, row, quantity, order_ref, line_ref, until, now
        )
        movement = record(
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
            "expires_in_seconds": expires_in_seconds,
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
        row = change_entry(session, actor, ADJUST, ADD_ON_HAND, entry_id, now, n=quantity)
        if row is None:
            entry_for(session, actor, ADJUST, entry_id)
            raise QuantityTooLarge()
        movement = record(
            session, actor, row, "returned", quantity, 0, now,
            reason=clean_text(reason), reference=clean_text(reference),
        )
        return StockChange("return", (EntryState.of(row),), (movement,))

    return run_mutation(
        "return", actor, idempotency_key,
        {"entry_id": entry_id, "quantity": quantity, "reason": reason, "reference": reference},
        work,
    )


def move_reservation(
    *,
    actor: Actor,
    reservation_id: int,
    location_id: int,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Move an active hold to another location of its store: its units are released at
    the entry they are held at and held at the product's entry there, in one transaction,
    both entries locked in primary-key order; the hold keeps its order, line and expiry
    and its two ledger rows name it. Refused when the target cannot cover the hold
    (InsufficientStock, nothing changed), when part of the hold has shipped (its returns
    must come back where it shipped from), and for the location it is already at."""
    check = Checker()
    for name, value in (("reservation_id", reservation_id), ("location_id", location_id)):
        if not is_id(value):
            check.fail(name, "Choose one from the list.")
    check.text("reason", reason, required=False, max_length=200)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        hold = _hold(session, actor, reservation_id)
        if hold.bundle_id is not None:
            raise Conflict(
                f"Reservation {reservation_id} holds a component of a bundle, which is put "
                "together in one place: release the order's line and reserve it again "
                "where it should be.")
        if hold.open_quantity != hold.quantity:
            raise Conflict(
                f"Part of reservation {reservation_id} has shipped; its returns must come back "
                "where it shipped from. Release what is still held and reserve it again.")
        if hold.location_id == location_id:
            raise ValidationError({"location_id": "The reservation is already held there."})
        target = session.execute(
            select(locations.c.code).where(locations.c.id == location_id,
                                           locations.c.store_id == hold.store_id)
        ).one_or_none()
        if target is None:
            raise NotFound("Location not found.", {"location_id": "No such location in this "
                                                                  "store."})
        target_entry = session.scalar(
            select(entries.c.id).where(entries.c.product_id == hold.product_id,
                                       entries.c.location_id == location_id))
        if target_entry is None:
            raise InsufficientStock(0, hold.open_quantity)
        source_entry = hold.entry_id
        lock_entries(session, [source_entry, target_entry])
        # Locked now: read the hold again, as a release, a sweep or another move may have
        # changed it while this waited.
        hold = _hold(session, actor, reservation_id)
        if hold.entry_id != source_entry or hold.location_id == location_id:
            raise Conflict(f"Reservation {reservation_id} moved while this waited; "
                           "look at it again.")
        qty = hold.open_quantity
        source = session.scalar(select(locations.c.code)
                                .where(locations.c.id == hold.location_id))
        held = change_entry(session, actor, RESERVE, HOLD, target_entry, now, n=qty)
        if held is None and expire_entry(session, target_entry, now):
            held = change_entry(session, actor, RESERVE, HOLD, target_entry, now, n=qty)
        if held is None:
            raise InsufficientStock(available(entry_for(session, actor, RESERVE, target_entry)),
                                    qty)
        released = change_entry(session, actor, RESERVE, RELEASE_HOLD, hold.entry_id, now,
                                n=qty)
        assert released is not None  # the hold's own units, the entry locked
        session.execute(
            update(reservations).where(reservations.c.id == reservation_id)
            .values(entry_id=target_entry, location_id=location_id)
        )
        note = clean_text(reason)
        ids = (
            record(session, actor, released, "released", 0, -qty, now,
                   reason=note or f"Moved to {target.code}", reference=hold.order_ref,
                   reservation_id=reservation_id),
            record(session, actor, held, "reserved", 0, qty, now,
                   reason=note or f"Moved from {source}", reference=hold.order_ref,
                   reservation_id=reservation_id),
        )
        return StockChange(
            "move_reservation", (EntryState.of(released), EntryState.of(held)), ids,
            (reservation_id,),
            details={"from_location_id": hold.location_id, "to_location_id": location_id},
        )

    return run_mutation(
        "move_reservation", actor, idempotency_key,
        {"reservation_id": reservation_id, "location_id": location_id, "reason": reason},
        work,
    )


def _hold(session: Session, actor: Actor, reservation_id: int) -> Row[Any]:
    """An active reservation the actor may change. Raises NotFound, PermissionDenied,
    ReservationNotActive."""
    hold = session.execute(
        select(reservations.c.id, reservations.c.store_id, reservations.c.entry_id,
               reservations.c.product_id, reservations.c.location_id, reservations.c.status,
               reservations.c.quantity, reservations.c.open_quantity, reservations.c.order_ref,
               reservations.c.bundle_id)
        .where(reservations.c.id == reservation_id)
    ).one_or_none()
    if hold is None or not actor.is_member(hold.store_id):
        raise NotFound("Reservation not found.")
    require(actor, RESERVE, hold.store_id)
    if hold.status != "active" or hold.entry_id is None:
        raise ReservationNotActive(reservation_id, hold.status)
    return hold


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
                total += expire_entry(session, entry_id, moment)
        if len(entry_ids) < batch_size:
            return total


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
            require(actor, RESERVE, hold.store_id)
            if hold.status != "active" or hold.entry_id is None:
                raise ReservationNotActive(reservation_id, hold.status)
            target_entry = hold.entry_id
            amount = quantity if quantity is not None else hold.open_quantity
        assert target_entry is not None and amount is not None

        row = change_entry(
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
            current = entry_for(session, actor, RESERVE, target_entry)
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
                record(
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


def expire_entry(session: Session, entry_id: int, now: datetime) -> int:
    """Retire the entry's holds that are past expiry, inside the caller's transaction;
    how many. The entry is locked first, so the holds cannot move meanwhile."""
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
        record(
            session, EXPIRY_ACTOR, state, "released", 0, -hold.open_quantity, now,
            reason="Reservation expired", reference=hold.order_ref, reservation_id=hold.id,
        )
        events.emit(session, row.store_id, "reservation.expired", {
            "reservation_id": hold.id, "order_ref": hold.order_ref, "entry_id": row.id,
            "product_id": row.product_id, "location_id": row.location_id,
            "quantity": hold.open_quantity,
        })
    return len(holds)


__all__ = [
    "expire_entry",
    "expire_reservations",
    "fulfill_stock",
    "release_stock",
    "reserve_stock",
    "return_stock",
]
