"""Migrations: `flask db upgrade` on an empty database builds exactly the schema the models
describe, the ledger's append-only triggers included, on SQLite and on PostgreSQL."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import CheckConstraint, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.extensions import db
from app.models import Location, Product, Store
from app.permissions import system_actor
from app.services import inventory

TRIGGERS = {
    "sqlite": (
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'stock_movements'",
        {"stock_movements_no_update", "stock_movements_no_delete"},
    ),
    "postgresql": (
        "SELECT tgname FROM pg_trigger "
        "WHERE tgrelid = 'stock_movements'::regclass AND NOT tgisinternal",
        {"stock_movements_no_update_delete"},
    ),
}


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """Alembic's env.py calls logging.config.fileConfig, which disables every logger that
    already exists and replaces the root handlers; put everything back for later tests."""
    loggers = {
        name: (logger.disabled, logger.level, list(logger.handlers), logger.propagate)
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root = (logging.root.level, list(logging.root.handlers))
    yield
    for name, (disabled, level, handlers, propagate) in loggers.items():
        logger = logging.getLogger(name)
        logger.disabled, logger.propagate = disabled, propagate
        logger.setLevel(level)
        logger.handlers[:] = handlers
    logging.root.setLevel(root[0])
    logging.root.handlers[:] = root[1]


@pytest.fixture
def empty_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a database with nothing in it, of this test's own."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        return
    # The run's own database (which skips, or fails in CI, when no server answers) serves
    # as the admin connection: same server and credentials as PG_ADMIN_URL in conftest.py.
    admin_url = request.getfixturevalue("postgres_url")
    name = f"stockroom_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_upgrade_builds_the_models_schema_with_an_append_only_ledger(
    empty_database: str, backend: str, logging_restored: None
):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI":
                      empty_database})
    with app.app_context():
        try:
            upgrade()

            with db.engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                differences = compare_metadata(context, db.metadata)
                sql, expected = TRIGGERS[backend]
                triggers = set(conn.execute(text(sql)).scalars())
                # Autogenerate does not compare CHECK constraints; they are the backstop.
                inspector = inspect(conn)
                checks = {
                    (table.name, c["name"])
                    for table in db.metadata.sorted_tables
                    for c in inspector.get_check_constraints(table.name)
                }
            assert differences == []
            assert triggers == expected
            assert checks == {
                (table.name, c.name)
                for table in db.metadata.sorted_tables
                for c in table.constraints
                if isinstance(c, CheckConstraint)
            }

            # And they work: a ledger row written by the service cannot be changed or removed.
            store = Store(name="Migrated", slug="migrated")
            db.session.add(store)
            db.session.flush()
            product = Product(store_id=store.id, sku="SKU-1", title="Product")
            location = Location(store_id=store.id, code="MAIN")
            db.session.add_all([product, location])
            db.session.commit()
            inventory.create_entry(actor=system_actor("migration-test"), product_id=product.id,
                                   location_id=location.id, quantity=5)
            for statement in ("UPDATE stock_movements SET quantity_delta = 6",
                              "DELETE FROM stock_movements"):
                with pytest.raises(DBAPIError, match="append-only"):
                    db.session.execute(text(statement))
                db.session.rollback()
        finally:
            db.session.remove()
            db.engine.dispose()
