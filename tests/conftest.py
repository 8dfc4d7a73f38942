"""Fixtures shared by every test tier.

Service and concurrency tests run on SQLite (a fresh file per test, with the production
pragmas) and on PostgreSQL (one database created for the run, emptied between tests,
dropped at the end). PostgreSQL tests skip when no server answers, unless
STOCKROOM_REQUIRE_POSTGRES=1 (CI), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from emptying import postgres_emptying_sql
from flask import Flask
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.models import Item, ItemVariant, Location, Membership, Product, Store, User
from app.permissions import Actor, actor_for_user, system_actor
from app.services import stock
from app.web.static import build_manifest, manifest_is_current

PG_ADMIN_URL = os.environ.get(
    "STOCKROOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("STOCKROOM_REQUIRE_POSTGRES") == "1"

# Every example touches a database, so no per-example deadline; CI (`make test-ci`) tries more.
settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile(
    "ci", max_examples=200, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

STATIC_FOLDER = Path(__file__).resolve().parents[1] / "static"

# The task queue (app/tasks.py) of a test run lives in a temporary file, not in instance/;
# set before anything imports app.tasks, which reads it once.
os.environ.setdefault("TASKS_DATABASE", os.path.join(
    tempfile.mkdtemp(prefix="stockroom-tasks-"), "tasks.sqlite"))


def pytest_configure(config: pytest.Config) -> None:
    """Pages link the content-hashed static files, as served: build their manifest (what
    `make setup` does) when a fresh clone has none or a static file changed since."""
    if not manifest_is_current(STATIC_FOLDER):
        build_manifest(STATIC_FOLDER)


def _base_config(uri: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        # Room for the 16-thread concurrency battery plus the test's own connection.
        "DB_POOL_SIZE": 20,
        "DB_MAX_OVERFLOW": 10,
        "SQLITE_BUSY_TIMEOUT_MS": 30000,
        "RATELIMIT_ENABLED": False,
        # Webhooks go to local receivers in the tests.
        "WEBHOOKS_ALLOW_HTTP_LOOPBACK": True,
    }


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty schema built once; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    app = create_app(_base_config(f"sqlite:///{path}"))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this run's own, dropped when the run ends."""
    name = f"stockroom_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            # A commit here need not wait for the server's disk: these tests kill clients,
            # never the server, and nothing in the database outlives the run. (The served
            # tier's databases keep the server's setting, as production does.)
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    except Exception as exc:  # any failure here means "no usable server"
        admin.dispose()
        where = make_url(PG_ADMIN_URL).render_as_string(hide_password=True)
        message = f"PostgreSQL not reachable at {where}: {exc.__class__.__name__}"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message + " (set STOCKROOM_TEST_POSTGRES_URL to run these)")
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    app = create_app(_base_config(url))
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database a test runs on; web and browser tiers override this to SQLite only."""
    return str(request.param)


# One application per database for the whole run: building an app and a cold engine per
# test cost more than most tests themselves. Each test still gets an empty database and
# its own copy of the configuration.
_APPS: dict[str, Flask] = {}


def _shared_app(url: str) -> Flask:
    if url not in _APPS:
        _APPS[url] = create_app(_base_config(url))
    return _APPS[url]


@pytest.fixture(scope="session")
def sqlite_workfile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("work") / "stockroom.sqlite"


@pytest.fixture
def app(backend: str, request: pytest.FixtureRequest) -> Iterator[Flask]:
    if backend == "postgresql":
        application = _shared_app(request.getfixturevalue("postgres_url"))
        with application.app_context(), db.engine.begin() as conn:
            conn.exec_driver_sql(postgres_emptying_sql())
    else:
        template = request.getfixturevalue("sqlite_template")
        path = request.getfixturevalue("sqlite_workfile")
        application = _shared_app(f"sqlite:///{path}")
        with application.app_context():
            db.engine.dispose()
        for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(template, path)
    saved = dict(application.config)
    try:
        with application.app_context():
            yield application
            db.session.remove()
            db.engine.dispose()
    finally:
        application.config.clear()
        application.config.update(saved)


@pytest.fixture
def client(app: Flask):
    return app.test_client()


# --------------------------------------------------------------------------- factories


@pytest.fixture
def admin_actor(app: Flask) -> Actor:
    """A named system actor with every permission in every store."""
    return system_actor("tests")


@pytest.fixture
def make_store(app: Flask) -> Callable[..., Store]:
    counter = iter(range(1, 10_000))

    def make(name: str | None = None) -> Store:
        n = next(counter)
        store = Store(name=name or f"Store {n}", slug=f"store-{n}-{uuid.uuid4().hex[:6]}")
        db.session.add(store)
        db.session.commit()
        return store

    return make


@pytest.fixture
def make_location(app: Flask) -> Callable[..., Location]:
    counter = iter(range(1, 10_000))

    def make(store: Store, code: str | None = None) -> Location:
        location = Location(store_id=store.id, code=code or f"LOC_{next(counter)}")
        db.session.add(location)
        db.session.commit()
        return location

    return make


@pytest.fixture
def make_product(app: Flask) -> Callable[..., Product]:
    counter = iter(range(1, 10_000))

    def make(store: Store, sku: str | None = None, **fields: Any) -> Product:
        n = next(counter)
        product = Product(
            store_id=store.id, sku=sku or f"SKU-{n}", title=fields.pop("title", f"Product {n}"),
            **fields,
        )
        db.session.add(product)
        db.session.flush()
        # As the catalog makes a product alone: the single variant of an item of its own.
        item = Item(store_id=store.id, title=product.title, status="active")
        db.session.add(item)
        db.session.flush()
        db.session.add(ItemVariant(product_id=product.id, store_id=store.id, item_id=item.id))
        db.session.commit()
        return product

    return make


@pytest.fixture
def make_entry(
    app: Flask,
    admin_actor: Actor,
    make_store: Callable[..., Store],
    make_location: Callable[..., Location],
    make_product: Callable[..., Product],
) -> Callable[..., stock.EntryState]:
    """An entry built through the service layer, so its ledger is consistent."""

    def make(
        *,
        quantity: int = 10,
        reserved: int = 0,
        threshold: int = 0,
        store: Store | None = None,
        location: Location | None = None,
        product: Product | None = None,
    ) -> stock.EntryState:
        if store is None:
            store = db.session.get(Store, location.store_id) if location else make_store()
        location = location or make_location(store)
        product = product or make_product(store)
        change = stock.create_entry(
            actor=admin_actor, product_id=product.id, location_id=location.id,
            quantity=quantity, low_stock_threshold=threshold,
        )
        if reserved:
            change = stock.reserve_stock(
                actor=admin_actor, entry_id=change.entry.id, quantity=reserved,
                order_ref="SETUP",
            )
        return change.entry

    return make


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    from app.services.people.credentials import hash_password

    counter = iter(range(1, 10_000))
    hashed = hash_password("correct horse battery staple")

    def make(
        *, role: str | None = None, store: Store | None = None, grants: tuple[str, ...] = (),
        platform_admin: bool = False, email: str | None = None,
    ) -> User:
        user = User(
            email=email or f"user{next(counter)}-{uuid.uuid4().hex[:6]}@example.test",
            name="Test User", password_hash=hashed, is_platform_admin=platform_admin,
        )
        db.session.add(user)
        db.session.flush()
        if role is not None:
            assert store is not None
            db.session.add(
                Membership(user_id=user.id, store_id=store.id, role=role, grants=list(grants))
            )
        db.session.commit()
        return user

    return make


@pytest.fixture
def actor_of(app: Flask) -> Callable[[User], Actor]:
    return lambda user: actor_for_user(user.id)


# --------------------------------------------------------------------------- state machines

# A state machine (the stock model, tests/concurrency/test_model.py) makes a database
# transaction per step: 20 steps an example locally, 50 in CI.
for _profile, _steps in (("dev", 20), ("ci", 50)):
    settings.register_profile(_profile, settings.get_profile(_profile), stateful_step_count=_steps)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
