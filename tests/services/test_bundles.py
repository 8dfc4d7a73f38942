"""Bundles: a product made of components holds no stock of its own; its availability is
what its components can make; reserving, shipping, releasing and returning a bundle line
changes its components in one transaction, each ledger row naming the bundle."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, Reservation, StockMovement
from app.services import bundles, channels, stock
from app.services.errors import (
    BundleProduct,
    ExceedsFulfilled,
    NotFound,
    OrderShort,
    ValidationError,
)


@pytest.fixture
def kit(store, owner, make_location, make_product):
    """A gift set of two coffees and a mug: 9 coffees and 3 mugs at SHOP, 4 and 4 at BACK."""
    shop, back = make_location(store, "SHOP"), make_location(store, "BACK")
    coffee, mug, gift = (make_product(store, sku) for sku in ("COFFEE", "MUG", "GIFT"))
    stocked = {}
    for where, counts in ((shop, (9, 3)), (back, (4, 4))):
        for product, quantity in zip((coffee, mug), counts, strict=True):
            stocked[(product.sku, where.code)] = stock.create_entry(
                actor=owner, product_id=product.id, location_id=where.id,
                quantity=quantity).entry.id
    bundles.set_components(actor=owner, bundle_id=gift.id, parts=[(coffee.id, 2), (mug.id, 1)])
    return SimpleNamespace(shop=shop, back=back, coffee=coffee, mug=mug, gift=gift,
                           entries=stocked)


def _held(kit, sku: str, code: str) -> tuple[int, int]:
    db.session.rollback()
    row = db.session.get(InventoryEntry, kit.entries[(sku, code)])
    return row.quantity, row.reserved_quantity


def test_a_bundles_availability_is_what_its_components_make(kit, owner):
    made = bundles.bundle_availability(owner, kit.gift.id)
    # SHOP: 9 coffees make 4, 3 mugs make 3 → 3. BACK: 4 coffees make 2, 4 mugs 4 → 2.
    assert made.by_location == (("BACK", 2), ("SHOP", 3)) and made.available == 5
    with pytest.raises(BundleProduct, match="holds no stock of its own"):
        stock.create_entry(actor=owner, product_id=kit.gift.id, location_id=kit.shop.id)


def test_reserving_ship_and_return_a_bundle_change_its_components(kit, owner, store):
    line = {"line_ref": "L1", "product_id": kit.gift.id, "location_id": kit.shop.id,
            "quantity": 2}
    change = stock.reserve_order(actor=owner, store_id=store.id, order_ref="G-1", lines=[line])
    result = change.details["lines"][0]
    assert result["status"] == "reserved"
    assert sorted((c["product_id"], c["quantity"]) for c in result["components"]) == sorted(
        [(kit.coffee.id, 4), (kit.mug.id, 2)])
    assert _held(kit, "COFFEE", "SHOP") == (9, 4) and _held(kit, "MUG", "SHOP") == (3, 2)
    rows = db.session.scalars(select(StockMovement).where(
        StockMovement.id.in_(change.movement_ids))).all()
    assert {r.reason for r in rows} == {"Bundle GIFT ×2"}
    holds = db.session.scalars(select(Reservation).where(Reservation.order_ref == "G-1")).all()
    assert {(h.bundle_id, h.bundle_units, h.line_ref) for h in holds} == {(kit.gift.id, 2, "L1")}
    # The same line again is the same line: nothing more is held.
    again = stock.reserve_order(actor=owner, store_id=store.id, order_ref="G-1", lines=[line])
    assert again.details["lines"][0]["status"] == "already_reserved"
    assert _held(kit, "COFFEE", "SHOP") == (9, 4)

    stock.fulfill_order(actor=owner, store_id=store.id, order_ref="G-1")
    assert _held(kit, "COFFEE", "SHOP") == (5, 0) and _held(kit, "MUG", "SHOP") == (1, 0)
    stock.return_order(actor=owner, store_id=store.id, order_ref="G-1",
                       lines=[{"line_ref": "L1", "quantity": 1}], reason="Unwanted gift")
    assert _held(kit, "COFFEE", "SHOP") == (7, 0) and _held(kit, "MUG", "SHOP") == (2, 0)
    with pytest.raises(Exception, match="L1"):
        stock.return_order(actor=owner, store_id=store.id, order_ref="G-1",
                           lines=[{"line_ref": "L1", "quantity": 2}], reason="Again")


def test_a_bundle_line_reserved_again_after_a_release_ships_and_comes_back(kit, owner, store):
    """Payment fails, the line is released and reserved again: the holds released unshipped
    are no longer part of the line, so what shipped the second time can come back."""
    order = {"actor": owner, "store_id": store.id, "order_ref": "G-9"}
    line = {"line_ref": "L1", "product_id": kit.gift.id, "location_id": kit.shop.id,
            "quantity": 2}
    stock.reserve_order(**order, lines=[line])
    stock.release_order(**order)
    stock.reserve_order(**order, lines=[line])
    stock.fulfill_order(**order)
    assert _held(kit, "COFFEE", "SHOP") == (5, 0) and _held(kit, "MUG", "SHOP") == (1, 0)

    stock.return_order(**order, lines=[{"line_ref": "L1", "quantity": 2}], reason="Unwanted")
    assert _held(kit, "COFFEE", "SHOP") == (9, 0) and _held(kit, "MUG", "SHOP") == (3, 0)
    with pytest.raises(ExceedsFulfilled, match="only 0 shipped"):
        stock.return_order(**order, lines=[{"line_ref": "L1", "quantity": 1}], reason="Again")


def test_a_line_that_was_a_bundle_and_is_now_a_plain_product_returns_as_one(kit, owner,
                                                                          store):
    """A line reserved as the gift set, released, and reserved again as a mug: what ships
    and comes back is the mug, and its return is not read as a bundle's."""
    order = {"actor": owner, "store_id": store.id, "order_ref": "G-10"}
    stock.reserve_order(**order, lines=[{"line_ref": "L1", "product_id": kit.gift.id,
                                         "location_id": kit.shop.id, "quantity": 1}])
    stock.release_order(**order)
    stock.reserve_order(**order, lines=[{"line_ref": "L1", "product_id": kit.mug.id,
                                         "location_id": kit.back.id, "quantity": 2}])
    stock.fulfill_order(**order)
    assert _held(kit, "MUG", "BACK") == (2, 0)

    stock.return_order(**order, lines=[{"line_ref": "L1", "quantity": 2}], reason="Chipped")
    assert _held(kit, "MUG", "BACK") == (4, 0) and _held(kit, "MUG", "SHOP") == (3, 0)


