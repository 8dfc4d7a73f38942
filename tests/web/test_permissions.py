"""Who may do what, generated from the one permission table, and what a member of one store
can learn or change about another: nothing."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.inventory.actions import ACTIONS, ROW_ACTIONS
from app.models import Store
from app.permissions import (
    ADJUST,
    ALL_PERMISSIONS,
    GRANTABLE_TO_STAFF,
    MEMBERS,
    RESERVE,
    ROLE_PERMISSIONS,
)

from .helpers import HX, Htmx, action_links, valid_form

# Every role as it stands, staff with each grantable group alone and with all of them, staff
# "granted" something never delegated, and a platform admin with no membership at all.
MEMBERSHIPS: list[tuple[str, tuple[str, ...]]] = [
    *((role, ()) for role in ROLE_PERMISSIONS),
    *(("staff", (group,)) for group in sorted(GRANTABLE_TO_STAFF)),
    ("staff", tuple(sorted(GRANTABLE_TO_STAFF))),
    ("staff", (MEMBERS,)),
    ("platform_admin", ()),
]


def expected_permissions(role: str, grants: tuple[str, ...]) -> frozenset[str]:
    """Read straight from the table, not through the code under test."""
    if role == "platform_admin":
        return ALL_PERMISSIONS
    granted = frozenset(grants) & GRANTABLE_TO_STAFF if role == "staff" else frozenset()
    return ROLE_PERMISSIONS[role] | granted


def membership_id(value: Any) -> str:
    if isinstance(value, tuple):
        return "+".join(g.replace(":", "-") for g in value) or "none"
    return str(value)


@pytest.mark.parametrize(("role", "grants"), MEMBERSHIPS, ids=membership_id)
def test_permission_matrix(
    role: str,
    grants: tuple[str, ...],
    make_store: Callable[..., Store],
    scene: Callable[..., SimpleNamespace],
    login_as: Callable[..., FlaskClient],
    db_state: Callable[[], Any],
    htmx: Htmx,
    subtests: Any,
) -> None:
    store = make_store()
    places = {name: scene(store=store, reserved=0 if name == "delete" else 2) for name in ACTIONS}
    client = login_as(role, store, grants)
    allowed = {name for name, a in ACTIONS.items() if a.permission in expected_permissions(
        role, grants)}

    # Buttons a user may not use are not shown.
    overview = client.get("/inventory?per_page=100").get_data(as_text=True)
    for place in places.values():
        assert action_links(overview, place.entry.id) == allowed & set(ROW_ACTIONS)

    for n, (name, place) in enumerate(places.items()):
        url = f"/inventory/entries/{place.entry.id}/{name}"
        with subtests.test(action=name, allowed=name in allowed):
            before = db_state()
            dialog = htmx.get(client, url)
            page = client.get(url)
            under_htmx = n % 2 == 0
            form = valid_form(name, place)
            response = (htmx.post if under_htmx else FlaskClient.post)(client, url, data=form)
            if name in allowed:
                assert (dialog.status_code, page.status_code) == (200, 200)
                assert response.status_code == (200 if under_htmx else 303), response.data[:300]
                assert db_state() != before
            else:
                assert (dialog.status_code, page.status_code) == (403, 403)
                assert response.status_code == 403
                assert db_state() == before


def test_staff_without_adjust_sees_no_adjust_button(
    scene: Callable[..., SimpleNamespace], login_as: Callable[..., FlaskClient]
) -> None:
    place = scene(sku="MUG-BLU")
    reserver = login_as("staff", place.store, (RESERVE,))
    adjuster = login_as("staff", place.store, (ADJUST,))
    reader = login_as("staff", place.store)

    row = reserver.get("/inventory").get_data(as_text=True)
    assert action_links(row, place.entry.id) == {"reserve", "release", "fulfill"}
    assert ">Adjust</a>" not in row and "/adjust" not in row
    # The same row for someone who may adjust does show the button: the check can fail.
    row = adjuster.get("/inventory").get_data(as_text=True)
    assert "adjust" in action_links(row, place.entry.id)
    assert ">Adjust</a>" in row
    row = reader.get(f"/inventory/entries/{place.entry.id}/row").get_data(as_text=True)
    assert action_links(row, place.entry.id) == set()
    assert "MUG-BLU" in row


# --------------------------------------------------------------------------- other stores

FOREIGN = ("FOREIGN-SKU-77", "Foreign Secret Teapot", "FOREIGN_BAY", "Foreign Store Beta",
           "FOREIGN-ORDER-9")
STORE_ROLES = [("owner", ()), ("admin", ()), ("staff", ()),
               ("staff", tuple(sorted(GRANTABLE_TO_STAFF)))]


@pytest.fixture
def two_stores(
    make_store: Callable[..., Store],
    scene: Callable[..., SimpleNamespace],
    make_entry: Callable[..., Any],
    admin_actor: Any,
) -> SimpleNamespace:
    from app.services import stock

    home = scene(title="Home Mug", sku="HOME-1")
    away = scene(store=make_store("Foreign Store Beta"), title="Foreign Secret Teapot",
                 sku="FOREIGN-SKU-77", code="foreign_bay", reserved=0)
    change = stock.reserve_stock(actor=admin_actor, entry_id=away.entry.id, quantity=3,
                                     order_ref="FOREIGN-ORDER-9")
    away.hold_id = change.reservation_ids[0]
    return SimpleNamespace(home=home, away=away)


def _foreign_requests(home: SimpleNamespace, away: SimpleNamespace) -> list[tuple[Any, ...]]:
    """(method, url, form, htmx, action) aimed at store B, in URLs and in form bodies;
    `action` is set when the URL is one's own entry, whose permission is checked first."""
    entry_id, product_id = away.entry.id, away.product.id
    out: list[tuple[Any, ...]] = [
        ("GET", f"/inventory/entries/{entry_id}", None, False, None),
        ("GET", f"/inventory/entries/{entry_id}", None, True, None),
        ("GET", f"/inventory/entries/{entry_id}/row", None, True, None),
        ("GET", f"/products/{product_id}", None, False, None),
    ]
    for name in ACTIONS:
        url = f"/inventory/entries/{entry_id}/{name}"
        out += [("GET", url, None, True, None), ("GET", url, None, False, None)]
        out += [("POST", url, valid_form(name, away), True, None),
                ("POST", url, valid_form(name, away), False, None)]
    # Foreign ids inside a form about one's own entry.
    own = f"/inventory/entries/{home.entry.id}"
    out += [
        ("POST", f"{own}/transfer", valid_form("transfer", home,
                                               to_location_id=str(away.location.id)), True,
         "transfer"),
        ("POST", f"{own}/release", valid_form("release", home, reservation_id=str(away.hold_id),
                                              quantity=""), True, "release"),
        ("POST", f"{own}/fulfill", valid_form("fulfill", home, reservation_id=str(away.hold_id),
                                              quantity="1"), False, "fulfill"),
    ]
    return out


