"""The catalog screens in the browser's shoes: locations and products, who may change them,
what bad input and forged requests get, and full pages next to their htmx fragments."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, Location, Product
from app.permissions import CATALOG

from .helpers import HX, Htmx, assert_csp_clean, csrf_from_hx_headers, csrf_from_page

GTIN = "4006381333931"

# (role, grants) → may manage the catalog. Read straight from the SPEC's table.
MEMBERSHIPS: list[tuple[str, tuple[str, ...], bool]] = [
    ("owner", (), True),
    ("admin", (), True),
    ("staff", (), False),
    ("staff", ("inventory:adjust", "inventory:reserve"), False),
    ("staff", (CATALOG,), True),
    ("platform_admin", (), True),
]


@pytest.fixture
def catalog_state(app: Flask) -> Callable[[], tuple[Any, ...]]:
    """Every location, product and entry row: compare two to show nothing changed."""

    def take() -> tuple[Any, ...]:
        db.session.rollback()
        try:
            return tuple(
                tuple(tuple(r) for r in db.session.execute(
                    select(table).order_by(table.c.id)
                ))
                for table in (Location.__table__, Product.__table__, InventoryEntry.__table__)
            )
        finally:
            db.session.rollback()

    return take


@pytest.fixture
def shop(make_store, make_location, make_product, make_entry) -> SimpleNamespace:
    """A store with three locations (one stocked: 120 on hand, 5 reserved) and two products."""
    store = make_store("Corner Shop")
    stocked, empty = make_location(store, "WAREHOUSE_A"), make_location(store, "SHELF")
    spare = make_location(store, "SPARE")
    mug = make_product(store, sku="MUG-BLU", title="Blue mug", gtin=GTIN)
    gift = make_product(store, sku="GIFT", title="Gift card", type="digital")
    make_entry(store=store, location=stocked, product=mug, quantity=100, reserved=5)
    make_entry(store=store, location=stocked, quantity=20)
    return SimpleNamespace(store=store, stocked=stocked, empty=empty, spare=spare, mug=mug,
                           gift=gift)


def _fresh(model: Any, row_id: int) -> Any:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(model, row_id)


def _read(query: Any) -> Any:
    """One value as committed now, not as the test's last snapshot saw it."""
    db.session.rollback()
    return db.session.scalar(query)


def _product_form(**changes: str) -> dict[str, str]:
    return {"sku": "CUP-1", "title": "Cup", "gtin": "", "product_type": "physical",
            "reorder_point": "3", "reorder_quantity": "10", **changes}


