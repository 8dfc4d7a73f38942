"""What the stock is worth, against figures worked out by hand: on hand × average cost per
entry, summed per location and store in the store's currency; entries with stock and no
cost counted apart; nothing but physical stock on hand valued; exact past 64 bits on both
databases; seen only by those who may see costs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.permissions import GRANTABLE_TO_STAFF, system_actor
from app.services import purchasing, stock
from app.services.errors import NotFound, PermissionDenied
from app.services.queries import valuation
from app.services.queries.valuation import ValuationFilters


@pytest.fixture
def buy(owner):
    """buy(store, product, location, quantity, cost): an order of one line, placed and
    received, from the store's supplier (made on first use)."""
    suppliers: dict[int, int] = {}
    setup = system_actor("tests")

    def receive(store, product, location, quantity: int, cost: str) -> stock.EntryState:
        if store.id not in suppliers:
            suppliers[store.id] = purchasing.create_supplier(
                actor=setup, store_id=store.id, name=f"Acme {store.id}").id
        order = purchasing.create_purchase_order(
            actor=setup, supplier_id=suppliers[store.id],
            lines=[{"product_id": product.id, "location_id": location.id,
                    "quantity": quantity, "unit_cost": cost}])
        purchasing.order_purchase_order(actor=setup, order_id=order.id)
        return purchasing.receive_purchase_order(
            actor=setup, order_id=order.id,
            lines=[{"line_id": order.lines[0].id, "quantity": quantity}]).entry

    return receive


@pytest.fixture
def shop(store, location, make_location, make_product, make_entry, buy, admin_actor):
    """ entry            on hand  average    value
        P1 at MAIN          10    2.5000     25.0000
        P1 at BACK           4    3.1234     12.4936
        P2 at MAIN          10    0.0001      0.0010   (3 received, 7 found)
        P2 at BACK           0    1.0000      —        (nothing on hand)
        P3 at MAIN           5    —           —        (no cost: counted apart)
        P3 at BACK           0    —           —
        E-BOOK at MAIN       digital: never valued
        MAIN: 2 entries, 20 units, 25.0010, 1 without a cost (5 units)
        BACK: 1 entry, 4 units, 12.4936
        store: 3 entries, 24 units, 37.4946
    """
    back = make_location(store, "back")
    p1, p2, p3 = (make_product(store, sku) for sku in ("P1", "P2", "P3"))
    ebook = make_product(store, "E-BOOK", type="digital")
    buy(store, p1, location, 10, "2.50")
    buy(store, p1, back, 4, "3.1234")
    p2_main = buy(store, p2, location, 3, "0.0001")
    stock.adjust_stock(actor=admin_actor, entry_id=p2_main.id, delta=7, reason="Found")
    p2_back = buy(store, p2, back, 2, "1.00")
    stock.adjust_stock(actor=admin_actor, entry_id=p2_back.id, delta=-2, reason="Broken")
    make_entry(store=store, location=location, product=p3, quantity=5)
    make_entry(store=store, location=back, product=p3, quantity=0)
    return {"back": back, "p1": p1, "p2": p2, "p3": p3, "ebook": ebook}


def test_the_store_is_valued_per_location_as_worked_out_by_hand(store, location, shop, owner):
    found = valuation.stock_value(owner, store_id=store.id)
    (valued,) = found.stores
    assert (valued.store_id, valued.currency, valued.entries, valued.quantity, valued.value,
            valued.uncosted_entries, valued.uncosted_quantity) == (
        store.id, "USD", 3, 24, Decimal("37.4946"), 1, 5)
    assert [(p.location_code, p.entries, p.quantity, p.value, p.uncosted_entries,
             p.uncosted_quantity) for p in valued.locations] == [
        ("BACK", 1, 4, Decimal("12.4936"), 0, 0),
        ("MAIN", 2, 20, Decimal("25.0010"), 1, 5),
    ]
    assert [(t.currency, t.value, t.stores, t.uncosted_entries) for t in found.totals] == [
        ("USD", Decimal("37.4946"), 1, 1)]
    assert found.uncosted_entries == 1 and found.entries == 3

    at_main = valuation.stock_value(owner, location_id=location.id)
    assert [(p.location_code, p.value) for s in at_main.stores for p in s.locations] == [
        ("MAIN", Decimal("25.0010"))]
    assert at_main.totals[0].value == Decimal("25.0010")


