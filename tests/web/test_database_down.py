"""The database goes away under a running app: every kind of request gets the app's own 503
with Retry-After, the security headers and its request id, never a traceback or the
server's bare 500; when the database comes back the same app serves again, unrestarted.

Both databases, each made unreachable the way an outage does it (tests/outages.py): on
PostgreSQL every connection is cut and the database renamed away; on SQLite the file's
folder moves away, after the pool is emptied (open connections would keep the old file).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from outages import Outage
from sqlalchemy import text

from app.extensions import db
from app.permissions import ADJUST
from app.services.people import tokens

from .helpers import HX, PASSWORD

API = "/api/v1/store/inventory"
LEAKS = ("Traceback", "OperationalError", "psycopg", "sqlite", "sqlalchemy", 'File "',
         "127.0.0.1", "unable to open")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """This tier runs on SQLite elsewhere; an outage looks different on each database."""
    return str(request.param)


@pytest.fixture
def outage(app: Flask) -> Iterator[Outage]:
    happening = Outage(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        yield happening
    finally:
        happening.end()


@pytest.fixture
def site(
    app: Flask,
    scene: Callable[..., SimpleNamespace],
    login_as: Callable[..., FlaskClient],
) -> SimpleNamespace:
    place = scene(quantity=10, reserved=0)
    place.owner = login_as("owner", place.store, (ADJUST,))
    place.token = tokens.create_token(user_id=place.owner.user.id, name="outage")[1]
    place.email = place.owner.user.email
    # Leave no connection of the test's own checked out: the outage must meet the app's pool.
    db.session.remove()
    return place


def requests_of_every_kind(app: Flask, site: SimpleNamespace) -> Iterator[tuple[str, Any]]:
    entry = site.entry.id
    bearer = {"Authorization": f"Bearer {site.token}"}
    yield "signed-in page", site.owner.get("/inventory")
    yield "signed-in page, supplied id", site.owner.get(
        f"/inventory/entries/{entry}", headers={"X-Request-ID": "edge1234abcd"})
    yield "signed-in 404 (its layout reads the database)", site.owner.get("/no-such-page")
    yield "fragment", site.owner.get("/inventory/stats", headers=HX)
    yield "dialog fragment", site.owner.post(
        f"/inventory/entries/{entry}/adjust", data={"delta": "1", "reason": "count",
                                                   "idempotency_key": "k-outage"},
        headers={**HX, "HX-Target": "dialog-body"})
    yield "form post", site.owner.post(
        f"/inventory/entries/{entry}/adjust", data={"delta": "1", "reason": "count",
                                                   "idempotency_key": "k-outage-2"})
    yield "api with token", app.test_client().get(API, headers=bearer)
    yield "api write with token", app.test_client().post(
        f"{API}/adjust", json={"entry_id": entry, "delta": 1, "reason": "count"},
        headers={**bearer, "Idempotency-Key": "k-outage-3"})
    yield "sign-in", app.test_client().post(
        "/sign-in", data={"email": site.email, "password": PASSWORD})


def assert_unavailable(label: str, response: Any) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == 503, (label, response.status_code, body[:300])
    assert response.headers["Retry-After"].isdigit()
    policy = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}|edge1234abcd", request_id)
    assert request_id in body
    for leak in LEAKS:
        assert leak.lower() not in body.lower(), (label, leak)
    if label.startswith("api"):
        error = response.get_json()["error"]
        assert error["code"] == "unavailable" and request_id in error["message"]
        return
    assert response.mimetype == "text/html"
    assert "cannot reach its database" in body
    page = body.lstrip().lower().startswith("<!doctype html>")
    if "fragment" in label:
        assert not page
        # htmx swaps an error only where it is told to, and keeps the failed URL out of
        # the history.
        expected = "#dialog-body" if label.startswith("dialog") else "#flashes"
        assert response.headers["HX-Retarget"] == expected
        assert response.headers["HX-Reswap"] == "innerHTML"
        assert response.headers["HX-Push-Url"] == "false"
    else:
        assert page
        # No part of the layout that needs the database: no user, no store switcher.
        assert "store-switch" not in body and site_email_hidden(body)


def site_email_hidden(body: str) -> bool:
    return "@example.test" not in body


def test_a_database_outage_answers_503_everywhere_and_the_app_recovers(
    app: Flask, site: SimpleNamespace, outage: Outage, backend: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: everything answers.
    for label, response in requests_of_every_kind(app, site):
        assert response.status_code < 500, (label, response.status_code)
    assert app.test_client().get("/healthz").status_code == 200

    if backend == "sqlite":
        db.engine.dispose()
    outage.begin()
    with caplog.at_level(logging.ERROR, logger="stockroom"):
        seen = 0
        for label, response in requests_of_every_kind(app, site):
            assert_unavailable(label, response)
            seen += 1
        assert seen == 9
        # The probes keep their own answers.
        health = app.test_client().get("/healthz")
        assert health.status_code == 503
        assert health.get_json() == {"status": "unavailable", "database": "error"}
        assert app.test_client().get("/livez").status_code == 200
        # The sign-in form needs no database, and still shows.
        assert app.test_client().get("/sign-in").status_code == 200
    # One line per failed request in the log, with its id, and no traceback.
    logged = [r for r in caplog.records if "database unreachable" in r.getMessage()]
    assert len(logged) == 9 and all(r.exc_info is None for r in logged)

    outage.end()
    # The same app, not restarted: pages, fragments, the API and sign-in work again.
    assert site.owner.get("/inventory").status_code == 200
    assert site.owner.get("/inventory/stats", headers=HX).status_code == 200
    response = site.owner.post(
        f"/inventory/entries/{site.entry.id}/adjust",
        data={"delta": "2", "reason": "count", "idempotency_key": "k-after"}, headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    bearer = {"Authorization": f"Bearer {site.token}"}
    assert app.test_client().get(API, headers=bearer).status_code == 200
    assert app.test_client().post(
        "/sign-in", data={"email": site.email, "password": PASSWORD}).status_code == 303
    assert app.test_client().get("/healthz").status_code == 200


def test_a_genuine_bug_is_still_a_500(
    make_app: Callable[..., Flask], make_store: Callable[..., Any],
    login_as: Callable[..., FlaskClient],
) -> None:
    """A statement the database refuses is the code's fault, not an outage."""
    buggy = make_app()

    @buggy.get("/test-only/bad-sql")
    def bad_sql() -> str:
        db.session.execute(text("SELECT no_such_column FROM stores"))
        return "unreachable"

    client = login_as("owner", make_store(), on=buggy)
    for headers in ({}, HX):
        response = client.get("/test-only/bad-sql", headers=headers)
        assert response.status_code == 500
        assert "Retry-After" not in response.headers
        assert "Something went wrong" in response.get_data(as_text=True)
