from datetime import datetime, timedelta

import pytest

from app.clock import frozen_at
from app.services import stock
from app.services.errors import (
    ExceedsReserved,
    InsufficientStock,
    NotFound,
    ReservationNotActive,
)

T0 = datetime(2030, 5, 1, 10, 0)


def _hold(actor, entry, quantity, order_ref, line_ref=None):
    change = stock.reserve_stock(
        actor=actor, entry_id=entry.id, quantity=quantity, order_ref=order_ref, line_ref=line_ref
    )
    return change.reservation_ids[0]


# --------------------------------------------------------------------------- reserve


def test_reserve_holds_units_and_records_the_order(
    make_entry, store, owner, holds, ledger, trail
):
    entry = make_entry(quantity=10, store=store)
    expiry = T0 + timedelta(hours=1)

    with frozen_at(T0):
        change = stock.reserve_stock(
            actor=owner, entry_id=entry.id, quantity=4, order_ref=" ORD-1 ", line_ref=" L1 ",
            expires_at=expiry, reason="Checkout",
        )

    assert change.operation == "reserve"
    assert (change.entry.quantity, change.entry.reserved_quantity) == (10, 4)
    assert change.entry.available_quantity == 6
    [hold] = holds(entry.id)
    assert change.reservation_ids == (hold["id"],)
    assert {k: hold[k] for k in (
        "store_id", "entry_id", "product_id", "location_id", "order_ref", "line_ref",
        "quantity", "open_quantity", "status", "expires_at", "created_by_id", "created_at",
        "closed_at",
    )} == {
        "store_id": store.id, "entry_id": entry.id, "product_id": entry.product_id,
        "location_id": entry.location_id, "order_ref": "ORD-1", "line_ref": "L1",
        "quantity": 4, "open_quantity": 4, "status": "active", "expires_at": expiry,
        "created_by_id": owner.user_id, "created_at": T0, "closed_at": None,
    }
    assert trail(entry.id)[-1] == ("reserved", 0, 4, 10, 4)
    row = ledger(entry.id)[-1]
    assert change.movement_ids == (row["id"],)
    assert (row["reference"], row["reason"], row["reservation_id"]) == (
        "ORD-1", "Checkout", hold["id"]
    )
    assert (row["actor_id"], row["actor_name"], row["store_id"]) == (
        owner.user_id, owner.name, entry.store_id
    )


def test_reserve_may_take_every_available_unit(make_entry, admin_actor):
    entry = make_entry(quantity=10, reserved=3)

    change = stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=7,
                                     order_ref="ORD")

    assert (change.entry.reserved_quantity, change.entry.available_quantity) == (10, 0)


def test_reserve_more_than_available_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10, reserved=5)

    with refused(InsufficientStock, "Insufficient stock available. Available: 5, Requested: 6"):
        stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=6, order_ref="O")


def test_reserve_on_a_missing_entry_is_not_found(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10)

    with refused(NotFound, "Inventory entry not found."):
        stock.reserve_stock(actor=admin_actor, entry_id=entry.id + 5, quantity=1,
                                order_ref="O")


# --------------------------------------------------------------------------- release


def test_release_by_reservation_id_returns_the_whole_hold(
    make_entry, store, owner, holds, ledger, trail
):
    entry = make_entry(quantity=10, store=store)
    hold_id = _hold(owner, entry, 4, "ORD-1")

    with frozen_at(T0):
        change = stock.release_stock(actor=owner, reservation_id=hold_id, reason="Cancelled")

    assert change.operation == "release"
    assert (change.entry.quantity, change.entry.reserved_quantity) == (10, 0)
    assert change.reservation_ids == (hold_id,)
    [hold] = holds(entry.id)
    assert (hold["status"], hold["open_quantity"], hold["quantity"], hold["closed_at"]) == (
        "released", 0, 4, T0
    )
    assert trail(entry.id)[-1] == ("released", 0, -4, 10, 0)
    row = ledger(entry.id)[-1]
    assert change.movement_ids == (row["id"],)
    assert (row["reservation_id"], row["reason"], row["actor_id"], row["store_id"]) == (
        hold_id, "Cancelled", owner.user_id, entry.store_id
    )


def test_release_part_of_a_hold_keeps_it_active(make_entry, admin_actor, holds, trail):
    entry = make_entry(quantity=10)
    hold_id = _hold(admin_actor, entry, 5, "ORD-1")

    change = stock.release_stock(actor=admin_actor, reservation_id=hold_id, quantity=2)

    assert change.entry.reserved_quantity == 3
    [hold] = holds(entry.id)
    assert (hold["status"], hold["open_quantity"], hold["closed_at"]) == ("active", 3, None)
    assert trail(entry.id)[-1] == ("released", 0, -2, 10, 3)


