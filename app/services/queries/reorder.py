"""Reorder suggestions per location: each variant at each location whose stock, counting
what is on its way, has fallen to its reorder point, with how many to order and from whom.

The rule, per entry (one variant at one location):

* what it has coming is available + incoming (open purchase orders) + what draft orders
  already bring there, so a line drafted once is not suggested again;
* its reorder point is the entry's low-stock threshold where one is set (the location's
  own level), else the variant's reorder point; 0 means it is not reordered;
* it is suggested when what it has coming is at or below that point;
* the suggestion is what brings it up to the variant's order-up-to level (up to - coming)
  when that level is above the point; else (none set, or a location's threshold at or
  above it) the variant's reorder quantity, but at least enough to lift it above the point
  (shortfall + 1); either is then raised to the supplier's minimum order and rounded up to
  whole packs;
* the supplier is the variant's preferred one, else the cheapest (queries.suppliers);
  lines without one are suggested at the bare quantity, under "No supplier".

All of it is SQL: filtering, the quantities, the order and the page, so a page costs the
same few statements over 100k entries as over 100. Lines come grouped by supplier (by name,
"No supplier" last), ordered within each group by the chosen column, keyset-paged on
(group, sort value, entry id).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Subquery,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import OPEN_STATUSES, PurchaseOrder, PurchaseOrderLine
from app.permissions import PURCHASING, READ, Actor
from app.services.cursors import KeysCursor, decode_keys, encode_keys
from app.services.money import amount
from app.services.queries.common import (
    available,
    dialect_name,
    entries,
    is_physical,
    locations,
    products,
    readable_scope,
    stores,
)
from app.services.queries.report_pages import ReportFilters
from app.services.queries.suppliers import Scope, chosen_items, store_scope

orders = PurchaseOrder.__table__
order_lines = PurchaseOrderLine.__table__

REORDER_SORTS = ("title", "sku", "location", "available", "incoming", "reorder_point",
                 "shortfall", "suggested")
_TEXT_SORTS = frozenset({"title", "sku", "location"})


@dataclass(frozen=True)
class ReorderSuggestion:
    """One line to reorder: a variant at a location, what it has and has coming, its point,
    the suggested quantity, and the supplier it would be ordered from (None: no supplier).
    Costs are in the supplier's currency, and None for a reader who may not buy in the
    line's store."""

    entry_id: int
    store_id: int
    store_name: str
    product_id: int
    sku: str
    title: str
    location_id: int
    location_code: str
    quantity: int
    reserved_quantity: int
    available_quantity: int
    incoming_quantity: int
    on_draft: int
    low_stock_threshold: int
    reorder_point: int
    reorder_quantity: int
    reorder_up_to: int
    shortfall: int
    suggested: int
    supplier_id: int | None
    supplier_name: str | None
    supplier_sku: str | None
    currency: str | None
    lead_time_days: int | None
    unit_cost: Decimal | None
    pack_size: int
    min_order_qty: int
    # What the last placed order from this supplier paid for the variant, if any.
    last_cost: Decimal | None = None

    @property
    def id(self) -> int:
        """The entry's id: a line's row actions are its entry's."""
        return self.entry_id

    @property
    def coming(self) -> int:
        """What the rule compares with the point: available + incoming + on draft."""
        return self.available_quantity + self.incoming_quantity + self.on_draft

    @property
    def orders_up_to(self) -> bool:
        """Whether the suggestion orders up to the variant's level, not its quantity."""
        return self.reorder_up_to > self.reorder_point

    @property
    def point_from_location(self) -> bool:
        """Whether the point is the location's own (its threshold), not the variant's."""
        return self.low_stock_threshold > 0

    @property
    def line_key(self) -> str:
        """The line as a form sends it back: product, location and the quantity seen, so a
        suggestion that changed since is told apart (purchasing.parse_line_key)."""
        return f"{self.product_id}-{self.location_id}-{self.suggested}"


@dataclass(frozen=True)
class ReorderPage:
    rows: list[ReorderSuggestion]
    total: int
    next_cursor: str | None
    prev_cursor: str | None
    total_capped: bool = False


