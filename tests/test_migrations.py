"""Migrations: `flask db upgrade` on an empty database builds exactly the schema the models
describe, the ledger's append-only triggers, the product search objects and the stock
tallies' triggers included, on SQLite and on PostgreSQL; 0002 (search), 0003 (tallies),
0004 (token expiry and scope), 0006 (scan preference) and 0015 (order up to) upgrade a
database holding data and downgrade cleanly."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint, Connection, create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.extensions import db
from app.models import Location, Membership, Product, Store
from app.models.catalog import is_search_object
from app.models.tallies import TALLY_TRIGGERS
from app.permissions import system_actor
from app.services import items, queries, stock, tallies
from app.services.people import tokens

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
def make_empty_database(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], str]]:
    """Makes URLs of databases with nothing in them, of this test's own."""
    made: list[str] = []
    admin = None
    if backend == "postgresql":
        # The run's own database (which skips, or fails in CI, when no server answers)
        # serves as the admin connection: same server and credentials as PG_ADMIN_URL.
        admin_url = request.getfixturevalue("postgres_url")
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def make() -> str:
        name = f"stockroom_mig_{uuid.uuid4().hex[:10]}"
        made.append(name)
        if admin is None:
            return f"sqlite:///{tmp_path / (name + '.sqlite')}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return admin.url.set(database=name).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        if admin is not None:
            with admin.connect() as conn:
                for name in made:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


@pytest.fixture
def empty_database(make_empty_database: Callable[[], str]) -> str:
    """The URL of a database with nothing in it, of this test's own."""
    return make_empty_database()


def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                   compare_to: Any) -> bool:
    """As app/migrations/env.py: the search objects live outside the models' metadata and
    are compared below, by their SQL, instead."""
    return not (reflected and compare_to is None and is_search_object(name))


# The search objects each backend must have (app/models/catalog.py, migration 0002).
SEARCH_OBJECTS = {
    "sqlite": {
        ("index", "ix_products_sku_ci"),
        ("table", "products_search"),
        ("table", "products_search_config"),
        ("table", "products_search_data"),
        ("table", "products_search_docsize"),
        ("table", "products_search_idx"),
        ("trigger", "products_search_delete"),
        ("trigger", "products_search_insert"),
        ("trigger", "products_search_update"),
    },
    "postgresql": {
        ("extension", "pg_trgm"),
        ("index", "ix_products_sku_ci"),
        ("index", "ix_products_sku_trgm"),
        ("index", "ix_products_title_trgm"),
    },
}


