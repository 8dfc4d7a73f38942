"""The overview's rows: each row's actions cell is rendered once per store and page and then
filled in per entry, and the status badge is written out in the row. The rows must still
name their own entry, escape what the merchant typed, offer what the user may do in that
store, and look the same as the single row an action sends back."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask, render_template, render_template_string
from flask.testing import FlaskClient
from markupsafe import escape

from app.extensions import db
from app.inventory import rows
from app.inventory.actions import ACTIONS, ROW_ACTIONS
from app.models import Location, Membership, Product, Store
from app.permissions import RESERVE
from app.services.queries import STATUS_LABELS

from .helpers import HX, action_links

# What a merchant may type that means something to HTML or to str.format.
AWKWARD_SKUS = ("BR{0}-{1}}", 'Q"&<b>-1', "PLAIN-7")


def row_of(body: str, entry_id: int) -> str:
    match = re.search(rf'<tr id="entry-{entry_id}">.*?</tr>', body, re.S)
    assert match, f"no row for entry {entry_id}"
    return match.group(0)


def fragment(client: FlaskClient, url: str = "/inventory") -> str:
    # As htmx asks from the overview: the rows without the stats cards.
    response = client.get(url, headers={**HX, "HX-Current-URL": f"http://localhost{url}"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


@pytest.fixture
def awkward(
    make_store: Callable[..., Store],
    make_location: Callable[..., Location],
    make_product: Callable[..., Product],
    make_entry: Callable[..., Any],
) -> SimpleNamespace:
    store = make_store()
    location = make_location(store, code="A&B{2}")
    entries = [
        make_entry(store=store, location=location, product=make_product(store, sku=sku))
        for sku in AWKWARD_SKUS
    ]
    return SimpleNamespace(store=store, location=location, entries=entries)


def test_each_row_names_its_own_entry_escaped(
    awkward: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    body = fragment(login_as("owner", awkward.store))
    for entry, sku in zip(awkward.entries, AWKWARD_SKUS, strict=True):
        row = row_of(body, entry.id)
        assert action_links(body, entry.id) == set(ROW_ACTIONS)
        assert re.findall(r'href="/inventory/entries/(\d+)/([a-z]+)"', row) == [
            (str(entry.id), ROW_ACTIONS[0])
        ]
        key = rows.menu_key(ROW_ACTIONS)
        assert f'href="/inventory/entries/{entry.id}" data-more="{key}"' in row
        # The buttons and the checkbox are named by the row's product and location, which
        # the row holds escaped once.
        assert row.count(f'aria-describedby="t{entry.id} l{entry.id}"') == 2
        assert f'aria-labelledby="t{entry.id} l{entry.id}"' in row
        assert f"<small>{escape(sku)}</small>" in row
        assert f'<code id="l{entry.id}">A&amp;B{{2}}</code>' in row
        assert "<b>" not in row


def test_the_page_carries_one_menu_per_set_of_actions_and_no_row_carries_one(
    awkward: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    body = fragment(login_as("owner", awkward.store))
    menus = re.findall(r'<template id="row-menu-(\d+)">(.*?)</template>', body, re.S)
    assert [key for key, _ in menus] == [str(rows.menu_key(ROW_ACTIONS))]
    links = re.findall(r'href="/inventory/entries/0/([a-z]+)" data-dialog data-action="\1"',
                       menus[0][1])
    assert links == list(ROW_ACTIONS[1:])
    for entry in awkward.entries:
        assert "row-menu" not in row_of(body, entry.id)


def test_rows_offer_what_the_user_may_do_in_their_store(
    make_store: Callable[..., Store],
    make_entry: Callable[..., Any],
    make_user: Callable[..., Any],
    sign_in: Callable[..., FlaskClient],
) -> None:
    managed, watched = make_store(), make_store()
    mine = [make_entry(store=managed) for _ in range(2)]
    theirs = [make_entry(store=watched) for _ in range(2)]
    user = make_user(role="owner", store=managed)
    db.session.add(Membership(user_id=user.id, store_id=watched.id, role="staff",
                              grants=[RESERVE]))
    db.session.commit()
    body = fragment(sign_in(user))
    reserving = [name for name in ROW_ACTIONS if ACTIONS[name].permission == RESERVE]
    assert 1 < len(reserving) < len(ROW_ACTIONS)
    for entries, offered, selectable in ((mine, list(ROW_ACTIONS), True),
                                         (theirs, reserving, False)):
        for entry in entries:
            row = row_of(body, entry.id)
            assert action_links(body, entry.id) == set(offered)
            assert re.findall(rf'/inventory/entries/{entry.id}/([a-z]+)"', row) == offered[:1]
            assert ('form="bulk-select"' in row) is selectable
    # Two stores with different actions: two menus, each row naming its own.
    assert len(re.findall(r'<template id="row-menu-\d+">', body)) == 2


def test_the_actions_cell_is_rendered_once_per_store_and_page(
    awkward: SimpleNamespace,
    make_entry: Callable[..., Any],
    login_as: Callable[..., FlaskClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = make_entry()
    rendered: list[int] = []
    shape = rows._actions_shape

    def counted(store_id: int) -> str:
        rendered.append(store_id)
        return shape(store_id)

    monkeypatch.setattr(rows, "_actions_shape", counted)
    body = fragment(login_as("platform_admin"))
    assert len(re.findall(r'<tr id="entry-', body)) == len(awkward.entries) + 1
    assert sorted(rendered) == sorted([awkward.store.id, other.store_id])


def test_single_row_is_the_overview_row(
    awkward: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", awkward.store)
    body = fragment(client, "/inventory?sort=sku")
    for entry in awkward.entries:
        single = client.get(f"/inventory/entries/{entry.id}/row",
                            query_string={"next": "/inventory?sort=sku"})
        assert single.get_data(as_text=True) == row_of(body, entry.id)


def test_an_action_opened_from_a_page_returns_to_it(
    awkward: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    # The row's links carry no `next`: the form takes the page it was opened from, from
    # htmx's current URL or the Referer, on this site only.
    client = login_as("owner", awkward.store)
    url = f"/inventory/entries/{awkward.entries[0].id}/adjust"

    def next_of(**headers: str) -> str:
        body = client.get(url, headers=headers).get_data(as_text=True)
        match = re.search(r'name="next"[^>]*value="([^"]*)"', body) or re.search(
            r'value="([^"]*)"[^>]*name="next"', body)
        return html.unescape(match.group(1)) if match else ""

    assert next_of(**HX, **{"HX-Current-URL": "http://localhost/inventory?sort=sku&q=a"}) == (
        "/inventory?sort=sku&q=a")
    assert next_of(Referer="http://localhost/products/3") == "/products/3"
    assert next_of(Referer="http://elsewhere.example/inventory") == ""
    assert next_of(Referer="javascript:alert(1)") == ""
    assert next_of() == ""


@pytest.mark.parametrize("status,unlimited", [
    *((status, False) for status in STATUS_LABELS), ("in_stock", True),
])
def test_the_row_badge_is_the_status_template(app: Flask, status: str, unlimited: bool) -> None:
    entry = SimpleNamespace(
        id=7, store_id=1, store_name="Store", sku="SKU-7", title="Mug", location_code="BAY",
        quantity=3, reserved_quantity=1, available_quantity=2, incoming_quantity=0,
        low_stock_threshold=0, status=status, status_label=STATUS_LABELS[status],
        unlimited=unlimited, last_movement_at=None,
    )
    with app.test_request_context("/inventory"):
        row = render_template_string(
            '{% from "inventory/_row.html" import entry_row %}{{ entry_row(entry) }}',
            entry=entry,
        )
        badge = render_template("inventory/_status.html", entry=entry)
    assert f"<td>{badge}<td>" in row
