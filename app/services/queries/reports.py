"""Totals and reports: the overview's cards, low and out of stock, store totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    distinct,
    func,
    select,
    true,
)

from app.extensions import db
from app.permissions import READ, Actor
from app.services import tallies
from app.services.queries.common import (
    STATUSES,
    EntryView,
    available,
    entries,
    entry_select,
    is_physical,
    locations,
    products,
    readable_scope,
    status_condition,
    stores,
)


def stock_stats(actor: Actor, *, store_id: int | None = None) -> dict[str, int]:
    """The overview's cards and counts by status, from the stock tallies: a sum over a few
    rows per location instead of a pass over every entry (app/models/tallies.py)."""
    scope = actor.stores_with(READ)
    if store_id is not None:
        scope = {store_id} if scope is None or store_id in scope else set()
    t = tallies.totals(scope)
    stats = {
        "total_entries": t.entries, "total_quantity": t.quantity, "total_reserved": t.reserved,
        "low_stock": t.low_stock, "out_of_stock": t.out_of_stock,
        "on_backorder": t.on_backorder, "stores_with_inventory": t.stores,
        "unique_locations": t.locations,
    }
    return _with_derived(stats)


def _with_derived(stats: dict[str, int]) -> dict[str, int]:
    stats["total_available"] = stats["total_quantity"] - stats["total_reserved"]
    stats["in_stock"] = stats["total_entries"] - sum(
        stats[s] for s in STATUSES if s != "in_stock"
    )
    stats["low_stock_count"] = stats["low_stock"]
    return stats


def stock_stats_scan(actor: Actor, *, store_id: int | None = None) -> dict[str, int]:
    """stock_stats the long way, in one statement over every entry: what the tallies must
    equal, and the baseline the scale benchmark compares them with.

    One pass over the entries (joined to their products for the status rules) counts with
    FILTER clauses; in_stock is what the other three statuses leave, as the four partition
    every entry. Stores and locations with stock are counted by index look-ups (EXISTS per
    store and per location) rather than a DISTINCT over every entry."""
    scoped = [readable_scope(actor)]
    if store_id is not None:
        scoped.append(entries.c.store_id == store_id)
    counted = {s: func.count().filter(status_condition(s)) for s in STATUSES if s != "in_stock"}
    holding = select(entries.c.id).where(*scoped)
    stores_with = (
        select(func.count()).select_from(stores).where(
            readable_scope(actor, stores.c.id),
            stores.c.id == store_id if store_id is not None else true(),
            holding.where(entries.c.store_id == stores.c.id).exists(),
        ).scalar_subquery()
    )
    locations_with = (
        select(func.count()).select_from(locations).where(
            readable_scope(actor, locations.c.store_id),
            locations.c.store_id == store_id if store_id is not None else true(),
            holding.where(entries.c.location_id == locations.c.id).exists(),
        ).scalar_subquery()
    )
    query = (
        select(
            func.count().label("total_entries"),
            func.coalesce(func.sum(entries.c.quantity), 0).label("total_quantity"),
            func.coalesce(func.sum(entries.c.reserved_quantity), 0).label("total_reserved"),
            *(expression.label(s) for s, expression in counted.items()),
            stores_with.label("stores_with_inventory"),
            locations_with.label("unique_locations"),
        )
        .select_from(entries)
        .join(products, products.c.id == entries.c.product_id)
        .where(*scoped)
    )
    row = db.session.execute(query).one()
    return _with_derived({k: int(v or 0) for k, v in row._asdict().items()})


def low_stock(
    actor: Actor, *, store_id: int | None = None, threshold: int | None = None, limit: int = 500
) -> list[EntryView]:
    """Entries in low_stock; with `threshold`, every physical entry whose available is at
    or below it (the seed API's `?threshold=`)."""
    if threshold is None:
        condition = status_condition("low_stock")
    else:
        condition = and_(is_physical, available <= threshold)
    return _entries_where(actor, condition, store_id, limit, order=(available, entries.c.id))


def out_of_stock(actor: Actor, *, store_id: int | None = None, limit: int = 500) -> list[EntryView]:
    """Physical entries with nothing available, backordered or not."""
    condition = and_(is_physical, available <= 0)
    return _entries_where(actor, condition, store_id, limit, order=(products.c.title, entries.c.id))


def _entries_where(
    actor: Actor, condition: ColumnElement[bool], store_id: int | None, limit: int,
    order: tuple[Any, ...],
) -> list[EntryView]:
    query = entry_select().where(condition, readable_scope(actor))
    if store_id is not None:
        query = query.where(entries.c.store_id == store_id)
    return [
        EntryView(**r._asdict())
        for r in db.session.execute(query.order_by(*order).limit(limit))
    ]


@dataclass(frozen=True)
class StoreSummary:
    id: int
    name: str
    slug: str
    archived: bool
    total_entries: int
    total_quantity: int
    total_reserved: int
    total_available: int
    locations: int


def store_summaries(actor: Actor, *, store_id: int | None = None) -> list[StoreSummary]:
    """Every store the actor can read (or just one), with its stock totals, in one grouped
    query."""
    totals = (
        select(
            entries.c.store_id,
            func.count(entries.c.id).label("total_entries"),
            func.sum(entries.c.quantity).label("total_quantity"),
            func.sum(entries.c.reserved_quantity).label("total_reserved"),
            func.count(distinct(entries.c.location_id)).label("locations"),
        )
        .group_by(entries.c.store_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            stores.c.id, stores.c.name, stores.c.slug, stores.c.archived_at,
            func.coalesce(totals.c.total_entries, 0).label("total_entries"),
            func.coalesce(totals.c.total_quantity, 0).label("total_quantity"),
            func.coalesce(totals.c.total_reserved, 0).label("total_reserved"),
            func.coalesce(totals.c.locations, 0).label("locations"),
        )
        .outerjoin(totals, totals.c.store_id == stores.c.id)
        .where(readable_scope(actor, stores.c.id),
               stores.c.id == store_id if store_id is not None else true())
        .order_by(stores.c.name, stores.c.id)
    )
    return [
        StoreSummary(
            id=r.id, name=r.name, slug=r.slug, archived=r.archived_at is not None,
            total_entries=int(r.total_entries), total_quantity=int(r.total_quantity),
            total_reserved=int(r.total_reserved),
            total_available=int(r.total_quantity) - int(r.total_reserved),
            locations=int(r.locations),
        )
        for r in rows
    ]
