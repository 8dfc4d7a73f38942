"""Idempotency: sixteen concurrent submits of one request with one key have one effect and
write one ledger row; the rest replay the first result. Another payload under the same key
is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from oracle import assert_invariants, committed, entry_row, ledger_rows
from sqlalchemy import func, select

from app.models import Item, Product, Reservation
from app.permissions import system_actor
from app.services import items, stock
from app.services.errors import IdempotencyKeyReused
from app.services.idempotency import once

from .harness import hammer, summary

THREADS = 16
ACTOR = system_actor("checkout")


def reserve(entry_id: int, quantity: int, key: str, **extra: Any) -> stock.StockChange:
    return stock.reserve_stock(
        actor=extra.pop("actor", ACTOR), entry_id=entry_id, quantity=quantity,
        order_ref="ORDER-1", idempotency_key=key, **extra,
    )


def adjust(entry_id: int, quantity: int, key: str, **extra: Any) -> stock.StockChange:
    return stock.adjust_stock(
        actor=extra.pop("actor", ACTOR), entry_id=entry_id, delta=-quantity,
        reason="Damaged", idempotency_key=key, **extra,
    )


SUBMITS = [pytest.param(reserve, id="reserve"), pytest.param(adjust, id="adjust")]


def entry_state(entry_id: int) -> tuple[int, int, int]:
    row = entry_row(entry_id)
    return row.quantity, row.reserved_quantity, row.version


def holds() -> int:
    (row,) = committed(select(func.count()).select_from(Reservation))
    return int(row[0])


@pytest.mark.parametrize("submit", SUBMITS)
def test_one_key_sixteen_concurrent_submits_one_effect(
    app, make_entry, submit: Callable[..., stock.StockChange]
):
    entry = make_entry(quantity=50)
    ledger_before, holds_before = ledger_rows(), holds()

    outcomes = hammer(app, THREADS, 1, lambda t, n: submit(entry.id, 3, "key-1"))

    assert outcomes.errors == [], summary(outcomes)
    changes = outcomes.values
    first = [c for c in changes if not c.replayed]
    assert len(first) == 1, f"{len(first)} submits took effect"
    for change in changes:
        assert (change.movement_ids, change.reservation_ids, change.entries) == (
            first[0].movement_ids, first[0].reservation_ids, first[0].entries
        )
    assert ledger_rows() - ledger_before == 1
    expected_holds = 1 if submit is reserve else 0
    assert holds() - holds_before == expected_holds
    quantity, reserved, _ = entry_state(entry.id)
    assert (quantity, reserved) == ((50, 3) if submit is reserve else (47, 0))
    assert_invariants()


@pytest.mark.parametrize("submit", SUBMITS)
def test_same_key_other_payload_is_refused_and_changes_nothing(
    app, make_entry, submit: Callable[..., stock.StockChange]
):
    entry = make_entry(quantity=50)
    submit(entry.id, 3, "key-1")
    before = entry_state(entry.id), ledger_rows(), holds()

    with pytest.raises(IdempotencyKeyReused):
        submit(entry.id, 4, "key-1")
    assert (entry_state(entry.id), ledger_rows(), holds()) == before
    # Sixteen different payloads racing for one fresh key: one takes it, the rest are refused.
    outcomes = hammer(app, THREADS, 1, lambda t, n: submit(entry.id, 1 + t, "key-2"))

    assert len(outcomes.results) == 1, summary(outcomes)
    assert len(outcomes.errors_of(IdempotencyKeyReused)) == THREADS - 1, summary(outcomes)
    winner = outcomes.values[0]
    assert not winner.replayed
    assert ledger_rows() - before[1] == 1
    # The same key belongs to each actor separately.
    other = submit(entry.id, 3, "key-1", actor=system_actor("another-checkout"))
    assert not other.replayed
    assert ledger_rows() - before[1] == 2
    assert_invariants()


def test_a_catalog_change_under_one_key_sixteen_times_at_once_is_made_once(app, make_store):
    """The catalog's keyed changes run through `once`: the services' transactions join the
    one that claims the key, so concurrent repeats wait on the claim and replay the first
    answer instead of making the item again (or failing on its SKUs)."""
    store = make_store()
    options = [items.Option("Size", ("S", "M", "L"))]

    def create() -> dict[str, Any]:
        made = items.create_item(actor=ACTOR, store_id=store.id, title="Parka",
                                 options=options,
                                 variants_to_make=items.generate(options, "PRK"))
        return {"item_id": made.id, "product_ids": list(made.product_ids)}

    outcomes = hammer(app, THREADS, 1, lambda t, n: once(
        "item.create", ACTOR, "parka-1", {"title": "Parka"}, create))

    assert outcomes.errors == [], summary(outcomes)
    answers = outcomes.values
    assert len([a for a in answers if not a.replayed]) == 1
    assert len({repr(a.body) for a in answers}) == 1
    (row,) = committed(select(func.count()).select_from(Item))
    assert row[0] == 1
    (row,) = committed(select(func.count()).select_from(Product))
    assert row[0] == 3
