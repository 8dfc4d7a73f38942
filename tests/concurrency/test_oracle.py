"""The oracle itself: each kind of corruption the database still allows is reported under
the invariant it breaks. (I1 cannot be corrupted at all: see test_backstop.py.)"""

from __future__ import annotations

import pytest
from oracle import assert_invariants, invariant_violations
from sqlalchemy import text

from app.extensions import db
from app.models import Store

LEDGER_ROW = (
    "INSERT INTO stock_movements (store_id, entry_id, product_id, location_id, type, "
    "quantity_delta, reserved_delta, quantity_after, reserved_after, actor_name, created_at) "
    "SELECT store_id, id, {product}, location_id, 'adjustment', {delta}, 0, quantity, "
    "reserved_quantity, {actor}, created_at FROM inventory_entries WHERE id = :entry"
)
CORRUPTIONS = [
    pytest.param("UPDATE inventory_entries SET quantity = quantity + 1 WHERE id = :entry",
                 "I2 entry", id="quantity-without-ledger-row"),
    pytest.param("UPDATE inventory_entries SET quantity = quantity + 1, "
                 "reserved_quantity = reserved_quantity + 1 WHERE id = :entry",
                 "I3 entry", id="reserved-without-hold"),
    pytest.param(LEDGER_ROW.format(product="product_id", delta=1, actor="'x'"),
                 "I2 movement", id="ledger-row-with-wrong-result"),
    pytest.param("UPDATE reservations SET open_quantity = open_quantity - 1 "
                 "WHERE entry_id = :entry", "I3 entry", id="hold-shrunk"),
    pytest.param(LEDGER_ROW.format(product="product_id", delta=0, actor="'   '"),
                 "I4 movement", id="ledger-row-blank-actor"),
    pytest.param(LEDGER_ROW.format(product=":other_product", delta=0, actor="'x'"),
                 "I4 movement", id="ledger-row-of-another-product"),
]


@pytest.mark.parametrize(("statement", "reported_as"), CORRUPTIONS)
def test_the_oracle_reports_each_corruption(
    app, make_entry, make_product, statement, reported_as
):
    entry = make_entry(quantity=10, reserved=4)
    other = make_product(db.session.get(Store, entry.store_id))
    assert_invariants()

    db.session.execute(text(statement), {"entry": entry.id, "other_product": other.id})
    db.session.commit()

    problems = invariant_violations()
    assert any(p.startswith(reported_as) for p in problems), problems
    with pytest.raises(AssertionError, match="invariant violation"):
        assert_invariants()
