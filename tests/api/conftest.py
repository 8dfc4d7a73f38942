"""Fixtures for the API tests: token-carrying clients, a two-store world, database snapshots.

The API tier runs on SQLite; concurrency/ runs its races on PostgreSQL as well.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.extensions import db
from app.models import (
    IdempotencyRecord,
    InventoryEntry,
    ItemVariant,
    Location,
    Product,
    Reservation,
    StockMovement,
    Store,
    User,
)
from app.services.people import credentials, tokens

from .calls import build_scene
from .helpers import ApiClient


@pytest.fixture
def backend() -> str:
    """The API tier runs on SQLite; the service tier covers PostgreSQL."""
    return "sqlite"


class FreshContextClient(FlaskClient):
    """Each request in its own application context, as a real server runs it: `g` and the
    database session never carry over from one request (and one token) to the next."""

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Users here never sign in with a password, except the few browser-session tests;
    Argon2's production cost would dominate the run."""
    fast = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(credentials, "_hasher", fast)
    monkeypatch.setattr(credentials, "_DUMMY_HASH", fast.hash("stockroom-dummy-password"))


@pytest.fixture(autouse=True)
def _fresh_context_per_request(app: Flask) -> None:
    app.test_client_class = FreshContextClient


@pytest.fixture
def token_for(app: Flask) -> Callable[[User], str]:
    def make(user: User) -> str:
        return tokens.create_token(user_id=user.id, name="tests")[1]

    return make


@pytest.fixture
def api_as(
    app: Flask, make_user: Callable[..., User], token_for: Callable[[User], str]
) -> Callable[..., ApiClient]:
    """`api_as(role, store, grants=())`: a new user with that membership and a token.
    Role "platform_admin" makes a platform admin with no membership."""

    def make(role: str, store: Store | None = None, grants: tuple[str, ...] = ()) -> ApiClient:
        if role == "platform_admin":
            user = make_user(platform_admin=True)
        else:
            user = make_user(role=role, store=store, grants=tuple(grants))
        return ApiClient(app.test_client(), token_for(user), user)

    return make


@pytest.fixture
def anonymous(app: Flask) -> ApiClient:
    return ApiClient(app.test_client(), None)


@pytest.fixture
def world(
    make_store: Callable[..., Store],
    make_location: Callable[..., Location],
    make_product: Callable[..., Product],
    make_entry: Callable[..., Any],
) -> SimpleNamespace:
    """Two stores, each with a stocked entry (10 on hand, 2 reserved), a spare location
    and an unlimited (digital) product."""

    def store_world(name: str, prefix: str) -> SimpleNamespace:
        store = make_store(name)
        location = make_location(store, f"{prefix}_MAIN")
        spare = make_location(store, f"{prefix}_SPARE")
        product = make_product(store, f"{prefix}-MUG", title=f"{name} mug")
        digital = make_product(store, f"{prefix}-EBOOK", title=f"{name} ebook", type="digital")
        entry = make_entry(store=store, location=location, product=product, quantity=10,
                           reserved=2)
        item = SimpleNamespace(id=db.session.get(ItemVariant, product.id).item_id)
        return SimpleNamespace(store=store, location=location, spare=spare, product=product,
                               digital=digital, entry=entry, item=item)

    return SimpleNamespace(a=store_world("Alpha", "A"), b=store_world("Beta", "B"))


@pytest.fixture
def scene(world, make_location, make_entry) -> SimpleNamespace:
    """The world set up so that every call in calls.CALLS can succeed."""
    return build_scene(world, make_location, make_entry)


@dataclass(frozen=True)
class DbState:
    entries: tuple[tuple[Any, ...], ...]
    reservations: tuple[tuple[Any, ...], ...]
    movements: int
    idempotency_records: int


@pytest.fixture
def db_state(app: Flask) -> Callable[[], DbState]:
    """Snapshot everything a stock request could change; equal snapshots mean nothing did."""

    def rows(table: Any) -> tuple[tuple[Any, ...], ...]:
        return tuple(tuple(r) for r in db.session.execute(select(table).order_by(table.c.id)))

    def snapshot() -> DbState:
        db.session.rollback()
        try:
            return DbState(
                entries=rows(InventoryEntry.__table__),
                reservations=rows(Reservation.__table__),
                movements=db.session.scalar(select(func.count()).select_from(StockMovement)),
                idempotency_records=db.session.scalar(
                    select(func.count()).select_from(IdempotencyRecord)
                ),
            )
        finally:
            db.session.rollback()

    return snapshot


@pytest.fixture
def read_entry(app: Flask) -> Callable[[int], InventoryEntry | None]:
    def read(entry_id: int) -> InventoryEntry | None:
        db.session.rollback()
        db.session.expire_all()
        return db.session.get(InventoryEntry, entry_id)

    return read