class _Rule:
    """The rule's SQL for one statement: the chosen supplier items and the draft
    quantities (subqueries scoped to the stores read), and the expressions over them."""

    def __init__(self, in_scope: Scope, dialect: str) -> None:
        self.chosen = chosen = chosen_items(in_scope, dialect)
        self.drafted = drafted = _drafted(in_scope)
        self.on_draft = func.coalesce(drafted.c.on_draft, 0)
        # 64-bit: three quantities of up to a billion or two each overflow PostgreSQL's int.
        self.coming = (cast(entries.c.quantity, BigInteger) - entries.c.reserved_quantity
                       + entries.c.incoming_quantity + self.on_draft)
        self.point = case((entries.c.low_stock_threshold > 0, entries.c.low_stock_threshold),
                          else_=products.c.reorder_point)
        self.shortfall = self.point - self.coming
        # Up to the variant's level when it is above the point (what is coming is then at
        # most the point, so this lifts the stock above it); else the reorder quantity, but
        # at least enough to lift the stock above the point. 64-bit, as `coming` is.
        up_to = products.c.reorder_up_to
        quantity = case((products.c.reorder_quantity > self.shortfall,
                         products.c.reorder_quantity), else_=self.shortfall + 1)
        need = case((up_to > self.point, up_to - self.coming), else_=quantity)
        pack = func.coalesce(chosen.c.pack_size, 1)
        least = func.coalesce(chosen.c.min_order_qty, 0)
        floor = case((least > need, least), else_=need)
        self.suggested = ((floor + pack - 1) // pack) * pack
        self.due = and_(self.point > 0, self.coming <= self.point)
        # Groups by supplier name, "No supplier" last; the id parts two namesakes (in two
        # stores) and is the group's key.
        self.group = (
            case((chosen.c.supplier_id.is_(None), 1), else_=0),
            func.coalesce(chosen.c.supplier_name, ""),
            func.coalesce(chosen.c.supplier_id, 0),
        )
        self.sorts: dict[str, Any] = {
            "title": products.c.title,
            "sku": products.c.sku,
            "location": locations.c.code,
            "available": available,
            "incoming": entries.c.incoming_quantity,
            "reorder_point": self.point,
            "shortfall": self.shortfall,
            "suggested": self.suggested,
        }

    def source(self, *, chosen: bool = True) -> Any:
        """Entries with their product and location, what drafts bring them, and (unless
        left out, for a count that needs no supplier) the supplier chosen."""
        joined = (entries.join(products, products.c.id == entries.c.product_id)
                  .join(locations, locations.c.id == entries.c.location_id))
        if chosen:
            joined = joined.outerjoin(self.chosen,
                                      self.chosen.c.product_id == entries.c.product_id)
        return joined.outerjoin(self.drafted, and_(
            self.drafted.c.product_id == entries.c.product_id,
            self.drafted.c.location_id == entries.c.location_id))

    def conditions(self) -> tuple[ColumnElement[bool], ...]:
        """Stock of its own, neither product nor location archived."""
        return (is_physical, products.c.archived_at.is_(None), locations.c.archived_at.is_(None))

    def due_conditions(self) -> tuple[ColumnElement[bool], ...]:
        """The rule, led by what it implies without the drafts (they only add to what is
        coming): a test of the entry and its product alone, which the database applies
        before looking up drafts and suppliers for the few entries that pass it."""
        ahead = and_(self.point > 0, available + entries.c.incoming_quantity <= self.point)
        return (ahead, self.due)

    def select(self) -> Select[Any]:
        chosen = self.chosen
        return (
            select(
                entries.c.id.label("entry_id"),
                entries.c.store_id,
                stores.c.name.label("store_name"),
                entries.c.product_id,
                products.c.sku,
                products.c.title,
                entries.c.location_id,
                locations.c.code.label("location_code"),
                entries.c.quantity,
                entries.c.reserved_quantity,
                available.label("available_quantity"),
                entries.c.incoming_quantity,
                self.on_draft.label("on_draft"),
                entries.c.low_stock_threshold,
                self.point.label("reorder_point"),
                products.c.reorder_quantity,
                products.c.reorder_up_to,
                self.shortfall.label("shortfall"),
                self.suggested.label("suggested"),
                chosen.c.supplier_id,
                chosen.c.supplier_name,
                chosen.c.supplier_sku,
                chosen.c.currency,
                chosen.c.lead_time_days,
                chosen.c.unit_cost,
                func.coalesce(chosen.c.pack_size, 1).label("pack_size"),
                func.coalesce(chosen.c.min_order_qty, 0).label("min_order_qty"),
            )
            .select_from(self.source().join(stores, stores.c.id == entries.c.store_id))
            .where(*self.conditions())
        )


def _drafted(in_scope: Scope) -> Subquery:
    """What draft orders bring to each (variant, location), in the stores read."""
    return (
        select(order_lines.c.product_id, order_lines.c.location_id,
               func.sum(order_lines.c.ordered_qty).label("on_draft"))
        .join(orders, orders.c.id == order_lines.c.order_id)
        .where(orders.c.status == "draft", in_scope(orders.c.store_id))
        .group_by(order_lines.c.product_id, order_lines.c.location_id)
        .subquery("drafted")
    )


def _suggestion(row: Any, last_cost: Decimal | None = None, *, costs: bool = True
                ) -> ReorderSuggestion:
    """A line from a row of _Rule.select, whose columns are the dataclass's fields in
    order: built by position, as an export builds thousands. Without `costs` (a reader who
    may not buy in its store) its unit cost is left out."""
    v = tuple(row)
    return ReorderSuggestion(*v[:12], int(v[12]), v[13], int(v[14]), v[15], v[16],
                             int(v[17]), int(v[18]), *v[19:24],
                             amount(v[24]) if costs else None, v[25], v[26], last_cost)


class _Costs:
    """Who sees what costs: the unit and last costs of a store's lines are shown only to
    those who may buy there (purchasing:manage), as the purchasing screens show them; the
    last costs are looked up for those lines only."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.seen: dict[int, bool] = {}

    def shown(self, store_id: int) -> bool:
        if store_id not in self.seen:
            self.seen[store_id] = self.actor.can(PURCHASING, store_id)
        return self.seen[store_id]

    def lines(self, rows: Sequence[Any]) -> list[ReorderSuggestion]:
        last = _last_costs((r.product_id, r.supplier_id) for r in rows if self.shown(r.store_id))
        return [_suggestion(r, last.get((r.product_id, r.supplier_id)),
                            costs=self.shown(r.store_id)) for r in rows]


@dataclass(frozen=True)
class _Shape:
    """What shapes the SQL of a page or an export, apart from the values it runs with:
    pages of one shape share their statements (_statements), as building them costs
    about what running a page of one store does."""

    dialect: str
    scoped: bool  # the actor reads some stores only
    store: bool
    location: bool
    supplier: str | None  # "one" (a supplier's lines), "none" (no supplier's), or None
    sort: str
    descending: bool
    backwards: bool
    keyed: bool  # past a cursor
    paged: bool  # a page (limited), else every line (an export)

    @classmethod
    def of(cls, actor: Actor, filters: ReportFilters, key: KeysCursor | None = None, *,
           paged: bool = True) -> _Shape:
        if filters.sort not in REORDER_SORTS:
            raise ValueError(filters.sort)
        supplier = "none" if filters.without_supplier else (
            "one" if filters.supplier_id is not None else None)
        return cls(dialect=dialect_name(), scoped=actor.stores_with(READ) is not None,
                   store=filters.store_id is not None,
                   location=filters.location_id is not None, supplier=supplier,
                   sort=filters.sort, descending=filters.descending,
                   backwards=bool(key and key.backwards), keyed=key is not None, paged=paged)


def _placeholders(shape: _Shape) -> Scope:
    """The stores a statement of this shape reads: the actor's and the one filtered to,
    as placeholders."""
    def condition(column: Any) -> ColumnElement[bool]:
        parts = [column.in_(bindparam("scope", expanding=True))] if shape.scoped else []
        if shape.store:
            parts.append(column == bindparam("store_id"))
        return and_(true(), *parts)
    return condition


@functools.lru_cache(maxsize=256)
def _statements(shape: _Shape) -> tuple[Select[Any], Select[Any]]:
    """The lines (a page of them, or all in order) and their count, for this shape."""
    in_scope = _placeholders(shape)
    rule = _Rule(in_scope, shape.dialect)
    conditions = [*rule.due_conditions(), in_scope(entries.c.store_id)]
    if shape.location:
        conditions.append(entries.c.location_id == bindparam("location_id"))
    if shape.supplier == "none":
        conditions.append(rule.chosen.c.supplier_id.is_(None))
    elif shape.supplier == "one":
        conditions.append(rule.chosen.c.supplier_id == bindparam("supplier_id"))
    keys = _keys(rule, shape.sort, shape.descending)
    lines = rule.select().where(*conditions)
    if shape.keyed:
        lines = lines.where(_past(keys, [bindparam(f"key_{n}") for n in range(len(keys))],
                                  shape.backwards))
    lines = lines.order_by(*_order_by(keys, shape.backwards))
    if shape.paged:
        lines = lines.limit(bindparam("page_limit", type_=Integer()))
    # Counted without the suppliers unless filtered by one: they change no count.
    matching = (select(entries.c.id)
                .select_from(rule.source(chosen=shape.supplier is not None))
                .where(*rule.conditions(), *conditions)
                .limit(bindparam("count_limit", type_=Integer())).subquery())
    return lines, select(func.count()).select_from(matching)


def _values(actor: Actor, filters: ReportFilters, key: KeysCursor | None = None,
            **more: Any) -> dict[str, Any]:
    """The values a statement of the filters' shape runs with."""
    values: dict[str, Any] = {"store_id": filters.store_id,
                              "location_id": filters.location_id,
                              "supplier_id": filters.supplier_id, **more}
    scope = actor.stores_with(READ)
    if scope is not None:
        values["scope"] = sorted(scope)
    if key is not None:
        values.update({f"key_{n}": value for n, value in enumerate(key.values)})
    return values


def _keys(rule: _Rule, sort: str, descending: bool) -> list[tuple[Any, bool]]:
    """The order as (expression, descending) pairs: groups always A to Z, lines within a
    group by the chosen column, then by entry id."""
    return [*((g, False) for g in rule.group), (rule.sorts[sort], descending),
            (entries.c.id, descending)]


def _order_by(keys: Sequence[tuple[Any, bool]], backwards: bool) -> list[Any]:
    return [expr.desc() if desc != backwards else expr.asc() for expr, desc in keys]


def _past(keys: Sequence[tuple[Any, bool]], values: Sequence[Any], backwards: bool
          ) -> ColumnElement[bool]:
    """Rows after `values` in the order `keys` walk in (before them, walking backwards):
    the first key that differs decides, each in its own direction."""
    clauses = []
    for n, (expr, desc) in enumerate(keys):
        later = expr < values[n] if desc != backwards else expr > values[n]
        clauses.append(and_(*(k == v for (k, _), v in zip(keys[:n], values[:n], strict=True)),
                            later))
    return or_(*clauses)


def _key_types(sort: str) -> tuple[type, ...]:
    return (int, str, int, str if sort in _TEXT_SORTS else int, int)


def _key_of(row: ReorderSuggestion, sort: str) -> tuple[Any, ...]:
    value = {"location": row.location_code, "available": row.available_quantity,
             "incoming": row.incoming_quantity}.get(sort, None)
    if value is None:
        value = getattr(row, sort)
    return (1 if row.supplier_id is None else 0, row.supplier_name or "",
            row.supplier_id or 0, value, row.entry_id)


def reorder_suggestions(
    actor: Actor, filters: ReportFilters, *, cursor: str | None = None, limit: int = 50,
    count_limit: int = 10_000,
) -> ReorderPage:
    """One page of reorder suggestions with the filters (store, location, supplier),
    grouped by supplier and sorted within each group; three statements whatever the page
    (the page, its count up to `count_limit`, the page's last costs). Raises
    ValidationError naming `cursor` for a page link this report did not make."""
    key = decode_keys(cursor, _key_types(filters.sort)) if cursor else None
    backwards = bool(key and key.backwards)
    lines, count = _statements(_Shape.of(actor, filters, key))
    fetched = db.session.execute(lines, _values(actor, filters, key, page_limit=limit + 1)
                                 ).all()
    more = len(fetched) > limit
    fetched = fetched[:limit]
    if backwards:
        fetched.reverse()
    rows = _Costs(actor).lines(fetched)
    next_cursor = prev_cursor = None
    if rows:
        if more or backwards:
            next_cursor = encode_keys(_key_of(rows[-1], filters.sort), backwards=False)
        if key is not None and (more or not backwards):
            prev_cursor = encode_keys(_key_of(rows[0], filters.sort), backwards=True)
    total = int(db.session.execute(count, _values(actor, filters,
                                                  count_limit=count_limit + 1)).scalar_one())
    return ReorderPage(rows=rows, total=min(total, count_limit), next_cursor=next_cursor,
                       prev_cursor=prev_cursor, total_capped=total > count_limit)


def iter_reorder_suggestions(actor: Actor, filters: ReportFilters
                             ) -> Iterator[ReorderSuggestion]:
    """Every suggestion in the page's order, read in batches through a server-side
    cursor (an export of any size in constant memory); last costs looked up per batch."""
    lines, _count = _statements(_Shape.of(actor, filters, paged=False))
    costs = _Costs(actor)
    result = db.session.execute(lines, _values(actor, filters),
                                execution_options={"yield_per": 1_000})
    try:
        for batch in result.partitions():
            yield from costs.lines(batch)
    finally:
        result.close()


def reorder_suggestion(actor: Actor, entry_id: int) -> ReorderSuggestion | None:
    """The suggestion for one entry the actor reads, or None when it has none now (after
    an action on its row)."""
    store_id = db.session.scalar(
        select(entries.c.store_id).where(entries.c.id == entry_id, readable_scope(actor)))
    if store_id is None:
        return None
    rule = _Rule(store_scope(actor, store_id), dialect_name())
    row = db.session.execute(
        rule.select().where(*rule.due_conditions(), entries.c.id == entry_id)
    ).one_or_none()
    if row is None:
        return None
    return _Costs(actor).lines([row])[0]


@dataclass(frozen=True)
class LineState:
    """A (variant, location) of a store as the rule sees it now, due or not: what a write
    checks a posted line against."""

    suggestion: ReorderSuggestion
    due: bool


def line_states(session: Session, actor: Actor, store_id: int,
                pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], LineState]:
    """The rule's figures for these (product_id, location_id) pairs of one store, read in
    `session` (the caller's transaction), keyed by the pair. A pair with no entry in the
    store, or whose variant or location is archived or holds no stock of its own, is
    absent."""
    wanted = sorted(set(pairs))
    if not wanted:
        return {}
    rule = _Rule(store_scope(actor, store_id), dialect_name())
    query = rule.select().add_columns(rule.due.label("due")).where(
        entries.c.store_id == store_id,
        tuple_(entries.c.product_id, entries.c.location_id).in_(wanted),
    )
    found = {}
    for row in session.execute(query):
        found[(row.product_id, row.location_id)] = LineState(_suggestion(row[:-1]),
                                                             bool(row.due))
    return found