def _field_error(body: str, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', body)
    assert match, f"no error beside {field_id}"
    return match.group(1)


# --------------------------------------------------------------------------- pages


def test_the_lists_show_totals_unlimited_and_links(shop, login_as):
    client = login_as("owner", shop.store)

    page = client.get(f"/catalog/locations?store={shop.store.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert_csp_clean(body)
    row = re.search(rf'<tr id="location-{shop.stocked.id}">.*?</tr>', body, re.S).group(0)
    assert [c.strip() for c in re.findall(r'<td class="num[^"]*">([^<]*)</td>', row)] == [
        "2", "120", "5", "115",
    ]

    page = client.get(f"/catalog/products?store={shop.store.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert_csp_clean(body)
    gift = re.search(rf'<tr id="product-{shop.gift.id}">.*?</tr>', body, re.S).group(0)
    assert "Unlimited" in gift
    mug = re.search(rf'<tr id="product-{shop.mug.id}">.*?</tr>', body, re.S).group(0)
    assert f'href="/products/{shop.mug.id}"' in mug and GTIN in mug and ">100<" in mug


def test_the_first_store_is_shown_when_none_is_named(shop, login_as):
    client = login_as("owner", shop.store)

    body = client.get("/catalog/locations").get_data(as_text=True)

    assert "WAREHOUSE_A" in body and f'value="{shop.store.id}" selected' in body


def test_product_search_finds_by_sku_title_and_gtin(shop, login_as):
    client = login_as("staff", shop.store)
    for term in ("mug-b", "BLUE", GTIN):
        body = client.get(f"/catalog/products?store={shop.store.id}&q={term}").get_data(
            as_text=True)
        assert f'id="product-{shop.mug.id}"' in body, term
        assert f'id="product-{shop.gift.id}"' not in body, term


# --------------------------------------------------------------------------- full page vs htmx


def test_the_product_list_answers_htmx_with_its_fragment(shop, login_as, htmx: Htmx):
    client = login_as("owner", shop.store)
    url = f"/catalog/products?store={shop.store.id}&q=mug"

    full = client.get(url)
    fragment = htmx.get(client, url)
    boosted = client.get(url, headers={**HX, "HX-Boosted": "true"})

    assert "<html" in full.get_data(as_text=True)
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith('<section id="products"')
    assert fragment.headers["HX-Push-Url"] == url
    assert "HX-Request" in fragment.headers["Vary"]
    assert "<html" in boosted.get_data(as_text=True)


def test_adding_a_location_under_htmx_returns_the_section_and_a_flash(
    shop, login_as, htmx: Htmx
):
    client = login_as("owner", shop.store)

    response = htmx.post(client, f"/catalog/locations?store={shop.store.id}",
                         data={"code": "back_room", "name": "Back room"})

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="locations"')
    assert 'hx-swap-oob="true"' in body and "Added location BACK_ROOM." in body
    assert _read(select(Location.name).where(Location.code == "BACK_ROOM")) == (
        "Back room"
    )


def test_adding_a_location_without_javascript_redirects_with_a_flash(shop, login_as):
    client = login_as("owner", shop.store)

    response = client.post(f"/catalog/locations?store={shop.store.id}", data={"code": "dock"})

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/catalog/locations?store={shop.store.id}")
    assert "Added location DOCK." in client.get(response.headers["Location"]).get_data(
        as_text=True)


def test_a_location_dialog_opens_under_htmx_and_is_a_page_without(shop, login_as, htmx: Htmx):
    client = login_as("owner", shop.store)
    url = f"/catalog/locations/{shop.empty.id}/rename"

    dialog = htmx.get(client, url).get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)

    assert dialog.lstrip().startswith('<dialog id="action-dialog"') and "<html" not in dialog
    assert "<html" in page and "data-close-dialog" not in page
    assert "The code SHELF stays as it is" in dialog


def test_renaming_under_htmx_swaps_the_section_and_closes_the_dialog(
    shop, login_as, htmx: Htmx
):
    client = login_as("owner", shop.store)

    response = htmx.post(client, f"/catalog/locations/{shop.empty.id}/rename",
                         data={"name": "Front shelf", "code": "HACKED"})

    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#locations"
    assert "close-dialog" in response.headers["HX-Trigger"]
    place = _fresh(Location, shop.empty.id)
    assert (place.code, place.name) == ("SHELF", "Front shelf")


def test_archive_refused_in_the_dialog_says_how_much_and_changes_nothing(
    shop, login_as, htmx: Htmx, catalog_state
):
    client = login_as("owner", shop.store)
    before = catalog_state()

    response = htmx.post(client, f"/catalog/locations/{shop.stocked.id}/archive")

    assert response.status_code == 409
    assert ("WAREHOUSE_A still holds 120 units in 2 entries (5 reserved); move or remove them "
            "first.") in response.get_data(as_text=True)
    assert catalog_state() == before


def test_archive_and_restore_without_javascript(shop, login_as):
    client = login_as("owner", shop.store)

    archived = client.post(f"/catalog/locations/{shop.empty.id}/archive")
    assert archived.status_code == 303 and _fresh(Location, shop.empty.id).archived_at
    listed = client.get(archived.headers["Location"]).get_data(as_text=True)
    assert "Archived location SHELF." in listed
    assert '<h2 class="catalog-subhead">Archived' in listed

    restored = client.post(f"/catalog/locations/{shop.empty.id}/unarchive")
    assert restored.status_code == 303 and _fresh(Location, shop.empty.id).archived_at is None


def test_creating_a_product_leads_to_its_page_and_stocking_it(shop, login_as):
    client = login_as("owner", shop.store)

    created = client.post(f"/catalog/products/new?store={shop.store.id}",
                          data=_product_form(gtin="96385074", reorder_up_to="40"))

    product = _read(select(Product).where(Product.sku == "CUP-1"))
    assert created.status_code == 303
    assert created.headers["Location"].endswith(f"/catalog/products/{product.id}/edit")
    assert (product.gtin, product.reorder_point, product.reorder_quantity,
            product.reorder_up_to) == ("96385074", 3, 10, 40)
    edit = client.get(created.headers["Location"]).get_data(as_text=True)
    assert 'name="reorder_up_to"' in edit and 'value="40"' in edit
    assert "Added CUP-1 — Cup." in edit and "Start tracking" in edit

    form = {"idempotency_key": uuid.uuid4().hex, "location_id": str(shop.empty.id),
            "quantity": "12", "low_stock_threshold": "2", "unit_cost": "3.25"}
    stocked = client.post(f"/catalog/products/{product.id}/stock", data=form)
    assert stocked.status_code == 303
    assert stocked.headers["Location"].endswith(f"/products/{product.id}")
    entry = _read(select(InventoryEntry).where(InventoryEntry.product_id ==
                                                           product.id))
    assert (entry.location_id, entry.quantity, entry.low_stock_threshold,
            entry.average_cost) == (shop.empty.id, 12, 2, 32_500)


def test_a_bad_opening_unit_cost_names_the_field_and_changes_nothing(
    shop, login_as, catalog_state
):
    client = login_as("owner", shop.store)
    before = catalog_state()
    for quantity, cost, message in (
        ("5", "12,50", "Enter an amount, like 12.50."),
        ("0", "1.00", "A unit cost goes with opening stock: enter a quantity too, or leave "
                      "the cost for the first receipt."),
    ):
        response = client.post(f"/catalog/products/{shop.mug.id}/stock", data={
            "idempotency_key": uuid.uuid4().hex, "location_id": str(shop.empty.id),
            "quantity": quantity, "unit_cost": cost})
        assert response.status_code == 422
        assert _field_error(response.get_data(as_text=True), "unit_cost") == message
    assert catalog_state() == before


def test_stocking_from_the_list_under_htmx_swaps_the_row(shop, login_as, htmx: Htmx):
    client = login_as("owner", shop.store)
    url = f"/catalog/products/{shop.mug.id}/stock"
    dialog = htmx.get(client, url).get_data(as_text=True)
    assert dialog.lstrip().startswith('<dialog id="action-dialog"')
    # Only the location the mug is not stocked at yet is offered.
    assert f'value="{shop.empty.id}"' in dialog and f'value="{shop.stocked.id}"' not in dialog

    response = htmx.post(client, url, data={"idempotency_key": uuid.uuid4().hex,
                                            "location_id": str(shop.empty.id), "quantity": "7"})

    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == f"#product-{shop.mug.id}"
    body = response.get_data(as_text=True)
    assert "Now tracking MUG-BLU at SHELF: 7 on hand." in body and ">107<" in body


def test_editing_a_product_saves_and_a_taken_sku_is_refused_beside_the_field(
    shop, login_as, catalog_state
):
    client = login_as("owner", shop.store)
    url = f"/catalog/products/{shop.mug.id}/edit"
    assert 'value="MUG-BLU"' in client.get(url).get_data(as_text=True)

    saved = client.post(url, data=_product_form(sku="MUG-NAVY", title="Navy mug", gtin=GTIN,
                                                allow_backorder="y"))
    assert saved.status_code == 303
    mug = _fresh(Product, shop.mug.id)
    assert (mug.sku, mug.title, mug.allow_backorder) == ("MUG-NAVY", "Navy mug", True)

    before = catalog_state()
    taken = client.post(url, data=_product_form(sku="GIFT", title="Navy mug"))
    assert taken.status_code == 409
    assert _field_error(taken.get_data(as_text=True), "sku") == (
        "This store already has a product with the SKU GIFT."
    )
    assert catalog_state() == before


def test_turning_a_reserved_product_unlimited_is_refused_in_words(shop, login_as, catalog_state):
    client = login_as("owner", shop.store)
    before = catalog_state()

    response = client.post(f"/catalog/products/{shop.mug.id}/edit",
                           data=_product_form(sku="MUG-BLU", product_type="digital"))

    assert response.status_code == 409
    assert ("MUG-BLU has 5 reserved units in 1 entry: release or fulfill them before making "
            "it a digital product.") in response.get_data(as_text=True)
    assert catalog_state() == before


def test_archiving_a_product_takes_it_off_the_list(shop, login_as):
    client = login_as("owner", shop.store)

    response = client.post(f"/catalog/products/{shop.mug.id}/archive")

    assert response.status_code == 303 and _fresh(Product, shop.mug.id).archived_at
    listed = client.get(f"/catalog/products?store={shop.store.id}").get_data(as_text=True)
    assert f'id="product-{shop.mug.id}"' not in listed
    archived = client.get(f"/catalog/products?store={shop.store.id}&archived=1")
    assert f'id="product-{shop.mug.id}"' in archived.get_data(as_text=True)
    client.post(f"/catalog/products/{shop.mug.id}/unarchive")
    assert _fresh(Product, shop.mug.id).archived_at is None


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"gtin": "4006381333932"}, "gtin",
         "The check digit is wrong: after 400638133393 it should be 1, not 2. "
         "Check for a typing error."),
        ({"gtin": "12345"}, "gtin", "A GTIN has 8, 12, 13 or 14 digits; this one has 5."),
        ({"gtin": "abc"}, "gtin", "A GTIN has digits only (0–9), no spaces or letters."),
        ({"sku": ""}, "sku", "Enter a SKU."),
        ({"title": " "}, "title", "Enter a title."),
        ({"sku": "S" * 65}, "sku", "Field cannot be longer than 64 characters."),
        ({"reorder_point": "-1"}, "reorder_point", "Must not be negative."),
        ({"reorder_point": "1e3"}, "reorder_point", "Enter a whole number, like 12."),
        ({"reorder_quantity": "５"}, "reorder_quantity", "Enter a whole number, like 12."),
        ({"reorder_quantity": "9" * 12}, "reorder_quantity", "Enter a whole number, like 12."),
        ({"reorder_quantity": "2,000,000,000"}, "reorder_quantity",
         "Must be between -1,000,000,000 and 1,000,000,000."),
        ({"reorder_up_to": "-5"}, "reorder_up_to", "Must not be negative."),
        ({"reorder_up_to": "3"}, "reorder_up_to", "Order up to must be above the reorder point."),
        ({"reorder_up_to": "2"}, "reorder_up_to", "Order up to must be above the reorder point."),
        ({"product_type": "vinyl"}, "product_type",
         "Choose one of: physical, digital, service, subscription."),
        ({"title": "ring\x07"}, "title", "Must not contain control characters (found U+0007)."),
    ],
)
def test_a_bad_product_form_names_the_field_and_changes_nothing(
    shop, login_as, catalog_state, changes, field, message
):
    client = login_as("owner", shop.store)
    before = catalog_state()

    for url in (f"/catalog/products/new?store={shop.store.id}",
                f"/catalog/products/{shop.mug.id}/edit"):
        response = client.post(url, data=_product_form(**changes))
        body = response.get_data(as_text=True)
        assert response.status_code == 422, (url, body[:300])
        assert _field_error(body, field) == message
        assert 'aria-invalid="true"' in body
        assert catalog_state() == before


