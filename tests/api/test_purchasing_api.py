"""Buying through the API: suppliers and what they supply, purchase orders from draft to
received, receipts (idempotent, over-receipts only when confirmed) and the stock's value.
Every refusal names its field and changes nothing; costs are shown only to those who may
buy. The permission and cross-store matrices, idempotency of every change and the fuzz
cover these endpoints too (calls.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, PurchaseOrder, Supplier, SupplierItem
from app.permissions import GRANTABLE_TO_STAFF, PURCHASING, RECEIVE, system_actor
from app.services import purchasing

from .helpers import assert_error

STORE = "/api/v1/store"
SUPPLIERS = f"{STORE}/suppliers"
POS = f"{STORE}/purchase-orders"


def count(model: Any) -> int:
    value = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return int(value or 0)


def purchasing_rows() -> tuple[int, ...]:
    return tuple(count(m) for m in (Supplier, SupplierItem, PurchaseOrder, AuditEvent))


@pytest.fixture
def shop(world, api_as) -> SimpleNamespace:
    """Store A's mug (10 on hand at A_MAIN), sold by Acme at 2.00; an owner, a receiver
    (staff granted inventory:receive only), staff granted everything else, B's owner."""
    setup = system_actor("tests")
    acme = purchasing.create_supplier(actor=setup, store_id=world.a.store.id, name="Acme")
    purchasing.set_supplier_item(actor=setup, supplier_id=acme.id,
                                 product_id=world.a.product.id, unit_cost="2.00")
    return SimpleNamespace(
        a=world.a, b=world.b, acme=acme,
        owner=api_as("owner", world.a.store),
        receiver=api_as("staff", world.a.store, grants=(RECEIVE,)),
        others=api_as("staff", world.a.store,
                      grants=tuple(GRANTABLE_TO_STAFF - {RECEIVE})),
        stranger=api_as("owner", world.b.store),
    )


def placed(shop: SimpleNamespace, quantity: int = 5, cost: str = "2.00") -> Any:
    """An order of `quantity` mugs to A_MAIN, placed."""
    setup = system_actor("tests")
    draft = purchasing.create_purchase_order(actor=setup, supplier_id=shop.acme.id, lines=[
        {"product_id": shop.a.product.id, "location_id": shop.a.location.id,
         "quantity": quantity, "unit_cost": cost}])
    return purchasing.order_purchase_order(actor=setup, order_id=draft.id)


# --------------------------------------------------------------------------- suppliers


def test_a_supplier_is_created_read_listed_changed_and_archived(shop):
    made = shop.owner.post(SUPPLIERS, {
        "store_id": shop.a.store.id, "name": " Bolt & Nut ", "email": "orders@bolt.example",
        "currency": "eur", "lead_time_days": 12, "notes": "Net 30\nShips Mondays"})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert {k: body[k] for k in ("name", "currency", "lead_time_days", "notes", "archived",
                                 "contact_name")} == {
        "name": "Bolt & Nut", "currency": "EUR", "lead_time_days": 12,
        "notes": "Net 30\nShips Mondays", "archived": False, "contact_name": None}
    url = f"{SUPPLIERS}/{body['id']}"
    assert shop.owner.get(url).get_json() == body
    names = [s["name"] for s in shop.owner.get(
        f"{SUPPLIERS}?store_id={shop.a.store.id}").get_json()["items"]]
    assert names == ["Acme", "Bolt & Nut"]

    changed = shop.owner.put(url, {"name": "Bolt and Nut", "lead_time_days": 3})
    assert changed.status_code == 200
    assert (changed.get_json()["name"], changed.get_json()["email"],
            changed.get_json()["currency"]) == ("Bolt and Nut", None, "EUR")
    assert shop.owner.post(f"{url}/archive").get_json()["archived"] is True
    listed = shop.owner.get(f"{SUPPLIERS}?store_id={shop.a.store.id}").get_json()["items"]
    assert [s["name"] for s in listed] == ["Acme"]
    everyone = shop.owner.get(f"{SUPPLIERS}?store_id={shop.a.store.id}&include_archived=true")
    assert len(everyone.get_json()["items"]) == 2
    assert shop.owner.post(f"{url}/unarchive").get_json()["archived"] is False


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"name": ""}, "name", None),
    ({}, "name", None),
    ({"name": "X", "email": "not an email"}, "email",
     "Enter an email address, like orders@example.com."),
    ({"name": "X", "lead_time_days": 400}, "lead_time_days", "Must be at most 365."),
    ({"name": "X", "lead_time_days": "3"}, "lead_time_days", None),
    ({"name": "X", "currency": "EURO"}, "currency", None),
    ({"name": "X", "currency": "E1R"}, "currency",
     "Enter a three-letter currency code, like EUR."),
    ({"name": "X", "notes": "a\x00b"}, "notes", None),
    ({"name": "X", "colour": "red"}, "colour", None),
    ({"name": "Acme"}, "name", "Another supplier has this name."),
])
def test_bad_supplier_fields_are_refused_naming_them(shop, body, field, message):
    before = purchasing_rows()
    response = shop.owner.post(SUPPLIERS, {"store_id": shop.a.store.id, **body})
    error = assert_error(response, 409 if message and "Another" in message else 422)
    assert field in error["fields"], error
    if message:
        assert error["fields"][field] == message
    assert purchasing_rows() == before


