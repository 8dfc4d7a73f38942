"""The session cookie: flags, a fresh session at sign-in, and sign-out that ends it everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import User

from .helpers import PASSWORD


def session_cookie_header(response: Any) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def attributes(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_session_cookie_is_httponly_and_samesite_lax(
    app: Flask, make_user: Callable[..., User]
) -> None:
    user = make_user()
    response = app.test_client().post("/sign-in", data={"email": user.email,
                                                        "password": PASSWORD})
    assert response.status_code == 303
    flags = attributes(session_cookie_header(response))
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags  # the test config turns it off; the next test turns it on


def test_session_cookie_is_secure_by_default(
    make_app: Callable[..., Flask], make_user: Callable[..., User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    production = make_app(without=("SESSION_COOKIE_SECURE",))
    assert production.config["SESSION_COOKIE_SECURE"] is True
    user = make_user()
    client = production.test_client()
    response = client.post("/sign-in", base_url="https://localhost",
                           data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    flags = attributes(session_cookie_header(response))
    assert {"secure", "httponly", "samesite=lax"} <= flags


def test_session_cookie_is_not_secure_under_the_debug_server(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    assert make_app(without=("SESSION_COOKIE_SECURE",)).config["SESSION_COOKIE_SECURE"] is False


def test_sign_in_starts_a_fresh_session(app: Flask, make_user: Callable[..., User]) -> None:
    user = make_user()
    client = app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "set before sign-in, e.g. by a fixated cookie"
    before = client.get_cookie("session").value

    response = client.post("/sign-in", data={"email": user.email, "password": PASSWORD})

    assert response.status_code == 303
    after = client.get_cookie("session").value
    assert after != before
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(f"{user.id}:")
    # The cookie from before sign-in is still only an anonymous visitor.
    stranger = app.test_client()
    stranger.set_cookie("session", before)
    assert stranger.get("/inventory").status_code == 302


def _replay(app: Flask, cookie: str) -> FlaskClient:
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def test_sign_out_invalidates_the_old_cookie_everywhere(
    app: Flask, make_user: Callable[..., User], sign_in: Callable[..., FlaskClient]
) -> None:
    user = make_user()
    laptop = sign_in(user)
    phone = sign_in(user)
    stolen = laptop.get_cookie("session").value
    # Before sign-out the copied cookie works: the check below can fail.
    assert _replay(app, stolen).get("/inventory").status_code == 200

    response = laptop.post("/sign-out")

    assert response.status_code == 303
    assert response.headers["Location"] == "/sign-in"
    assert laptop.get("/inventory").status_code == 302
    replayed = _replay(app, stolen).get("/inventory")
    assert replayed.status_code == 302
    assert replayed.headers["Location"].startswith("/sign-in")
    assert phone.get("/inventory").status_code == 302  # every device is signed out
    assert _replay(app, stolen).post("/sign-out").status_code == 302
    # Signing in again works and gives a cookie the old one is not.
    again = sign_in(user)
    assert again.get_cookie("session").value != stolen
    assert again.get("/inventory").status_code == 200


def test_a_deactivated_user_is_signed_out(
    app: Flask, make_user: Callable[..., User], sign_in: Callable[..., FlaskClient]
) -> None:
    user = make_user()
    client = sign_in(user)
    assert client.get("/inventory").status_code == 200
    db.session.get(User, user.id).active = False
    db.session.commit()
    assert client.get("/inventory").status_code == 302
