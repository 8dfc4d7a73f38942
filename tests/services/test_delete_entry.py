from datetime import datetime

from app.clock import frozen_at
from app.services import stock
from app.services.errors import EntryHasReservations, NotFound

T0 = datetime(2030, 7, 1, 15, 0)


def test_delete_removes_the_entry_and_closes_its_ledger_with_a_deleted_row(
    make_entry, store, owner, stored, ledger, trail
):
    entry = make_entry(quantity=10, store=store)
    stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-3, reason="Sold")

    with frozen_at(T0):
        change = stock.delete_entry(actor=owner, entry_id=entry.id, reason=" Closing bin ")

    assert stored(entry.id) is None
    assert change.operation == "delete"
    assert change.previous_quantity == 7
    assert (change.entry.id, change.entry.quantity, change.entry.reserved_quantity) == (
        entry.id, 0, 0
    )
    assert trail(entry.id) == [
        ("received", 10, 0, 10, 0), ("adjustment", -3, 0, 7, 0), ("deleted", -7, 0, 0, 0),
    ]
    row = ledger(entry.id)[-1]
    assert change.movement_ids == (row["id"],)
    assert (row["reason"], row["created_at"]) == ("Closing bin", T0)
    assert (row["actor_id"], row["actor_name"], row["store_id"]) == (
        owner.user_id, owner.name, entry.store_id
    )
    assert (row["product_id"], row["location_id"]) == (entry.product_id, entry.location_id)


def test_delete_of_an_empty_entry_still_writes_a_deleted_row(make_entry, admin_actor, trail):
    entry = make_entry(quantity=0)

    stock.delete_entry(actor=admin_actor, entry_id=entry.id)

    assert trail(entry.id) == [("deleted", 0, 0, 0, 0)]


def test_delete_with_reserved_units_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10, reserved=5)

    with refused(EntryHasReservations, "Entry has 5 reserved units"):
        stock.delete_entry(actor=admin_actor, entry_id=entry.id)


def test_delete_keeps_the_reservation_history(make_entry, admin_actor, holds, stored):
    entry = make_entry(quantity=10)
    shipped = stock.reserve_stock(
        actor=admin_actor, entry_id=entry.id, quantity=2, order_ref="ORD-1"
    ).reservation_ids[0]
    dropped = stock.reserve_stock(
        actor=admin_actor, entry_id=entry.id, quantity=3, order_ref="ORD-2"
    ).reservation_ids[0]
    stock.fulfill_stock(actor=admin_actor, reservation_id=shipped)
    stock.release_stock(actor=admin_actor, reservation_id=dropped)

    stock.delete_entry(actor=admin_actor, entry_id=entry.id)

    assert stored(entry.id) is None
    assert [
        (h["id"], h["order_ref"], h["status"], h["quantity"], h["location_id"])
        for h in holds(product_id=entry.product_id)
    ] == [
        (shipped, "ORD-1", "fulfilled", 2, entry.location_id),
        (dropped, "ORD-2", "released", 3, entry.location_id),
    ]


def test_a_deleted_entry_accepts_no_further_operations(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10)
    stock.delete_entry(actor=admin_actor, entry_id=entry.id)

    with refused(NotFound, "Inventory entry not found."):
        stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="x")
    with refused(NotFound, "Inventory entry not found."):
        stock.delete_entry(actor=admin_actor, entry_id=entry.id)


def test_recreating_a_deleted_entry_starts_a_new_ledger(
    store, location, make_product, make_entry, admin_actor, trail
):
    product = make_product(store)
    old = make_entry(quantity=10, location=location, product=product)
    stock.delete_entry(actor=admin_actor, entry_id=old.id)

    new = stock.create_entry(
        actor=admin_actor, product_id=product.id, location_id=location.id, quantity=4
    ).entry

    assert new.id != old.id
    assert trail(new.id) == [("received", 4, 0, 4, 0)]
    assert trail(old.id)[-1] == ("deleted", -10, 0, 0, 0)
