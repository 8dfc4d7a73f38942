"""The shop floor's web tier: every stock action from every page (the overview's dialog, the
entry and product pages, a page of its own), errors where the user typed, and scans."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.extensions import db
from app.inventory.actions import ACTIONS, ROW_ACTIONS
from app.models import Membership

from .helpers import ACTION_NAMES, HX, Htmx, action_links, audit


@pytest.fixture
def place(
    scene: Callable[..., SimpleNamespace], login_as: Callable[..., FlaskClient]
) -> SimpleNamespace:
    built = scene(title="Blue Mug", sku="MUG-BLU", code="aisle_1", quantity=10, reserved=2)
    built.client = login_as("owner", built.store)
    built.entry_page = f"/inventory/entries/{built.entry.id}"
    built.product_page = f"/products/{built.product.id}"
    return built


def action_url(place: SimpleNamespace, action: str) -> str:
    return f"/inventory/entries/{place.entry.id}/{action}"


def flashes(client: FlaskClient) -> list[tuple[str, str]]:
    with client.session_transaction() as session:
        return list(session.get("_flashes", []))


# --------------------------------------------------------------------------- the forms


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_a_form_on_a_page_of_its_own_is_an_ordinary_form(
    action: str, place: SimpleNamespace
) -> None:
    """A new tab (or no JavaScript) shows the form as a page: it must not post through htmx
    into the dialog's body, which only exists inside the dialog."""
    response = place.client.get(f"{action_url(place, action)}?next={place.entry_page}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    form = audit(body).elements("form", action=action_url(place, action))[0]
    assert form["method"] == "post"
    assert not {name for name in form if name.startswith("hx-")}
    assert 'id="dialog-body"' not in body


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_the_dialogs_form_posts_into_the_dialog(action: str, place: SimpleNamespace) -> None:
    body = place.client.get(action_url(place, action), headers=HX).get_data(as_text=True)
    form = audit(body).elements("form", action=action_url(place, action))[0]
    assert (form["hx-post"], form["hx-target"]) == (action_url(place, action), "#dialog-body")
    assert 'id="dialog-body"' in body


def test_the_entry_page_opens_every_action_in_the_dialog(place: SimpleNamespace) -> None:
    body = place.client.get(place.entry_page).get_data(as_text=True)
    links = [attrs for tag, attrs in audit(body).tags
             if tag == "a" and (attrs.get("id") or "").startswith("entry-action-")]
    assert [link["id"] for link in links] == [f"entry-action-{name}" for name in ROW_ACTIONS]
    for link in links:
        assert "data-dialog" in link
        assert link["href"].endswith(f"?next={place.entry_page}")


def test_the_product_page_offers_each_locations_actions(place: SimpleNamespace) -> None:
    body = place.client.get(place.product_page).get_data(as_text=True)
    assert action_links(body, place.entry.id) == set(ROW_ACTIONS)
    assert f'<tr id="entry-{place.entry.id}">' in body
    assert f'href="/inventory/entries/{place.entry.id}/adjust"' in body


def test_the_overview_offers_return(place: SimpleNamespace) -> None:
    body = place.client.get("/inventory").get_data(as_text=True)
    assert "return" in action_links(body, place.entry.id)


def test_staff_without_adjust_get_no_return(
    place: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    reserver = login_as("staff", place.store, grants=("inventory:reserve",))
    body = reserver.get("/inventory").get_data(as_text=True)
    assert "return" not in action_links(body, place.entry.id)
    assert reserver.get(action_url(place, "return")).status_code == 403


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize("page", ["entry_page", "product_page"])
def test_success_from_a_page_reloads_its_main_part_with_the_message(
    page: str, place: SimpleNamespace, htmx: Htmx, read_entry: Callable[[int], Any]
) -> None:
    back = getattr(place, page)
    response = htmx.post(place.client, action_url(place, "adjust"), data={
        "idempotency_key": uuid.uuid4().hex, "next": back, "delta": "3", "reason": "Found",
    })
    assert response.status_code == 200
    assert json.loads(response.headers["HX-Location"]) == {
        "path": back, "target": "#main", "select": "#main", "swap": "outerHTML",
    }
    assert "HX-Retarget" not in response.headers
    assert json.loads(response.headers["HX-Trigger"]) == {
        "stock-changed": {"entry": place.entry.id}, "close-dialog": True,
    }
    assert read_entry(place.entry.id).quantity == 13
    page_body = place.client.get(back).get_data(as_text=True)
    assert "Adjusted Blue Mug (MUG-BLU) at AISLE_1: on hand 10 → 13" in page_body


def test_success_from_the_overview_still_swaps_the_row(
    place: SimpleNamespace, htmx: Htmx
) -> None:
    response = htmx.post(place.client, action_url(place, "adjust"), data={
        "idempotency_key": uuid.uuid4().hex, "next": "/inventory?status=in_stock",
        "delta": "3", "reason": "Found",
    })
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == f"#entry-{place.entry.id}"
    assert "HX-Location" not in response.headers


@pytest.mark.parametrize("with_htmx", [False, True])
def test_deleting_from_the_entry_page_goes_to_the_product_page(
    with_htmx: bool, scene: Callable[..., SimpleNamespace],
    login_as: Callable[..., FlaskClient], read_entry: Callable[[int], Any],
) -> None:
    place = scene(reserved=0)
    client = login_as("owner", place.store)
    entry_page = f"/inventory/entries/{place.entry.id}"
    response = client.post(
        f"{entry_page}/delete", headers=HX if with_htmx else {},
        data={"idempotency_key": uuid.uuid4().hex, "next": entry_page},
    )
    assert read_entry(place.entry.id) is None
    product_page = f"/products/{place.product.id}"
    if with_htmx:
        assert json.loads(response.headers["HX-Location"])["path"] == product_page
    else:
        assert response.status_code == 303
        assert response.headers["Location"] == product_page
    assert client.get(product_page).status_code == 200


def test_a_transfer_names_where_the_stock_went(place: SimpleNamespace, htmx: Htmx) -> None:
    response = htmx.post(place.client, action_url(place, "transfer"), data={
        "idempotency_key": uuid.uuid4().hex, "to_location_id": str(place.spare.id),
        "quantity": "3",
    })
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (f"Transferred 3 of Blue Mug (MUG-BLU) from AISLE_1 to {place.spare.code}: "
            "on hand 10 → 7, available 8 → 5 at AISLE_1.") in body


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("action", "form", "field", "message"),
    [
        ("reserve", {"quantity": "9", "order_ref": "ORD-9"}, "quantity",
         "Insufficient stock available. Available: 8, Requested: 9"),
        ("fulfill", {"quantity": "3", "reservation_id": ""}, "quantity",
         "Cannot fulfill 3: only 2 reserved"),
        ("release", {"quantity": "3", "reservation_id": ""}, "quantity",
         "Cannot release 3: only 2 reserved"),
        ("adjust", {"delta": "-9", "reason": "Broken"}, "delta",
         "Insufficient stock available. Available: 8, Requested: 9"),
        ("transfer", {"quantity": "9"}, "quantity",
         "Insufficient stock available. Available: 8, Requested: 9"),
        ("set", {"quantity": "1"}, "quantity", "Quantity 1 is below reserved 2"),
        ("count", {"counted_quantity": "1"}, "counted_quantity", "Counted 1 is below reserved 2"),
    ],
)
@pytest.mark.parametrize("with_htmx", [True, False])
def test_more_than_there_is_stands_beside_the_quantity(
    place: SimpleNamespace, db_state: Callable[[], Any], with_htmx: bool,
    action: str, form: dict[str, str], field: str, message: str,
) -> None:
    if action == "transfer":
        form = {**form, "to_location_id": str(place.spare.id)}
    before = db_state()
    response = place.client.post(
        action_url(place, action), headers=HX if with_htmx else {},
        data={"idempotency_key": uuid.uuid4().hex, **form},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert f'<p class="field-error" id="{field}-error">{message}</p>' in body
    field_input = audit(body).elements("input", name=field)[0]
    assert field_input["aria-invalid"] == "true"
    assert field_input["aria-describedby"] == f"{field}-error"
    assert field_input["value"] == form[field]
    assert f'<div class="error-summary" role="alert"><p>{message}</p></div>' in body
    assert db_state() == before


# --------------------------------------------------------------------------- scans


@pytest.fixture
def shelves(
    scene: Callable[..., SimpleNamespace], make_location: Callable[..., Any],
    make_product: Callable[..., Any], make_entry: Callable[..., Any],
    login_as: Callable[..., FlaskClient],
) -> SimpleNamespace:
    """A mug at two locations, a teapot at one, in one store; another store's teapot."""
    place = scene(title="Blue Mug", sku="MUG-BLU", code="aisle_1")
    shelf = make_location(place.store, code="shelf_9")
    mug_on_shelf = make_entry(store=place.store, location=shelf, product=place.product,
                              quantity=4)
    teapot = make_product(place.store, sku="POT-RED", title="Red Teapot")
    teapot_entry = make_entry(store=place.store, location=shelf, product=teapot, quantity=2)
    other = scene(sku="POT-RED", code="dock_7")
    client = login_as("owner", place.store)
    return SimpleNamespace(place=place, shelf=shelf, mug_on_shelf=mug_on_shelf,
                           teapot_entry=teapot_entry, other=other, client=client)


def test_a_scan_of_one_entrys_code_opens_it(shelves: SimpleNamespace, htmx: Htmx) -> None:
    entry_page = f"/inventory/entries/{shelves.teapot_entry.id}"
    response = shelves.client.get("/inventory/scan?q=pot-red")
    assert (response.status_code, response.headers["Location"]) == (303, entry_page)
    response = htmx.get(shelves.client, "/inventory/scan?q=POT-RED&store=&status=")
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == entry_page


def test_a_scan_of_a_gtin_or_sku_in_several_locations_lists_them(
    shelves: SimpleNamespace, htmx: Htmx
) -> None:
    response = htmx.get(shelves.client, "/inventory/scan?q=MUG-BLU&sort=quantity")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"] == "/inventory?q=MUG-BLU&sort=quantity"
    assert body.lstrip().startswith('<section id="results"')
    assert re.findall(r'<tr id="entry-(\d+)"', body) == [
        str(shelves.mug_on_shelf.id), str(shelves.place.entry.id)
    ]
    assert "Exact match:" in body
    # Within one location's scope the same code names one entry: it opens.
    scoped = htmx.get(shelves.client, f"/inventory/scan?q=MUG-BLU&location={shelves.shelf.id}")
    assert scoped.headers["HX-Redirect"] == f"/inventory/entries/{shelves.mug_on_shelf.id}"
    plain = shelves.client.get("/inventory/scan?q=MUG-BLU")
    assert (plain.status_code, plain.headers["Location"]) == (303, "/inventory?q=MUG-BLU")


def test_a_scan_of_a_location_code_sets_the_location_filter(
    shelves: SimpleNamespace, htmx: Htmx
) -> None:
    response = htmx.get(shelves.client, "/inventory/scan?q=shelf_9&status=")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"] == f"/inventory?location={shelves.shelf.id}"
    assert sorted(re.findall(r'<tr id="entry-(\d+)"', body)) == sorted(
        [str(shelves.mug_on_shelf.id), str(shelves.teapot_entry.id)]
    )
    plain = shelves.client.get("/inventory/scan?q=SHELF_9")
    assert plain.headers["Location"] == f"/inventory?location={shelves.shelf.id}"


def test_a_scan_of_anything_else_is_a_search(shelves: SimpleNamespace, htmx: Htmx) -> None:
    response = htmx.get(shelves.client, "/inventory/scan?q=teapot")
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"] == "/inventory?q=teapot"
    assert re.findall(r'<tr id="entry-(\d+)"', response.get_data(as_text=True)) == [
        str(shelves.teapot_entry.id)
    ]
    # Another store's code is not this user's: it opens nothing.
    other = shelves.client.get(f"/inventory/scan?q={shelves.other.location.code}")
    assert other.headers["Location"].startswith("/inventory?q=")


def test_a_bad_scan_is_refused_naming_the_field(shelves: SimpleNamespace, htmx: Htmx) -> None:
    for send in (htmx.get, FlaskClient.get):
        response = send(shelves.client, "/inventory/scan?q=" + "x" * 101)
        assert response.status_code == 422
        assert "Search for at most 100 characters of plain text." in response.get_data(
            as_text=True)


def test_the_overview_tells_the_search_box_where_scans_go(shelves: SimpleNamespace) -> None:
    body = shelves.client.get("/inventory").get_data(as_text=True)
    assert audit(body).elements("form", id="filters")[0]["data-scan-url"] == "/inventory/scan"


def test_every_row_action_is_an_action() -> None:
    assert set(ROW_ACTIONS) == set(ACTIONS)


def test_every_other_dialogs_form_is_an_ordinary_form_on_a_page(
    place: SimpleNamespace, make_user: Callable[..., Any], sign_in: Callable[..., FlaskClient],
    make_product: Callable[..., Any],
) -> None:
    """The location, product-stock, member and store dialogs opened as pages (a new tab), and
    the product page's inline "Stock at a location" form: none aims at the dialog's body."""
    staff = make_user(role="staff", store=place.store, email="staff-floor@example.test")
    membership = db.session.scalars(
        db.select(Membership.id).where(Membership.user_id == staff.id)
    ).one()
    bare = make_product(place.store, sku="NEW-1")
    admin = sign_in(make_user(platform_admin=True, email="root-floor@example.test"))
    pages = [
        (place.client, f"/catalog/locations/{place.location.id}/rename"),
        (place.client, f"/catalog/products/{bare.id}/stock"),
        (place.client, f"/catalog/products/{bare.id}/edit"),
        (place.client, f"/people/stores/{place.store.id}/members/{membership}/remove"),
        (admin, f"/admin/stores/{place.store.id}/rename"),
    ]
    aiming_at_nothing = []
    for client, url in pages:
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert 'id="dialog-body"' not in body
        if any(tag == "form" and attrs.get("hx-target") == "#dialog-body"
               for tag, attrs in audit(body).tags):
            aiming_at_nothing.append(url)
    assert aiming_at_nothing == []
