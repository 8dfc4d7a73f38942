"""The low stock and out of stock reports as the screens show them: filtered to a store, a
location and a supplier, sorted on any of their columns, in keyset pages, and in full for
CSV. The reorder report shares their filters (queries.reorder).

A page is two statements whatever its depth: the page (past the cursor's sort value and
id, so a deep page costs what the first does) and a count that stops at a limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    select,
    tuple_,
)

from app.extensions import db
from app.permissions import Actor
from app.services.cursors import decode_cursor, encode_cursor
from app.services.queries.common import (
    EntryView,
    available,
    entries,
    entry_select,
    is_physical,
    locations,
    products,
    readable_scope,
    status_condition,
)
from app.services.queries.listing import EntryPage
from app.services.queries.suppliers import supplier_condition

ENTRY_REPORTS = ("low_stock", "out_of_stock")

# What the entry reports sort on; `shortfall` is how far available is below the threshold.
_ENTRY_KEYS: dict[str, Any] = {
    "title": products.c.title,
    "sku": products.c.sku,
    "location": locations.c.code,
    "quantity": entries.c.quantity,
    "reserved": entries.c.reserved_quantity,
    "available": available,
    "threshold": entries.c.low_stock_threshold,
    "shortfall": entries.c.low_stock_threshold - available,
}
REPORT_SORTS: dict[str, tuple[str, ...]] = {
    "low_stock": ("title", "sku", "location", "quantity", "reserved", "available", "threshold",
                  "shortfall"),
    "out_of_stock": ("title", "sku", "location", "quantity", "reserved", "threshold"),
}
_TEXT_KEYS = frozenset({"title", "sku", "location"})


@dataclass(frozen=True)
class ReportFilters:
    """What narrows and orders a report; the URL carries all of it."""

    store_id: int | None = None
    location_id: int | None = None
    # The supplier a variant is bought from (queries.suppliers), or only those with none.
    supplier_id: int | None = None
    without_supplier: bool = False
    sort: str = "title"
    descending: bool = False

    def supplier_condition(self, actor: Actor) -> ColumnElement[bool] | None:
        """The supplier filter as a WHERE clause on entries; None when there is none."""
        return supplier_condition(actor, supplier_id=self.supplier_id,
                                  without_supplier=self.without_supplier,
                                  store_id=self.store_id)


def report_condition(report: str) -> ColumnElement[bool]:
    """Which entries a report lists: low stock by the SPEC's status rule; out of stock is
    every physical entry with nothing available, backordered or not."""
    if report == "low_stock":
        return status_condition("low_stock")
    if report == "out_of_stock":
        return and_(is_physical, available <= 0)
    raise ValueError(report)


def in_report(report: str, entry: EntryView) -> bool:
    """report_condition for one entry already read: whether it (still) belongs in the
    report, as the row an action sends back says."""
    if entry.unlimited:
        return False
    if report == "low_stock":
        return entry.status == "low_stock"
    if report == "out_of_stock":
        return entry.available_quantity <= 0
    raise ValueError(report)


def _entry_query(actor: Actor, report: str, filters: ReportFilters) -> Select[Any]:
    if filters.sort not in REPORT_SORTS[report]:
        raise ValueError(filters.sort)
    query = entry_select().where(report_condition(report), readable_scope(actor))
    if filters.store_id is not None:
        query = query.where(entries.c.store_id == filters.store_id)
    if filters.location_id is not None:
        query = query.where(entries.c.location_id == filters.location_id)
    bought = filters.supplier_condition(actor)
    if bought is not None:
        query = query.where(bought)
    return query


def _order(sort_expr: Any, tiebreak: Any, descending: bool) -> list[Any]:
    return [sort_expr.desc(), tiebreak.desc()] if descending else [sort_expr, tiebreak]


def _past(sort_expr: Any, tiebreak: Any, cursor: Any, descending: bool) -> ColumnElement[bool]:
    pair, bound = tuple_(sort_expr, tiebreak), tuple_(cursor.value, cursor.id)
    return pair < bound if descending else pair > bound


def _key_type(sort: str) -> type:
    return str if sort in _TEXT_KEYS else int


@dataclass(frozen=True)
class _Walk:
    """One page's bounds: the order it reads in and where it starts."""

    descending: bool
    backwards: bool
    cursor: Any


def _walk(filters: ReportFilters, cursor: str | None) -> _Walk:
    key = decode_cursor(cursor, _key_type(filters.sort), ranked=False) if cursor else None
    backwards = bool(key and key.backwards)
    return _Walk(descending=filters.descending != backwards, backwards=backwards, cursor=key)


def _pages(fetched: list[Any], limit: int, walk: _Walk, key_of: Any
           ) -> tuple[list[Any], str | None, str | None]:
    """The rows of a page in reading order, and the cursors to the next and previous one."""
    more = len(fetched) > limit
    fetched = fetched[:limit]
    if walk.backwards:
        fetched.reverse()
    next_cursor = prev_cursor = None
    if fetched:
        if more or walk.backwards:
            next_cursor = encode_cursor(*key_of(fetched[-1]), backwards=False)
        if walk.cursor is not None and (more or not walk.backwards):
            prev_cursor = encode_cursor(*key_of(fetched[0]), backwards=True)
    return fetched, next_cursor, prev_cursor


def report_page(
    actor: Actor, report: str, filters: ReportFilters, *, cursor: str | None = None,
    limit: int = 50, count_limit: int = 10_000,
) -> EntryPage:
    """One page of a low or out of stock report, keyset-paginated on (sort value, entry id):
    two statements, whatever the page. Raises ValidationError naming `cursor` for a page
    link this report did not make."""
    walk = _walk(filters, cursor)
    sort_expr = _ENTRY_KEYS[filters.sort]
    base = _entry_query(actor, report, filters)
    query = base.add_columns(sort_expr.label("sort_key"))
    if walk.cursor is not None:
        query = query.where(_past(sort_expr, entries.c.id, walk.cursor, walk.descending))
    query = query.order_by(*_order(sort_expr, entries.c.id, walk.descending)).limit(limit + 1)
    fetched = db.session.execute(query).all()
    rows, next_cursor, prev_cursor = _pages(fetched, limit, walk,
                                            lambda r: (r.sort_key, r.id))
    counted = base.with_only_columns(entries.c.id).limit(count_limit + 1).subquery()
    total = int(db.session.execute(select(func.count()).select_from(counted)).scalar_one())
    capped = total > count_limit
    return EntryPage(
        rows=[EntryView(**{k: v for k, v in r._asdict().items() if k != "sort_key"})
              for r in rows],
        total=min(total, count_limit), next_cursor=next_cursor, prev_cursor=prev_cursor,
        total_capped=capped,
    )


def iter_report(actor: Actor, report: str, filters: ReportFilters) -> Iterator[EntryView]:
    """Every entry of a report in its order, read in batches through a server-side cursor,
    so an export of any size runs in constant memory."""
    sort_expr = _ENTRY_KEYS[filters.sort]
    query = _entry_query(actor, report, filters).order_by(
        *_order(sort_expr, entries.c.id, filters.descending))
    result = db.session.execute(query, execution_options={"yield_per": 1_000})
    try:
        for batch in result.partitions():
            for row in batch:
                yield EntryView(**row._asdict())
    finally:
        result.close()
