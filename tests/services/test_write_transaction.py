"""A write after a read in the same request (an API token's check, a page's user) carries
on from the read transaction on the connection it holds, and still sees what a fresh
transaction would: the rows as they are now, and every ORM object read before it afresh."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from app.database import write_transaction
from app.extensions import db
from app.models import Store


def name_elsewhere(store_id: int) -> str:
    with db.engine.connect() as other:
        return str(other.scalar(select(Store.name).where(Store.id == store_id)))


def test_a_write_after_a_read_keeps_the_connection_and_reads_afresh(app, make_store):
    store_id = make_store("Before").id
    db.session.remove()
    loaded = db.session.get(Store, store_id)  # the request's read transaction
    assert loaded is not None and loaded.name == "Before"
    held = db.session.connection().connection.dbapi_connection
    with db.engine.begin() as other:  # another process renames the store meanwhile
        other.execute(update(Store).where(Store.id == store_id).values(name="Elsewhere"))

    with write_transaction() as session:
        assert session.connection().connection.dbapi_connection is held
        assert loaded.name == "Elsewhere"  # expired, so read again inside the write
        session.execute(update(Store).where(Store.id == store_id).values(name="Mine"))

    assert name_elsewhere(store_id) == "Mine"


def test_a_write_after_a_failed_read_begins_anew(app, make_store):
    """PostgreSQL refuses every statement of a failed transaction until it ends: the write
    ends it and begins its own. SQLite's transaction survives a failed statement."""
    store_id = make_store("Before").id
    db.session.remove()
    with pytest.raises(DBAPIError):
        db.session.execute(text("SELECT no_such_column FROM stores"))
    with write_transaction() as session:
        session.execute(update(Store).where(Store.id == store_id).values(name="After"))
    assert name_elsewhere(store_id) == "After"


def test_a_failed_write_after_a_read_changes_nothing(app, make_store):
    store_id = make_store("Before").id
    db.session.remove()
    db.session.execute(select(Store.id)).all()
    with pytest.raises(RuntimeError), write_transaction() as session:
        session.execute(update(Store).where(Store.id == store_id).values(name="Lost"))
        raise RuntimeError("the work fails")
    assert name_elsewhere(store_id) == "Before"
    with write_transaction() as session:  # and the next write begins as usual
        session.execute(update(Store).where(Store.id == store_id).values(name="Kept"))
    assert name_elsewhere(store_id) == "Kept"
