"""The fuzz tier: every mutating form route and every API operation, fed hostile values on
both databases.

Each test starts from a world built once per database and kept: on SQLite a copy of the
database file, on PostgreSQL every row of every table, put back with the tables' own
triggers switched off (the ledger refuses DELETE, and the tallies would count twice). A
request that was accepted and changed something is followed by the same reset, so every
hostile value meets the same world as the valid form did.

At the end of the session one line per database says how many requests were sent, to how
many routes and operations, in how long, and how many server errors came back.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import and_, insert, select, text
from web.conftest import FreshContextClient

from app.extensions import db
from app.services.people import credentials


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both databases: PostgreSQL refuses a NUL in text, SQLite stores a surrogate's bytes,
    and each has its own overflow and type rules."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2's production cost would dominate: the tier signs in and creates accounts
    hundreds of times, and measures the boundary, not the hash."""
    fast = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(credentials, "_hasher", fast)
    monkeypatch.setattr(credentials, "_DUMMY_HASH", fast.hash("stockroom-dummy-password"))


@pytest.fixture(autouse=True)
def _fresh_context_per_request(app: Flask) -> None:
    app.test_client_class = FreshContextClient


# --------------------------------------------------------------------------- the count


@dataclass
class Tally:
    """What one database's fuzz sent and got."""

    requests: int = 0
    server_errors: int = 0
    form_routes: set[str] = field(default_factory=set)
    api_operations: set[str] = field(default_factory=set)
    seconds: float = 0.0


TALLIES: dict[str, Tally] = {}


class Counter:
    """Counts the requests of one test; `sent` is called with every response."""

    def __init__(self, tally: Tally, *, form_route: str | None = None,
                 api_operation: str | None = None) -> None:
        self.tally = tally
        if form_route:
            tally.form_routes.add(form_route)
        if api_operation:
            tally.api_operations.add(api_operation)

    def sent(self, status: int) -> None:
        self.tally.requests += 1
        if status >= 500:
            self.tally.server_errors += 1


@pytest.fixture
def tally(backend: str) -> Iterator[Tally]:
    """This database's tally; the test's wall time is added to it."""
    started = time.perf_counter()
    yield TALLIES.setdefault(backend, Tally())
    TALLIES[backend].seconds += time.perf_counter() - started


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for backend, t in sorted(TALLIES.items()):
        terminalreporter.write_line(
            f"fuzz: {t.requests:,} requests to {len(t.form_routes)} form routes and "
            f"{len(t.api_operations)} API operations on {backend} in {t.seconds:.1f} s; "
            f"{t.server_errors} server errors"
        )


# --------------------------------------------------------------------------- fingerprints


Fingerprint = dict[str, list[tuple[Any, ...]]]


def _order(table: Any) -> str:
    return ", ".join(f"t.{c.name}" for c in table.primary_key.columns) or "rowid"


def fingerprint() -> Fingerprint:
    """Every row of every table, as committed now: the rows themselves on SQLite, a digest
    of each table's rows in key order on PostgreSQL (one round trip instead of one a
    table; the tier takes some ten thousand of these)."""
    db.session.rollback()  # read what is committed now, not an older snapshot
    try:
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            sql = " UNION ALL ".join(
                f"SELECT '{t.name}', md5(coalesce(string_agg(t::text, E'\\n' "
                f"ORDER BY {_order(t)}), '')) FROM {t.name} t"
                for t in db.metadata.sorted_tables)
            return {name: [(digest,)] for name, digest in connection.exec_driver_sql(sql)}
        return {
            table.name: [tuple(r) for r in connection.exec_driver_sql(
                "SELECT * FROM {} ORDER BY {}".format(
                    table.name,
                    ", ".join(c.name for c in table.primary_key.columns) or "rowid"))]
            for table in db.metadata.sorted_tables
        }
    finally:
        db.session.rollback()


def changed_tables(before: Fingerprint, after: Fingerprint) -> list[str]:
    return [name for name in before if before[name] != after[name]]


# --------------------------------------------------------------------------- kept worlds