def test_supplier_items_are_set_listed_and_removed(shop):
    url = f"{SUPPLIERS}/{shop.acme.id}/items/{shop.a.product.id}"
    item = shop.owner.put(url, {"unit_cost": "2.5", "supplier_sku": "AC-1", "pack_size": 6,
                                "preferred": True})
    assert item.status_code == 200, item.get_json()
    assert {k: item.get_json()[k] for k in ("unit_cost", "currency", "pack_size", "preferred",
                                            "sku")} == {
        "unit_cost": "2.5000", "currency": "USD", "pack_size": 6, "preferred": True,
        "sku": "A-MUG"}
    listed = shop.owner.get(f"{SUPPLIERS}/{shop.acme.id}/items").get_json()["items"]
    assert [(i["sku"], i["unit_cost"]) for i in listed] == [("A-MUG", "2.5000")]

    before = purchasing_rows()
    for bad, message in (("1.23456", "Use at most 4 decimals."), (2.5, None),
                         ("2,50", None), ("-1", None), ("1000000001", None)):
        error = assert_error(shop.owner.put(url, {"unit_cost": bad}), 422)
        assert "unit_cost" in error["fields"], (bad, error)
        if message:
            assert error["fields"]["unit_cost"] == message
    digital = f"{SUPPLIERS}/{shop.acme.id}/items/{shop.a.digital.id}"
    assert_error(shop.owner.put(digital, {"unit_cost": "1"}), 409)
    foreign = f"{SUPPLIERS}/{shop.acme.id}/items/{shop.b.product.id}"
    assert "product_id" in assert_error(shop.owner.put(foreign, {"unit_cost": "1"}),
                                        404)["fields"]
    assert purchasing_rows() == before

    assert shop.owner.delete(url).get_json() == {"items": []}
    error = assert_error(shop.owner.delete(url), 404)
    assert error["fields"] == {"product_id": "Not sold by this supplier."}


# --------------------------------------------------------------------------- orders


