"""The audit trail: every change that is not stock, append-only like the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, CheckConstraint, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db

# What kind of record an audit row is about. Stock itself lives in the ledger.
OBJECT_TYPES = (
    "store",
    "location",
    "product",
    "entry",
    "supplier",
    "purchase_order",
    "member",
    "user",
    "token",
)


class AuditEvent(db.Model):
    """One change to a record: who, when, which object, and each changed field as
    [before, after]. It keeps the object's label as it was, so it outlives renames;
    object ids are deliberately not foreign keys, so it outlives deletions too."""

    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint(
            "object_type IN (" + ", ".join(f"'{t}'" for t in OBJECT_TYPES) + ")",
            name="object_type",
        ),
        CheckConstraint("length(actor_name) > 0", name="actor_named"),
        CheckConstraint("length(action) > 0", name="action_named"),
        Index("ix_audit_events_store", "store_id", "id"),
        Index("ix_audit_events_object", "object_type", "object_id", "id"),
        Index("ix_audit_events_product", "product_id", "id"),
        Index("ix_audit_events_actor", "actor_id", "id"),
        Index("ix_audit_events_created", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # NULL for changes that belong to no store (a user's account, platform admin access).
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[int | None]
    object_label: Mapped[str] = mapped_column(String(254))
    # Set when the object is a product or one of its entries: the product's history.
    product_id: Mapped[int | None]
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    batch_ref: Mapped[str | None] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The database refuses to rewrite the trail, as it does for the ledger. The migration
# carries the same SQL.
AUDIT_GUARD_SQLITE = (
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
)
AUDIT_GUARD_POSTGRESQL = (
    "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
    "CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE "
    "ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
)

for _statement in AUDIT_GUARD_SQLITE:
    event.listen(AuditEvent.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in AUDIT_GUARD_POSTGRESQL:
    event.listen(
        AuditEvent.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql")
    )
event.listen(
    AuditEvent.__table__,
    "before_drop",
    DDL("DROP FUNCTION IF EXISTS audit_events_append_only() CASCADE").execute_if(
        dialect="postgresql"
    ),
)
