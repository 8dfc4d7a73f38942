"""Idempotency keys: a change sent with a key is made once; every repeat of the same
request with that key gets the first result back, and the key sent with another request is
refused.

The first result is stored in the change's own transaction, so a change and its record
commit together or not at all. Stock changes store their StockChange (stock.engine's
run_mutation); other changes (the catalog's) store the answer the caller describes them with
(`once`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import is_unique_violation, joining, write_transaction
from app.models import IdempotencyRecord
from app.permissions import Actor
from app.services.errors import Conflict, IdempotencyKeyReused
from app.services.validation import Checker

T = TypeVar("T")

records = IdempotencyRecord.__table__


def run_keyed(
    operation: str,
    actor: Actor,
    idempotency_key: str | None,
    params: Mapping[str, Any],
    work: Callable[[Session], T],
    *,
    save: Callable[[T], dict[str, Any]],
    replay: Callable[[dict[str, Any]], T],
) -> T:
    """Run `work` in one write transaction; with a key, its result is kept (as `save`
    gives it) and every repeat of the same request gets it back (through `replay`). The
    stored record answers before `work` runs, so a repeat replays even when what `work`
    checks (an expiry, say) has changed. Raises IdempotencyKeyReused for a key sent with
    another request, ValidationError naming `idempotency_key` for a malformed one."""
    if idempotency_key is None:
        with write_transaction() as session:
            return work(session)

    check = Checker()
    check.text("idempotency_key", idempotency_key, required=True, max_length=200)
    check.done()
    key = idempotency_key.strip()
    fingerprint = hashlib.sha256(
        json.dumps([operation, params], sort_keys=True, default=str).encode()
    ).hexdigest()
    for _attempt in range(2):
        try:
            with write_transaction() as session:
                stored = session.execute(
                    select(records.c.request_hash, records.c.response).where(
                        records.c.actor_key == actor.key, records.c.key == key
                    )
                ).one_or_none()
                if stored is not None:
                    if stored.request_hash != fingerprint or stored.response is None:
                        raise IdempotencyKeyReused()
                    return replay(stored.response)
                # Claim the key before the change: a concurrent repeat blocks on this row
                # and then replays, instead of making the change a second time.
                record_id = session.execute(
                    insert(records)
                    .values(actor_key=actor.key, key=key, operation=operation,
                            request_hash=fingerprint, created_at=utcnow())
                    .returning(records.c.id)
                ).scalar_one()
                result = work(session)
                session.execute(
                    update(records).where(records.c.id == record_id).values(response=save(result))
                )
                return result
        except IntegrityError as exc:
            if not is_unique_violation(exc, "actor_key", "key"):
                raise
    raise Conflict("This request is already being processed; try again.")  # pragma: no cover


@dataclass(frozen=True)
class Outcome:
    """What a change answered, as JSON-ready data, and whether it is a repeat's replay."""

    body: dict[str, Any]
    replayed: bool = False


def once(
    operation: str,
    actor: Actor,
    idempotency_key: str | None,
    params: Mapping[str, Any],
    work: Callable[[], dict[str, Any]],
) -> Outcome:
    """Run `work` (service calls, then the read that describes what they did, as JSON-ready
    data) in one transaction that the services' own write transactions join; with a key,
    once: a repeat of the same request gets the first answer back, unchanged, whatever has
    happened since. A refused change stores nothing, so its key stays free for the retry.
    Raises IdempotencyKeyReused, and whatever `work` raises."""

    def joined(session: Session) -> Outcome:
        with joining(session):
            return Outcome(work())

    return run_keyed(operation, actor, idempotency_key, params, joined,
                     save=lambda outcome: outcome.body,
                     replay=lambda body: Outcome(body, replayed=True))