def test_each_entry_is_listed_with_its_value_in_the_order_asked(store, location, shop, owner):
    page = valuation.valuation_page(owner, ValuationFilters(store_id=store.id))
    assert [(r.sku, r.location_code, r.quantity, r.average_cost, r.value)
            for r in page.rows] == [
        ("P1", "MAIN", 10, Decimal("2.5000"), Decimal("25.0000")),
        ("P1", "BACK", 4, Decimal("3.1234"), Decimal("12.4936")),
        ("P2", "MAIN", 10, Decimal("0.0001"), Decimal("0.0010")),
    ]
    assert (page.total, page.page, page.pages) == (3, 1, 1)

    cheapest = valuation.valuation_page(
        owner, ValuationFilters(store_id=store.id, sort="cost", descending=False),
        per_page=2, page=2)
    assert [r.sku + "@" + r.location_code for r in cheapest.rows] == ["P1@BACK"]
    assert (cheapest.total, cheapest.page, cheapest.pages) == (3, 2, 2)
    # A page past the last shows the last.
    assert valuation.valuation_page(owner, ValuationFilters(store_id=store.id),
                                    per_page=2, page=9).page == 2

    uncosted = valuation.valuation_page(owner, ValuationFilters(store_id=store.id,
                                                                uncosted=True))
    assert [(r.sku, r.location_code, r.quantity, r.average_cost, r.value)
            for r in uncosted.rows] == [("P3", "MAIN", 5, None, None)]
    assert [r.sku for r in valuation.iter_valuation(
        owner, ValuationFilters(store_id=store.id, sort="sku", descending=False))] == [
        "P1", "P1", "P2"]


def test_a_products_page_gets_its_value_per_location(store, location, shop, owner, member):
    found = valuation.product_value(owner, shop["p1"].id)
    assert found.currency == "USD" and found.value == Decimal("37.4936")
    assert sorted((r.location_code, r.value) for r in found.by_entry.values()) == [
        ("BACK", Decimal("12.4936")), ("MAIN", Decimal("25.0000"))]
    p3 = valuation.product_value(owner, shop["p3"].id)
    assert (p3.value, p3.uncosted_entries) == (Decimal(0), 1)
    staff = member(store, "staff", grants=tuple(GRANTABLE_TO_STAFF))
    assert valuation.product_value(staff, shop["p1"].id) is None


def test_an_admin_across_stores_gets_a_total_per_currency(
    store, location, shop, make_store, make_location, make_product, buy, make_user, actor_of,
    admin_actor,
):
    paris = make_store("Paris")
    purchasing.set_store_currency(actor=admin_actor, store_id=paris.id, currency="EUR")
    buy(paris, make_product(paris, "CHAIR"), make_location(paris, "cave"), 3, "33.3333")
    empty = make_store("Empty")
    admin = actor_of(make_user(platform_admin=True))

    found = valuation.stock_value(admin)
    assert [(s.store_name, s.currency, s.value) for s in found.stores
            if s.store_id in (store.id, paris.id, empty.id)] == [
        ("Empty", "USD", Decimal(0)), ("Paris", "EUR", Decimal("99.9999")),
        (store.name, "USD", Decimal("37.4946"))]
    euros = next(t for t in found.totals if t.currency == "EUR")
    assert (euros.value, euros.stores) == (Decimal("99.9999"), 1)
    assert valuation.overview_value(admin, entries=8).valuation.totals == found.totals