def schema_objects(conn: Connection) -> dict[tuple[str, str], str]:
    """Every index, trigger and search table of the database with the SQL that defines it
    (whitespace folded), as the database itself reports them."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            "OR name LIKE 'products_search%'"
        ))
    else:
        rows = conn.execute(text(
            "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "UNION ALL SELECT 'trigger', tgname, pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE NOT tgisinternal "
            "UNION ALL SELECT 'extension', extname, '' FROM pg_extension"
        ))
    return {(kind, name): " ".join((sql or "").split()) for kind, name, sql in rows}


def test_upgrade_builds_the_models_schema_with_an_append_only_ledger(
    empty_database: str, backend: str, logging_restored: None
):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI":
                      empty_database})
    with app.app_context():
        try:
            upgrade()

            with db.engine.connect() as conn:
                context = MigrationContext.configure(
                    conn, opts={"compare_type": True, "include_object": include_object}
                )
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
            stock.create_entry(actor=system_actor("migration-test"), product_id=product.id,
                                   location_id=location.id, quantity=5)
            for statement in ("UPDATE stock_movements SET quantity_delta = 6",
                              "DELETE FROM stock_movements"):
                with pytest.raises(DBAPIError, match="append-only"):
                    db.session.execute(text(statement))
                db.session.rollback()
        finally:
            db.session.remove()
            db.engine.dispose()


def test_upgrade_builds_the_same_search_objects_as_the_models(
    make_empty_database: Callable[[], str], backend: str, logging_restored: None
):
    """Indexes, triggers and the search table: the migrations and create_all (which the
    tests and `db.create_all` use) produce the same SQL, object for object."""
    migrated, created = make_empty_database(), make_empty_database()
    app = create_app({"TESTING": True, "SECRET_KEY": "test",
                      "SQLALCHEMY_DATABASE_URI": migrated})
    with app.app_context():
        try:
            upgrade()
            with db.engine.connect() as conn:
                from_migrations = schema_objects(conn)
        finally:
            db.engine.dispose()
    engine = create_engine(created)
    try:
        db.metadata.create_all(engine)
        with engine.connect() as conn:
            from_models = schema_objects(conn)
    finally:
        engine.dispose()

    assert SEARCH_OBJECTS[backend] <= from_models.keys()
    # Alembic's own bookkeeping is the only thing the migrations add.
    from_migrations = {k: v for k, v in from_migrations.items() if "alembic" not in k[1]}
    assert from_migrations == from_models


def _search_ids(term: str) -> list[str]:
    filters = queries.EntryFilters(search=term)
    return sorted(
        row.sku for row in queries.list_entries(system_actor("migration-test"), filters).rows
    )


def _old_store(conn: Connection, name: str, slug: str) -> int:
    """A store row as a revision before 0010 holds it (the model has columns added since)."""
    conn.execute(text("INSERT INTO stores (name, slug, created_at) "
                      "VALUES (:name, :slug, CURRENT_TIMESTAMP)"), {"name": name, "slug": slug})
    return int(conn.execute(text("SELECT id FROM stores WHERE slug = :slug"),
                            {"slug": slug}).scalar_one())


def _old_entry(conn: Connection, store_id: int, product_id: int, location_id: int,
               quantity: int = 0, threshold: int = 0) -> int:
    """An entry and its opening ledger row as a revision before 0010 holds them (no costs),
    written as create_entry wrote them then."""
    now = datetime(2026, 1, 1)
    conn.execute(text(
        "INSERT INTO inventory_entries (store_id, product_id, location_id, quantity, "
        "reserved_quantity, incoming_quantity, low_stock_threshold, version, created_at, "
        "updated_at, last_movement_at) VALUES (:store, :product, :location, :quantity, 0, 0, "
        ":threshold, 1, :now, :now, :moved)"
    ), {"store": store_id, "product": product_id, "location": location_id,
        "quantity": quantity, "threshold": threshold, "now": now,
        "moved": now if quantity else None})
    entry_id = int(conn.execute(text(
        "SELECT id FROM inventory_entries WHERE product_id = :product AND "
        "location_id = :location"), {"product": product_id, "location": location_id}
    ).scalar_one())
    if quantity:
        conn.execute(text(
            "INSERT INTO stock_movements (store_id, entry_id, product_id, location_id, type, "
            "quantity_delta, reserved_delta, quantity_after, reserved_after, reason, "
            "actor_name, created_at) VALUES (:store, :entry, :product, :location, 'received', "
            ":quantity, 0, :quantity, 0, 'Opening stock', 'system:migration-test', :now)"
        ), {"store": store_id, "entry": entry_id, "product": product_id,
            "location": location_id, "quantity": quantity, "now": now})
    return entry_id


def test_search_migration_indexes_existing_products_and_downgrades_cleanly(
    empty_database: str, backend: str, logging_restored: None
):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI":
                      empty_database})
    with app.app_context():
        try:
            upgrade(revision="0001")
            with db.engine.begin() as conn:
                store_id = _old_store(conn, "Before search", "before-search")
                location_id = _old_location(conn, store_id, "MAIN")
                product_id = _old_product(conn, store_id, "KET-001", "Copper Kettle",
                                          gtin="4006381333931")
                _old_entry(conn, store_id, product_id, location_id, quantity=2)

            upgrade()
            # Products that were there before the search objects are found by them.
            assert _search_ids("kettle") == ["KET-001"]
            assert _search_ids("ket-0") == ["KET-001"]
            db.session.remove()
            with db.engine.connect() as conn:
                assert SEARCH_OBJECTS[backend] <= schema_objects(conn).keys()

            downgrade(revision="0001")
            with db.engine.connect() as conn:
                left = {key for key in schema_objects(conn) if key[0] != "extension"}
            assert not {key for key in SEARCH_OBJECTS[backend] if key[0] != "extension"} & left
            # Without the triggers, writing products still works after the downgrade.
            db.session.execute(text("UPDATE products SET title = 'Steel Kettle'"))
            db.session.commit()

            upgrade()
            assert _search_ids("steel") == ["KET-001"]
            assert _search_ids("copper") == []
        finally:
            db.session.remove()
            db.engine.dispose()


def test_tallies_migration_counts_existing_entries_and_downgrades_cleanly(
    empty_database: str, backend: str, logging_restored: None
):
    """0003 counts the entries already there once, and its triggers take over from there;
    downgrading removes the table and every trigger, and the stock still changes."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI":
                      empty_database})
    actor = system_actor("migration-test")
    with app.app_context():
        try:
            upgrade(revision="0002")
            with db.engine.begin() as conn:
                store_id = _old_store(conn, "Before tallies", "before-tallies")
                main = _old_location(conn, store_id, "MAIN")
                back = _old_location(conn, store_id, "BACK")
                kettle = _old_product(conn, store_id, "KET-001", "Copper Kettle",
                                      allow_backorder=True)
                first = _old_entry(conn, store_id, kettle, main, quantity=8, threshold=10)
                _old_entry(conn, store_id, kettle, back)

            upgrade()
            assert tallies.verify() == []
            stats = queries.stock_stats(actor)
            assert (stats["total_entries"], stats["total_quantity"], stats["low_stock"],
                    stats["on_backorder"], stats["unique_locations"]) == (2, 8, 1, 1, 2)
            stock.adjust_stock(actor=actor, entry_id=first, delta=5, reason="found")
            assert queries.stock_stats(actor)["low_stock"] == 0
            assert tallies.verify() == []
            db.session.remove()

            downgrade(revision="0002")
            with db.engine.connect() as conn:
                left = schema_objects(conn)
                assert not {name for _kind, name in left} & (
                    TALLY_TRIGGERS | {"ix_stock_tallies_store_location"}
                )
                assert "stock_tallies" not in inspect(conn).get_table_names()
            # Without the triggers, stock still changes after the downgrade.
            db.session.execute(text("UPDATE inventory_entries SET low_stock_threshold = 1"))
            db.session.commit()
        finally:
            db.session.remove()
            db.engine.dispose()


