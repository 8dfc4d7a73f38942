from datetime import datetime, timedelta

from sqlalchemy import text

from app.clock import frozen_at
from app.extensions import db
from app.services import stock
from app.services.ledger import Mismatch, verify_ledger

T0 = datetime(2030, 11, 1, 9, 0)


def test_the_ledger_replays_to_the_stock_after_a_mix_of_operations(
    make_store, make_location, make_product, make_entry, member, ledger, stored, holds
):
    touched = []
    for _ in range(2):
        store = make_store()
        actor = member(store, "owner")
        here, there = make_location(store), make_location(store)
        product = make_product(store)
        a = make_entry(quantity=50, location=here, product=product)
        b = make_entry(quantity=5, location=make_location(store))
        touched += [a.id, b.id]
        stock.adjust_stock(actor=actor, entry_id=a.id, delta=-4, reason="Damaged")
        stock.set_stock(actor=actor, entry_id=b.id, quantity=9)
        stock.count_stock(actor=actor, entry_id=b.id, counted_quantity=8)
        with frozen_at(T0):
            stale = stock.reserve_stock(
                actor=actor, entry_id=a.id, quantity=5, order_ref="OLD",
                expires_at=T0 + timedelta(minutes=5),
            ).reservation_ids[0]
        hold = stock.reserve_stock(actor=actor, entry_id=a.id, quantity=6,
                                       order_ref="ORD-1").reservation_ids[0]
        stock.release_stock(actor=actor, reservation_id=hold, quantity=2)
        stock.fulfill_stock(actor=actor, entry_id=a.id, quantity=3, order_ref="ORD-1")
        stock.return_stock(actor=actor, entry_id=a.id, quantity=2, reason="Return")
        change = stock.transfer_stock(
            actor=actor, product_id=product.id, from_location_id=here.id,
            to_location_id=there.id, quantity=7,
        )
        touched.append(change.entries[1].id)
        stock.reserve_order(
            actor=actor, store_id=store.id, order_ref="ORD-2",
            lines=[{"product_id": product.id, "location_id": there.id, "quantity": 2},
                   {"product_id": product.id, "location_id": here.id, "quantity": 1}],
        )
        stock.expire_reservations(now=T0 + timedelta(minutes=10))
        assert [h["status"] for h in holds(a.id) if h["id"] == stale] == ["expired"]
        stock.delete_entry(actor=actor, entry_id=b.id)

    assert verify_ledger() == []
    for entry_id in touched:
        rows = ledger(entry_id)
        now = stored(entry_id) or {"quantity": 0, "reserved_quantity": 0,
                                   "store_id": rows[0]["store_id"]}
        assert sum(r["quantity_delta"] for r in rows) == now["quantity"]
        assert sum(r["reserved_delta"] for r in rows) == now["reserved_quantity"]
        assert {r["store_id"] for r in rows} == {now["store_id"]}
        assert all(r["actor_name"] for r in rows)


def test_verify_ledger_reports_stock_changed_behind_its_back(
    make_entry, admin_actor, corrupts_ledger
):
    entry = make_entry(quantity=10)
    db.session.execute(text("UPDATE inventory_entries SET quantity = quantity + 1 WHERE id = :id"),
                       {"id": entry.id})
    db.session.commit()

    assert verify_ledger() == [Mismatch(entry.id, "quantity", 10, 11)]


def test_verify_ledger_reports_a_reservation_out_of_step(
    make_entry, admin_actor, corrupts_ledger
):
    entry = make_entry(quantity=10, reserved=4)
    db.session.execute(text("UPDATE reservations SET open_quantity = 1 WHERE entry_id = :id"),
                       {"id": entry.id})
    db.session.commit()

    assert verify_ledger() == [Mismatch(entry.id, "active reservations", 1, 4)]
