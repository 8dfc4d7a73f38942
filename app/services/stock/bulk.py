"""Bulk work on the overview: one change applied to many entries at once.

A bulk action acts on chosen entry ids or on every entry matching the overview's filters
(re-read when the action is applied). It is previewed first, then applied all or nothing
in one write transaction: the entries are locked in primary-key order, every rule is
checked against the locked rows, and one set-based, guarded UPDATE changes them, followed
by one ledger row per entry sharing a batch reference. Entries outside the actor's stores
are never selectable: they behave as if they did not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, bindparam, func, select, true, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.extensions import db
from app.models import Store
from app.permissions import ADJUST, THRESHOLD, Actor
from app.services import audit, events
from app.services.audit import THRESHOLD_SET
from app.services.errors import (
    NAMED_IN_MESSAGE,
    BulkRefused,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from app.services.queries import EntryFilters, filter_conditions, product_status
from app.services.stock.engine import (
    ENTRY_COLUMNS,
    LedgerRow,
    StockChange,
    entries,
    locations,
    products,
    run_mutation,
    write_ledger,
)
from app.services.validation import LIMIT, Checker, clean_text, is_id

stores = Store.__table__

MAX_BULK = 5_000
# A problem list longer than this is cut short in messages; the preview lists every one.

_TARGET_COLUMNS = (
    *ENTRY_COLUMNS,
    entries.c.low_stock_threshold,
    products.c.sku,
    products.c.title,
    products.c.type.label("product_type"),
    products.c.allow_backorder,
    locations.c.code.label("location_code"),
    stores.c.name.label("store_name"),
)


@dataclass(frozen=True)
class Selection:
    """What a bulk action acts on: chosen entry ids, or every entry matching `filters`."""

    entry_ids: tuple[int, ...] = ()
    filters: EntryFilters | None = None

    @property
    def by_filter(self) -> bool:
        return self.filters is not None

    def fingerprint(self) -> Any:
        """The selection as an idempotency key's request fingerprint sees it."""
        if self.filters is not None:
            data = asdict(self.filters)
            # Order does not change which entries match.
            data.pop("sort", None)
            data.pop("descending", None)
            return {"filters": data}
        return {"entry_ids": sorted(self.entry_ids)}


@dataclass(frozen=True)
class BulkLine:
    """One entry in a preview: where it is, its value now, what it would become, and
    the rule it would break (None when it can change)."""

    entry_id: int
    store_id: int
    store_name: str
    sku: str
    title: str
    location_code: str
    quantity: int
    reserved_quantity: int
    low_stock_threshold: int
    before: int
    after: int
    status_before: str
    status_after: str
    problem: str | None = None

    @property
    def label(self) -> str:
        return f"{self.title} ({self.sku}) at {self.location_code}"


@dataclass(frozen=True)
class BulkPreview:
    operation: str
    lines: list[BulkLine]
    problems: list[BulkLine] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.lines)

    @property
    def total_before(self) -> int:
        return sum(line.before for line in self.lines)

    @property
    def total_after(self) -> int:
        return sum(line.after for line in self.lines)


# --------------------------------------------------------------------------- public


def selection(
    *, entry_ids: Sequence[Any] = (), filters: EntryFilters | None = None
) -> Selection:
    """A checked selection. Raises ValidationError naming `selection` when it is empty,
    too large or holds something that is not an entry id."""
    check = Checker()
    if filters is None:
        ids = tuple(dict.fromkeys(entry_ids))
        if not ids:
            check.fail("selection", "Select at least one entry.")
        elif not all(is_id(i) for i in ids):
            check.fail("selection", "The selection holds something that is not an entry.")
        elif len(ids) > MAX_BULK:
            check.fail("selection", _too_many(len(ids)))
        check.done()
        return Selection(entry_ids=ids)
    return Selection(filters=filters)


def count_matching(
    actor: Actor, filters: EntryFilters, *permissions: str, limit: int | None = None
) -> int:
    """How many entries the filters select among those the actor may change with any of
    `permissions` (the "select all N matching" figure), counting no further than `limit`."""
    matching = (
        select(entries.c.id)
        .join(products, products.c.id == entries.c.product_id)
        .where(*filter_conditions(actor, filters), _permission_scope(actor, *permissions))
    )
    if limit is not None:
        matching = matching.limit(limit)
    query = select(func.count()).select_from(matching.subquery())
    return int(db.session.execute(query).scalar_one())


def selection_size(actor: Actor, selection: Selection, permission: str) -> int:
    """How many entries a bulk action with `permission` would act on now. Raises
    ValidationError (empty or too large), NotFound, PermissionDenied."""
    return len(_targets(db.session, actor, permission, selection))


def preview_bulk_adjust(
    *, actor: Actor, selection: Selection, delta: int, reason: str,
    reference: str | None = None,
) -> BulkPreview:
    """What bulk_adjust would do now: per entry on hand before → after and the rule each
    would break. Changes nothing. Raises ValidationError, NotFound, PermissionDenied."""
    _check_adjust(delta, reason, reference)
    rows = _targets(db.session, actor, ADJUST, selection)
    return _adjust_plan(rows, delta)