def _old_location(conn: Connection, store_id: int, code: str) -> int:
    conn.execute(text("INSERT INTO locations (store_id, code, name, created_at) "
                      "VALUES (:store, :code, '', CURRENT_TIMESTAMP)"),
                 {"store": store_id, "code": code})
    return int(conn.execute(text("SELECT id FROM locations WHERE store_id = :store AND "
                                 "code = :code"), {"store": store_id, "code": code}).scalar_one())


def _old_product(conn: Connection, store_id: int, sku: str, title: str, *,
                 gtin: str | None = None, allow_backorder: bool = False,
                 reorder_point: int = 0, reorder_quantity: int = 0) -> int:
    """A product row as a revision before 0015 holds it (the model has columns added
    since)."""
    conn.execute(text(
        "INSERT INTO products (store_id, sku, title, gtin, type, allow_backorder, "
        "reorder_point, reorder_quantity, created_at, updated_at) VALUES (:store_id, :sku, "
        ":title, :gtin, 'physical', :allow_backorder, :point, :quantity, :made, :made)"
    ), {"store_id": store_id, "sku": sku, "title": title, "gtin": gtin,
        "allow_backorder": allow_backorder, "point": reorder_point,
        "quantity": reorder_quantity, "made": datetime(2026, 1, 1)})
    return int(conn.execute(text("SELECT id FROM products WHERE store_id = :store AND "
                                 "sku = :sku"), {"store": store_id, "sku": sku}).scalar_one())


def _old_user(conn: Connection, email: str) -> int:
    """A user row as a revision before 0006 holds it (the model has columns added since)."""
    conn.execute(text(
        "INSERT INTO users (email, name, password_hash, is_platform_admin, active, "
        "session_token, created_at) VALUES (:email, 'Owner', '-', false, true, :token, "
        "CURRENT_TIMESTAMP)"
    ), {"email": email, "token": uuid.uuid4().hex})
    return int(conn.execute(text("SELECT id FROM users WHERE email = :email"),
                            {"email": email}).scalar_one())


