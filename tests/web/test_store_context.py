"""One store context: the top bar's switcher is the only store choice, every page and form
names the store it acts in, and a create never guesses the store of a user who has several."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Location, Membership, Product

from .helpers import HX, Htmx


@pytest.fixture
def two_stores(make_store, make_location, make_product, make_entry, make_user, sign_in
               ) -> SimpleNamespace:
    """An owner of two stores, each with a location, a product and an entry."""
    north, harbor = make_store("Northwind Outfitters"), make_store("Harbor Coffee")
    places = {s.id: make_location(s, "WAREHOUSE") for s in (north, harbor)}
    mugs = {s.id: make_product(s, sku="MUG-1", title=f"Mug of {s.name}") for s in (north, harbor)}
    entries = {
        s.id: make_entry(store=s, location=places[s.id], product=mugs[s.id], quantity=5)
        for s in (north, harbor)
    }
    owner = make_user(role="owner", store=north)
    db.session.add(Membership(user_id=owner.id, store_id=harbor.id, role="owner", grants=[]))
    db.session.commit()
    return SimpleNamespace(north=north, harbor=harbor, places=places, mugs=mugs,
                           entries=entries, owner=owner, client=sign_in(owner))


def _count(model: Any) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def _selects_named_store(body: str) -> list[str]:
    return re.findall(r'<select id="([^"]+)" name="store"', body)


def _switcher_choice(body: str) -> str:
    switcher = re.search(r'<select id="store-switch".*?</select>', body, re.S).group(0)
    chosen = re.search(r'<option value="(\d*)" selected>', switcher)
    return chosen.group(1) if chosen else ""


def _field_error(body: str, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', body)
    assert match, f"no error beside {field_id}"
    return match.group(1)


# --------------------------------------------------------------------------- one switcher


@pytest.mark.parametrize("path", ["/inventory", "/catalog/products", "/catalog/locations",
                                  "/movements", "/activity", "/reports/low-stock"])
def test_the_top_bar_switcher_is_the_only_store_select(two_stores, path: str) -> None:
    body = two_stores.client.get(f"{path}?store={two_stores.harbor.id}").get_data(as_text=True)

    assert _selects_named_store(body) == ["store-switch"]
    assert _switcher_choice(body) == str(two_stores.harbor.id)
    # The switcher reloads this page in the store picked, and says which store it shows.
    assert re.search(rf'<form class="store-switcher" method="get" action="{path}">', body)
    assert '<p class="store-context">Harbor Coffee</p>' in body


def test_the_navigation_keeps_the_store(two_stores) -> None:
    harbor = two_stores.harbor.id
    body = two_stores.client.get(f"/inventory?store={harbor}").get_data(as_text=True)

    for path in ("/reports/low-stock", "/reports/reorder", "/catalog/products",
                 "/catalog/locations", "/movements", "/activity"):
        assert f'href="{path}?store={harbor}"' in body, path


def test_an_entry_page_shows_its_store_in_the_switcher(two_stores) -> None:
    entry_id = two_stores.entries[two_stores.harbor.id].id
    body = two_stores.client.get(f"/inventory/entries/{entry_id}").get_data(as_text=True)

    assert _switcher_choice(body) == str(two_stores.harbor.id)
    # From an entry, switching store goes to the overview (the entry belongs to one store).
    assert '<form class="store-switcher" method="get" action="/inventory">' in body


def test_all_my_stores_is_said_when_none_is_chosen(two_stores) -> None:
    body = two_stores.client.get("/inventory").get_data(as_text=True)

    assert _switcher_choice(body) == ""
    assert '<p class="store-context">All my stores</p>' in body


def test_the_location_filter_of_all_my_stores_groups_places_by_store(two_stores) -> None:
    # Both stores have a WAREHOUSE: without its store, the choice is a guess.
    body = two_stores.client.get("/inventory").get_data(as_text=True)
    select = body.split('<select id="f-location"')[1].split("</select>")[0]
    groups = re.findall(r'<optgroup label="([^"]*)">', select)
    assert sorted(groups) == ["Harbor Coffee", "Northwind Outfitters"]
    for store in (two_stores.north, two_stores.harbor):
        group = select.split(f'<optgroup label="{store.name}">')[1].split("</optgroup>")[0]
        assert f'<option value="{two_stores.places[store.id].id}">WAREHOUSE' in group
    # One store chosen: its places alone, not grouped.
    one = two_stores.client.get(f"/inventory?store={two_stores.north.id}").get_data(as_text=True)
    assert "<optgroup" not in one.split('<select id="f-location"')[1].split("</select>")[0]


@pytest.mark.parametrize("path", ["/catalog/products", "/catalog/locations"])
def test_a_catalog_page_asks_which_store_rather_than_picking_one(two_stores, path) -> None:
    body = two_stores.client.get(path).get_data(as_text=True)

    assert "Which store?" in body
    assert _switcher_choice(body) == ""
    for store in (two_stores.north, two_stores.harbor):
        assert f'href="{path}?store={store.id}">{store.name}</a>' in body
    # Nothing of either store is listed as if it were "the" store.
    assert "Mug of" not in body and "WAREHOUSE" not in body
    # Asked by htmx as a list's results are, the question is the answer too, not an error.
    fragment = two_stores.client.get(path, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "Which store?" in fragment.get_data(as_text=True)


# --------------------------------------------------------------------------- forms name it


def test_the_new_product_form_names_the_store_it_adds_to(two_stores) -> None:
    harbor = two_stores.harbor
    body = two_stores.client.get(f"/catalog/products/new?store={harbor.id}").get_data(
        as_text=True)

    assert "<h1>New product in Harbor Coffee</h1>" in body
    assert '<p class="store-named">In <strong>Harbor Coffee</strong></p>' in body
    assert f'<input type="hidden" name="store" value="{harbor.id}">' in body
    assert "Unique in Harbor Coffee." in body
    assert "Unique in this store" not in body


def test_the_new_product_form_asks_for_the_store_when_none_is_named(two_stores) -> None:
    body = two_stores.client.get("/catalog/products/new").get_data(as_text=True)

    select_html = re.search(r'<select id="store-choice" name="store" required.*?</select>',
                            body, re.S).group(0)
    assert '<option value="">Choose a store</option>' in select_html
    assert " selected" not in select_html  # never a guess
    assert all(f'value="{s.id}"' in select_html for s in (two_stores.north, two_stores.harbor))


def test_a_one_store_user_sees_the_store_named_not_a_choice(make_store, login_as) -> None:
    store = make_store("Corner Shop")
    client = login_as("owner", store)

    body = client.get("/catalog/products/new").get_data(as_text=True)

    assert '<p class="store-named">In <strong>Corner Shop</strong></p>' in body
    assert 'id="store-choice"' not in body


def test_a_stock_dialog_names_the_store_to_a_user_of_several(two_stores, htmx: Htmx) -> None:
    entry_id = two_stores.entries[two_stores.north.id].id
    body = two_stores.client.get(f"/inventory/entries/{entry_id}/adjust",
                                 headers=HX).get_data(as_text=True)

    assert '<p class="store-named">In <strong>Northwind Outfitters</strong></p>' in body


# --------------------------------------------------------------------------- never a guess


PRODUCT = {"sku": "TEA-1", "title": "Tea", "gtin": "", "product_type": "physical",
           "reorder_point": "0", "reorder_quantity": "0"}


def test_creating_a_product_without_a_store_is_refused_at_the_store_field(two_stores) -> None:
    before = _count(Product)

    response = two_stores.client.post("/catalog/products/new", data=PRODUCT)

    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _field_error(body, "store-choice") == "Choose the store to add the product to."
    assert 'aria-invalid="true"' in re.search(r'<select id="store-choice"[^>]*>', body).group(0)
    assert 'value="TEA-1"' in body  # what was typed is kept
    assert _count(Product) == before


def test_creating_a_product_in_the_chosen_store_puts_it_there(two_stores) -> None:
    # Northwind sorts after Harbor: a "first store" guess would land in the other one.
    north = two_stores.north

    response = two_stores.client.post("/catalog/products/new",
                                      data={**PRODUCT, "store": str(north.id)})

    assert response.status_code == 303
    db.session.rollback()
    made = db.session.scalars(select(Product).where(Product.sku == "TEA-1")).one()
    assert made.store_id == north.id


def test_creating_a_location_without_a_store_is_refused_at_the_store_field(
    two_stores, htmx: Htmx
) -> None:
    before = _count(Location)

    for response in (two_stores.client.post("/catalog/locations", data={"code": "DOCK"}),
                     htmx.post(two_stores.client, "/catalog/locations", data={"code": "DOCK"})):
        body = response.get_data(as_text=True)
        assert response.status_code == 422
        assert _field_error(body, "store-choice") == "Choose the store to add it to."
        assert _count(Location) == before


def test_creating_a_location_in_the_named_store_puts_it_there(two_stores) -> None:
    north = two_stores.north
    page = two_stores.client.get(f"/catalog/locations?store={north.id}").get_data(as_text=True)
    assert "<h2>Add a location to Northwind Outfitters</h2>" in page
    assert f'<input type="hidden" name="store" value="{north.id}">' in page

    response = two_stores.client.post("/catalog/locations",
                                      data={"code": "DOCK", "store": str(north.id)})

    assert response.status_code == 303
    db.session.rollback()
    assert db.session.scalars(select(Location).where(Location.code == "DOCK")).one().store_id \
        == north.id


def test_a_store_the_user_is_not_in_is_not_found_and_nothing_is_made(
    two_stores, make_store
) -> None:
    theirs = make_store("Elsewhere")
    before = (_count(Product), _count(Location))

    for url, form in (("/catalog/products/new", PRODUCT), ("/catalog/locations", {"code": "X"})):
        response = two_stores.client.post(url, data={**form, "store": str(theirs.id)})
        assert response.status_code == 404, url
    assert (_count(Product), _count(Location)) == before

