"""Whom a variant is bought from, as the reports see it: its preferred supplier item, else
the cheapest (then by the supplier's name), among suppliers not archived. The reorder
suggestions group by that supplier and order from it; every report filters by it.

The same order as purchasing.product_suppliers lists a product's suppliers in, so the
supplier the reports name is the first one the product's page shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, func, select, true
from sqlalchemy.dialects.postgresql import distinct_on

from app.extensions import db
from app.models import Supplier, SupplierItem
from app.permissions import Actor
from app.services.errors import NotFound
from app.services.queries.common import dialect_name, entries, readable_scope
from app.services.validation import is_id

suppliers = Supplier.__table__
supplier_items = SupplierItem.__table__


# The stores a statement reads, as a condition on a table's store column.
Scope = Callable[[Any], ColumnElement[bool]]


def store_scope(actor: Actor, store_id: int | None = None) -> Scope:
    """The stores the actor reads, or the one named among them."""
    def condition(column: Any) -> ColumnElement[bool]:
        return and_(readable_scope(actor, column),
                    column == store_id if store_id is not None else true())
    return condition


def chosen_items(in_scope: Scope, dialect: str) -> Subquery:
    """One row per variant that has a supplier (product_id, supplier_id, the item's terms
    and the supplier's name, currency and lead time), in the stores `in_scope` reads: read
    once per statement, not once per entry. PostgreSQL takes DISTINCT ON, whose row count
    it estimates well (a window's filtered rows it takes for one, and then joins them by a
    nested loop); SQLite, without DISTINCT ON, the first row of a window."""
    order = (supplier_items.c.preferred.desc(), supplier_items.c.unit_cost, suppliers.c.name,
             suppliers.c.id)
    columns = (
        supplier_items.c.product_id,
        supplier_items.c.supplier_id,
        supplier_items.c.supplier_sku,
        supplier_items.c.unit_cost,
        supplier_items.c.pack_size,
        supplier_items.c.min_order_qty,
        suppliers.c.name.label("supplier_name"),
        suppliers.c.currency,
        suppliers.c.lead_time_days,
    )
    items = (select(*columns)
             .join(suppliers, suppliers.c.id == supplier_items.c.supplier_id)
             .where(suppliers.c.archived_at.is_(None), in_scope(supplier_items.c.store_id)))
    if dialect == "postgresql":
        return (items.ext(distinct_on(supplier_items.c.product_id))
                .order_by(supplier_items.c.product_id, *order).subquery("chosen_items"))
    rank = func.row_number().over(partition_by=supplier_items.c.product_id, order_by=order)
    ranked = items.add_columns(rank.label("rank")).subquery("ranked_items")
    return (
        select(*(c for c in ranked.c if c.key != "rank"))
        .where(ranked.c.rank == 1)
        .subquery("chosen_items")
    )


def supplier_condition(
    actor: Actor, *, supplier_id: int | None, without_supplier: bool,
    store_id: int | None = None, product_id: Any = entries.c.product_id,
) -> ColumnElement[bool] | None:
    """Rows whose variant (`product_id`) is bought from this supplier, or from none; None
    when neither is asked."""
    if supplier_id is None and not without_supplier:
        return None
    chosen = chosen_items(store_scope(actor, store_id), dialect_name())
    if without_supplier:
        return product_id.not_in(select(chosen.c.product_id))
    return product_id.in_(select(chosen.c.product_id).where(chosen.c.supplier_id == supplier_id))


@dataclass(frozen=True)
class SupplierOption:
    id: int
    store_id: int
    name: str


def supplier_options(actor: Actor, *, store_id: int | None = None) -> list[SupplierOption]:
    """Suppliers not archived, in the stores the actor reads (or one), for the reports'
    supplier filter; by name."""
    query = select(suppliers.c.id, suppliers.c.store_id, suppliers.c.name).where(
        suppliers.c.archived_at.is_(None), readable_scope(actor, suppliers.c.store_id),
    )
    if store_id is not None:
        query = query.where(suppliers.c.store_id == store_id)
    return [SupplierOption(**r._asdict()) for r in db.session.execute(
        query.order_by(func.lower(suppliers.c.name), suppliers.c.id))]


def supplier_store(actor: Actor, supplier_id: int) -> int:
    """The store of a supplier the actor reads. Raises NotFound naming `supplier` for any
    other (a foreign store's, a missing one)."""
    store_id = db.session.scalar(
        select(suppliers.c.store_id).where(
            suppliers.c.id == supplier_id, readable_scope(actor, suppliers.c.store_id))
    ) if is_id(supplier_id) else None
    if store_id is None:
        raise NotFound("No such supplier among your stores.", {"supplier": "No such supplier."})
    return int(store_id)