def test_token_scope_migration_keeps_existing_tokens_whole_and_downgrades_cleanly(
    empty_database: str, backend: str, logging_restored: None
):
    """0004 adds nullable expiry and scope columns: tokens issued before it never expire and
    keep all of their user's permissions. Downgrading revokes the tokens that carried an
    expiry or a scope, since the older schema could not hold back what they were denied."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI":
                      empty_database})
    old_token = tokens.TOKEN_PREFIX + "issued-before-scopes-" + "x" * 20
    with app.app_context():
        try:
            upgrade(revision="0003")
            store_id = _old_store(db.session.connection(), "Before scopes", "before-scopes")
            user_id = _old_user(db.session.connection(), "owner@example.test")
            db.session.add(Membership(user_id=user_id, store_id=store_id, role="owner"))
            db.session.execute(text(
                "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) "
                "VALUES (:user_id, 'old', :hash, :prefix, CURRENT_TIMESTAMP)"
            ), {"user_id": user_id, "hash": tokens.hash_token(old_token),
                "prefix": old_token[:12]})
            db.session.commit()

            upgrade()
            grant = tokens.authenticate_token(old_token)
            assert grant is not None and grant.user_id == user_id
            assert grant.expires_at is None and grant.scope == tokens.UNLIMITED
            _, scoped = tokens.create_token(user_id=user_id, name="scoped",
                                            store_ids=[store_id], expires_at=tokens.Expiry.NEVER)
            _, expiring = tokens.create_token(user_id=user_id, name="expiring")
            db.session.remove()

            downgrade(revision="0003")
            with db.engine.connect() as conn:
                columns = {c["name"] for c in inspect(conn).get_columns("api_tokens")}
                revoked = dict(conn.execute(text(
                    "SELECT name, revoked_at IS NOT NULL FROM api_tokens")).all())
            assert not columns & {"expires_at", "store_ids", "permissions", "platform_admin"}
            assert revoked == {"old": False, "scoped": True, "expiring": True}

            upgrade()
            assert tokens.authenticate_token(old_token).user_id == user_id
            assert tokens.authenticate_token(scoped) is None
            assert tokens.authenticate_token(expiring) is None
        finally:
            db.session.remove()
            db.engine.dispose()


def test_scan_preference_migration_keeps_users_opening_the_entry_and_downgrades_cleanly(
    empty_database: str, backend: str, logging_restored: None
):
    """0006 adds the users' scan preference: everyone who was there keeps a scan opening
    the entry's page; only the two choices are stored; downgrading drops it and the users
    stay."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI":
                      empty_database})
    with app.app_context():
        try:
            upgrade(revision="0005")
            with db.engine.begin() as conn:
                user_id = _old_user(conn, "scanner@example.test")
            upgrade()
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT scan_opens FROM users WHERE id = :id"),
                                    {"id": user_id}).scalar_one() == "entry"
            for bad in ("page", ""):
                with pytest.raises(DBAPIError), db.engine.begin() as conn:
                    conn.execute(text("UPDATE users SET scan_opens = :v"), {"v": bad})
            with db.engine.begin() as conn:
                conn.execute(text("UPDATE users SET scan_opens = 'adjust'"))

            downgrade(revision="0005")
            with db.engine.connect() as conn:
                columns = {c["name"] for c in inspect(conn).get_columns("users")}
                emails = list(conn.execute(text("SELECT email FROM users")).scalars())
            assert "scan_opens" not in columns
            assert emails == ["scanner@example.test"]

            upgrade()
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT scan_opens FROM users")).scalar_one() == "entry"
        finally:
            db.session.remove()
            db.engine.dispose()


def test_order_up_to_migration_leaves_every_variant_ordering_its_quantity_and_downgrades(
    empty_database: str, backend: str, logging_restored: None
):
    """0015 adds the variants' order-up-to level: every product already there has none (0),
    so its suggestions stay its reorder quantity; a negative level is refused; downgrading
    drops it and the products stay as they were."""
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI":
                      empty_database})
    with app.app_context():
        try:
            upgrade(revision="0014")
            with db.engine.begin() as conn:
                store_id = _old_store(conn, "Before levels", "before-levels")
                product_id = _old_product(conn, store_id, "CRT-1", "Crate", reorder_point=4,
                                          reorder_quantity=12)
            upgrade()
            with db.engine.connect() as conn:
                assert conn.execute(text(
                    "SELECT reorder_point, reorder_quantity, reorder_up_to FROM products "
                    "WHERE id = :id"), {"id": product_id}).one() == (4, 12, 0)
            with pytest.raises(DBAPIError), db.engine.begin() as conn:
                conn.execute(text("UPDATE products SET reorder_up_to = -1"))
            with db.engine.begin() as conn:
                conn.execute(text("UPDATE products SET reorder_up_to = 40"))

            downgrade(revision="0014")
            with db.engine.connect() as conn:
                columns = {c["name"] for c in inspect(conn).get_columns("products")}
                kept = conn.execute(text(
                    "SELECT sku, reorder_point, reorder_quantity FROM products")).all()
            assert "reorder_up_to" not in columns
            assert kept == [("CRT-1", 4, 12)]

            upgrade()
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT reorder_up_to FROM products")).scalar_one() == 0
        finally:
            db.session.remove()
            db.engine.dispose()


