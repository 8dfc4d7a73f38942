"""The overview listing: filters, sorts and keyset pages of entries, with search."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)

from app.extensions import db
from app.permissions import READ, Actor
from app.services.cursors import decode_cursor, encode_cursor
from app.services.queries.common import (
    EntryView,
    available,
    dialect_name,
    entries,
    entry_select,
    locations,
    products,
    reading_products_from,
    status_condition,
    stores,
    variants,
)
from app.services.queries.search import (
    SEARCH_PARAMS,
    exact_code_condition,
    search_clause,
    search_condition,
    search_mode,
    search_values,
)

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
    # The variants of one item; the variants with one option value (any option), such as
    # "Black" or "XL". Both by product, through item_variants.
    item_id: int | None = None
    option_value: str | None = None
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
    if listing.item:
        clauses.append(entries.c.product_id.in_(
            select(variants.c.product_id)
            .where(variants.c.item_id == value("item_id", type_=Integer()))
        ))
    if listing.option_value:
        chosen = value("option_value", type_=String())
        clauses.append(entries.c.product_id.in_(
            select(variants.c.product_id).where(or_(
                variants.c.value1 == chosen, variants.c.value2 == chosen,
                variants.c.value3 == chosen,
            ))
        ))
    return clauses


def _filter_values(actor: Actor, filters: EntryFilters) -> dict[str, Any]:
    scope = actor.stores_with(READ)
    values: dict[str, Any] = {
        "store_id": filters.store_id, "location_id": filters.location_id,
        "max_quantity": filters.max_quantity, "item_id": filters.item_id,
        "option_value": filters.option_value,
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
    item: bool
    option_value: bool
    capped: bool  # counted no further than a limit
    # Order the matching products first and then read their entries (PostgreSQL, a
    # search sorted on a column of the product): see _ordered_matches.
    products_first: bool

    @classmethod
    def of(cls, actor: Actor, filters: EntryFilters, key: Any = None,
           count_limit: int | None = None) -> _Listing:
        term = _search_term(filters)
        backwards = bool(key and key.backwards)
        dialect = dialect_name()
        return cls(
            dialect=dialect, sort=filters.sort,
            descending=filters.descending != backwards, backwards=backwards,
            keyed=key is not None, mode=search_mode(term) if term is not None else None,
            scoped=actor.stores_with(READ) is not None,
            store=filters.store_id is not None, location=filters.location_id is not None,
            status=filters.status, max_quantity=filters.max_quantity is not None,
            item=filters.item_id is not None, option_value=filters.option_value is not None,
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
    rank = (case((exact_code_condition(SEARCH_PARAMS["search_term"]), 0), else_=1)
            if listing.mode is not None else None)
    descending, backwards = listing.descending, listing.backwards
    key_value = bindparam("key_value", type_=sort_expr.type)
    key_id, key_rank = bindparam("key_id", type_=Integer()), bindparam("key_rank", type_=Integer())
    if listing.products_first:
        assert rank is not None and listing.mode is not None
        hit = _ordered_matches(listing, rank, key_value, key_rank)
        query = entry_select(hit).where(*(reading_products_from(hit, c) for c in conditions))
        sort_expr, rank = hit.c[sort_expr.key], hit.c.rank_key
    else:
        query = entry_select().where(*conditions)
        if listing.mode is not None:
            query = query.where(search_clause(listing.mode, products.c.id, SEARCH_PARAMS))
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
            search_clause(listing.mode, entries.c.product_id, SEARCH_PARAMS))
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
    where = [search_clause(listing.mode, products.c.id, SEARCH_PARAMS)]
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
        values.update(search_values(term))
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
    # The paging keys stay out of the view. Which columns those are is worked out once for
    # the page, not once a row (Row._asdict builds a dict of every column each time).
    shown = [(i, name) for i, name in enumerate(fetched[0]._fields)
             if name not in {"sort_key", "rank_key"}] if fetched else []
    rows = [EntryView(**{name: r[i] for i, name in shown}) for r in fetched]
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
