"""Fixtures for the concurrency battery."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from emptying import postgres_emptying_sql
from flask import Flask
from sqlalchemy import event

from app.extensions import db


@pytest.fixture
def factories(make_store, make_location, make_product, make_entry) -> SimpleNamespace:
    """The conftest factories under one name, for helpers that build their own fixtures."""
    return SimpleNamespace(
        store=make_store, location=make_location, product=make_product, entry=make_entry
    )


def _no_flush_wait(dbapi_connection: Any, _record: Any) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    dbapi_connection.commit()


@pytest.fixture
def reset(app: Flask, backend: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], None]]:
    """Empties the database cheaply, for the start of each example of a model state
    machine (test_model.py, test_bundle_model.py)."""
    if backend == "postgresql":
        # Each step commits; not waiting for the WAL flush makes that cheap. It changes
        # durability after a server crash only, not what any transaction sees or locks.
        # The app (and its engine) outlives this test, so the setting goes with it.
        event.listen(db.engine, "connect", _no_flush_wait)
        db.session.remove()
        db.engine.dispose()
        emptying = postgres_emptying_sql()  # see tests/emptying.py

        def empty() -> None:
            db.session.connection().exec_driver_sql(emptying)
            db.session.commit()

        try:
            yield empty
        finally:
            db.session.remove()
            event.remove(db.engine, "connect", _no_flush_wait)
            db.engine.dispose()
        return

    # The ledger refuses DELETE, so SQLite starts each example from a copy of the empty
    # schema instead.
    template: Path = request.getfixturevalue("sqlite_template")
    path = Path(db.engine.url.database or "")

    def recopy() -> None:
        db.session.remove()
        db.engine.dispose()
        for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(template, path)

    yield recopy