def _stock_as_it_stands(conn: Connection) -> dict[str, Any]:
    """What 0007 must not touch: products, entries, the ledger, holds and tallies."""
    tables = {
        "products": "id, store_id, sku, title, gtin, type, reorder_point",
        "inventory_entries": "id, product_id, location_id, quantity, reserved_quantity, "
                             "incoming_quantity, low_stock_threshold, version",
        "stock_movements": "id, entry_id, product_id, type, quantity_delta, quantity_after",
        "reservations": "id, entry_id, product_id, status, open_quantity",
        "stock_tallies": "store_id, location_id, entries, quantity",
    }
    return {
        table: conn.execute(text(f"SELECT {columns} FROM {table} ORDER BY 1, 2")).all()
        for table, columns in tables.items()
    }


def test_items_migration_makes_each_product_an_item_of_its_own_and_downgrades_cleanly(
    empty_database: str, backend: str, logging_restored: None
):
    """0007 on a database holding the demo data: every product becomes the single variant
    of an item of its own, with its title and store, archived with it; entries, ledger,
    holds, tallies and search are untouched; new items number on; downgrading drops the
    two tables and nothing else."""
    from app import demo

    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI":
                      empty_database})
    actor = system_actor("migration-test")
    with app.app_context():
        try:
            upgrade()
            demo.seed()
            db.session.remove()
            with db.engine.connect() as conn:
                before = _stock_as_it_stands(conn)
            assert len(before["products"]) > 200 and len(before["stock_movements"]) > 1000

            downgrade(revision="0006")
            with db.engine.connect() as conn:
                names = set(inspect(conn).get_table_names())
                assert not {"items", "item_variants"} & names
                assert _stock_as_it_stands(conn) == before

            upgrade()
            with db.engine.connect() as conn:
                # The demo's open purchase orders went with 0010's tables, and 0010 on the
                # way back up clears the incoming they stood behind: the rest is as it was.
                assert _without_incoming(_stock_as_it_stands(conn)) == _without_incoming(before)
                mismatched = conn.execute(text(
                    "SELECT p.id FROM products p "
                    "LEFT JOIN item_variants v ON v.product_id = p.id "
                    "LEFT JOIN items i ON i.id = v.item_id "
                    "WHERE i.id IS NULL OR i.title <> p.title OR i.store_id <> p.store_id "
                    "OR v.store_id <> p.store_id OR v.value1 <> '' OR i.option1 IS NOT NULL "
                    "OR (i.status = 'archived') <> (p.archived_at IS NOT NULL)"
                )).all()
                assert mismatched == []
                assert conn.execute(text(
                    "SELECT count(*) FROM items")).scalar_one() == len(before["products"])
            assert tallies.verify() == []
            stocked = before["inventory_entries"][0].product_id
            product = next(p for p in before["products"] if p.id == stocked)
            store_id = product.store_id
            found = queries.list_entries(
                actor, queries.EntryFilters(store_id=store_id, search=product.sku)).rows
            assert found and found[0].sku == product.sku
            # The catalog goes on: a new product gets an item numbered after the others.
            made = items.create_item(
                actor=actor, store_id=store_id, title="After the migration",
                options=[items.Option("Size", ("S", "M"))],
                variants_to_make=items.generate([items.Option("Size", ("S", "M"))], "AFTER"),
            )
            assert made.id > len(before["products"]) and len(made.product_ids) == 2
        finally:
            db.session.remove()
            db.engine.dispose()


