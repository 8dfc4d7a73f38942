"""The order flow end to end: availability, reserve all or nothing, release on payment
failure, reserve again, fulfill on shipment, return; every step repeated changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from oracle import assert_invariants
from sqlalchemy import select

from app.clock import utcnow
from app.extensions import db
from app.models import Reservation, StockMovement
from app.services import stock

from .helpers import assert_error

ORDERS = "/api/v1/orders"


@pytest.fixture
def shop(world, make_location, make_product, make_entry, api_as):
    """Store A with a second stocked product at another location, and its checkout token."""
    a = world.a
    shelf = make_location(a.store, "A_SHELF")
    plate = make_product(a.store, "A-PLATE", title="Plate")
    plate_entry = make_entry(store=a.store, location=shelf, product=plate, quantity=5)
    client = api_as("staff", a.store, grants=("inventory:reserve", "inventory:adjust"))
    return a, plate, plate_entry, client


def lines(a, plate, mugs=3, plates=2):
    return [
        {"line_ref": "L1", "product_id": a.product.id, "location": "a_main", "quantity": mugs},
        {"line_ref": "L2", "product_id": plate.id, "location": "A_SHELF", "quantity": plates},
        {"line_ref": "L3", "product_id": a.digital.id, "quantity": 100},
    ]


def entry_numbers(entry_id):
    db.session.rollback()
    row = db.session.execute(select(stock.engine.entries.c.quantity,
                                    stock.engine.entries.c.reserved_quantity)
                             .where(stock.engine.entries.c.id == entry_id)).one()
    return tuple(row)


def ledger_size():
    db.session.rollback()
    return len(db.session.scalars(select(StockMovement.id)).all())


def test_availability_answers_per_line(shop):
    a, plate, _, client = shop
    body = client.post(f"{ORDERS}/availability", {"lines": lines(a, plate, mugs=9)}).get_json()
    assert body["store_id"] == a.store.id and body["all_sufficient"] is False
    mug, dish, ebook = body["lines"]
    assert (mug["available"], mug["requested"], mug["sufficient"]) == (8, 9, False)
    assert (dish["available"], dish["sufficient"], dish["status"]) == (5, True, "in_stock")
    assert ebook["unlimited"] is True and "available" not in ebook and ebook["sufficient"]
    anywhere = client.post(f"{ORDERS}/availability", {"lines": [
        {"product_id": a.product.id, "quantity": 1}]}).get_json()["lines"][0]
    assert anywhere["location_id"] is None and anywhere["available"] == 8


def test_availability_refusals(shop, world):
    a, plate, _, client = shop
    assert_error(client.post(f"{ORDERS}/availability", {"lines": [
        {"product_id": world.b.product.id, "quantity": 1}]}), 404)
    assert_error(client.post(f"{ORDERS}/availability", {"lines": [
        {"product_id": a.product.id, "location": "B_MAIN", "quantity": 1}]}), 404)
    assert "lines" in assert_error(client.post(f"{ORDERS}/availability", {"lines": []}),
                                   422)["fields"]
    assert "lines[0].quantity" in assert_error(client.post(f"{ORDERS}/availability", {
        "lines": [{"product_id": a.product.id, "quantity": 0}]}), 422)["fields"]


def test_the_whole_flow_and_every_repeat_changes_nothing(shop, db_state):
    a, plate, plate_entry, client = shop
    order = f"{ORDERS}/ORD-100"

    first = client.post(f"{order}/reserve", {"lines": lines(a, plate),
                                             "expires_in_seconds": 900})
    assert first.status_code == 200, first.get_json()
    statuses = [line["status"] for line in first.get_json()["details"]["lines"]]
    assert statuses == ["reserved", "reserved", "unlimited"]
    assert entry_numbers(a.entry.id) == (10, 5) and entry_numbers(plate_entry.id) == (5, 2)
    before = db_state()
    again = client.post(f"{order}/reserve", {"lines": lines(a, plate), "expires_in_seconds": 900})
    assert [x["status"] for x in again.get_json()["details"]["lines"]] == [
        "already_reserved", "already_reserved", "unlimited"]
    assert db_state() == before

    # Payment failed: the holds go back, and a repeat finds nothing left to release.
    released = client.post(f"{order}/release", {"reason": "Card declined"}).get_json()
    assert sorted(x["line_ref"] for x in released["details"]["lines"]) == ["L1", "L2"]
    assert entry_numbers(a.entry.id) == (10, 2) and entry_numbers(plate_entry.id) == (5, 0)
    before = db_state()
    assert client.post(f"{order}/release", {}).get_json()["details"]["lines"] == []
    assert db_state() == before

    # The customer pays on a second try: the same lines are reserved afresh.
    retry = client.post(f"{order}/reserve", {"lines": lines(a, plate)}).get_json()
    assert [x["status"] for x in retry["details"]["lines"]][:2] == ["reserved", "reserved"]

    shipped = client.post(f"{order}/fulfill", {}).get_json()
    assert len(shipped["movement_ids"]) == 2
    assert entry_numbers(a.entry.id) == (7, 2) and entry_numbers(plate_entry.id) == (3, 0)
    before = db_state()
    assert client.post(f"{order}/fulfill", {}).get_json()["movement_ids"] == []
    # A shipped line still counts as reserved: reserving it again changes nothing.
    client.post(f"{order}/reserve", {"lines": lines(a, plate)})
    assert db_state() == before

    returned = client.post(f"{order}/return", {"lines": [{"line_ref": "L1", "quantity": 2}],
                                               "reason": "Damaged box"})
    assert returned.status_code == 200, returned.get_json()
    assert entry_numbers(a.entry.id) == (9, 2)
    before = db_state()
    repeat = client.post(f"{order}/return", {"lines": [{"line_ref": "L1", "quantity": 2}],
                                             "reason": "Damaged box"})
    assert repeat.get_json() == returned.get_json()
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert db_state() == before
    # A second, different return of the same line is counted, up to what shipped.
    client.post(f"{order}/return", {"lines": [{"line_ref": "L1", "quantity": 1}],
                                    "reason": "Second parcel"})
    assert entry_numbers(a.entry.id) == (10, 2)
    error = assert_error(client.post(f"{order}/return", {
        "lines": [{"line_ref": "L1", "quantity": 1}], "reason": "Third"}), 409,
        "exceeds_fulfilled")
    assert error["message"] == "Cannot return 1 of line L1: only 0 shipped and not yet returned"

    holds = client.get(f"{order}").get_json()["reservations"]
    assert [(h["line_ref"], h["status"]) for h in holds] == [
        ("L1", "released"), ("L2", "released"), ("L1", "fulfilled"), ("L2", "fulfilled")]
    assert_invariants()


def test_reserve_is_all_or_nothing_and_names_every_short_line(shop, db_state):
    a, plate, _, client = shop
    before = db_state()
    error = assert_error(client.post(f"{ORDERS}/ORD-9/reserve",
                                     {"lines": lines(a, plate, mugs=9, plates=6)}), 409,
                         "insufficient_stock")
    assert error["message"] == ("Insufficient stock for 2 lines: L1: A-MUG (available 8, "
                                "requested 9); L2: A-PLATE (available 5, requested 6)")
    assert error["fields"] == {"lines[0]": "available 8, requested 9",
                               "lines[1]": "available 5, requested 6"}
    assert db_state() == before


def test_reserve_refusals(shop, world):
    a, plate, _, client = shop
    url = f"{ORDERS}/ORD-2/reserve"
    client.post(url, {"lines": lines(a, plate)})
    assert_error(client.post(url, {"lines": lines(a, plate, mugs=4)}), 409, "conflict")
    assert "lines[0].location_id" in assert_error(client.post(url, {"lines": [
        {"line_ref": "X", "product_id": a.product.id, "quantity": 1}]}), 422)["fields"]
    assert "lines[1].line_ref" in assert_error(client.post(url, {"lines": [
        {"line_ref": "X", "product_id": a.digital.id, "quantity": 1},
        {"line_ref": "X", "product_id": a.digital.id, "quantity": 1}]}), 422)["fields"]
    assert "expires_in_seconds" in assert_error(client.post(url, {
        "lines": lines(a, plate), "expires_in_seconds": 0}), 422)["fields"]
    assert_error(client.post(url, {"lines": [
        {"line_ref": "X", "product_id": world.b.product.id, "location": "B_MAIN",
         "quantity": 1}]}), 404)
    assert_error(client.post(url, {"store_id": world.b.store.id, "lines": lines(a, plate)}),
                 404)


def test_closing_an_unknown_order_is_404(shop):
    _, _, _, client = shop
    for verb in ("release", "fulfill"):
        assert_error(client.post(f"{ORDERS}/NOPE/{verb}", {}), 404)
    assert_error(client.post(f"{ORDERS}/NOPE/return", {
        "lines": [{"line_ref": "L1", "quantity": 1}], "reason": "x"}), 404)
    assert_error(client.get(f"{ORDERS}/NOPE"), 404)


def test_release_and_fulfill_some_lines_only(shop):
    a, plate, plate_entry, client = shop
    order = f"{ORDERS}/ORD-3"
    client.post(f"{order}/reserve", {"lines": lines(a, plate)})
    client.post(f"{order}/fulfill", {"line_refs": ["L2"]})
    assert entry_numbers(plate_entry.id) == (3, 0)
    assert entry_numbers(a.entry.id) == (10, 5)
    client.post(f"{order}/release", {"line_refs": ["L1"]})
    assert entry_numbers(a.entry.id) == (10, 2)
    assert_error(client.post(f"{order}/release", {"line_refs": ["L9"]}), 404)


def test_expired_holds_lapse_and_free_their_units(shop, monkeypatch):
    a, plate, _, client = shop
    client.post(f"{ORDERS}/ORD-4/reserve", {"lines": lines(a, plate, mugs=8),
                                            "expires_in_seconds": 60})
    assert entry_numbers(a.entry.id) == (10, 10)
    stock.expire_reservations(now=utcnow() + timedelta(minutes=5))
    assert entry_numbers(a.entry.id) == (10, 2)
    db.session.rollback()
    statuses = db.session.scalars(select(Reservation.status).where(
        Reservation.order_ref == "ORD-4")).all()
    assert statuses == ["expired", "expired"]
    assert_invariants()


def test_an_explicit_idempotency_key_replays_the_first_response(shop, db_state):
    a, plate, _, client = shop
    body = {"lines": lines(a, plate), "expires_in_seconds": 600}
    first = client.post(f"{ORDERS}/ORD-5/reserve", body, key="checkout-5")
    before = db_state()
    second = client.post(f"{ORDERS}/ORD-5/reserve", body, key="checkout-5")
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert db_state() == before
    other = client.post(f"{ORDERS}/ORD-5/reserve", {**body, "expires_in_seconds": 60},
                        key="checkout-5")
    assert assert_error(other, 422, "idempotency_key_reused")["fields"] == {
        "Idempotency-Key": "already used for a different request"}