def test_a_duplicate_or_malformed_location_code_is_named(shop, login_as, catalog_state):
    client = login_as("owner", shop.store)
    before = catalog_state()

    duplicate = client.post(f"/catalog/locations?store={shop.store.id}",
                            data={"code": "warehouse_a"})
    assert duplicate.status_code == 409
    assert _field_error(duplicate.get_data(as_text=True), "code") == (
        "This store already has a location WAREHOUSE_A."
    )
    for code, message in (("", "Enter a code, like WAREHOUSE_A."),
                          ("no spaces", "Use letters, digits, hyphens and underscores.")):
        bad = client.post(f"/catalog/locations?store={shop.store.id}", data={"code": code})
        assert bad.status_code == 422
        assert _field_error(bad.get_data(as_text=True), "code") == message
    assert catalog_state() == before


@pytest.mark.parametrize(
    ("location", "message"),
    [("", "Choose a location."), ("x1", "Choose one from the list."),
     ("99999999999", "Choose one from the list.")],
)
def test_a_bad_stock_form_names_the_field(shop, login_as, catalog_state, location, message):
    client = login_as("owner", shop.store)
    before = catalog_state()

    response = client.post(f"/catalog/products/{shop.mug.id}/stock",
                           data={"idempotency_key": uuid.uuid4().hex, "location_id": location,
                                 "quantity": "1"})

    assert response.status_code == 422
    assert _field_error(response.get_data(as_text=True), "location_id") == message
    assert catalog_state() == before


