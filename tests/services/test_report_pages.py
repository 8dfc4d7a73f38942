"""The low stock and out of stock reports: which rows, in which order, page by page (the
reorder report's are in test_reorder_suggestions.py).

Every sort is walked a few rows at a time, forwards and back, against an order built by hand
from the rows' own numbers (ties broken by id), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from app.services import queries, stock
from app.services.errors import ValidationError
from app.services.queries import ReportFilters

# The value each sort orders an entry by, read off the EntryView.
ENTRY_VALUE = {
    "title": lambda e: e.title,
    "sku": lambda e: e.sku,
    "location": lambda e: e.location_code,
    "quantity": lambda e: e.quantity,
    "reserved": lambda e: e.reserved_quantity,
    "available": lambda e: e.available_quantity,
    "threshold": lambda e: e.low_stock_threshold,
    "shortfall": lambda e: e.low_stock_threshold - e.available_quantity,
}
def hand_order(rows, value, key_id, descending):
    return [key_id(r) for r in sorted(rows, key=lambda r: (value(r), key_id(r)),
                                      reverse=descending)]


def walk(read, filters, limit=3):
    """Every page forwards; then from the last page back to the first."""
    seen, pages, cursor = [], [], None
    while True:
        page = read(filters, cursor=cursor, limit=limit)
        pages.append(page)
        seen.extend(page.rows)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    back = []
    page = pages[-1]
    while page.prev_cursor is not None:
        page = read(filters, cursor=page.prev_cursor, limit=limit)
        back = list(page.rows) + back
    return seen, pages, back


@pytest.fixture
def low_and_out(make_store, make_location, make_product, make_entry, admin_actor):
    """A store with low, out of stock, backordered and fine entries in two locations, with
    ties in every column, and another store's low entry that must never show."""
    store = make_store()
    places = [make_location(store, "AISLE_A"), make_location(store, "AISLE_B")]
    built = []
    for n in range(11):
        product = make_product(store, sku=f"SKU-{n % 4}{n}", title=f"Item {n % 3}",
                               allow_backorder=n == 9)
        quantity = [2, 3, 1, 0, 4, 0, 2, 3, 5, 0, 50][n]
        threshold = [5, 5, 3, 2, 5, 4, 2, 6, 5, 0, 5][n]
        entry = make_entry(quantity=quantity, threshold=threshold, store=store,
                           location=places[n % 2], product=product)
        if n == 3:  # out of stock with units on hand, all held
            stock.adjust_stock(actor=admin_actor, entry_id=entry.id, delta=4, reason="in")
            stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=4,
                                order_ref="HOLD")
        if n == 7:  # low because of a hold
            stock.reserve_stock(actor=admin_actor, entry_id=entry.id, quantity=1,
                                order_ref="HOLD")
        built.append(entry)
    make_entry(quantity=1, threshold=5)  # another store
    return store, places


def _everything(actor, store):
    return queries.list_entries(actor, queries.EntryFilters(store_id=store.id), limit=200).rows


@pytest.mark.parametrize("report", queries.ENTRY_REPORTS)
def test_a_report_lists_exactly_the_entries_its_rule_names(low_and_out, admin_actor, report):
    store, _ = low_and_out
    expected = {"low_stock": {"low_stock"}, "out_of_stock": {"out_of_stock", "on_backorder"}}
    everything = _everything(admin_actor, store)
    wanted = {e.id for e in everything if e.status in expected[report]}
    page = queries.report_page(admin_actor, report, ReportFilters(store_id=store.id), limit=100)
    assert {e.id for e in page.rows} == wanted and page.total == len(wanted)
    assert wanted  # the fixture has some of each


@pytest.mark.parametrize(("report", "sort"), [
    (report, sort) for report in queries.ENTRY_REPORTS for sort in queries.REPORT_SORTS[report]
])
@pytest.mark.parametrize("descending", [False, True])
def test_every_entry_report_sort_walks_in_hand_built_order(
    low_and_out, admin_actor, report, sort, descending
):
    store, _ = low_and_out
    filters = ReportFilters(store_id=store.id, sort=sort, descending=descending)
    everything = queries.report_page(admin_actor, report, ReportFilters(store_id=store.id),
                                     limit=100).rows
    expected = hand_order(everything, ENTRY_VALUE[sort], lambda e: e.id, descending)

    def read(f, **kw):
        return queries.report_page(admin_actor, report, f, **kw)

    seen, pages, back = walk(read, filters)
    assert [e.id for e in seen] == expected
    assert len(pages) == -(-len(expected) // 3)
    # Walking back from the last page visits the earlier pages in the same order.
    assert [e.id for e in back] == expected[:len(back)]
    assert len(back) == len(expected) - len(pages[-1].rows)


@pytest.mark.parametrize("report", queries.ENTRY_REPORTS)
def test_the_location_filter_narrows_a_report(low_and_out, admin_actor, report):
    store, places = low_and_out
    every = queries.report_page(admin_actor, report, ReportFilters(store_id=store.id),
                                limit=100).rows
    for place in places:
        page = queries.report_page(
            admin_actor, report, ReportFilters(store_id=store.id, location_id=place.id),
            limit=100)
        assert {e.id for e in page.rows} == {e.id for e in every
                                            if e.location_id == place.id}


def test_a_report_shows_only_the_readers_stores(low_and_out, make_user, actor_of, make_entry):
    store, _ = low_and_out
    user = make_user(store=store, role="staff")
    actor = actor_of(user)
    page = queries.report_page(actor, "low_stock", ReportFilters(), limit=100)
    assert page.rows and {e.store_id for e in page.rows} == {store.id}


def test_a_forged_or_foreign_cursor_is_refused(low_and_out, admin_actor):
    store, _ = low_and_out
    title_page = queries.report_page(admin_actor, "low_stock",
                                     ReportFilters(store_id=store.id, sort="title"), limit=2)
    for cursor, sort in (("nonsense", "title"), (title_page.next_cursor, "quantity")):
        with pytest.raises(ValidationError) as caught:
            queries.report_page(admin_actor, "low_stock",
                                ReportFilters(store_id=store.id, sort=sort), cursor=cursor)
        assert caught.value.fields == {"cursor": "This page link is no longer valid."}


def test_the_count_stops_at_its_limit(low_and_out, admin_actor):
    store, _ = low_and_out
    page = queries.report_page(admin_actor, "low_stock", ReportFilters(store_id=store.id),
                               limit=2, count_limit=3)
    assert (page.total, page.total_capped) == (3, True)


def test_the_export_reads_the_same_rows_in_the_same_order(low_and_out, admin_actor):
    store, _ = low_and_out
    for sort in queries.REPORT_SORTS["low_stock"]:
        filters = ReportFilters(store_id=store.id, sort=sort, descending=True)
        paged = queries.report_page(admin_actor, "low_stock", filters, limit=100).rows
        assert list(queries.iter_report(admin_actor, "low_stock", filters)) == paged
