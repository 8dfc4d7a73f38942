"""Reorder suggestions per location, against a table computed by hand, and the draft
purchase orders made from them: one per supplier and destination, all or none.

The store (three locations, two suppliers) and the figures each line is worked out from:

  line        on hand res incoming draft point (from)  short need supplier (pack, min) suggested
  Kettle MAIN    4     1     0       0   10 (product)     7   24  Acme (12, 0) pref.     24
  Kettle BACK    2     0     6       0    5 (location)   -3    -  not due
  Kettle SHOP    1     0     1       0    3 (location)    1   24  Acme (12, 0)           24
  Mug MAIN       5     0     0       0   20 (product)    15   16  Bolt (6, 30) cheapest  30
  Mug BACK      21     0     0       0   20 (product)    -1    -  not due
  Mug SHOP       3     0     0      10   20 (product)     7    8  Bolt (6, 30)           30
  Hinge MAIN     0     0     2       0    5 (product)     3    7  Acme (4, 10)           12
  Tape MAIN      8     0     0       0    8 (location)    0    1  no supplier             1
  Tape BACK      0     0     0       0    0: not reordered

need = the reorder quantity (Kettle 24, Mug 0, Hinge 7, Tape 0), at least short + 1; then at
least the supplier's minimum, rounded up to whole packs. Incoming comes from an ordered
purchase order (Kettle 6 to BACK and 1 to SHOP, Hinge 2 to MAIN); Mug's draft to SHOP counts
as coming too. Never listed: an archived product and a digital one, both "due", and the
other store's due line.

With an order-up-to level (a store of its own; what is coming is available + incoming +
draft, the point the location's threshold where one is set):

  line        coming point (from)    short up to  need            supplier (pack, min) sugg.
  Crate MAIN     4   10 (product)      6    40   40 - 4 = 36     Acme (6, 0)             36
  Crate BACK  3+4+2  10 (product)      1    40   40 - 9 = 31     Acme (6, 0)             36
  Crate SHOP    45   50 (location)     5    40   not above: 12   Acme (6, 0)             12
  Crate YARD     3    8 (location)     5    40   40 - 3 = 37     Acme (6, 0)             42
  Crate DOCK    11   10 (product)     -1    40   not due
  Sand MAIN      5    5 (product)      0    20   20 - 5 = 15     Bolt (1, 18)            18
  Sand BACK    1-1    5 (product)      5    20   20 - 0 = 20     Bolt (1, 18)            20
  Rope MAIN      2    5 (product)      3     -   10              no supplier             10
  Rope BACK      1   12 (location)    11     -   10, short + 1   no supplier             12

Crate orders 12 and Rope 10 when not up to a level; Sand's quantity is 0.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import Product, PurchaseOrder
from app.services import catalog, purchasing, queries, stock
from app.services.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    StaleSuggestion,
    ValidationError,
)
from app.services.queries import ReportFilters

COLUMNS = ("title", "location_code", "available_quantity", "incoming_quantity", "on_draft",
           "reorder_point", "shortfall", "suggested", "supplier_name", "lead_time_days",
           "unit_cost", "pack_size", "min_order_qty", "last_cost")

EXPECTED = [
    ("Hinge", "MAIN", 0, 2, 0, 5, 3, 12, "Acme Supply", 7, Decimal("0.75"), 4, 10,
     Decimal("0.75")),
    ("Kettle", "MAIN", 3, 0, 0, 10, 7, 24, "Acme Supply", 7, Decimal("3"), 12, 0,
     Decimal("2.8")),
    ("Kettle", "SHOP", 1, 1, 0, 3, 1, 24, "Acme Supply", 7, Decimal("3"), 12, 0,
     Decimal("2.8")),
    ("Mug", "MAIN", 5, 0, 0, 20, 15, 30, "Bolt & Co", 3, Decimal("2"), 6, 30, None),
    ("Mug", "SHOP", 3, 0, 10, 20, 7, 30, "Bolt & Co", 3, Decimal("2"), 6, 30, None),
    ("Tape", "MAIN", 8, 0, 0, 8, 0, 1, None, None, None, 1, 0, None),
]


def table(rows):
    return [tuple(getattr(r, c) for c in COLUMNS) for r in rows]


@pytest.fixture
def shop(store, owner, make_location, make_product, make_entry, make_store):
    main, back, shop_floor = (make_location(store, code) for code in ("MAIN", "BACK", "SHOP"))
    kettle = make_product(store, "KET-1", title="Kettle", reorder_point=10, reorder_quantity=24)
    mug = make_product(store, "MUG-1", title="Mug", reorder_point=20, reorder_quantity=0)
    hinge = make_product(store, "HIN-1", title="Hinge", reorder_point=5, reorder_quantity=7)
    tape = make_product(store, "TAP-1", title="Tape", reorder_point=0, reorder_quantity=0)
    gone = make_product(store, "OLD-1", title="Old kettle", reorder_point=10)
    ebook = make_product(store, "EBK-1", title="E-book", reorder_point=10)

    entry = {}
    for product, place, quantity, threshold, reserved in [
        (kettle, main, 4, 0, 1), (kettle, back, 2, 5, 0), (kettle, shop_floor, 1, 3, 0),
        (mug, main, 5, 0, 0), (mug, back, 21, 0, 0), (mug, shop_floor, 3, 0, 0),
        (hinge, main, 0, 0, 0), (tape, main, 8, 8, 0), (tape, back, 0, 0, 0),
        (gone, main, 0, 0, 0), (ebook, main, 0, 0, 0),
    ]:
        entry[(product.sku, place.code)] = make_entry(
            quantity=quantity, threshold=threshold, reserved=reserved, store=store,
            location=place, product=product)
    catalog.archive_product(actor=owner, product_id=gone.id)
    # Made digital after it was stocked (as the catalog allows): its entry stays, unlimited.
    db.session.execute(update(Product).where(Product.id == ebook.id).values(type="digital"))
    db.session.commit()

    acme = purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme Supply",
                                      lead_time_days=7)
    bolt = purchasing.create_supplier(actor=owner, store_id=store.id, name="Bolt & Co",
                                      lead_time_days=3)
    for supplier, product, cost, pack, least, preferred in [
        (acme, kettle, "3.00", 12, 0, True), (bolt, kettle, "1.00", 1, 0, False),
        (bolt, mug, "2.00", 6, 30, False), (acme, mug, "2.50", 1, 0, False),
        (acme, hinge, "0.75", 4, 10, False),
    ]:
        purchasing.set_supplier_item(actor=owner, supplier_id=supplier.id, product_id=product.id,
                                     unit_cost=cost, pack_size=pack, min_order_qty=least,
                                     preferred=preferred)
    placed = purchasing.create_purchase_order(actor=owner, supplier_id=acme.id, lines=[
        {"product_id": kettle.id, "location_id": back.id, "quantity": 6, "unit_cost": "2.80"},
        {"product_id": kettle.id, "location_id": shop_floor.id, "quantity": 1,
         "unit_cost": "2.80"},
        {"product_id": hinge.id, "location_id": main.id, "quantity": 2},
    ])
    purchasing.order_purchase_order(actor=owner, order_id=placed.id)
    purchasing.create_purchase_order(actor=owner, supplier_id=bolt.id, lines=[
        {"product_id": mug.id, "location_id": shop_floor.id, "quantity": 10}])

    # Another store's due line, seen by an actor of every store but never in this one's.
    other = make_store()
    make_entry(quantity=0, store=other,
               product=make_product(other, "FAR-1", title="Far", reorder_point=4))
    return {"store": store, "main": main, "back": back, "shop": shop_floor, "acme": acme,
            "bolt": bolt, "kettle": kettle, "mug": mug, "hinge": hinge, "tape": tape,
            "entry": entry, "other": other}


def suggestions(actor, **filters):
    return queries.reorder_suggestions(actor, ReportFilters(**filters), limit=100)


def test_the_suggestions_match_the_table_worked_by_hand(shop, owner):
    page = suggestions(owner, store_id=shop["store"].id)
    assert table(page.rows) == EXPECTED
    assert (page.total, page.total_capped, page.next_cursor) == (6, False, None)
    # The point's source and the stock behind it, for the screen's notes.
    by_line = {(r.sku, r.location_code): r for r in page.rows}
    assert [by_line[k].point_from_location for k in (("KET-1", "MAIN"), ("KET-1", "SHOP"))] \
        == [False, True]
    assert by_line[("KET-1", "MAIN")].quantity == 4
    assert by_line[("MUG-1", "SHOP")].coming == 13
    assert by_line[("KET-1", "MAIN")].line_key == (
        f"{shop['kettle'].id}-{shop['main'].id}-24")
    # The owner of this store alone sees the same; an actor of every store sees the other
    # store's line as well, unless filtered to this store.
    assert [r.sku for r in suggestions(owner).rows] == [r.sku for r in page.rows]


def test_costs_are_shown_only_to_those_who_may_buy(shop, owner, member):
    """Staff read the same lines, suppliers and quantities; what things cost is for those
    with purchasing:manage, as on the purchasing screens."""
    staff = member(shop["store"], "staff", grants=("inventory:adjust",))
    seen = suggestions(staff, store_id=shop["store"].id).rows
    assert [r[:-4] + (None, *r[-3:-1], None) for r in table(seen)] == [
        r[:-4] + (None, *r[-3:-1], None) for r in EXPECTED]
    assert {(r.unit_cost, r.last_cost) for r in seen} == {(None, None)}
    exported = list(queries.iter_reorder_suggestions(staff, ReportFilters()))
    assert {(r.unit_cost, r.last_cost) for r in exported} == {(None, None)}
    entry = shop["entry"][("KET-1", "MAIN")].id
    assert queries.reorder_suggestion(staff, entry).unit_cost is None
    assert queries.reorder_suggestion(owner, entry).unit_cost == Decimal("3")


def test_the_filters_narrow_the_same_table(shop, owner, admin_actor):
    store = shop["store"].id
    assert table(suggestions(owner, store_id=store, location_id=shop["shop"].id).rows) == [
        EXPECTED[2], EXPECTED[4]]
    assert table(suggestions(owner, store_id=store, supplier_id=shop["bolt"].id).rows) == \
        EXPECTED[3:5]
    assert table(suggestions(owner, store_id=store, without_supplier=True).rows) == \
        EXPECTED[5:]
    assert table(suggestions(owner, supplier_id=shop["acme"].id,
                             location_id=shop["main"].id).rows) == EXPECTED[:2]
    everyone = suggestions(admin_actor)
    # "Far" sorts before "Tape" in the other store's line's group: "No supplier".
    assert [r.sku for r in everyone.rows] == ["HIN-1", "KET-1", "KET-1", "MUG-1", "MUG-1",
                                              "FAR-1", "TAP-1"]
    assert table(suggestions(admin_actor, store_id=store).rows) == EXPECTED


def test_the_entry_reports_filter_by_the_same_supplier(shop, owner):
    store = shop["store"].id
    low = queries.report_page(owner, "low_stock", ReportFilters(store_id=store), limit=100)
    # Kettle at BACK (2 of 5) and at SHOP (1 of 3); Tape's 8 of 8.
    assert sorted((e.sku, e.location_code) for e in low.rows) == [
        ("KET-1", "BACK"), ("KET-1", "SHOP"), ("TAP-1", "MAIN")]
    by_acme = queries.report_page(owner, "low_stock", ReportFilters(
        store_id=store, supplier_id=shop["acme"].id), limit=100)
    assert sorted(e.location_code for e in by_acme.rows) == ["BACK", "SHOP"]
    unsupplied = queries.report_page(owner, "out_of_stock", ReportFilters(
        store_id=store, without_supplier=True), limit=100)
    # Hinge is out at MAIN too, but Acme sells it; the archived kettle's entry stays listed.
    assert [(e.sku, e.location_code) for e in unsupplied.rows] == [
        ("OLD-1", "MAIN"), ("TAP-1", "BACK")]


KEYS = {
    "title": lambda r: r.title, "sku": lambda r: r.sku, "location": lambda r: r.location_code,
    "available": lambda r: r.available_quantity, "incoming": lambda r: r.incoming_quantity,
    "reorder_point": lambda r: r.reorder_point, "shortfall": lambda r: r.shortfall,
    "suggested": lambda r: r.suggested,
}


def test_every_sort_pages_within_supplier_groups(shop, owner):
    for sort in queries.REORDER_SORTS:
        for descending in (False, True):
            walk_in_hand_built_order(shop, owner, sort, descending)


def walk_in_hand_built_order(shop, owner, sort, descending):
    """Two rows a page, forwards and back, against the order built from the rows' own
    figures: groups by supplier name (none last), then the column, then the entry id."""
    filters = ReportFilters(store_id=shop["store"].id, sort=sort, descending=descending)
    rows = suggestions(owner, store_id=shop["store"].id).rows

    def group(r):
        return (r.supplier_id is None, r.supplier_name or "", r.supplier_id or 0)

    expected = []
    for g in sorted({group(r) for r in rows}):
        members = [r for r in rows if group(r) == g]
        expected += sorted(members, key=lambda r: (KEYS[sort](r), r.entry_id),
                           reverse=descending)
    seen, pages, cursor = [], [], None
    while True:
        page = queries.reorder_suggestions(owner, filters, cursor=cursor, limit=2)
        pages.append(page)
        seen += page.rows
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [r.entry_id for r in seen] == [r.entry_id for r in expected]
    back, page = [], pages[-1]
    while page.prev_cursor is not None:
        page = queries.reorder_suggestions(owner, filters, cursor=page.prev_cursor, limit=2)
        back = page.rows + back
    assert [r.entry_id for r in back] == [r.entry_id for r in expected][:len(back)]
    assert len(back) == len(expected) - len(pages[-1].rows)
    assert list(queries.iter_reorder_suggestions(owner, filters)) == seen


def test_a_forged_page_link_is_refused_naming_the_cursor(shop, owner):
    filters = ReportFilters(store_id=shop["store"].id, sort="suggested")
    first = queries.reorder_suggestions(owner, filters, limit=2)
    for cursor in ("nonsense", first.next_cursor[:-2],
                   # A cursor of the title order (text) for the suggested order (numbers).
                   queries.reorder_suggestions(owner, ReportFilters(store_id=shop["store"].id),
                                               limit=2).next_cursor):
        with pytest.raises(ValidationError) as info:
            queries.reorder_suggestions(owner, filters, cursor=cursor, limit=2)
        assert info.value.fields == {"cursor": "This page link is no longer valid."}


# --------------------------------------------------------------------------- drafts


def line(shop, sku, code, quantity=None):
    product = {"KET-1": "kettle", "MUG-1": "mug", "HIN-1": "hinge", "TAP-1": "tape"}[sku]
    found = {"product_id": shop[product].id, "location_id": shop[code.lower()].id}
    if quantity is not None:
        found["expected_quantity"] = quantity
    return found


def order_count():
    count = db.session.scalar(select(func.count()).select_from(PurchaseOrder))
    db.session.rollback()
    return count


def test_chosen_lines_become_one_draft_per_supplier_and_destination(shop, owner):
    made = purchasing.create_reorder_purchase_orders(
        actor=owner, store_id=shop["store"].id,
        lines=[line(shop, "MUG-1", "MAIN", 30), line(shop, "KET-1", "SHOP", 24),
               line(shop, "KET-1", "MAIN", 24), line(shop, "HIN-1", "MAIN")],
    )
    assert [(o.number, o.status, o.supplier_name, o.currency) for o in made] == [
        ("PO-0003", "draft", "Acme Supply", "USD"), ("PO-0004", "draft", "Acme Supply", "USD"),
        ("PO-0005", "draft", "Bolt & Co", "USD")]
    assert [[(x.sku, x.location_code, x.ordered_qty, x.unit_cost) for x in o.lines]
            for o in made] == [
        [("HIN-1", "MAIN", 12, Decimal("0.75")), ("KET-1", "MAIN", 24, Decimal("3"))],
        [("KET-1", "SHOP", 24, Decimal("3"))],
        [("MUG-1", "MAIN", 30, Decimal("2"))],
    ]
    assert [o.deliver_to_code for o in made] == ["MAIN", "SHOP", "MAIN"]
    # Drafted lines count as coming: they are no longer suggested.
    assert table(suggestions(owner, store_id=shop["store"].id).rows) == [
        EXPECTED[4], EXPECTED[5]]


def test_a_repeat_with_its_key_replays_and_without_it_is_refused_as_stale(shop, owner,
                                                                          refused):
    lines = [line(shop, "KET-1", "MAIN", 24), line(shop, "MUG-1", "MAIN", 30)]
    first = purchasing.create_reorder_purchase_orders(
        actor=owner, store_id=shop["store"].id, lines=lines, idempotency_key="po-1")
    again = purchasing.create_reorder_purchase_orders(
        actor=owner, store_id=shop["store"].id, lines=lines, idempotency_key="po-1")
    assert [o.number for o in again] == [o.number for o in first] == ["PO-0003", "PO-0004"]
    assert all(o.replayed for o in again) and not any(o.replayed for o in first)
    with refused(StaleSuggestion,
                 "The suggestions changed since they were shown, so nothing was ordered: "
                 "KET-1 at MAIN no longer needs reordering (27 available and coming, reorder "
                 "point 10); MUG-1 at MAIN no longer needs reordering (35 available and "
                 "coming, reorder point 20). Look at them again.") as info:
        purchasing.create_reorder_purchase_orders(actor=owner, store_id=shop["store"].id,
                                                  lines=lines)
    assert set(info.value.fields) == {"lines[0]", "lines[1]"}


def test_a_suggestion_that_moved_since_it_was_shown_is_refused(shop, owner, refused):
    stock.adjust_stock(actor=owner, entry_id=shop["entry"][("KET-1", "MAIN")].id, delta=-2,
                       reason="Breakage")
    # 1 available now: short by 9, still 24 (the reorder quantity).
    with refused(StaleSuggestion,
                 "The suggestions changed since they were shown, so nothing was ordered: "
                 "MUG-1 at MAIN is now suggested at 30, not 24. Look at them again.",
                 fields={"lines[1]": "MUG-1 at MAIN is now suggested at 30, not 24"}):
        purchasing.create_reorder_purchase_orders(
            actor=owner, store_id=shop["store"].id,
            lines=[line(shop, "KET-1", "MAIN", 24), line(shop, "MUG-1", "MAIN", 24)])


def test_lines_that_are_not_the_stores_or_have_no_supplier_are_refused(
    shop, owner, member, refused, make_product, make_location, admin_actor
):
    store = shop["store"].id
    far = queries.reorder_suggestions(admin_actor, ReportFilters(store_id=shop["other"].id))
    [foreign] = far.rows
    with refused(NotFound, "A chosen line names no stock of this store: nothing was ordered.",
                 fields={"lines[1].product_id":
                         "No such product at that location in this store."}):
        purchasing.create_reorder_purchase_orders(actor=owner, store_id=store, lines=[
            line(shop, "KET-1", "MAIN", 24),
            {"product_id": foreign.product_id, "location_id": foreign.location_id}])
    # Stock of the store at a place it is not kept, and a line not due.
    with refused(NotFound, fields={"lines[0].product_id":
                                   "No such product at that location in this store."}):
        purchasing.create_reorder_purchase_orders(actor=owner, store_id=store, lines=[
            line(shop, "HIN-1", "BACK")])
    with refused(StaleSuggestion, fields={
            "lines[0]": "KET-1 at BACK no longer needs reordering (8 available and coming, "
                        "reorder point 5)"}):
        purchasing.create_reorder_purchase_orders(actor=owner, store_id=store, lines=[
            line(shop, "KET-1", "BACK")])
    with refused(Conflict, "No supplier sells TAP-1 at MAIN: add a supplier for it first. "
                           "Nothing was ordered.", fields={"lines[1]": "No supplier."}):
        purchasing.create_reorder_purchase_orders(actor=owner, store_id=store, lines=[
            line(shop, "KET-1", "MAIN", 24), line(shop, "TAP-1", "MAIN", 1)])
    # Another store's owner, and staff of this one: nothing to see, nothing allowed.
    stranger = member(shop["other"], "owner")
    staff = member(shop["store"], "staff", grants=("inventory:adjust",))
    with refused(NotFound, "Store not found."):
        purchasing.create_reorder_purchase_orders(
            actor=stranger, store_id=store, lines=[line(shop, "KET-1", "MAIN")])
    with refused(PermissionDenied):
        purchasing.create_reorder_purchase_orders(
            actor=staff, store_id=store, lines=[line(shop, "KET-1", "MAIN")])
    assert order_count() == 2


@pytest.mark.parametrize(("lines", "fields"), [
    ([], {"lines": "Choose at least one line to order."}),
    ("KET", {"lines": "Choose at least one line to order."}),
    ([{"product_id": "1", "location_id": 0}],
     {"lines[0].product_id": "Choose a product.", "lines[0].location_id": "Choose a location."}),
    ([{"product_id": 1, "location_id": 2, "expected_quantity": 0}],
     {"lines[0].expected_quantity": "Must be at least 1."}),
    ([{"product_id": 1, "location_id": 2}, {"product_id": 1, "location_id": 2}],
     {"lines[1].product_id": "Line 1 already orders this product to this location."}),
    ([7], {"lines[0]": "Each line needs product_id and location_id."}),
])
def test_malformed_lines_are_refused_naming_the_field(store, owner, refused, lines, fields):
    with refused(ValidationError, fields=fields):
        purchasing.create_reorder_purchase_orders(actor=owner, store_id=store.id, lines=lines)


@pytest.mark.parametrize("key", ["1-2", "1-2-0", "a-2-3", "1-2-3-4", "-1-2", "1-2-٣",
                                 "1-2-" + "9" * 11, ""])
def test_a_line_key_no_report_wrote_is_refused(key):
    with pytest.raises(ValidationError) as info:
        purchasing.lines_from_keys([key])
    assert list(info.value.fields) == ["lines"]


def test_line_keys_read_back_as_lines():
    assert purchasing.lines_from_keys(["12-3-48", "7-1-1"]) == [
        {"product_id": 12, "location_id": 3, "expected_quantity": 48},
        {"product_id": 7, "location_id": 1, "expected_quantity": 1}]


# --------------------------------------------------------------------------- order up to

UP_TO_COLUMNS = ("title", "location_code", "coming", "reorder_point", "point_from_location",
                 "shortfall", "reorder_up_to", "orders_up_to", "suggested", "supplier_name",
                 "pack_size", "min_order_qty")

UP_TO_EXPECTED = [
    ("Crate", "MAIN", 4, 10, False, 6, 40, True, 36, "Acme Supply", 6, 0),
    ("Crate", "BACK", 9, 10, False, 1, 40, True, 36, "Acme Supply", 6, 0),
    ("Crate", "SHOP", 45, 50, True, 5, 40, False, 12, "Acme Supply", 6, 0),
    ("Crate", "YARD", 3, 8, True, 5, 40, True, 42, "Acme Supply", 6, 0),
    ("Sand", "MAIN", 5, 5, False, 0, 20, True, 18, "Bolt & Co", 1, 18),
    ("Sand", "BACK", 0, 5, False, 5, 20, True, 20, "Bolt & Co", 1, 18),
    ("Rope", "MAIN", 2, 5, False, 3, 0, False, 10, None, 1, 0),
    ("Rope", "BACK", 1, 12, True, 11, 0, False, 12, None, 1, 0),
]


@pytest.fixture
def levels(store, owner, make_location, make_product, make_entry):
    """The second table: variants ordered up to a level, and one without."""
    place = {code: make_location(store, code) for code in ("MAIN", "BACK", "SHOP", "YARD",
                                                            "DOCK")}
    crate = make_product(store, "CRT-1", title="Crate", reorder_point=10, reorder_quantity=12,
                         reorder_up_to=40)
    sand = make_product(store, "SND-1", title="Sand", reorder_point=5, reorder_quantity=0,
                        reorder_up_to=20)
    rope = make_product(store, "ROP-1", title="Rope", reorder_point=5, reorder_quantity=10)
    for product, code, quantity, threshold, reserved in [
        (crate, "MAIN", 4, 0, 0), (crate, "BACK", 3, 0, 0), (crate, "SHOP", 45, 50, 0),
        (crate, "YARD", 3, 8, 0), (crate, "DOCK", 11, 0, 0),
        (sand, "MAIN", 5, 0, 0), (sand, "BACK", 1, 0, 1),
        (rope, "MAIN", 2, 0, 0), (rope, "BACK", 1, 12, 0),
    ]:
        make_entry(quantity=quantity, threshold=threshold, reserved=reserved, store=store,
                   location=place[code], product=product)
    acme = purchasing.create_supplier(actor=owner, store_id=store.id, name="Acme Supply")
    bolt = purchasing.create_supplier(actor=owner, store_id=store.id, name="Bolt & Co")
    purchasing.set_supplier_item(actor=owner, supplier_id=acme.id, product_id=crate.id,
                                 unit_cost="4.00", pack_size=6, min_order_qty=0)
    purchasing.set_supplier_item(actor=owner, supplier_id=bolt.id, product_id=sand.id,
                                 unit_cost="1.00", pack_size=1, min_order_qty=18)
    to_back = {"product_id": crate.id, "location_id": place["BACK"].id}
    purchasing.order_purchase_order(actor=owner, order_id=purchasing.create_purchase_order(
        actor=owner, supplier_id=acme.id, lines=[{**to_back, "quantity": 4}]).id)
    purchasing.create_purchase_order(actor=owner, supplier_id=acme.id,
                                     lines=[{**to_back, "quantity": 2}])
    return {"store": store, "crate": crate, "place": place}


def test_an_order_up_to_level_suggests_what_brings_the_stock_up_to_it(levels, owner):
    """Up to the variant's level when it is above the point (the variant's, or a location's
    threshold below it), else the reorder quantity; the minimum and the packs either way."""
    page = suggestions(owner, store_id=levels["store"].id)
    assert [tuple(getattr(r, c) for c in UP_TO_COLUMNS) for r in page.rows] == UP_TO_EXPECTED
    assert page.total == len(UP_TO_EXPECTED)
    # One line alone, and every line of an export, by the same rule.
    assert [r.suggested for r in queries.iter_reorder_suggestions(
        owner, ReportFilters(store_id=levels["store"].id))] == [r[8] for r in UP_TO_EXPECTED]
    for sort in ("suggested", "shortfall"):
        walk_in_hand_built_order(levels, owner, sort, descending=True)


def test_a_draft_up_to_the_level_takes_the_line_off(levels, owner):
    crate, main = levels["crate"], levels["place"]["MAIN"]
    [made] = purchasing.create_reorder_purchase_orders(
        actor=owner, store_id=levels["store"].id,
        lines=[{"product_id": crate.id, "location_id": main.id, "expected_quantity": 36}])
    assert [(x.location_code, x.ordered_qty) for x in made.lines] == [("MAIN", 36)]
    assert ("Crate", "MAIN") not in {(r.title, r.location_code) for r in suggestions(
        owner, store_id=levels["store"].id).rows}
