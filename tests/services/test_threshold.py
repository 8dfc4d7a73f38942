from datetime import datetime

from app.clock import frozen_at
from app.services import queries, stock
from app.services.errors import NotFound, ValidationError

T0 = datetime(2030, 6, 1, 12, 0)


def test_threshold_is_stored_without_a_ledger_row_or_a_new_version(
    make_entry, store, owner, stored, ledger
):
    entry = make_entry(quantity=10, store=store)
    rows_before = ledger(entry.id)

    with frozen_at(T0):
        change = stock.set_threshold(actor=owner, entry_id=entry.id, low_stock_threshold=4)

    assert change.operation == "threshold"
    assert change.movement_ids == ()
    assert change.details == {"low_stock_threshold": 4}
    row = stored(entry.id)
    assert (row["low_stock_threshold"], row["version"], row["updated_at"]) == (
        4, entry.version, T0
    )
    assert (row["quantity"], row["reserved_quantity"]) == (10, 0)
    assert ledger(entry.id) == rows_before


def test_raising_the_threshold_makes_the_entry_low_stock_at_once(make_entry, store, owner):
    entry = make_entry(quantity=10, reserved=4, store=store)
    assert queries.get_entry(owner, entry.id).status == "in_stock"

    stock.set_threshold(actor=owner, entry_id=entry.id, low_stock_threshold=6)

    assert queries.get_entry(owner, entry.id).status == "low_stock"


def test_threshold_zero_disables_low_stock(make_entry, store, owner):
    entry = make_entry(quantity=3, threshold=5, store=store)
    assert queries.get_entry(owner, entry.id).status == "low_stock"

    stock.set_threshold(actor=owner, entry_id=entry.id, low_stock_threshold=0)

    assert queries.get_entry(owner, entry.id).status == "in_stock"


def test_negative_threshold_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=3)

    with refused(ValidationError, fields={"low_stock_threshold": "Must not be negative."}):
        stock.set_threshold(actor=admin_actor, entry_id=entry.id, low_stock_threshold=-1)


def test_threshold_of_a_missing_entry_is_not_found(make_entry, admin_actor, refused):
    entry = make_entry(quantity=3)

    with refused(NotFound, "Inventory entry not found."):
        stock.set_threshold(actor=admin_actor, entry_id=entry.id + 3, low_stock_threshold=1)
