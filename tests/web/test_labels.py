"""Printable label sheets: the barcode a scanner reads back is the code the overview's scan
box looks up, drawn under the CSP, and only for things of the reader's stores."""

from __future__ import annotations

import re

import pytest

from .helpers import assert_csp_clean


@pytest.fixture
def shelf(scene, make_product, make_entry):
    s = scene(sku="NW-MUG-1", code="AISLE_3", title="Blue mug")
    s.boxed = make_product(s.store, "NW-BOX-2", title="Gift box", gtin="4006381333931")
    make_entry(store=s.store, location=s.location, product=s.boxed, quantity=4)
    return s


def test_a_product_label_carries_its_sku_as_code_128(login_as, shelf):
    client = login_as("staff", shelf.store)
    response = client.get("/labels", query_string={"product": shelf.product.id})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'aria-label="Code 128 barcode of NW-MUG-1"' in body
    assert "Blue mug" in body and "<svg" in body
    # Real bars, not a placeholder: Code 128 of 8 characters draws dozens of them.
    assert len(re.findall(r"<rect ", body)) > 20
    assert_csp_clean(body)


def test_auto_draws_a_gtin_13_as_ean_13_and_qr_on_request(login_as, shelf):
    client = login_as("staff", shelf.store)
    auto = client.get("/labels", query_string={"product": shelf.boxed.id}).get_data(as_text=True)
    assert 'aria-label="EAN-13 barcode of 4006381333931"' in auto
    qr = client.get("/labels", query_string={"product": shelf.boxed.id, "symbology": "qr"})
    assert 'aria-label="QR code of NW-BOX-2"' in qr.get_data(as_text=True)
    assert_csp_clean(qr.get_data(as_text=True))


def test_entry_and_location_labels(login_as, shelf):
    client = login_as("staff", shelf.store)
    body = client.get("/labels", query_string={
        "entry": shelf.entry.id, "location": f"{shelf.location.id},{shelf.spare.id}",
    }).get_data(as_text=True)
    assert "NW-MUG-1 at AISLE_3 · " in body  # the entry's SKU and location under its title
    assert 'aria-label="Code 128 barcode of AISLE_3"' in body
    assert body.count('class="label ') == 3


def test_every_location_of_a_store(login_as, shelf):
    client = login_as("staff", shelf.store)
    body = client.get("/labels", query_string={"store": shelf.store.id, "every": "locations"}
                      ).get_data(as_text=True)
    assert body.count('class="label label-location"') == 2


@pytest.mark.parametrize("query", [
    {"product": "999999"}, {"product": "abc"}, {"entry": "1x"}, {"location": "-1"},
    {"store": "999999", "every": "products"},
])
def test_unknown_or_malformed_ids_are_404(login_as, shelf, query):
    assert login_as("staff", shelf.store).get("/labels", query_string=query).status_code == 404


def test_another_stores_things_are_404(login_as, shelf, make_store):
    stranger = login_as("owner", make_store())
    for query in ({"product": shelf.product.id}, {"entry": shelf.entry.id},
                  {"location": shelf.location.id},
                  {"store": shelf.store.id, "every": "products"}):
        response = stranger.get("/labels", query_string=query)
        assert response.status_code == 404, query
        assert "NW-MUG-1" not in response.get_data(as_text=True)


def test_an_empty_or_oversized_sheet_is_refused(login_as, shelf):
    client = login_as("staff", shelf.store)
    assert client.get("/labels").status_code == 422
    many = ",".join([str(shelf.product.id)] * 501)
    response = client.get("/labels", query_string={"product": many})
    assert response.status_code == 422
    assert "at most 500" in response.get_data(as_text=True)


def test_pages_link_to_their_labels(login_as, shelf):
    client = login_as("owner", shelf.store)
    pages = {
        f"/products/{shelf.product.id}": f"/labels?product={shelf.product.id}",
        f"/inventory/entries/{shelf.entry.id}": f"/labels?entry={shelf.entry.id}",
        f"/catalog/locations?store={shelf.store.id}":
            f"/labels?store={shelf.store.id}&amp;every=locations",
        f"/catalog/products?store={shelf.store.id}":
            f"/labels?store={shelf.store.id}&amp;every=products",
    }
    for page, link in pages.items():
        body = client.get(page).get_data(as_text=True)
        assert f'href="{link}"' in body, page
        assert client.get(link.replace("&amp;", "&")).status_code == 200, link
