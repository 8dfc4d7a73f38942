"""Counting a location: many counted quantities applied as one stock count.

Staff walk a location with a scanner, build a list of codes and what they counted, and
apply it at once. Each line names a product by its SKU (any case) or GTIN and becomes a
`count` of that product's entry at the location, exactly as the single count verb records
one: on hand becomes what was counted, the discrepancy goes to the ledger, last_counted_at
is set. The whole list applies or nothing does: every line is checked first (an unknown
code, a product not stocked here, a quantity that is not a whole number ≥ 0, a line given
twice, a count below what is reserved, on hand that moved since the line was scanned) and
a refusal names every bad line.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, or_, select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.permissions import ADJUST, Actor
from app.services.errors import Conflict, CountRefused, NotFound
from app.services.stock.engine import (
    ENTRY_COLUMNS,
    RECORD_COUNT,
    EntryState,
    LedgerRow,
    StockChange,
    change_entry,
    entries,
    locations,
    products,
    require,
    run_mutation,
    write_ledger,
)
from app.services.validation import LIMIT, LIMIT_TEXT, Checker, clean_text, is_id

# More lines than a person scans in one go; a longer list is split into several counts.
MAX_COUNT_LINES = 500
MAX_CODE = 100


@dataclass(frozen=True)
class CountProblem:
    """Why one line of a count cannot be applied. `line` is its 1-based position, `field`
    the line's field at fault as the API names it (`lines[0].counted_quantity`)."""

    line: int
    code: str
    field: str
    problem: str
    # A problem with the input itself (422), not with the stock as it stands (409).
    invalid: bool = True

    @property
    def label(self) -> str:
        return f"Line {self.line} ({self.code})" if self.code else f"Line {self.line}"


@dataclass(frozen=True)
class _Line:
    position: int
    code: str
    counted: int
    expected: int | None


def count_key(code: str) -> str:
    """The form in which two codes are one: NFKC, no surrounding space, any case."""
    return unicodedata.normalize("NFKC", code).strip().casefold()


