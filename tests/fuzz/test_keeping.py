"""The fuzz's own instruments: a fingerprint that sees any change, and a reset that undoes
it. Without them "nothing changed" would hold by construction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.extensions import db
from app.permissions import system_actor
from app.services import stock

from .conftest import changed_tables, fingerprint
from .test_forms import build_world


def test_the_fingerprint_sees_a_change_and_the_reset_undoes_it(
    keep_world: Callable[..., Any],
) -> None:
    kept = keep_world("forms", build_world)
    before = fingerprint()
    stock.set_threshold(actor=system_actor("fuzz"), entry_id=kept.data.entry_main,
                            low_stock_threshold=7)
    after = fingerprint()
    # A threshold is not stock: the entry changes, and the audit trail records it.
    assert changed_tables(before, after) == ["audit_events", "inventory_entries"]
    # A row added to the ledger, and one to the tallies, are seen as well.
    stock.adjust_stock(actor=system_actor("fuzz"), entry_id=kept.data.entry_main,
                           delta=1, reason="fuzz")
    assert {"stock_movements", "inventory_entries"} <= set(changed_tables(before, fingerprint()))
    kept.reset()
    assert fingerprint() == before
    db.session.remove()
