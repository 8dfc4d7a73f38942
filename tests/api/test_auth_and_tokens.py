"""Tokens: created and revoked in the browser and by `flask create-token`, stored hashed,
sent as a bearer token. A browser session never opens the API; CSRF does not apply."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import ApiToken, User
from app.services.errors import NotFound
from app.services.people import tokens

from .helpers import ApiClient, assert_error

SET = "/api/v1/store/inventory/set"
PASSWORD = "correct horse battery staple"


def sign_in(client, user):
    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    return client


def test_missing_malformed_and_unknown_tokens_are_401(app, world, token_for, make_user):
    client = app.test_client()
    url = f"/api/v1/store/inventory/{world.a.entry.id}"
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer stk_not-a-real-token"},
                    {"Authorization": "Bearer " + "x" * 5000}):
        response = client.get(url, headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="stockroom"'


def test_a_token_acts_as_its_user(api_as, world):
    client = api_as("staff", world.a.store, grants=("inventory:adjust",))
    me = client.get("/api/v1/me").get_json()
    assert me["user_id"] == client.user.id and me["email"] == client.user.email
    assert me["stores"] == [{"store_id": world.a.store.id,
                             "permissions": ["inventory:adjust", "inventory:read"]}]


def test_tokens_are_stored_hashed_with_a_display_prefix(app, make_user):
    user = make_user()
    view, plaintext = tokens.create_token(user_id=user.id, name="Checkout")
    assert plaintext.startswith("stk_") and len(plaintext) > 40
    row = db.session.get(ApiToken, view.id)
    assert row.token_hash == tokens.hash_token(plaintext) != plaintext
    assert plaintext.startswith(row.prefix) and len(row.prefix) == 12
    assert plaintext not in repr(tuple(db.session.execute(select(ApiToken.__table__)).one()))
    assert tokens.authenticate_token(plaintext).user_id == user.id


def test_revoked_tokens_and_inactive_users_stop_working(app, api_as, world):
    client = api_as("owner", world.a.store)
    assert client.get("/api/v1/me").status_code == 200
    [token] = tokens.user_tokens(client.user.id)
    tokens.revoke_token(user_id=client.user.id, token_id=token.id)
    tokens.revoke_token(user_id=client.user.id, token_id=token.id)  # twice is harmless
    assert_error(client.get("/api/v1/me"), 401)

    other = api_as("owner", world.a.store)
    db.session.get(User, other.user.id).active = False
    db.session.commit()
    assert_error(other.get("/api/v1/me"), 401)


def test_a_user_cannot_revoke_someone_elses_token(app, make_user):
    owner, stranger = make_user(), make_user()
    view, _ = tokens.create_token(user_id=owner.id, name="mine")
    with pytest.raises(NotFound):
        tokens.revoke_token(user_id=stranger.id, token_id=view.id)


def test_last_used_is_recorded(api_as, world):
    client = api_as("owner", world.a.store)
    client.get("/api/v1/me")
    db.session.rollback()
    assert tokens.user_tokens(client.user.id)[0].last_used_at is not None


def test_token_names_are_validated(app, make_user):
    user = make_user()
    from app.services.errors import ValidationError

    for name in ("", "  ", "x" * 101, "bad\x07name"):
        with pytest.raises(ValidationError):
            tokens.create_token(user_id=user.id, name=name)


# --------------------------------------------------------------------------- sessions


def test_a_signed_in_browser_cannot_call_the_api(app, make_user, world, db_state):
    user = make_user(role="owner", store=world.a.store)
    browser = sign_in(app.test_client(), user)
    assert browser.get("/inventory").status_code == 200
    before = db_state()
    for method, url, body in (
        ("post", SET, {"entry_id": world.a.entry.id, "quantity": 1}),
        ("post", "/api/v1/store/inventory/adjust",
         {"entry_id": world.a.entry.id, "quantity": 1, "reason": "x"}),
        ("delete", f"/api/v1/store/inventory/{world.a.entry.id}", None),
        ("put", f"/api/v1/store/inventory/{world.a.entry.id}", {"low_stock_threshold": 1}),
        ("post", "/api/v1/orders/O/reserve", {"lines": []}),
        ("get", "/api/v1/store/inventory", None),
    ):
        assert_error(getattr(browser, method)(url, json=body), 401, "unauthorized")
    assert db_state() == before


def test_bearer_requests_need_no_csrf_token_even_with_csrf_on(app, api_as, world):
    strict = create_app({**{k: app.config[k] for k in (
        "TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "SESSION_COOKIE_SECURE",
        "RATELIMIT_ENABLED")}, "WTF_CSRF_ENABLED": True})
    client = api_as("owner", world.a.store)
    api = ApiClient(strict.test_client(), client.token)
    response = api.post(SET, {"entry_id": world.a.entry.id, "quantity": 12})
    assert response.status_code == 200, response.get_json()
    # The browser forms of the same app still demand one.
    assert strict.test_client().post("/account/tokens", data={"name": "x"}).status_code == 400
    with strict.app_context():
        db.engine.dispose()


# --------------------------------------------------------------------------- browser page


def test_tokens_page_creates_shows_once_and_revokes(app, make_user, world):
    user = make_user(role="staff", store=world.a.store)
    browser = sign_in(app.test_client(), user)
    page = browser.get("/account/tokens")
    assert page.status_code == 200 and "No tokens yet" in page.get_data(as_text=True)
    assert "/account/tokens" in browser.get("/inventory").get_data(as_text=True)

    created = browser.post("/account/tokens", data={"name": "Checkout"})
    assert created.status_code == 201
    html = created.get_data(as_text=True)
    plaintext = re.search(r'value="(stk_[^"]+)"', html).group(1)
    assert created.headers["Cache-Control"] == "no-store"
    assert "<script" not in html.split("</head>")[1]
    assert ApiClient(app.test_client(), plaintext).get("/api/v1/me").status_code == 200
    listing = browser.get("/account/tokens").get_data(as_text=True)
    assert plaintext not in listing and plaintext[:12] in listing

    assert browser.post("/account/tokens", data={"name": ""}).status_code == 422
    db.session.rollback()
    [token] = tokens.user_tokens(user.id)
    confirm = browser.get(f"/account/tokens/{token.id}/revoke")
    assert confirm.status_code == 200 and "will get 401 at once" in confirm.get_data(as_text=True)
    assert tokens.authenticate_token(plaintext).user_id == user.id, "asking revokes nothing"
    revoked = browser.post(f"/account/tokens/{token.id}/revoke")
    assert revoked.status_code == 303
    assert_error(ApiClient(app.test_client(), plaintext).get("/api/v1/me"), 401)
    assert "Revoked" in browser.get("/account/tokens").get_data(as_text=True)


def test_tokens_page_refuses_other_users_tokens_and_anonymous_visitors(app, make_user):
    owner, stranger = make_user(), make_user()
    view, plaintext = tokens.create_token(user_id=owner.id, name="mine")
    browser = sign_in(app.test_client(), stranger)
    assert browser.post(f"/account/tokens/{view.id}/revoke").status_code == 404
    assert browser.get(f"/account/tokens/{view.id}/revoke").status_code == 404
    assert tokens.authenticate_token(plaintext).user_id == owner.id
    assert app.test_client().get("/account/tokens").status_code == 302


# --------------------------------------------------------------------------- CLI


def test_create_token_command(app, make_user, world):
    user = make_user(role="owner", store=world.a.store)
    result = app.test_cli_runner().invoke(args=["create-token", user.email.upper(),
                                                "--name", "Shop"])
    assert result.exit_code == 0, result.output
    plaintext = result.output.strip().splitlines()[-1]
    assert ApiClient(app.test_client(), plaintext).get("/api/v1/me").get_json()[
        "user_id"] == user.id
    missing = app.test_cli_runner().invoke(args=["create-token", "nobody@example.test",
                                                 "--name", "x"])
    assert missing.exit_code == 1 and "No user" in missing.output
    bad = app.test_cli_runner().invoke(args=["create-token", user.email, "--name", " "])
    assert bad.exit_code == 1 and "required" in bad.output
