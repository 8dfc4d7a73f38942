"""A store with one stocked entry, for the tiers that drive whole processes (CLI, served)."""

from __future__ import annotations

from app.extensions import db


def stocked_entry(title: str, sku: str, quantity: int = 10) -> tuple[int, int]:
    """A store of its own with one product, its item and a bin holding `quantity`, made
    inside the caller's app context; (store id, entry id)."""
    import uuid

    from app.models import Item, ItemVariant, Location, Product, Store
    from app.permissions import system_actor
    from app.services import stock

    store = Store(name=title, slug=f"{sku.lower()}-{uuid.uuid4().hex[:6]}")
    db.session.add(store)
    db.session.flush()
    location = Location(store_id=store.id, code="BIN", name="Bin")
    product = Product(store_id=store.id, sku=sku, title=title)
    item = Item(store_id=store.id, title=title, status="active")
    db.session.add_all([location, product, item])
    db.session.flush()
    db.session.add(ItemVariant(product_id=product.id, store_id=store.id, item_id=item.id))
    db.session.commit()
    entry = stock.create_entry(actor=system_actor("tests"), product_id=product.id,
                               location_id=location.id, quantity=quantity).entry
    return store.id, entry.id
