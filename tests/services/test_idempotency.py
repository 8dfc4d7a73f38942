from dataclasses import replace

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Product
from app.services import catalog, stock
from app.services.errors import Conflict, IdempotencyKeyReused, InsufficientStock
from app.services.idempotency import once


def test_a_repeat_returns_the_first_result_and_writes_nothing(
    make_entry, store, owner, ledger, snapshot
):
    entry = make_entry(quantity=10, store=store)
    first = stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-3, reason="Sold",
                                   idempotency_key="req-1")
    before = snapshot()

    again = stock.adjust_stock(actor=owner, entry_id=entry.id, delta=-3, reason="Sold",
                                   idempotency_key="req-1")

    assert first.replayed is False
    assert again.replayed is True
    assert again == replace(first, replayed=True)
    assert snapshot() == before
    assert [r["type"] for r in ledger(entry.id)] == ["received", "adjustment"]


def test_a_repeat_replays_the_original_even_after_the_stock_moved(
    make_entry, admin_actor, stored
):
    entry = make_entry(quantity=10)
    first = stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=4,
                                    order_ref="ORD", idempotency_key="k")
    stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=5, reason="Delivery")

    again = stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=4,
                                    order_ref="ORD", idempotency_key="k")

    assert again == replace(first, replayed=True)
    assert again.entry.quantity == 10
    row = stored(entry.id)
    assert (row["quantity"], row["reserved_quantity"]) == (15, 4)


def test_the_same_key_with_another_payload_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10)
    stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=-3, reason="Sold",
                           idempotency_key="k")

    with refused(IdempotencyKeyReused,
                 "This idempotency key was already used for a different request.") as info:
        stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=-4, reason="Sold",
                               idempotency_key="k")

    assert info.value.fields == {"idempotency_key": "already used for a different request"}


def test_the_same_key_for_another_operation_is_refused(make_entry, admin_actor, refused):
    entry = make_entry(quantity=10)
    stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=2, reason="x",
                           idempotency_key="k")

    with refused(IdempotencyKeyReused):
        stock.return_stock(actor=admin_actor, entry_id=entry.id, quantity=2, reason="x",
                               idempotency_key="k")


def test_keys_belong_to_their_actor(make_entry, store, member, trail):
    entry = make_entry(quantity=10, store=store)
    alice, bob = member(store, "owner"), member(store, "admin")

    a = stock.adjust_stock(actor=alice, entry_id=entry.id, delta=-1, reason="x",
                               idempotency_key="same")
    b = stock.adjust_stock(actor=bob, entry_id=entry.id, delta=-1, reason="x",
                               idempotency_key="same")

    assert (a.replayed, b.replayed) == (False, False)
    assert b.entry.quantity == 8
    assert trail(entry.id)[-2:] == [("adjustment", -1, 0, 9, 0), ("adjustment", -1, 0, 8, 0)]


def test_a_refused_request_does_not_use_up_its_key(make_entry, admin_actor, refused):
    entry = make_entry(quantity=3)

    with refused(InsufficientStock):
        stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=5,
                                order_ref="ORD", idempotency_key="k")
    stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=2, reason="Delivery")

    change = stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=5,
                                     order_ref="ORD", idempotency_key="k")

    assert change.replayed is False
    assert change.entry.reserved_quantity == 5


def test_surrounding_spaces_do_not_make_a_new_key(make_entry, admin_actor):
    entry = make_entry(quantity=10)
    first = stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="x",
                                   idempotency_key="k")

    again = stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=1, reason="x",
                                   idempotency_key="  k ")

    assert again == replace(first, replayed=True)


def test_every_operation_replays_instead_of_repeating(
    store, location, make_location, make_product, make_entry, owner, snapshot, subtests
):
    there = make_location(store)

    def entry(quantity=10, reserved=0):
        return make_entry(quantity=quantity, reserved=reserved, location=location)

    def hold():
        e = entry()
        return stock.reserve_stock(actor=owner, entry_id=e.id, quantity=3,
                                       order_ref="H").reservation_ids[0]

    def moved():
        e = entry()
        return {"product_id": e.product_id, "from_location_id": location.id,
                "to_location_id": there.id, "quantity": 4}

    def order():
        e = entry()
        return {"store_id": store.id, "order_ref": "O", "lines": [
            {"product_id": e.product_id, "location_id": location.id, "quantity": 2},
            {"product_id": make_product(store, type="digital").id, "quantity": 9},
        ]}

    cases = [
        (stock.adjust_stock, lambda: {"entry_id": entry().id, "delta": -2, "reason": "x"}),
        (stock.set_stock, lambda: {"entry_id": entry().id, "quantity": 4}),
        (stock.count_stock, lambda: {"entry_id": entry().id, "counted_quantity": 7}),
        (stock.return_stock, lambda: {"entry_id": entry().id, "quantity": 1,
                                          "reason": "x"}),
        (stock.reserve_stock, lambda: {"entry_id": entry().id, "quantity": 2,
                                           "order_ref": "O"}),
        (stock.release_stock, lambda: {"reservation_id": hold()}),
        (stock.fulfill_stock, lambda: {"entry_id": entry(reserved=5).id, "quantity": 2}),
        (stock.transfer_stock, moved),
        (stock.set_threshold, lambda: {"entry_id": entry().id, "low_stock_threshold": 4}),
        (stock.delete_entry, lambda: {"entry_id": entry().id}),
        (stock.create_entry, lambda: {"product_id": make_product(store).id,
                                          "location_id": location.id, "quantity": 6}),
        (stock.reserve_order, order),
    ]
    for n, (operation, prepare) in enumerate(cases):
        with subtests.test(operation.__name__):
            kwargs = prepare()
            first = operation(actor=owner, idempotency_key=f"key-{n}", **kwargs)
            before = snapshot()

            again = operation(actor=owner, idempotency_key=f"key-{n}", **kwargs)

            assert again == replace(first, replayed=True)
            assert snapshot() == before


# --------------------------------------------------------------------------- once


def test_once_commits_the_service_calls_inside_it_together_or_not_at_all(store, owner,
                                                                         snapshot):
    """The write transactions of the services called inside `once` join its own: a later
    refusal undoes an earlier call's change, and the key stays free for the retry."""
    catalog.create_product(actor=owner, store_id=store.id, sku="TAKEN", title="Taken")
    before = snapshot()

    def two_products(second: str) -> dict:
        catalog.create_product(actor=owner, store_id=store.id, sku="FIRST", title="First")
        made = catalog.create_product(actor=owner, store_id=store.id, sku=second, title="Two")
        return {"sku": made.sku}

    with pytest.raises(Conflict):
        once("test.two", owner, "k-1", {"n": 1}, lambda: two_products("TAKEN"))
    assert snapshot() == before

    first = once("test.two", owner, "k-1", {"n": 1}, lambda: two_products("SECOND"))
    assert first.body == {"sku": "SECOND"} and not first.replayed
    db.session.rollback()
    assert db.session.scalars(select(Product.sku).order_by(Product.sku)).all() == [
        "FIRST", "SECOND", "TAKEN"]
    after = snapshot()
    # A repeat gets the stored answer and calls nothing; another request under the key is
    # refused.
    again = once("test.two", owner, "k-1", {"n": 1}, lambda: pytest.fail("called again"))
    assert again == replace(first, replayed=True)
    with pytest.raises(IdempotencyKeyReused):
        once("test.two", owner, "k-1", {"n": 2}, lambda: pytest.fail("called"))
    assert snapshot() == after
