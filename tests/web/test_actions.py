"""The stock actions in the browser: the dialog, success with and without htmx, field errors,
conflicts with the SPEC's words, stale forms, and double submits."""

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
from app.inventory.actions import ACTIONS
from app.models import Reservation
from app.permissions import system_actor
from app.services import stock

from .helpers import ACTION_NAMES, HX, Htmx, hidden_value, valid_form

# (on hand, reserved) after the valid_form submission on a scene entry; None: deleted.
AFTER = {
    "adjust": (13, 2), "set": (7, 2), "count": (8, 2), "reserve": (10, 4),
    "release": (10, 1), "fulfill": (9, 1), "return": (12, 2), "transfer": (9, 2),
    "threshold": (10, 2), "delete": None,
}
LEDGER = {
    "adjust": ["adjustment"], "set": ["set"], "count": ["count"], "reserve": ["reserved"],
    "release": ["released"], "fulfill": ["fulfilled"], "return": ["returned"],
    "transfer": ["transfer_out"], "threshold": [], "delete": ["deleted"],
}
FLASH = {
    "adjust": "on hand 10 → 13", "set": "on hand 10 → 7", "count": "on hand 10 → 8",
    "reserve": "available 8 → 6", "release": "available 8 → 9", "fulfill": "on hand 10 → 9",
    "return": "on hand 10 → 12", "transfer": "on hand 10 → 9",
    "threshold": "is now 4.", "delete": "Deleted the entry for Blue Mug (MUG-BLU) at AISLE_1",
}
# The changed row's own short message, announced where the row is.
ROW_NOTE = {
    "adjust": "Adjusted +3: on hand 10 → 13", "set": "Set −3: on hand 10 → 7",
    "count": "Counted −2: on hand 10 → 8", "reserve": "Reserved 2: available 8 → 6",
    "release": "Released 1: available 8 → 9", "fulfill": "Fulfilled −1: on hand 10 → 9",
    "return": "Returned +2: on hand 10 → 12", "transfer": "Transferred −1: on hand 10 → 9",
    "threshold": "Threshold 0 → 4",
}


@pytest.fixture
def owner_scene(
    scene: Callable[..., SimpleNamespace], login_as: Callable[..., FlaskClient]
) -> Callable[..., SimpleNamespace]:
    def build(action: str = "adjust", **kwargs: Any) -> SimpleNamespace:
        kwargs.setdefault("reserved", 0 if action == "delete" else 2)
        place = scene(title="Blue Mug", sku="MUG-BLU", code="aisle_1", **kwargs)
        place.client = login_as("owner", place.store)
        place.url = f"/inventory/entries/{place.entry.id}/{action}"
        return place

    return build


def is_full_page(body: str) -> bool:
    return body.lstrip().lower().startswith("<!doctype html>")


