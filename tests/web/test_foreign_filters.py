"""One rule for ids in filters: a store, location or product the reader cannot see, given as a
filter, answers 404 exactly like one that does not exist, on every screen and export (the
API answers the same for its `store_id`). An empty page would hide a typo and tell a
stranger nothing more; a 404 says plainly that the filter names nothing the reader has."""

from __future__ import annotations

import pytest

SCREENS = ["/inventory", "/inventory.csv", "/inventory/stats", "/reports/low-stock",
           "/reports/out-of-stock", "/reports/reorder", "/movements", "/movements.csv",
           "/activity", "/activity.csv", "/catalog/products", "/catalog/locations"]
LOCATION_SCREENS = ["/inventory", "/inventory.csv", "/inventory/stats", "/movements",
                    "/movements.csv"]
PRODUCT_SCREENS = ["/movements", "/movements.csv", "/activity", "/activity.csv"]


@pytest.fixture
def two_stores(scene, make_store):
    return scene(), scene(store=make_store())


@pytest.mark.parametrize("path", SCREENS)
def test_another_stores_id_as_a_store_filter_is_404(login_as, two_stores, path):
    mine, theirs = two_stores
    client = login_as("owner", mine.store)
    assert client.get(path, query_string={"store": mine.store.id}).status_code == 200
    assert client.get(path, query_string={"store": theirs.store.id}).status_code == 404
    assert client.get(path, query_string={"store": 999_999}).status_code == 404


@pytest.mark.parametrize("path", LOCATION_SCREENS)
def test_another_stores_location_as_a_filter_is_404(login_as, two_stores, path):
    mine, theirs = two_stores
    client = login_as("owner", mine.store)
    assert client.get(path, query_string={"location": mine.location.id}).status_code == 200
    assert client.get(path, query_string={"location": theirs.location.id}).status_code == 404
    assert client.get(path, query_string={"location": 999_999}).status_code == 404


@pytest.mark.parametrize("path", PRODUCT_SCREENS)
def test_another_stores_product_as_a_filter_is_404(login_as, two_stores, path):
    mine, theirs = two_stores
    client = login_as("owner", mine.store)
    assert client.get(path, query_string={"product": mine.product.id}).status_code == 200
    assert client.get(path, query_string={"product": theirs.product.id}).status_code == 404


def test_a_platform_admin_gets_404_only_for_ids_that_do_not_exist(login_as, two_stores):
    mine, theirs = two_stores
    client = login_as("platform_admin")
    assert client.get("/inventory", query_string={"store": theirs.store.id}).status_code == 200
    assert client.get("/inventory", query_string={"store": 999_999}).status_code == 404


ITEM_SCREENS = ["/inventory", "/inventory.csv", "/inventory/stats"]


@pytest.mark.parametrize("path", ITEM_SCREENS)
def test_another_stores_item_as_a_filter_is_404(login_as, two_stores, path):
    from app.extensions import db
    from app.models import ItemVariant

    mine, theirs = two_stores
    mine_item, their_item = (db.session.get(ItemVariant, s.product.id).item_id
                             for s in two_stores)
    client = login_as("owner", mine.store)
    assert client.get(path, query_string={"item": mine_item}).status_code == 200
    assert client.get(path, query_string={"item": their_item}).status_code == 404
    assert client.get(path, query_string={"item": 999_999}).status_code == 404


def test_the_item_and_value_filters_show_as_chips_and_keep_in_the_search_form(login_as,
                                                                              two_stores):
    from app.extensions import db
    from app.models import ItemVariant

    mine, _theirs = two_stores
    item_id = db.session.get(ItemVariant, mine.product.id).item_id
    client = login_as("owner", mine.store)
    body = client.get("/inventory", query_string={"item": item_id, "value": "<b>XL"}
                      ).get_data(as_text=True)
    assert f"Item: {mine.product.title}" in body
    assert "Option: &lt;b&gt;XL" in body and "<b>XL" not in body
    assert f'<input type="hidden" name="item" value="{item_id}">' in body
    bad = client.get("/inventory", query_string={"value": "x" * 61})
    assert bad.status_code == 422
    assert "An option value is at most 60 characters" in bad.get_data(as_text=True)
