"""CSV import of inventory entries: a dry-run plan of every row, then an all-or-nothing apply.

The file is the overview's export format (store, location, sku, quantity, optional threshold,
reason and version; item and options, checked against the catalog or adding the SKU to it,
see import_catalog; other columns are ignored, but a new product takes its title). Planning
reads in bulk, a few hundred keys per query, and never writes. Applying plans again inside
one write transaction, with the items it adds to and the entries locked in primary-key
order, refuses the whole file if any row has an error or moved since the preview, and then
writes with set-based statements: the new items and variants, then one ledger row per
changed entry, all sharing one batch reference, written in batches by the engine's ledger
writer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.database import is_unique_violation, write_transaction
from app.extensions import db
from app.models import UNLIMITED_TYPES, Store
from app.models.stores import normalize_location_code
from app.permissions import ADJUST, CATALOG, READ, THRESHOLD, Actor
from app.services import audit, csvfile, events, items
from app.services.audit import THRESHOLD_SET
from app.services.bundles import bundle_parts
from app.services.errors import Conflict, ImportRefused, ValidationError
from app.services.money import check_amount
from app.services.stock import import_catalog
from app.services.stock.engine import (
    SQLITE_TIME,
    WRITE_CHUNK,
    LedgerRow,
    chunks,
    entries,
    locations,
    lock_products_for_new_entries,
    movements,
    products,
    write_ledger,
)
from app.services.stock.import_catalog import NewVariant
from app.services.validation import (
    LIMIT,
    LIMIT_TEXT,
    Checker,
    ascii_strip,
    identifier,
    unsafe_character,
)

stores = Store.__table__

REQUIRED_COLUMNS = ("store", "location", "sku", "quantity")
OPTIONAL_COLUMNS = ("threshold", "reason", "version", "item", "options", "title", "unit_cost")
DEFAULT_REASON = "CSV import"
# What the browser may upload in one file; the CLI passes its own limit (or none).
BROWSER_MAX_ROWS = 100_000
ENTRY_STATE = (
    entries.c.quantity, entries.c.reserved_quantity, entries.c.low_stock_threshold,
    entries.c.version, entries.c.average_cost,
)
BULK_KEYS = 2_000  # beyond this many keys in one store, read the store's rows whole
CHUNK = 500  # keys per IN (...) lookup: well inside every backend's parameter limit
Progress = Callable[[int], None]


@dataclass
class PlannedRow:
    """One data row of the file and what applying it would do."""

    line: int
    store: str
    location: str
    sku: str
    reason: str = DEFAULT_REASON
    store_id: int | None = None
    location_id: int | None = None
    product_id: int | None = None
    entry_id: int | None = None
    old_quantity: int | None = None
    new_quantity: int | None = None
    reserved: int = 0
    old_threshold: int | None = None
    new_threshold: int | None = None
    version: int | None = None  # the entry's version now (None: no entry yet)
    average_cost: int | None = None  # the entry's, which a `set` row carries
    # What a unit of a new entry's opening stock cost (stored × COST_SCALE), from the
    # unit_cost cell: the new entry's average cost. Ignored, with a warning, elsewhere.
    unit_cost: int | None = None
    export_version: int | None = None  # the version the file carries
    archived: str | None = None  # "location" or "product" when one of them is archived
    # The item, options and title cells; None when the file has no such column.
    item: str | None = None
    options: str | None = None
    title: str | None = None
    new_variant: NewVariant | None = None  # the product this row adds to the catalog
    item_unreadable: bool = False  # already an error: no "name its item" on top
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def creates(self) -> bool:
        return not self.errors and self.entry_id is None and self.new_quantity is not None

    @property
    def creates_product(self) -> bool:
        """The row adds its SKU to the catalog (the first row of that SKU does)."""
        return (self.creates and self.new_variant is not None
                and self.new_variant.line == self.line)

    @property
    def delta(self) -> int | None:
        if self.new_quantity is None:
            return None
        return self.new_quantity - (self.old_quantity or 0)

    @property
    def quantity_changes(self) -> bool:
        return not self.errors and (self.creates or bool(self.delta))

    @property
    def threshold_changes(self) -> bool:
        return (
            not self.errors
            and self.new_threshold is not None
            and self.new_threshold != (self.old_threshold or 0)
        )

    @property
    def changes(self) -> bool:
        return self.creates or self.quantity_changes or self.threshold_changes

    @property
    def seen_version(self) -> int:
        """What the preview saw of the entry: its version, 0 when it did not exist; -1 when
        its product did not exist either and joins an item, -2 when its item is new too."""
        if self.new_variant is not None:
            return -2 if self.new_variant.item.new else -1
        return self.version or 0


@dataclass
class ImportPlan:
    """Every row of a file, what it would change, and every problem found."""

    rows: list[PlannedRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    @property
    def error_rows(self) -> int:
        return sum(1 for r in self.rows if r.errors)

    @property
    def warning_rows(self) -> int:
        return sum(1 for r in self.rows if r.warnings and not r.errors)

    @property
    def creates(self) -> int:
        return sum(1 for r in self.rows if r.creates)

    @property
    def updates(self) -> int:
        return sum(1 for r in self.rows if r.changes and not r.creates)

    @property
    def unchanged(self) -> int:
        return sum(1 for r in self.rows if not r.errors and not r.changes)

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.error_rows

    @property
    def has_warnings(self) -> bool:
        return any(r.warnings for r in self.rows)

    @property
    def new_variants(self) -> list[NewVariant]:
        """The products the file adds to the catalog, in file order."""
        return [r.new_variant for r in self.rows
                if r.creates_product and r.new_variant is not None]

    def drafts(self) -> list[items.ItemDraft]:
        """The items the file adds variants to, new ones and existing, in file order."""
        seen: dict[int, items.ItemDraft] = {}
        for variant in self.new_variants:
            seen.setdefault(id(variant.item), variant.item)
        return list(seen.values())

    @property
    def new_items(self) -> int:
        return sum(1 for d in self.drafts() if d.new)

    def seen(self) -> dict[int, int]:
        """Line → the entry version the plan was made against, for the rows that change."""
        return {r.line: r.seen_version for r in self.rows if r.changes}

    def problems(self) -> Iterator[tuple[int | None, str, str]]:
        """(line, "error" | "warning", message) for everything found, file errors first."""
        for message in self.file_errors:
            yield None, "error", message
        for row in self.rows:
            for message in row.errors:
                yield row.line, "error", message
        for row in self.rows:
            for message in row.warnings:
                yield row.line, "warning", message


class _EntryAsImported:
    """A threshold-only row's entry as the outbox reads it: its quantities are unchanged."""

    def __init__(self, row: PlannedRow) -> None:
        self.id = row.entry_id
        self.store_id = row.store_id
        self.product_id = row.product_id
        self.location_id = row.location_id
        self.quantity = row.old_quantity or 0
        self.reserved_quantity = row.reserved


