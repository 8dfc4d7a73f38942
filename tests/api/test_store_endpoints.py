"""Every store-scoped endpoint: what it does, and how it refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.clock import utcnow
from app.extensions import db
from app.models import Reservation, StockMovement

from .helpers import assert_error

BASE = "/api/v1/store/inventory"


@pytest.fixture
def owner(api_as, world):
    return api_as("owner", world.a.store)


def by_code(world, **extra):
    return {"product_id": world.a.product.id, "location": "a_main", **extra}


def movements_of(entry_id):
    db.session.rollback()
    return list(db.session.scalars(
        select(StockMovement).where(StockMovement.entry_id == entry_id)
        .order_by(StockMovement.id)
    ))


# --------------------------------------------------------------------------- reads


def test_list_shows_only_the_users_stores(owner, world):
    body = owner.get(BASE).get_json()
    assert body["total"] == 1
    [item] = body["items"]
    assert item["id"] == world.a.entry.id
    assert item["location"] == "A_MAIN"
    assert (item["quantity"], item["reserved_quantity"], item["available_quantity"]) == (10, 2, 8)
    assert item["status"] == "in_stock"
    assert item["updated_at"].endswith("Z")


def test_list_filters_search_sort_and_pages(owner, world, make_product, make_entry):
    for n in range(3):
        product = make_product(world.a.store, f"A-CUP-{n}", title=f"Cup {n}")
        make_entry(store=world.a.store, location=world.a.spare, product=product, quantity=n)
    page = owner.get(f"{BASE}?q=cup&sort=quantity&order=desc&limit=2").get_json()
    assert [i["sku"] for i in page["items"]] == ["A-CUP-2", "A-CUP-1"]
    assert page["total"] == 3 and page["next_cursor"]
    rest = owner.get(f"{BASE}?q=cup&sort=quantity&order=desc&limit=2"
                     f"&cursor={page['next_cursor']}").get_json()
    assert [i["sku"] for i in rest["items"]] == ["A-CUP-0"]
    assert owner.get(f"{BASE}?max_quantity=1&location_id={world.a.spare.id}").get_json()[
        "total"] == 2
    assert owner.get(f"{BASE}?status=out_of_stock").get_json()["total"] == 1


@pytest.mark.parametrize("query, field", [
    ("status=lost", "status"), ("limit=0", "limit"), ("limit=x", "limit"),
    ("sort=price", "sort"), ("cursor=garbage", "cursor"), ("store_id=-1", "store_id"),
    ("max_quantity=%EF%BC%95", "max_quantity"), ("max_quantity=1e3", "max_quantity"),
])
def test_list_refuses_bad_arguments(owner, query, field):
    error = assert_error(owner.get(f"{BASE}?{query}"), 422, "invalid")
    assert field in error["fields"]


def test_get_entry_and_product_summary(owner, world):
    entry = owner.get(f"{BASE}/{world.a.entry.id}").get_json()
    assert entry["sku"] == "A-MUG" and entry["store_name"] == "Alpha"
    summary = owner.get(f"{BASE}/product/{world.a.product.id}").get_json()
    assert (summary["total_quantity"], summary["total_reserved"], summary["total_available"]) \
        == (10, 2, 8)
    assert [loc["location"] for loc in summary["locations"]] == ["A_MAIN"]
    digital = owner.get(f"{BASE}/product/{world.a.digital.id}").get_json()
    assert digital["unlimited"] is True and digital["total_available"] is None


def test_reads_of_missing_ids_are_404(owner):
    assert_error(owner.get(f"{BASE}/999999"), 404, "not_found")
    assert_error(owner.get(f"{BASE}/product/999999"), 404, "not_found")
    assert_error(owner.get(f"{BASE}/0"), 404, "not_found")


# --------------------------------------------------------------------------- mutations


def test_set_by_product_and_location_code(owner, world, read_entry):
    response = owner.post(f"{BASE}/set", by_code(world, quantity=25, reason="Stocktake"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["operation"] == "set" and body["previous_quantity"] == 10
    [state] = body["entries"]
    assert (state["quantity"], state["reserved_quantity"], state["available_quantity"]) \
        == (25, 2, 23)
    assert read_entry(world.a.entry.id).quantity == 25
    assert movements_of(world.a.entry.id)[-1].type == "set"


def test_set_below_reserved_is_409_and_changes_nothing(owner, world, db_state):
    before = db_state()
    error = assert_error(owner.post(f"{BASE}/set", by_code(world, quantity=1)), 409,
                         "below_reserved")
    assert error["message"] == "Quantity 1 is below reserved 2"
    assert db_state() == before


def test_set_with_a_stale_version_is_409(owner, world):
    assert_error(owner.post(f"{BASE}/set", {"entry_id": world.a.entry.id, "quantity": 5,
                                            "expected_version": 999}), 409, "stale")


def test_adjust_adds_and_removes(owner, world, read_entry):
    body = owner.post(f"{BASE}/adjust", by_code(world, quantity=-3, reason="Broken")).get_json()
    assert body["entries"][0]["quantity"] == 7
    error = assert_error(
        owner.post(f"{BASE}/adjust", by_code(world, quantity=-6, reason="Lost")), 409,
        "insufficient_stock",
    )
    assert error["message"] == "Insufficient stock available. Available: 5, Requested: 6"
    assert read_entry(world.a.entry.id).quantity == 7


@pytest.mark.parametrize("payload, field", [
    ({"quantity": 0, "reason": "x"}, "quantity"),
    ({"quantity": 1}, "reason"),
    ({"quantity": "5", "reason": "x"}, "quantity"),
    ({"quantity": 1.5, "reason": "x"}, "quantity"),
    ({"quantity": True, "reason": "x"}, "quantity"),
    ({"quantity": 2**63, "reason": "x"}, "quantity"),
    ({"quantity": 1, "reason": "x" * 201}, "reason"),
    ({"quantity": 1, "reason": "bad\x00byte"}, "reason"),
    ({"quantity": 1, "reason": "  "}, "reason"),
])
def test_adjust_refuses_bad_input_naming_the_field(owner, world, db_state, payload, field):
    before = db_state()
    error = assert_error(owner.post(f"{BASE}/adjust", by_code(world, **payload)), 422, "invalid")
    assert field in error["fields"], error
    assert db_state() == before


@pytest.mark.parametrize("payload, field", [
    ({"quantity": 1}, "product_id"),
    ({"product_id": 1, "quantity": 1}, "location"),
    ({"entry_id": 1, "product_id": 1, "location": "X", "quantity": 1}, "entry_id"),
])
def test_an_entry_must_be_named_one_way(owner, payload, field):
    error = assert_error(owner.post(f"{BASE}/set", payload), 422, "invalid")
    assert field in error["fields"]


def test_unknown_location_code_is_404(owner, world):
    assert_error(owner.post(f"{BASE}/set", {"product_id": world.a.product.id,
                                            "location": "NOWHERE", "quantity": 1}), 404)


def test_reserve_release_fulfill_cycle(owner, world, read_entry):
    expires = (utcnow() + timedelta(hours=1)).isoformat() + "Z"
    held = owner.post(f"{BASE}/reserve", by_code(
        world, quantity=3, order_ref="ORD-1", line_ref="L1", expires_at=expires)).get_json()
    [hold_id] = held["reservation_ids"]
    assert held["entries"][0]["reserved_quantity"] == 5
    db.session.rollback()
    assert db.session.get(Reservation, hold_id).expires_at is not None
    released = owner.post(f"{BASE}/release", by_code(world, quantity=1, order_ref="ORD-1"))
    assert released.status_code == 200 and released.get_json()["entries"][0][
        "reserved_quantity"] == 4
    shipped = owner.post(f"{BASE}/fulfill", {"reservation_id": hold_id}).get_json()
    assert shipped["entries"][0]["quantity"] == 8
    assert shipped["entries"][0]["reserved_quantity"] == 2
    entry = read_entry(world.a.entry.id)
    assert (entry.quantity, entry.reserved_quantity) == (8, 2)


def test_reserve_refusals(owner, world):
    error = assert_error(owner.post(f"{BASE}/reserve", by_code(world, quantity=9,
                                                               order_ref="O")), 409)
    assert error["message"] == "Insufficient stock available. Available: 8, Requested: 9"
    assert "order_ref" in assert_error(
        owner.post(f"{BASE}/reserve", by_code(world, quantity=1)), 422)["fields"]
    past = (utcnow() - timedelta(hours=1)).isoformat()
    assert "expires_at" in assert_error(owner.post(f"{BASE}/reserve", by_code(
        world, quantity=1, order_ref="O", expires_at=past)), 422)["fields"]


def test_release_and_fulfill_refusals(owner, world):
    error = assert_error(owner.post(f"{BASE}/release", by_code(world, quantity=3)), 409,
                         "exceeds_reserved")
    assert error["message"] == "Cannot release 3: only 2 reserved"
    assert "quantity" in assert_error(owner.post(f"{BASE}/fulfill", by_code(world)), 422)[
        "fields"]
    assert "reservation_id" in assert_error(owner.post(f"{BASE}/fulfill", {
        "reservation_id": 1, "entry_id": world.a.entry.id}), 422)["fields"]
    assert_error(owner.post(f"{BASE}/release", {"reservation_id": 999999}), 404)
    db.session.rollback()
    hold = db.session.scalar(select(Reservation.id).where(
        Reservation.entry_id == world.a.entry.id))
    owner.post(f"{BASE}/release", {"reservation_id": hold})
    assert_error(owner.post(f"{BASE}/release", {"reservation_id": hold}), 409,
                 "reservation_not_active")


def test_return_and_count(owner, world):
    returned = owner.post(f"{BASE}/return", by_code(world, quantity=4, reason="RMA 7"))
    assert returned.get_json()["entries"][0]["quantity"] == 14
    assert "reason" in assert_error(owner.post(f"{BASE}/return", by_code(world, quantity=1)),
                                    422)["fields"]
    counted = owner.post(f"{BASE}/count", by_code(world, counted_quantity=12)).get_json()
    assert counted["details"] == {"discrepancy": -2}
    error = assert_error(owner.post(f"{BASE}/count", by_code(world, counted_quantity=1)), 409)
    assert error["message"] == "Counted 1 is below reserved 2"


def test_transfer_between_locations(owner, world):
    body = owner.post(f"{BASE}/transfer", {
        "product_id": world.a.product.id, "from_location": "a_main",
        "to_location": "A_SPARE", "quantity": 5,
    }).get_json()
    assert [(e["location_id"], e["quantity"]) for e in body["entries"]] == [
        (world.a.location.id, 5), (world.a.spare.id, 5)]
    error = assert_error(owner.post(f"{BASE}/transfer", {
        "product_id": world.a.product.id, "from_location": "A_MAIN",
        "to_location": "A_SPARE", "quantity": 4,
    }), 409, "insufficient_stock")
    assert error["message"] == "Insufficient stock available. Available: 3, Requested: 4"
    assert "to_location" in assert_error(owner.post(f"{BASE}/transfer", {
        "product_id": world.a.product.id, "from_location": "A_MAIN",
        "to_location": "a_main", "quantity": 1,
    }), 422)["fields"]


def test_create_update_and_delete_an_entry(owner, world, read_entry):
    assert "unit_cost" in assert_error(owner.post(BASE, {
        "product_id": world.a.product.id, "location": "a_spare", "quantity": 4,
        "unit_cost": 2.5}), 422)["fields"]  # a JSON number: never exact
    assert assert_error(owner.post(BASE, {
        "product_id": world.a.product.id, "location": "a_spare", "unit_cost": "2.50"}),
        422)["fields"] == {"unit_cost": "A unit cost goes with opening stock: enter a "
                                        "quantity too, or leave the cost for the first receipt."}
    created = owner.post(BASE, {"product_id": world.a.product.id, "location": "a_spare",
                                "quantity": 4, "low_stock_threshold": 2, "unit_cost": "2.50"})
    assert created.status_code == 201, created.get_json()
    entry_id = created.get_json()["entries"][0]["id"]
    assert read_entry(entry_id).average_cost == 25_000
    assert_error(owner.post(BASE, {"product_id": world.a.product.id, "location": "A_SPARE"}),
                 409, "duplicate_entry")
    assert_error(owner.post(BASE, {"product_id": world.a.digital.id, "location": "A_SPARE"}),
                 409, "unlimited_product")
    updated = owner.put(f"{BASE}/{entry_id}", {"low_stock_threshold": 9}).get_json()
    assert updated["details"] == {"low_stock_threshold": 9}
    assert owner.get(f"{BASE}/{entry_id}").get_json()["status"] == "low_stock"
    assert "low_stock_threshold" in assert_error(
        owner.put(f"{BASE}/{entry_id}", {"low_stock_threshold": -1}), 422)["fields"]
    deleted = owner.delete(f"{BASE}/{entry_id}").get_json()
    assert deleted["operation"] == "delete" and deleted["previous_quantity"] == 4
    assert read_entry(entry_id) is None
    assert_error(owner.delete(f"{BASE}/{entry_id}"), 404)
    error = assert_error(owner.delete(f"{BASE}/{world.a.entry.id}"), 409,
                         "entry_has_reservations")
    assert error["message"] == "Entry has 2 reserved units"
