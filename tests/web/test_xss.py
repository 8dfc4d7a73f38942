"""Names and notes that look like markup or template code are shown as text everywhere."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.inventory.actions import ACTIONS
from app.models import ItemVariant, Location, Product, Store
from app.permissions import system_actor
from app.services import stock

from .helpers import HX, valid_form

IMG = "<img src=x onerror=alert(1)>"
ATTR = '" hx-post="/x'
TEMPLATE = "Z{{7*7}}Z"  # markers around it, so "49" from elsewhere on a page can't confuse


def hostile(prefix: str) -> str:
    return f"{prefix}{IMG}{ATTR}{TEMPLATE}"


def assert_escaped(body: str, where: str) -> None:
    lowered = body.lower()  # location codes are stored in capitals
    assert "<img src=x" not in lowered, where
    assert 'hx-post="/x' not in lowered, where
    assert "z49z" not in lowered, where


@pytest.fixture
def hostile_shop(
    make_store: Callable[..., Store],
    make_location: Callable[..., Location],
    make_product: Callable[..., Product],
    make_entry: Callable[..., Any],
    login_as: Callable[..., FlaskClient],
) -> SimpleNamespace:
    store = make_store(hostile("Store"))
    location = make_location(store, code=hostile("L"))
    spare = make_location(store, code=hostile("M"))
    product = make_product(store, sku=hostile("S"), title=hostile("Title"),
                           reorder_point=50, reorder_quantity=10)
    entry = make_entry(store=store, location=location, product=product, quantity=10,
                       threshold=20)
    empty = make_entry(store=store, location=spare, product=product, quantity=0)
    actor = system_actor("tests")
    stock.adjust_stock(actor=actor, entry_id=entry.id, delta=2, reason=hostile("Reason"),
                           reference=hostile("Ref"))
    stock.reserve_stock(actor=actor, entry_id=entry.id, quantity=1,
                            order_ref=hostile("O"), line_ref=hostile("Line"))
    client = login_as("owner", store)
    return SimpleNamespace(store=store, location=location, spare=spare, product=product,
                           entry=entry, empty=empty, client=client)


def _item_of(product_id: int) -> int:
    item_id = db.session.scalar(select(ItemVariant.item_id)
                                .where(ItemVariant.product_id == product_id))
    db.session.rollback()
    return int(item_id)


def test_hostile_names_are_escaped_on_every_page_and_fragment(
    hostile_shop: SimpleNamespace, subtests: Any
) -> None:
    shop, client = hostile_shop, hostile_shop.client
    entry_id = shop.entry.id
    urls = ["/inventory", f"/inventory?store={shop.store.id}", "/inventory/stats",
            f"/inventory/entries/{entry_id}", f"/inventory/entries/{entry_id}/row",
            f"/products/{shop.product.id}", "/reports/low-stock", "/reports/out-of-stock",
            "/reports/reorder", f"/catalog/items/{_item_of(shop.product.id)}",
            f"/catalog/items/new?store={shop.store.id}"]
    urls += [f"/inventory/entries/{entry_id}/{name}" for name in ACTIONS]
    shown = 0
    for url in urls:
        for headers in ({}, HX):
            with subtests.test(url=url, htmx=bool(headers)):
                response = client.get(url, headers=headers)
                body = response.get_data(as_text=True)
                assert response.status_code == 200
                assert_escaped(body, url)
                if "&lt;img src=x onerror=alert(1)&gt;" in body:
                    shown += 1
    # The payload is really on these pages, escaped: every one but the stats cards shows it.
    assert shown >= 2 * (len(urls) - 1) - 1
    # The movement history shows the ledger's reason, escaped.
    page = client.get(f"/inventory/entries/{entry_id}").get_data(as_text=True)
    assert "Reason&lt;img src=x onerror=alert(1)&gt;" in page


def test_hostile_names_are_escaped_on_every_other_page(
    app: Flask, hostile_shop: SimpleNamespace, subtests: Any
) -> None:
    """HTML pages without parameters the app serves, including ones added after this test
    (the JSON API has its own tier)."""
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.rule.startswith(("/static",
                                                                                "/api/")):
            continue
        for headers in ({}, HX):
            with subtests.test(url=rule.rule, htmx=bool(headers)):
                response = hostile_shop.client.get(rule.rule, headers=headers)
                assert response.status_code < 500
                if response.mimetype == "text/html":
                    assert_escaped(response.get_data(as_text=True), rule.rule)


def test_hostile_search_and_filters_are_escaped(
    hostile_shop: SimpleNamespace, subtests: Any
) -> None:
    client = hostile_shop.client
    for query in ({"q": IMG}, {"q": ATTR}, {"q": TEMPLATE}, {"q": "S<img"},
                  {"max_qty": IMG}, {"status": ATTR}, {"sort": TEMPLATE}, {"cursor": IMG},
                  {"per_page": ATTR}):
        for headers in ({}, HX):
            with subtests.test(query=query, htmx=bool(headers)):
                response = client.get("/inventory", query_string=query, headers=headers)
                assert response.status_code in (200, 422)
                assert_escaped(response.get_data(as_text=True), str(query))


def test_hostile_input_is_escaped_in_results_errors_and_flashes(
    hostile_shop: SimpleNamespace, subtests: Any
) -> None:
    shop, client = hostile_shop, hostile_shop.client
    place = SimpleNamespace(spare=shop.spare, location=shop.location)
    base = f"/inventory/entries/{shop.entry.id}"
    sends = [
        # Accepted: the row, the out-of-band flash and the flash after a redirect.
        ("adjust htmx", "adjust", {"reason": hostile("R"), "reference": hostile("F")}, True),
        ("adjust page", "adjust", {"reason": hostile("R")}, False),
        ("reserve htmx", "reserve", {"order_ref": hostile("O"), "line_ref": hostile("L")}, True),
        ("transfer htmx", "transfer", {"reason": hostile("T")}, True),
        # Refused: the values come back in the form.
        ("adjust 422", "adjust", {"delta": IMG, "reason": hostile("R")}, True),
        ("adjust 422 page", "adjust", {"delta": ATTR, "reference": hostile("F")}, False),
        ("reserve 422", "reserve", {"quantity": TEMPLATE, "order_ref": hostile("O")}, True),
        ("count 422", "count", {"counted_quantity": "-1", "reason": hostile("N")}, True),
        ("set 422", "set", {"quantity": "x", "expected_version": IMG}, True),
        ("release 422", "release", {"reservation_id": ATTR}, True),
        ("transfer 422", "transfer", {"to_location_id": IMG}, False),
        ("delete 409", "delete", {"reason": hostile("D")}, True),
    ]
    for label, name, changes, under_htmx in sends:
        with subtests.test(send=label):
            response = client.post(f"{base}/{name}", data=valid_form(name, place, **changes),
                                   headers=HX if under_htmx else {})
            assert response.status_code in (200, 303, 409, 422), response.status_code
            assert_escaped(response.get_data(as_text=True), label)
            if response.status_code == 303:
                page = client.get(response.headers["Location"]).get_data(as_text=True)
                assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the flash names it
                assert_escaped(page, label + " flash")
            if response.status_code == 422 and "R" in changes.get("reason", ""):
                assert "&lt;img src=x onerror=alert(1)&gt;" in response.get_data(as_text=True)