# --------------------------------------------------------------------------- the dialog


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_dialog_is_a_fragment_for_htmx_and_a_page_without(
    action: str, owner_scene: Callable[..., SimpleNamespace], read_entry: Callable[..., Any]
) -> None:
    place = owner_scene(action)
    url = f"{place.url}?next=/inventory%3Fstatus%3Dlow_stock"

    response = place.client.get(url, headers=HX)
    dialog = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.match(r'\s*<dialog id="action-dialog"', dialog)
    assert not is_full_page(dialog)
    assert f'<form method="post" action="{place.url}" hx-post="{place.url}"' in dialog
    assert f"{ACTIONS[action].title} — Blue Mug" in dialog and "MUG-BLU" in dialog
    assert "data-close-dialog" in dialog
    key = hidden_value(dialog, "idempotency_key")
    assert re.fullmatch(r"[0-9a-f]{32}", key)
    assert hidden_value(dialog, "next") == "/inventory?status=low_stock"

    response = place.client.get(url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert is_full_page(page)
    assert f'<form method="post" action="{place.url}"' in page
    assert "data-close-dialog" not in page
    assert 'href="/inventory?status=low_stock">Cancel</a>' in page
    assert hidden_value(page, "idempotency_key") != key  # a new key for every form shown

    if action in ("set", "count"):
        assert hidden_value(dialog, "expected_version") == str(read_entry(place.entry.id).version)
    if action in ("release", "fulfill"):
        assert "SETUP: 2 held" in dialog
    if action == "transfer":
        assert f'<option value="{place.spare.id}">' in dialog
        assert f'<option value="{place.location.id}">' not in dialog


# --------------------------------------------------------------------------- success


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_success_under_htmx_swaps_the_row_and_announces_it(
    action: str,
    owner_scene: Callable[..., SimpleNamespace],
    read_entry: Callable[..., Any],
    movements_of: Callable[[int], list[Any]],
    htmx: Htmx,
) -> None:
    place = owner_scene(action)
    entry_id = place.entry.id
    before = [m.type for m in movements_of(entry_id)]

    response = htmx.post(place.client, place.url, data=valid_form(action, place))
    body = response.get_data(as_text=True)

    assert response.status_code == 200, body[:800]
    assert response.headers["HX-Retarget"] == f"#entry-{entry_id}"
    events = json.loads(response.headers["HX-Trigger"])
    assert events["stock-changed"] == {"entry": entry_id}
    assert events["close-dialog"] is True
    assert re.search(r'<div id="flashes"[^>]*hx-swap-oob="true"', body)
    assert FLASH[action] in body
    if action == "delete":
        assert response.headers["HX-Reswap"] == "delete"
        assert "<tr" not in body
        assert read_entry(entry_id) is None
    else:
        assert response.headers["HX-Reswap"] == "outerHTML"
        assert re.match(rf'\s*<tr id="entry-{entry_id}" class="row-changed">', body)
        note = re.search(r'<span class="row-note" role="status" data-row-note>([^<]*)</span>', body)
        assert note and note.group(1) == ROW_NOTE[action]
        entry = read_entry(entry_id)
        assert (entry.quantity, entry.reserved_quantity) == AFTER[action]
        quantity, reserved = AFTER[action]
        # On hand, reserved, available: the row's third to fifth cells.
        assert f"<td>{quantity:,}<td>{reserved:,}<td>{quantity - reserved:,}<td>" in body
    if action == "threshold":
        assert read_entry(entry_id).low_stock_threshold == 4
    assert [m.type for m in movements_of(entry_id)] == before + LEDGER[action]


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_success_without_htmx_redirects_to_next_and_flashes(
    action: str,
    owner_scene: Callable[..., SimpleNamespace],
    read_entry: Callable[..., Any],
    movements_of: Callable[[int], list[Any]],
) -> None:
    place = owner_scene(action)
    entry_id = place.entry.id
    before = len(movements_of(entry_id))
    form = valid_form(action, place, next="/inventory?status=in_stock")

    response = place.client.post(place.url, data=form)

    assert response.status_code == 303
    assert response.headers["Location"] == "/inventory?status=in_stock"
    page = place.client.get(response.headers["Location"]).get_data(as_text=True)
    assert FLASH[action] in page
    assert FLASH[action] not in place.client.get("/inventory").get_data(as_text=True)
    if AFTER[action] is None:
        assert read_entry(entry_id) is None
    else:
        entry = read_entry(entry_id)
        assert (entry.quantity, entry.reserved_quantity) == AFTER[action]
    assert len(movements_of(entry_id)) == before + len(LEDGER[action])


@pytest.mark.parametrize(
    "target", ["", "//evil.example/x", "https://evil.example/", "/\\evil.example"]
)
def test_without_a_safe_next_the_redirect_goes_to_the_overview(
    owner_scene: Callable[..., SimpleNamespace], target: str
) -> None:
    place = owner_scene("adjust")
    response = place.client.post(place.url, data=valid_form("adjust", place, next=target))
    assert response.status_code == 303
    assert response.headers["Location"] == "/inventory"


def test_transfer_updates_both_sides(
    owner_scene: Callable[..., SimpleNamespace], htmx: Htmx, db_state: Callable[[], Any]
) -> None:
    place = owner_scene("transfer")
    response = htmx.post(place.client, place.url,
                         data=valid_form("transfer", place, quantity="4"))
    assert response.status_code == 200
    by_location = {row[3]: row[4] for row in db_state().entries}  # location_id → quantity
    assert by_location == {place.location.id: 6, place.spare.id: 4}


# --------------------------------------------------------------------------- 422


def test_field_errors_are_shown_in_the_dialog_and_values_kept(
    owner_scene: Callable[..., SimpleNamespace], db_state: Callable[[], Any], htmx: Htmx
) -> None:
    place = owner_scene("adjust")
    before = db_state()
    form = {"idempotency_key": "k-1", "delta": "", "reason": "", "reference": "PO-77"}

    response = htmx.post(place.client, place.url, data=form)
    body = response.get_data(as_text=True)

    assert response.status_code == 422
    assert "<dialog" not in body and not is_full_page(body)  # swapped into the open dialog
    assert re.match(r'\s*<h2 id="dialog-title">', body)
    assert 'id="delta-error">Enter a whole number.' in body
    assert 'id="reason-error">This field is required.' in body
    assert re.search(r'<input aria-describedby="delta-error" aria-invalid="true"[^>]*name="delta"',
                     body)
    assert 'value="PO-77"' in body
    assert hidden_value(body, "idempotency_key") not in ("", "k-1")
    assert db_state() == before

    response = place.client.post(place.url, data=form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert is_full_page(page)
    assert 'id="delta-error"' in page and 'id="reason-error"' in page
    assert db_state() == before


@pytest.mark.parametrize(
    ("action", "form", "field", "message"),
    [
        ("transfer", {"to_location_id": "", "quantity": "1"}, "to_location_id",
         "Choose where the stock goes."),
        ("transfer", {"to_location_id": "１", "quantity": "1"}, "to_location_id",
         "Choose one from the list."),
        ("release", {"quantity": "", "reservation_id": ""}, "quantity", "Enter a whole number."),
        ("adjust", {"delta": "0", "reason": "x"}, "delta", "Must not be zero."),
        ("set", {"quantity": "-1"}, "quantity", "Must not be negative."),
        ("reserve", {"quantity": "0", "order_ref": "A"}, "quantity", "Must be at least 1."),
    ],
)
def test_service_and_form_field_errors_name_the_field(
    owner_scene: Callable[..., SimpleNamespace], db_state: Callable[[], Any], htmx: Htmx,
    action: str, form: dict[str, str], field: str, message: str,
) -> None:
    place = owner_scene(action)
    before = db_state()
    response = htmx.post(place.client, place.url, data={"idempotency_key": "k", **form})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f'id="{field}-error">{message}' in body
    assert db_state() == before


# --------------------------------------------------------------------------- 409

AVAILABLE_5 = "Insufficient stock available. Available: 5, Requested: 10"


@pytest.mark.parametrize(
    ("action", "form", "message"),
    [
        ("adjust", {"delta": "-10", "reason": "Broken"}, AVAILABLE_5),
        ("reserve", {"quantity": "10", "order_ref": "ORD-9"}, AVAILABLE_5),
        ("transfer", {"quantity": "10"}, AVAILABLE_5),
        ("set", {"quantity": "3"}, "Quantity 3 is below reserved 5"),
        ("count", {"counted_quantity": "3"}, "Counted 3 is below reserved 5"),
        ("release", {"quantity": "6", "reservation_id": ""}, "Cannot release 6: only 5 reserved"),
        ("fulfill", {"quantity": "6", "reservation_id": ""}, "Cannot fulfill 6: only 5 reserved"),
        ("delete", {"reason": ""}, "Entry has 5 reserved units"),
    ],
)
def test_conflicts_answer_409_with_the_spec_message(
    owner_scene: Callable[..., SimpleNamespace], db_state: Callable[[], Any], htmx: Htmx,
    action: str, form: dict[str, str], message: str,
) -> None:
    place = owner_scene(action, quantity=10, reserved=5)
    if action == "transfer":
        form = {**form, "to_location_id": str(place.spare.id)}
    before = db_state()
    for send in (htmx.post, FlaskClient.post):
        response = send(place.client, place.url, data={"idempotency_key": uuid.uuid4().hex,
                                                       **form})
        body = response.get_data(as_text=True)
        assert response.status_code == 409
        assert f'<div class="error-summary" role="alert"><p>{message}</p></div>' in body
        assert db_state() == before


# --------------------------------------------------------------------------- stale forms


@pytest.mark.parametrize(("action", "field"), [("set", "quantity"), ("count", "counted_quantity")])
def test_a_stale_form_shows_the_current_value_and_can_be_applied_again(
    owner_scene: Callable[..., SimpleNamespace],
    db_state: Callable[[], Any],
    read_entry: Callable[..., Any],
    htmx: Htmx,
    action: str,
    field: str,
) -> None:
    place = owner_scene(action, quantity=10, reserved=0)
    dialog = htmx.get(place.client, place.url).get_data(as_text=True)
    loaded_version = hidden_value(dialog, "expected_version")
    # Someone else moves the stock while the dialog is open.
    stock.adjust_stock(actor=system_actor("tests"), entry_id=place.entry.id, delta=5,
                           reason="Delivery")
    current = read_entry(place.entry.id)
    before = db_state()

    form = {"idempotency_key": hidden_value(dialog, "idempotency_key"),
            "expected_version": loaded_version, field: "12"}
    response = htmx.post(place.client, place.url, data=form)
    body = response.get_data(as_text=True)

    assert response.status_code == 409
    assert "on hand is now 15 (0 reserved)" in body
    assert "<dt>On hand</dt><dd>15</dd>" in body  # the dialog shows the value as it is now
    assert hidden_value(body, "expected_version") == str(current.version) != loaded_version
    assert hidden_value(body, field) == "12"  # what the user typed is kept
    assert db_state() == before

    again = {"idempotency_key": hidden_value(body, "idempotency_key"),
             "expected_version": hidden_value(body, "expected_version"), field: "12"}
    response = htmx.post(place.client, place.url, data=again)
    assert response.status_code == 200
    assert read_entry(place.entry.id).quantity == 12


# --------------------------------------------------------------------------- double submit


def test_double_submit_under_htmx_applies_once(
    owner_scene: Callable[..., SimpleNamespace],
    read_entry: Callable[..., Any],
    movements_of: Callable[[int], list[Any]],
    htmx: Htmx,
) -> None:
    place = owner_scene("adjust")
    form = valid_form("adjust", place)
    first = htmx.post(place.client, place.url, data=form)
    second = htmx.post(place.client, place.url, data=form)
    assert (first.status_code, second.status_code) == (200, 200)
    assert read_entry(place.entry.id).quantity == 13
    assert [m.type for m in movements_of(place.entry.id)].count("adjustment") == 1


def test_double_submit_without_htmx_applies_once(
    owner_scene: Callable[..., SimpleNamespace],
    db_state: Callable[[], Any],
    movements_of: Callable[[int], list[Any]],
) -> None:
    place = owner_scene("reserve")
    form = valid_form("reserve", place)
    first = place.client.post(place.url, data=form)
    after_first = db_state()
    second = place.client.post(place.url, data=form)
    assert (first.status_code, second.status_code) == (303, 303)
    assert db_state() == after_first
    assert len(after_first.reservations) == 2  # the setup hold and this one
    assert [m.type for m in movements_of(place.entry.id)].count("reserved") == 2


def test_a_hold_with_minutes_submitted_twice_a_minute_apart_is_held_once(
    owner_scene: Callable[..., SimpleNamespace],
    db_state: Callable[[], Any],
    htmx: Htmx,
) -> None:
    """The dialog sends hold minutes, a while rather than a moment: its repeat, even a
    minute later, is the same request and replays instead of being refused as another."""
    from datetime import datetime, timedelta

    from app.clock import frozen_at

    place = owner_scene("reserve")
    form = {**valid_form("reserve", place), "hold_minutes": "30"}
    start = datetime(2030, 1, 1, 9, 0)
    with frozen_at(start):
        first = htmx.post(place.client, place.url, data=form)
    after_first = db_state()
    with frozen_at(start + timedelta(minutes=1)):
        second = htmx.post(place.client, place.url, data=form)

    assert (first.status_code, second.status_code) == (200, 200)
    assert db_state() == after_first
    db.session.rollback()
    newest = db.session.scalars(
        db.select(Reservation).where(Reservation.entry_id == place.entry.id)
        .order_by(Reservation.id.desc())
    ).first()
    assert newest is not None and newest.expires_at == start + timedelta(minutes=30)
    assert len(after_first.reservations) == 2  # the setup hold and this one


def test_double_submit_of_a_versioned_set_is_a_replay_not_a_conflict(
    owner_scene: Callable[..., SimpleNamespace],
    read_entry: Callable[..., Any],
    movements_of: Callable[[int], list[Any]],
    htmx: Htmx,
) -> None:
    place = owner_scene("set")
    dialog = htmx.get(place.client, place.url).get_data(as_text=True)
    form = {"idempotency_key": hidden_value(dialog, "idempotency_key"),
            "expected_version": hidden_value(dialog, "expected_version"), "quantity": "7"}
    assert htmx.post(place.client, place.url, data=form).status_code == 200
    assert htmx.post(place.client, place.url, data=form).status_code == 200
    assert read_entry(place.entry.id).quantity == 7
    assert [m.type for m in movements_of(place.entry.id)].count("set") == 1


def test_a_key_reused_for_another_request_is_refused(
    owner_scene: Callable[..., SimpleNamespace], db_state: Callable[[], Any], htmx: Htmx
) -> None:
    place = owner_scene("adjust")
    form = valid_form("adjust", place)
    assert htmx.post(place.client, place.url, data=form).status_code == 200
    before = db_state()
    response = htmx.post(place.client, place.url, data={**form, "delta": "4"})
    assert response.status_code == 422
    assert "already used for a different request" in response.get_data(as_text=True)
    assert db_state() == before


@pytest.mark.parametrize("action", ["release", "fulfill"])
def test_a_dialog_closes_only_its_own_entrys_reservations(
    owner_scene: Callable[..., SimpleNamespace],
    scene: Callable[..., SimpleNamespace],
    db_state: Callable[[], Any],
    htmx: Htmx,
    action: str,
) -> None:
    place = owner_scene(action)
    neighbour = scene(store=place.store, reserved=3)  # same store, another entry's hold
    hold_id = max(row[0] for row in db_state().reservations)
    before = db_state()
    for send in (htmx.post, FlaskClient.post):
        response = send(place.client, place.url, data=valid_form(
            action, place, reservation_id=str(hold_id), quantity=""))
        assert response.status_code == 404, neighbour.entry.id
        assert db_state() == before


def test_release_by_reservation_id_then_again_is_a_conflict(
    owner_scene: Callable[..., SimpleNamespace], db_state: Callable[[], Any], htmx: Htmx
) -> None:
    place = owner_scene("release")
    dialog = htmx.get(place.client, place.url).get_data(as_text=True)
    hold_id = int(re.findall(r'<option value="(\d+)">SETUP: 2 held', dialog)[0])
    form = valid_form("release", place, reservation_id=str(hold_id), quantity="")
    response = htmx.post(place.client, place.url, data=form)
    assert response.status_code == 200
    db.session.rollback()
    hold = db.session.get(Reservation, hold_id)
    assert (hold.status, hold.open_quantity) == ("released", 0)
    before = db_state()
    response = htmx.post(place.client, place.url, data={**form, "idempotency_key": "again"})
    assert response.status_code == 409
    assert f"Reservation {hold_id} is released, not active" in response.get_data(as_text=True)
    assert db_state() == before


@pytest.mark.parametrize(("typed", "added"), [("1,000", 1000), ("+5", 5), (" 7 ", 7),
                                               ("-0,002", None), ("1,000,000", 1_000_000)])
def test_whole_numbers_may_use_thousands_separators(
    owner_scene: Callable[..., SimpleNamespace], read_entry: Callable[..., Any], htmx: Htmx,
    typed: str, added: int | None,
) -> None:
    place = owner_scene("adjust")
    response = htmx.post(place.client, place.url, data=valid_form("adjust", place, delta=typed))
    if added is None:
        assert response.status_code == 422
        assert 'id="delta-error"' in response.get_data(as_text=True)
    else:
        assert response.status_code == 200
        assert read_entry(place.entry.id).quantity == 10 + added
