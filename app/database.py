"""Engine set-up and the write transaction every service function runs in."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import Engine, Table, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.extensions import db

log = logging.getLogger("stockroom")

# PostgreSQL's answers that mean "no database to talk to just now", not "a wrong statement":
# connection exceptions (class 08), insufficient resources (53: no free connection slot,
# disk full, out of memory), the server shutting down or starting up, the database gone.
_PG_UNREACHABLE_CLASSES = ("08", "53")
_PG_UNREACHABLE = {"57P01", "57P02", "57P03", "3D000"}
# SQLite's: the file (or its folder) cannot be opened, read or written.
_SQLITE_UNREACHABLE = (
    "unable to open database file",
    "disk i/o error",
    "attempt to write a readonly database",
    "database or disk is full",
)


def engine_options(app: Flask) -> dict[str, Any]:
    """Pool sizes from config; several app processes share one PostgreSQL."""
    uri = str(app.config["SQLALCHEMY_DATABASE_URI"])
    options: dict[str, Any] = {"pool_pre_ping": uri.startswith("postgresql")}
    if ":memory:" not in uri and uri != "sqlite://":
        options["pool_size"] = app.config["DB_POOL_SIZE"]
        options["max_overflow"] = app.config["DB_MAX_OVERFLOW"]
    options.update(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    return options


def configure_engine(engine: Engine, *, busy_timeout_ms: int) -> None:
    """SQLite: WAL, busy_timeout, foreign keys, and transactions we begin ourselves."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the lock up front: a deferred transaction that later upgrades
        # to a writer fails with "database is locked" instead of waiting its turn.
        options = connection.get_execution_options()
        mode = options.get("sqlite_begin", "DEFERRED")
        wait_ms = options.get("lock_wait_ms")
        if wait_ms is None:
            connection.exec_driver_sql(f"BEGIN {mode}")
            return
        # Work that can wait for another time (write_transaction's lock_wait_ms) waits
        # this long for the lock, not the busy timeout every other writer gets.
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(wait_ms)}")
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")


# Set in a session's info while its write transaction takes in the ones opened inside it.
_JOINING = "stockroom_joining"


@contextmanager
def write_transaction(*, lock_wait_ms: int | None = None) -> Iterator[Session]:
    """One transaction that commits on success and rolls back on any exception.

    On SQLite it begins IMMEDIATE; on PostgreSQL rows are locked by the statements.
    With `lock_wait_ms`, for work that may as well happen another time, a lock held by
    someone else is waited for that long only (then OperationalError): on SQLite for the
    write lock, on PostgreSQL for every lock the transaction takes.

    Inside `joining(session)` it begins and commits nothing: its statements belong to the
    transaction that is joining, which commits or rolls back them all.
    """
    session = db.session()
    if session.info.get(_JOINING):
        yield session
        return
    if session.in_transaction():
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("unflushed ORM changes outside a write transaction")
        if not (lock_wait_ms is None and _continue_as_writer(session)):
            # End the read transaction the request may have opened; ours begins as a writer.
            session.rollback()
    if not session.in_transaction():
        options: dict[str, Any] = {"sqlite_begin": "IMMEDIATE"}
        if lock_wait_ms is not None:
            options["lock_wait_ms"] = lock_wait_ms
        connection = session.connection(execution_options=options)
        if lock_wait_ms is not None and connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(lock_wait_ms)}")
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


@contextmanager
def joining(session: Session) -> Iterator[Session]:
    """Inside a write transaction: the write transactions that service functions open
    in this block join it, so that several of them, and the reads that describe what they
    did, commit together or not at all (an idempotent request's stored first answer, say)."""
    if session.info.get(_JOINING):
        yield session
        return
    session.info[_JOINING] = True
    try:
        yield session
    finally:
        session.info.pop(_JOINING, None)


def _continue_as_writer(session: Session) -> bool:
    """Turn the read transaction the request opened (an API token's or a session's user
    check, say) into the write transaction, on the connection it already holds, instead of
    ending it and checking a connection out again: on PostgreSQL that saves the ROLLBACK,
    the pool's ping and the next BEGIN, three round trips of every write request.

    It holds what a fresh transaction gives. PostgreSQL at READ COMMITTED takes a new
    snapshot for every statement, so the transaction carries on as it is. SQLite cannot
    turn a reader into a writer safely (the upgrade fails at once when another writer has
    committed since the read began), so the read transaction ends and BEGIN IMMEDIATE
    starts ours on the same connection, waiting for the write lock as any writer does.
    Objects the ORM loaded are expired either way, as a rollback would, so the write reads
    them afresh. False, having changed nothing, where that does not hold (another
    isolation level, a failed transaction, a savepoint, another driver): the caller then
    rolls back and begins anew."""
    if session.in_nested_transaction():
        return False
    connection = session.connection()
    if connection.invalidated or not connection.in_transaction():
        return False
    driver = connection.connection.driver_connection
    name = connection.dialect.name
    if name == "sqlite":
        if not isinstance(driver, sqlite3.Connection):
            return False
        if driver.in_transaction:
            connection.exec_driver_sql("ROLLBACK")
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif name == "postgresql":
        info = getattr(driver, "info", None)
        status = getattr(getattr(info, "transaction_status", None), "name", None)
        if (status not in ("IDLE", "INTRANS")
                or connection.get_execution_options().get("isolation_level") is not None
                or connection.dialect.default_isolation_level != "READ COMMITTED"):
            return False
    else:
        return False
    session.expire_all()
    return True


def insert_ignoring_conflicts(table: Table, dialect_name: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING on either backend."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def is_unique_violation(exc: IntegrityError, *columns: str) -> bool:
    """True when `exc` is a unique violation naming all of `columns`."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        if sqlstate != "23505":
            return False
        detail = str(getattr(getattr(orig, "diag", None), "message_detail", "") or orig)
        return all(c in detail for c in columns)
    text = str(orig)
    return text.startswith("UNIQUE constraint failed") and all(c in text for c in columns)


def database_unreachable(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached right now: the server is down or
    cut the connection, the database is gone, the SQLite file cannot be opened, or no pooled
    connection came free in time. False for everything a statement or the code got wrong
    (a missing column, a constraint, a deadlock), which stays a bug."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.TimeoutError):  # the pool had no connection to give
            return True
        if isinstance(current, sa_exc.DBAPIError):
            if current.connection_invalidated:  # the dialect recognised a lost connection
                return True
            if _driver_unreachable(current.orig):
                return True
        elif _driver_unreachable(current):
            return True
        current = current.__cause__
    return False


def _driver_unreachable(error: BaseException | None) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        return str(error).lower().startswith(_SQLITE_UNREACHABLE)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - SQLite-only installs
        return False
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        sqlstate = error.sqlstate
        # No SQLSTATE: the failure is the client's own (connection refused, lost, closed).
        return (sqlstate is None or sqlstate.startswith(_PG_UNREACHABLE_CLASSES)
                or sqlstate in _PG_UNREACHABLE)
    return False


def discard_session() -> None:
    """Roll the request's session back after a failure, and never fail doing it: on a lost
    connection the rollback itself can fail, and then the session's connections are
    invalidated so the pool opens fresh ones once the database is back."""
    try:
        db.session.rollback()
    except Exception as exc:  # the connection is already gone
        log.warning("rollback after a failure did not complete (%s); discarding the "
                    "session's connections", exc.__class__.__name__)
        try:
            db.session.invalidate()
        except Exception:  # nothing more can be done for this session
            log.warning("could not invalidate the session's connections", exc_info=True)