def test_a_bundle_short_of_one_component_is_refused_whole(kit, owner, store):
    with pytest.raises(OrderShort) as short:
        stock.reserve_order(actor=owner, store_id=store.id, order_ref="G-2", lines=[
            {"line_ref": "L1", "product_id": kit.gift.id, "location_id": kit.shop.id,
             "quantity": 4}])
    assert "L1: GIFT (component MUG, 1 a bundle) (available 3, requested 4)" in str(short.value)
    assert _held(kit, "COFFEE", "SHOP") == (9, 0)


def test_on_a_channel_a_bundle_is_put_together_in_one_place(kit, owner, store):
    web = channels.create_channel(actor=owner, store_id=store.id, code="WEB",
                                  location_ids=[kit.back.id, kit.shop.id], allow_split=True)
    change = stock.reserve_order(actor=owner, store_id=store.id, order_ref="G-3",
                                 channel_id=web.id, lines=[
                                     {"line_ref": "L1", "product_id": kit.gift.id,
                                      "quantity": 3}])
    # BACK makes only 2: the whole line goes to SHOP, never split between the two.
    assert change.details["lines"][0]["location_id"] == kit.shop.id
    assert _held(kit, "MUG", "SHOP") == (3, 3) and _held(kit, "MUG", "BACK") == (4, 0)
    with pytest.raises(OrderShort, match="L1: GIFT on WEB"):
        stock.reserve_order(actor=owner, store_id=store.id, order_ref="G-4",
                            channel_id=web.id, lines=[{"line_ref": "L1",
                                                       "product_id": kit.gift.id,
                                                       "quantity": 3}])


