"""Fail closed, once per stock writer: an exception between a stock change and its ledger
rows leaves nothing behind: no quantity change, no ledger row, no reservation, no
idempotency record, no import batch.

The fault goes into the engine's one ledger writer (`engine.write_ledger`), so every path
that changes stock is covered the same way: each single verb, an order's reservation and
its release, shipment and return through the API, bulk adjust, import apply, transfer and
a purchase order's receipt. The threshold writers (single and bulk), and placing or
cancelling a purchase order (which move incoming), write no ledger row; for them the fault
is raised after the change, before the transaction commits.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import current_app
from oracle import assert_invariants, snapshot_tables
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Location, Product, Store
from app.services import bundles, channels, purchasing, stock
from app.services.people import tokens
from app.services.stock import engine
from app.services.stock.engine import entries


class Injected(RuntimeError):
    pass


class Setup:
    """An entry of 20 with a hold of 5 (order ORDER-1, line L1), 2 units of it shipped for
    ORDER-2, and a location of its store without an entry. The store's owner has a token."""

    def __init__(self, make_entry: Callable[..., Any], make_location: Callable[..., Any],
                 make_user: Callable[..., Any], admin_actor: Any,
                 make_product: Callable[..., Any]) -> None:
        self.entry = make_entry(quantity=22)
        self.store = db.session.get(Store, self.entry.store_id)
        line = {"product_id": self.entry.product_id, "location_id": self.entry.location_id,
                "line_ref": "L1"}
        self.hold = stock.reserve_order(
            actor=admin_actor, store_id=self.store.id, order_ref="ORDER-1",
            lines=[{**line, "quantity": 5}],
        ).reservation_ids[0]
        stock.reserve_order(actor=admin_actor, store_id=self.store.id, order_ref="ORDER-2",
                            lines=[{**line, "quantity": 2}])
        stock.fulfill_order(actor=admin_actor, store_id=self.store.id, order_ref="ORDER-2")
        self.empty_location = make_location(self.store).id
        # A second location holding the product, and a channel selling from both.
        self.other_location = make_location(self.store).id
        stock.create_entry(actor=admin_actor, product_id=self.entry.product_id,
                           location_id=self.other_location, quantity=10)
        # A bundle of two of the product.
        self.bundle = make_product(self.store, "KIT-2")
        bundles.set_components(actor=admin_actor, bundle_id=self.bundle.id,
                               parts=[(self.entry.product_id, 2)])
        self.channel = channels.create_channel(
            actor=admin_actor, store_id=self.store.id, code="WEB",
            location_ids=[self.entry.location_id, self.other_location], allow_split=True).id
        self.token = tokens.create_token(
            user_id=make_user(role="owner", store=self.store).id, name="fail-closed"
        )[1]
        location = db.session.get(Location, self.entry.location_id)
        product = db.session.get(Product, self.entry.product_id)
        self.sku = product.sku
        self.csv = (f"store,location,sku,quantity\r\n"
                    f"{self.store.slug},{location.code},{product.sku},7\r\n").encode()
        # A purchase order placed for 10 more of the product here, and a draft for 5.
        supplier = purchasing.create_supplier(actor=admin_actor, store_id=self.store.id,
                                              name="Acme")
        line = {"product_id": self.entry.product_id, "location_id": self.entry.location_id,
                "unit_cost": "2.00"}
        self.open_order = purchasing.order_purchase_order(
            actor=admin_actor, order_id=purchasing.create_purchase_order(
                actor=admin_actor, supplier_id=supplier.id,
                lines=[{**line, "quantity": 10}]).id)
        self.draft_order = purchasing.create_purchase_order(
            actor=admin_actor, supplier_id=supplier.id, lines=[{**line, "quantity": 5}])


