"""Sales channels on the Locations page, and moving a reservation from an entry's page: what
they show, who may change them, what bad input gets (the field named, nothing changed), and
the CSRF token they keep."""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import ChannelLocation, Reservation, SalesChannel
from app.permissions import CATALOG, RESERVE, system_actor
from app.services import channels, stock

from .helpers import HX, assert_csp_clean, csrf_from_hx_headers, csrf_from_page


@pytest.fixture
def shop(make_store, make_location, make_product, make_entry) -> SimpleNamespace:
    """A store with three locations, a mug stocked at two of them (a hold of 4 at the
    warehouse) and a web channel selling from the warehouse then the counter."""
    store = make_store("Corner Roastery")
    warehouse = make_location(store, "WAREHOUSE_MAIN")
    counter = make_location(store, "CAFE_COUNTER")
    market = make_location(store, "MARKET_STALL")
    mug = make_product(store, sku="MUG-BLU", title="Blue mug")
    at_warehouse = make_entry(store=store, location=warehouse, product=mug, quantity=10)
    at_counter = make_entry(store=store, location=counter, product=mug, quantity=6)
    admin = system_actor("tests")
    hold = stock.reserve_stock(actor=admin, entry_id=at_warehouse.id, quantity=4,
                               order_ref="ORD-77", line_ref="L1").reservation_ids[0]
    web = channels.create_channel(actor=admin, store_id=store.id, code="WEB", name="Web shop",
                                  location_ids=[warehouse.id, counter.id])
    db.session.commit()
    return SimpleNamespace(store=store, warehouse=warehouse, counter=counter, market=market,
                           mug=mug, at_warehouse=at_warehouse, at_counter=at_counter,
                           hold=hold, web=web)


def _channels_state() -> tuple[Any, ...]:
    db.session.rollback()
    try:
        return tuple(tuple(tuple(r) for r in db.session.execute(select(t).order_by(*t.primary_key)))
                     for t in (SalesChannel.__table__, ChannelLocation.__table__))
    finally:
        db.session.rollback()


def _order(channel_id: int) -> list[str]:
    db.session.rollback()
    row = channels.get_channel(system_actor("tests"), channel_id)
    db.session.rollback()
    return list(row.location_codes)


def _new(shop: SimpleNamespace, **changes: Any) -> dict[str, Any]:
    return {"code": "counter", "name": "Retail counter",
            "locations": [str(shop.counter.id), "", str(shop.warehouse.id)], **changes}


# --------------------------------------------------------------------------- the panel