@pytest.mark.parametrize(("role", "grants"), STORE_ROLES, ids=membership_id)
def test_another_stores_ids_are_not_found(
    role: str,
    grants: tuple[str, ...],
    two_stores: SimpleNamespace,
    login_as: Callable[..., FlaskClient],
    db_state: Callable[[], Any],
    subtests: Any,
) -> None:
    home, away = two_stores.home, two_stores.away
    client = login_as(role, home.store, grants)
    before = db_state()
    held = expected_permissions(role, grants)
    for method, url, form, under_htmx, own_action in _foreign_requests(home, away):
        with subtests.test(method=method, url=url, htmx=under_htmx):
            response = client.open(url, method=method, data=form,
                                   headers=HX if under_htmx else {})
            body = response.get_data(as_text=True)
            # On one's own entry the action's permission is checked first; a refusal there
            # says nothing about store B.
            refused = own_action is not None and ACTIONS[own_action].permission not in held
            assert response.status_code == (403 if refused else 404)
            assert [s for s in FOREIGN if s.lower() in body.lower()] == []
    assert db_state() == before


@pytest.mark.parametrize(("role", "grants"), STORE_ROLES, ids=membership_id)
def test_another_store_never_shows_in_lists(
    role: str,
    grants: tuple[str, ...],
    two_stores: SimpleNamespace,
    login_as: Callable[..., FlaskClient],
    subtests: Any,
) -> None:
    home, away = two_stores.home, two_stores.away
    client = login_as(role, home.store, grants)
    b, loc = away.store.id, away.location.id
    urls = [
        "/inventory", f"/inventory?store={b}", f"/inventory?location={loc}",
        "/inventory?q=FOREIGN-SKU-77", "/inventory?q=Teapot", f"/inventory/stats?store={b}",
        "/inventory/stats", f"/reports/low-stock?store={b}", f"/reports/out-of-stock?store={b}",
        f"/reports/reorder?store={b}", "/reports/low-stock", "/reports/out-of-stock",
        "/reports/reorder", f"/products/{home.product.id}",
        f"/inventory/entries/{home.entry.id}/transfer",
    ]
    may_transfer = ACTIONS["transfer"].permission in expected_permissions(role, grants)
    for url in urls:
        for headers in ({}, HX):
            with subtests.test(url=url, htmx=bool(headers)):
                response = client.get(url, headers=headers)
                body = response.get_data(as_text=True)
                if url.endswith("/transfer") and not may_transfer:
                    assert response.status_code == 403
                elif f"={b}" in url or f"={loc}" in url:
                    # A filter naming another store's id reads like an id that does not exist.
                    assert response.status_code == 404
                else:
                    assert response.status_code == 200
                # What the user typed is echoed back; nothing else of store B may appear.
                leaked = [s for s in FOREIGN if s.lower() in body.lower() and s not in url]
                assert leaked == []
    # The same lists do show store B to its own members: the check above can fail.
    insider = login_as("owner", away.store)
    assert "FOREIGN-SKU-77" in insider.get("/inventory").get_data(as_text=True)