PURCHASING_TABLES = {"suppliers", "supplier_items", "purchase_orders", "purchase_order_lines"}
PURCHASING_COLUMNS = {("stores", "currency"), ("inventory_entries", "average_cost"),
                      ("stock_movements", "unit_cost"),
                      ("stock_movements", "purchase_order_line_id")}


def _columns(conn: Connection) -> set[tuple[str, str]]:
    inspector = inspect(conn)
    return {(table, c["name"]) for table, _ in PURCHASING_COLUMNS
            for c in inspector.get_columns(table)}


def _without_incoming(stock_rows: dict[str, Any]) -> dict[str, Any]:
    return {**stock_rows, "inventory_entries": [row[:5] + row[6:]
                                                for row in stock_rows["inventory_entries"]]}


def test_purchasing_migration_keeps_the_stock_and_the_trail_and_downgrades_cleanly(
    empty_database: str, backend: str, logging_restored: None
):
    """0010 on a database holding the demo data and purchase orders (one part received at
    a cost, one open): downgrading drops purchasing's tables and columns and nothing of the
    stock, and keeps the suppliers' and orders' trail as their store's. Upgrading again
    finds incoming figures no order stands behind (the dropped orders' left behind): it
    clears them, each kept in the audit trail, and purchasing works from there."""
    from app import demo
    from app.services import purchasing
    from app.services.ledger import verify_ledger

    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI":
                      empty_database})
    actor = system_actor("migration-test")
    with app.app_context():
        try:
            upgrade()
            demo.seed()
            first, second = db.session.execute(text(
                "SELECT store_id, product_id, location_id FROM inventory_entries "
                "WHERE store_id = (SELECT min(store_id) FROM inventory_entries) "
                "ORDER BY id LIMIT 2")).all()
            ours = db.session.execute(text(
                "SELECT id FROM inventory_entries WHERE store_id = :s ORDER BY id LIMIT 2"),
                {"s": first.store_id}).scalars().all()
            demo_awaits = dict(db.session.execute(text(
                "SELECT id, incoming_quantity FROM inventory_entries "
                "WHERE incoming_quantity <> 0")).all())
            db.session.rollback()
            supplier = purchasing.create_supplier(actor=actor, store_id=first.store_id,
                                                  name="Acme")
            lines = [{"product_id": e.product_id, "location_id": e.location_id,
                      "quantity": 12, "unit_cost": "3.50"} for e in (first, second)]
            part = purchasing.order_purchase_order(
                actor=actor, order_id=purchasing.create_purchase_order(
                    actor=actor, supplier_id=supplier.id, lines=lines).id)
            purchasing.receive_purchase_order(
                actor=actor, order_id=part.id,
                lines=[{"product_id": first.product_id, "location_id": first.location_id,
                        "quantity": 5}])
            purchasing.order_purchase_order(
                actor=actor, order_id=purchasing.create_purchase_order(
                    actor=actor, supplier_id=supplier.id, lines=lines[1:]).id)
            db.session.remove()
            with db.engine.connect() as conn:
                before = _stock_as_it_stands(conn)
                trail = conn.execute(text(
                    "SELECT id, store_id, object_type FROM audit_events ORDER BY id")).all()
                awaited = dict(conn.execute(text(
                    "SELECT id, incoming_quantity FROM inventory_entries "
                    "WHERE incoming_quantity <> 0")).all())
            # The demo's own open orders await some; these two orders bring 7 and 24 more.
            assert [awaited.get(i, 0) - demo_awaits.get(i, 0) for i in ours] == [7, 24]
            assert {t for _, _, t in trail} >= {"supplier", "purchase_order"}

            downgrade(revision="0009")
            with db.engine.connect() as conn:
                assert not PURCHASING_TABLES & set(inspect(conn).get_table_names())
                assert not PURCHASING_COLUMNS & _columns(conn)
                assert _stock_as_it_stands(conn) == before
                kept = conn.execute(text(
                    "SELECT id, store_id, object_type FROM audit_events ORDER BY id")).all()
            assert [(i, s) for i, s, _ in kept] == [(i, s) for i, s, _ in trail]
            assert [t for _, _, t in kept] == [
                "store" if t in ("supplier", "purchase_order") else t for _, _, t in trail]
            with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
                conn.execute(text("UPDATE audit_events SET object_label = 'x'"))

            upgrade()
            with db.engine.connect() as conn:
                assert PURCHASING_TABLES <= set(inspect(conn).get_table_names())
                assert _without_incoming(_stock_as_it_stands(conn)) == _without_incoming(before)
                assert conn.execute(text(
                    "SELECT count(*) FROM inventory_entries WHERE incoming_quantity <> 0"
                )).scalar_one() == 0
                cleared = conn.execute(text(
                    "SELECT object_id, changes, actor_name FROM audit_events "
                    "WHERE action = 'entry.incoming_cleared' ORDER BY object_id")).all()
            assert {(i, a) for i, _, a in cleared} == {
                (i, "system:migration-0010") for i in awaited}
            for entry_id, changes, _ in cleared:
                recorded = changes if isinstance(changes, dict) else json.loads(changes)
                assert recorded == {"incoming_quantity": [awaited[entry_id], 0]}
            assert verify_ledger() == [] and tallies.verify() == []
            with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
                conn.execute(text("DELETE FROM audit_events"))

            # Purchasing starts afresh: numbers from PO-0001, incoming derived again.
            again = purchasing.create_supplier(actor=actor, store_id=first.store_id,
                                               name="Acme")
            order = purchasing.order_purchase_order(
                actor=actor, order_id=purchasing.create_purchase_order(
                    actor=actor, supplier_id=again.id, lines=lines[:1]).id)
            assert order.number == "PO-0001"
            assert db.session.scalar(text(
                "SELECT incoming_quantity FROM inventory_entries WHERE product_id = :p "
                "AND location_id = :l"), {"p": first.product_id, "l": first.location_id}) == 12
            db.session.rollback()
            assert verify_ledger() == []
        finally:
            db.session.remove()
            db.engine.dispose()


