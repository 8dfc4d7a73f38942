"""Which failures mean "the database cannot be reached" (503, try again) and which are the
code's own (500): a lost server or file is an outage, a wrong statement never is."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from psycopg import errors as pg
from sqlalchemy import exc as sa

from app.database import database_unreachable


def wrapped(orig: BaseException, *, invalidated: bool = False,
            kind: type[sa.DBAPIError] = sa.OperationalError) -> sa.DBAPIError:
    return kind("SELECT 1", {}, orig, connection_invalidated=invalidated)  # type: ignore[arg-type]


@pytest.mark.parametrize("failure", [
    wrapped(sqlite3.OperationalError("unable to open database file")),
    wrapped(sqlite3.OperationalError("disk I/O error")),
    wrapped(sqlite3.OperationalError("attempt to write a readonly database")),
    wrapped(psycopg.OperationalError("connection failed: Connection refused")),
    wrapped(psycopg.OperationalError("server closed the connection unexpectedly")),
    wrapped(pg.AdminShutdown("terminating connection due to administrator command")),
    wrapped(pg.CannotConnectNow("the database system is starting up")),
    wrapped(pg.TooManyConnections("sorry, too many clients already")),
    wrapped(psycopg.InterfaceError("the connection is closed"), kind=sa.InterfaceError),
    wrapped(Exception("anything"), invalidated=True),
    sa.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
], ids=lambda f: str(getattr(f, "orig", f))[:40])
def test_an_outage(failure: BaseException) -> None:
    assert database_unreachable(failure)
    try:  # also when another exception was raised from it
        raise RuntimeError("while loading the user") from failure
    except RuntimeError as outer:
        assert database_unreachable(outer)


@pytest.mark.parametrize("failure", [
    wrapped(sqlite3.OperationalError("no such column: no_such_column")),
    wrapped(sqlite3.OperationalError("no such table: stores")),
    wrapped(sqlite3.OperationalError("database is locked")),
    wrapped(pg.SerializationFailure("could not serialize access")),
    wrapped(pg.DeadlockDetected("deadlock detected")),
    wrapped(pg.QueryCanceled("canceling statement due to statement timeout")),
    wrapped(pg.LockNotAvailable("could not obtain lock")),
    wrapped(pg.UndefinedColumn("column does not exist"), kind=sa.ProgrammingError),
    wrapped(pg.UniqueViolation("duplicate key"), kind=sa.IntegrityError),
    RuntimeError("a bug"),
    KeyError("missing"),
], ids=lambda f: str(getattr(f, "orig", f))[:40])
def test_not_an_outage(failure: BaseException) -> None:
    assert not database_unreachable(failure)
