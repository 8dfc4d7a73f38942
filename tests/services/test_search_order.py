"""A search's pages against the order worked out by hand: exact SKU/GTIN matches first,
then the sort column, then the entry id, through every filter, both directions and both
kinds of reader. On PostgreSQL a search sorted by a column of the product orders the
matching products first and reads their entries after (queries.listing._ordered_matches): a
different statement, which must give the same rows in the same order."""

from __future__ import annotations

from typing import Any

import pytest
from statements import recorded_statements

from app.models import Product
from app.permissions import Actor
from app.services import queries

GTIN = "4006381333931"


@pytest.fixture
def stock(make_store, make_location, make_product, make_entry) -> dict[str, Any]:
    """Two stores; products sharing a title, one matching by SKU only, one by GTIN only,
    one whose SKU is what a scanner types; each at several locations, in every status."""
    north, south = make_store("North"), make_store("South")
    places = {north.id: [make_location(north, c) for c in ("A1", "A2", "A3")],
              south.id: [make_location(south, c) for c in ("B1", "B2")]}
    catalog = [
        (north, "CRATE-1", "Crate", None),
        (north, "CRATE-2", "Crate", None),
        (north, "CRATE-3", "Cratebig", None),
        (north, "CRATE-4", "Shelf", None),
        (north, "XX-9", "Crate", GTIN),
        (north, "BIN-7", "Lamp", GTIN),
        (north, "LAMP-1", "Lamp", None),
        (south, "CRATE-1", "Crate", None),
        (south, "CRATE-5", "Cratesmall", None),
    ]
    # (quantity, reserved, threshold): in stock, low, out, and in stock again.
    levels = [(10, 0, 0), (3, 1, 5), (2, 2, 0), (7, 0, 2)]
    n = 0
    for store, sku, title, gtin in catalog:
        product: Product = make_product(store, sku=sku, title=title, gtin=gtin)
        for location in places[store.id]:
            quantity, reserved, threshold = levels[n % len(levels)]
            n += 1
            make_entry(product=product, location=location, quantity=quantity,
                       reserved=reserved, threshold=threshold)
    return {"north": north, "south": south, "places": places}


def _everything(actor: Actor) -> list[queries.EntryView]:
    return queries.list_entries(actor, queries.EntryFilters(), limit=200).rows


def _expected(rows: list[queries.EntryView], filters: queries.EntryFilters
              ) -> list[int]:
    term = (filters.search or "").strip()

    def matches(r: queries.EntryView) -> bool:
        if r.gtin == term:
            return True
        if queries.search_mode(term) == "sku_prefix":
            return r.sku.lower().startswith(term.lower())
        return term.lower() in r.title.lower() or term.lower() in r.sku.lower()

    chosen = [
        r for r in rows if matches(r)
        and filters.store_id in (None, r.store_id)
        and filters.location_id in (None, r.location_id)
        and filters.status in (None, r.status)
    ]
    value = {"title": lambda r: r.title, "sku": lambda r: r.sku,
             "quantity": lambda r: r.quantity}[filters.sort]
    chosen.sort(key=lambda r: (value(r), r.id), reverse=filters.descending)
    # Exact codes first, whichever way the rest runs (a stable sort keeps that order).
    chosen.sort(key=lambda r: 0 if r.sku.lower() == term.lower() or r.gtin == term else 1)
    return [r.id for r in chosen]


def _forward(actor: Actor, filters: queries.EntryFilters, limit: int
             ) -> list[queries.EntryPage]:
    pages, cursor = [], None
    while True:
        page = queries.list_entries(actor, filters, cursor=cursor, limit=limit)
        pages.append(page)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def _backward(actor: Actor, filters: queries.EntryFilters, last: queries.EntryPage,
              limit: int) -> list[int]:
    ids, cursor = [], last.prev_cursor
    while cursor:
        page = queries.list_entries(actor, filters, cursor=cursor, limit=limit)
        ids[:0] = [r.id for r in page.rows]
        cursor = page.prev_cursor
    return ids


CASES = [
    {},
    {"status": "low_stock"},
    {"status": "in_stock", "descending": True},
    {"location": 1},
    {"store": "north"},
    {"store": "south", "descending": True},
]


