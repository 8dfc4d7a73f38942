from datetime import datetime, timedelta

import pytest

from app.clock import frozen_at
from app.services import stock
from app.services.errors import NotFound, OrderShort, ValidationError

T0 = datetime(2030, 9, 1, 10, 0)


@pytest.fixture
def shelf(store, location, make_product, make_entry):
    """Three physical products with stock 10, 5 and 2 at one location."""

    def entry(sku, quantity):
        return make_entry(quantity=quantity, location=location,
                          product=make_product(store, sku=sku))

    return {"A": entry("SKU-A", 10), "B": entry("SKU-B", 5), "C": entry("SKU-C", 2)}


def _line(entry, quantity, line_ref=None):
    line = {"product_id": entry.product_id, "location_id": entry.location_id,
            "quantity": quantity}
    if line_ref is not None:
        line["line_ref"] = line_ref
    return line


def test_an_order_that_fits_reserves_every_line(store, owner, shelf, holds, ledger, trail):
    expiry = T0 + timedelta(hours=2)

    with frozen_at(T0):
        change = stock.reserve_order(
            actor=owner, store_id=store.id, order_ref="ORD-9", expires_at=expiry,
            lines=[_line(shelf["B"], 5, "l1"), _line(shelf["A"], 3, "l2")],
        )

    assert change.operation == "order_reserve"
    assert {e.id: e.reserved_quantity for e in change.entries} == {
        shelf["A"].id: 3, shelf["B"].id: 5,
    }
    assert change.details["unlimited_lines"] == []
    assert [line["status"] for line in change.details["lines"]] == ["reserved", "reserved"]
    for key, quantity, line_ref in (("A", 3, "l2"), ("B", 5, "l1")):
        entry = shelf[key]
        [hold] = holds(entry.id)
        assert hold["id"] in change.reservation_ids
        assert (hold["order_ref"], hold["line_ref"], hold["quantity"], hold["status"],
                hold["expires_at"], hold["created_by_id"]) == (
            "ORD-9", line_ref, quantity, "active", expiry, owner.user_id
        )
        assert trail(entry.id)[-1] == ("reserved", 0, quantity, entry.quantity, quantity)
        row = ledger(entry.id)[-1]
        assert (row["reference"], row["reservation_id"], row["actor_id"], row["store_id"]) == (
            "ORD-9", hold["id"], owner.user_id, store.id
        )
        assert row["id"] in change.movement_ids
    assert len(change.movement_ids) == len(change.reservation_ids) == 2


def test_an_order_with_one_short_line_reserves_nothing(store, admin_actor, shelf, refused):
    with refused(
        OrderShort, "Insufficient stock for 1 line: l2: SKU-B (available 5, requested 6)"
    ) as info:
        stock.reserve_order(
            actor=admin_actor, store_id=store.id, order_ref="ORD",
            lines=[_line(shelf["A"], 1, "l1"), _line(shelf["B"], 6, "l2"),
                   _line(shelf["C"], 2, "l3")],
        )

    assert info.value.short_lines == [
        {"line": 1, "label": "l2: SKU-B", "available": 5, "requested": 6},
    ]


def test_order_short_names_every_short_line_in_line_order(
    store, location, make_product, admin_actor, shelf, refused
):
    no_entry = make_product(store, sku="SKU-N")
    stock.reserve_stock(actor=admin_actor, entry_id=shelf["A"].id, quantity=7,
                            order_ref="EARLIER")

    with refused(
        OrderShort,
        "Insufficient stock for 3 lines: line 1: SKU-C (available 2, requested 3); "
        "line 2: SKU-N (available 0, requested 1); x: SKU-A (available 3, requested 4)",
    ):
        stock.reserve_order(
            actor=admin_actor, store_id=store.id, order_ref="ORD",
            lines=[
                _line(shelf["C"], 3),
                {"product_id": no_entry.id, "location_id": location.id, "quantity": 1},
                _line(shelf["A"], 4, "x"),
                _line(shelf["B"], 5),
            ],
        )


def test_lines_for_unlimited_products_are_granted_without_entries(
    store, make_product, admin_actor, shelf, holds, stored
):
    ebook = make_product(store, sku="EBOOK", type="digital")
    support = make_product(store, sku="CARE", type="service")

    change = stock.reserve_order(
        actor=admin_actor, store_id=store.id, order_ref="ORD",
        lines=[
            {"product_id": ebook.id, "quantity": 1_000_000},
            _line(shelf["C"], 2),
            {"product_id": support.id, "quantity": 3, "line_ref": "care"},
        ],
    )

    assert change.details["unlimited_lines"] == [0, 2]
    assert [e.id for e in change.entries] == [shelf["C"].id]
    assert len(change.reservation_ids) == 1
    assert holds(product_id=ebook.id) == holds(product_id=support.id) == []
    assert stored(shelf["C"].id)["reserved_quantity"] == 2


