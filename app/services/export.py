"""The overview's entries as CSV rows: the same filters, scope and order as the page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, Location, Product, Store
from app.permissions import Actor
from app.services.queries import SORTS, EntryFilters, filter_conditions, status_expression

entries = InventoryEntry.__table__
products = Product.__table__
locations = Location.__table__
stores = Store.__table__

# The entries CSV format, shared with the import: informational columns are ignored there.
CSV_COLUMNS = (
    "store", "location", "sku", "title", "quantity", "reserved", "available", "threshold",
    "status", "version",
)
BATCH = 1_000


@dataclass(frozen=True)
class ExportRow:
    store: str
    location: str
    sku: str
    title: str
    quantity: int
    reserved: int
    available: int
    threshold: int
    status: str
    version: int


def iter_entries_csv(actor: Actor, filters: EntryFilters) -> Iterator[ExportRow]:
    """Every entry the overview's filters match, in its order, read in batches through a
    server-side cursor so an export of any size runs in constant memory."""
    sort = SORTS[filters.sort]
    order = (sort.desc(), entries.c.id.desc()) if filters.descending else (sort, entries.c.id)
    query = (
        select(
            stores.c.slug.label("store"),
            locations.c.code.label("location"),
            products.c.sku,
            products.c.title,
            entries.c.quantity,
            entries.c.reserved_quantity.label("reserved"),
            (entries.c.quantity - entries.c.reserved_quantity).label("available"),
            entries.c.low_stock_threshold.label("threshold"),
            status_expression().label("status"),
            entries.c.version,
        )
        .select_from(entries)
        .join(products, products.c.id == entries.c.product_id)
        .join(locations, locations.c.id == entries.c.location_id)
        .join(stores, stores.c.id == entries.c.store_id)
        .where(*filter_conditions(actor, filters))
        .order_by(*order)
    )
    result = db.session.execute(query, execution_options={"yield_per": BATCH})
    try:
        for batch in result.partitions():
            for row in batch:
                yield ExportRow(*row)  # columns in field order; faster than by name
    finally:
        result.close()