@pytest.mark.parametrize("sort", ["title", "sku", "quantity"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c.items())) or "all")
def test_search_pages_follow_rank_then_sort_then_id(
    stock, admin_actor, make_user, actor_of, sort, case
):
    north, south = stock["north"], stock["south"]
    readers = [admin_actor, actor_of(make_user(role="staff", store=north)),
               actor_of(make_user(role="staff", store=south))]
    store = {"north": north.id, "south": south.id}.get(case.get("store", ""))
    location = stock["places"][north.id][case["location"]].id if "location" in case else None
    for actor in readers:
        everything = _everything(actor)
        for term in ("crate", "CRATE-1", "cr", GTIN, "ate-"):
            filters = queries.EntryFilters(
                search=term, sort=sort, descending=case.get("descending", False),
                status=case.get("status"), store_id=store, location_id=location,
            )
            expected = _expected(everything, filters)
            whole = queries.list_entries(actor, filters, limit=200)
            assert [r.id for r in whole.rows] == expected, (term, filters)
            assert whole.total == len(expected)
            pages = _forward(actor, filters, limit=2)
            assert [r.id for p in pages for r in p.rows] == expected, (term, filters)
            assert all(p.total == len(expected) for p in pages)
            if len(pages) > 1:
                walked_back = _backward(actor, filters, pages[-1], limit=2)
                assert walked_back == expected[:len(expected) - len(pages[-1].rows)]


def test_a_search_by_title_orders_the_products_before_reading_entries(
    stock, admin_actor, backend
):
    """The page of a search sorted by title or SKU reads the ordered matching products
    first on PostgreSQL; other sorts, and SQLite, join every match and sort."""
    for sort, reads_products_first in (("title", True), ("sku", True), ("quantity", False)):
        filters = queries.EntryFilters(search="crate", sort=sort)
        with recorded_statements() as seen:
            queries.list_entries(admin_actor, filters, limit=3)
        page = seen[0]
        assert ("AS hit" in page) == (reads_products_first and backend == "postgresql"), page


def test_one_statement_shape_serves_different_values(stock, make_user, actor_of):
    """Listings of one shape share their statements: each still gets its own values."""
    north, south = stock["north"], stock["south"]
    north_reader = actor_of(make_user(role="staff", store=north))
    south_reader = actor_of(make_user(role="staff", store=south))

    def seen(actor: Actor, term: str) -> list[str]:
        page = queries.list_entries(actor, queries.EntryFilters(search=term), limit=200)
        return sorted({r.sku for r in page.rows})

    assert seen(north_reader, "crate") == ["CRATE-1", "CRATE-2", "CRATE-3", "CRATE-4", "XX-9"]
    assert seen(south_reader, "crate") == ["CRATE-1", "CRATE-5"]
    assert seen(north_reader, "lamp") == ["BIN-7", "LAMP-1"]
    assert seen(south_reader, "lamp") == []


@pytest.mark.parametrize("sort", ["title", "sku", "quantity"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c.items())) or "all")
def test_listing_pages_follow_sort_then_id_for_every_reader(
    stock, admin_actor, make_user, actor_of, sort, case
):
    """Without a search: on SQLite a sort on a column of the product also names the
    reader's stores on the product (_product_store_clauses), a different plan that must
    give the same rows."""
    north, south = stock["north"], stock["south"]
    readers = [admin_actor, actor_of(make_user(role="staff", store=north)),
               actor_of(make_user(role="staff", store=south))]
    store = {"north": north.id, "south": south.id}.get(case.get("store", ""))
    location = stock["places"][north.id][case["location"]].id if "location" in case else None
    for actor in readers:
        filters = queries.EntryFilters(
            sort=sort, descending=case.get("descending", False), status=case.get("status"),
            store_id=store, location_id=location,
        )
        expected = _expected(_everything(actor), filters)
        pages = _forward(actor, filters, limit=2)
        assert [r.id for p in pages for r in p.rows] == expected, filters
        if len(pages) > 1:
            walked_back = _backward(actor, filters, pages[-1], limit=2)
            assert walked_back == expected[:len(expected) - len(pages[-1].rows)]


def test_a_readers_title_sort_names_their_stores_on_the_product_on_sqlite(
    stock, make_user, actor_of, backend
):
    reader = actor_of(make_user(role="staff", store=stock["north"]))
    for sort, named in (("title", True), ("sku", True), ("quantity", False)):
        with recorded_statements() as seen:
            queries.list_entries(reader, queries.EntryFilters(sort=sort), limit=3)
        assert ("products.store_id IN" in seen[0]) == (named and backend == "sqlite"), seen[0]