def test_an_order_goes_from_draft_to_received(shop, read_entry):
    made = shop.owner.post(POS, {
        "supplier_id": shop.acme.id, "expected_on": "2031-05-01",
        "deliver_to_id": shop.a.location.id, "lines": [
            {"product_id": shop.a.product.id, "location_id": shop.a.location.id,
             "quantity": 4}]})
    assert made.status_code == 201, made.get_json()
    order = made.get_json()
    assert (order["number"], order["status"], order["currency"], order["total"],
            order["expected_on"]) == ("PO-0001", "draft", "USD", "8.0000", "2031-05-01")
    assert (order["deliver_to_id"], order["deliver_to_code"]) == (
        shop.a.location.id, shop.a.location.code)
    (line,) = order["lines"]
    assert (line["unit_cost"], line["ordered_qty"], line["location"]) == ("2.0000", 4, "A_MAIN")
    url = f"{POS}/{order['id']}"

    added = shop.owner.post(f"{url}/lines", {"lines": [
        {"product_id": shop.a.product.id, "location_id": shop.a.spare.id, "quantity": 2,
         "unit_cost": "3.10"}]})
    assert added.status_code == 201 and len(added.get_json()["lines"]) == 2
    spare_line = next(x for x in added.get_json()["lines"] if x["location"] == "A_SPARE")
    line_url = f"{url}/lines/{spare_line['id']}"
    updated = shop.owner.patch(line_url, {"quantity": 3, "unit_cost": "3.00"})
    assert updated.get_json()["total"] == "17.0000"
    assert len(shop.owner.delete(line_url).get_json()["lines"]) == 1
    assert "line_id" in assert_error(shop.owner.delete(line_url), 404)["fields"]
    noted = shop.owner.put(url, {"notes": "Dock 2", "expected_on": "2031-06-01"})
    assert (noted.get_json()["notes"], noted.get_json()["version"]) == ("Dock 2", 5)
    assert assert_error(shop.owner.put(url, {"notes": "x", "expected_version": 1}), 409,
                        "stale")

    ordered = shop.owner.post(f"{url}/order", {"expected_version": 5})
    assert ordered.status_code == 200 and ordered.get_json()["status"] == "ordered"
    assert read_entry(shop.a.entry.id).incoming_quantity == 4
    assert_error(shop.owner.post(f"{url}/order", {}), 409)

    first = shop.owner.post(f"{url}/receipts", {"lines": [{"line_id": line["id"],
                                                           "quantity": 1}]})
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["details"]["status"] == "partially_received"
    rest = shop.owner.post(f"{url}/receipts", {"lines": [
        {"product_id": shop.a.product.id, "location_id": shop.a.location.id, "quantity": 3}]})
    assert rest.get_json()["operation"] == "receive"
    entry = read_entry(shop.a.entry.id)
    assert (entry.quantity, entry.incoming_quantity) == (14, 0)
    assert shop.owner.get(url).get_json()["status"] == "received"
    assert_error(shop.owner.post(f"{url}/cancel", {"reason": "Late"}), 409)


def test_orders_are_listed_newest_first_by_page_status_and_supplier(shop):
    setup = system_actor("tests")
    drafts = [purchasing.create_purchase_order(actor=setup, supplier_id=shop.acme.id).id
              for _ in range(3)]
    ordered = placed(shop).id
    other = purchasing.create_supplier(actor=setup, store_id=shop.a.store.id, name="Other")
    theirs = purchasing.create_purchase_order(actor=setup, supplier_id=other.id).id
    base = f"{POS}?store_id={shop.a.store.id}"

    first = shop.owner.get(f"{base}&limit=2").get_json()
    assert [o["id"] for o in first["items"]] == [theirs, ordered]
    second = shop.owner.get(f"{base}&limit=2&cursor={first['next_cursor']}").get_json()
    assert [o["id"] for o in second["items"]] == drafts[:0:-1]
    third = shop.owner.get(f"{base}&limit=2&cursor={second['next_cursor']}").get_json()
    assert [o["id"] for o in third["items"]] == drafts[:1] and third["next_cursor"] is None
    opened = shop.owner.get(f"{base}&status=open").get_json()["items"]
    assert [(o["id"], o["total"], o["line_count"]) for o in opened] == [(ordered, "10.0000", 1)]
    by_other = shop.owner.get(f"{base}&supplier_id={other.id}").get_json()["items"]
    assert [o["id"] for o in by_other] == [theirs]
    assert "status" in assert_error(shop.owner.get(f"{base}&status=lost"), 422)["fields"]
    assert "cursor" in assert_error(shop.owner.get(f"{base}&cursor=abc"), 422)["fields"]
    assert "store_id" in assert_error(
        shop.owner.get(f"{POS}?store_id={shop.b.store.id}"), 404)["fields"]


@pytest.mark.parametrize(("line", "field"), [
    ({"quantity": 0}, "lines[0].quantity"),
    ({"quantity": "2"}, "lines[0].quantity"),
    ({"unit_cost": 2}, "lines[0].unit_cost"),
    ({"unit_cost": "0.00001"}, "lines[0].unit_cost"),
    ({"location_id": None}, "lines[0].location_id"),
    ({"product_id": 999_999}, "lines[0].product_id"),
])
def test_bad_order_lines_are_refused_naming_the_field(shop, line, field):
    before = purchasing_rows()
    body = {"supplier_id": shop.acme.id, "lines": [
        {"product_id": shop.a.product.id, "location_id": shop.a.location.id, "quantity": 1,
         **line}]}
    error = assert_error(shop.owner.post(POS, body), 404 if "999" in str(line) else 422)
    assert field in error["fields"], error
    assert purchasing_rows() == before