def test_stocking_an_unlimited_product_is_refused_in_words(shop, login_as, catalog_state):
    client = login_as("owner", shop.store)
    before = catalog_state()

    response = client.post(f"/catalog/products/{shop.gift.id}/stock",
                           data={"idempotency_key": uuid.uuid4().hex,
                                 "location_id": str(shop.empty.id), "quantity": "1"})

    assert response.status_code == 409
    assert "GIFT is a digital product: its stock is unlimited" in response.get_data(as_text=True)
    assert catalog_state() == before


@pytest.mark.parametrize("store", ["abc", "-1", "1.5", "99999999999", "0"])
def test_a_malformed_store_is_not_found(shop, login_as, store):
    client = login_as("owner", shop.store)

    for url in (f"/catalog/locations?store={store}", f"/catalog/products?store={store}",
                f"/catalog/products/new?store={store}"):
        assert client.get(url).status_code == 404, url


def test_a_forged_page_link_shows_the_first_page_and_says_so(shop, login_as):
    client = login_as("owner", shop.store)

    response = client.get(f"/catalog/products?store={shop.store.id}&cursor=forged")

    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "This page link is no longer valid." in body and f'id="product-{shop.mug.id}"' in body


# --------------------------------------------------------------------------- who may


@pytest.mark.parametrize(("role", "grants", "manages"), MEMBERSHIPS,
                         ids=lambda v: "+".join(v) if isinstance(v, tuple) else str(v))
