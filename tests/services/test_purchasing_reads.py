"""What the purchasing screens read: each supplier's counts, a store's orders a page at a
time, and the product a scanned code names whether or not it is stocked anywhere."""

from __future__ import annotations

import pytest

from app.services import purchasing, queries
from app.services.errors import NotFound, PermissionDenied, ValidationError
from app.services.purchasing import SupplierCounts


@pytest.fixture
def goods(store, location, make_product):
    return (make_product(store, "MUG-1", title="Mug", gtin="4006381333931"),
            make_product(store, "POT-1", title="Pot"))


def _draft(owner, supplier, product, location, quantity=1):
    return purchasing.create_purchase_order(
        actor=owner, supplier_id=supplier.id,
        lines=[{"product_id": product.id, "location_id": location.id, "quantity": quantity,
                "unit_cost": "1.00"}])


def test_supplier_counts_say_items_drafts_and_open_orders(store, location, owner, goods):
    acme = purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme")
    idle = purchasing.create_supplier(actor=owner, store_id=store.id, name="Idle")
    for product in goods:
        purchasing.set_supplier_item(actor=owner, supplier_id=acme.id, product_id=product.id,
                                     unit_cost="1")
    _draft(owner, acme, goods[0], location)
    placed = purchasing.order_purchase_order(
        actor=owner, order_id=_draft(owner, acme, goods[1], location).id)
    purchasing.receive_purchase_order(
        actor=owner, order_id=placed.id, lines=[{"line_id": placed.lines[0].id,
                                                 "quantity": 1}])
    closed = _draft(owner, acme, goods[0], location)
    purchasing.cancel_purchase_order(actor=owner, order_id=closed.id)
    third = purchasing.order_purchase_order(
        actor=owner, order_id=_draft(owner, acme, goods[0], location, 5).id)
    purchasing.receive_purchase_order(
        actor=owner, order_id=third.id, lines=[{"line_id": third.lines[0].id, "quantity": 2}])

    counts = purchasing.supplier_counts(owner, store.id)
    # Received and cancelled orders are neither drafts nor open; a partly received one is.
    assert counts == {acme.id: SupplierCounts(items=2, drafts=1, open_orders=1)}
    assert idle.id not in counts


def test_supplier_counts_are_for_readers_of_the_store(store, make_store, member):
    with pytest.raises(NotFound):
        purchasing.supplier_counts(member(make_store()), store.id)


def test_orders_page_by_key_newest_first(store, location, owner, goods):
    acme = purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme")
    made = [_draft(owner, acme, goods[0], location) for _ in range(5)]
    first = purchasing.list_purchase_orders(owner, store.id, limit=2)
    assert [o.number for o in first] == [made[4].number, made[3].number]
    second = purchasing.list_purchase_orders(owner, store.id, limit=2, before_id=first[-1].id)
    assert [o.number for o in second] == [made[2].number, made[1].number]
    last = purchasing.list_purchase_orders(owner, store.id, limit=2, before_id=made[0].id)
    assert last == []
    for bad in (0, -1, "7", 2**40):
        with pytest.raises(ValidationError) as caught:
            purchasing.list_purchase_orders(owner, store.id, before_id=bad)
        assert caught.value.fields == {"before_id": "Not a page of this list."}


def test_a_code_names_a_product_stocked_or_not(store, location, owner, goods, make_store,
                                               make_product, member):
    mug, pot = goods
    assert [p.sku for p in queries.find_product_code(owner, "mug-1", store_id=store.id)] == \
        ["MUG-1"]
    assert [p.id for p in queries.find_product_code(owner, "4006381333931",
                                                    store_id=store.id)] == [mug.id]
    assert queries.find_product_code(owner, "POT", store_id=store.id) == []
    assert queries.find_product_code(owner, "  ", store_id=store.id) == []
    other = make_store()
    make_product(other, "SECRET-1")
    assert queries.find_product_code(owner, "SECRET-1", store_id=other.id) == []
    stranger = member(other)
    assert queries.find_product_code(stranger, "POT-1", store_id=store.id) == []
    found = queries.find_product_code(owner, "POT-1", store_id=store.id)[0]
    assert (found.id, found.title, found.type, found.archived) == (pot.id, "Pot", "physical",
                                                                   False)


def test_reading_purchasing_counts_needs_no_purchasing_right(store, member, owner):
    # Readers see the counts; the screens, not the reads, ask for purchasing:manage.
    viewer = member(store, "staff")
    assert purchasing.supplier_counts(viewer, store.id) == {}
    with pytest.raises(PermissionDenied):
        purchasing.create_supplier(actor=viewer, store_id=store.id, name="Nope")