def count_many(
    *,
    actor: Actor,
    location_id: int,
    lines: Sequence[Mapping[str, Any]],
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Apply a location's counted quantities, all lines or none, as one batch of `count`
    ledger rows. Each line is `{"code": SKU or GTIN, "counted_quantity": n}`, optionally
    with `expected_quantity` (the on hand the counter was shown: if it has changed since,
    the line is refused so nobody overwrites a sale they never saw). Raises CountRefused
    naming every bad line, ValidationError, NotFound, PermissionDenied, Conflict (an
    archived location)."""
    parsed = _check(location_id, lines, reason)

    def work(session: Session) -> StockChange:
        now = utcnow()
        place = _location(session, actor, location_id)
        found = _resolve(session, place, parsed)
        # Lock the entries in primary-key order, as every multi-row operation does.
        ids = sorted({row.id for row in found.values()})
        locked = {
            row.id: row for row in session.execute(
                select(*ENTRY_COLUMNS).where(entries.c.id.in_(ids))
                .order_by(entries.c.id).with_for_update()
            )
        }
        problems = []
        for line in parsed:
            current = locked[found[line.position].id]
            if line.counted < current.reserved_quantity:
                problems.append(CountProblem(
                    line.position, line.code, _field(line.position, "counted_quantity"),
                    f"Counted {line.counted} is below reserved {current.reserved_quantity}",
                    invalid=False,
                ))
            elif line.expected is not None and line.expected != current.quantity:
                problems.append(CountProblem(
                    line.position, line.code, _field(line.position, "expected_quantity"),
                    f"On hand changed from {line.expected:,} to {current.quantity:,} since "
                    "it was scanned; check the count and apply again.",
                    invalid=False,
                ))
        if problems:
            raise CountRefused(problems, current={
                line.position: locked[found[line.position].id].quantity for line in parsed
            })

        text_reason = clean_text(reason)
        ledger_rows: list[LedgerRow] = []
        states: list[EntryState] = []
        summary: list[dict[str, Any]] = []
        for line in sorted(parsed, key=lambda item: found[item.position].id):
            match = found[line.position]
            current = locked[match.id]
            row = change_entry(session, actor, ADJUST, RECORD_COUNT, match.id, now,
                               n=line.counted, seen_version=current.version)
            if row is None:  # pragma: no cover - the row is locked for this transaction
                raise Conflict("Stock changed while the count was applied. Nothing was "
                               "changed; apply again.")
            delta = line.counted - current.quantity
            ledger_rows.append(LedgerRow.of(row, "count", delta, reason=text_reason))
            states.append(EntryState.of(row))
            summary.append({
                "line": line.position, "entry_id": match.id, "sku": match.sku,
                "title": match.title, "before": current.quantity, "counted": line.counted,
                "discrepancy": delta,
            })
        batch = uuid.uuid4().hex
        movement_ids = write_ledger(session, actor, ledger_rows, now, batch_ref=batch)
        summary.sort(key=lambda item: item["line"])
        return StockChange(
            "count_many", tuple(states), tuple(movement_ids),
            details={
                "batch_ref": batch, "location_id": place.id, "location_code": place.code,
                "store_id": place.store_id, "lines": summary,
                "discrepancies": sum(1 for item in summary if item["discrepancy"]),
            },
        )

    return run_mutation(
        "count_many", actor, idempotency_key,
        {"location_id": location_id, "reason": reason,
         "lines": [[line.code, line.counted, line.expected] for line in parsed]},
        work,
    )


# --------------------------------------------------------------------------- machinery


def _field(position: int, name: str) -> str:
    return f"lines[{position - 1}].{name}"


def _check(location_id: Any, lines: Any, reason: Any) -> list[_Line]:
    """The lines as whole numbers and codes, or the errors: the list's own shape as a
    ValidationError, each line's as one CountRefused naming them all."""
    check = Checker()
    if not is_id(location_id):
        check.fail("location_id", "Choose a location.")
    check.text("reason", reason, required=False, max_length=200)
    if not isinstance(lines, Sequence) or isinstance(lines, (str, bytes)):
        check.fail("lines", "Send a list of lines.")
    elif not lines:
        check.fail("lines", "Scan or add at least one item to count.")
    elif len(lines) > MAX_COUNT_LINES:
        check.fail("lines", f"At most {MAX_COUNT_LINES} lines per count; this one has "
                            f"{len(lines):,}. Apply it in parts.")
    check.done()

    problems: list[CountProblem] = []
    parsed: list[_Line] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(lines):
        position = index + 1
        if not isinstance(item, Mapping):
            problems.append(CountProblem(position, "", f"lines[{index}]", "Send an object."))
            continue
        code, counted, expected = (item.get("code"), item.get("counted_quantity"),
                                   item.get("expected_quantity"))
        shown = code.strip()[:MAX_CODE] if isinstance(code, str) else ""
        bad = len(problems)
        line_check = Checker()
        line_check.text("code", code, required=True, max_length=MAX_CODE)
        if "code" not in line_check.errors and isinstance(code, str) and any(
            unicodedata.category(ch) in ("Cs", "Co", "Cn") for ch in code
        ):
            line_check.fail("code", "Must be a SKU or GTIN.")
        _quantity(line_check, "counted_quantity", counted)
        if expected is not None:
            _quantity(line_check, "expected_quantity", expected)
        for name, message in line_check.errors.items():
            problems.append(CountProblem(position, "" if name == "code" else shown,
                                         _field(position, name), message))
        if len(problems) > bad:
            continue
        key = count_key(code)
        if key in seen:
            problems.append(CountProblem(
                position, shown, _field(position, "code"),
                f"{shown} is already counted on line {seen[key]}; give each item one line.",
            ))
            continue
        seen[key] = position
        parsed.append(_Line(position, code.strip(), counted, expected))
    if problems:
        raise CountRefused(problems)
    return parsed


def _quantity(check: Checker, name: str, value: Any) -> None:
    if type(value) is not int:
        check.fail(name, "Enter a whole number.")
    elif value < 0:
        check.fail(name, "Must not be negative.")
    elif value > LIMIT:
        check.fail(name, f"Must be at most {LIMIT_TEXT}.")


def _location(session: Session, actor: Actor, location_id: int) -> Row[Any]:
    """The location counted, shared-locked so an archive waits for the count."""
    place = session.execute(
        select(locations.c.id, locations.c.store_id, locations.c.code, locations.c.archived_at)
        .where(locations.c.id == location_id).with_for_update(read=True)
    ).one_or_none()
    if place is None or not actor.is_member(place.store_id):
        raise NotFound("Location not found.", {"location_id": "No such location."})
    require(actor, ADJUST, place.store_id)
    if place.archived_at is not None:
        raise Conflict(f"Location {place.code} is archived: nothing is counted there.")
    return place


@dataclass(frozen=True)
class _Match:
    id: int
    sku: str
    title: str


def _resolve(session: Session, place: Row[Any], lines: Sequence[_Line]) -> dict[int, _Match]:
    """Each line's entry at the location, by SKU (any case) or GTIN; CountRefused naming
    every line whose code names nothing in the store, or a product not stocked here, or
    the same entry as an earlier line (its SKU on one line, its GTIN on another)."""
    codes = sorted({line.code for line in lines})
    folded = sorted({line.code.casefold() for line in lines})
    postgres = session.get_bind().dialect.name == "postgresql"
    sku_match = (func.lower(products.c.sku).in_(folded) if postgres
                 else products.c.sku.collate("NOCASE").in_(codes))
    candidates = session.execute(
        select(products.c.id, products.c.sku, products.c.gtin, products.c.title,
               products.c.type, entries.c.id.label("entry_id"))
        .outerjoin(entries, (entries.c.product_id == products.c.id)
                   & (entries.c.location_id == place.id))
        .where(products.c.store_id == place.store_id,
               or_(sku_match, products.c.gtin.in_(codes)))
        .order_by(products.c.id)
    ).all()
    by_sku = {row.sku.casefold(): row for row in candidates}
    by_gtin = {row.gtin: row for row in candidates if row.gtin}

    problems: list[CountProblem] = []
    found: dict[int, _Match] = {}
    first_line: dict[int, int] = {}
    for line in lines:
        product = by_sku.get(line.code.casefold()) or by_gtin.get(line.code)
        field = _field(line.position, "code")
        if product is None:
            problems.append(CountProblem(
                line.position, line.code, field,
                "No product in this store has this SKU or GTIN."))
        elif product.entry_id is None:
            why = ("its stock is unlimited and never counted" if product.type != "physical"
                   else "it has no inventory entry here")
            problems.append(CountProblem(
                line.position, line.code, field,
                f"{product.sku} is not stocked at {place.code}: {why}."))
        elif product.entry_id in first_line:
            problems.append(CountProblem(
                line.position, line.code, field,
                f"{product.sku} is already counted on line {first_line[product.entry_id]}; "
                "give each item one line."))
        else:
            first_line[product.entry_id] = line.position
            found[line.position] = _Match(product.entry_id, product.sku, product.title)
    if problems:
        raise CountRefused(problems)
    return found


__all__ = ["MAX_COUNT_LINES", "CountProblem", "CountRefused", "count_key", "count_many"]