def test_an_order_of_only_unlimited_lines_touches_no_stock(
    store, make_product, admin_actor, snapshot
):
    ebook = make_product(store, type="subscription")
    before = snapshot()

    change = stock.reserve_order(
        actor=admin_actor, store_id=store.id, order_ref="ORD",
        lines=[{"product_id": ebook.id, "quantity": 5}],
    )

    assert (change.entries, change.movement_ids, change.reservation_ids) == ((), (), ())
    assert change.details["unlimited_lines"] == [0]
    assert snapshot() == before


def test_physical_lines_without_a_location_are_refused_by_field(
    store, make_product, admin_actor, shelf, refused
):
    ebook = make_product(store, type="digital")
    message = ("Choose a location for this physical product, or reserve the order on a "
               "sales channel.")

    with refused(ValidationError, fields={"lines[1].location_id": message,
                                          "lines[2].location_id": message}):
        stock.reserve_order(
            actor=admin_actor, store_id=store.id, order_ref="ORD",
            lines=[
                {"product_id": ebook.id, "quantity": 1},
                {"product_id": shelf["A"].product_id, "quantity": 1},
                {"product_id": shelf["B"].product_id, "quantity": 1, "location_id": None},
            ],
        )


def test_two_lines_on_one_entry_are_both_held(store, admin_actor, shelf, holds, trail):
    entry = shelf["A"]

    stock.reserve_order(
        actor=admin_actor, store_id=store.id, order_ref="ORD",
        lines=[_line(entry, 4, "a"), _line(entry, 6, "b")],
    )

    assert [(h["line_ref"], h["open_quantity"]) for h in holds(entry.id)] == [("a", 4), ("b", 6)]
    assert trail(entry.id)[-2:] == [("reserved", 0, 4, 10, 4), ("reserved", 0, 6, 10, 10)]


def test_two_lines_on_one_entry_are_short_together(store, admin_actor, shelf, refused):
    entry = shelf["B"]

    with refused(
        OrderShort, "Insufficient stock for 1 line: b: SKU-B (available 2, requested 3)"
    ):
        stock.reserve_order(
            actor=admin_actor, store_id=store.id, order_ref="ORD",
            lines=[_line(entry, 3, "a"), _line(entry, 3, "b")],
        )


def test_an_order_with_an_unknown_product_is_not_found(
    store, make_product, admin_actor, shelf, refused
):
    with refused(NotFound, f"Product {shelf['A'].product_id + 100} not found."):
        stock.reserve_order(
            actor=admin_actor, store_id=store.id, order_ref="ORD",
            lines=[_line(shelf["B"], 1),
                   {"product_id": shelf["A"].product_id + 100, "quantity": 1}],
        )


def test_an_order_with_an_unknown_location_is_not_found(store, admin_actor, shelf, refused):
    line = _line(shelf["A"], 1)
    line["location_id"] += 100

    with refused(NotFound, f"Location {line['location_id']} not found."):
        stock.reserve_order(
            actor=admin_actor, store_id=store.id, order_ref="ORD", lines=[line]
        )


@pytest.mark.parametrize(
    ("lines", "fields"),
    [
        ([], {"lines": "Add at least one line."}),
        (["x"], {"lines[0]": "Each line needs product_id and quantity."}),
        ([{"product_id": "1", "location_id": 1.5, "quantity": 0, "line_ref": "\x00"}], {
            "lines[0].product_id": "Choose a product.",
            "lines[0].location_id": "Choose a location.",
            "lines[0].quantity": "Must be at least 1.",
            "lines[0].line_ref": "Must not contain control characters.",
        }),
        ([{"product_id": 1, "location_id": 1, "quantity": 1}] * 201,
         {"lines": "At most 200 lines per order."}),
    ],
    ids=["empty", "not-a-mapping", "bad-fields", "too-many"],
)
def test_malformed_lines_are_refused_by_field(store, admin_actor, shelf, refused, lines, fields):
    with refused(ValidationError, fields=fields):
        stock.reserve_order(
            actor=admin_actor, store_id=store.id, order_ref="ORD", lines=lines
        )


def test_an_order_needs_an_order_ref(store, admin_actor, shelf, refused):
    with refused(ValidationError, fields={"order_ref": "This field is required."}):
        stock.reserve_order(
            actor=admin_actor, store_id=store.id, order_ref=" ", lines=[_line(shelf["A"], 1)]
        )
