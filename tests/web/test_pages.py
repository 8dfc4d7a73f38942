"""Every screen as a full page and, where htmx asks for one, as a fragment; anonymous visitors
are sent to sign in, and htmx is told to send the whole window there."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.inventory.actions import ACTIONS

from .helpers import HX, hidden_value, valid_form


@pytest.fixture
def shop(scene: Callable[..., SimpleNamespace], login_as: Callable[..., FlaskClient],
         make_product: Callable[..., Any], make_entry: Callable[..., Any]) -> SimpleNamespace:
    place = scene(quantity=10, reserved=2, title="Blue Mug", sku="MUG-BLU", code="aisle_1")
    # One entry low on stock, one out of stock, one product at its reorder point.
    low = make_entry(store=place.store, location=place.spare,
                     product=make_product(place.store, sku="CUP-LOW", title="Low Cup"),
                     quantity=3, threshold=5)
    empty = make_entry(store=place.store, location=place.spare,
                       product=make_product(place.store, sku="JAR-OUT", title="Empty Jar",
                                            reorder_point=2, reorder_quantity=24),
                       quantity=0)
    place.low, place.empty = low, empty
    place.client = login_as("owner", place.store)
    return place


def is_full_page(body: str) -> bool:
    return body.lstrip().lower().startswith("<!doctype html>") and "</html>" in body


def root_tag(body: str) -> str:
    match = re.match(r"\s*<([a-z]+)\b[^>]*\bid=\"([^\"]+)\"", body)
    assert match, body[:200]
    return f"{match.group(1)}#{match.group(2)}"


def test_overview_is_a_full_page_without_htmx(shop: SimpleNamespace) -> None:
    response = shop.client.get("/inventory")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_full_page(body)
    for marker in ('id="stats"', 'id="filters"', 'id="results"', f'id="entry-{shop.entry.id}"'):
        assert marker in body
    assert "HX-Request" in response.vary


def test_overview_answers_htmx_with_the_results_fragment(shop: SimpleNamespace) -> None:
    response = shop.client.get("/inventory?q=mug", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert not is_full_page(body)
    assert root_tag(body) == "section#results"
    assert f'id="entry-{shop.entry.id}"' in body
    assert f'id="entry-{shop.low.id}"' not in body  # the search applied
    assert 'id="filters"' not in body
    # The stats cards come along out of band, for the same filters.
    assert re.search(r'<section id="stats"[^>]*hx-swap-oob="true"', body)
    assert "HX-Request" in response.vary
    assert response.headers["HX-Push-Url"] == "/inventory?q=mug"


@pytest.mark.parametrize(
    "extra", [{"HX-Boosted": "true"}, {"HX-History-Restore-Request": "true"}],
    ids=["boosted", "history-restore"],
)
def test_overview_is_a_full_page_for_boosted_and_history_requests(
    shop: SimpleNamespace, extra: dict[str, str]
) -> None:
    response = shop.client.get("/inventory", headers={**HX, **extra})
    assert response.status_code == 200
    assert is_full_page(response.get_data(as_text=True))
    assert "HX-Request" in response.vary


def test_overview_reports_filters_it_cannot_read(shop: SimpleNamespace) -> None:
    for headers in ({}, HX):
        response = shop.client.get("/inventory?max_qty=ten&status=lost", headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "<b>max_qty</b>: Enter a whole number" in body
        assert "<b>status</b>: Choose a status" in body
        assert "HX-Request" in response.vary


def test_overview_refuses_forged_page_cursors_without_a_server_error(
    shop: SimpleNamespace,
) -> None:
    import base64
    import json

    def forge(payload: Any) -> str:
        raw = json.dumps(payload).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    cursors = [
        "garbage", "%%%", "A" * 399, forge(["v", "x", 2**64, False]),
        forge(["v", 2**70, 1, False]), forge(["t", "not a time", 1, False]),
        forge(["v", None, 1, False]), forge({"v": 1}), forge(["v", "x", 1.5, False]),
    ]
    for cursor in cursors:
        for headers in ({}, HX):
            response = shop.client.get("/inventory", query_string={"cursor": cursor},
                                       headers=headers)
            assert response.status_code == 422, (cursor, response.status_code)
            assert "This page link is no longer valid." in response.get_data(as_text=True)


def test_stats_is_always_a_fragment(shop: SimpleNamespace) -> None:
    for headers in ({}, HX):
        response = shop.client.get(f"/inventory/stats?store={shop.store.id}", headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert not is_full_page(body)
        assert root_tag(body) == "section#stats"
        assert 'hx-trigger="stock-changed from:body"' in body


def test_row_is_a_fragment_with_the_entry_id(shop: SimpleNamespace) -> None:
    for headers in ({}, HX):
        response = shop.client.get(f"/inventory/entries/{shop.entry.id}/row", headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert not is_full_page(body)
        assert root_tag(body) == f"tr#entry-{shop.entry.id}"
        assert "MUG-BLU" in body


def test_entry_page(shop: SimpleNamespace) -> None:
    response = shop.client.get(f"/inventory/entries/{shop.entry.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_full_page(body)
    assert "Blue Mug" in body and "MUG-BLU" in body and "AISLE_1" in body


def test_product_page_lists_stock_per_location(shop: SimpleNamespace) -> None:
    response = shop.client.get(f"/products/{shop.product.id}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_full_page(body)
    assert "Blue Mug" in body and "AISLE_1" in body
    assert f"/inventory/entries/{shop.entry.id}" in body


@pytest.mark.parametrize(
    ("url", "present", "absent"),
    [
        ("/reports/low-stock", "CUP-LOW", "MUG-BLU"),
        ("/reports/out-of-stock", "JAR-OUT", "CUP-LOW"),
        ("/reports/reorder", "JAR-OUT", "MUG-BLU"),
    ],
)
def test_reports_are_full_pages_with_the_right_rows(
    shop: SimpleNamespace, url: str, present: str, absent: str
) -> None:
    response = shop.client.get(url)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_full_page(body)
    assert present in body
    assert absent not in body


def test_home_redirects_to_the_overview(shop: SimpleNamespace) -> None:
    response = shop.client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/inventory"


def test_sign_in_page_and_signed_in_visitors(app: Flask, shop: SimpleNamespace) -> None:
    response = app.test_client().get("/sign-in")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_full_page(body)
    assert 'name="email"' in body and 'name="password"' in body
    # Someone already signed in goes straight to the overview.
    assert shop.client.get("/sign-in").headers["Location"] == "/inventory"


def test_unknown_action_and_unknown_entry_are_not_found(shop: SimpleNamespace) -> None:
    entry_id = shop.entry.id
    for method in ("get", "post"):
        call = getattr(shop.client, method)
        assert call(f"/inventory/entries/{entry_id}/explode").status_code == 404
        assert call(f"/inventory/entries/{entry_id + 999}/adjust").status_code == 404
    assert shop.client.get(f"/inventory/entries/{entry_id + 999}").status_code == 404
    assert shop.client.get(f"/inventory/entries/{entry_id + 999}/row").status_code == 404
    assert shop.client.get(f"/products/{shop.product.id + 999}").status_code == 404


def _every_route(place: SimpleNamespace) -> list[tuple[str, str, dict[str, str] | None]]:
    entry_id, product_id = place.entry.id, place.product.id
    routes: list[tuple[str, str, dict[str, str] | None]] = [
        ("GET", "/", None),
        ("GET", "/inventory?status=low_stock", None),
        ("GET", "/inventory/stats", None),
        ("GET", f"/inventory/entries/{entry_id}", None),
        ("GET", f"/inventory/entries/{entry_id}/row", None),
        ("GET", f"/products/{product_id}", None),
        ("GET", "/reports/low-stock", None),
        ("GET", "/reports/out-of-stock", None),
        ("GET", "/reports/reorder", None),
        ("POST", "/sign-out", {}),
    ]
    for name in ACTIONS:
        url = f"/inventory/entries/{entry_id}/{name}"
        routes.append(("GET", url, None))
        routes.append(("POST", url, valid_form(name, place)))
    return routes


def test_anonymous_visitors_are_sent_to_sign_in(
    app: Flask, shop: SimpleNamespace, db_state: Callable[[], Any], subtests: Any
) -> None:
    before = db_state()
    client = app.test_client()
    for method, url, form in _every_route(shop):
        with subtests.test(method=method, url=url):
            response = client.open(url, method=method, data=form)
            assert response.status_code == 302
            location = urlsplit(response.headers["Location"])
            assert location.path == "/sign-in"
            if url != "/":
                assert parse_qs(location.query)["next"] == [url]
            # htmx: a 401 and a redirect of the whole window, never a page in a table cell.
            response = client.open(url, method=method, data=form, headers=HX)
            assert response.status_code == 401
            assert urlsplit(response.headers["HX-Redirect"]).path == "/sign-in"
            assert "<form" not in response.get_data(as_text=True)
    assert db_state() == before


def test_sign_in_returns_to_the_page_asked_for(
    app: Flask, shop: SimpleNamespace
) -> None:
    client = app.test_client()
    url = f"/inventory/entries/{shop.entry.id}/adjust?next=/inventory"
    location = client.get(url).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert "Please sign in to continue." in page
    next_value = parse_qs(urlsplit(location).query)["next"][0]
    assert hidden_value(page, "next") == next_value
    response = client.post("/sign-in", data={
        "email": shop.client.user.email, "password": "correct horse battery staple",
        "next": next_value,
    })
    assert response.status_code == 303
    assert response.headers["Location"] == url


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example",
     "/\t/evil.example", "javascript:alert(1)", "evil.example"],
)
def test_sign_in_never_redirects_off_site(
    app: Flask, shop: SimpleNamespace, target: str
) -> None:
    response = app.test_client().post("/sign-in", data={
        "email": shop.client.user.email, "password": "correct horse battery staple",
        "next": target,
    })
    assert response.status_code == 303
    assert response.headers["Location"] == "/inventory"
