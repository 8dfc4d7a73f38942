"""Read models: stock status, entries, product totals, stats and reports, computed in SQL.

Every function takes the actor and sees only the stores where it holds inventory:read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    distinct,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.sql import visitors

from app.extensions import db
from app.models import InventoryEntry, Location, Product, Reservation, Store
from app.models.catalog import SEARCH_TABLE
from app.models.stores import normalize_location_code
from app.permissions import READ, Actor
from app.services import tallies
from app.services.cursors import decode_cursor, encode_cursor
from app.services.errors import NotFound, ValidationError
from app.services.validation import Checker, is_id

entries = InventoryEntry.__table__
products = Product.__table__
locations = Location.__table__
stores = Store.__table__
reservations = Reservation.__table__

STATUSES = ("in_stock", "low_stock", "out_of_stock", "on_backorder")
STATUS_LABELS = {
    "in_stock": "In stock",
    "low_stock": "Low stock",
    "out_of_stock": "Out of stock",
    "on_backorder": "On backorder",
}

available = entries.c.quantity - entries.c.reserved_quantity
is_physical = products.c.type == "physical"


def status_condition(status: str) -> ColumnElement[bool]:
    """A WHERE clause selecting entries in `status`; plain predicates, so indexes apply."""
    if status == "out_of_stock":
        return and_(is_physical, available <= 0, products.c.allow_backorder == false())
    if status == "on_backorder":
        return and_(is_physical, available <= 0, products.c.allow_backorder == true())
    if status == "low_stock":
        return and_(
            is_physical,
            available > 0,
            entries.c.low_stock_threshold > 0,
            available <= entries.c.low_stock_threshold,
        )
    if status == "in_stock":
        return or_(
            not_(is_physical),
            and_(
                available > 0,
                or_(
                    entries.c.low_stock_threshold == 0,
                    available > entries.c.low_stock_threshold,
                ),
            ),
        )
    raise ValueError(status)


def status_expression() -> ColumnElement[str]:
    """The entry's status as a SQL expression (the SPEC's rules, in order)."""
    return case(
        (not_(is_physical), literal("in_stock")),
        (
            available <= 0,
            case((products.c.allow_backorder == true(), "on_backorder"), else_="out_of_stock"),
        ),
        (
            and_(entries.c.low_stock_threshold > 0, available <= entries.c.low_stock_threshold),
            "low_stock",
        ),
        else_="in_stock",
    )


def readable_scope(actor: Actor, column: Any = entries.c.store_id) -> ColumnElement[bool]:
    stores_ids = actor.stores_with(READ)
    if stores_ids is None:
        return true()
    return column.in_(sorted(stores_ids))


@dataclass(frozen=True)
class EntryView:
    id: int
    store_id: int
    store_name: str
    product_id: int
    sku: str
    title: str
    gtin: str | None
    product_type: str
    location_id: int
    location_code: str
    quantity: int
    reserved_quantity: int
    available_quantity: int
    incoming_quantity: int
    low_stock_threshold: int
    status: str
    version: int
    last_counted_at: datetime | None
    last_movement_at: datetime | None
    updated_at: datetime

    @property
    def unlimited(self) -> bool:
        return self.product_type != "physical"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def _entry_select(product: Any = products) -> Select[Any]:
    """Entries as EntryView's columns; `product` is products or a subquery of it (the
    search's ordered matches) to read the product's columns from."""
    status = status_expression()
    if product is not products:
        status = _reading_products_from(product, status)
    return (
        select(
            entries.c.id,
            entries.c.store_id,
            stores.c.name.label("store_name"),
            entries.c.product_id,
            product.c.sku,
            product.c.title,
            product.c.gtin,
            product.c.type.label("product_type"),
            entries.c.location_id,
            locations.c.code.label("location_code"),
            entries.c.quantity,
            entries.c.reserved_quantity,
            available.label("available_quantity"),
            entries.c.incoming_quantity,
            entries.c.low_stock_threshold,
            status.label("status"),
            entries.c.version,
            entries.c.last_counted_at,
            entries.c.last_movement_at,
            entries.c.updated_at,
        )
        .select_from(entries)
        .join(product, product.c.id == entries.c.product_id)
        .join(locations, locations.c.id == entries.c.location_id)
        .join(stores, stores.c.id == entries.c.store_id)
    )


def get_entry(actor: Actor, entry_id: int) -> EntryView:
    """One entry with its names and status. Raises NotFound (also for foreign stores)."""
    scope = actor.stores_with(READ)
    values: dict[str, Any] = {"entry_id": entry_id}
    if scope is not None:
        values["scope"] = sorted(scope)
    row = db.session.execute(_entry_statement(scope is not None), values).one_or_none()
    if row is None:
        raise NotFound("Inventory entry not found.", {"entry_id": "No such inventory entry."})
    return EntryView(**row._asdict())


@functools.lru_cache(maxsize=2)
def _entry_statement(scoped: bool) -> Select[Any]:
    """get_entry's statement with placeholders, built once: a dialog and the row it
    updates read an entry up to three times a request, and building the statement costs
    more than running it."""
    query = _entry_select().where(entries.c.id == bindparam("entry_id", type_=Integer()))
    if scoped:
        query = query.where(entries.c.store_id.in_(bindparam("scope", expanding=True)))
    return query


@dataclass(frozen=True)
class ProductStock:
    product_id: int
    store_id: int
    sku: str
    title: str
    product_type: str
    allow_backorder: bool
    reorder_point: int
    reorder_quantity: int
    locations: list[EntryView]
    total_quantity: int
    total_reserved: int
    total_available: int
    status: str

    @property
    def unlimited(self) -> bool:
        return self.product_type != "physical"


def product_stock(actor: Actor, product_id: int) -> ProductStock:
    """Stock of one product per location, with totals and the product-level status."""
    product = db.session.execute(
        select(products).where(
            products.c.id == product_id, readable_scope(actor, products.c.store_id)
        )
    ).one_or_none()
    if product is None:
        raise NotFound("Product not found.")
    rows = [
        EntryView(**r._asdict())
        for r in db.session.execute(
            _entry_select().where(entries.c.product_id == product_id).order_by(locations.c.code)
        )
    ]
    total_q = sum(r.quantity for r in rows)
    total_r = sum(r.reserved_quantity for r in rows)
    thresholds = sum(r.low_stock_threshold for r in rows)
    return ProductStock(
        product_id=product.id,
        store_id=product.store_id,
        sku=product.sku,
        title=product.title,
        product_type=product.type,
        allow_backorder=product.allow_backorder,
        reorder_point=product.reorder_point,
        reorder_quantity=product.reorder_quantity,
        locations=rows,
        total_quantity=total_q,
        total_reserved=total_r,
        total_available=total_q - total_r,
        status=product_status(product.type, product.allow_backorder, total_q - total_r, thresholds),
    )


def product_status(product_type: str, allow_backorder: bool, available_total: int,
                   threshold_total: int) -> str:
    """The SPEC's status rules applied to a product's totals over its entries."""
    if product_type != "physical":
        return "in_stock"
    if available_total <= 0:
        return "on_backorder" if allow_backorder else "out_of_stock"
    if threshold_total > 0 and available_total <= threshold_total:
        return "low_stock"
    return "in_stock"


def stock_stats(actor: Actor, *, store_id: int | None = None) -> dict[str, int]:
    """The overview's cards and counts by status, from the stock tallies: a sum over a few
    rows per location instead of a pass over every entry (app/models/tallies.py)."""
    scope = actor.stores_with(READ)
    if store_id is not None:
        scope = {store_id} if scope is None or store_id in scope else set()
    t = tallies.totals(scope)
    stats = {
        "total_entries": t.entries, "total_quantity": t.quantity, "total_reserved": t.reserved,
        "low_stock": t.low_stock, "out_of_stock": t.out_of_stock,
        "on_backorder": t.on_backorder, "stores_with_inventory": t.stores,
        "unique_locations": t.locations,
    }
    return _with_derived(stats)


def _with_derived(stats: dict[str, int]) -> dict[str, int]:
    stats["total_available"] = stats["total_quantity"] - stats["total_reserved"]
    stats["in_stock"] = stats["total_entries"] - sum(
        stats[s] for s in STATUSES if s != "in_stock"
    )
    stats["low_stock_count"] = stats["low_stock"]
    return stats


def stock_stats_scan(actor: Actor, *, store_id: int | None = None) -> dict[str, int]:
    """stock_stats the long way, in one statement over every entry: what the tallies must
    equal, and the baseline the scale benchmark compares them with.

    One pass over the entries (joined to their products for the status rules) counts with
    FILTER clauses; in_stock is what the other three statuses leave, as the four partition
    every entry. Stores and locations with stock are counted by index look-ups (EXISTS per
    store and per location) rather than a DISTINCT over every entry."""
    scoped = [readable_scope(actor)]
    if store_id is not None:
        scoped.append(entries.c.store_id == store_id)
    counted = {s: func.count().filter(status_condition(s)) for s in STATUSES if s != "in_stock"}
    holding = select(entries.c.id).where(*scoped)
    stores_with = (
        select(func.count()).select_from(stores).where(
            readable_scope(actor, stores.c.id),
            stores.c.id == store_id if store_id is not None else true(),
            holding.where(entries.c.store_id == stores.c.id).exists(),
        ).scalar_subquery()
    )
    locations_with = (
        select(func.count()).select_from(locations).where(
            readable_scope(actor, locations.c.store_id),
            locations.c.store_id == store_id if store_id is not None else true(),
            holding.where(entries.c.location_id == locations.c.id).exists(),
        ).scalar_subquery()
    )
    query = (
        select(
            func.count().label("total_entries"),
            func.coalesce(func.sum(entries.c.quantity), 0).label("total_quantity"),
            func.coalesce(func.sum(entries.c.reserved_quantity), 0).label("total_reserved"),
            *(expression.label(s) for s, expression in counted.items()),
            stores_with.label("stores_with_inventory"),
            locations_with.label("unique_locations"),
        )
        .select_from(entries)
        .join(products, products.c.id == entries.c.product_id)
        .where(*scoped)
    )
    row = db.session.execute(query).one()
    return _with_derived({k: int(v or 0) for k, v in row._asdict().items()})


def low_stock(
    actor: Actor, *, store_id: int | None = None, threshold: int | None = None, limit: int = 500
) -> list[EntryView]:
    """Entries in low_stock; with `threshold`, every physical entry whose available is at
    or below it (the seed API's `?threshold=`)."""
    if threshold is None:
        condition = status_condition("low_stock")
    else:
        condition = and_(is_physical, available <= threshold)
    return _entries_where(actor, condition, store_id, limit, order=(available, entries.c.id))


def out_of_stock(actor: Actor, *, store_id: int | None = None, limit: int = 500) -> list[EntryView]:
    """Physical entries with nothing available, backordered or not."""
    condition = and_(is_physical, available <= 0)
    return _entries_where(actor, condition, store_id, limit, order=(products.c.title, entries.c.id))


def _entries_where(
    actor: Actor, condition: ColumnElement[bool], store_id: int | None, limit: int,
    order: tuple[Any, ...],
) -> list[EntryView]:
    query = _entry_select().where(condition, readable_scope(actor))
    if store_id is not None:
        query = query.where(entries.c.store_id == store_id)
    return [
        EntryView(**r._asdict())
        for r in db.session.execute(query.order_by(*order).limit(limit))
    ]


@dataclass(frozen=True)
class ReorderLine:
    product_id: int
    store_id: int
    store_name: str
    sku: str
    title: str
    quantity_on_hand: int
    quantity_available: int
    incoming_quantity: int
    reorder_point: int
    reorder_quantity: int

    @property
    def suggested_order(self) -> int:
        return self.reorder_quantity


def reorder_report(
    actor: Actor, *, store_id: int | None = None, limit: int = 1000
) -> list[ReorderLine]:
    """Physical products whose on-hand total is at or below their reorder point
    (a reorder point of 0 means the product is not reordered)."""
    on_hand = func.coalesce(func.sum(entries.c.quantity), 0)
    query = (
        select(
            products.c.id.label("product_id"),
            products.c.store_id,
            stores.c.name.label("store_name"),
            products.c.sku,
            products.c.title,
            on_hand.label("quantity_on_hand"),
            func.coalesce(func.sum(available), 0).label("quantity_available"),
            func.coalesce(func.sum(entries.c.incoming_quantity), 0).label("incoming_quantity"),
            products.c.reorder_point,
            products.c.reorder_quantity,
        )
        .select_from(products)
        .join(stores, stores.c.id == products.c.store_id)
        .outerjoin(entries, entries.c.product_id == products.c.id)
        .where(
            is_physical,
            products.c.reorder_point > 0,
            products.c.archived_at.is_(None),
            readable_scope(actor, products.c.store_id),
        )
        .group_by(products.c.id, stores.c.name)
        .having(on_hand <= products.c.reorder_point)
        .order_by(stores.c.name, products.c.title, products.c.id)
        .limit(limit)
    )
    if store_id is not None:
        query = query.where(products.c.store_id == store_id)
    return [ReorderLine(**r._asdict()) for r in db.session.execute(query)]


@dataclass(frozen=True)
class ReservationView:
    id: int
    order_ref: str
    line_ref: str | None
    quantity: int
    open_quantity: int
    status: str
    expires_at: datetime | None
    created_at: datetime
    closed_at: datetime | None


def entry_reservations(actor: Actor, entry_id: int, *, limit: int = 100) -> list[ReservationView]:
    """An entry's reservations, active first, newest first."""
    get_entry(actor, entry_id)  # NotFound for foreign or missing entries
    rows = db.session.execute(
        select(
            reservations.c.id, reservations.c.order_ref, reservations.c.line_ref,
            reservations.c.quantity, reservations.c.open_quantity, reservations.c.status,
            reservations.c.expires_at, reservations.c.created_at, reservations.c.closed_at,
        )
        .where(reservations.c.entry_id == entry_id)
        .order_by((reservations.c.status == "active").desc(), reservations.c.id.desc())
        .limit(limit)
    )
    return [ReservationView(**r._asdict()) for r in rows]


# --------------------------------------------------------------------------- overview

SORTS: dict[str, Any] = {
    "title": products.c.title,
    "sku": products.c.sku,
    "store": stores.c.name,
    "location": locations.c.code,
    "quantity": entries.c.quantity,
    "reserved": entries.c.reserved_quantity,
    "available": available,
    "incoming": entries.c.incoming_quantity,
    "threshold": entries.c.low_stock_threshold,
    "last_movement": func.coalesce(entries.c.last_movement_at, entries.c.created_at),
}
# The Python type of each sort key, so a cursor made for another column is refused.
SORT_TYPES: dict[str, type] = {
    "title": str, "sku": str, "store": str, "location": str, "last_movement": datetime,
}
PAGE_SIZES = (25, 50, 100, 200)


@dataclass(frozen=True)
class EntryFilters:
    """Everything that narrows and orders the overview; the URL carries all of it."""

    store_id: int | None = None
    location_id: int | None = None
    status: str | None = None
    max_quantity: int | None = None
    search: str | None = None
    sort: str = "title"
    descending: bool = False


@dataclass(frozen=True)
class EntryPage:
    rows: list[EntryView]
    total: int
    next_cursor: str | None
    prev_cursor: str | None
    # True when the listing was asked to count no further than `count_limit` and there
    # are more: `total` is then that limit, shown as "10,000+".
    total_capped: bool = False


# --------------------------------------------------------------------------- search

# Trigram indexes serve substrings of at least this many characters.
MIN_SUBSTRING = 3
fts = table(SEARCH_TABLE, column("rowid"))


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _like_escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_mode(term: str) -> str:
    """How a search term is matched: "substring" of a title or SKU from MIN_SUBSTRING
    characters, else "sku_prefix" (the start of a SKU), which the overview says aloud; a
    whole GTIN matches in both."""
    return "substring" if len(term.strip()) >= MIN_SUBSTRING else "sku_prefix"


def exact_code_condition(term: str | ColumnElement[str]) -> ColumnElement[bool]:
    """The product's SKU (any case) or GTIN is exactly `term`: what a scanner types.
    Served by the case-folded SKU index and the GTIN index. SQLite folds ASCII letters
    only; PostgreSQL folds every letter."""
    if _dialect() == "sqlite":
        sku_matches = products.c.sku.collate("NOCASE") == term
    else:
        sku_matches = func.lower(products.c.sku) == func.lower(term)
    return or_(sku_matches, products.c.gtin == term)


def search_condition(term: str, product_id: Any = products.c.id) -> ColumnElement[bool]:
    """Products whose title or SKU contains `term` (any case), through the trigram
    indexes, or whose GTIN is `term`; a term shorter than MIN_SUBSTRING matches the start
    of a SKU instead of a substring. `product_id` is the column tested: the products' own
    id, or an entry's product_id, which spares a query that needs nothing else of the
    product the join to products."""
    return _search_clause(search_mode(term), product_id, _search_values(term))


def _search_values(term: str) -> dict[str, str]:
    """What a search for `term` fills _search_clause's values with."""
    escaped = _like_escaped(term)
    return {
        "search_term": term,
        "search_pattern": (escaped + "%" if search_mode(term) == "sku_prefix"
                           else "%" + escaped + "%"),
        # A quoted FTS5 phrase of trigrams is a substring match; only " is special in it.
        "search_phrase": '"' + term.replace('"', '""') + '"',
    }


# Placeholders for _search_values, for a statement built once and run with many terms.
_SEARCH_PARAMS: dict[str, Any] = {
    name: bindparam(name, type_=String()) for name in _search_values("x")
}


def _search_clause(mode: str, product_id: Any, values: dict[str, Any]) -> ColumnElement[bool]:
    """search_condition for a term of `mode`, with `values` as _search_values gives them
    or _SEARCH_PARAMS."""
    whole_gtin = products.c.gtin == values["search_term"]
    pattern = values["search_pattern"]
    if mode == "sku_prefix":
        if _dialect() == "sqlite":
            # LIKE folds ASCII case on SQLite and uses the NOCASE index for a prefix.
            prefix = or_(products.c.sku.like(pattern, escape="\\"), whole_gtin)
        else:
            prefix = or_(func.lower(products.c.sku).like(func.lower(pattern), escape="\\"),
                         whole_gtin)
        if product_id is products.c.id:
            return prefix
        return product_id.in_(select(products.c.id).where(prefix))
    if _dialect() == "sqlite":
        phrase = values["search_phrase"]
        return product_id.in_(union_all(
            select(fts.c.rowid).where(literal_column(SEARCH_TABLE).op("MATCH")(phrase)),
            select(products.c.id).where(whole_gtin),
        ))
    # One SELECT per column and one for the GTIN, so the planner weighs each index on its
    # own; an OR of them is costed as a whole and can tip into a scan of every product.
    found = union_all(
        select(products.c.id).where(products.c.title.ilike(pattern, escape="\\")),
        select(products.c.id).where(products.c.sku.ilike(pattern, escape="\\")),
        select(products.c.id).where(whole_gtin),
    )
    return product_id.in_(found)


def filter_conditions(actor: Actor, filters: EntryFilters) -> list[ColumnElement[bool]]:
    """The WHERE clauses of `filters` (and the actor's stores), with their values."""
    conditions = _filter_clauses(_Listing.of(actor, filters), _filter_values(actor, filters))
    term = _search_term(filters)
    if term is not None:
        conditions.append(search_condition(term))
    return conditions


def _filter_clauses(
    listing: _Listing, values: dict[str, Any] | None = None
) -> list[ColumnElement[bool]]:
    """The filters of `listing` but the search, with `values` (_filter_values) in them, or
    placeholders for those."""
    def value(name: str, **kw: Any) -> Any:
        return bindparam(name, **kw) if values is None else values[name]

    clauses = []
    if listing.scoped:
        clauses.append(entries.c.store_id.in_(value("scope", expanding=True)))
    if listing.store:
        clauses.append(entries.c.store_id == value("store_id", type_=Integer()))
    if listing.location:
        clauses.append(entries.c.location_id == value("location_id", type_=Integer()))
    if listing.status is not None:
        clauses.append(status_condition(listing.status))
    if listing.max_quantity:
        clauses.append(entries.c.quantity <= value("max_quantity", type_=Integer()))
    return clauses


def _filter_values(actor: Actor, filters: EntryFilters) -> dict[str, Any]:
    scope = actor.stores_with(READ)
    values: dict[str, Any] = {
        "store_id": filters.store_id, "location_id": filters.location_id,
        "max_quantity": filters.max_quantity,
    }
    if scope is not None:
        values["scope"] = sorted(scope)
    return values


def _search_term(filters: EntryFilters) -> str | None:
    return (filters.search or "").strip() or None


# Sorts on a column of the product, which a search can order the matching products by.
PRODUCT_SORTS = frozenset({"title", "sku"})


@dataclass(frozen=True)
class _Listing:
    """What shapes the SQL of a listing, apart from the values it runs with: two listings
    of one shape share their statements (_listing_statements)."""

    dialect: str
    sort: str
    descending: bool  # the order read: the filter's, reversed when walking backwards
    backwards: bool
    keyed: bool  # past a cursor
    mode: str | None  # the search's search_mode, None without a search
    scoped: bool  # the actor reads some stores only
    store: bool
    location: bool
    status: str | None
    max_quantity: bool
    capped: bool  # counted no further than a limit
    # Order the matching products first and then read their entries (PostgreSQL, a
    # search sorted on a column of the product): see _ordered_matches.
    products_first: bool

    @classmethod
    def of(cls, actor: Actor, filters: EntryFilters, key: Any = None,
           count_limit: int | None = None) -> _Listing:
        term = _search_term(filters)
        backwards = bool(key and key.backwards)
        dialect = _dialect()
        return cls(
            dialect=dialect, sort=filters.sort,
            descending=filters.descending != backwards, backwards=backwards,
            keyed=key is not None, mode=search_mode(term) if term is not None else None,
            scoped=actor.stores_with(READ) is not None,
            store=filters.store_id is not None, location=filters.location_id is not None,
            status=filters.status, max_quantity=filters.max_quantity is not None,
            capped=count_limit is not None,
            products_first=(term is not None and filters.sort in PRODUCT_SORTS
                            and dialect == "postgresql"),
        )


@functools.lru_cache(maxsize=512)
def _listing_statements(listing: _Listing) -> tuple[Select[Any], Select[Any]]:
    """The page and count statements of listings shaped like `listing`, with
    placeholders for the values list_entries passes: built once per shape, as building
    them costs about what running the page does."""
    sort_expr = SORTS[listing.sort]
    conditions = _filter_clauses(listing)
    rank = (case((exact_code_condition(_SEARCH_PARAMS["search_term"]), 0), else_=1)
            if listing.mode is not None else None)
    descending, backwards = listing.descending, listing.backwards
    key_value = bindparam("key_value", type_=sort_expr.type)
    key_id, key_rank = bindparam("key_id", type_=Integer()), bindparam("key_rank", type_=Integer())
    if listing.products_first:
        assert rank is not None and listing.mode is not None
        hit = _ordered_matches(listing, rank, key_value, key_rank)
        query = _entry_select(hit).where(*(_reading_products_from(hit, c) for c in conditions))
        sort_expr, rank = hit.c[sort_expr.key], hit.c.rank_key
    else:
        query = _entry_select().where(*conditions)
        if listing.mode is not None:
            query = query.where(_search_clause(listing.mode, products.c.id, _SEARCH_PARAMS))
        if listing.dialect == "sqlite" and listing.sort in PRODUCT_SORTS:
            query = query.where(*_product_store_clauses(listing))
    query = query.add_columns(sort_expr.label("sort_key"))
    if rank is not None:
        query = query.add_columns(rank.label("rank_key"))
    if listing.keyed:
        pair = tuple_(sort_expr, entries.c.id)
        bound = tuple_(key_value, key_id)
        after = pair < bound if descending else pair > bound
        # The same bound on the sort value alone: a plain comparison an index on that
        # column can serve, which the row comparison above (two tables) cannot.
        near = sort_expr <= key_value if descending else sort_expr >= key_value
        if rank is None:
            query = query.where(after, near)
        else:
            later_rank = rank < key_rank if backwards else rank > key_rank
            query = query.where(or_(later_rank, and_(rank == key_rank, after)))
    order = [sort_expr.desc(), entries.c.id.desc()] if descending else [sort_expr, entries.c.id]
    if rank is not None:
        order.insert(0, rank.desc() if backwards else rank)
    page = query.order_by(*order).limit(bindparam("page_limit", type_=Integer()))

    matching = select(entries.c.id).select_from(entries)
    if listing.status is not None:
        matching = matching.join(products, products.c.id == entries.c.product_id)
    matching = matching.where(*conditions)
    if listing.mode is not None:
        # The matching products' ids against the entries' own product_id: no join.
        matching = matching.where(
            _search_clause(listing.mode, entries.c.product_id, _SEARCH_PARAMS))
    if listing.capped:
        matching = matching.limit(bindparam("count_limit", type_=Integer()))
    return page, select(func.count()).select_from(matching.subquery())


def _product_store_clauses(listing: _Listing) -> list[ColumnElement[bool]]:
    """The listing's store filters said again of the product (an entry's product is of
    the entry's store: a foreign key on both columns). They narrow a search's ordered
    matches (_ordered_matches); and on SQLite, for a sort on a column of the product, they
    let the planner walk the products of those stores in order and stop after a page,
    instead of sorting every entry of the store: 23 -> 0.2 ms for an owner's first page
    of 25,000 entries."""
    clauses = []
    if listing.scoped:
        clauses.append(products.c.store_id.in_(bindparam("scope", expanding=True)))
    if listing.store:
        clauses.append(products.c.store_id == bindparam("store_id", type_=Integer()))
    return clauses


def _ordered_matches(listing: _Listing, rank: Any, key_value: Any, key_rank: Any) -> Any:
    """The products a search matches in the listing's stores, with their rank, in the
    page's (rank, sort column) order and past the cursor's product, as a subquery that
    PostgreSQL keeps whole (OFFSET 0): its order then carries into the join with the
    entries, and the page stops after the entries of its first products."""
    assert listing.mode is not None
    sort_expr = SORTS[listing.sort]
    where = [_search_clause(listing.mode, products.c.id, _SEARCH_PARAMS)]
    # An entry's product is of the entry's store (a foreign key on both columns).
    where += _product_store_clauses(listing)
    if listing.keyed:
        later_rank = rank < key_rank if listing.backwards else rank > key_rank
        near = sort_expr <= key_value if listing.descending else sort_expr >= key_value
        where.append(or_(later_rank, and_(rank == key_rank, near)))
    rank_key = rank.label("rank_key")
    return (
        select(products.c.id, products.c.sku, products.c.title, products.c.gtin,
               products.c.type, products.c.allow_backorder, rank_key)
        .where(*where)
        .order_by(rank_key.desc() if listing.backwards else rank_key,
                  sort_expr.desc() if listing.descending else sort_expr)
        .offset(literal_column("0"))
        .subquery("hit")
    )


def _reading_products_from(source: Any, element: Any) -> Any:
    """`element` with every column of products read from `source`, a subquery of
    products, instead."""
    def swap(found: Any, **_kw: Any) -> Any:
        if found is products:
            return source
        if isinstance(found, Column) and found.table is products:
            return source.c[found.key]
        return None
    return visitors.replacement_traverse(element, {}, swap)


def list_entries(
    actor: Actor, filters: EntryFilters, *, cursor: str | None = None, limit: int = 50,
    count_limit: int | None = None,
) -> EntryPage:
    """One page of the overview, keyset-paginated on (sort value, id) so a deep page costs
    what the first one does; a search puts exact SKU/GTIN matches first and pages on
    (rank, sort value, id). Two queries: the page and its total, exact, or with
    `count_limit` counted no further than that (an exact count reads every matching row:
    ~0.2 s at 1M entries). Raises ValidationError naming `cursor` for a page link this
    listing did not make."""
    term = _search_term(filters)
    key = (
        decode_cursor(cursor, SORT_TYPES.get(filters.sort, int), ranked=term is not None)
        if cursor else None
    )
    listing = _Listing.of(actor, filters, key, count_limit)
    page, count = _listing_statements(listing)
    values = {**_filter_values(actor, filters), "page_limit": limit + 1}
    if term is not None:
        values.update(_search_values(term))
    if key is not None:
        values.update(key_value=key.value, key_id=key.id, key_rank=key.rank)
    if count_limit is not None:
        values["count_limit"] = count_limit + 1
    backwards = listing.backwards
    fetched = db.session.execute(page, values).all()
    more = len(fetched) > limit
    fetched = fetched[:limit]
    if backwards:
        fetched.reverse()
    hidden = {"sort_key", "rank_key"}
    rows = [EntryView(**{k: v for k, v in r._asdict().items() if k not in hidden})
            for r in fetched]
    total = int(db.session.execute(count, values).scalar_one())
    capped = count_limit is not None and total > count_limit
    if capped:
        total = count_limit

    next_cursor = prev_cursor = None
    if fetched:
        first, last = fetched[0], fetched[-1]

        def ranked(row: Any) -> int | None:
            return int(row.rank_key) if term is not None else None

        if (more and not backwards) or backwards:
            next_cursor = encode_cursor(last.sort_key, last.id, backwards=False,
                                        rank=ranked(last))
        if key is not None and (more or not backwards):
            prev_cursor = encode_cursor(first.sort_key, first.id, backwards=True,
                                        rank=ranked(first))
    return EntryPage(rows=rows, total=total, next_cursor=next_cursor, prev_cursor=prev_cursor,
                     total_capped=bool(capped))


def find_exact(actor: Actor, code: str, *, limit: int = 20, store_id: int | None = None,
               location_id: int | None = None) -> list[EntryView]:
    """Entries whose product SKU (any case) or GTIN is exactly `code`: what a scanner types,
    in the actor's stores (only `store_id` and `location_id` when given). One indexed look-up
    (the case-folded SKU index, the GTIN index)."""
    term = code.strip()
    if not term:
        return []
    scope = actor.stores_with(READ)
    values = {"search_term": term, "exact_limit": limit,
              "scope": sorted(scope) if scope is not None else None,
              "exact_store": store_id, "exact_location": location_id}
    query = _exact_statement(_dialect(), scope is not None, store_id is not None,
                             location_id is not None)
    return [EntryView(**r._asdict()) for r in db.session.execute(query, values)]


@functools.lru_cache(maxsize=32)
def _exact_statement(dialect: str, scoped: bool, in_store: bool = False,
                     at_location: bool = False) -> Select[Any]:
    """find_exact's statement, with placeholders for its values: built once for each
    dialect (exact_code_condition differs) and kind of reader (see _listing_statements)."""
    query = _entry_select().where(exact_code_condition(_SEARCH_PARAMS["search_term"]))
    if scoped:
        query = query.where(entries.c.store_id.in_(bindparam("scope", expanding=True)))
    if in_store:
        query = query.where(entries.c.store_id == bindparam("exact_store", type_=Integer()))
    if at_location:
        query = query.where(
            entries.c.location_id == bindparam("exact_location", type_=Integer())
        )
    return query.order_by(entries.c.id).limit(bindparam("exact_limit", type_=Integer()))


def find_location_code(actor: Actor, code: str, *, store_id: int | None = None
                       ) -> list[LocationOption]:
    """Active locations in the actor's stores (only `store_id` when given) whose code is
    exactly `code`, any case: a scanned shelf label."""
    term = code.strip()
    if not term or len(term) > 100:
        return []
    query = select(locations.c.id, locations.c.store_id, locations.c.code, locations.c.name).where(
        locations.c.archived_at.is_(None), readable_scope(actor, locations.c.store_id),
        func.lower(locations.c.code) == term.lower(),
    )
    if store_id is not None:
        query = query.where(locations.c.store_id == store_id)
    return [
        LocationOption(**r._asdict())
        for r in db.session.execute(query.order_by(locations.c.store_id, locations.c.id).limit(20))
    ]


@dataclass(frozen=True)
class LocationOption:
    id: int
    store_id: int
    code: str
    name: str


def store_locations(actor: Actor, *, store_id: int | None = None) -> list[LocationOption]:
    """Active locations the actor can see, for filters and the transfer dialog."""
    query = select(locations.c.id, locations.c.store_id, locations.c.code, locations.c.name).where(
        locations.c.archived_at.is_(None), readable_scope(actor, locations.c.store_id)
    )
    if store_id is not None:
        query = query.where(locations.c.store_id == store_id)
    return [
        LocationOption(**r._asdict())
        for r in db.session.execute(query.order_by(locations.c.code, locations.c.id))
    ]


# --------------------------------------------------------------------------- API look-ups


def require_readable(
    actor: Actor, *, store_id: int | None = None, location_id: int | None = None,
    product_id: int | None = None,
) -> None:
    """Raises NotFound when a filter names a store, location or product the actor cannot read,
    or one that does not exist: the two read alike, on every screen and in the API."""
    checks = [
        (store_id, stores.c.id, stores.c.id, "store"),
        (location_id, locations.c.id, locations.c.store_id, "location"),
        (product_id, products.c.id, products.c.store_id, "product"),
    ]
    for value, key, store_column, field in checks:
        if value is None:
            continue
        found = db.session.scalar(
            select(key).where(key == value, readable_scope(actor, store_column))
        ) if is_id(value) else None
        if found is None:
            raise NotFound(f"No such {field} among your stores.", {field: f"No such {field}."})


def resolve_store(actor: Actor, store_id: int | None) -> int:
    """The store a request acts on: the one named, or the actor's only store.
    Raises NotFound for a store the actor is not a member of, ValidationError when the
    actor belongs to several stores and named none."""
    if store_id is not None:
        exists = db.session.scalar(
            select(stores.c.id).where(stores.c.id == store_id, readable_scope(actor, stores.c.id))
        ) if is_id(store_id) else None
        if exists is None:
            raise NotFound("Store not found.", {"store_id": "No such store."})
        return int(exists)
    member_of = actor.stores_with(READ)
    if member_of is not None and len(member_of) == 1:
        return next(iter(member_of))
    raise ValidationError({"store_id": "Choose a store: this account can act in several."})


def resolve_entry(
    actor: Actor, product_id: int, location_code: str, store_id: int | None = None
) -> int:
    """The id of the entry for a product at a location code (any case), as the seed API
    names entries. Raises NotFound, also for products of stores the actor is not in."""
    code = normalize_location_code(location_code) if isinstance(location_code, str) else ""
    if not is_id(product_id):
        raise NotFound("Product not found.", {"product_id": "No such product."})
    if not code:
        raise NotFound("Inventory entry not found.", {"location": "No such location."})
    query = (
        select(entries.c.id)
        .join(locations, locations.c.id == entries.c.location_id)
        .where(entries.c.product_id == product_id, locations.c.code == code, readable_scope(actor))
    )
    if store_id is not None:
        query = query.where(entries.c.store_id == store_id)
    entry_id = db.session.scalar(query)
    if entry_id is None:
        product_store(actor, product_id)  # an unknown product is named as such
        raise NotFound(f"Product {product_id} has no inventory entry at {code}.",
                       {"location": f"The product has no inventory entry at {code}."})
    return int(entry_id)


def resolve_location(
    actor: Actor, location_code: str, *, store_id: int, field: str = "location"
) -> int:
    """The id of a store's location by code (any case). Raises NotFound naming `field`."""
    code = normalize_location_code(location_code) if isinstance(location_code, str) else ""
    location_id = db.session.scalar(
        select(locations.c.id).where(
            locations.c.store_id == store_id,
            locations.c.code == code,
            readable_scope(actor, locations.c.store_id),
        )
    ) if code and is_id(store_id) else None
    if location_id is None:
        message = f"Location {code or location_code!r} not found."
        raise NotFound(message, {field: message})
    return int(location_id)


def product_store(actor: Actor, product_id: int) -> int:
    """The store a product belongs to. Raises NotFound (also for foreign products)."""
    store_id = db.session.scalar(
        select(products.c.store_id).where(
            products.c.id == product_id, readable_scope(actor, products.c.store_id)
        )
    ) if is_id(product_id) else None
    if store_id is None:
        raise NotFound("Product not found.", {"product_id": "No such product."})
    return int(store_id)


@dataclass(frozen=True)
class StoreSummary:
    id: int
    name: str
    slug: str
    archived: bool
    total_entries: int
    total_quantity: int
    total_reserved: int
    total_available: int
    locations: int


def store_summaries(actor: Actor, *, store_id: int | None = None) -> list[StoreSummary]:
    """Every store the actor can read (or just one), with its stock totals, in one grouped
    query."""
    totals = (
        select(
            entries.c.store_id,
            func.count(entries.c.id).label("total_entries"),
            func.sum(entries.c.quantity).label("total_quantity"),
            func.sum(entries.c.reserved_quantity).label("total_reserved"),
            func.count(distinct(entries.c.location_id)).label("locations"),
        )
        .group_by(entries.c.store_id)
        .subquery()
    )
    rows = db.session.execute(
        select(
            stores.c.id, stores.c.name, stores.c.slug, stores.c.archived_at,
            func.coalesce(totals.c.total_entries, 0).label("total_entries"),
            func.coalesce(totals.c.total_quantity, 0).label("total_quantity"),
            func.coalesce(totals.c.total_reserved, 0).label("total_reserved"),
            func.coalesce(totals.c.locations, 0).label("locations"),
        )
        .outerjoin(totals, totals.c.store_id == stores.c.id)
        .where(readable_scope(actor, stores.c.id),
               stores.c.id == store_id if store_id is not None else true())
        .order_by(stores.c.name, stores.c.id)
    )
    return [
        StoreSummary(
            id=r.id, name=r.name, slug=r.slug, archived=r.archived_at is not None,
            total_entries=int(r.total_entries), total_quantity=int(r.total_quantity),
            total_reserved=int(r.total_reserved),
            total_available=int(r.total_quantity) - int(r.total_reserved),
            locations=int(r.locations),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Availability:
    """What a storefront may know: how many can be sold now, and the status word."""

    product_id: int
    unlimited: bool
    available: int | None
    status: str


def public_availability(product_id: int) -> Availability:
    """A live product's availability over all its locations, for anyone. Raises NotFound
    for unknown and archived products and products of archived stores."""
    product = db.session.execute(
        select(products.c.id, products.c.type, products.c.allow_backorder)
        .join(stores, stores.c.id == products.c.store_id)
        .where(
            products.c.id == product_id,
            products.c.archived_at.is_(None),
            stores.c.archived_at.is_(None),
        )
    ).one_or_none() if is_id(product_id) else None
    if product is None:
        raise NotFound("Product not found.")
    if product.type != "physical":
        return Availability(product.id, True, None, "in_stock")
    sums = db.session.execute(
        select(
            func.coalesce(func.sum(available), 0),
            func.coalesce(func.sum(entries.c.low_stock_threshold), 0),
        ).where(entries.c.product_id == product_id)
    ).one()
    total, thresholds = int(sums[0]), int(sums[1])
    status = product_status(product.type, product.allow_backorder, total, thresholds)
    # Backorders and holds can leave nothing sellable; never show a negative count.
    return Availability(product.id, False, max(total, 0), status)


@dataclass(frozen=True)
class LineAvailability:
    line: int
    line_ref: str | None
    product_id: int
    location_id: int | None
    requested: int
    unlimited: bool
    available: int | None
    status: str
    sufficient: bool


def order_availability(
    actor: Actor, store_id: int, lines: list[dict[str, Any]]
) -> list[LineAvailability]:
    """Whether each line of an order could be reserved now: at its location when it names
    one, else over all of the product's locations. Two queries whatever the line count.
    Raises NotFound for a product or location outside the store."""
    product_ids = {line["product_id"] for line in lines}
    found = {
        p.id: p
        for p in db.session.execute(
            select(products.c.id, products.c.type, products.c.allow_backorder).where(
                products.c.id.in_(product_ids),
                products.c.store_id == store_id,
                readable_scope(actor, products.c.store_id),
            )
        )
    }
    missing = sorted(product_ids - found.keys())
    if missing:
        n = next(n for n, line in enumerate(lines) if line["product_id"] == missing[0])
        raise NotFound(f"Product {missing[0]} not found.",
                       {f"lines[{n}].product_id": "No such product in this store."})
    location_ids = {line["location_id"] for line in lines if line.get("location_id")}
    known = set(db.session.scalars(
        select(locations.c.id).where(
            locations.c.id.in_(location_ids), locations.c.store_id == store_id
        )
    )) if location_ids else set()
    unknown = sorted(location_ids - known)
    if unknown:
        n = next(n for n, line in enumerate(lines) if line.get("location_id") == unknown[0])
        raise NotFound(f"Location {unknown[0]} not found.",
                       {f"lines[{n}].location_id": "No such location in this store."})
    per_location = {
        (r.product_id, r.location_id): (int(r.available), int(r.low_stock_threshold))
        for r in db.session.execute(
            select(
                entries.c.product_id, entries.c.location_id,
                available.label("available"), entries.c.low_stock_threshold,
            ).where(entries.c.store_id == store_id, entries.c.product_id.in_(product_ids))
        )
    }
    answers = []
    for n, line in enumerate(lines):
        product = found[line["product_id"]]
        location_id = line.get("location_id")
        if product.type != "physical":
            answers.append(LineAvailability(
                n, line.get("line_ref"), product.id, location_id, line["quantity"],
                True, None, "in_stock", True,
            ))
            continue
        cells = [
            value for (pid, lid), value in per_location.items()
            if pid == product.id and (location_id is None or lid == location_id)
        ]
        total = sum(a for a, _ in cells)
        status = product_status(product.type, product.allow_backorder, total,
                                sum(t for _, t in cells))
        answers.append(LineAvailability(
            n, line.get("line_ref"), product.id, location_id, line["quantity"],
            False, max(total, 0), status, total >= line["quantity"],
        ))
    return answers


def order_reservations(actor: Actor, store_id: int, order_ref: str) -> list[ReservationView]:
    """Every hold an order has had in a store, oldest first. Raises NotFound when it has
    none, so a mistyped reference is not mistaken for an empty order."""
    check = Checker()
    check.text("order_ref", order_ref, required=True, max_length=100)
    check.done()
    rows = db.session.execute(
        select(
            reservations.c.id, reservations.c.order_ref, reservations.c.line_ref,
            reservations.c.quantity, reservations.c.open_quantity, reservations.c.status,
            reservations.c.expires_at, reservations.c.created_at, reservations.c.closed_at,
        )
        .where(
            reservations.c.store_id == store_id,
            reservations.c.order_ref == (order_ref or "").strip(),
            readable_scope(actor, reservations.c.store_id),
        )
        .order_by(reservations.c.id)
    ).all()
    if not rows:
        raise NotFound("No reservations for this order.")
    return [ReservationView(**r._asdict()) for r in rows]


def with_location_ids(
    actor: Actor, store_id: int, lines: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Order lines with each location code (`location`) replaced by its id in the store.
    Raises NotFound for a code the store does not have."""
    codes = {
        normalize_location_code(line["location"]) for line in lines
        if isinstance(line.get("location"), str)
    }
    ids = dict(db.session.execute(
        select(locations.c.code, locations.c.id).where(
            locations.c.store_id == store_id, locations.c.code.in_(codes),
            readable_scope(actor, locations.c.store_id),
        )
    ).all()) if codes else {}
    resolved = []
    for n, line in enumerate(lines):
        line = dict(line)
        code = line.pop("location", None)
        if isinstance(code, str):
            normalized = normalize_location_code(code)
            if normalized not in ids:
                raise NotFound(f"Location {normalized} not found.",
                               {f"lines[{n}].location": "No such location in this store."})
            line["location_id"] = ids[normalized]
        resolved.append(line)
    return resolved
