"""Backstop: SQL that bypasses the service layer still cannot break a CHECK constraint or
rewrite the ledger; the database itself refuses, on both backends, and nothing changes."""

from __future__ import annotations

import pytest
from oracle import assert_invariants, snapshot_tables
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.extensions import db

# statement → the constraint names of which the refusal must name one
CHECKS = [
    pytest.param(
        "UPDATE inventory_entries SET quantity = -1, reserved_quantity = 0 WHERE id = :entry",
        ("quantity_nonnegative", "reserved_within_quantity"), id="quantity-below-zero",
    ),
    pytest.param(
        "UPDATE inventory_entries SET reserved_quantity = -1 WHERE id = :entry",
        ("reserved_nonnegative",), id="reserved-below-zero",
    ),
    pytest.param(
        "UPDATE inventory_entries SET reserved_quantity = quantity + 1 WHERE id = :entry",
        ("reserved_within_quantity",), id="reserved-above-quantity",
    ),
    pytest.param(
        "UPDATE reservations SET open_quantity = quantity + 1 WHERE entry_id = :entry",
        ("open_within_quantity",), id="hold-open-above-quantity",
    ),
    pytest.param(
        "INSERT INTO stock_movements (store_id, entry_id, product_id, location_id, type, "
        "quantity_delta, reserved_delta, quantity_after, reserved_after, actor_name, created_at) "
        "SELECT store_id, id, product_id, location_id, 'adjustment', 0, 0, quantity, "
        "reserved_quantity, '', created_at FROM inventory_entries WHERE id = :entry",
        ("actor_named",), id="ledger-row-without-actor",
    ),
]
LEDGER_REWRITES = [
    pytest.param("UPDATE stock_movements SET quantity_delta = quantity_delta + 1",
                 id="update-delta"),
    pytest.param("UPDATE stock_movements SET reason = 'tidied up' WHERE entry_id = :entry",
                 id="update-reason"),
    pytest.param("DELETE FROM stock_movements WHERE entry_id = :entry", id="delete-rows"),
    pytest.param("DELETE FROM stock_movements", id="delete-all"),
]


@pytest.mark.parametrize(("statement", "constraints"), CHECKS)
def test_the_database_refuses_to_break_a_check(app, make_entry, statement, constraints):
    entry = make_entry(quantity=10, reserved=4)
    before = snapshot_tables()

    with pytest.raises(IntegrityError) as refused:
        db.session.execute(text(statement), {"entry": entry.id})
        db.session.commit()
    db.session.rollback()

    assert any(name in str(refused.value) for name in constraints), refused.value
    assert snapshot_tables() == before
    assert_invariants()


@pytest.mark.parametrize("statement", LEDGER_REWRITES)
def test_the_database_refuses_to_rewrite_the_ledger(app, make_entry, statement):
    entry = make_entry(quantity=10, reserved=4)
    before = snapshot_tables()

    with pytest.raises(DBAPIError) as refused:
        db.session.execute(text(statement), {"entry": entry.id})
        db.session.commit()
    db.session.rollback()

    assert "stock_movements is append-only" in str(refused.value)
    assert snapshot_tables() == before
    assert_invariants()
