from datetime import datetime

import pytest

from app.extensions import db
from app.models import InventoryEntry
from app.services import stock
from app.services.errors import (
    Conflict,
    InsufficientStock,
    NotFound,
    QuantityTooLarge,
    ValidationError,
)
from app.services.validation import LIMIT


def _entry_at(product_id, location_id):
    found = db.session.query(InventoryEntry.id).filter_by(
        product_id=product_id, location_id=location_id
    ).scalar()
    db.session.rollback()
    return found


def test_transfer_creates_the_missing_target_entry(
    store, location, make_location, make_product, make_entry, owner, ledger, trail
):
    product = make_product(store)
    source = make_entry(quantity=10, location=location, product=product)
    target_location = make_location(store, "backroom")

    change = stock.transfer_stock(
        actor=owner, product_id=product.id, from_location_id=location.id,
        to_location_id=target_location.id, quantity=4, reason=" Rebalance ", reference="T-1",
    )

    target_id = _entry_at(product.id, target_location.id)
    assert target_id is not None
    assert change.operation == "transfer"
    assert [(e.id, e.location_id, e.quantity, e.reserved_quantity) for e in change.entries] == [
        (source.id, location.id, 6, 0), (target_id, target_location.id, 4, 0),
    ]
    assert trail(source.id)[-1] == ("transfer_out", -4, 0, 6, 0)
    assert trail(target_id) == [("transfer_in", 4, 0, 4, 0)]
    out_row, in_row = ledger(source.id)[-1], ledger(target_id)[-1]
    assert change.movement_ids == (out_row["id"], in_row["id"])
    assert out_row["batch_ref"] == in_row["batch_ref"] is not None
    for row in (out_row, in_row):
        assert (row["reason"], row["reference"]) == ("Rebalance", "T-1")
        assert (row["actor_id"], row["actor_name"], row["store_id"]) == (
            owner.user_id, owner.name, store.id
        )
        assert row["product_id"] == product.id


def test_transfer_adds_to_an_existing_target_entry(
    store, make_location, make_product, make_entry, admin_actor, trail
):
    product = make_product(store)
    here, there = make_location(store), make_location(store)
    source = make_entry(quantity=10, location=here, product=product)
    target = make_entry(quantity=5, reserved=2, location=there, product=product)

    change = stock.transfer_stock(
        actor=admin_actor, product_id=product.id, from_location_id=here.id,
        to_location_id=there.id, quantity=10,
    )

    assert [(e.id, e.quantity, e.reserved_quantity) for e in change.entries] == [
        (source.id, 0, 0), (target.id, 15, 2),
    ]
    assert trail(target.id)[-1] == ("transfer_in", 10, 0, 15, 2)


def test_transfer_cannot_move_reserved_units(
    store, make_location, make_product, make_entry, admin_actor, refused
):
    product = make_product(store)
    here, there = make_location(store), make_location(store)
    make_entry(quantity=8, reserved=5, location=here, product=product)

    with refused(InsufficientStock, "Insufficient stock available. Available: 3, Requested: 5"):
        stock.transfer_stock(
            actor=admin_actor, product_id=product.id, from_location_id=here.id,
            to_location_id=there.id, quantity=5,
        )

    assert _entry_at(product.id, there.id) is None


@pytest.mark.parametrize("target_first", [False, True], ids=["source-first", "target-first"])
def test_transfer_that_would_overfill_the_target_changes_neither_side(
    store, make_location, make_product, make_entry, admin_actor, refused, target_first
):
    product = make_product(store)
    here, there = make_location(store), make_location(store)
    # Rows are updated in primary-key order; fail on the second one in both orders.
    if target_first:
        make_entry(quantity=LIMIT - 1, location=there, product=product)
        make_entry(quantity=10, location=here, product=product)
    else:
        make_entry(quantity=10, location=here, product=product)
        make_entry(quantity=LIMIT - 1, location=there, product=product)

    with refused(QuantityTooLarge, "On hand would exceed the maximum of 1,000,000,000."):
        stock.transfer_stock(
            actor=admin_actor, product_id=product.id, from_location_id=here.id,
            to_location_id=there.id, quantity=2,
        )


def test_transfer_to_an_archived_location_is_refused(
    store, make_location, make_product, make_entry, admin_actor, refused
):
    product = make_product(store)
    here, closed = make_location(store), make_location(store, "old_shed")
    closed.archived_at = datetime(2029, 1, 1)
    db.session.commit()
    make_entry(quantity=10, location=here, product=product)

    with refused(Conflict, "The target location is archived."):
        stock.transfer_stock(
            actor=admin_actor, product_id=product.id, from_location_id=here.id,
            to_location_id=closed.id, quantity=1,
        )


def test_transfer_to_another_stores_location_is_not_found(
    store, make_store, make_location, make_product, make_entry, owner, refused
):
    product = make_product(store)
    here = make_location(store)
    elsewhere = make_location(make_store())
    make_entry(quantity=10, location=here, product=product)

    with refused(NotFound, "Target location not found."):
        stock.transfer_stock(
            actor=owner, product_id=product.id, from_location_id=here.id,
            to_location_id=elsewhere.id, quantity=1,
        )


def test_transfer_from_a_location_without_stock_is_not_found(
    store, make_location, make_product, admin_actor, refused
):
    product = make_product(store)
    here, there = make_location(store), make_location(store)

    with refused(NotFound, "This product has no stock at the source location."):
        stock.transfer_stock(
            actor=admin_actor, product_id=product.id, from_location_id=here.id,
            to_location_id=there.id, quantity=1,
        )


def test_opposing_transfers_conserve_the_total(
    store, make_location, make_product, make_entry, admin_actor, stored
):
    product = make_product(store)
    here, there = make_location(store), make_location(store)
    a = make_entry(quantity=10, location=here, product=product)
    b = make_entry(quantity=10, location=there, product=product)

    for quantity, (src, dst) in zip((3, 5, 7, 1), [(here, there), (there, here)] * 2,
                                    strict=True):
        stock.transfer_stock(
            actor=admin_actor, product_id=product.id, from_location_id=src.id,
            to_location_id=dst.id, quantity=quantity,
        )

    assert (stored(a.id)["quantity"], stored(b.id)["quantity"]) == (10 - 3 + 5 - 7 + 1,
                                                                    10 + 3 - 5 + 7 - 1)
    assert stored(a.id)["quantity"] + stored(b.id)["quantity"] == 20


def test_transfer_to_the_same_location_is_a_validation_error(
    store, location, make_product, make_entry, admin_actor, refused
):
    product = make_product(store)
    make_entry(quantity=10, location=location, product=product)

    with refused(
        ValidationError, fields={"to_location_id": "Choose a location other than the source."}
    ):
        stock.transfer_stock(
            actor=admin_actor, product_id=product.id, from_location_id=location.id,
            to_location_id=location.id, quantity=1,
        )