@dataclass
class Kept:
    """A built world as it was when built: a file (SQLite) or every table's rows."""

    data: Any  # whatever the builder returned: ids, slugs, emails
    file: Path | None = None
    rows: dict[str, dict[tuple[Any, ...], dict[str, Any]]] | None = None  # by primary key
    digests: Fingerprint | None = None


_KEPT: dict[tuple[str, str], Kept] = {}


class Keeper:
    """A world of the fuzz: `data` holds its ids; `reset()` puts every row back."""

    def __init__(self, app: Flask, backend: str, workfile: Path | None, kept: Kept) -> None:
        self.app = app
        self.backend = backend
        self.workfile = workfile
        self.kept = kept
        self.data = kept.data
        self.resets = 0

    def reset(self, now: Fingerprint | None = None) -> None:
        """Put every row back; `now`, the fingerprint just taken, saves taking another."""
        self.resets += 1
        db.session.remove()
        if self.backend == "sqlite":
            assert self.workfile is not None and self.kept.file is not None
            db.engine.dispose()
            for leftover in _sidecars(self.workfile):
                leftover.unlink(missing_ok=True)
            shutil.copyfile(self.kept.file, self.workfile)
            return
        assert self.kept.rows is not None and self.kept.digests is not None
        now = now or fingerprint()
        changed = [t for t in db.metadata.sorted_tables
                   if now[t.name] != self.kept.digests[t.name]]
        if not changed:
            return
        # Only the rows that differ: a few rows of a few tables, not the whole world.
        with db.engine.begin() as conn:
            current = {t.name: _rows_of(conn, t) for t in changed}
            for table in changed:
                conn.execute(text(f"ALTER TABLE {table.name} DISABLE TRIGGER USER"))
            for table in reversed(changed):
                extra = current[table.name].keys() - self.kept.rows[table.name].keys()
                for key in extra:
                    conn.execute(table.delete().where(_is(table, key)))
            for table in changed:
                kept, there = self.kept.rows[table.name], current[table.name]
                missing = [kept[key] for key in kept.keys() - there.keys()]
                if missing:
                    conn.execute(insert(table), missing)
                for key in kept.keys() & there.keys():
                    if kept[key] != there[key]:
                        conn.execute(table.update().where(_is(table, key)).values(kept[key]))
            for table in changed:
                conn.execute(text(f"ALTER TABLE {table.name} ENABLE TRIGGER USER"))
                if "id" in table.c:  # the next new row takes the id after the kept ones
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))


def _rows_of(conn: Any, table: Any) -> dict[tuple[Any, ...], dict[str, Any]]:
    keys = [c.name for c in table.primary_key.columns]
    return {tuple(row[k] for k in keys): row
            for row in (dict(r._mapping) for r in conn.execute(select(table)))}


def _is(table: Any, key: tuple[Any, ...]) -> Any:
    return and_(*(c == v for c, v in zip(table.primary_key.columns, key, strict=True)))


def _sidecars(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


@pytest.fixture
def keep_world(
    app: Flask, backend: str, request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, Callable[[], Any]], Keeper]:
    """`keep_world(name, build)`: the world `build()` makes in the empty database, built
    once per database for the session and put back for every test."""

    def get(name: str, build: Callable[[], Any]) -> Keeper:
        workfile = request.getfixturevalue("sqlite_workfile") if backend == "sqlite" else None
        key = (name, backend)
        if key not in _KEPT:
            data = build()
            db.session.remove()
            if backend == "sqlite":
                db.engine.dispose()  # the last connection checkpoints the WAL into the file
                saved = tmp_path_factory.mktemp("fuzz") / f"{name}.sqlite"
                shutil.copyfile(workfile, saved)
                _KEPT[key] = Kept(data, file=saved)
            else:
                with db.engine.connect() as conn:
                    rows = {t.name: _rows_of(conn, t) for t in db.metadata.sorted_tables}
                _KEPT[key] = Kept(data, rows=rows, digests=fingerprint())
            return Keeper(app, backend, workfile, _KEPT[key])
        world = Keeper(app, backend, workfile, _KEPT[key])
        world.reset()
        return world

    return get
