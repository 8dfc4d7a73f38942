from datetime import datetime

import pytest

from app.clock import frozen_at
from app.extensions import db
from app.services import stock
from app.services.errors import (
    Conflict,
    DuplicateEntry,
    NotFound,
    UnlimitedProduct,
    ValidationError,
)

T0 = datetime(2030, 8, 1, 9, 0)


def test_create_with_opening_stock_writes_a_received_row(
    store, location, make_product, owner, stored, ledger, trail
):
    product = make_product(store)

    with frozen_at(T0):
        change = stock.create_entry(
            actor=owner, product_id=product.id, location_id=location.id, quantity=12,
            low_stock_threshold=3,
        )

    assert change.operation == "create"
    entry = change.entry
    assert (entry.store_id, entry.product_id, entry.location_id) == (
        store.id, product.id, location.id
    )
    assert (entry.quantity, entry.reserved_quantity, entry.version) == (12, 0, 1)
    row = stored(entry.id)
    assert (row["low_stock_threshold"], row["incoming_quantity"], row["last_movement_at"]) == (
        3, 0, T0
    )
    assert trail(entry.id) == [("received", 12, 0, 12, 0)]
    movement = ledger(entry.id)[0]
    assert change.movement_ids == (movement["id"],)
    assert (movement["reason"], movement["actor_id"], movement["store_id"]) == (
        "Opening stock", owner.user_id, store.id
    )


def test_incoming_cannot_be_typed_it_comes_from_purchase_orders(
    store, location, make_product, owner, refused
):
    product = make_product(store)

    with refused(ValidationError, fields={
        "incoming_quantity": "Incoming comes from open purchase orders: order the stock "
                             "rather than type what is on its way."
    }):
        stock.create_entry(actor=owner, product_id=product.id, location_id=location.id,
                           quantity=3, incoming_quantity=5)

    # Zero, what a form or an older API client sends, is what every entry starts with.
    change = stock.create_entry(actor=owner, product_id=product.id, location_id=location.id,
                                quantity=3, incoming_quantity=0)
    assert change.entry.quantity == 3


def test_create_keeps_a_given_reason(store, location, make_product, admin_actor, ledger):
    product = make_product(store)

    change = stock.create_entry(
        actor=admin_actor, product_id=product.id, location_id=location.id, quantity=1,
        reason=" Delivery 42 ",
    )

    assert ledger(change.entry.id)[0]["reason"] == "Delivery 42"


def test_create_without_stock_writes_no_ledger_row(
    store, location, make_product, admin_actor, stored, ledger
):
    product = make_product(store)

    change = stock.create_entry(
        actor=admin_actor, product_id=product.id, location_id=location.id
    )

    assert change.movement_ids == ()
    assert ledger(change.entry.id) == []
    assert stored(change.entry.id)["last_movement_at"] is None


def test_a_second_entry_for_the_same_product_and_location_is_refused(
    store, make_location, make_product, make_entry, admin_actor, refused
):
    product = make_product(store, sku="MUG-1")
    location = make_location(store, "shelf_b")
    make_entry(quantity=3, location=location, product=product)

    with refused(DuplicateEntry, "MUG-1 already has an entry at SHELF_B."):
        stock.create_entry(
            actor=admin_actor, product_id=product.id, location_id=location.id, quantity=9
        )


@pytest.mark.parametrize("kind", ["digital", "service", "subscription"])
def test_products_with_unlimited_stock_get_no_entry(
    store, location, make_product, admin_actor, refused, kind
):
    product = make_product(store, sku="UNL-1", type=kind)

    with refused(
        UnlimitedProduct,
        f"UNL-1 is a {kind} product: its stock is unlimited and needs no inventory entry.",
    ):
        stock.create_entry(
            actor=admin_actor, product_id=product.id, location_id=location.id, quantity=5
        )


def test_create_at_an_archived_location_is_refused(
    store, make_location, make_product, admin_actor, refused
):
    product = make_product(store)
    closed = make_location(store, "old_shed")
    closed.archived_at = datetime(2029, 1, 1)
    db.session.commit()

    with refused(Conflict, "Location OLD_SHED is archived."):
        stock.create_entry(actor=admin_actor, product_id=product.id, location_id=closed.id)


def test_create_with_an_unknown_product_is_not_found(store, location, admin_actor, refused,
                                                     make_product):
    product = make_product(store)

    with refused(NotFound, "Product not found."):
        stock.create_entry(
            actor=admin_actor, product_id=product.id + 50, location_id=location.id
        )


def test_create_at_another_stores_location_is_not_found(
    store, make_store, make_location, make_product, admin_actor, refused
):
    product = make_product(store)
    elsewhere = make_location(make_store())

    with refused(NotFound, "Location not found."):
        stock.create_entry(
            actor=admin_actor, product_id=product.id, location_id=elsewhere.id
        )
