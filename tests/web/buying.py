"""A store that buys in, for the purchasing screens' tests: two locations, products with and
without a supplier's terms, a supplier, and the people who may and may not buy."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierItem
from app.permissions import ADJUST, GRANTABLE_TO_STAFF, system_actor
from app.services import purchasing

GTIN = "4006381333931"


def build(make_store: Callable[..., Any], make_location: Callable[..., Any],
          make_product: Callable[..., Any], make_entry: Callable[..., Any]) -> SimpleNamespace:
    """Harbour Street buys from Acme Wholesale: mugs (2.50 a unit, packs of 6, at least 12)
    and teapots (no terms on record); a gift card it never buys. Another store, Beta, has
    a supplier and a product of its own."""
    admin = system_actor("tests")
    store = make_store("Harbour Street")
    warehouse, shelf = make_location(store, "WAREHOUSE_A"), make_location(store, "SHELF_B")
    mug = make_product(store, sku="MUG-BLU", title="Blue Mug", gtin=GTIN)
    pot = make_product(store, sku="POT-RED", title="Red Teapot")
    gift = make_product(store, sku="GIFT-25", title="Gift Card", type="digital")
    entry = make_entry(store=store, location=warehouse, product=mug, quantity=4)
    acme = purchasing.create_supplier(actor=admin, store_id=store.id, name="Acme Wholesale",
                                      contact_name="Ann Acme", email="orders@acme.test",
                                      lead_time_days=7)
    item = purchasing.set_supplier_item(actor=admin, supplier_id=acme.id, product_id=mug.id,
                                        unit_cost="2.50", supplier_sku="AC-MUG-9",
                                        pack_size=6, min_order_qty=12, preferred=True)
    other = make_store("Beta Store")
    other_place = make_location(other, "BETA_BAY")
    other_product = make_product(other, sku="BETA-1", title="Beta Secret Teapot")
    beta = purchasing.create_supplier(actor=admin, store_id=other.id, name="Beta Supplies")
    return SimpleNamespace(store=store, warehouse=warehouse, shelf=shelf, mug=mug, pot=pot,
                           gift=gift, entry=entry, acme=acme, item=item, other=other,
                           other_place=other_place, other_product=other_product, beta=beta,
                           admin=admin)


def draft(shop: SimpleNamespace, *lines: tuple[Any, Any, int], **fields: Any) -> Any:
    """A draft to Acme with lines (product, location, quantity), at Acme's costs."""
    return purchasing.create_purchase_order(
        actor=shop.admin, supplier_id=shop.acme.id, **fields,
        lines=[{"product_id": p.id, "location_id": loc.id, "quantity": q,
                "unit_cost": None if p.id == shop.mug.id else "7.00"}
               for p, loc, q in lines])


def people(shop: SimpleNamespace, login_as: Callable[..., Any]) -> SimpleNamespace:
    """Signed-in clients: who may buy (owner, store admin) and who may not (read-only
    staff, staff with every grantable group, another store's owner)."""
    return SimpleNamespace(
        owner=login_as("owner", shop.store),
        manager=login_as("admin", shop.store),
        viewer=login_as("staff", shop.store),
        staff=login_as("staff", shop.store, tuple(sorted(GRANTABLE_TO_STAFF | {ADJUST}))),
        stranger=login_as("owner", shop.other),
    )


def purchasing_rows() -> tuple[Any, ...]:
    """Every supplier, supplier item, order and order line as committed now."""
    db.session.rollback()
    try:
        return tuple(
            tuple(tuple(r) for r in db.session.execute(select(t).order_by(t.c.id)))
            for t in (Supplier.__table__, SupplierItem.__table__, PurchaseOrder.__table__,
                      PurchaseOrderLine.__table__)
        )
    finally:
        db.session.rollback()


def count(model: Any) -> int:
    db.session.rollback()
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)