def test_only_those_who_may_see_costs_see_the_value(store, shop, owner, member, make_store,
                                                    refused):
    staff = member(store, "staff", grants=tuple(GRANTABLE_TO_STAFF))
    admin = member(store, "admin")
    assert valuation.stock_value(admin, store_id=store.id).totals[0].value == Decimal("37.4946")
    with refused(PermissionDenied, "You do not have permission to do this "
                                   "(purchasing:manage)."):
        valuation.stock_value(staff, store_id=store.id)
    with refused(PermissionDenied):
        valuation.stock_value(staff)
    with refused(PermissionDenied):
        valuation.valuation_page(staff, ValuationFilters(location_id=shop["back"].id))
    assert valuation.overview_value(staff, store.id, entries=6) is None
    assert valuation.overview_value(staff, entries=6) is None
    assert valuation.overview_value(owner, entries=6).valuation.totals[0].value == Decimal(
        "37.4946")

    other = make_store("Other")
    with refused(NotFound, "No such store among your stores.", fields={"store": "No such store."}):
        valuation.stock_value(owner, store_id=other.id)
    # An owner here and staff there: the overview of both shows no value for the two.
    both = member(other, "staff")
    from app.permissions import Actor

    mixed = Actor(name="mixed", user_id=both.user_id, store_permissions={
        **both.store_permissions, **owner.store_permissions})
    assert valuation.overview_value(mixed, entries=6) is None
    assert valuation.overview_value(mixed, store.id, entries=6).valuation.totals[0].value == (
        Decimal("37.4946"))
    # Past the limit the overview would sum on every refresh: the report has it instead.
    past = valuation.overview_value(owner, store.id,
                                    entries=valuation.OVERVIEW_VALUE_LIMIT + 1)
    assert past is not None and past.valuation is None


def test_a_location_of_another_store_than_the_one_named_is_not_found(
    shop, admin_actor, make_store, refused
):
    other = make_store("Other")
    with refused(NotFound, "No such location in this store.",
                 fields={"location": "No such location."}):
        valuation.stock_value(admin_actor, store_id=other.id, location_id=shop["back"].id)


# A unit cost of 900,000 is 9 × 10^9 stored; a billion units of it 9 × 10^18, just inside
# a 64-bit integer: three such entries at one location sum past it. A unit cost of a
# billion (the most an amount may be) makes one entry of a billion units 10^22 stored,
# past it on its own.
HUGE = [
    ("900000", 3, Decimal("2700000000000000.0000")),
    ("1000000000", 2, Decimal("2000000000000000000.0000")),
]


@pytest.mark.parametrize(("cost", "count", "expected"), HUGE)
def test_huge_values_are_exact(store, location, make_location, make_product, buy,
                               admin_actor, owner, cost, count, expected):
    """At one location (one sum past 64 bits) and at one each (the store's sum past it)."""
    each = expected / count
    for n in range(count):
        for place in (location, make_location(store, f"dock_{n}")):
            entry = buy(store, make_product(store, f"YACHT-{place.code}-{n}"), place, 100, cost)
            stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=999_999_900,
                               reason="Fleet")
    found = valuation.stock_value(owner, store_id=store.id)
    assert found.totals[0].value == 2 * expected
    assert [(p.location_code, p.value) for p in found.stores[0].locations] == [
        *((f"DOCK_{n}", each) for n in range(count)), ("MAIN", expected)]
    page = valuation.valuation_page(owner, ValuationFilters(store_id=store.id))
    assert [r.value for r in page.rows] == [each] * (2 * count)
    assert valuation.product_value(owner, page.rows[0].product_id).value == each


def test_huge_and_small_values_sort_by_value(store, location, make_location, make_product, buy,
                                            admin_actor, owner):
    """On SQLite a product past 2^63 is a float: it still sorts among the integers."""
    big = buy(store, make_product(store, "BIG"), make_location(store, "dock"), 100,
              "1000000000")
    stock.adjust_stock(actor=admin_actor, entry_id=big.id, delta=999_999_900, reason="Fleet")
    buy(store, make_product(store, "SMALL"), location, 1, "0.01")
    buy(store, make_product(store, "MID"), location, 1_000, "999")
    page = valuation.valuation_page(owner, ValuationFilters(store_id=store.id))
    assert [r.sku for r in page.rows] == ["BIG", "MID", "SMALL"]
    ascending = valuation.valuation_page(owner, ValuationFilters(store_id=store.id,
                                                                 descending=False))
    assert [r.sku for r in ascending.rows] == ["SMALL", "MID", "BIG"]