def test_permission_matrix(shop, login_as, catalog_state, role, grants, manages):
    client = login_as(role, shop.store, grants)
    store = shop.store.id

    for url in (f"/catalog/locations?store={store}", f"/catalog/products?store={store}"):
        page = client.get(url)
        body = page.get_data(as_text=True)
        assert page.status_code == 200, url
        # Buttons a user may not use are not shown.
        assert ("Add a location" in body or "New product" in body) == manages, url
        assert (f"/catalog/products/{shop.mug.id}/edit" in body
                or f"/catalog/locations/{shop.empty.id}/rename" in body) == manages, url

    forms = [
        ("get", f"/catalog/products/new?store={store}", None),
        ("get", f"/catalog/products/{shop.mug.id}/edit", None),
        ("get", f"/catalog/locations/{shop.empty.id}/rename", None),
        ("get", f"/catalog/products/{shop.mug.id}/stock", None),
    ]
    for method, url, _ in forms:
        assert getattr(client, method)(url).status_code == (200 if manages else 403), url

    posts = [
        (f"/catalog/locations?store={store}", {"code": f"NEW_{role}"}),
        (f"/catalog/locations/{shop.empty.id}/rename", {"name": "Renamed"}),
        (f"/catalog/products/new?store={store}", _product_form(sku=f"NEW-{role}")),
        (f"/catalog/products/{shop.mug.id}/edit", _product_form(sku="MUG-BLU", title="T")),
        (f"/catalog/products/{shop.mug.id}/stock",
         {"idempotency_key": uuid.uuid4().hex, "location_id": str(shop.spare.id),
          "quantity": "1"}),
        (f"/catalog/products/{shop.gift.id}/archive", {}),
        (f"/catalog/locations/{shop.empty.id}/archive", {}),
    ]
    for url, data in posts:
        before = catalog_state()
        response = client.post(url, data=data)
        if manages:
            assert response.status_code == 303, (url, response.get_data(as_text=True)[:300])
            assert catalog_state() != before, url
        else:
            assert response.status_code == 403, url
            assert catalog_state() == before, url