def test_release_by_quantity_takes_from_the_oldest_holds_first(
    make_entry, admin_actor, holds, ledger, trail
):
    entry = make_entry(quantity=20)
    first = _hold(admin_actor, entry, 2, "A")
    second = _hold(admin_actor, entry, 3, "B")
    third = _hold(admin_actor, entry, 4, "C")

    change = stock.release_stock(actor=admin_actor, entry_id=entry.id, quantity=4)

    assert change.entry.reserved_quantity == 5
    assert change.reservation_ids == (first, second)
    assert [(h["id"], h["status"], h["open_quantity"]) for h in holds(entry.id)] == [
        (first, "released", 0), (second, "active", 1), (third, "active", 4),
    ]
    assert trail(entry.id)[-2:] == [("released", 0, -2, 20, 7), ("released", 0, -2, 20, 5)]
    assert [r["reservation_id"] for r in ledger(entry.id)[-2:]] == [first, second]
    assert change.movement_ids == tuple(r["id"] for r in ledger(entry.id)[-2:])


def test_release_by_order_ref_touches_only_that_orders_holds(
    make_entry, admin_actor, holds, ledger, trail
):
    entry = make_entry(quantity=20)
    a1 = _hold(admin_actor, entry, 2, "ORD-A")
    b1 = _hold(admin_actor, entry, 3, "ORD-B")
    a2 = _hold(admin_actor, entry, 4, "ORD-A")

    change = stock.release_stock(
        actor=admin_actor, entry_id=entry.id, quantity=5, order_ref="ORD-A"
    )

    assert change.reservation_ids == (a1, a2)
    assert [(h["id"], h["status"], h["open_quantity"]) for h in holds(entry.id)] == [
        (a1, "released", 0), (b1, "active", 3), (a2, "active", 1),
    ]
    assert trail(entry.id)[-2:] == [("released", 0, -2, 20, 7), ("released", 0, -3, 20, 4)]
    assert [r["reference"] for r in ledger(entry.id)[-2:]] == ["ORD-A", "ORD-A"]


def test_release_by_line_ref_touches_only_that_line(make_entry, admin_actor, holds):
    entry = make_entry(quantity=20)
    one = _hold(admin_actor, entry, 2, "ORD", "line-1")
    two = _hold(admin_actor, entry, 3, "ORD", "line-2")

    change = stock.release_stock(
        actor=admin_actor, entry_id=entry.id, quantity=3, order_ref="ORD", line_ref="line-2"
    )

    assert change.reservation_ids == (two,)
    assert [(h["id"], h["status"]) for h in holds(entry.id)] == [
        (one, "active"), (two, "released"),
    ]


def test_release_more_than_reserved_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10, reserved=2)

    with refused(ExceedsReserved, "Cannot release 4: only 2 reserved"):
        stock.release_stock(actor=admin_actor, entry_id=entry.id, quantity=4)


def test_release_more_than_the_order_holds_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=20)
    _hold(admin_actor, entry, 2, "ORD-A")
    _hold(admin_actor, entry, 9, "ORD-B")
    _hold(admin_actor, entry, 4, "ORD-A")

    with refused(ExceedsReserved, "Cannot release 7: only 6 reserved"):
        stock.release_stock(
            actor=admin_actor, entry_id=entry.id, quantity=7, order_ref="ORD-A"
        )


def test_release_more_than_the_hold_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=20)
    hold_id = _hold(admin_actor, entry, 2, "ORD-A")
    _hold(admin_actor, entry, 8, "ORD-B")

    with refused(ExceedsReserved, "Cannot release 4: only 2 reserved"):
        stock.release_stock(actor=admin_actor, reservation_id=hold_id, quantity=4)


@pytest.mark.parametrize("close", [stock.release_stock, stock.fulfill_stock])
def test_closing_a_released_reservation_again_is_refused(close, make_entry, admin_actor,
                                                         refused):
    entry = make_entry(quantity=10)
    hold_id = _hold(admin_actor, entry, 3, "ORD")
    stock.release_stock(actor=admin_actor, reservation_id=hold_id)

    with refused(ReservationNotActive, f"Reservation {hold_id} is released, not active"):
        close(actor=admin_actor, reservation_id=hold_id)


def test_release_of_a_missing_reservation_is_not_found(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10)
    hold_id = _hold(admin_actor, entry, 3, "ORD")

    with refused(NotFound, "Reservation not found."):
        stock.release_stock(actor=admin_actor, reservation_id=hold_id + 1)


# --------------------------------------------------------------------------- fulfill