@dataclass(frozen=True)
class ImportResult:
    """What an apply wrote."""

    batch_ref: str
    created: int
    updated: int
    thresholds: int
    movements: int
    unchanged: int
    replayed: bool = False
    new_products: int = 0  # added to the catalog
    new_items: int = 0  # of them, items made for them


# --------------------------------------------------------------------------- public


def new_batch_ref() -> str:
    return f"import-{uuid.uuid4().hex}"


def plan_import(
    data: bytes,
    *,
    actor: Actor,
    max_rows: int | None = BROWSER_MAX_ROWS,
    progress: Progress | None = None,
) -> ImportPlan:
    """A dry run: every row's old → new and every error or warning. Writes nothing."""
    session = db.session()
    try:
        return _plan(session, data, actor, max_rows, progress, lock=False)
    finally:
        session.rollback()


def apply_import(
    data: bytes,
    *,
    actor: Actor,
    batch_ref: str | None = None,
    seen: Mapping[int, int] | None = None,
    max_rows: int | None = BROWSER_MAX_ROWS,
    progress: Progress | None = None,
) -> ImportResult:
    """Apply the whole file or nothing, in one write transaction. `seen` (line → entry
    version, from ImportPlan.seen) refuses rows that moved since the preview; a batch
    reference already in the ledger means the file was applied and is not applied again.
    Raises ImportRefused (errors in the file, or rows changed since the preview)."""
    ref = batch_ref or new_batch_ref()
    if not ref.startswith("import-") or len(ref) > 64:
        raise ValidationError({"batch_ref": "Not an import batch reference."})
    try:
        with write_transaction() as session:
            return _apply(session, data, actor, ref, seen, max_rows, progress)
    except IntegrityError as exc:
        if is_unique_violation(exc, "sku"):
            raise ImportRefused(
                "Nothing was imported: a product this file adds to the catalog was created by "
                "someone else meanwhile. Preview the file again."
            ) from exc
        if not is_unique_violation(exc, "product_id", "location_id"):
            raise
        raise ImportRefused(
            "Nothing was imported: an entry this file creates was created by someone else "
            "meanwhile. Preview the file again."
        ) from exc


