from datetime import datetime

from app.clock import frozen_at
from app.services import stock
from app.services.errors import InsufficientStock, NotFound

T0 = datetime(2030, 3, 1, 9, 30)


def test_adjust_down_lowers_on_hand_and_writes_one_adjustment_row(
    make_entry, store, owner, ledger, trail
):
    entry = make_entry(quantity=10, store=store)

    change = stock.adjust_stock(
        actor=owner, entry_id=entry.id, delta=-3, reason="  Damaged in transit ",
        reference=" RMA-7 ",
    )

    assert change.operation == "adjust"
    assert change.replayed is False
    assert (change.entry.id, change.entry.quantity, change.entry.reserved_quantity) == (
        entry.id, 7, 0
    )
    assert change.entry.available_quantity == 7
    assert trail(entry.id) == [("received", 10, 0, 10, 0), ("adjustment", -3, 0, 7, 0)]
    row = ledger(entry.id)[-1]
    assert change.movement_ids == (row["id"],)
    assert row["reason"] == "Damaged in transit"
    assert row["reference"] == "RMA-7"
    assert row["actor_id"] == owner.user_id
    assert row["actor_name"] == owner.name
    assert row["store_id"] == store.id == entry.store_id
    assert (row["product_id"], row["location_id"]) == (entry.product_id, entry.location_id)
    assert row["reservation_id"] is None


def test_adjust_up_raises_on_hand(make_entry, admin_actor, trail, ledger):
    entry = make_entry(quantity=4)

    change = stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=6, reason="Found")

    assert change.entry.quantity == 10
    assert trail(entry.id)[-1] == ("adjustment", 6, 0, 10, 0)
    row = ledger(entry.id)[-1]
    assert (row["actor_id"], row["actor_name"], row["reference"]) == (None, "system:tests", None)


def test_adjust_leaves_reserved_units_alone(make_entry, admin_actor, trail):
    entry = make_entry(quantity=10, reserved=4)

    change = stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=-6, reason="Loss")

    assert (change.entry.quantity, change.entry.reserved_quantity) == (4, 4)
    assert change.entry.available_quantity == 0
    assert trail(entry.id)[-1] == ("adjustment", -6, 0, 4, 4)


def test_adjust_beyond_available_is_refused_with_available_and_requested(
    make_entry, owner, store, refused
):
    entry = make_entry(quantity=10, reserved=5, store=store)

    with refused(
        InsufficientStock, "Insufficient stock available. Available: 5, Requested: 10"
    ) as info:
        stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-10, reason="Shrinkage")

    assert (info.value.available, info.value.requested) == (5, 10)


def test_adjust_below_zero_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=3)

    with refused(InsufficientStock, "Insufficient stock available. Available: 3, Requested: 4"):
        stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=-4, reason="x")


def test_adjust_bumps_version_and_stamps_the_movement_time(make_entry, admin_actor, stored):
    entry = make_entry(quantity=10)

    with frozen_at(T0):
        change = stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="x")

    assert change.entry.version == entry.version + 1
    row = stored(entry.id)
    assert (row["version"], row["last_movement_at"], row["updated_at"]) == (
        entry.version + 1, T0, T0
    )


def test_adjust_of_a_missing_entry_is_not_found(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10)

    with refused(NotFound, "Inventory entry not found."):
        stock.adjust_stock(actor=admin_actor, entry_id=entry.id + 1000, delta=1, reason="x")
