"""Every failure is the JSON error body with a 4xx status, never a page or a traceback."""

from __future__ import annotations

import logging

import pytest

from app import create_app
from app.extensions import db
from app.services import queries

from .helpers import ApiClient, assert_error

SET = "/api/v1/store/inventory/set"


@pytest.fixture
def owner(api_as, world):
    return api_as("owner", world.a.store)


def test_unknown_paths_under_the_api_are_json_404(owner, anonymous):
    for client in (owner, anonymous):
        assert_error(client.get("/api/v1/nothing/here"), 404, "not_found")
        assert_error(client.post("/api/v2/store/inventory/set", {}), 404, "not_found")


def test_pages_outside_the_api_keep_their_html_404(app):
    response = app.test_client().get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_wrong_method_is_json_405_with_allow(owner, world):
    response = owner.get(SET)
    error = assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"] and error["fields"] == {}
    assert_error(owner.post(f"/api/v1/store/inventory/{world.a.entry.id}", {}), 405)


def test_body_that_is_not_json_is_400(owner):
    response = owner.client.post(SET, data="{not json", headers={
        **owner.headers(), "Content-Type": "application/json"})
    assert assert_error(response, 400, "bad_request")["fields"] == {"body": "Send a JSON object."}


@pytest.mark.parametrize("body", [[1, 2], "text", 5, None])
def test_body_that_is_not_an_object_is_422(owner, body):
    response = owner.client.post(SET, json=body, headers=owner.headers())
    error = assert_error(response, 422, "invalid")
    assert error["fields"]


def test_form_encoded_body_is_refused(owner, world):
    response = owner.client.post(SET, data={"entry_id": world.a.entry.id, "quantity": 3},
                                 headers=owner.headers())
    assert_error(response, 422, "invalid")


def test_unknown_fields_are_named(owner, world):
    error = assert_error(owner.post(SET, {"entry_id": world.a.entry.id, "quantity": 1,
                                          "quantty": 2}), 422)
    assert error["fields"] == {"quantty": "Unknown field."}


def test_nested_fields_are_named_with_their_position(owner, world):
    error = assert_error(owner.post("/api/v1/orders/O/reserve", {"lines": [
        {"line_ref": "L1", "product_id": world.a.product.id, "quantity": 1},
        {"line_ref": "L2", "product_id": "x", "quantity": -1},
    ]}), 422)
    assert set(error["fields"]) == {"lines[1].product_id", "lines[1].quantity"}


def test_large_bodies_are_413(owner, world, db_state):
    before = db_state()
    response = owner.post(SET, {"entry_id": world.a.entry.id, "quantity": 1,
                                "reason": "x" * 70_000})
    assert "65,536 bytes" in assert_error(response, 413, "too_large")["fields"]["body"]
    assert db_state() == before


def test_an_unexpected_failure_is_a_generic_json_500(app, owner, world, monkeypatch, caplog):
    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "get_entry", explode)
    with caplog.at_level(logging.ERROR, logger="stockroom"):
        response = owner.get(f"/api/v1/store/inventory/{world.a.entry.id}",
                             headers={"X-Request-ID": "req12345abc"})
    error = assert_error(response, 500, "internal")
    body = response.get_data(as_text=True)
    assert "secret internals" not in body and "Traceback" not in body
    assert "req12345abc" in error["message"]
    assert any("req12345abc" in r.getMessage() for r in caplog.records)


def _app_with(app, **overrides):
    keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "WTF_CSRF_ENABLED",
            "SESSION_COOKIE_SECURE")
    return create_app({**{k: app.config[k] for k in keys}, "RATELIMIT_ENABLED": True,
                       "RATELIMIT_STORAGE_URI": "memory://", **overrides})


def test_too_many_requests_is_429(app, owner):
    limited = _app_with(app, API_RATE_LIMIT="3 per minute")
    client = ApiClient(limited.test_client(), owner.token)
    statuses = [client.get("/api/v1/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert_error(client.get("/api/v1/me"), 429, "rate_limited")
    with limited.app_context():
        db.engine.dispose()


def test_failed_token_guesses_are_throttled_per_address(app, owner):
    limited = _app_with(app, API_AUTH_FAILURE_LIMIT="2 per minute")
    guesser = limited.test_client()
    statuses = [
        guesser.get("/api/v1/me", headers={"Authorization": f"Bearer stk_guess{n}"}).status_code
        for n in range(3)
    ]
    assert statuses == [401, 401, 429]
    with limited.app_context():
        db.engine.dispose()


def test_no_api_response_is_html(owner, anonymous, world):
    responses = [
        anonymous.get("/api/v1/store/inventory"),
        owner.get("/api/v1/store/inventory/999999"),
        owner.post("/api/v1/store/inventory/adjust", {"entry_id": world.a.entry.id}),
        owner.client.put("/api/v1/store/inventory/1", data="<html>", headers=owner.headers()),
        owner.client.open("/api/v1/store/inventory", method="PATCH", headers=owner.headers()),
    ]
    for response in responses:
        assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
        assert 400 <= response.status_code < 500