def bulk_adjust(
    *, actor: Actor, selection: Selection, delta: int, reason: str,
    reference: str | None = None, idempotency_key: str | None = None,
) -> StockChange:
    """Add `delta` to every selected entry's on hand, all or nothing, with one
    `adjustment` ledger row per entry sharing a batch reference. Raises BulkRefused
    naming every entry that would break a rule, ValidationError, NotFound,
    PermissionDenied."""
    _check_adjust(delta, reason, reference)

    def work(session: Session) -> StockChange:
        now = utcnow()
        rows = _targets(session, actor, ADJUST, selection, lock=True)
        plan = _adjust_plan(rows, delta)
        if plan.problems:
            raise BulkRefused(plan.problems)
        ids = [row.id for row in rows]
        after = _update_many(
            session, actor, ADJUST, ids,
            {"quantity": entries.c.quantity + delta, "version": entries.c.version + 1,
             "updated_at": now, "last_movement_at": now},
            and_(
                entries.c.quantity + delta >= entries.c.reserved_quantity,
                entries.c.quantity + delta <= LIMIT,
            ),
        )
        batch = uuid.uuid4().hex
        text_reason, text_reference = clean_text(reason), clean_text(reference)
        write_ledger(
            session, actor,
            [LedgerRow.of(row, "adjustment", delta, reason=text_reason, reference=text_reference)
             for row in after],
            now, batch_ref=batch, want_ids=False,
        )
        return StockChange(
            "bulk_adjust",
            details={
                "batch_ref": batch, "count": len(after), "delta": delta,
                "on_hand_before": plan.total_before, "on_hand_after": plan.total_after,
            },
        )

    return run_mutation(
        "bulk_adjust", actor, idempotency_key,
        {"selection": selection.fingerprint(), "delta": delta, "reason": reason,
         "reference": reference},
        work,
    )


def preview_bulk_threshold(
    *, actor: Actor, selection: Selection, low_stock_threshold: int
) -> BulkPreview:
    """What bulk_threshold would do now: per entry threshold before → after and the
    status it would then have. Changes nothing. Raises ValidationError, NotFound,
    PermissionDenied."""
    _check_threshold(low_stock_threshold)
    rows = _targets(db.session, actor, THRESHOLD, selection)
    return _threshold_plan(rows, low_stock_threshold)


def bulk_threshold(
    *, actor: Actor, selection: Selection, low_stock_threshold: int,
    idempotency_key: str | None = None,
) -> StockChange:
    """Set the low-stock threshold of every selected entry. As the single threshold
    action: not a quantity change, so no ledger rows and versions stay; each entry whose
    threshold changed gets an audit row, all under one batch. Raises
    ValidationError, NotFound, PermissionDenied."""
    _check_threshold(low_stock_threshold)

    def work(session: Session) -> StockChange:
        now = utcnow()
        rows = _targets(session, actor, THRESHOLD, selection, lock=True)
        plan = _threshold_plan(rows, low_stock_threshold)
        _update_many(
            session, actor, THRESHOLD, [row.id for row in rows],
            {"low_stock_threshold": low_stock_threshold, "updated_at": now}, true(),
        )
        for row, line in zip(rows, plan.lines, strict=True):
            events.note_threshold(session, row, line.before, line.after)
        batch = uuid.uuid4().hex
        changed = audit.record_many(session, actor, [
            audit.Change(
                THRESHOLD_SET, "entry", row.id, f"{row.sku} at {row.location_code}",
                row.store_id, row.product_id, {"low_stock_threshold": (line.before, line.after)},
            )
            for row, line in zip(rows, plan.lines, strict=True) if line.before != line.after
        ], batch_ref=batch, now=now)
        return StockChange(
            "bulk_threshold",
            details={"count": len(rows), "changed": changed, "batch_ref": batch,
                     "low_stock_threshold": low_stock_threshold},
        )

    return run_mutation(
        "bulk_threshold", actor, idempotency_key,
        {"selection": selection.fingerprint(), "low_stock_threshold": low_stock_threshold},
        work,
    )


# --------------------------------------------------------------------------- machinery


def _too_many(count: int) -> str:
    return (
        f"At most {MAX_BULK:,} entries per bulk action; this selection has {count:,}. "
        "Narrow the filters and try again."
    )


def _check_adjust(delta: Any, reason: Any, reference: Any) -> None:
    check = Checker()
    check.whole("delta", delta, nonzero=True)
    check.text("reason", reason, required=True, max_length=200)
    check.text("reference", reference, required=False, max_length=100)
    check.done()


def _check_threshold(value: Any) -> None:
    check = Checker()
    check.whole("low_stock_threshold", value, minimum=0)
    check.done()


def _permission_scope(actor: Actor, *permissions: str) -> ColumnElement[bool]:
    allowed: set[int] = set()
    for permission in permissions:
        stores_with = actor.stores_with(permission)
        if stores_with is None:
            return true()
        allowed |= stores_with
    return entries.c.store_id.in_(sorted(allowed))