def _api(path: str, body: dict[str, Any]) -> Callable[..., Any]:
    def call(s: Setup, *, actor: Any, idempotency_key: str | None) -> Any:
        headers = {"Authorization": f"Bearer {s.token}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        response = current_app.test_client().post(path, json=body, headers=headers)
        if response.status_code >= 500:
            raise Injected(f"{path} answered {response.status_code}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response

    return call


def _line(s: Setup, quantity: int) -> dict[str, Any]:
    return {"product_id": s.entry.product_id, "location_id": s.entry.location_id,
            "quantity": quantity, "line_ref": "L9"}


def _import(s: Setup, *, actor: Any, idempotency_key: str | None) -> Any:
    batch = f"import-{idempotency_key}" if idempotency_key else None
    return stock.apply_import(s.csv, actor=actor, batch_ref=batch)


def _import_new_variant(s: Setup, *, actor: Any, idempotency_key: str | None) -> Any:
    """An import that adds a product to the catalog (a new item with one option) and
    stocks it: the products go with everything else when the transaction fails."""
    code = db.session.get(Location, s.empty_location).code
    data = (f"store,location,sku,quantity,item,options\r\n"
            f"{s.store.slug},{code},NEW-VAR-1,7,Kit Parka,Size: M\r\n").encode()
    batch = f"import-{idempotency_key}" if idempotency_key else None
    return stock.apply_import(data, actor=actor, batch_ref=batch)


@dataclass(frozen=True)
class Writer:
    call: Callable[..., Any]
    # Where the fault goes: "ledger" (the ledger writer) or "commit" (after the work).
    fault: str = "ledger"
    # False where the ledger row is written before the change it records (a deleted
    # entry's last row), so nothing has changed yet when the fault fires.
    changed_first: bool = True


WRITERS: dict[str, Writer] = {
    "adjust": Writer(lambda s, **k: stock.adjust_stock(
        entry_id=s.entry.id, delta=-3, reason="Damaged", **k)),
    "set": Writer(lambda s, **k: stock.set_stock(entry_id=s.entry.id, quantity=15, **k)),
    "count": Writer(lambda s, **k: stock.count_stock(
        entry_id=s.entry.id, counted_quantity=8, **k)),
    "count_many": Writer(lambda s, **k: stock.count_many(
        location_id=s.entry.location_id, lines=[{"code": s.sku, "counted_quantity": 8}], **k)),
    "threshold": Writer(lambda s, **k: stock.set_threshold(
        entry_id=s.entry.id, low_stock_threshold=4, **k), fault="commit"),
    "create": Writer(lambda s, **k: stock.create_entry(
        product_id=s.entry.product_id, location_id=s.empty_location, quantity=4, **k)),
    "delete": Writer(lambda s, **k: stock.delete_entry(entry_id=s.spare.id, **k),
                     changed_first=False),
    "reserve": Writer(lambda s, **k: stock.reserve_stock(
        entry_id=s.entry.id, quantity=2, order_ref="ORDER-9", **k)),
    "release": Writer(lambda s, **k: stock.release_stock(
        reservation_id=s.hold, quantity=1, **k)),
    "fulfill": Writer(lambda s, **k: stock.fulfill_stock(
        entry_id=s.entry.id, quantity=2, **k)),
    "return": Writer(lambda s, **k: stock.return_stock(
        entry_id=s.entry.id, quantity=2, reason="Returned", **k)),
    "transfer": Writer(lambda s, **k: stock.transfer_stock(
        product_id=s.entry.product_id, from_location_id=s.entry.location_id,
        to_location_id=s.empty_location, quantity=3, **k)),
    "reserve_order": Writer(lambda s, **k: stock.reserve_order(
        store_id=s.store.id, order_ref="ORDER-9", lines=[_line(s, 2)], **k)),
    "reserve_order_on_a_channel": Writer(lambda s, **k: stock.reserve_order(
        store_id=s.store.id, order_ref="ORDER-9", channel_id=s.channel,
        lines=[{"product_id": s.entry.product_id, "quantity": 20, "line_ref": "L9"}], **k)),
    "reserve_order_bundle": Writer(lambda s, **k: stock.reserve_order(
        store_id=s.store.id, order_ref="ORDER-9", lines=[
            {"product_id": s.bundle.id, "location_id": s.entry.location_id, "quantity": 3,
             "line_ref": "K1"}], **k)),
    "move_reservation": Writer(lambda s, **k: stock.move_reservation(
        reservation_id=s.hold, location_id=s.other_location, **k)),
    "api_reserve_order": Writer(lambda s, **k: _api(
        "/api/v1/orders/ORDER-9/reserve",
        {"lines": [_line(s, 2)], "expires_in_seconds": 600})(s, **k)),
    "api_release_order": Writer(lambda s, **k: _api(
        "/api/v1/orders/ORDER-1/release", {})(s, **k)),
    "api_fulfill_order": Writer(lambda s, **k: _api(
        "/api/v1/orders/ORDER-1/fulfill", {})(s, **k)),
    "api_return_order": Writer(lambda s, **k: _api(
        "/api/v1/orders/ORDER-2/return",
        {"lines": [{"line_ref": "L1", "quantity": 1}], "reason": "Came back"})(s, **k)),
    "bulk_adjust": Writer(lambda s, **k: stock.bulk_adjust(
        selection=stock.selection(entry_ids=[s.entry.id, s.spare.id]), delta=2,
        reason="Recount", **k)),
    "bulk_threshold": Writer(lambda s, **k: stock.bulk_threshold(
        selection=stock.selection(entry_ids=[s.entry.id, s.spare.id]),
        low_stock_threshold=6, **k), fault="commit"),
    "import_apply": Writer(_import),
    "import_apply_new_variant": Writer(_import_new_variant),
    "receive_purchase_order": Writer(lambda s, **k: purchasing.receive_purchase_order(
        order_id=s.open_order.id, lines=[{"line_id": s.open_order.lines[0].id, "quantity": 3}],
        **k)),
    "order_purchase_order": Writer(lambda s, **k: purchasing.order_purchase_order(
        order_id=s.draft_order.id, **k), fault="commit"),
    "cancel_purchase_order": Writer(lambda s, **k: purchasing.cancel_purchase_order(
        order_id=s.open_order.id, **k), fault="commit"),
}


def _replace_everywhere(monkeypatch: pytest.MonkeyPatch, original: Any, fake: Any) -> None:
    """Swap `original` for `fake` in every module of the stock and purchasing packages
    that holds it."""
    for name, module in list(sys.modules.items()):
        if name.startswith(("app.services.stock", "app.services.purchasing")):
            for attr, value in list(vars(module).items()):
                if value is original:
                    monkeypatch.setattr(module, attr, fake)


def _tables() -> dict[str, list[Any]]:
    """Every table's rows, but the token's last use, which an API request stamps whatever
    becomes of the request."""
    tables = snapshot_tables()
    tables.pop("api_tokens")
    return tables


def _state(session: Session, entry_id: int) -> tuple[Any, ...] | None:
    row = session.execute(
        select(entries.c.quantity, entries.c.reserved_quantity, entries.c.low_stock_threshold,
               entries.c.incoming_quantity)
        .where(entries.c.id == entry_id)
    ).one_or_none()
    return None if row is None else tuple(row)


@pytest.mark.parametrize("key", [None, "retry-key"], ids=["plain", "with-key"])
@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_failure_between_the_change_and_its_record_changes_nothing(
    app, make_entry, make_location, make_user, make_product, admin_actor, monkeypatch, writer,
    key,
):
    setup = Setup(make_entry, make_location, make_user, admin_actor, make_product)
    setup.spare = make_entry(quantity=9)  # type: ignore[attr-defined]
    how = WRITERS[writer]
    before = _tables()
    stored = {r.id: (r.quantity, r.reserved_quantity, r.low_stock_threshold,
                     r.incoming_quantity)
              for r in before["inventory_entries"]}
    seen_inside: list[tuple[int, Any]] = []

    if how.fault == "ledger":
        def failing_writer(session: Session, actor: Any, rows: Any, *args: Any,
                           **kwargs: Any) -> list[int]:
            # Note what the change already did inside the transaction, then fail.
            entry_id = rows[0].entry_id
            seen_inside.append((entry_id, _state(session, entry_id)))
            raise Injected("the ledger insert failed")

        _replace_everywhere(monkeypatch, engine.write_ledger, failing_writer)
    else:
        real_run = engine.run_mutation

        def run_then_fail(operation: str, actor: Any, idem: Any, params: Any,
                          work: Callable[[Session], Any]) -> Any:
            def failing_work(session: Session) -> Any:
                work(session)
                seen_inside.append((setup.entry.id, _state(session, setup.entry.id)))
                raise Injected("the transaction failed before it committed")

            return real_run(operation, actor, idem, params, failing_work)

        _replace_everywhere(monkeypatch, real_run, run_then_fail)

    call = WRITERS[writer].call
    with pytest.raises(Injected):
        call(setup, actor=admin_actor, idempotency_key=key)

    assert seen_inside, "the injected failure never ran"
    entry_id, inside = seen_inside[0]
    if how.changed_first:
        assert inside != stored.get(entry_id), (
            "the failure was injected before the stock change, not after it"
        )
    assert _tables() == before

    # Once the fault is gone the same request (and key) goes through normally, once.
    monkeypatch.undo()
    result = call(setup, actor=admin_actor, idempotency_key=key)
    if isinstance(result, stock.StockChange):
        assert not result.replayed
    elif isinstance(result, stock.ImportResult):
        assert not result.replayed and result.movements
    elif isinstance(result, purchasing.PurchaseOrderView):
        assert not result.replayed
    else:
        assert "Idempotent-Replayed" not in result.headers
    assert _tables() != before
    assert_invariants()