def test_an_order_in_another_currency_needs_its_rate_and_receives_at_it(shop):
    setup = system_actor("tests")
    paris = purchasing.create_supplier(actor=setup, store_id=shop.a.store.id, name="Paris",
                                       currency="EUR")
    made = shop.owner.post(POS, {"supplier_id": paris.id, "lines": [
        {"product_id": shop.a.product.id, "location_id": shop.a.spare.id, "quantity": 4,
         "unit_cost": "10.00"}]}).get_json()
    url = f"{POS}/{made['id']}"
    refused = assert_error(shop.owner.post(f"{url}/order", {}), 409)
    assert refused["fields"] == {"exchange_rate": "Needed before ordering."}
    assert "exchange_rate" in assert_error(
        shop.owner.put(url, {"exchange_rate": "1.0000000001"}), 422)["fields"]
    assert shop.owner.put(url, {"exchange_rate": "1.1"}).get_json()["exchange_rate"] == (
        "1.100000000")
    assert shop.owner.post(f"{url}/order", {}).status_code == 200
    shop.owner.post(f"{url}/receipts", {"lines": [{"line_id": made["lines"][0]["id"],
                                                   "quantity": 4}]})
    # 4 at 10.00 EUR × 1.1 = 4 at 11.00 USD.
    value = shop.owner.get(f"{STORE}/valuation?location_id={shop.a.spare.id}").get_json()
    assert value["totals"] == [{"currency": "USD", "value": "44.0000", "stores": 1,
                                "uncosted_entries": 0}]


# --------------------------------------------------------------------------- receipts


def test_a_receipt_repeated_with_its_key_replays_and_changes_nothing(shop, db_state):
    order = placed(shop)
    url = f"{POS}/{order.id}/receipts"
    body = {"lines": [{"line_id": order.lines[0].id, "quantity": 2}], "reason": "Van 1"}
    first = shop.receiver.post(url, body, key="delivery-1")
    assert first.status_code == 201, first.get_json()
    assert "Idempotent-Replayed" not in first.headers
    before = db_state()
    again = shop.receiver.post(url, body, key="delivery-1")
    assert (again.status_code, again.get_data()) == (201, first.get_data())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert db_state() == before
    other = shop.receiver.post(url, {**body, "lines": [{"line_id": order.lines[0].id,
                                                         "quantity": 3}]}, key="delivery-1")
    assert assert_error(other, 422, "idempotency_key_reused")["fields"] == {
        "Idempotency-Key": "already used for a different request"}
    assert db_state() == before


def test_an_over_receipt_is_refused_until_confirmed(shop, db_state, read_entry):
    order = placed(shop, quantity=5)
    url = f"{POS}/{order.id}/receipts"
    body = {"lines": [{"line_id": order.lines[0].id, "quantity": 7}]}
    before = db_state()
    error = assert_error(shop.receiver.post(url, body), 409, "over_receipt")
    assert error["message"] == (
        "More than PO-0001 ordered: A-MUG at A_MAIN: receiving 7 would make 7 of 5 ordered "
        "(2 over). Confirm the over-receipt to take the extra units.")
    assert error["fields"] == {
        "lines[0].quantity": "2 more than this line awaits; confirm to take them."}
    assert db_state() == before
    taken = shop.receiver.post(url, {**body, "confirm_over_receipt": True})
    assert taken.status_code == 201, taken.get_json()
    assert taken.get_json()["details"]["lines"][0]["over"] == 2
    assert read_entry(shop.a.entry.id).quantity == 17