def _targets(
    session: Session, actor: Actor, permission: str, chosen: Selection, *, lock: bool = False
) -> list[Row[Any]]:
    """The selected entries in primary-key order, with names for messages. With `lock`,
    each row is locked in that order (PostgreSQL; SQLite's writer lock covers it), so two
    bulk actions, or a bulk action and a transfer, can't deadlock."""
    query = (
        select(*_TARGET_COLUMNS)
        .select_from(entries)
        .join(products, products.c.id == entries.c.product_id)
        .join(locations, locations.c.id == entries.c.location_id)
        .join(stores, stores.c.id == entries.c.store_id)
        .order_by(entries.c.id)
    )
    if chosen.filters is not None:
        query = query.where(
            *filter_conditions(actor, chosen.filters), _permission_scope(actor, permission)
        ).limit(MAX_BULK + 1)
    else:
        query = query.where(entries.c.id.in_(chosen.entry_ids))
    if lock:
        query = query.with_for_update(of=entries)
    rows = list(session.execute(query))

    if chosen.filters is not None:
        if not rows:
            raise ValidationError({"selection": "No entries you may change match these filters."})
        if len(rows) > MAX_BULK:
            raise ValidationError(
                {"selection": _too_many(count_matching(actor, chosen.filters, permission))}
            )
        return rows
    # Chosen ids: a foreign or vanished entry is "not found", whichever it is.
    visible = [row for row in rows if actor.is_member(row.store_id)]
    missing = sorted(set(chosen.entry_ids) - {row.id for row in visible})
    if missing:
        shown = ", ".join(str(i) for i in missing[:NAMED_IN_MESSAGE])
        noun = "entry was" if len(missing) == 1 else "entries were"
        raise NotFound(f"{len(missing):,} selected {noun} not found (id {shown}). "
                       "Nothing was changed.")
    for row in visible:
        if not actor.can(permission, row.store_id):
            raise PermissionDenied(permission)
    return visible


def _update_many(
    session: Session, actor: Actor, permission: str, ids: list[int],
    values: Mapping[str, Any], guard: ColumnElement[bool],
) -> list[Row[Any]]:
    """One guarded UPDATE … RETURNING over the locked rows. The guard repeats every rule
    in SQL, so if a row changed after all the update refuses it and the transaction
    rolls back: a check against a stale read can never apply."""
    statement = (
        update(entries)
        .where(
            entries.c.id.in_(bindparam("ids", expanding=True)),
            _permission_scope(actor, permission),
            guard,
        )
        .values(**values)
        .returning(*ENTRY_COLUMNS)
    )
    after = sorted(session.execute(statement, {"ids": ids}).all(), key=lambda r: r.id)
    if len(after) != len(ids):
        done = {row.id for row in after}
        skipped = [i for i in ids if i not in done]
        raise Conflict(
            f"{len(skipped):,} entries changed while this was applied (id "
            f"{', '.join(map(str, skipped[:NAMED_IN_MESSAGE]))}). Nothing was changed; "
            "preview again."
        )
    return after


def _status(row: Row[Any], available: int, threshold: int) -> str:
    return product_status(row.product_type, row.allow_backorder, available, threshold)


def _line(row: Row[Any], before: int, after: int, status_after: str,
          problem: str | None) -> BulkLine:
    available = row.quantity - row.reserved_quantity
    return BulkLine(
        entry_id=row.id, store_id=row.store_id, store_name=row.store_name, sku=row.sku,
        title=row.title, location_code=row.location_code, quantity=row.quantity,
        reserved_quantity=row.reserved_quantity, low_stock_threshold=row.low_stock_threshold,
        before=before, after=after,
        status_before=_status(row, available, row.low_stock_threshold),
        status_after=status_after, problem=problem,
    )


def _adjust_plan(rows: Sequence[Row[Any]], delta: int) -> BulkPreview:
    lines = []
    for row in rows:
        new = row.quantity + delta
        problem = None
        if new < row.reserved_quantity:
            available = row.quantity - row.reserved_quantity
            problem = (
                f"Insufficient stock available. Available: {available}, Requested: {-delta}"
            )
        elif new > LIMIT:
            problem = "On hand would exceed the maximum of 1,000,000,000."
        status_after = _status(row, new - row.reserved_quantity, row.low_stock_threshold)
        lines.append(_line(row, row.quantity, new, status_after, problem))
    return BulkPreview("adjust", lines, [line for line in lines if line.problem])


def _threshold_plan(rows: Sequence[Row[Any]], threshold: int) -> BulkPreview:
    lines = [
        _line(
            row, row.low_stock_threshold, threshold,
            _status(row, row.quantity - row.reserved_quantity, threshold), None,
        )
        for row in rows
    ]
    return BulkPreview("threshold", lines)


__all__ = [
    "MAX_BULK",
    "BulkLine",
    "BulkPreview",
    "BulkRefused",
    "Selection",
    "bulk_adjust",
    "bulk_threshold",
    "count_matching",
    "preview_bulk_adjust",
    "preview_bulk_threshold",
    "selection",
    "selection_size",
]
