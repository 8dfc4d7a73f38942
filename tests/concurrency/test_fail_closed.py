"""Fail closed: an exception between the stock UPDATE and the ledger insert leaves nothing
behind: no quantity change, no ledger row, no reservation, no idempotency record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from oracle import assert_invariants, snapshot_tables
from sqlalchemy import select

from app.extensions import db
from app.models import Store
from app.services import inventory
from app.services.inventory import entries


class Injected(RuntimeError):
    pass


OPERATIONS: dict[str, Callable[..., inventory.StockChange]] = {
    "reserve": lambda s, **k: inventory.reserve_stock(
        entry_id=s.entry.id, quantity=2, order_ref="ORDER-9", **k),
    "release": lambda s, **k: inventory.release_stock(reservation_id=s.hold, quantity=1, **k),
    "fulfill": lambda s, **k: inventory.fulfill_stock(entry_id=s.entry.id, quantity=2, **k),
    "adjust": lambda s, **k: inventory.adjust_stock(
        entry_id=s.entry.id, delta=-3, reason="Damaged", **k),
    "set": lambda s, **k: inventory.set_stock(entry_id=s.entry.id, quantity=15, **k),
    "count": lambda s, **k: inventory.count_stock(entry_id=s.entry.id, counted_quantity=8, **k),
    "return": lambda s, **k: inventory.return_stock(
        entry_id=s.entry.id, quantity=2, reason="Returned", **k),
    "reserve_order": lambda s, **k: inventory.reserve_order(
        store_id=s.entry.store_id, order_ref="ORDER-9", lines=[
            {"product_id": s.entry.product_id, "location_id": s.entry.location_id,
             "quantity": 2, "line_ref": "L1"}], **k),
    "transfer": lambda s, **k: inventory.transfer_stock(
        product_id=s.entry.product_id, from_location_id=s.entry.location_id,
        to_location_id=s.empty_location, quantity=3, **k),
}


class Setup:
    """An entry of 20 with a hold of 5, and a location of its store without an entry."""

    def __init__(self, make_entry: Callable[..., Any], make_location: Callable[..., Any],
                 admin_actor: Any) -> None:
        self.entry = make_entry(quantity=20)
        self.hold = inventory.reserve_stock(
            actor=admin_actor, entry_id=self.entry.id, quantity=5, order_ref="ORDER-1"
        ).reservation_ids[0]
        store = db.session.get(Store, self.entry.store_id)
        self.empty_location = make_location(store).id


@pytest.mark.parametrize("key", [None, "retry-key"], ids=["plain", "with-key"])
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_failure_before_the_ledger_insert_changes_nothing(
    app, make_entry, make_location, admin_actor, monkeypatch, operation, key
):
    setup = Setup(make_entry, make_location, admin_actor)
    before = snapshot_tables()
    seen_inside: list[tuple[int, int]] = []

    def failing_record(session: Any, actor: Any, after: Any, *args: Any, **kwargs: Any) -> int:
        # Prove the stock change already happened inside the transaction, then fail.
        row = session.execute(
            select(entries.c.quantity, entries.c.reserved_quantity)
            .where(entries.c.id == after.id)
        ).one()
        seen_inside.append((row.quantity, row.reserved_quantity))
        raise Injected("the ledger insert failed")

    monkeypatch.setattr(inventory, "_record", failing_record)
    call = OPERATIONS[operation]
    with pytest.raises(Injected):
        call(setup, actor=admin_actor, idempotency_key=key)

    assert seen_inside, "the injected failure never ran"
    (stored,) = (r for r in before["inventory_entries"] if r.id == setup.entry.id)
    assert seen_inside[0] != (stored.quantity, stored.reserved_quantity), (
        "the failure was injected before the stock update, not after it"
    )
    assert snapshot_tables() == before

    # Once the fault is gone the same request (and key) goes through normally, once.
    monkeypatch.undo()
    change = call(setup, actor=admin_actor, idempotency_key=key)
    assert not change.replayed
    assert change.movement_ids
    assert_invariants()