def test_another_stores_ids_are_not_found_and_nothing_changes(
    shop, make_store, make_location, make_product, login_as, catalog_state, htmx: Htmx
):
    mine = make_store("Mine")
    client = login_as("owner", mine)
    theirs = shop
    before = catalog_state()

    gets = [
        f"/catalog/locations?store={theirs.store.id}",
        f"/catalog/products?store={theirs.store.id}",
        f"/catalog/products/new?store={theirs.store.id}",
        f"/catalog/products/{theirs.mug.id}/edit",
        f"/catalog/products/{theirs.mug.id}/stock",
        f"/catalog/locations/{theirs.empty.id}/rename",
        f"/catalog/locations/{theirs.empty.id}/archive",
    ]
    for url in gets:
        for response in (client.get(url), htmx.get(client, url)):
            assert response.status_code == 404, url
            assert "WAREHOUSE_A" not in response.get_data(as_text=True)
            assert "Blue mug" not in response.get_data(as_text=True)
    posts = [
        (f"/catalog/locations?store={theirs.store.id}", {"code": "MINE"}),
        (f"/catalog/locations/{theirs.empty.id}/rename", {"name": "Mine"}),
        (f"/catalog/locations/{theirs.empty.id}/archive", {}),
        (f"/catalog/products/new?store={theirs.store.id}", _product_form()),
        (f"/catalog/products/{theirs.mug.id}/edit", _product_form()),
        (f"/catalog/products/{theirs.gift.id}/archive", {}),
        (f"/catalog/products/{theirs.mug.id}/stock",
         {"idempotency_key": uuid.uuid4().hex, "location_id": str(theirs.empty.id),
          "quantity": "1"}),
    ]
    for url, data in posts:
        assert client.post(url, data=data).status_code == 404, url

    # Their location in a form body for my product is no better than their product.
    my_product = make_product(mine, sku="MINE-1")
    make_location(mine, "MY_SHELF")
    before = catalog_state()
    response = client.post(f"/catalog/products/{my_product.id}/stock",
                           data={"idempotency_key": uuid.uuid4().hex,
                                 "location_id": str(theirs.empty.id), "quantity": "1"})
    assert response.status_code == 404
    assert catalog_state() == before


# --------------------------------------------------------------------------- CSRF


@pytest.fixture
def csrf_client(make_app, login_as, shop) -> tuple[FlaskClient, FlaskClient]:
    csrf_app = make_app(WTF_CSRF_ENABLED=True)
    return (login_as("owner", shop.store, on=csrf_app),
            login_as("admin", shop.store, on=csrf_app))


