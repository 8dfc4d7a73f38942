"""The audit trail's writer: one row per change, secrets never stored, append-only."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.database import write_transaction
from app.extensions import db
from app.models import AuditEvent
from app.services import audit


def _events() -> list[AuditEvent]:
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    db.session.rollback()
    return list(rows)


def test_a_change_records_who_what_and_each_field_before_and_after(app, admin_actor, make_store):
    store = make_store()
    with write_transaction() as session:
        audit.record(
            session, admin_actor, "store.renamed", "store", store.id, "North",
            store_id=store.id, changes=audit.diff({"name": "Nord", "code": "N"},
                                                  {"name": "North", "code": "N"}),
        )

    [event] = _events()
    assert (event.action, event.object_type, event.object_id, event.object_label) == (
        "store.renamed", "store", store.id, "North")
    assert event.store_id == store.id
    assert event.changes == {"name": ["Nord", "North"]}
    assert event.actor_name == admin_actor.name


def test_secret_fields_are_recorded_as_changed_without_their_values(app, admin_actor):
    with write_transaction() as session:
        audit.record(session, admin_actor, "user.password_changed", "user", 1, "a@example.com",
                     changes={"password_hash": ("old-hash", "new-hash"),
                              "since": (None, date(2026, 12, 5))})

    [event] = _events()
    assert event.changes == {"password_hash": ["(secret)", "(secret)"],
                             "since": [None, "2026-12-05"]}
    assert "hash" not in str(event.changes.values())


def test_many_changes_share_their_batch(app, admin_actor):
    changes = [audit.Change("entry.threshold_set", "entry", n, f"SKU-{n}", None, None,
                            {"low_stock_threshold": (0, n)}) for n in range(1, 4)]
    with write_transaction() as session:
        assert audit.record_many(session, admin_actor, changes, batch_ref="b-1") == 3

    events = _events()
    assert [e.object_id for e in events] == [1, 2, 3]
    assert {e.batch_ref for e in events} == {"b-1"}


def test_a_failed_transaction_leaves_no_audit_row(app, admin_actor):
    with pytest.raises(RuntimeError), write_transaction() as session:
        audit.record(session, admin_actor, "store.renamed", "store", None, "North")
        raise RuntimeError("after the change, before the commit")

    assert _events() == []


@pytest.mark.parametrize("statement", [
    "UPDATE audit_events SET actor_name = 'someone else'",
    "DELETE FROM audit_events",
])
def test_the_database_refuses_to_rewrite_the_trail(app, admin_actor, statement):
    with write_transaction() as session:
        audit.record(session, admin_actor, "store.renamed", "store", None, "North")

    with pytest.raises(DBAPIError) as refused:
        db.session.execute(text(statement))
        db.session.commit()
    db.session.rollback()

    assert "audit_events is append-only" in str(refused.value)
    assert len(_events()) == 1