def test_the_locations_page_lists_the_channels_in_order(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    body = client.get(f"/catalog/locations?store={shop.store.id}").get_data(as_text=True)
    assert_csp_clean(body)
    panel = body[body.index('id="channels"'):]
    assert "Sales channels" in panel and "<code>WEB</code>" in panel and "Web shop" in panel
    row = re.search(r'<tr id="channel-\d+">.*?</tr>', panel, re.S).group(0)
    assert re.search(r"WAREHOUSE_MAIN</code>.*→.*CAFE_COUNTER</code>", row, re.S)
    assert ">No<" in row
    assert f"/catalog/channels/{shop.web.id}/edit" in row
    assert 'action="/catalog/channels?store=' in panel
    # One select per position, each with its own label; the first named by the summary.
    assert len(re.findall(r'<select id="channel-locations(-\d+)?" name="locations"', panel)) == 3
    assert '<label for="channel-locations-2">2nd' in panel


def test_a_reader_sees_the_channels_but_no_form(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("staff", shop.store)
    body = client.get(f"/catalog/locations?store={shop.store.id}").get_data(as_text=True)
    assert "<code>WEB</code>" in body
    assert "/catalog/channels?store=" not in body and "/edit" not in body


def test_adding_a_channel_under_htmx_swaps_the_panel_with_a_flash(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("admin", shop.store)
    response = client.post(f"/catalog/channels?store={shop.store.id}",
                           data=_new(shop, allow_split="y"), headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:400]
    assert body.startswith('<section id="channels"')
    assert "Added channel COUNTER, selling from CAFE_COUNTER → WAREHOUSE_MAIN (splits lines)." \
        in body
    db.session.rollback()
    made = channels.find_channel(system_actor("tests"), shop.store.id, "COUNTER")
    assert made.location_codes == ("CAFE_COUNTER", "WAREHOUSE_MAIN") and made.allow_split
    assert made.name == "Retail counter"


def test_adding_a_channel_without_script_redirects_with_a_flash(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("staff", shop.store, grants=(CATALOG,))
    response = client.post(f"/catalog/channels?store={shop.store.id}", data=_new(shop))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/catalog/locations?store={shop.store.id}"
                                                 "#channels")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added channel COUNTER, selling from CAFE_COUNTER → WAREHOUSE_MAIN." in page


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"code": ""}, "channel-code", "Enter a code"),
    ({"code": "x" * 41}, "channel-code", "40"),
    ({"name": "n" * 121}, "channel-name", "120"),
    ({"locations": ["", ""]}, "channel-locations", "Choose at least one location"),
    ({"locations": ["abc"]}, "channel-locations", "Choose locations from the list"),
    ({"locations": ["999999"]}, "channel-locations", "not an active location"),
    ({"locations": ["{c}", "{c}"]}, "channel-locations", "appears once"),
])
def test_bad_input_names_the_field_and_changes_nothing(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient], changes: dict[str, Any],
    field: str, words: str,
) -> None:
    if "locations" in changes:
        changes = {"locations": [v.format(c=shop.counter.id) for v in changes["locations"]]}
    client = login_as("owner", shop.store)
    before = _channels_state()
    for headers in ({}, HX):
        response = client.post(f"/catalog/channels?store={shop.store.id}",
                               data=_new(shop, **changes), headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 422, body[:400]
        error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', body)
        assert error and words in error.group(1), body[:2000]
        assert 'aria-invalid="true"' in body
        # What was typed stays.
        assert 'value="Retail counter"' in body or "name" in changes
    assert _channels_state() == before


def test_a_code_the_store_has_is_refused_beside_the_code(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    before = _channels_state()
    response = client.post(f"/catalog/channels?store={shop.store.id}",
                           data=_new(shop, code="web"), headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert re.search(r'id="channel-code-error">This store already has a channel with the code '
                     r"WEB\.", body)
    assert _channels_state() == before


def test_editing_a_channel_changes_its_order_and_splitting(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    url = f"/catalog/channels/{shop.web.id}/edit"
    dialog = client.get(url, headers=HX).get_data(as_text=True)
    assert dialog.startswith("<dialog") and "Edit sales channel — <code>WEB</code>" in dialog
    assert_csp_clean(dialog)
    # The current order is selected, position by position.
    picks = re.findall(r'<select id="edit-channel-locations[^"]*".*?</select>', dialog, re.S)
    assert [re.search(r'<option value="(\d*)" selected', p).group(1) if " selected" in p
            else "" for p in picks][:2] == [str(shop.warehouse.id), str(shop.counter.id)]
    response = client.post(url, headers=HX, data={
        "name": "Online", "allow_split": "y",
        "locations": [str(shop.market.id), str(shop.warehouse.id), ""]})
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:500]
    assert response.headers["HX-Retarget"] == "#channels"
    assert "close-dialog" in response.headers["HX-Trigger"]
    assert ("Saved channel WEB: name “Web shop” → “Online”; sells from MARKET_STALL → "
            "WAREHOUSE_MAIN (was WAREHOUSE_MAIN → CAFE_COUNTER); splits lines.") in body
    assert _order(shop.web.id) == ["MARKET_STALL", "WAREHOUSE_MAIN"]


def test_editing_without_script_is_a_page_and_a_redirect(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    url = f"/catalog/channels/{shop.web.id}/edit"
    page = client.get(url).get_data(as_text=True)
    assert "<h1 id=\"dialog-title\">Edit sales channel" in page and "action-dialog" not in page
    response = client.post(url, data={"name": "Web shop",
                                      "locations": [str(shop.counter.id)]})
    assert response.status_code == 303
    assert "sells from CAFE_COUNTER (was WAREHOUSE_MAIN → CAFE_COUNTER)" in client.get(
        response.headers["Location"]).get_data(as_text=True)


def test_editing_with_no_location_is_refused_beside_the_locations(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    before = _channels_state()
    response = client.post(f"/catalog/channels/{shop.web.id}/edit", headers=HX,
                           data={"name": "Web shop", "locations": ["", ""]})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(r'id="edit-channel-locations-error">Choose at least one location', body)
    assert _channels_state() == before


def test_who_may_change_channels(
    shop: SimpleNamespace, make_store: Callable[..., Any], make_location: Callable[..., Any],
    login_as: Callable[..., FlaskClient],
) -> None:
    before = _channels_state()
    reader = login_as("staff", shop.store, grants=(RESERVE,))
    assert reader.post(f"/catalog/channels?store={shop.store.id}",
                       data=_new(shop)).status_code == 403
    assert reader.get(f"/catalog/channels/{shop.web.id}/edit").status_code == 403
    assert reader.post(f"/catalog/channels/{shop.web.id}/edit",
                       data={"locations": [str(shop.counter.id)]}).status_code == 403
    # An owner of another store: the channel and the store do not exist for them.
    other = make_store("Elsewhere")
    make_location(other, "THEIR_BAY")
    stranger = login_as("owner", other)
    assert stranger.get(f"/catalog/channels/{shop.web.id}/edit").status_code == 404
    assert stranger.post(f"/catalog/channels/{shop.web.id}/edit",
                         data={"locations": [str(shop.counter.id)]}).status_code == 404
    assert stranger.post(f"/catalog/channels?store={shop.store.id}",
                         data=_new(shop)).status_code == 404
    # Their own store, with this store's locations inside the form: not theirs.
    response = stranger.post(f"/catalog/channels?store={other.id}", data=_new(shop))
    assert response.status_code == 422
    assert "WAREHOUSE_MAIN" not in response.get_data(as_text=True)
    assert _channels_state() == before


@pytest.fixture
def csrf_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(WTF_CSRF_ENABLED=True)


def test_channel_forms_keep_the_csrf_token(
    shop: SimpleNamespace, csrf_app: Flask, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store, on=csrf_app)
    page = client.get(f"/catalog/locations?store={shop.store.id}").get_data(as_text=True)
    token = csrf_from_page(page[page.index('id="channels"'):])
    before = _channels_state()
    refused = client.post(f"/catalog/channels?store={shop.store.id}", data=_new(shop))
    assert refused.status_code == 400
    refused = client.post(f"/catalog/channels/{shop.web.id}/edit",
                          data={"locations": [str(shop.counter.id)]})
    assert refused.status_code == 400
    assert _channels_state() == before
    # A refused form carries the token on, so the corrected one goes through.
    again = client.post(f"/catalog/channels?store={shop.store.id}",
                        data=_new(shop, code="", csrf_token=token), headers=HX)
    assert again.status_code == 422
    token = csrf_from_page(again.get_data(as_text=True))
    ok = client.post(f"/catalog/channels?store={shop.store.id}",
                     data=_new(shop, csrf_token=token), headers=HX)
    assert ok.status_code == 200
    dialog = client.get(f"/catalog/channels/{shop.web.id}/edit", headers=HX)
    saved = client.post(f"/catalog/channels/{shop.web.id}/edit", headers=HX, data={
        "csrf_token": csrf_from_page(dialog.get_data(as_text=True)),
        "locations": [str(shop.counter.id)]})
    assert saved.status_code == 200
    assert csrf_from_hx_headers(page)


# --------------------------------------------------------------------------- moving a hold


def _hold(reservation_id: int) -> tuple[Any, ...]:
    db.session.rollback()
    row = db.session.execute(select(Reservation.entry_id, Reservation.location_id,
                                    Reservation.status, Reservation.open_quantity)
                             .where(Reservation.id == reservation_id)).one()
    db.session.rollback()
    return tuple(row)


def test_the_entry_page_offers_move_for_an_active_hold(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("staff", shop.store, grants=(RESERVE,))
    body = client.get(f"/inventory/entries/{shop.at_warehouse.id}").get_data(as_text=True)
    move = f"/inventory/entries/{shop.at_warehouse.id}/reservations/{shop.hold}/move"
    assert f'href="{move}"' in body and "Move…" in body
    reader = login_as("staff", shop.store)
    assert move not in reader.get(f"/inventory/entries/{shop.at_warehouse.id}").get_data(
        as_text=True)


def test_the_move_dialog_offers_the_products_other_entries_with_their_available(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    body = client.get(f"/inventory/entries/{shop.at_warehouse.id}/reservations/{shop.hold}/move",
                      headers=HX).get_data(as_text=True)
    assert body.startswith("<dialog")
    assert_csp_clean(body)
    assert "ORD-77 / L1" in body and "CAFE_COUNTER — 6 available" in body
    # No entry at the market stall, and the hold's own location is not a choice.
    assert "MARKET_STALL" not in body and "WAREHOUSE_MAIN —" not in body


def test_moving_a_hold_shows_it_at_its_new_place_with_a_flash(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("staff", shop.store, grants=(RESERVE,))
    url = f"/inventory/entries/{shop.at_warehouse.id}/reservations/{shop.hold}/move"
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"',
                    client.get(url).get_data(as_text=True)).group(1)
    response = client.post(url, data={"idempotency_key": key,
                                      "location_id": str(shop.counter.id),
                                      "reason": "Collect at the café"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/inventory/entries/{shop.at_counter.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert (f"Moved reservation {shop.hold} (order ORD-77) from WAREHOUSE_MAIN to CAFE_COUNTER."
            ) in page
    assert f'id="reservation-{shop.hold}"' in page
    assert _hold(shop.hold)[:2] == (shop.at_counter.id, shop.counter.id)


def test_moving_a_hold_under_htmx_loads_the_new_entry_page(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    url = f"/inventory/entries/{shop.at_warehouse.id}/reservations/{shop.hold}/move"
    response = client.post(url, headers=HX, data={"idempotency_key": "move-1",
                                                  "location_id": str(shop.counter.id)})
    assert response.status_code == 200
    assert f'"/inventory/entries/{shop.at_counter.id}"' in response.headers["HX-Location"]
    assert "close-dialog" in response.headers["HX-Trigger"]


def test_a_location_that_cannot_cover_the_hold_is_refused_at_the_field(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient], db_state: Callable[[], Any],
    admin_actor: Any,
) -> None:
    stock.reserve_stock(actor=admin_actor, entry_id=shop.at_counter.id, quantity=4,
                        order_ref="ORD-78")
    db.session.commit()
    client = login_as("owner", shop.store)
    url = f"/inventory/entries/{shop.at_warehouse.id}/reservations/{shop.hold}/move"
    before = db_state()
    for headers in ({}, HX):
        response = client.post(url, headers=headers, data={
            "idempotency_key": f"move-short-{bool(headers)}",
            "location_id": str(shop.counter.id)})
        body = response.get_data(as_text=True)
        assert response.status_code == 409, body[:400]
        assert re.search(r'id="location_id-error">[^<]*(Only 2 available|available)', body)
        assert 'aria-invalid="true"' in body and 'class="error-summary"' in body
    assert db_state() == before


@pytest.mark.parametrize("value", ["", "abc", "{market}", "{warehouse}", "99999"])
def test_a_location_not_offered_is_refused_beside_the_field(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient], db_state: Callable[[], Any],
    value: str,
) -> None:
    value = value.format(market=shop.market.id, warehouse=shop.warehouse.id)
    client = login_as("owner", shop.store)
    before = db_state()
    response = client.post(
        f"/inventory/entries/{shop.at_warehouse.id}/reservations/{shop.hold}/move",
        headers=HX, data={"idempotency_key": "move-bad", "location_id": value})
    assert response.status_code == 422
    assert 'id="location_id-error"' in response.get_data(as_text=True)
    assert db_state() == before


def test_who_may_move_a_hold(
    shop: SimpleNamespace, make_store: Callable[..., Any], login_as: Callable[..., FlaskClient],
    db_state: Callable[[], Any],
) -> None:
    url = f"/inventory/entries/{shop.at_warehouse.id}/reservations/{shop.hold}/move"
    data = {"idempotency_key": "who", "location_id": str(shop.counter.id)}
    reader = login_as("staff", shop.store, grants=(CATALOG,))
    stranger = login_as("owner", make_store("Elsewhere"))
    owner = login_as("owner", shop.store)
    before = db_state()
    assert reader.get(url).status_code == 403
    assert reader.post(url, data=data).status_code == 403
    assert stranger.get(url).status_code == 404
    assert stranger.post(url, data=data).status_code == 404
    # A hold of another entry, through this entry's address: not found.
    assert owner.get(f"/inventory/entries/{shop.at_counter.id}/reservations/{shop.hold}/move"
                     ).status_code == 404
    assert db_state() == before
