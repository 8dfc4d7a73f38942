"""gunicorn in production configuration, and the PostgreSQL database goes away under it:
a signed-in page, an htmx fragment and the API get the app's own 503 with Retry-After, the
security headers and the request id, not gunicorn's bare 500; once the database is back the
same workers serve again.

PostgreSQL only: there an outage cuts the connections the workers hold. A SQLite outage
(the file's folder gone) reaches only connections opened afterwards; the in-process tier
(tests/web/test_database_down.py) covers it on both databases.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from argon2 import PasswordHasher
from outages import Outage

from app import create_app
from app.extensions import db
from app.permissions import system_actor
from app.services import stores
from app.services.people import accounts, credentials, tokens

from .server import Gunicorn

PASSWORD = "outage-password-2026"


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture
def served(
    gunicorn_installed: None, migrated: dict[str, str], database_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Gunicorn, str]]:
    monkeypatch.setattr(credentials, "_hasher", PasswordHasher(time_cost=1, memory_cost=64,
                                                            parallelism=1))
    seeding = create_app({"TESTING": True, "SECRET_KEY": "seed",
                          "SQLALCHEMY_DATABASE_URI": database_url})
    with seeding.app_context():
        stores.create_store(actor=system_actor("outage-seed"), name="Outage Store", slug="outage")
        user = accounts.create_user(email="owner@outage.test", name="Owner", password=PASSWORD,
                                    store_slug="outage", role="owner")
        token = tokens.create_token(user_id=user.id, name="outage")[1]
        db.session.remove()
        db.engine.dispose()
    server = Gunicorn(env=migrated, workers=2, logs=tmp_path / "logs")
    try:
        server.start()
        yield server, token
    finally:
        server.stop()


def signed_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/sign-in", timeout=10).text
    csrf = html.unescape(re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1))
    response = session.post(f"{base}/sign-in", data={
        "email": "owner@outage.test", "password": PASSWORD, "csrf_token": csrf,
    }, allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text[:300]
    return session


def test_gunicorn_answers_the_apps_503_while_the_database_is_away(
    served: tuple[Gunicorn, str], database_url: str,
) -> None:
    server, token = served
    base = server.url
    browser = signed_in(base)
    bearer = {"Authorization": f"Bearer {token}"}

    def every_kind() -> dict[str, requests.Response]:
        return {
            "page": browser.get(f"{base}/inventory", timeout=15),
            "fragment": browser.get(f"{base}/inventory/stats", timeout=15,
                                    headers={"HX-Request": "true"}),
            "api": requests.get(f"{base}/api/v1/store/inventory", headers=bearer, timeout=15),
        }

    assert {k: r.status_code for k, r in every_kind().items()} == {
        "page": 200, "fragment": 200, "api": 200}

    outage = Outage(database_url)
    outage.begin()
    try:
        # Several rounds: each of the workers meets the outage with its own pool.
        for _round in range(4):
            for kind, response in every_kind().items():
                body = response.text
                assert response.status_code == 503, (kind, response.status_code, body[:300])
                assert response.headers["Retry-After"].isdigit()
                assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
                assert response.headers["X-Content-Type-Options"] == "nosniff"
                assert response.headers["X-Frame-Options"] == "DENY"
                request_id = response.headers["X-Request-ID"]
                assert re.fullmatch(r"[0-9a-f]{32}", request_id) and request_id in body
                assert "Traceback" not in body and "Internal Server Error" not in body
                if kind == "api":
                    assert response.json()["error"]["code"] == "unavailable"
                else:
                    assert "cannot reach its database" in body
        assert requests.get(f"{base}/healthz", timeout=15).status_code == 503
    finally:
        outage.end()

    deadline = time.monotonic() + 30
    while True:  # a worker's pool reconnects on its next request
        statuses = {k: r.status_code for k, r in every_kind().items()}
        if set(statuses.values()) == {200} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert statuses == {"page": 200, "fragment": 200, "api": 200}
    assert "Traceback" not in server.stderr()
