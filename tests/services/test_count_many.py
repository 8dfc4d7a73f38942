"""Counting a location: many counted lines applied as one count, all or nothing."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from app.clock import frozen_at
from app.extensions import db
from app.models import StockMovement
from app.permissions import ADJUST
from app.services import stock
from app.services.errors import (
    Conflict,
    CountRefused,
    IdempotencyKeyReused,
    NotFound,
    PermissionDenied,
    ValidationError,
)

T0 = datetime(2030, 5, 6, 9, 30)


@pytest.fixture
def shelf(store, location, make_product, make_entry):
    """Three products stocked at `location`: a mug (10, 2 reserved), a lamp (4) and a
    cable with a GTIN (0); a product stocked elsewhere only, and a digital one."""
    mug = make_product(store, "MUG-BLU", title="Blue mug")
    lamp = make_product(store, "LAMP-1", title="Desk lamp")
    cable = make_product(store, "CBL-USB", title="USB cable", gtin="4006381333931")
    elsewhere = make_product(store, "ELSEWHERE")
    make_product(store, "EBOOK", type="digital")
    entries = {
        "mug": make_entry(quantity=10, reserved=2, product=mug, location=location),
        "lamp": make_entry(quantity=4, product=lamp, location=location),
        "cable": make_entry(quantity=0, product=cable, location=location),
    }
    make_entry(quantity=3, product=elsewhere, store=store)
    return entries


def test_a_count_of_several_lines_applies_them_all_as_one_batch(
    shelf, location, owner, trail, ledger, stored
):
    with frozen_at(T0):
        change = stock.count_many(
            actor=owner, location_id=location.id, reason="Monday count",
            lines=[
                {"code": "mug-blu", "counted_quantity": 7},  # any case
                {"code": "4006381333931", "counted_quantity": 5},  # by GTIN
                {"code": "LAMP-1", "counted_quantity": 4, "expected_quantity": 4},
            ],
        )

    assert change.operation == "count_many"
    assert trail(shelf["mug"].id)[-1] == ("count", -3, 0, 7, 2)
    assert trail(shelf["cable"].id)[-1] == ("count", 5, 0, 5, 0)
    assert trail(shelf["lamp"].id)[-1] == ("count", 0, 0, 4, 0)  # a confirmation
    rows = [ledger(e.id)[-1] for e in shelf.values()]
    assert {r["batch_ref"] for r in rows} == {change.details["batch_ref"]}
    assert {r["reason"] for r in rows} == {"Monday count"}
    assert {r["actor_id"] for r in rows} == {owner.user_id}
    assert sorted(change.movement_ids) == sorted(r["id"] for r in rows)
    for entry in shelf.values():
        assert stored(entry.id)["last_counted_at"] == T0
    assert [(line["sku"], line["before"], line["counted"], line["discrepancy"])
            for line in change.details["lines"]] == [
        ("MUG-BLU", 10, 7, -3), ("CBL-USB", 0, 5, 5), ("LAMP-1", 4, 4, 0),
    ]
    assert change.details["discrepancies"] == 2
    assert change.details["location_code"] == "MAIN"


def test_every_bad_line_is_named_and_nothing_is_counted(shelf, location, owner, refused):
    lines = [
        {"code": "MUG-BLU", "counted_quantity": 7},
        {"code": "NOPE-404", "counted_quantity": 1},
        {"code": "ELSEWHERE", "counted_quantity": 2},
        {"code": "LAMP-1", "counted_quantity": -1},
        {"code": "mug-blu", "counted_quantity": 3},
        {"code": "EBOOK", "counted_quantity": 1},
    ]
    with refused(CountRefused) as info:
        stock.count_many(actor=owner, location_id=location.id, lines=lines)

    error = info.value
    assert error.status == 422
    # The shape of each line is checked before any look-up.
    assert error.fields == {
        "lines[3].counted_quantity": "Must not be negative.",
        "lines[4].code": "mug-blu is already counted on line 1; give each item one line.",
    }
    assert str(error).startswith("Nothing was counted: 2 lines need attention. Line 4 (LAMP-1)")

    lines[3]["counted_quantity"] = 4
    del lines[4]
    with refused(CountRefused) as info:
        stock.count_many(actor=owner, location_id=location.id, lines=lines)
    assert info.value.fields == {
        "lines[1].code": "No product in this store has this SKU or GTIN.",
        "lines[2].code": "ELSEWHERE is not stocked at MAIN: it has no inventory entry here.",
        "lines[4].code": "EBOOK is not stocked at MAIN: its stock is unlimited and never counted.",
    }
    assert "Line 2 (NOPE-404)" in str(info.value)


def test_a_sku_and_a_gtin_of_one_product_are_one_line(shelf, location, owner, refused):
    with refused(CountRefused, fields={
        "lines[1].code": "CBL-USB is already counted on line 1; give each item one line.",
    }):
        stock.count_many(actor=owner, location_id=location.id, lines=[
            {"code": "CBL-USB", "counted_quantity": 1},
            {"code": "4006381333931", "counted_quantity": 1},
        ])


@pytest.mark.parametrize("bad", ["3", 2.0, None, True, 10**12, "５"])
def test_a_count_that_is_not_a_whole_number_in_range_is_refused(
    shelf, location, owner, refused, bad
):
    with refused(CountRefused) as info:
        stock.count_many(actor=owner, location_id=location.id,
                         lines=[{"code": "LAMP-1", "counted_quantity": bad}])
    assert list(info.value.fields) == ["lines[0].counted_quantity"]
    assert info.value.status == 422


def test_a_count_below_reserved_or_behind_a_later_change_is_a_conflict(
    shelf, location, owner, refused
):
    lines = [
        {"code": "MUG-BLU", "counted_quantity": 1},
        {"code": "LAMP-1", "counted_quantity": 4, "expected_quantity": 6},
        {"code": "CBL-USB", "counted_quantity": 2, "expected_quantity": 0},
    ]
    with refused(CountRefused) as info:
        stock.count_many(actor=owner, location_id=location.id, lines=lines)

    assert info.value.status == 409
    assert info.value.fields == {
        "lines[0].counted_quantity": "Counted 1 is below reserved 2",
        "lines[1].expected_quantity": "On hand changed from 6 to 4 since it was scanned; "
                                      "check the count and apply again.",
    }
    # What each line's entry holds now, so a screen can show it and let the user apply again.
    assert info.value.current == {1: 10, 2: 4, 3: 0}


def test_the_list_itself_must_hold_lines(location, owner, refused):
    with refused(ValidationError, fields={"lines": "Scan or add at least one item to count."}):
        stock.count_many(actor=owner, location_id=location.id, lines=[])
    too_many = [{"code": f"X{n}", "counted_quantity": 1}
                for n in range(stock.MAX_COUNT_LINES + 1)]
    with refused(ValidationError) as info:
        stock.count_many(actor=owner, location_id=location.id, lines=too_many)
    assert list(info.value.fields) == ["lines"]
    with refused(ValidationError, fields={"location_id": "Choose a location."}):
        stock.count_many(actor=owner, location_id="1", lines=[{"code": "A",
                                                               "counted_quantity": 1}])


def test_a_location_of_another_store_is_not_found(
    shelf, location, make_store, member, refused
):
    stranger = member(make_store(), "owner")
    with refused(NotFound, "Location not found."):
        stock.count_many(actor=stranger, location_id=location.id,
                         lines=[{"code": "LAMP-1", "counted_quantity": 1}])


def test_counting_needs_the_adjust_permission(shelf, store, location, member, refused):
    viewer = member(store, "staff")
    with refused(PermissionDenied):
        stock.count_many(actor=viewer, location_id=location.id,
                         lines=[{"code": "LAMP-1", "counted_quantity": 1}])
    counter = member(store, "staff", grants=(ADJUST,))
    stock.count_many(actor=counter, location_id=location.id,
                     lines=[{"code": "LAMP-1", "counted_quantity": 1}])


def test_an_archived_location_is_not_counted(shelf, location, owner, refused):
    location.archived_at = T0
    db.session.commit()
    with refused(Conflict, "Location MAIN is archived: nothing is counted there."):
        stock.count_many(actor=owner, location_id=location.id,
                         lines=[{"code": "LAMP-1", "counted_quantity": 1}])


def test_a_repeat_with_its_key_replays_and_another_payload_is_refused(
    shelf, location, owner, refused
):
    lines = [{"code": "LAMP-1", "counted_quantity": 9}]
    first = stock.count_many(actor=owner, location_id=location.id, lines=lines,
                             idempotency_key="count-1")
    again = stock.count_many(actor=owner, location_id=location.id, lines=lines,
                             idempotency_key="count-1")

    assert again.replayed and again.movement_ids == first.movement_ids
    assert again.details == first.details
    rows = db.session.scalars(
        select(StockMovement.id).where(StockMovement.entry_id == shelf["lamp"].id,
                                       StockMovement.type == "count")
    ).all()
    assert len(rows) == 1
    with refused(IdempotencyKeyReused):
        stock.count_many(actor=owner, location_id=location.id, idempotency_key="count-1",
                         lines=[{"code": "LAMP-1", "counted_quantity": 8}])
