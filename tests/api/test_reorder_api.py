"""The reorder suggestions over the API: the lines as the report shows them, its filters and
pages, and draft purchase orders from chosen lines, idempotent by key and refused, changing
nothing, when the lines are not the store's or no longer suggested as sent."""

from __future__ import annotations

from app.extensions import db
from app.permissions import system_actor
from app.services import purchasing

from .helpers import assert_error

URL = "/api/v1/store/reorder-suggestions"
DRAFTS = f"{URL}/purchase-orders"


def drafts(store_id):
    """The orders placed with the reorder line's supplier (the scene has others)."""
    db.session.rollback()  # see the requests' commits, not an older snapshot
    return [o for o in purchasing.list_purchase_orders(system_actor("t"), store_id)
            if o.supplier_name == "A Supply"]


def line(scene, quantity=10):
    return {"product_id": scene.reorder.id, "location_id": scene.a.location.id,
            "expected_quantity": quantity}


def test_the_suggestions_list_each_line_with_its_supplier(scene, api_as) -> None:
    client = api_as("owner", scene.a.store)
    staff = api_as("staff", scene.a.store)
    body = client.get(URL).get_json()
    assert (body["total"], body["total_capped"], body["next_cursor"]) == (1, False, None)
    [item] = body["items"]
    assert {k: item[k] for k in ("sku", "location", "available_quantity", "incoming_quantity",
                                 "on_draft_quantity", "reorder_point", "reorder_point_from",
                                 "reorder_up_to", "shortfall", "suggested_quantity")} == {
        "sku": "A-REORDER", "location": "A_MAIN", "available_quantity": 0,
        "incoming_quantity": 0, "on_draft_quantity": 0, "reorder_point": 5,
        "reorder_point_from": "product", "reorder_up_to": 0, "shortfall": 5,
        "suggested_quantity": 10}
    assert item["supplier"] == {"id": item["supplier"]["id"], "name": "A Supply",
                                "supplier_sku": None, "currency": "USD", "lead_time_days": 0,
                                "unit_cost": "2.0000", "last_cost": None, "pack_size": 1,
                                "min_order_qty": 0}
    # Staff see the same line, without what it costs (purchasing:manage sees costs).
    [seen] = staff.get(URL).get_json()["items"]
    assert seen["supplier"] == {**item["supplier"], "unit_cost": None}
    assert {k: v for k, v in seen.items() if k != "supplier"} == {
        k: v for k, v in item.items() if k != "supplier"}
    supplier_id = item["supplier"]["id"]
    assert client.get(URL, query_string={"supplier_id": supplier_id}).get_json()["total"] == 1
    assert client.get(URL, query_string={"no_supplier": "true"}).get_json()["total"] == 0
    # Filters naming what the user cannot read are not found; both supplier filters, 422.
    for query, field in (({"store_id": scene.b.store.id}, "store_id"),
                         ({"location_id": scene.b.location.id}, "location_id"),
                         ({"supplier_id": 999_999}, "supplier_id")):
        assert field in assert_error(client.get(URL, query_string=query), 404)["fields"]
    both = client.get(URL, query_string={"supplier_id": supplier_id, "no_supplier": "true"})
    assert "no_supplier" in assert_error(both, 422)["fields"]
    assert "cursor" in assert_error(client.get(URL, query_string={"cursor": "x"}),
                                    422)["fields"]


def test_chosen_lines_become_drafts_once_per_key(scene, api_as) -> None:
    client = api_as("owner", scene.a.store)
    sent = {"store_id": scene.a.store.id, "lines": [line(scene)]}
    first = client.post(DRAFTS, sent, key="drafts-1")
    assert first.status_code == 201, first.get_json()
    [order] = first.get_json()["purchase_orders"]
    assert order["number"].startswith("PO-")  # the store's next number (the scene has two)
    assert {k: order[k] for k in ("status", "supplier_name", "currency", "total")} == {
        "status": "draft", "supplier_name": "A Supply", "currency": "USD", "total": "20.0000"}
    assert [(x["sku"], x["location"], x["ordered_quantity"], x["unit_cost"])
            for x in order["lines"]] == [("A-REORDER", "A_MAIN", 10, "2.0000")]
    again = client.post(DRAFTS, sent, key="drafts-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert_error(client.post(DRAFTS, {**sent, "lines": [line(scene, 11)]}, key="drafts-1"),
                 422, "idempotency_key_reused")
    # The draft counts as coming: the line is no longer suggested, and a new request for it
    # is refused as stale.
    assert client.get(URL).get_json()["total"] == 0
    error = assert_error(client.post(DRAFTS, sent), 409, "stale_suggestion")
    assert error["fields"] == {"lines[0]": "A-REORDER at A_MAIN no longer needs reordering "
                                           "(10 available and coming, reorder point 5)"}
    assert len(drafts(scene.a.store.id)) == 1


def test_refusals_name_the_line_and_change_nothing(scene, api_as, db_state) -> None:
    owner = api_as("owner", scene.a.store)
    staff = api_as("staff", scene.a.store, grants=("inventory:adjust",))
    stranger = api_as("owner", scene.b.store)
    before = db_state()
    sent = {"store_id": scene.a.store.id, "lines": [line(scene, 12)]}
    error = assert_error(owner.post(DRAFTS, sent), 409, "stale_suggestion")
    assert error["fields"] == {"lines[0]": "A-REORDER at A_MAIN is now suggested at 10, not 12"}
    foreign = {"store_id": scene.a.store.id, "lines": [
        {"product_id": scene.b.product.id, "location_id": scene.b.location.id}]}
    assert "lines[0].product_id" in assert_error(owner.post(DRAFTS, foreign), 404)["fields"]
    assert assert_error(staff.post(DRAFTS, sent), 403, "forbidden")
    assert "store_id" in assert_error(stranger.post(DRAFTS, sent), 404)["fields"]
    assert "lines" in assert_error(owner.post(DRAFTS, {**sent, "lines": []}), 422)["fields"]
    assert db_state() == before
    assert drafts(scene.a.store.id) == []