@functools.lru_cache(maxsize=1)
def _last_costs_statement() -> Select[Any]:
    rank = func.row_number().over(
        partition_by=(order_lines.c.product_id, orders.c.supplier_id),
        order_by=(orders.c.ordered_at.desc(), order_lines.c.id.desc()),
    )
    ranked = (
        select(order_lines.c.product_id, orders.c.supplier_id, order_lines.c.unit_cost,
               rank.label("rank"))
        .join(orders, orders.c.id == order_lines.c.order_id)
        .where(
            orders.c.status.in_((*OPEN_STATUSES, "received")),
            order_lines.c.product_id.in_(bindparam("products", expanding=True)),
            orders.c.supplier_id.in_(bindparam("suppliers", expanding=True)),
        )
        .subquery()
    )
    return select(ranked.c.product_id, ranked.c.supplier_id, ranked.c.unit_cost).where(
        ranked.c.rank == literal(1))


def _last_costs(pairs: Iterable[tuple[int, int | None]]) -> dict[tuple[int, int], Decimal]:
    """What the latest placed order from each supplier paid for each variant (in the
    order's currency, the supplier's), for (product_id, supplier_id) pairs; one statement."""
    wanted = {(p, s) for p, s in pairs if s is not None}
    if not wanted:
        return {}
    found = db.session.execute(_last_costs_statement(), {
        "products": sorted({p for p, _ in wanted}), "suppliers": sorted({s for _, s in wanted})})
    return {(r.product_id, r.supplier_id): amount(r.unit_cost)  # type: ignore[misc]
            for r in found if (r.product_id, r.supplier_id) in wanted}
