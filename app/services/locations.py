"""Locations of a store: the list with its stock totals, renaming, archiving.

Creating a location lives in app.services.stores (create_location) and is re-exported here,
so the catalog screens talk to one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import write_transaction
from app.extensions import db
from app.models import InventoryEntry, Location, Store
from app.permissions import CATALOG, READ, Actor
from app.services import audit
from app.services.errors import (
    Conflict,
    LocationAwaitsStock,
    LocationHoldsStock,
    NotFound,
    PermissionDenied,
)
from app.services.stores import create_location, require_store
from app.services.validation import Checker, is_id

entries = InventoryEntry.__table__
locations = Location.__table__
stores = Store.__table__

__all__ = [
    "LocationAwaitsStock",
    "LocationHoldsStock",
    "LocationRow",
    "archive_location",
    "create_location",
    "get_location",
    "list_locations",
    "rename_location",
    "unarchive_location",
]



@dataclass(frozen=True)
class LocationRow:
    id: int
    store_id: int
    code: str
    name: str
    archived_at: datetime | None
    entries: int
    on_hand: int
    reserved: int

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def _totals_query():  # type: ignore[no-untyped-def]
    return (
        select(
            locations.c.id,
            locations.c.store_id,
            locations.c.code,
            locations.c.name,
            locations.c.archived_at,
            func.count(entries.c.id).label("entries"),
            func.coalesce(func.sum(entries.c.quantity), 0).label("on_hand"),
            func.coalesce(func.sum(entries.c.reserved_quantity), 0).label("reserved"),
        )
        .select_from(locations)
        .outerjoin(entries, entries.c.location_id == locations.c.id)
        .group_by(locations.c.id)
    )


def _row(r: object) -> LocationRow:
    data = r._asdict()  # type: ignore[attr-defined]
    for key in ("entries", "on_hand", "reserved"):
        data[key] = int(data[key])
    return LocationRow(**data)


def _readable_store(actor: Actor, store_id: object) -> int:
    require_store(actor, READ, store_id)
    exists = db.session.scalar(select(stores.c.id).where(stores.c.id == store_id))
    if exists is None:
        raise NotFound("Store not found.")
    return int(exists)


def list_locations(actor: Actor, store_id: int) -> list[LocationRow]:
    """Every location of a store, active first then archived, each by code, with its entry
    count and on-hand and reserved totals (one grouped query). Raises NotFound."""
    store_id = _readable_store(actor, store_id)
    rows = db.session.execute(
        _totals_query()
        .where(locations.c.store_id == store_id)
        .order_by(locations.c.archived_at.is_not(None), locations.c.code, locations.c.id)
    )
    return [_row(r) for r in rows]


def get_location(actor: Actor, location_id: int) -> LocationRow:
    """One location with its totals. Raises NotFound (also for a foreign store's)."""
    row = db.session.execute(
        _totals_query().where(locations.c.id == location_id)
    ).one_or_none() if is_id(location_id) else None
    if row is None or not actor.is_member(row.store_id) or not actor.can(READ, row.store_id):
        raise NotFound("Location not found.")
    return _row(row)


def rename_location(*, actor: Actor, location_id: int, name: str) -> LocationRow:
    """Give a location a new name; its code never changes (entries, imports and the ledger
    refer to it). Raises ValidationError, NotFound, PermissionDenied."""
    check = Checker()
    check.text("name", name, required=False, max_length=120)
    check.done()
    new_name = (name or "").strip()
    with write_transaction() as session:
        store_id = _manageable(session, actor, location_id)
        current = session.execute(
            select(locations.c.code, locations.c.name).where(locations.c.id == location_id)
        ).one()
        session.execute(
            update(locations).where(locations.c.id == location_id,
                                    locations.c.store_id == store_id)
            .values(name=new_name)
        )
        if current.name != new_name:
            audit.record(session, actor, "location.renamed", "location", location_id,
                         current.code, store_id=store_id,
                         changes={"name": (current.name, new_name)})
    return get_location(actor, location_id)


def archive_location(*, actor: Actor, location_id: int) -> LocationRow:
    """Retire a location: no new entries, transfers or orders go there. Refused while it
    holds any stock or reservations, or awaits units on open purchase orders. Raises
    LocationHoldsStock, LocationAwaitsStock, Conflict, NotFound, PermissionDenied."""
    with write_transaction() as session:
        store_id = _manageable(session, actor, location_id)
        # Lock the location's entries (primary-key order, as every stock operation does)
        # and then the location, so a stock change in flight finishes before we count and
        # none starts before we commit. Not FOR UPDATE on the location: ledger inserts take
        # KEY SHARE on it through their foreign key and would deadlock with our entry locks.
        session.execute(
            select(entries.c.id).where(entries.c.location_id == location_id)
            .order_by(entries.c.id).with_for_update()
        ).all()
        location = session.execute(
            select(locations.c.code, locations.c.archived_at)
            .where(locations.c.id == location_id)
            .with_for_update(key_share=True)
        ).one()
        if location.archived_at is not None:
            raise Conflict(f"{location.code} is already archived.")
        # A fresh statement: on PostgreSQL it sees everything committed while we waited.
        held = session.execute(
            select(
                func.coalesce(func.sum(case((entries.c.quantity > 0, 1), else_=0)), 0),
                func.coalesce(func.sum(entries.c.quantity), 0),
                func.coalesce(func.sum(entries.c.reserved_quantity), 0),
            ).where(entries.c.location_id == location_id)
        ).one()
        stocked, units, reserved = (int(v) for v in held)
        if units or reserved:
            raise LocationHoldsStock(location.code, units, stocked, reserved)
        awaited = int(session.scalar(
            select(func.coalesce(func.sum(entries.c.incoming_quantity), 0))
            .where(entries.c.location_id == location_id)
        ) or 0)
        if awaited:
            raise LocationAwaitsStock(location.code, awaited)
        session.execute(
            update(locations).where(locations.c.id == location_id,
                                    locations.c.store_id == store_id)
            .values(archived_at=utcnow())
        )
        audit.record(session, actor, "location.archived", "location", location_id,
                     location.code, store_id=store_id, changes={"archived": (False, True)})
    return get_location(actor, location_id)


def unarchive_location(*, actor: Actor, location_id: int) -> LocationRow:
    """Bring an archived location back into use. Raises Conflict, NotFound,
    PermissionDenied."""
    with write_transaction() as session:
        store_id = _manageable(session, actor, location_id)
        done = session.execute(
            update(locations)
            .where(locations.c.id == location_id, locations.c.store_id == store_id,
                   locations.c.archived_at.is_not(None))
            .values(archived_at=None)
        )
        code = session.scalar(select(locations.c.code).where(locations.c.id == location_id))
        if done.rowcount != 1:
            raise Conflict(f"{code} is not archived.")
        audit.record(session, actor, "location.unarchived", "location", location_id, code,
                     store_id=store_id, changes={"archived": (True, False)})
    return get_location(actor, location_id)


def _manageable(session: Session, actor: Actor, location_id: object) -> int:
    """The location's store, after the actor's right to manage its catalog is checked."""
    store_id = session.scalar(
        select(locations.c.store_id).where(locations.c.id == location_id)
    ) if is_id(location_id) else None
    if store_id is None or not actor.is_member(store_id):
        raise NotFound("Location not found.")
    if not actor.can(CATALOG, store_id):
        raise PermissionDenied(CATALOG)
    return int(store_id)
