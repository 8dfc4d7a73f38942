"""One entry or one product: its stock per location, its status and its holds."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    bindparam,
    select,
)

from app.extensions import db
from app.permissions import READ, Actor
from app.services.errors import NotFound
from app.services.queries.common import (
    EntryView,
    ReservationView,
    entries,
    entry_select,
    locations,
    product_status,
    products,
    readable_scope,
    reservations,
)


def get_entry(actor: Actor, entry_id: int) -> EntryView:
    """One entry with its names and status. Raises NotFound (also for foreign stores)."""
    scope = actor.stores_with(READ)
    values: dict[str, Any] = {"entry_id": entry_id}
    if scope is not None:
        values["scope"] = sorted(scope)
    row = db.session.execute(_entry_statement(scope is not None), values).one_or_none()
    if row is None:
        raise NotFound("Inventory entry not found.", {"entry_id": "No such inventory entry."})
    return EntryView(**row._asdict())


@functools.lru_cache(maxsize=2)
def _entry_statement(scoped: bool) -> Select[Any]:
    """get_entry's statement with placeholders, built once: a dialog and the row it
    updates read an entry up to three times a request, and building the statement costs
    more than running it."""
    query = entry_select().where(entries.c.id == bindparam("entry_id", type_=Integer()))
    if scoped:
        query = query.where(entries.c.store_id.in_(bindparam("scope", expanding=True)))
    return query


@dataclass(frozen=True)
class ProductStock:
    product_id: int
    store_id: int
    sku: str
    title: str
    product_type: str
    allow_backorder: bool
    reorder_point: int
    reorder_quantity: int
    reorder_up_to: int
    locations: list[EntryView]
    total_quantity: int
    total_reserved: int
    total_available: int
    status: str

    @property
    def unlimited(self) -> bool:
        return self.product_type != "physical"


def product_stock(actor: Actor, product_id: int) -> ProductStock:
    """Stock of one product per location, with totals and the product-level status."""
    product = db.session.execute(
        select(products).where(
            products.c.id == product_id, readable_scope(actor, products.c.store_id)
        )
    ).one_or_none()
    if product is None:
        raise NotFound("Product not found.")
    rows = [
        EntryView(**r._asdict())
        for r in db.session.execute(
            entry_select().where(entries.c.product_id == product_id).order_by(locations.c.code)
        )
    ]
    total_q = sum(r.quantity for r in rows)
    total_r = sum(r.reserved_quantity for r in rows)
    thresholds = sum(r.low_stock_threshold for r in rows)
    return ProductStock(
        product_id=product.id,
        store_id=product.store_id,
        sku=product.sku,
        title=product.title,
        product_type=product.type,
        allow_backorder=product.allow_backorder,
        reorder_point=product.reorder_point,
        reorder_quantity=product.reorder_quantity,
        reorder_up_to=product.reorder_up_to,
        locations=rows,
        total_quantity=total_q,
        total_reserved=total_r,
        total_available=total_q - total_r,
        status=product_status(product.type, product.allow_backorder, total_q - total_r, thresholds),
    )


def entry_reservations(actor: Actor, entry_id: int, *, limit: int = 100) -> list[ReservationView]:
    """An entry's reservations, active first, newest first."""
    get_entry(actor, entry_id)  # NotFound for foreign or missing entries
    rows = db.session.execute(
        select(
            reservations.c.id, reservations.c.order_ref, reservations.c.line_ref,
            reservations.c.quantity, reservations.c.open_quantity, reservations.c.status,
            reservations.c.expires_at, reservations.c.created_at, reservations.c.closed_at,
            reservations.c.bundle_id,
        )
        .where(reservations.c.entry_id == entry_id)
        .order_by((reservations.c.status == "active").desc(), reservations.c.id.desc())
        .limit(limit)
    )
    return [ReservationView(**r._asdict()) for r in rows]