def test_events_migration_numbers_the_ledger_so_far_and_downgrades_cleanly(
    empty_database: str, backend: str, logging_restored: None
):
    """0012 turns every ledger row already written into its stock.changed event, numbered
    per store in ledger order; the outbox is append-only; downgrading drops it and nothing
    else, and upgrading again numbers the same history the same way."""
    from app.services import events
    from app.services.ledger import verify_ledger

    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI":
                      empty_database})
    actor = system_actor("migration-test")
    with app.app_context():
        try:
            upgrade()
            made = []
            for name in ("First", "Second"):
                store = Store(name=name, slug=name.lower())
                db.session.add(store)
                db.session.flush()
                product = Product(store_id=store.id, sku=f"{name}-1", title="Product")
                location = Location(store_id=store.id, code="MAIN")
                db.session.add_all([product, location])
                db.session.commit()
                entry = stock.create_entry(actor=actor, product_id=product.id,
                                           location_id=location.id, quantity=5).entry
                stock.adjust_stock(actor=actor, entry_id=entry.id, delta=-2, reason="sold")
                made.append(store.id)
            db.session.remove()

            downgrade(revision="0011")
            with db.engine.connect() as conn:
                assert not {"events", "event_sequences"} & set(inspect(conn).get_table_names())
                ledger = conn.execute(text(
                    "SELECT store_id, id FROM stock_movements ORDER BY id")).all()

            upgrade()
            with db.engine.connect() as conn:
                numbered = conn.execute(text(
                    "SELECT store_id, sequence, movement_id, type FROM events "
                    "ORDER BY store_id, sequence")).all()
                last = dict(conn.execute(text(
                    "SELECT store_id, last_sequence FROM event_sequences")).all())
            for store_id in made:
                rows = [m for s, m in ledger if s == store_id]
                assert [(n.sequence, n.movement_id, n.type) for n in numbered
                        if n.store_id == store_id] == [
                    (i, m, "stock.changed") for i, m in enumerate(rows, 1)]
                assert last[store_id] == len(rows)
            assert verify_ledger() == []
            with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
                conn.execute(text("DELETE FROM events"))

            # New changes carry on from the numbers the history took.
            entry_id = db.session.scalar(text(
                "SELECT id FROM inventory_entries WHERE store_id = :s"), {"s": made[0]})
            db.session.rollback()
            stock.adjust_stock(actor=actor, entry_id=entry_id, delta=-1, reason="sold")
            page = events.feed(actor, store_id=made[0], after=last[made[0]])
            assert [e["sequence"] for e in page.events] == [last[made[0]] + 1]
            assert verify_ledger() == []
        finally:
            db.session.remove()
            db.engine.dispose()
