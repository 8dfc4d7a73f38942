"""/healthz and /livez for a load balancer: no sign-in, no cookie, no rate limit, and a 503
without details when the database does not answer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.models import User

OK = {"status": "ok", "database": "ok"}
DOWN = {"status": "unavailable", "database": "error"}


def assert_plain_probe(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert "Set-Cookie" not in headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"] == "application/json"


def test_healthz_answers_ok_without_a_session(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == OK
    assert_plain_probe(response)
    assert client.head("/healthz").status_code == 200


def test_livez_answers_ok(client: FlaskClient) -> None:
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert_plain_probe(response)


def test_probes_need_no_sign_in_or_csrf_and_ignore_a_signed_in_session(
    make_app: Callable[..., Flask],
    make_user: Callable[..., User],
    sign_in: Callable[..., FlaskClient],
) -> None:
    guarded = make_app(WTF_CSRF_ENABLED=True)
    anonymous = guarded.test_client()
    assert anonymous.get("/healthz").get_json() == OK
    signed_in = sign_in(make_user(), on=guarded)
    response = signed_in.get("/healthz")
    assert response.get_json() == OK
    assert "Set-Cookie" not in response.headers
    # Only GET and HEAD: a probe never changes anything.
    assert anonymous.post("/healthz").status_code == 405


def test_probes_are_exempt_from_rate_limits(make_app: Callable[..., Flask]) -> None:
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute",
                       RATELIMIT_STORAGE_URI="memory://")
    client = limited.test_client()
    # The default limit is in force for ordinary pages...
    assert [client.get("/sign-in").status_code for _ in range(3)] == [200, 200, 429]
    # ...but a load balancer polling every second is never turned away.
    assert {client.get("/healthz").status_code for _ in range(10)} == {200}
    assert {client.get("/livez").status_code for _ in range(10)} == {200}


@pytest.mark.parametrize(
    "uri",
    [
        pytest.param("sqlite:///{missing}/stockroom.sqlite", id="sqlite-missing-directory"),
        pytest.param("postgresql+psycopg://postgres@127.0.0.1:9/stockroom?connect_timeout=2",
                     id="postgresql-nothing-listening"),
    ],
)
def test_healthz_is_503_when_the_database_does_not_answer(
    uri: str,
    make_app: Callable[..., Flask],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = make_app(SQLALCHEMY_DATABASE_URI=uri.format(missing=tmp_path / "no-such-dir"))
    client = broken.test_client()
    with caplog.at_level(logging.ERROR, logger="stockroom"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == DOWN
    assert_plain_probe(response)
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "sqlite" not in body.lower() and "127.0.0.1" not in body
    logged = [r for r in caplog.records if r.name == "stockroom" and r.levelno == logging.ERROR]
    assert len(logged) == 1
    assert "database did not answer" in logged[0].getMessage()
    assert "OperationalError" in logged[0].getMessage()
    # The process itself is alive: a liveness probe must not restart it for the database.
    live = client.get("/livez")
    assert live.status_code == 200 and live.get_json() == {"status": "ok"}


def test_healthz_recovers_when_the_database_comes_back(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    folder = tmp_path / "later"
    flaky = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/stockroom.sqlite")
    client = flaky.test_client()
    assert client.get("/healthz").status_code == 503
    folder.mkdir()
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == OK