def _apply(
    session: Session,
    data: bytes,
    actor: Actor,
    ref: str,
    seen: Mapping[int, int] | None,
    max_rows: int | None,
    progress: Progress | None,
) -> ImportResult:
    done = session.execute(
        select(func.count()).select_from(movements).where(movements.c.batch_ref == ref)
    ).scalar_one()
    if done:
        return ImportResult(ref, 0, 0, 0, int(done), 0, replayed=True)
    plan = _plan(session, data, actor, max_rows, progress, lock=True)
    if not plan.ok:
        raise ImportRefused(_refusal(plan), [
            f"line {line}: {message}" if line else message
            for line, kind, message in plan.problems() if kind == "error"
        ])
    if seen is not None:
        moved = [
            r for r in plan.rows
            if (r.changes or r.line in seen) and seen.get(r.line) != r.seen_version
        ]
        if moved:
            lines = [_moved_line(r) for r in moved]
            shown = "; ".join(lines[:10]) + (
                f"; and {len(lines) - 10} more" if len(lines) > 10 else ""
            )
            raise ImportRefused(
                f"Nothing was imported: {len(moved)} row{'s' if len(moved) != 1 else ''} "
                f"changed since the preview ({shown}). Preview the file again.",
                lines,
            )
    return _write(session, plan, actor, ref, progress)


def batch_movements(actor: Actor, batch_ref: str) -> dict[int, int]:
    """How many ledger rows of a batch lie in each store the actor may read."""
    query = (
        select(movements.c.store_id, func.count())
        .where(movements.c.batch_ref == batch_ref)
        .group_by(movements.c.store_id)
    )
    readable = actor.stores_with(READ)
    if readable is not None:
        query = query.where(movements.c.store_id.in_(sorted(readable)))
    try:
        return {int(store_id): int(count) for store_id, count in db.session.execute(query)}
    finally:
        db.session.rollback()


# --------------------------------------------------------------------------- parsing


def _whole(raw: str, what: str, *, minimum: int) -> tuple[int | None, str | None]:
    # ASCII whitespace only: str.strip() would also take a no-break space, so "15\u00a0"
    # would read as 15.
    text_value = ascii_strip(raw).replace("\u2212", "-")
    sign = text_value[:1] in ("+", "-")
    digits = text_value[1:] if sign else text_value
    if not digits or not digits.isascii() or not digits.isdigit():
        return None, f"{what} “{ascii_strip(raw)}” is not a whole number"
    if len(digits) > 12 or not -LIMIT <= int(text_value) <= LIMIT:
        return None, f"{what} {text_value} is out of range (at most {LIMIT_TEXT})"
    number = int(text_value)
    if number < minimum:
        return None, f"{what} {number} is negative" if minimum == 0 else (
            f"{what} {number} must be at least {minimum}"
        )
    return number, None


def _read_rows(
    data: bytes, max_rows: int | None, plan: ImportPlan
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, cells by column name) for every non-blank data row; a file that
    cannot be read adds its problem to the plan's file errors instead."""
    try:
        yield from csvfile.read_rows(
            data, required=REQUIRED_COLUMNS, optional=OPTIONAL_COLUMNS, max_rows=max_rows,
            example=(*REQUIRED_COLUMNS, "threshold", "reason"),
        )
    except csvfile.EmptyFile:
        plan.file_errors.append("The file is empty. Start from the overview's CSV export.")
    except csvfile.TooManyRows as exc:
        plan.file_errors.append(
            f"The file has more than {exc.limit:,} rows. Split it into files of at most "
            f"{exc.limit:,} rows, or import it with `flask inventory import`."
        )
    except csvfile.CsvProblem as exc:
        plan.file_errors.append(str(exc))


# --------------------------------------------------------------------------- planning