def test_components_are_checked(kit, owner, make_product, store, make_store):
    with pytest.raises(ValidationError, match="contain itself"):
        bundles.set_components(actor=owner, bundle_id=kit.gift.id, parts=[(kit.gift.id, 1)])
    set_box = make_product(store, "SET-BOX")
    with pytest.raises(ValidationError, match="is a bundle itself"):
        bundles.set_components(actor=owner, bundle_id=set_box.id, parts=[(kit.gift.id, 1)])
    ebook = make_product(store, "EBOOK", type="digital")
    with pytest.raises(ValidationError, match="a component is a physical product"):
        bundles.set_components(actor=owner, bundle_id=set_box.id, parts=[(ebook.id, 1)])
    foreign = make_product(make_store(), "THEIRS")
    with pytest.raises(ValidationError, match="not a product of this store"):
        bundles.set_components(actor=owner, bundle_id=set_box.id, parts=[(foreign.id, 1)])
    with pytest.raises(Exception, match="has stock"):
        bundles.set_components(actor=owner, bundle_id=kit.coffee.id, parts=[(kit.mug.id, 1)])
    with pytest.raises(NotFound):
        bundles.bundle_availability(owner, 999_999)


def test_an_orders_availability_check_counts_what_a_bundle_makes(kit, owner, store):
    from app.services import queries

    [at_shop, anywhere] = queries.order_availability(owner, store.id, [
        {"product_id": kit.gift.id, "location_id": kit.shop.id, "quantity": 3},
        {"product_id": kit.gift.id, "quantity": 6}])
    assert (at_shop.available, at_shop.sufficient) == (3, True)
    assert (anywhere.available, anywhere.sufficient, anywhere.status) == (5, False, "in_stock")


def test_the_public_read_of_a_bundle_counts_what_it_makes(kit, owner):
    from app.services import queries

    seen = queries.public_availability(kit.gift.id)
    assert (seen.available, seen.status, seen.unlimited) == (5, "in_stock", False)


def test_a_channel_and_an_items_public_read_count_what_a_bundle_makes(kit, owner, store):
    from app.services import items

    web = channels.create_channel(actor=owner, store_id=store.id, code="WEB",
                                  location_ids=[kit.back.id, kit.shop.id])
    [gift] = channels.channel_availability(owner, web.id, [kit.gift.id])
    assert (gift.available, gift.by_location) == (5, (("BACK", 2), ("SHOP", 3)))
    item_id = items.item_of(owner, kit.gift.id).item_id
    [variant] = items.public_item_availability(item_id)
    assert (variant.availability.available, variant.availability.status) == (5, "in_stock")


def test_a_bundles_component_hold_does_not_move_alone(kit, owner, store):
    change = stock.reserve_order(actor=owner, store_id=store.id, order_ref="G-9", lines=[
        {"line_ref": "L1", "product_id": kit.gift.id, "location_id": kit.shop.id,
         "quantity": 1}])
    with pytest.raises(Exception, match="component of a bundle"):
        stock.move_reservation(actor=owner, reservation_id=change.reservation_ids[0],
                               location_id=kit.back.id)
    assert _held(kit, "MUG", "BACK") == (4, 0)


def test_an_import_refuses_to_stock_a_bundle(kit, owner, store):
    data = f"store,location,sku,quantity\r\n{store.slug},SHOP,GIFT,4\r\n".encode()
    plan = stock.plan_import(data, actor=owner)
    assert not plan.ok
    assert [m for _line, _kind, m in plan.problems()] == [
        "GIFT is a bundle: it holds no stock of its own; stock its components"]
