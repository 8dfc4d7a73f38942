"""The overview grouped by item: one row per item with the roll-up of its matching
entries; "Show" brings the item's entry rows (with their actions) after it."""

from __future__ import annotations

import re

import pytest

from app.permissions import system_actor
from app.services import items, stock

from .helpers import HX

PARKA = [items.Option("Color", ("Black", "Blue")), items.Option("Size", ("S", "M"))]


@pytest.fixture
def shop(scene):
    base = scene(title="Anvil Mug", sku="MUG", quantity=9, reserved=0)
    actor = system_actor("tests")
    made = items.create_item(actor=actor, store_id=base.store.id, title="Summit <Parka>",
                             options=PARKA, variants_to_make=items.generate(PARKA, "PRK"))
    for n, product_id in enumerate(made.product_ids):
        stock.create_entry(actor=actor, product_id=product_id, location_id=base.location.id,
                           quantity=n * 2, low_stock_threshold=1)
    base.parka = made
    return base


def test_items_are_listed_with_their_roll_up(shop, login_as):
    client = login_as("staff", shop.store)
    body = client.get("/inventory", query_string={"group": "item"}).get_data(as_text=True)
    assert '<p class="count">2 items</p>' in body
    titles = re.findall(r'<a id="i\d+" href="[^"]*">([^<]*)</a>', body)
    assert titles == ["Anvil Mug", "Summit &lt;Parka&gt;"]
    parka = body.split(f'id="item-{shop.parka.id}"')[1].split("</tbody>")[0]
    assert "<small>4 variants</small>" in parka
    # On hand 0 + 2 + 4 + 6; the first variant has none: the worst status is out of stock.
    assert "<td>12</td>" in parka and "badge-out_of_stock" in parka
    assert 'aria-expanded="false"' in parka and ">Show 4</a>" in parka
    # No bulk bar and no sort links: the grouped list is by item title.
    assert 'id="bulk-select"' not in body
    assert "List every entry" in body
    # A search or a scan from the grouped list keeps it grouped.
    assert '<input type="hidden" name="group" value="item">' in body


def test_show_brings_the_items_entry_rows_with_their_actions(shop, login_as):
    client = login_as("owner", shop.store)
    url = f"/inventory/items/{shop.parka.id}/rows"
    response = client.get(url, query_string={"status": "in_stock"}, headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.startswith(f'<tbody id="item-{shop.parka.id}-rows"')
    assert len(re.findall(r'<tr id="entry-\d+"', body)) == 3  # the filter still applies
    assert "/adjust" in body and 'form="bulk-select"' not in body
    # Without JavaScript, the overview filtered to the item.
    plain = client.get(url)
    assert plain.status_code == 303
    assert plain.headers["Location"].endswith(f"/inventory?item={shop.parka.id}")


def test_a_foreign_item_or_a_bad_group_is_refused(shop, login_as, scene, make_store):
    other = scene(store=make_store())
    foreign = items.create_item(actor=system_actor("tests"), store_id=other.store.id,
                                title="Theirs", options=[items.Option("Size", ("S",))],
                                variants_to_make=items.generate([items.Option("Size", ("S",))],
                                                                "T"))
    client = login_as("owner", shop.store)
    assert client.get(f"/inventory/items/{foreign.id}/rows", headers=HX).status_code == 404
    assert client.get("/inventory", query_string={"group": "x"}).status_code == 422


def _first_entry_of(shop):
    from app.extensions import db
    from app.models import InventoryEntry
    return db.session.execute(
        db.select(InventoryEntry).where(InventoryEntry.product_id == shop.parka.product_ids[1])
    ).scalar_one()


def test_a_row_action_inside_a_group_sends_the_groups_new_sums(shop, login_as):
    client = login_as("owner", shop.store)
    entry = _first_entry_of(shop)  # on hand 2 of the item's 12
    form = {"delta": "+5", "reason": "Found", "idempotency_key": "k-group-1",
            "next": "/inventory?group=item"}
    response = client.post(f"/inventory/entries/{entry.id}/adjust", data=form, headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f'<tr id="entry-{entry.id}"' in body
    # Its rows have no checkbox in the grouped list, which has no bulk bar to send it.
    assert 'form="bulk-select"' not in body
    group = re.search(r"<template>(.*?)</template>", body, re.S).group(1)
    assert f'id="group-{shop.parka.id}" hx-swap-oob="true"' in group
    assert "<td>17</td>" in group  # 12 + 5, summed again
    # Still expanded: the row action came from inside the group.
    assert 'aria-expanded="true"' in group and ">Hide</a>" in group
    assert 'data-show-label="Show 4"' in group


def test_a_row_action_on_the_flat_overview_sends_no_group(shop, login_as):
    client = login_as("owner", shop.store)
    entry = _first_entry_of(shop)
    for key, next_url in (("k-flat-1", "/inventory"), ("k-flat-2", "/inventory?group=zz")):
        form = {"delta": "+1", "reason": "Found", "idempotency_key": key, "next": next_url}
        body = client.post(f"/inventory/entries/{entry.id}/adjust", data=form,
                           headers=HX).get_data(as_text=True)
        assert f'<tr id="entry-{entry.id}"' in body and "<template>" not in body


def test_counting_items_stops_at_the_grouped_limit(shop, login_as, monkeypatch):
    from app.inventory import routes
    monkeypatch.setattr(routes, "GROUP_COUNT_LIMIT", 1)
    client = login_as("staff", shop.store)
    body = client.get("/inventory", query_string={"group": "item"}).get_data(as_text=True)
    assert "More than 1 items</p>" in body
    assert len(re.findall(r'<tbody id="item-\d+" class="item-group">', body)) == 2