def test_fulfill_by_reservation_id_ships_the_hold(
    make_entry, store, owner, holds, ledger, trail
):
    entry = make_entry(quantity=10, store=store)
    hold_id = _hold(owner, entry, 4, "ORD-1")

    with frozen_at(T0):
        change = stock.fulfill_stock(actor=owner, reservation_id=hold_id, reason="Shipped")

    assert change.operation == "fulfill"
    assert (change.entry.quantity, change.entry.reserved_quantity) == (6, 0)
    [hold] = holds(entry.id)
    assert (hold["status"], hold["open_quantity"], hold["closed_at"]) == ("fulfilled", 0, T0)
    assert trail(entry.id)[-1] == ("fulfilled", -4, -4, 6, 0)
    row = ledger(entry.id)[-1]
    assert (row["reservation_id"], row["reason"], row["actor_id"], row["store_id"]) == (
        hold_id, "Shipped", owner.user_id, entry.store_id
    )


def test_fulfill_part_of_a_hold_keeps_the_rest_held(make_entry, admin_actor, holds, trail):
    entry = make_entry(quantity=10)
    hold_id = _hold(admin_actor, entry, 5, "ORD")

    change = stock.fulfill_stock(actor=admin_actor, reservation_id=hold_id, quantity=2)

    assert (change.entry.quantity, change.entry.reserved_quantity) == (8, 3)
    assert [(h["status"], h["open_quantity"]) for h in holds(entry.id)] == [("active", 3)]
    assert trail(entry.id)[-1] == ("fulfilled", -2, -2, 8, 3)


def test_fulfill_by_quantity_ships_the_oldest_holds_first(
    make_entry, admin_actor, holds, trail
):
    entry = make_entry(quantity=20)
    first = _hold(admin_actor, entry, 2, "A")
    second = _hold(admin_actor, entry, 3, "B")

    change = stock.fulfill_stock(actor=admin_actor, entry_id=entry.id, quantity=4)

    assert (change.entry.quantity, change.entry.reserved_quantity) == (16, 1)
    assert change.reservation_ids == (first, second)
    assert [(h["status"], h["open_quantity"]) for h in holds(entry.id)] == [
        ("fulfilled", 0), ("active", 1),
    ]
    assert trail(entry.id)[-2:] == [("fulfilled", -2, -2, 18, 3), ("fulfilled", -2, -2, 16, 1)]


def test_fulfill_by_order_ref_ships_only_that_order(make_entry, admin_actor, holds, ledger):
    entry = make_entry(quantity=20)
    other = _hold(admin_actor, entry, 3, "ORD-B")
    mine = _hold(admin_actor, entry, 4, "ORD-A")

    change = stock.fulfill_stock(
        actor=admin_actor, entry_id=entry.id, quantity=4, order_ref="ORD-A"
    )

    assert (change.entry.quantity, change.entry.reserved_quantity) == (16, 3)
    assert [(h["id"], h["status"]) for h in holds(entry.id)] == [
        (other, "active"), (mine, "fulfilled"),
    ]
    assert ledger(entry.id)[-1]["reference"] == "ORD-A"


def test_fulfill_more_than_reserved_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10, reserved=2)

    with refused(ExceedsReserved, "Cannot fulfill 4: only 2 reserved"):
        stock.fulfill_stock(actor=admin_actor, entry_id=entry.id, quantity=4)


def test_fulfill_more_than_the_hold_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=20)
    hold_id = _hold(admin_actor, entry, 2, "ORD-A")
    _hold(admin_actor, entry, 8, "ORD-B")

    with refused(ExceedsReserved, "Cannot fulfill 3: only 2 reserved"):
        stock.fulfill_stock(actor=admin_actor, reservation_id=hold_id, quantity=3)


@pytest.mark.parametrize("close", [stock.release_stock, stock.fulfill_stock])
def test_closing_a_fulfilled_reservation_again_is_refused(close, make_entry, admin_actor,
                                                          refused):
    entry = make_entry(quantity=10)
    hold_id = _hold(admin_actor, entry, 3, "ORD")
    stock.fulfill_stock(actor=admin_actor, reservation_id=hold_id)

    with refused(ReservationNotActive, f"Reservation {hold_id} is fulfilled, not active"):
        close(actor=admin_actor, reservation_id=hold_id, quantity=1)


def test_every_hold_stays_accounted_for_after_a_mix(make_entry, admin_actor, holds, stored):
    entry = make_entry(quantity=30)
    ids = [_hold(admin_actor, entry, n, f"ORD-{n}") for n in (2, 3, 4, 5)]
    stock.fulfill_stock(actor=admin_actor, reservation_id=ids[0])
    stock.release_stock(actor=admin_actor, entry_id=entry.id, quantity=4)
    stock.fulfill_stock(actor=admin_actor, entry_id=entry.id, quantity=3)

    active = [h for h in holds(entry.id) if h["status"] == "active"]
    row = stored(entry.id)
    assert sum(h["open_quantity"] for h in active) == row["reserved_quantity"] == 5
    assert row["quantity"] == 30 - 2 - 3
