"""The scan preference: a user chooses, on their account page, whether a scan naming exactly
one entry opens its page or its Adjust form; the scan honours it where they may adjust."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User
from app.permissions import ADJUST

from .helpers import Htmx, audit, csrf_from_page


@pytest.fixture
def shop(scene: Callable[..., SimpleNamespace]) -> SimpleNamespace:
    return scene(title="Red Teapot", sku="POT-RED", code="shelf_9")


def _save(client: FlaskClient, value: str, **kwargs: Any) -> Any:
    token = csrf_from_page(client.get("/account/tokens").get_data(as_text=True))
    return client.post("/account/scan", data={"scan_opens": value, "csrf_token": token},
                       **kwargs)


def _stored(client: FlaskClient) -> str:
    db.session.rollback()  # a snapshot of before the request would not show it
    value = db.session.scalar(select(User.scan_opens).where(User.id == client.user.id))
    db.session.rollback()
    return str(value)


def _events(client: FlaskClient) -> list[tuple[str, dict[str, Any]]]:
    db.session.rollback()
    rows = db.session.execute(
        select(AuditEvent.action, AuditEvent.changes)
        .where(AuditEvent.object_type == "user", AuditEvent.object_id == client.user.id)
    ).all()
    db.session.rollback()
    return [(r.action, r.changes) for r in rows]


def test_the_header_names_the_page_where_the_setting_lives(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    """The scan setting is on the account page, so the header's link says Account, not
    API tokens: a user looking for the setting finds it by name."""
    client = login_as("staff", shop.store)
    body = client.get("/inventory").get_data(as_text=True)
    assert audit(body).elements("a", href="/account/tokens")
    link_text = body.split('href="/account/tokens"', 1)[1].split("</a>", 1)[0]
    assert link_text.rsplit(">", 1)[1] == "Account"
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "<h1>Your account</h1>" in page
    assert 'id="scanning-title">Scanning</h2>' in page
    assert "<h2>Your API tokens</h2>" in page


def test_the_account_page_offers_the_setting_checked_as_stored(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    body = client.get("/account/tokens").get_data(as_text=True)
    radios = audit(body).elements("input", name="scan_opens")
    assert [(r["value"], "checked" in r) for r in radios] == [("entry", True),
                                                              ("adjust", False)]
    assert "When a scan finds one entry" in body


def test_saving_the_setting_stores_it_and_records_the_change(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    response = _save(client, "adjust")
    assert (response.status_code, response.headers["Location"]) == (303, "/account/tokens")
    assert _stored(client) == "adjust"
    assert _events(client) == [("user.updated", {"scan_opens": ["entry", "adjust"]})]
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "When a scan finds one entry: open Adjust" in page
    checked = [r["value"] for r in audit(page).elements("input", name="scan_opens")
               if "checked" in r]
    assert checked == ["adjust"]
    # Saving what is already stored changes nothing and records nothing more.
    assert _save(client, "adjust").status_code == 303
    assert len(_events(client)) == 1


@pytest.mark.parametrize("value", ["page", "", "ADJUST", "adjust\x00"])
def test_a_bad_value_is_refused_naming_the_field(
    value: str, shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    response = _save(client, value)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert '<p class="field-error" id="scan-opens-error">' in body
    assert "When a scan finds one entry" in body
    assert _stored(client) == "entry"
    assert _events(client) == []


def test_without_the_preference_a_scan_opens_the_entry_page(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient], htmx: Htmx
) -> None:
    client = login_as("owner", shop.store)
    page = f"/inventory/entries/{shop.entry.id}"
    assert client.get("/inventory/scan?q=POT-RED").headers["Location"] == page
    assert htmx.get(client, "/inventory/scan?q=POT-RED").headers["HX-Redirect"] == page


def test_with_adjust_chosen_a_scan_opens_the_adjust_dialog_over_the_overview(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient], htmx: Htmx
) -> None:
    client = login_as("owner", shop.store)
    _save(client, "adjust")
    adjust = f"/inventory/entries/{shop.entry.id}/adjust"
    response = htmx.get(client, "/inventory/scan?q=pot-red")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "HX-Redirect" not in response.headers
    assert json.loads(response.headers["HX-Trigger"]) == {"open-dialog": {"url": adjust}}
    assert response.headers["HX-Push-Url"] == "/inventory?q=pot-red"
    assert body.lstrip().startswith('<section id="results"')
    assert f'<tr id="entry-{shop.entry.id}"' in body
    # The dialog's form, asked for as the overview's listener asks, is the Adjust form.
    dialog = htmx.get(client, adjust).get_data(as_text=True)
    assert audit(dialog).elements("input", name="delta")


def test_with_adjust_chosen_a_scan_without_javascript_opens_the_adjust_page(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient]
) -> None:
    client = login_as("owner", shop.store)
    _save(client, "adjust")
    response = client.get("/inventory/scan?q=POT-RED")
    location = response.headers["Location"]
    assert response.status_code == 303
    assert location == (f"/inventory/entries/{shop.entry.id}/adjust"
                        "?next=/inventory?q%3DPOT-RED")
    page = client.get(location).get_data(as_text=True)
    assert audit(page).elements("input", name="next")[0]["value"] == "/inventory?q=POT-RED"
    assert audit(page).elements("input", name="delta")


def test_with_adjust_chosen_but_no_right_to_adjust_a_scan_opens_the_entry_page(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient], htmx: Htmx
) -> None:
    client = login_as("staff", shop.store)  # reads only
    _save(client, "adjust")
    assert _stored(client) == "adjust"
    page = f"/inventory/entries/{shop.entry.id}"
    assert client.get("/inventory/scan?q=POT-RED").headers["Location"] == page
    response = htmx.get(client, "/inventory/scan?q=POT-RED")
    assert response.headers["HX-Redirect"] == page
    assert "HX-Trigger" not in response.headers
    # Staff granted adjusting: their scan opens Adjust.
    staff_with_adjust = login_as("staff", shop.store, grants=(ADJUST,))
    _save(staff_with_adjust, "adjust")
    assert "open-dialog" in htmx.get(staff_with_adjust,
                                     "/inventory/scan?q=POT-RED").headers["HX-Trigger"]


def test_with_adjust_chosen_several_matches_and_location_codes_behave_as_before(
    shop: SimpleNamespace, login_as: Callable[..., FlaskClient], htmx: Htmx,
    make_entry: Callable[..., Any],
) -> None:
    make_entry(store=shop.store, location=shop.spare, product=shop.product, quantity=1)
    client = login_as("owner", shop.store)
    _save(client, "adjust")
    several = htmx.get(client, "/inventory/scan?q=POT-RED")
    assert "HX-Trigger" not in several.headers and "HX-Redirect" not in several.headers
    assert client.get("/inventory/scan?q=POT-RED").headers["Location"] == "/inventory?q=POT-RED"
    place = client.get("/inventory/scan?q=shelf_9")
    assert place.headers["Location"] == f"/inventory?location={shop.location.id}"
