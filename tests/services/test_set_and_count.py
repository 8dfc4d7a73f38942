from datetime import datetime

import pytest

from app.clock import frozen_at
from app.services import stock
from app.services.errors import BelowReserved, NotFound, StaleStock

T0 = datetime(2030, 4, 2, 8, 0)


@pytest.mark.parametrize(("new", "delta"), [(25, 15), (4, -6), (0, -10)])
def test_set_replaces_on_hand_and_records_the_difference(
    make_entry, store, owner, ledger, trail, new, delta
):
    entry = make_entry(quantity=10, store=store)

    change = stock.set_stock(actor=owner, entry_id=entry.id, quantity=new, reason=" Recount ")

    assert change.operation == "set"
    assert change.entry.quantity == new
    assert change.previous_quantity == 10
    assert trail(entry.id)[-1] == ("set", delta, 0, new, 0)
    row = ledger(entry.id)[-1]
    assert change.movement_ids == (row["id"],)
    assert (row["reason"], row["reference"]) == ("Recount", None)
    assert (row["actor_id"], row["actor_name"], row["store_id"]) == (
        owner.user_id, owner.name, entry.store_id
    )


def test_setting_the_current_quantity_is_recorded_as_a_confirmation(
    make_entry, owner, store, ledger, trail, stored
):
    """Not refused and not skipped: a `set` row of 0 keeps who confirmed the figure and
    when, and the version moves on as after any write."""
    entry = make_entry(quantity=10, store=store)
    before = stored(entry.id)

    with frozen_at(T0):
        change = stock.set_stock(actor=owner, entry_id=entry.id, quantity=10,
                                 reason="Shelf checked")

    assert (change.previous_quantity, change.entry.quantity) == (10, 10)
    assert trail(entry.id)[-1] == ("set", 0, 0, 10, 0)
    row = ledger(entry.id)[-1]
    assert change.movement_ids == (row["id"],)
    assert (row["actor_id"], row["reason"], row["created_at"]) == (
        owner.user_id, "Shelf checked", T0
    )
    after = stored(entry.id)
    assert (after["quantity"], after["version"]) == (10, before["version"] + 1)
    assert after["last_counted_at"] is None  # a set is not a count


def test_set_without_a_reason_stores_none(make_entry, admin_actor, ledger):
    entry = make_entry(quantity=10)

    stock.set_stock(actor=admin_actor, entry_id=entry.id, quantity=12, reason="   ")

    assert ledger(entry.id)[-1]["reason"] is None


def test_set_may_go_down_to_exactly_the_reserved_units(make_entry, admin_actor, trail):
    entry = make_entry(quantity=10, reserved=5)

    change = stock.set_stock(actor=admin_actor, entry_id=entry.id, quantity=5)

    assert (change.entry.quantity, change.entry.reserved_quantity) == (5, 5)
    assert trail(entry.id)[-1] == ("set", -5, 0, 5, 5)


def test_set_below_reserved_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10, reserved=5)

    with refused(BelowReserved, "Quantity 3 is below reserved 5"):
        stock.set_stock(actor=admin_actor, entry_id=entry.id, quantity=3)


def test_set_does_not_mark_the_entry_counted(make_entry, admin_actor, stored):
    entry = make_entry(quantity=10)

    stock.set_stock(actor=admin_actor, entry_id=entry.id, quantity=8)

    assert stored(entry.id)["last_counted_at"] is None


def test_set_with_the_current_version_and_quantity_applies(make_entry, admin_actor):
    entry = make_entry(quantity=10)

    change = stock.set_stock(
        actor=admin_actor, entry_id=entry.id, quantity=7,
        expected_version=entry.version, expected_quantity=10,
    )

    assert change.entry.quantity == 7
    assert change.entry.version == entry.version + 1


def test_set_against_a_stale_version_is_refused_with_the_current_values(
    make_entry, admin_actor, refused
):
    entry = make_entry(quantity=10, reserved=2)
    stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="moved on")

    with refused(
        StaleStock,
        "Stock changed since you loaded it: on hand is now 11 (2 reserved). "
        "Check the new value and apply again.",
    ) as info:
        stock.set_stock(
            actor=admin_actor, entry_id=entry.id, quantity=20, expected_version=entry.version
        )

    assert (info.value.quantity, info.value.reserved, info.value.version) == (
        11, 2, entry.version + 1
    )


def test_set_against_a_stale_quantity_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10)

    with refused(StaleStock):
        stock.set_stock(
            actor=admin_actor, entry_id=entry.id, quantity=20, expected_quantity=9
        )


def test_count_sets_on_hand_keeps_the_discrepancy_and_stamps_last_counted_at(
    make_entry, store, owner, ledger, trail, stored
):
    entry = make_entry(quantity=10, reserved=3, store=store)

    with frozen_at(T0):
        change = stock.count_stock(
            actor=owner, entry_id=entry.id, counted_quantity=8, reason="Cycle count"
        )

    assert change.operation == "count"
    assert (change.entry.quantity, change.entry.reserved_quantity) == (8, 3)
    assert change.previous_quantity == 10
    assert change.details == {"discrepancy": -2}
    assert trail(entry.id)[-1] == ("count", -2, 0, 8, 3)
    row = ledger(entry.id)[-1]
    assert (row["reason"], row["actor_id"], row["store_id"], row["created_at"]) == (
        "Cycle count", owner.user_id, entry.store_id, T0
    )
    assert stored(entry.id)["last_counted_at"] == T0


def test_count_that_matches_records_a_zero_discrepancy(make_entry, admin_actor, trail, stored):
    entry = make_entry(quantity=10)

    with frozen_at(T0):
        change = stock.count_stock(actor=admin_actor, entry_id=entry.id, counted_quantity=10)

    assert change.details == {"discrepancy": 0}
    assert trail(entry.id)[-1] == ("count", 0, 0, 10, 0)
    assert stored(entry.id)["last_counted_at"] == T0


def test_count_below_reserved_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10, reserved=5)

    with refused(BelowReserved, "Counted 3 is below reserved 5"):
        stock.count_stock(actor=admin_actor, entry_id=entry.id, counted_quantity=3)


def test_count_against_a_stale_version_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10)
    stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=-1, reason="sold")

    with refused(StaleStock):
        stock.count_stock(
            actor=admin_actor, entry_id=entry.id, counted_quantity=9,
            expected_version=entry.version,
        )


@pytest.mark.parametrize("operation", [stock.set_stock, stock.count_stock])
def test_set_and_count_of_a_missing_entry_are_not_found(operation, make_entry, admin_actor,
                                                        refused):
    entry = make_entry(quantity=10)
    amount = {"quantity" if operation is stock.set_stock else "counted_quantity": 1}

    with refused(NotFound, "Inventory entry not found."):
        operation(actor=admin_actor, entry_id=entry.id + 99, **amount)