def _plan(
    session: Session,
    data: bytes,
    actor: Actor,
    max_rows: int | None,
    progress: Progress | None,
    *,
    lock: bool,
) -> ImportPlan:
    plan = ImportPlan()
    for line, cells in _read_rows(data, max_rows, plan):
        plan.rows.append(_parse_row(line, cells))
    if plan.file_errors:
        plan.rows = []
        return plan
    if not plan.rows:
        plan.file_errors.append("The file has a header but no rows to import.")
        return plan
    if progress:
        progress(len(plan.rows) // 2)
    _resolve(session, plan.rows, actor, lock=lock)
    _check(plan.rows, actor)
    if progress:
        progress(len(plan.rows) - len(plan.rows) // 2)
    return plan


def _parse_row(line: int, cells: Mapping[str, str]) -> PlannedRow:
    row = PlannedRow(
        line=line, store=cells["store"], location=normalize_location_code(cells["location"]),
        sku=identifier(cells["sku"]),
    )
    # A control character anywhere in a cell, before any trimming or normalising could
    # take it away (a vertical tab or U+0085 at an edge would otherwise vanish).
    unreadable = {name: problem for name, value in cells.items()
                  if (problem := unsafe_character(value or ""))}
    for name, problem in unreadable.items():
        # The title is read only for a product the row adds, and checked there.
        if name not in ("store", "location", "sku", "title"):
            row.errors.append(f"The {name} {problem[0].lower()}{problem[1:].rstrip('.')}")
    for name in ("item", "options", "title"):
        if name in cells:
            setattr(row, name, "" if name in unreadable and name != "title" else cells[name])
    row.item_unreadable = "item" in unreadable
    for name in ("store", "location", "sku"):
        value = getattr(row, name)
        if name in unreadable:
            row.errors.append(f"The {name} is not a valid name")
            setattr(row, name, "")  # never looked up
        elif not value:
            row.errors.append(f"The {name} is missing")
        elif len(value) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in value):
            # Never looked up: no store, location or SKU looks like this.
            row.errors.append(f"The {name} is not a valid name")
            setattr(row, name, "")
    row.new_quantity, problem = _whole(cells["quantity"], "Quantity", minimum=0)
    if "quantity" in unreadable:
        row.new_quantity = None
    elif problem:
        row.errors.append(problem if cells["quantity"].strip() else "The quantity is missing")
    threshold = "" if "threshold" in unreadable else cells.get("threshold", "").strip()
    if threshold:
        row.new_threshold, problem = _whole(threshold, "Threshold", minimum=0)
        if problem:
            row.errors.append(problem)
    version = "" if "version" in unreadable else cells.get("version", "").strip()
    if version:
        row.export_version, problem = _whole(version, "Version", minimum=1)
        if problem:
            row.errors.append(problem + " (leave the version blank to skip this check)")
    cost = "" if "unit_cost" in unreadable else cells.get("unit_cost", "").strip()
    if cost:
        check = Checker()
        row.unit_cost = check_amount(check, "unit_cost", cost)
        if check.errors:
            problem = check.errors["unit_cost"].rstrip(".")
            row.errors.append(f"The unit cost: {problem[0].lower()}{problem[1:]}")
    reason = "" if "reason" in unreadable else cells.get("reason", "").strip()
    if reason:
        if len(reason) > 200:
            row.errors.append("The reason is longer than 200 characters")
        elif any(ord(c) < 32 or ord(c) == 127 for c in reason):
            row.errors.append("The reason contains control characters")
        else:
            row.reason = reason
    return row


def _resolve(session: Session, rows: list[PlannedRow], actor: Actor, *, lock: bool) -> None:
    """Fill in ids and current values, in bulk: stores by slug, locations of those stores,
    products by (store, sku), entries by (product, location)."""
    slugs = sorted({r.store for r in rows if r.store})
    known_stores: dict[str, tuple[int, bool]] = {}
    for chunk in chunks(slugs, CHUNK):
        for s in session.execute(
            select(stores.c.id, stores.c.slug, stores.c.archived_at).where(stores.c.slug.in_(chunk))
        ):
            # A store the actor is not a member of looks exactly like one that does not exist.
            if actor.is_member(s.id):
                known_stores[s.slug] = (s.id, s.archived_at is not None)
    store_ids = sorted({sid for sid, _ in known_stores.values()})
    places: dict[tuple[int, str], tuple[int, bool]] = {}
    for chunk in chunks(store_ids, CHUNK):
        for loc in session.execute(
            select(locations.c.id, locations.c.store_id, locations.c.code, locations.c.archived_at)
            .where(locations.c.store_id.in_(chunk))
        ):
            places[(loc.store_id, loc.code)] = (loc.id, loc.archived_at is not None)

    wanted_skus: dict[int, set[str]] = {}
    for r in rows:
        hit = known_stores.get(r.store)
        if hit is not None and r.sku:
            wanted_skus.setdefault(hit[0], set()).add(r.sku)
    goods: dict[tuple[int, str], tuple[int, str, bool]] = {}
    product_columns = (products.c.id, products.c.sku, products.c.type, products.c.archived_at)
    for store_id, skus in wanted_skus.items():
        # A large file reads the store's whole catalogue once rather than key by key.
        queries = (
            [select(*product_columns).where(products.c.store_id == store_id)]
            if len(skus) > BULK_KEYS else [
                select(*product_columns)
                .where(products.c.store_id == store_id, products.c.sku.in_(chunk))
                for chunk in chunks(sorted(skus), CHUNK)
            ]
        )
        for query in queries:
            for pid, sku, kind, archived in session.execute(query).all():
                if sku in skus:
                    goods[(store_id, sku)] = (pid, kind, archived is not None)

    kits = bundle_parts(session, [pid for pid, _kind, _archived in goods.values()])
    unknown: list[PlannedRow] = []
    for r in rows:
        if not r.store:
            continue
        hit = known_stores.get(r.store)
        if hit is None:
            r.errors.append(f"Unknown store “{r.store}”")
            continue
        r.store_id = hit[0]
        if hit[1]:
            r.errors.append(f"Store “{r.store}” is archived")
        if r.location:
            place = places.get((r.store_id, r.location))
            if place is None:
                r.errors.append(f"Unknown location code “{r.location}” in {r.store}")
            else:
                r.location_id = place[0]
                if place[1]:
                    r.archived = f"location {r.location}"
        if r.sku:
            product = goods.get((r.store_id, r.sku))
            if product is None and r.item:
                unknown.append(r)  # names its item: may add the SKU to the catalog
            elif product is None:
                if not r.item_unreadable:
                    r.errors.append(f"Unknown SKU “{r.sku}” in {r.store}" + (
                        "" if r.item is None else
                        ": to add it to the catalog, name its item in the item column"))
            elif product[1] in UNLIMITED_TYPES:
                r.errors.append(
                    f"{r.sku} is a {product[1]} product: its stock is unlimited and needs "
                    "no entry"
                )
            elif product[0] in kits:
                r.errors.append(f"{r.sku} is a bundle: it holds no stock of its own; stock "
                                "its components")
            else:
                r.product_id = product[0]
                if product[2]:
                    r.archived = f"product {r.sku}"

    # Items before entries: the lock order of every change that takes both.
    import_catalog.check_known(session, rows)
    import_catalog.plan_new(session, unknown, lock=lock)

    keyed = [r for r in rows if r.product_id is not None and r.location_id is not None]
    by_store: dict[int, set[int]] = {}
    for r in keyed:
        by_store.setdefault(r.store_id, set()).add(r.product_id)  # type: ignore[arg-type]
    # (product, location) → (id, quantity, reserved, threshold, version, average cost)
    found: dict[tuple[int, int], tuple[Any, ...]] = {}
    entry_columns = (entries.c.id, entries.c.product_id, entries.c.location_id, *ENTRY_STATE)
    for store_id, product_ids in by_store.items():
        queries = (
            [select(*entry_columns).where(entries.c.store_id == store_id)]
            if len(product_ids) > BULK_KEYS else [
                select(*entry_columns).where(entries.c.product_id.in_(chunk))
                for chunk in chunks(sorted(product_ids), CHUNK)
            ]
        )
        for query in queries:
            for eid, pid, lid, *values in session.execute(query).all():
                found[(pid, lid)] = (eid, *values)
    if lock and session.get_bind().dialect.name == "postgresql":
        # Lock and re-read in primary-key order, so an import and any other multi-row change
        # lock alike. (A SQLite write transaction already holds the whole database.)
        wanted = {(r.product_id, r.location_id) for r in keyed}
        ids = sorted(v[0] for k, v in found.items() if k in wanted)
        locked = {
            row[0]: tuple(row)
            for row in session.execute(_PG_LOCK_ENTRIES, {"ids": ids}).all()
        }
        found = {k: locked[v[0]] for k, v in found.items() if v[0] in locked}
    for r in keyed:
        current = found.get((r.product_id, r.location_id))  # type: ignore[arg-type]
        if current is None:
            continue  # no entry yet (or deleted meanwhile): the row creates one
        (r.entry_id, r.old_quantity, r.reserved, r.old_threshold, r.version,
         r.average_cost) = current


def _check(rows: list[PlannedRow], actor: Actor) -> None:
    """Rules that need the current state: reserved, duplicates, permissions, export versions."""
    first_line: dict[tuple[str, str, str], int] = {}
    for r in rows:
        key = (r.store, r.location, r.sku)
        if r.store and r.location and r.sku:
            if key in first_line:
                r.errors.append(
                    f"Duplicate row: line {first_line[key]} already sets {r.sku} at {r.location}"
                )
            else:
                first_line[key] = r.line
        if r.store_id is None or r.location_id is None or (
                r.product_id is None and r.new_variant is None):
            continue
        if r.unit_cost is not None and (r.entry_id is not None or not r.new_quantity):
            r.warnings.append(
                "Unit cost ignored: it starts a new entry's opening stock only; an existing "
                "entry's cost comes from its receipts" if r.entry_id is not None else
                "Unit cost ignored: the new entry has no opening stock to cost")
            r.unit_cost = None
        if r.entry_id is not None:
            if r.new_quantity is not None and r.new_quantity < r.reserved:
                r.errors.append(f"Quantity {r.new_quantity} is below reserved {r.reserved}")
            if r.export_version is not None and r.export_version != r.version:
                r.warnings.append(
                    f"Changed since export (version {r.export_version}, now {r.version})"
                )
        elif r.archived is not None:
            r.errors.append(f"The {r.archived} is archived: no new entry can be made there")
        elif r.export_version is not None and r.new_variant is None:
            # (A row adding its product comes from another store's export, or from none.)
            r.warnings.append("Changed since export: the entry no longer exists; "
                              "this row creates it")
        if r.errors:
            continue
        needed: list[str] = []
        if r.entry_id is None:
            needed.append(CATALOG)
        elif r.delta:
            needed.append(ADJUST)
        if r.entry_id is not None and r.threshold_changes:
            needed.append(THRESHOLD)
        for permission in needed:
            if not actor.can(permission, r.store_id):
                what = {
                    CATALOG: "add products to the catalog" if r.new_variant is not None
                    else "create entries",
                    ADJUST: "change stock", THRESHOLD: "change low-stock thresholds",
                }[permission]
                r.errors.append(f"You may not {what} in {r.store} ({permission})")


def _refusal(plan: ImportPlan) -> str:
    if plan.file_errors:
        return "Nothing was imported: " + " ".join(plan.file_errors)
    n = plan.error_rows
    return f"Nothing was imported: {n} row{'s' if n != 1 else ''} with errors. Fix them and " \
        "upload the file again."


def _moved_line(row: PlannedRow) -> str:
    if row.new_variant is not None:
        item = row.new_variant.item
        return (f"line {row.line} {row.sku}: no such product now; it would join "
                f"{'a new item' if item.new else 'the item'} {item.title}")
    if row.version is None:
        return f"line {row.line} {row.sku} at {row.location}: no entry now"
    return (f"line {row.line} {row.sku} at {row.location}: on hand now {row.old_quantity}, "
            f"version {row.version}")


# --------------------------------------------------------------------------- writing

# SQLite: the driver's executemany on plain tuples. Per-row parameter processing in the ORM
# layer would cost more than the writes; timestamps go in the text form SQLAlchemy stores.
_SQLITE_UPDATE_STOCK = (
    "UPDATE inventory_entries SET quantity = ?, low_stock_threshold = ?, version = version + 1, "
    "updated_at = ?, last_movement_at = ? WHERE id = ? AND version = ? AND reserved_quantity <= ?"
)
_SQLITE_UPDATE_THRESHOLD = (
    "UPDATE inventory_entries SET low_stock_threshold = ?, updated_at = ? WHERE id = ?"
)
# PostgreSQL: one statement per chunk, rows travelling as arrays.
_PG_LOCK_ENTRIES = text(
    "SELECT id, quantity, reserved_quantity, low_stock_threshold, version, average_cost "
    "FROM inventory_entries WHERE id = ANY(CAST(:ids AS integer[])) ORDER BY id FOR UPDATE"
)
_PG_UPDATE_STOCK = text(
    """
    UPDATE inventory_entries AS e
    SET quantity = v.quantity, low_stock_threshold = v.threshold, version = e.version + 1,
        updated_at = :now, last_movement_at = :now
    FROM unnest(CAST(:ids AS integer[]), CAST(:versions AS integer[]),
                CAST(:quantities AS integer[]), CAST(:thresholds AS integer[]))
         AS v(id, version, quantity, threshold)
    WHERE e.id = v.id AND e.version = v.version AND e.reserved_quantity <= v.quantity
    """
)
_PG_UPDATE_THRESHOLD = text(
    """
    UPDATE inventory_entries AS e SET low_stock_threshold = v.threshold, updated_at = :now
    FROM unnest(CAST(:ids AS integer[]), CAST(:thresholds AS integer[])) AS v(id, threshold)
    WHERE e.id = v.id
    """
)

def _write(
    session: Session, plan: ImportPlan, actor: Actor, ref: str, progress: Progress | None
) -> ImportResult:
    now = utcnow()
    postgres = session.get_bind().dialect.name == "postgresql"
    creates = [r for r in plan.rows if r.creates]
    stock = [r for r in plan.rows if not r.creates and r.quantity_changes]
    thresholds_only = [
        r for r in plan.rows if not r.creates and not r.quantity_changes and r.threshold_changes
    ]
    # The products the file adds come first: the new entries are theirs.
    drafts = plan.drafts()
    items.insert_drafts(session, actor, drafts, batch_ref=ref, now=now)
    for r in creates:
        if r.new_variant is not None:
            r.product_id = r.new_variant.draft.product_id
    # Lock order: existing entries were locked by id while planning; new ones come last.
    _create_entries(session, creates, now)
    for chunk in chunks(stock, WRITE_CHUNK):
        if postgres:
            changed = session.execute(_PG_UPDATE_STOCK, {
                "now": now,
                "ids": [r.entry_id for r in chunk],
                "versions": [r.version for r in chunk],
                "quantities": [r.new_quantity for r in chunk],
                "thresholds": [_threshold_after(r) for r in chunk],
            }).rowcount
        else:
            stamp = now.strftime(SQLITE_TIME)
            changed = session.connection().exec_driver_sql(_SQLITE_UPDATE_STOCK, [
                (r.new_quantity, _threshold_after(r), stamp, stamp, r.entry_id, r.version,
                 r.new_quantity)
                for r in chunk
            ]).rowcount
        if changed != len(chunk):  # pragma: no cover - the entries are locked for us
            raise Conflict("Stock changed while importing; nothing was imported. Try again.")
        if progress:
            progress(len(chunk))
    for chunk in chunks(thresholds_only, WRITE_CHUNK):
        if postgres:
            session.execute(_PG_UPDATE_THRESHOLD, {
                "now": now, "ids": [r.entry_id for r in chunk],
                "thresholds": [r.new_threshold for r in chunk],
            })
        else:
            stamp = now.strftime(SQLITE_TIME)
            session.connection().exec_driver_sql(_SQLITE_UPDATE_THRESHOLD, [
                (r.new_threshold, stamp, r.entry_id) for r in chunk
            ])
        if progress:
            progress(len(chunk))
    # A threshold that moves an entry across low says so, as the threshold form does.
    for r in thresholds_only:
        events.note_threshold(session, _EntryAsImported(r), r.old_threshold or 0,
                              r.new_threshold or 0)

    # A row that changes the quantity and the threshold together crosses (or not) from
    # where the entry stood under its old threshold to where it stands under the new.
    for r in stock:
        if _threshold_after(r) != (r.old_threshold or 0):
            events.note_threshold_with_stock(session, r.entry_id, r.old_threshold or 0)

    ledger = [r for r in creates if r.new_quantity] + stock
    write_ledger(
        session, actor, [_ledger_row(r) for r in ledger], now, batch_ref=ref, want_ids=False
    )
    # Not stock, so not the ledger: new entries and changed thresholds go to the audit
    # trail, under the same batch as the ledger rows.
    # (`creates` was taken before the entries existed: a row no longer says it creates.)
    new = {id(r) for r in creates}
    audit.record_many(session, actor, [
        audit.Change(
            "entry.created" if id(r) in new else THRESHOLD_SET, "entry", r.entry_id,
            f"{r.sku} at {r.location}", r.store_id, r.product_id,
            {"low_stock_threshold": (None if id(r) in new else r.old_threshold or 0,
                                     _threshold_after(r))},
        )
        for r in plan.rows if id(r) in new or r.threshold_changes
    ], batch_ref=ref, now=now)
    return ImportResult(
        batch_ref=ref, created=len(creates), updated=len(stock) + len(thresholds_only),
        thresholds=sum(1 for r in plan.rows if r.threshold_changes), movements=len(ledger),
        unchanged=plan.unchanged, new_products=sum(len(d.variants) for d in drafts),
        new_items=sum(1 for d in drafts if d.new),
    )


def _threshold_after(row: PlannedRow) -> int:
    return row.new_threshold if row.new_threshold is not None else row.old_threshold or 0


def _create_entries(session: Session, rows: list[PlannedRow], now: datetime) -> None:
    """Insert the new entries and learn their ids. An entry created by someone else since
    planning makes the whole import refuse (the unique key catches it)."""
    if not rows:
        return
    by_key = {(r.product_id, r.location_id): r for r in rows}
    lock_products_for_new_entries(
        session, [r.product_id for r in rows if r.product_id is not None]
    )
    for chunk in chunks(rows, WRITE_CHUNK):
        session.execute(insert(entries), [
            {
                "store_id": r.store_id, "product_id": r.product_id, "location_id": r.location_id,
                "quantity": r.new_quantity, "reserved_quantity": 0, "incoming_quantity": 0,
                "low_stock_threshold": r.new_threshold or 0, "version": 1,
                "created_at": now, "updated_at": now,
                "last_movement_at": now if r.new_quantity else None,
                "average_cost": r.unit_cost,
            }
            for r in chunk
        ])
    for r in rows:
        r.average_cost = r.unit_cost  # the opening ledger row carries it
    product_ids = sorted({r.product_id for r in rows if r.product_id is not None})
    for chunk in chunks(product_ids, CHUNK):
        for e in session.execute(
            select(entries.c.id, entries.c.product_id, entries.c.location_id, entries.c.version)
            .where(entries.c.product_id.in_(chunk))
        ):
            row = by_key.get((e.product_id, e.location_id))
            if row is not None:
                row.entry_id, row.version = e.id, e.version
    missing = [r for r in rows if r.entry_id is None]
    if missing:  # pragma: no cover - the insert above would have failed first
        raise Conflict("New entries could not be created; nothing was imported.")


def _ledger_row(row: PlannedRow) -> LedgerRow:
    """A created entry's opening stock is `received`; a changed one's new figure is `set`."""
    new, old = row.new_quantity, row.old_quantity
    return LedgerRow(
        row.store_id, row.entry_id, row.product_id, row.location_id,  # type: ignore[arg-type]
        "received" if old is None else "set", new - (old or 0), 0, new,  # type: ignore[operator]
        row.reserved, row.reason, unit_cost=row.average_cost,
    )


def describe(plan: ImportPlan) -> str:
    """One line for a flash or the CLI: how many rows and what they would do."""
    parts = [f"{len(plan.rows):,} rows", f"{plan.updates:,} to update",
             f"{plan.creates:,} to create", f"{plan.unchanged:,} unchanged"]
    if plan.new_variants:
        parts.append(_catalog_words(len(plan.new_variants), plan.new_items) + " to add")
    if plan.error_rows or plan.file_errors:
        parts.append(f"{plan.error_rows + len(plan.file_errors):,} with errors")
    if plan.warning_rows:
        parts.append(f"{plan.warning_rows:,} with warnings")
    return ", ".join(parts)


def describe_result(result: ImportResult) -> str:
    """One line for a flash or the CLI: what an apply wrote."""
    entries_word = "entry" if result.updated == 1 else "entries"
    rows_word = "ledger row" if result.movements == 1 else "ledger rows"
    added = (f"{_catalog_words(result.new_products, result.new_items)} added, "
             if result.new_products else "")
    return (f"{result.updated:,} {entries_word} updated, {result.created:,} created, {added}"
            f"{result.movements:,} {rows_word} in batch {result.batch_ref}")


def _catalog_words(products_count: int, items_count: int) -> str:
    """"3 products (2 new items)": what an import adds to the catalog."""
    words = f"{products_count:,} product{'' if products_count == 1 else 's'}"
    if items_count:
        words += f" ({items_count:,} new item{'' if items_count == 1 else 's'})"
    return words
