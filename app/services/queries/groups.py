"""The overview grouped by item: one row per item holding matching entries, with its roll-up
(entries, variants, locations, on hand, reserved, available, incoming, worst status), in
title order, keyset-paginated on (title, id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, select, tuple_

from app.extensions import db
from app.models import Item
from app.permissions import READ, Actor
from app.services.cursors import decode_cursor, encode_cursor
from app.services.queries.common import (
    available,
    entries,
    products,
    status_condition,
    variants,
)
from app.services.queries.listing import EntryFilters, filter_conditions

items = Item.__table__

# The worst status an item's entries are in, in the order a merchant must act on them.
WORST_FIRST = ("out_of_stock", "on_backorder", "low_stock", "in_stock")


@dataclass(frozen=True)
class ItemGroup:
    item_id: int
    title: str
    store_id: int
    entries: int
    variants: int
    locations: int
    quantity: int
    reserved: int
    available: int
    incoming: int
    status: str
    last_movement_at: datetime | None


@dataclass(frozen=True)
class GroupPage:
    rows: list[ItemGroup]
    total: int
    next_cursor: str | None
    total_capped: bool = False


def _matching(filters_conditions: list[Any]) -> Any:
    """Entries of the item in the outer query that pass the overview's filters."""
    return (
        select(entries.c.id)
        .select_from(variants.join(entries, entries.c.product_id == variants.c.product_id)
                     .join(products, products.c.id == entries.c.product_id))
        .where(variants.c.item_id == items.c.id, *filters_conditions)
    )


def item_groups(
    actor: Actor, filters: EntryFilters, *, cursor: str | None = None, limit: int = 50,
    count_limit: int | None = None,
) -> GroupPage:
    """One page of the items holding entries that match `filters`, with their roll-ups.
    The page is found in title order through the items' (store, title) index, each item
    tested for a matching entry, so a page costs the same whatever the store's size; the
    roll-ups are then summed for that page's items only. Raises ValidationError naming
    `cursor` for a page link this listing did not make."""
    conditions = filter_conditions(actor, filters)
    scope = actor.stores_with(READ)
    where = [exists(_matching(conditions))]
    if scope is not None:
        where.append(items.c.store_id.in_(sorted(scope)))
    if filters.store_id is not None:
        where.append(items.c.store_id == filters.store_id)
    if filters.item_id is not None:
        where.append(items.c.id == filters.item_id)
    page_query = select(items.c.id, items.c.title, items.c.store_id).where(*where)
    if cursor:
        key = decode_cursor(cursor, str)
        page_query = page_query.where(
            tuple_(items.c.title, items.c.id) > tuple_(key.value, key.id))
    found = db.session.execute(
        page_query.order_by(items.c.title, items.c.id).limit(limit + 1)
    ).all()
    more = len(found) > limit
    found = found[:limit]
    sums = _rollups(conditions, [r.id for r in found])
    rows = [
        ItemGroup(item_id=r.id, title=r.title, store_id=r.store_id, **sums[r.id])
        for r in found if r.id in sums
    ]
    counted = select(items.c.id).where(*where)
    if count_limit is not None:
        counted = counted.limit(count_limit + 1)
    total = int(db.session.scalar(select(func.count()).select_from(counted.subquery())) or 0)
    capped = count_limit is not None and total > count_limit
    if capped:
        total = count_limit  # type: ignore[assignment]
    next_cursor = (encode_cursor(found[-1].title, found[-1].id, backwards=False)
                   if more and found else None)
    return GroupPage(rows=rows, total=total, next_cursor=next_cursor, total_capped=capped)


def _rollups(conditions: list[Any], item_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not item_ids:
        return {}
    counts = {
        status: func.sum(case((status_condition(status), 1), else_=0)).label(status)
        for status in WORST_FIRST
    }
    query = (
        select(
            variants.c.item_id,
            func.count(entries.c.id).label("entries"),
            func.count(entries.c.product_id.distinct()).label("variants"),
            func.count(entries.c.location_id.distinct()).label("locations"),
            func.sum(entries.c.quantity).label("quantity"),
            func.sum(entries.c.reserved_quantity).label("reserved"),
            func.sum(available).label("available"),
            func.sum(entries.c.incoming_quantity).label("incoming"),
            func.max(entries.c.last_movement_at).label("last_movement_at"),
            *counts.values(),
        )
        .select_from(variants.join(entries, entries.c.product_id == variants.c.product_id)
                     .join(products, products.c.id == entries.c.product_id))
        .where(variants.c.item_id.in_(item_ids), and_(*conditions))
        .group_by(variants.c.item_id)
    )
    out: dict[int, dict[str, Any]] = {}
    for r in db.session.execute(query):
        worst = next((s for s in WORST_FIRST if getattr(r, s)), "in_stock")
        out[r.item_id] = {
            "entries": int(r.entries), "variants": int(r.variants),
            "locations": int(r.locations), "quantity": int(r.quantity or 0),
            "reserved": int(r.reserved or 0), "available": int(r.available or 0),
            "incoming": int(r.incoming or 0), "status": worst,
            "last_movement_at": r.last_movement_at,
        }
    return out