@pytest.mark.parametrize(("make", "status", "field"), [
    (lambda line: {"lines": [{"line_id": str(line), "quantity": 1}]}, 422, "lines[0].line_id"),
    (lambda line: {"lines": [{"quantity": 1}]}, 422, "lines[0].product_id"),
    (lambda line: {"lines": [{"line_id": line, "quantity": 0}]}, 422, "lines[0].quantity"),
    (lambda line: {"lines": [{"line_id": line, "product_id": 1, "location_id": 1,
                              "quantity": 1}]}, 422, "lines[0].line_id"),
    (lambda line: {"lines": []}, 422, "lines"),
    (lambda line: {}, 422, "lines"),
    (lambda line: {"lines": [{"line_id": line, "quantity": 1}],
                   "confirm_over_receipt": "yes"}, 422, "confirm_over_receipt"),
    (lambda line: {"lines": [{"line_id": line, "quantity": 1}], "reason": "x" * 201}, 422,
     "reason"),
    (lambda line: {"lines": [{"line_id": line, "quantity": 1},
                             {"line_id": line, "quantity": 2}]}, 422, "lines[1].quantity"),
    (lambda line: {"lines": [{"line_id": 2_000_000_000, "quantity": 1}]}, 404,
     "lines[0].line_id"),
])
def test_bad_receipts_are_refused_naming_the_field(shop, db_state, make, status, field):
    order = placed(shop)
    before = db_state()
    response = shop.receiver.post(f"{POS}/{order.id}/receipts", make(order.lines[0].id))
    error = assert_error(response, status)
    assert field in error["fields"], error
    assert db_state() == before


def test_a_receiver_reads_orders_without_their_costs_and_may_not_buy(shop):
    order = placed(shop)
    seen = shop.receiver.get(f"{POS}/{order.id}").get_json()
    assert (seen["total"], seen["exchange_rate"], seen["lines"][0]["unit_cost"],
            seen["lines"][0]["outstanding_qty"]) == (None, None, None, 5)
    listed = shop.receiver.get(f"{POS}?store_id={shop.a.store.id}").get_json()["items"]
    assert [o["total"] for o in listed] == [None]
    assert shop.owner.get(f"{POS}/{order.id}").get_json()["total"] == "10.0000"
    before = purchasing_rows()
    for response in (
        shop.receiver.post(POS, {"supplier_id": shop.acme.id}),
        shop.receiver.post(f"{POS}/{order.id}/cancel", {}),
        shop.receiver.get(f"{SUPPLIERS}?store_id={shop.a.store.id}"),
        shop.receiver.get(f"{STORE}/valuation"),
        shop.others.post(f"{POS}/{order.id}/receipts",
                         {"lines": [{"line_id": order.lines[0].id, "quantity": 1}]}),
    ):
        error = assert_error(response, 403, "forbidden")
        assert PURCHASING in error["message"] or RECEIVE in error["message"]
    assert RECEIVE in assert_error(shop.others.get(f"{POS}/{order.id}"), 403)["message"]
    assert purchasing_rows() == before


# --------------------------------------------------------------------------- value


def test_the_stock_value_per_store_and_location(shop, make_store, api_as):
    placed_order = placed(shop, quantity=4, cost="2.5")
    purchasing.receive_purchase_order(actor=system_actor("tests"), order_id=placed_order.id,
                                      lines=[{"line_id": placed_order.lines[0].id,
                                              "quantity": 4}])
    # 10 on hand had no cost; 4 at 2.50 set it: 14 × 2.50 = 35.00.
    response = shop.owner.get(f"{STORE}/valuation")
    assert response.status_code == 200
    body = response.get_json()
    (store,) = body["stores"]
    assert {k: store[k] for k in ("store_name", "currency", "entries", "quantity", "value",
                                  "uncosted_entries")} == {
        "store_name": "Alpha", "currency": "USD", "entries": 1, "quantity": 14,
        "value": "35.0000", "uncosted_entries": 0}
    assert [(p["location"], p["value"]) for p in store["locations"]] == [("A_MAIN", "35.0000")]
    assert body["totals"] == [{"currency": "USD", "value": "35.0000", "stores": 1,
                               "uncosted_entries": 0}]
    error = assert_error(shop.owner.get(f"{STORE}/valuation?store_id={shop.b.store.id}"), 404)
    assert "store_id" in error["fields"]
    error = assert_error(shop.owner.get(
        f"{STORE}/valuation?location_id={shop.b.location.id}"), 404)
    assert "location_id" in error["fields"]
    admin = api_as("platform_admin").get(f"{STORE}/valuation").get_json()
    assert [s["store_name"] for s in admin["stores"]] == ["Alpha", "Beta"]
    beta = admin["stores"][1]
    assert (beta["value"], beta["uncosted_entries"], beta["uncosted_quantity"]) == (
        "0.0000", 1, 10)
