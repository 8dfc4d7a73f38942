"""The platform admin's cross-store endpoints, and the public availability read."""

from __future__ import annotations

import pytest

from app.clock import utcnow
from app.extensions import db
from app.models import Product, Store

from .helpers import assert_error

ADMIN = "/api/v1/admin/inventory"


@pytest.fixture
def admin(api_as):
    return api_as("platform_admin")


def test_cross_store_list_and_seed_filters(admin, world):
    assert admin.get(ADMIN).get_json()["total"] == 2
    only_b = admin.get(f"{ADMIN}?store_id={world.b.store.id}").get_json()
    assert [i["store_name"] for i in only_b["items"]] == ["Beta"]
    assert admin.get(f"{ADMIN}?low_stock=9").get_json()["total"] == 0
    assert admin.get(f"{ADMIN}?low_stock=10").get_json()["total"] == 2


def test_stats(admin, world):
    stats = admin.get(f"{ADMIN}/stats").get_json()
    assert (stats["total_entries"], stats["total_quantity"], stats["total_reserved"],
            stats["total_available"], stats["stores_with_inventory"],
            stats["unique_locations"]) == (2, 20, 4, 16, 2, 2)
    assert admin.get(f"{ADMIN}/stats?store_id={world.a.store.id}").get_json()[
        "total_entries"] == 1


def test_low_stock(admin, world):
    assert admin.get(f"{ADMIN}/low-stock").get_json() == []
    [row, _] = admin.get(f"{ADMIN}/low-stock?threshold=8").get_json()
    assert set(row) >= {"product_id", "store_name", "product_title", "location", "quantity",
                        "available_quantity"}
    assert (row["quantity"], row["available_quantity"]) == (10, 8)
    assert_error(admin.get(f"{ADMIN}/low-stock?limit=5000"), 422)


def test_stores_locations_store_inventory_and_product(admin, world):
    stores = admin.get(f"{ADMIN}/stores").get_json()
    assert [(s["name"], s["total_entries"], s["total_available"]) for s in stores] == [
        ("Alpha", 1, 8), ("Beta", 1, 8)]
    codes = [loc["code"] for loc in admin.get(f"{ADMIN}/locations").get_json()]
    assert codes == ["A_MAIN", "A_SPARE", "B_MAIN", "B_SPARE"]
    assert [loc["code"] for loc in admin.get(
        f"{ADMIN}/locations?store_id={world.b.store.id}").get_json()] == ["B_MAIN", "B_SPARE"]
    one = admin.get(f"{ADMIN}/stores/{world.b.store.id}").get_json()
    assert one["store"]["name"] == "Beta" and one["stats"]["total_entries"] == 1
    assert [i["sku"] for i in one["page"]["items"]] == ["B-MUG"]
    assert_error(admin.get(f"{ADMIN}/stores/999999"), 404)
    product = admin.get(f"{ADMIN}/products/{world.b.product.id}").get_json()
    assert product["store_id"] == world.b.store.id and product["total_quantity"] == 10


def test_admin_set_and_adjust_need_the_store(admin, world, read_entry):
    body = {"store_id": world.b.store.id, "product_id": world.b.product.id,
            "location": "B_MAIN", "quantity": 100}
    assert admin.post(f"{ADMIN}/set", body).status_code == 200
    assert read_entry(world.b.entry.id).quantity == 100
    adjusted = admin.post(f"{ADMIN}/adjust", {**body, "quantity": 25, "reason": "Restock"})
    assert adjusted.get_json()["entries"][0]["quantity"] == 125
    assert "store_id" in assert_error(admin.post(f"{ADMIN}/set", {
        "product_id": world.b.product.id, "location": "B_MAIN", "quantity": 1}), 422)["fields"]
    # The product is in store B: named under store A it does not exist.
    assert_error(admin.post(f"{ADMIN}/set", {**body, "store_id": world.a.store.id}), 404)
    assert_error(admin.post(f"{ADMIN}/set", {"store_id": world.a.store.id,
                                             "entry_id": world.b.entry.id, "quantity": 1}), 404)


def test_admin_update_and_delete(admin, world, make_entry):
    entry = make_entry(store=world.b.store, location=world.b.spare, product=world.b.product)
    assert admin.put(f"{ADMIN}/{entry.id}", {"low_stock_threshold": 3}).status_code == 200
    assert admin.delete(f"{ADMIN}/{entry.id}").status_code == 200
    assert_error(admin.delete(f"{ADMIN}/{entry.id}"), 404)


@pytest.mark.parametrize("role", ["owner", "admin", "staff"])
def test_store_members_may_not_use_admin_endpoints(api_as, world, role, db_state):
    client = api_as(role, world.a.store)
    before = db_state()
    for url in ("", "/stats", "/low-stock", "/stores", "/locations",
                f"/stores/{world.a.store.id}", f"/products/{world.a.product.id}"):
        assert_error(client.get(ADMIN + url), 403, "forbidden")
    assert_error(client.post(f"{ADMIN}/set", {"store_id": world.a.store.id,
                                              "entry_id": world.a.entry.id, "quantity": 50}), 403)
    assert_error(client.delete(f"{ADMIN}/{world.a.entry.id}"), 403)
    assert db_state() == before


# --------------------------------------------------------------------------- public


PUBLIC = "/api/v1/public/products/{}/availability"


def test_public_availability_exposes_only_count_and_status(anonymous, world):
    response = anonymous.get(PUBLIC.format(world.a.product.id))
    assert response.status_code == 200
    assert response.get_json() == {"product_id": world.a.product.id, "available": 8,
                                   "status": "in_stock"}
    assert anonymous.get(PUBLIC.format(world.a.digital.id)).get_json() == {
        "product_id": world.a.digital.id, "unlimited": True, "status": "in_stock"}


def test_public_availability_status_follows_stock(anonymous, api_as, world):
    owner = api_as("owner", world.a.store)
    owner.put(f"/api/v1/store/inventory/{world.a.entry.id}", {"low_stock_threshold": 8})
    assert anonymous.get(PUBLIC.format(world.a.product.id)).get_json()["status"] == "low_stock"
    owner.post("/api/v1/store/inventory/reserve", {"entry_id": world.a.entry.id, "quantity": 8,
                                                   "order_ref": "O"})
    body = anonymous.get(PUBLIC.format(world.a.product.id)).get_json()
    assert (body["available"], body["status"]) == (0, "out_of_stock")


def test_public_availability_hides_archived_and_unknown_products(anonymous, world):
    db.session.get(Product, world.a.product.id).archived_at = utcnow()
    db.session.get(Store, world.b.store.id).archived_at = utcnow()
    db.session.commit()
    for product_id in (world.a.product.id, world.b.product.id, 999999):
        assert_error(anonymous.get(PUBLIC.format(product_id)), 404, "not_found")
    assert_error(anonymous.get("/api/v1/public/products/0/availability"), 404)
