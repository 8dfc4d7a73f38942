from app.services import inventory


def test_adjust_changes_quantity_and_writes_one_ledger_row(make_entry, admin_actor):
    entry = make_entry(quantity=10)
    change = inventory.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=-3, reason="x")
    assert change.entry.quantity == 7
    assert len(change.movement_ids) == 1
