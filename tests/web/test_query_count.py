"""The overview costs the same number of SQL statements whatever the page size and however
deep the page: no query per row, no OFFSET walk."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert
from statements import recorded_statements

from app.clock import utcnow
from app.extensions import db
from app.models import InventoryEntry, Location, Product, Store

from .helpers import HX

PRODUCTS, LOCATIONS = 150, 3  # 450 entries: 200 on one page, and a deep page past the 400th


@pytest.fixture
def big_store(
    make_store: Callable[..., Store], login_as: Callable[..., FlaskClient]
) -> SimpleNamespace:
    store = make_store()
    now = utcnow()
    db.session.execute(insert(Location.__table__), [
        {"store_id": store.id, "code": f"BAY_{n}", "name": "", "created_at": now}
        for n in range(LOCATIONS)
    ])
    db.session.execute(insert(Product.__table__), [
        {"store_id": store.id, "sku": f"SKU-{n:04}", "title": f"Product {n:04}",
         "type": "physical", "allow_backorder": n % 7 == 0, "reorder_point": n % 5,
         "reorder_quantity": 10, "created_at": now, "updated_at": now}
        for n in range(PRODUCTS)
    ])
    db.session.commit()
    location_ids = [loc.id for loc in db.session.query(Location).filter_by(store_id=store.id)]
    product_ids = [p.id for p in db.session.query(Product).filter_by(store_id=store.id)]
    db.session.execute(insert(InventoryEntry.__table__), [
        {"store_id": store.id, "product_id": p, "location_id": loc, "quantity": (p * 7) % 40,
         "reserved_quantity": 0, "incoming_quantity": p % 3, "low_stock_threshold": p % 11,
         "version": 1, "created_at": now, "updated_at": now,
         "last_movement_at": now - timedelta(minutes=p)}
        for p in product_ids for loc in location_ids
    ])
    db.session.commit()
    return SimpleNamespace(store=store, client=login_as("owner", store))


@pytest.fixture
def count_statements() -> Callable[[], Any]:
    return recorded_statements


def rows_in(body: str) -> int:
    return len(re.findall(r'<tr id="entry-\d+">', body))


def next_link(body: str) -> str:
    match = re.search(r'rel="next" href="([^"]+)"', body)
    assert match, "no next page"
    return html.unescape(match.group(1))


@pytest.mark.parametrize(
    ("query", "under_htmx"),
    [("", False), ("", True), ("&sort=quantity&dir=desc", True), ("&q=Product", False),
     ("&sort=last_movement&status=in_stock", True)],
)
def test_overview_statements_do_not_grow_with_page_size_or_depth(
    big_store: SimpleNamespace, count_statements: Callable[[], Any], query: str,
    under_htmx: bool,
) -> None:
    client = big_store.client
    headers = HX if under_htmx else {}
    client.get("/inventory", headers=headers)  # warm up: connection, caches

    def measure(url: str) -> tuple[int, str]:
        with count_statements() as statements:
            response = client.get(url, headers=headers)
        assert response.status_code == 200
        return len(statements), response.get_data(as_text=True)

    small, body = measure(f"/inventory?per_page=25{query}")
    assert rows_in(body) == 25
    large, body = measure(f"/inventory?per_page=200{query}")
    assert rows_in(body) == 200
    assert large == small

    # Walk to a deep page by its own links: the cursor, not an offset, takes us there.
    url = f"/inventory?per_page=25{query}"
    for _ in range(10):
        url = next_link(client.get(url, headers=headers).get_data(as_text=True))
    deep, body = measure(url)
    assert rows_in(body) == 25
    assert deep == small
    first_page_ids = re.findall(r'<tr id="(entry-\d+)">', measure(f"/inventory?per_page=25"
                                                                 f"{query}")[1])
    assert not set(first_page_ids) & set(re.findall(r'<tr id="(entry-\d+)">', body))


def test_the_counter_sees_a_query_per_row_when_there_is_one(
    big_store: SimpleNamespace, count_statements: Callable[[], Any]
) -> None:
    """The measuring stick works: rendering rows that each ran a query would be caught."""
    from sqlalchemy import select

    with count_statements() as statements:
        for n in range(3):
            db.session.execute(select(Store.id).where(Store.id == n))
    db.session.rollback()
    assert len(statements) >= 3


@pytest.mark.parametrize(("path", "query", "row", "expect_pages"), [
    ("/reports/low-stock", "", r'<tr id="entry-\d+"', True),
    ("/reports/low-stock", "&sort=shortfall&dir=desc", r'<tr id="entry-\d+"', True),
    ("/reports/low-stock", "&sort=sku&location={location}", r'<tr id="entry-\d+"', False),
    ("/reports/out-of-stock", "&sort=location", r'<tr id="entry-\d+"', False),
    ("/reports/reorder", "&sort=suggested", r'<tr id="entry-\d+"', True),
    ("/reports/reorder", "&supplier=none&location={location}", r'<tr id="entry-\d+"', False),
])
def test_report_statements_do_not_grow_with_page_size_or_depth(
    big_store: SimpleNamespace, count_statements: Callable[[], Any], path: str, query: str,
    row: str, expect_pages: bool,
) -> None:
    """The reports too: two statements for the page and its count, plus the same few for
    the page around them, whatever the page size and depth."""
    client = big_store.client
    location = db.session.query(Location).filter_by(store_id=big_store.store.id).first()
    query = f"&store={big_store.store.id}" + query.format(location=location.id)
    client.get(path)  # warm up

    def measure(url: str) -> tuple[int, str]:
        with count_statements() as statements:
            response = client.get(url, headers=HX)
        assert response.status_code == 200
        return len(statements), response.get_data(as_text=True)

    small, body = measure(f"{path}?per_page=25{query}")
    first = len(re.findall(row, body))
    large, body = measure(f"{path}?per_page=100{query}")
    assert first == min(25, len(re.findall(row, body))) and first > 0
    assert large == small
    if expect_pages:
        url = next_link(measure(f"{path}?per_page=25{query}")[1])
        deep, body = measure(url)
        assert len(re.findall(row, body)) >= 1
        assert deep == small