def test_catalog_changes_refuse_missing_wrong_and_foreign_tokens(
    shop, csrf_client, catalog_state
):
    owner, other = csrf_client
    store = shop.store.id
    page = owner.get(f"/catalog/locations?store={store}").get_data(as_text=True)
    token = csrf_from_page(page)
    assert csrf_from_hx_headers(page)
    other_token = csrf_from_page(other.get(f"/catalog/locations?store={store}").get_data(
        as_text=True))
    posts = [
        (f"/catalog/locations?store={store}", {"code": "DOCK"}),
        (f"/catalog/locations/{shop.empty.id}/rename", {"name": "Renamed"}),
        (f"/catalog/locations/{shop.empty.id}/archive", {}),
        (f"/catalog/products/new?store={store}", _product_form()),
        (f"/catalog/products/{shop.mug.id}/edit", _product_form(sku="MUG-BLU")),
        (f"/catalog/products/{shop.mug.id}/archive", {}),
        (f"/catalog/products/{shop.mug.id}/stock",
         {"idempotency_key": uuid.uuid4().hex, "location_id": str(shop.empty.id),
          "quantity": "1"}),
    ]
    before = catalog_state()
    for url, data in posts:
        for variant in ({}, {"csrf_token": "not-a-token"}, {"csrf_token": other_token}):
            response = owner.post(url, data={**data, **variant})
            assert response.status_code == 400, (url, variant)
    assert catalog_state() == before

    done = owner.post(f"/catalog/locations?store={store}",
                      data={"code": "DOCK", "csrf_token": token})
    assert done.status_code == 303
    assert _read(select(Location.id).where(Location.code == "DOCK"))
    header = owner.post(f"/catalog/locations/{shop.empty.id}/rename", data={"name": "By header"},
                        headers={**HX, "X-CSRFToken": token})
    assert header.status_code == 200 and _fresh(Location, shop.empty.id).name == "By header"


def test_get_never_writes(shop, login_as, catalog_state, htmx: Htmx):
    client = login_as("owner", shop.store)
    before = catalog_state()

    for url in (f"/catalog/locations/{shop.empty.id}/archive",
                f"/catalog/locations/{shop.empty.id}/unarchive",
                f"/catalog/products/{shop.mug.id}/stock",
                f"/catalog/products/{shop.mug.id}/edit"):
        client.get(url)
        htmx.get(client, url)
    assert client.get(f"/catalog/products/{shop.mug.id}/archive").status_code == 405

    assert catalog_state() == before


def test_every_page_escapes_names(make_store, make_location, make_product, login_as):
    store = make_store('<img src=x onerror=alert(1)>')
    make_location(store, "XSS")
    place = _read(select(Location).where(Location.code == "XSS"))
    place.name = '" hx-post="/evil'
    db.session.commit()
    product = make_product(store, sku="{{7*7}}", title="<script>alert(1)</script>")
    client = login_as("owner", store)

    for url in (f"/catalog/locations?store={store.id}", f"/catalog/products?store={store.id}",
                f"/catalog/products/{product.id}/edit",
                f"/catalog/locations/{place.id}/rename"):
        body = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in body and "<img src=x" not in body, url
        assert 'hx-post="/evil' not in body, url
        if "products" in url:
            assert "{{7*7}}" in body, url  # shown as typed, never evaluated
        assert_csp_clean(body)


def test_a_new_store_without_locations_says_what_to_do(make_store, login_as):
    store = make_store("Empty")
    client = login_as("owner", store)

    assert "This store has no active locations." in client.get(
        f"/catalog/locations?store={store.id}").get_data(as_text=True)
    assert "This store sells nothing yet." in client.get(
        f"/catalog/products?store={store.id}").get_data(as_text=True)


def test_the_stock_link_is_absent_for_unlimited_products(shop, login_as):
    client = login_as("owner", shop.store)
    body = client.get(f"/catalog/products?store={shop.store.id}").get_data(as_text=True)

    assert f"/catalog/products/{shop.mug.id}/stock" in body
    assert f"/catalog/products/{shop.gift.id}/stock" not in body


def test_the_locations_list_answers_htmx_with_its_section(shop, login_as, htmx: Htmx):
    client = login_as("owner", shop.store)
    url = f"/catalog/locations?store={shop.store.id}"

    fragment = htmx.get(client, url).get_data(as_text=True)

    assert fragment.lstrip().startswith('<section id="locations"') and "<html" not in fragment
    assert "WAREHOUSE_A" in fragment
