"""The audit trail's one writer: every change that is not stock leaves a row here, written
by the service verb that makes the change, in the same transaction.

Stock has its own trail, the ledger (app/services/stock). Everything else a user can
change (stores, locations, products, thresholds, members, accounts, tokens) is recorded
as who, when, which object and each changed field as [before, after]. Secrets never
enter the trail: a secret field is recorded as changed, without its values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.models import AuditEvent
from app.permissions import Actor

# Field names whose values never enter the trail.
SECRET_FIELDS = frozenset({
    "password", "password_hash", "token", "token_hash", "secret", "session_token",
})
SECRET = "(secret)"

INSERT_EVENT = insert(AuditEvent.__table__)
# The action of a low-stock threshold change, wherever it is made (one entry, bulk, import).
THRESHOLD_SET = "entry.threshold_set"


@dataclass(frozen=True)
class Change:
    """One audit row to write: `changes` maps a field to (before, after)."""

    action: str
    object_type: str
    object_id: int | None
    label: str
    store_id: int | None = None
    product_id: int | None = None
    changes: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields of `after` whose value differs from `before`, as (before, after)."""
    return {
        name: (before.get(name), value)
        for name, value in after.items()
        if before.get(name) != value
    }


def record(
    session: Session,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: int | None,
    label: str,
    *,
    store_id: int | None = None,
    product_id: int | None = None,
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    batch_ref: str | None = None,
    now: datetime | None = None,
) -> None:
    """Append one audit row in the caller's transaction."""
    record_many(
        session,
        actor,
        [Change(action, object_type, object_id, label, store_id, product_id, changes or {})],
        batch_ref=batch_ref,
        now=now,
    )


def record_many(
    session: Session,
    actor: Actor,
    changes: Iterable[Change],
    *,
    batch_ref: str | None = None,
    now: datetime | None = None,
) -> int:
    """Append many audit rows in one statement, in the caller's transaction; returns how
    many. Bulk work and imports record each object they changed under their batch."""
    when = now or utcnow()
    rows = [
        {
            "store_id": c.store_id,
            "action": c.action,
            "object_type": c.object_type,
            "object_id": c.object_id,
            "object_label": _label(c.label),
            "product_id": c.product_id,
            "changes": _plain(c.changes),
            "batch_ref": batch_ref,
            "actor_id": actor.user_id,
            "actor_name": actor.name,
            "created_at": when,
        }
        for c in changes
    ]
    for start in range(0, len(rows), 5_000):
        session.execute(INSERT_EVENT, rows[start:start + 5_000])
    return len(rows)


def _label(label: str) -> str:
    return (label or "—")[:254]


def _plain(changes: Mapping[str, tuple[Any, Any]]) -> dict[str, list[Any]]:
    """JSON-ready [before, after] per field, secrets replaced."""
    plain: dict[str, list[Any]] = {}
    for name, (before, after) in changes.items():
        if name in SECRET_FIELDS:
            plain[name] = [SECRET, SECRET]
        else:
            plain[name] = [_value(before), _value(after)]
    return plain


def _value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(_value(v) for v in value)
    if isinstance(value, Sequence):
        return [_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _value(v) for k, v in value.items()}
    return str(value)
