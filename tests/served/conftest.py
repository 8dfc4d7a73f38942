"""Fixtures for the multi-process tier: a database of the test's own (migrated with
`flask db upgrade`, as an operator does), seeded through the services, and served by gunicorn.

PostgreSQL tests skip when no server answers, unless STOCKROOM_REQUIRE_POSTGRES=1 (CI),
where they fail instead; the same goes for gunicorn missing from the environment.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from .server import clean_environment, run_flask

PG_ADMIN_URL = os.environ.get(
    "STOCKROOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("STOCKROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE = os.environ.get("STOCKROOM_REQUIRE_POSTGRES") == "1"


def _unavailable(message: str) -> None:
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def gunicorn_installed() -> None:
    if importlib.util.find_spec("gunicorn") is None:
        _unavailable("gunicorn is not installed (pip install -e .)")


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of this test's own: a SQLite file, or a PostgreSQL database
    created here and dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'stockroom.sqlite'}"
        return
    name = f"stockroom_mp_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # any failure here means "no usable server"
        admin.dispose()
        where = make_url(PG_ADMIN_URL).render_as_string(hide_password=True)
        _unavailable(f"PostgreSQL not reachable at {where}: {exc.__class__.__name__}")
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def redis_reachable(url: str) -> bool:
    parsed = make_url(url.replace("redis://", "redis+x://", 1))
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


@pytest.fixture
def server_env(database_url: str) -> dict[str, str]:
    """The environment of the production command in the README, for this database:
    a real secret key, small per-worker pools, Redis for rate limits when one answers."""
    env = clean_environment(
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_hex(32),
        DB_POOL_SIZE="2",
        DB_MAX_OVERFLOW="0",
        # Plain HTTP on loopback: the browser would not send a Secure cookie back.
        FLASK_SESSION_COOKIE_SECURE="false",
        PYTHONUNBUFFERED="1",
    )
    if redis_reachable(REDIS_URL):
        env["REDIS_URL"] = REDIS_URL
        # This run's counters only, whatever an earlier run left in Redis.
        env["FLASK_RATELIMIT_KEY_PREFIX"] = f"stockroom-test-{uuid.uuid4().hex[:8]}"
    return env


@pytest.fixture
def migrated(server_env: dict[str, str]) -> dict[str, str]:
    """`flask db upgrade` run against the empty database, as before a deployment."""
    result = run_flask(server_env, "db", "upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    return server_env
