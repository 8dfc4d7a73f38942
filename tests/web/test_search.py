"""Searching the overview: the rows a search finds, exact codes first across pages, and the
same number of SQL statements per page whatever the search, filter, page size or depth."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, insert, select

from app.clock import utcnow
from app.extensions import db
from app.models import InventoryEntry, Location, Product, Store

from .helpers import HX

PRODUCTS, LOCATIONS = 150, 3  # 450 entries, plus the 3 of the exact code "sku-0"


@pytest.fixture
def catalogue(
    make_store: Callable[..., Store], login_as: Callable[..., FlaskClient]
) -> SimpleNamespace:
    """A store of 151 products in 3 bays. "sku-0" is a whole SKU and also the start of
    every other SKU, and its title sorts last."""
    store = make_store()
    now = utcnow()
    db.session.execute(insert(Location.__table__), [
        {"store_id": store.id, "code": f"BAY_{n}", "name": "", "created_at": now}
        for n in range(LOCATIONS)
    ])
    products = [
        {"sku": f"SKU-{n:04}", "title": f"Product {n:04}", "gtin": f"{4000000000000 + n}"}
        for n in range(PRODUCTS)
    ] + [{"sku": "sku-0", "title": "Zinc bucket", "gtin": None}]
    db.session.execute(insert(Product.__table__), [
        {"store_id": store.id, "type": "physical", "allow_backorder": n % 7 == 0,
         "reorder_point": 0, "reorder_quantity": 0, "created_at": now, "updated_at": now, **p}
        for n, p in enumerate(products)
    ])
    db.session.commit()
    location_ids = list(db.session.scalars(
        select(Location.id).where(Location.store_id == store.id).order_by(Location.id)
    ))
    product_ids = list(db.session.scalars(
        select(Product.id).where(Product.store_id == store.id).order_by(Product.id)
    ))
    db.session.execute(insert(InventoryEntry.__table__), [
        {"store_id": store.id, "product_id": p, "location_id": loc, "quantity": (p * 7) % 40,
         "reserved_quantity": 0, "incoming_quantity": 0, "low_stock_threshold": p % 11,
         "version": 1, "created_at": now, "updated_at": now,
         "last_movement_at": now - timedelta(minutes=p)}
        for p in product_ids for loc in location_ids
    ])
    db.session.commit()
    return SimpleNamespace(store=store, locations=location_ids,
                           client=login_as("owner", store))


@contextmanager
def counting_statements() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def skus_in(body: str) -> list[str]:
    return re.findall(r'<tr id="entry-\d+"><td>.*?</a><small>([^<]+)</small>', body, re.S)


def rows_in(body: str) -> list[str]:
    return re.findall(r'<tr id="(entry-\d+)">', body)


def next_link(body: str) -> str:
    match = re.search(r'rel="next" href="([^"]+)"', body)
    assert match, "no next page"
    return html.unescape(match.group(1))


def test_a_search_lists_the_exact_code_first_then_the_rest_in_order(
    catalogue: SimpleNamespace,
) -> None:
    client = catalogue.client
    body = client.get("/inventory?q=SKU-0&per_page=25", headers=HX).get_data(as_text=True)
    found = skus_in(body)
    assert found[:3] == ["sku-0"] * 3
    assert found[3:6] == ["SKU-0000"] * 3
    assert "Exact match:" in body
    assert f"{PRODUCTS * LOCATIONS + 3:,} entries" in body

    body = client.get("/inventory?q=product+014", headers=HX).get_data(as_text=True)
    assert sorted(set(skus_in(body))) == [f"SKU-{n:04}" for n in range(140, 150)]
    assert "Exact match:" not in body

    body = client.get("/inventory?q=%25_x", headers=HX).get_data(as_text=True)
    assert rows_in(body) == []
    assert "No entries match these filters." in body


def test_walking_a_search_visits_every_row_once(catalogue: SimpleNamespace) -> None:
    client = catalogue.client
    url = "/inventory?q=SKU-0&per_page=100&sort=quantity&dir=desc"
    seen: list[str] = []
    for _ in range(10):
        body = client.get(url, headers=HX).get_data(as_text=True)
        seen.extend(rows_in(body))
        if 'rel="next"' not in body:
            break
        url = next_link(body)
    assert len(seen) == len(set(seen)) == PRODUCTS * LOCATIONS + 3


@pytest.mark.parametrize(
    ("query", "under_htmx"),
    [
        ("&q=roduct+0", False),  # substring of titles, 300 rows
        ("&q=SKU-0", True),  # an exact code first, then every other row
        ("&q=sku-0&sort=quantity&dir=desc", True),
        ("&q=sk", True),  # too short for trigrams: the start of a SKU
        ("&q=SKU-0&status=in_stock&sort=last_movement", False),
        ("&q=roduct+01&max_qty=39", True),  # with a quantity filter
        ("&location={bay}&status=in_stock", True),
        ("&location={bay}&max_qty=39&sort=available", False),
    ],
)
def test_statements_per_page_do_not_grow_with_searches_filters_page_size_or_depth(
    catalogue: SimpleNamespace, query: str, under_htmx: bool
) -> None:
    client = catalogue.client
    headers = HX if under_htmx else {}
    query = query.format(bay=catalogue.locations[1])
    client.get("/inventory", headers=headers)  # warm up: connection, caches

    def measure(url: str) -> tuple[int, str]:
        with counting_statements() as statements:
            response = client.get(url, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return len(statements), response.get_data(as_text=True)

    small, body = measure(f"/inventory?per_page=25{query}")
    assert len(rows_in(body)) == 25
    large, body = measure(f"/inventory?per_page=100{query}")
    assert len(rows_in(body)) == 100
    assert large == small

    url = f"/inventory?per_page=25{query}"
    first_page = set(rows_in(client.get(url, headers=headers).get_data(as_text=True)))
    for _ in range(4):
        url = next_link(client.get(url, headers=headers).get_data(as_text=True))
    deep, body = measure(url)
    assert len(rows_in(body)) == 25
    assert deep == small
    assert not first_page & set(rows_in(body))
