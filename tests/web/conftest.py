"""Fixtures for the web tests: signed-in clients, htmx requests, a snapshot of the stock.

The web tier runs on SQLite only; the service tier covers PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app import create_app
from app.extensions import db
from app.models import (
    IdempotencyRecord,
    InventoryEntry,
    Location,
    Product,
    Reservation,
    StockMovement,
    Store,
    User,
)
from app.services.people import credentials

from .helpers import PASSWORD, Htmx, csrf_from_page

# The settings a second app built in a test shares with the `app` fixture: same database.
_SHARED_CONFIG = (
    "TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "WTF_CSRF_ENABLED",
    "SESSION_COOKIE_SECURE", "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "SQLITE_BUSY_TIMEOUT_MS",
    "RATELIMIT_ENABLED",
)


@pytest.fixture
def backend() -> str:
    """The web tier drives the app on SQLite; the service tier covers PostgreSQL."""
    return "sqlite"


class FreshContextClient(FlaskClient):
    """Runs each request in its own application context, as a real server does.

    The `app` fixture keeps an application context pushed for the factories, and Flask
    reuses a pushed context for requests: `g` (the cached actor) and the database session
    would then carry over from one request, and one signed-in user, to the next.
    """

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        # Buffered, so a streamed body (CSV exports) is read while its context is current.
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2's production cost is half a second per sign-in here; these tests sign in
    hundreds of times and measure the web layer, not the hash."""
    fast = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(credentials, "_hasher", fast)
    monkeypatch.setattr(credentials, "_DUMMY_HASH", fast.hash("stockroom-dummy-password"))


@pytest.fixture(autouse=True)
def _fresh_context_per_request(app: Flask) -> None:
    app.test_client_class = FreshContextClient


@pytest.fixture
def make_app(app: Flask) -> Iterator[Callable[..., Flask]]:
    """Another app on the `app` fixture's database, with some settings changed
    (`without=` drops settings so the production defaults apply)."""
    built: list[Flask] = []

    def make(*, without: tuple[str, ...] = (), **overrides: Any) -> Flask:
        config = {k: app.config[k] for k in _SHARED_CONFIG if k not in without}
        other = create_app({**config, **overrides})
        other.test_client_class = FreshContextClient
        built.append(other)
        return other

    yield make
    for other in built:
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def sign_in(app: Flask) -> Callable[..., FlaskClient]:
    """Sign `user` in through POST /sign-in and return the client holding the session."""

    def sign_in(user: User, *, client: FlaskClient | None = None,
                on: Flask | None = None) -> FlaskClient:
        target = on or app
        client = client or target.test_client()
        form = {"email": user.email, "password": PASSWORD}
        if target.config.get("WTF_CSRF_ENABLED", True):
            form["csrf_token"] = csrf_from_page(client.get("/sign-in").get_data(as_text=True))
        response = client.post("/sign-in", data=form)
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        client.user = user  # type: ignore[attr-defined]
        return client

    return sign_in


@pytest.fixture
def login_as(
    make_user: Callable[..., User], sign_in: Callable[..., FlaskClient]
) -> Callable[..., FlaskClient]:
    """`login_as(role, store, grants=())`: a new user with that membership, signed in.

    role "platform_admin" makes a platform admin with no membership. The client's
    `.user` is the user.
    """

    def login(role: str, store: Store | None = None, grants: tuple[str, ...] | list[str] = (),
              *, on: Flask | None = None) -> FlaskClient:
        if role == "platform_admin":
            user = make_user(platform_admin=True)
        else:
            user = make_user(role=role, store=store, grants=tuple(grants))
        return sign_in(user, on=on)

    return login


@pytest.fixture
def htmx() -> Htmx:
    return Htmx()


@dataclass(frozen=True)
class DbState:
    """Everything a stock action or a sign-out could change."""

    entries: tuple[tuple[Any, ...], ...]
    reservations: tuple[tuple[Any, ...], ...]
    movements: int
    idempotency_records: int
    sessions: tuple[tuple[Any, ...], ...]


@pytest.fixture
def db_state(app: Flask) -> Callable[[], DbState]:
    """Snapshot the database: entries, reservations, ledger size, idempotency records and
    users' session tokens. Compare two snapshots to show that nothing changed."""

    def rows(table: Any) -> tuple[tuple[Any, ...], ...]:
        return tuple(tuple(r) for r in db.session.execute(select(table).order_by(table.c.id)))

    def snapshot() -> DbState:
        db.session.rollback()  # read the committed state, not an old snapshot
        try:
            return DbState(
                entries=rows(InventoryEntry.__table__),
                reservations=rows(Reservation.__table__),
                movements=db.session.scalar(select(func.count()).select_from(StockMovement)),
                idempotency_records=db.session.scalar(
                    select(func.count()).select_from(IdempotencyRecord)
                ),
                sessions=tuple(
                    tuple(r) for r in db.session.execute(
                        select(User.id, User.session_token, User.active).order_by(User.id)
                    )
                ),
            )
        finally:
            db.session.rollback()

    return snapshot


@pytest.fixture
def read_entry(app: Flask) -> Callable[[int], InventoryEntry | None]:
    """The entry as committed now (None once deleted)."""

    def read(entry_id: int) -> InventoryEntry | None:
        db.session.rollback()
        db.session.expire_all()
        return db.session.get(InventoryEntry, entry_id)

    return read


@pytest.fixture
def movements_of(app: Flask) -> Callable[[int], list[StockMovement]]:
    """An entry's ledger rows, oldest first."""

    def read(entry_id: int) -> list[StockMovement]:
        db.session.rollback()
        db.session.expire_all()
        return list(db.session.scalars(
            select(StockMovement).where(StockMovement.entry_id == entry_id)
            .order_by(StockMovement.id)
        ))

    return read


@pytest.fixture
def scene(
    make_store: Callable[..., Store],
    make_location: Callable[..., Location],
    make_product: Callable[..., Product],
    make_entry: Callable[..., Any],
) -> Callable[..., SimpleNamespace]:
    """A store with a stocked entry and a second, empty location to transfer to."""

    def build(*, store: Store | None = None, quantity: int = 10, reserved: int = 2,
              threshold: int = 0, title: str | None = None, sku: str | None = None,
              code: str | None = None) -> SimpleNamespace:
        store = store or make_store()
        location = make_location(store, code=code)
        spare = make_location(store)
        fields = {"title": title} if title else {}
        product = make_product(store, sku=sku, **fields)
        entry = make_entry(store=store, location=location, product=product,
                           quantity=quantity, reserved=reserved, threshold=threshold)
        return SimpleNamespace(store=store, location=location, spare=spare,
                               product=product, entry=entry)

    return build

