"""The overview's entries and the reports as CSV rows: the same filters, scope and order as
the pages, free text neutralised so a spreadsheet never runs it as a formula."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, Item, ItemVariant, Location, Product, Store
from app.permissions import Actor
from app.services import queries
from app.services.csvfile import neutralise
from app.services.items import options_text
from app.services.money import format_amount
from app.services.queries import (
    SORTS,
    EntryFilters,
    ReportFilters,
    filter_conditions,
    status_expression,
)

entries = InventoryEntry.__table__
products = Product.__table__
locations = Location.__table__
stores = Store.__table__
items = Item.__table__
variants = ItemVariant.__table__

# The entries CSV format, shared with the import: informational columns are ignored there.
CSV_COLUMNS = (
    "store", "location", "sku", "title", "quantity", "reserved", "available", "threshold",
    "status", "version", "item", "options",
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
    # The item the product is a variant of, and its option names and values: the import
    # matches rows by store, location and SKU, checks these against the catalog, and adds
    # a SKU the store lacks as a variant of that item.
    item: str | None = None
    option1: str | None = None
    option2: str | None = None
    option3: str | None = None
    value1: str = ""
    value2: str = ""
    value3: str = ""

    @property
    def options(self) -> str:
        """ "Color: Black; Size: S", for a variant of an item with options."""
        return options_text((self.option1, self.option2, self.option3),
                            (self.value1, self.value2, self.value3))

    def cells(self) -> tuple[object, ...]:
        """The row as CSV_COLUMNS cells, free text neutralised."""
        return (
            neutralise(self.store), neutralise(self.location), neutralise(self.sku),
            neutralise(self.title), self.quantity, self.reserved, self.available,
            self.threshold, self.status, self.version, neutralise(self.item or ""),
            neutralise(self.options),
        )


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
            items.c.title.label("item"),
            items.c.option1, items.c.option2, items.c.option3,
            variants.c.value1, variants.c.value2, variants.c.value3,
        )
        .select_from(entries)
        .join(products, products.c.id == entries.c.product_id)
        .outerjoin(variants, variants.c.product_id == entries.c.product_id)
        .outerjoin(items, items.c.id == variants.c.item_id)
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


# The report files: the columns the screens show, the store by its name.
REPORT_COLUMNS = {
    "low_stock": ("store", "location", "sku", "title", "on_hand", "reserved", "available",
                  "threshold", "shortfall", "status"),
    "out_of_stock": ("store", "location", "sku", "title", "on_hand", "reserved", "available",
                     "threshold", "status"),
    "reorder": ("store", "supplier", "location", "sku", "title", "on_hand", "available",
                "incoming", "on_draft", "reorder_point", "order_up_to", "shortfall", "suggested",
                "supplier_sku", "currency", "unit_cost", "last_cost", "pack_size",
                "min_order_qty", "lead_time_days"),
}


def _cost(value: Decimal | None, currency: str | None) -> str:
    return "" if value is None or currency is None else format_amount(value, currency).replace(
        ",", "")


def iter_report_csv(actor: Actor, report: str, filters: ReportFilters
                    ) -> Iterator[tuple[Any, ...]]:
    """A report's rows as REPORT_COLUMNS[report] cells, every page of them, in its order."""
    if report == "reorder":
        for line in queries.iter_reorder_suggestions(actor, filters):
            yield (neutralise(line.store_name), neutralise(line.supplier_name or ""),
                   neutralise(line.location_code), neutralise(line.sku),
                   neutralise(line.title), line.quantity, line.available_quantity,
                   line.incoming_quantity, line.on_draft, line.reorder_point,
                   line.reorder_up_to if line.orders_up_to else "", line.shortfall,
                   line.suggested, neutralise(line.supplier_sku or ""), line.currency or "",
                   _cost(line.unit_cost, line.currency), _cost(line.last_cost, line.currency),
                   line.pack_size if line.supplier_id else "",
                   line.min_order_qty if line.supplier_id else "",
                   "" if line.lead_time_days is None else line.lead_time_days)
        return
    low = report == "low_stock"
    for e in queries.iter_report(actor, report, filters):
        cells: tuple[Any, ...] = (
            neutralise(e.store_name), neutralise(e.location_code), neutralise(e.sku),
            neutralise(e.title), e.quantity, e.reserved_quantity, e.available_quantity,
            e.low_stock_threshold,
        )
        if low:
            cells += (e.low_stock_threshold - e.available_quantity,)
        yield (*cells, e.status)
