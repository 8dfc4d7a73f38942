"""Items through the API: the store read with each variant's stock per location, and the
public read a storefront's product page makes (seed 004's rows for an item)."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import ItemVariant
from app.permissions import system_actor
from app.services import catalog, items, stock

OPTIONS = [items.Option("Color", ("Black", "Blue")), items.Option("Size", ("S",))]


@pytest.fixture
def parka(world):
    actor = system_actor("tests")
    made = items.create_item(actor=actor, store_id=world.a.store.id, title="Parka",
                             options=OPTIONS, variants_to_make=items.generate(OPTIONS, "PRK"))
    black, blue = made.product_ids
    stock.create_entry(actor=actor, product_id=black, location_id=world.a.location.id,
                       quantity=7, low_stock_threshold=2)
    held = stock.create_entry(actor=actor, product_id=black, location_id=world.a.spare.id,
                              quantity=3).entry
    stock.reserve_stock(actor=actor, entry_id=held.id, quantity=3, order_ref="O-1")
    return made


def test_the_store_read_gives_each_variant_its_stock_per_location(world, parka, api_as):
    client = api_as("staff", world.a.store)
    body = client.get(f"/api/v1/store/inventory/item/{parka.id}").get_json()
    assert (body["title"], body["total_quantity"], body["total_available"]) == ("Parka", 10, 7)
    assert body["options"] == [{"name": "Color", "values": ["Black", "Blue"]},
                               {"name": "Size", "values": ["S"]}]
    black, blue = body["variants"]
    assert black["options"] == {"Color": "Black", "Size": "S"} and black["sku"] == "PRK-BLACK-S"
    assert [(c["location"], c["quantity"], c["available"], c["status"])
            for c in black["locations"]] == [("A_MAIN", 7, 7, "in_stock"),
                                             ("A_SPARE", 3, 0, "out_of_stock")]
    assert blue["locations"] == [] and blue["total_quantity"] == 0
    # Another store's member learns nothing.
    stranger = api_as("owner", world.b.store)
    assert stranger.get(f"/api/v1/store/inventory/item/{parka.id}").status_code == 404


def test_the_public_read_lists_live_variants_with_a_count_and_status(world, parka, anonymous):
    actor = system_actor("tests")
    url = f"/api/v1/public/items/{parka.id}/availability"
    body = anonymous.get(url).get_json()
    assert body == {"item_id": parka.id, "variants": [
        {"product_id": parka.product_ids[0], "sku": "PRK-BLACK-S",
         "options": {"Color": "Black", "Size": "S"}, "available": 7, "status": "in_stock"},
        {"product_id": parka.product_ids[1], "sku": "PRK-BLUE-S",
         "options": {"Color": "Blue", "Size": "S"}, "available": 0, "status": "out_of_stock"},
    ]}
    # An archived variant leaves the list; an item whose only variant is archived is gone.
    catalog.archive_product(actor=actor, product_id=parka.product_ids[1])
    assert [v["sku"] for v in anonymous.get(url).get_json()["variants"]] == ["PRK-BLACK-S"]
    mug_item = world.a.item.id
    catalog.archive_product(actor=actor, product_id=world.a.product.id)
    assert anonymous.get(f"/api/v1/public/items/{mug_item}/availability").status_code == 404
    assert anonymous.get("/api/v1/public/items/999999/availability").status_code == 404


def test_an_unlimited_variant_is_read_as_unlimited_never_as_a_count(world, api_as):
    """As a product's read does: a digital variant says unlimited, with no available
    count, where a physical one with nothing in stock says 0."""
    client = api_as("owner", world.a.store)
    body = client.get(f"/api/v1/store/inventory/item/{world.a.item.id}").get_json()
    assert (body["variants"][0]["unlimited"], body["variants"][0]["total_available"]) == (
        False, 8)
    digital = db.session.get(ItemVariant, world.a.digital.id).item_id
    db.session.rollback()
    card = client.get(f"/api/v1/store/inventory/item/{digital}").get_json()["variants"][0]
    assert (card["product_type"], card["unlimited"], card["total_available"]) == (
        "digital", True, None)
