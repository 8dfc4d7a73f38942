from app.services import stock
from app.services.errors import NotFound, QuantityTooLarge

LIMIT = 1_000_000_000


def test_return_puts_units_back_on_hand(make_entry, store, owner, ledger, trail):
    entry = make_entry(quantity=10, store=store)

    change = stock.return_stock(
        actor=owner, entry_id=entry.id, quantity=3, reason=" Customer return ",
        reference="RMA-12",
    )

    assert change.operation == "return"
    assert (change.entry.quantity, change.entry.reserved_quantity) == (13, 0)
    assert trail(entry.id)[-1] == ("returned", 3, 0, 13, 0)
    row = ledger(entry.id)[-1]
    assert change.movement_ids == (row["id"],)
    assert (row["reason"], row["reference"]) == ("Customer return", "RMA-12")
    assert (row["actor_id"], row["actor_name"], row["store_id"]) == (
        owner.user_id, owner.name, entry.store_id
    )


def test_return_leaves_reserved_units_held(make_entry, admin_actor, trail):
    entry = make_entry(quantity=5, reserved=5)

    change = stock.return_stock(actor=admin_actor, entry_id=entry.id, quantity=2, reason="x")

    assert (change.entry.quantity, change.entry.reserved_quantity) == (7, 5)
    assert trail(entry.id)[-1] == ("returned", 2, 0, 7, 5)


def test_return_up_to_the_maximum_is_allowed(make_entry, admin_actor):
    entry = make_entry(quantity=LIMIT - 5)

    change = stock.return_stock(actor=admin_actor, entry_id=entry.id, quantity=5, reason="x")

    assert change.entry.quantity == LIMIT


def test_return_past_the_maximum_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=LIMIT - 5)

    with refused(QuantityTooLarge, "On hand would exceed the maximum of 1,000,000,000."):
        stock.return_stock(actor=admin_actor, entry_id=entry.id, quantity=6, reason="x")


def test_return_to_a_missing_entry_is_not_found(make_entry, admin_actor, refused):
    entry = make_entry(quantity=1)

    with refused(NotFound, "Inventory entry not found."):
        stock.return_stock(actor=admin_actor, entry_id=entry.id + 7, quantity=1, reason="x")
