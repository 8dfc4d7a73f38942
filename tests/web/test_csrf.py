"""With CSRF protection on, as in production: every state-changing route refuses a request
without the session's own token, and a GET never writes."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.inventory.actions import ACTIONS
from app.models import User

from .helpers import HX, PASSWORD, Htmx, csrf_from_hx_headers, csrf_from_page, valid_form


@pytest.fixture
def csrf_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(WTF_CSRF_ENABLED=True)


@pytest.fixture
def guarded(
    csrf_app: Flask,
    scene: Callable[..., SimpleNamespace],
    login_as: Callable[..., FlaskClient],
) -> SimpleNamespace:
    """A store with one entry per action, its owner signed in, and a second session (another
    user of the store) whose token must not work for the owner."""
    first = scene()
    places = {name: scene(store=first.store, reserved=0 if name == "delete" else 2)
              for name in ACTIONS}
    owner = login_as("owner", first.store, on=csrf_app)
    other = login_as("admin", first.store, on=csrf_app)
    page = owner.get("/inventory").get_data(as_text=True)
    return SimpleNamespace(
        places=places, owner=owner, token=csrf_from_hx_headers(page),
        other_token=csrf_from_page(other.get("/inventory").get_data(as_text=True)),
    )


def _token_variants(own: str, other: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(label, extra form fields, extra headers) for every token that must be refused."""
    forged = own[:-4] + ("AAAA" if not own.endswith("AAAA") else "BBBB")
    return [
        ("none", {}, {}),
        ("empty", {"csrf_token": ""}, {}),
        ("wrong", {"csrf_token": "not-a-token"}, {}),
        ("tampered", {"csrf_token": forged}, {}),
        ("other session's", {"csrf_token": other}, {}),
        ("wrong header", {}, {"X-CSRFToken": "not-a-token"}),
        ("other session's header", {}, {"X-CSRFToken": other}),
    ]


def test_stock_actions_refuse_missing_wrong_and_foreign_tokens(
    guarded: SimpleNamespace, db_state: Callable[[], Any], subtests: Any
) -> None:
    before = db_state()
    for name, place in guarded.places.items():
        url = f"/inventory/entries/{place.entry.id}/{name}"
        for label, extra, headers in _token_variants(guarded.token, guarded.other_token):
            for under_htmx in (False, True):
                with subtests.test(action=name, token=label, htmx=under_htmx):
                    response = guarded.owner.post(
                        url, data={**valid_form(name, place), **extra},
                        headers={**headers, **(HX if under_htmx else {})},
                    )
                    assert response.status_code == 400
                    assert "CSRF" in response.get_data(as_text=True)
    assert db_state() == before


def test_the_sessions_own_token_works_in_the_form_and_in_the_htmx_header(
    guarded: SimpleNamespace, htmx: Htmx, db_state: Callable[[], Any]
) -> None:
    place = guarded.places["adjust"]
    url = f"/inventory/entries/{place.entry.id}/adjust"
    before = db_state()
    response = guarded.owner.post(url, data={**valid_form("adjust", place),
                                             "csrf_token": guarded.token})
    assert response.status_code == 303
    # htmx sends the token from hx-headers, not in the form.
    response = htmx.post(guarded.owner, url, data=valid_form("adjust", place),
                         headers={"X-CSRFToken": guarded.token})
    assert response.status_code == 200
    assert db_state().movements == before.movements + 2
    # The dialog's own form carries the token for the no-JS path.
    dialog = guarded.owner.get(url).get_data(as_text=True)
    assert csrf_from_page(dialog)


def test_sign_out_refuses_missing_wrong_and_foreign_tokens(
    guarded: SimpleNamespace, db_state: Callable[[], Any], subtests: Any
) -> None:
    before = db_state()
    for label, extra, headers in _token_variants(guarded.token, guarded.other_token):
        with subtests.test(token=label):
            response = guarded.owner.post("/sign-out", data=extra, headers=headers)
            assert response.status_code == 400
            assert guarded.owner.get("/inventory").status_code == 200  # still signed in
    assert db_state() == before
    response = guarded.owner.post("/sign-out", data={"csrf_token": guarded.token})
    assert response.status_code == 303
    assert guarded.owner.get("/inventory").status_code == 302
    assert db_state().sessions != before.sessions


def test_sign_in_refuses_missing_wrong_and_foreign_tokens(
    csrf_app: Flask, make_user: Callable[..., User], db_state: Callable[[], Any],
    subtests: Any,
) -> None:
    user = make_user()
    client = csrf_app.test_client()
    own = csrf_from_page(client.get("/sign-in").get_data(as_text=True))
    other = csrf_from_page(csrf_app.test_client().get("/sign-in").get_data(as_text=True))
    credentials = {"email": user.email, "password": PASSWORD}
    before = db_state()
    for label, extra, headers in _token_variants(own, other):
        with subtests.test(token=label):
            response = client.post("/sign-in", data={**credentials, **extra}, headers=headers)
            assert response.status_code == 400
            assert client.get("/inventory").status_code == 302  # not signed in
    assert db_state() == before
    response = client.post("/sign-in", data={**credentials, "csrf_token": own})
    assert response.status_code == 303
    assert client.get("/inventory").status_code == 200


def test_get_never_writes(
    guarded: SimpleNamespace, db_state: Callable[[], Any], subtests: Any
) -> None:
    place = guarded.places["adjust"]
    entry_id, product_id = place.entry.id, place.product.id
    urls = ["/", "/inventory", "/inventory/stats", f"/inventory/entries/{entry_id}",
            f"/inventory/entries/{entry_id}/row", f"/products/{product_id}",
            "/reports/low-stock", "/reports/out-of-stock", "/reports/reorder", "/sign-in"]
    for name, each in guarded.places.items():
        # A GET carrying a complete, valid submission in its query string still only shows.
        query = "&".join(f"{k}={v}" for k, v in valid_form(name, each).items())
        urls.append(f"/inventory/entries/{each.entry.id}/{name}?{query}")
    before = db_state()
    for url in urls:
        for headers in ({}, HX):
            with subtests.test(url=url, htmx=bool(headers)):
                assert guarded.owner.get(url, headers=headers).status_code in (200, 302)
    assert db_state() == before
    assert guarded.owner.open("/sign-out", method="GET").status_code == 405
    assert db_state() == before
