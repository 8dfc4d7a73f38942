"""What the stock is worth: each entry's on hand × its moving average cost, summed per
location and per store, in the store's currency.

Costs are seen by those who buy: purchasing:manage (owners, store admins and platform
admins; it is never granted to staff). Receiving staff move stock, they do not need to know
what it cost, nor what the store holds in money.

Only physical products' entries holding stock are valued. An entry with stock and no
average cost yet (stock counted in before any receipt said what it cost) has no value:
it is counted apart, as an entry without a cost, never as worth 0.

Stores keep no exchange rate between their currencies (a purchase order keeps its own, to
its store's currency), so a view across stores in several currencies totals each currency
apart instead of converting.

Exact at any size. Costs are stored in 1/10,000ths (app.models.purchasing), so one entry
of a billion units at a million each is 10^22 stored units, past a 64-bit integer; a
catalog of 100,000 entries gets there sooner. PostgreSQL multiplies and sums as NUMERIC.
SQLite has no exact decimal: an integer product past 2^63 becomes a float, and sum() of
integers past it raises "integer overflow". There the sums are made in integers while they
fit, and made again in Python from the rows (exactly, a little slower) when SQLite answers
with a float or the error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, Select, cast, func, select
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.permissions import PURCHASING, Actor
from app.services.errors import NotFound, PermissionDenied
from app.services.money import amount
from app.services.queries.common import (
    dialect_name,
    entries,
    is_physical,
    locations,
    products,
    stores,
)
from app.services.queries.lookups import require_readable

# The per-entry listing's orders. `value` and `cost` order entries without a cost (the
# listing of those) by on hand instead: they have neither.
VALUATION_SORTS = ("value", "cost", "quantity", "title", "sku", "location")
DEFAULT_SORT = "value"

_held = entries.c.quantity > 0
_costed = entries.c.average_cost.is_not(None)


# --------------------------------------------------------------------------- the rows


@dataclass(frozen=True)
class LocationValue:
    """The stock at one location: what is valued, its value, and what has no cost yet."""

    store_id: int
    location_id: int
    location_code: str
    location_name: str
    currency: str
    entries: int
    quantity: int
    value: Decimal
    uncosted_entries: int
    uncosted_quantity: int


@dataclass(frozen=True)
class StoreValue:
    store_id: int
    store_name: str
    currency: str
    entries: int
    quantity: int
    value: Decimal
    uncosted_entries: int
    uncosted_quantity: int
    locations: tuple[LocationValue, ...] = ()


@dataclass(frozen=True)
class CurrencyTotal:
    """The stores valued in one currency, together."""

    currency: str
    value: Decimal
    stores: int
    uncosted_entries: int


@dataclass(frozen=True)
class Valuation:
    """Stores by name, each with its locations by code; the totals by currency."""

    stores: tuple[StoreValue, ...]
    totals: tuple[CurrencyTotal, ...]

    @property
    def uncosted_entries(self) -> int:
        return sum(s.uncosted_entries for s in self.stores)

    @property
    def entries(self) -> int:
        return sum(s.entries for s in self.stores)


@dataclass(frozen=True)
class EntryValue:
    """One entry as the valuation lists it: `average_cost` and `value` are None while it
    has no cost."""

    entry_id: int
    store_id: int
    store_name: str
    currency: str
    product_id: int
    sku: str
    title: str
    location_id: int
    location_code: str
    quantity: int
    average_cost: Decimal | None
    value: Decimal | None


@dataclass(frozen=True)
class ValuationFilters:
    """What narrows and orders the per-entry listing; the URL carries all of it.
    `uncosted` lists the entries with stock and no cost instead of the valued ones."""

    store_id: int | None = None
    location_id: int | None = None
    uncosted: bool = False
    sort: str = DEFAULT_SORT
    descending: bool = True


@dataclass(frozen=True)
class ValuationPage:
    rows: list[EntryValue]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class ProductValue:
    """A product's value at each of its locations (entry id → row) and in all."""

    currency: str
    by_entry: dict[int, EntryValue]
    value: Decimal
    entries: int
    uncosted_entries: int


# --------------------------------------------------------------------------- who sees


def sees_costs(actor: Actor, store_id: int) -> bool:
    """Whether the actor may see costs and stock value in this store."""
    return actor.can(PURCHASING, store_id)


def _scope(actor: Actor, store_id: int | None, location_id: int | None) -> list[int] | None:
    """The stores to value (None: every store), after the filters are checked: a store or
    location the actor cannot read (or that does not exist) is NotFound naming `store` or
    `location`; one where they may not see costs is PermissionDenied; so is having no store
    where they may."""
    require_readable(actor, store_id=store_id, location_id=location_id)
    if location_id is not None:
        home = int(db.session.scalar(
            select(locations.c.store_id).where(locations.c.id == location_id)))
        if store_id is not None and home != store_id:
            raise NotFound("No such location in this store.", {"location": "No such location."})
        store_id = home
    if store_id is not None:
        if not sees_costs(actor, store_id):
            raise PermissionDenied(PURCHASING)
        return [store_id]
    allowed = actor.stores_with(PURCHASING)
    if allowed is None:
        return None
    if not allowed:
        raise PermissionDenied(PURCHASING)
    return sorted(allowed)


# The overview sums the value of this many entries at most. Its other cards come from kept
# tallies (a few rows per location); the value is a pass over the entries themselves, about
# what the stats cost before the tallies (300 ms a million entries), and it is asked for
# again after every stock change. Past it the card links to the report instead.
OVERVIEW_VALUE_LIMIT = 250_000


@dataclass(frozen=True)
class OverviewValue:
    """The overview's Stock value card: the valuation, or None when its stats cover more
    than OVERVIEW_VALUE_LIMIT entries (the card then links to the report)."""

    valuation: Valuation | None


def overview_value(actor: Actor, store_id: int | None = None, *, entries: int
                   ) -> OverviewValue | None:
    """What the overview's stats show of the value of the store (None: all the actor's
    stores), whose stats count `entries`; None when the actor may not see the costs of
    every store those stats cover: a figure for some of them beside totals of all would
    read as the value of all."""
    if store_id is not None:
        allowed = sees_costs(actor, store_id)
    elif actor.is_platform_admin:
        allowed = True
    else:
        readable = set(actor.store_permissions)
        allowed = bool(readable) and readable <= (actor.stores_with(PURCHASING) or frozenset())
    if not allowed:
        return None
    if entries > OVERVIEW_VALUE_LIMIT:
        return OverviewValue(None)
    return OverviewValue(stock_value(actor, store_id=store_id))


# --------------------------------------------------------------------------- the sums


def _value_of_entry() -> ColumnElement[Any]:
    """quantity × average_cost, exact on PostgreSQL; on SQLite an integer while it fits
    (see the module's docstring)."""
    if dialect_name() == "postgresql":
        return cast(entries.c.quantity, Numeric) * entries.c.average_cost
    return entries.c.quantity * entries.c.average_cost


def _valued_entries(scope: list[int] | None, location_id: int | None) -> list[Any]:
    """The conditions every valuation shares: physical products' entries holding stock,
    in the stores and at the location asked for."""
    conditions: list[Any] = [_held, is_physical]
    if scope is not None:
        conditions.append(entries.c.store_id.in_(scope))
    if location_id is not None:
        conditions.append(entries.c.location_id == location_id)
    return conditions


def _location_sums(scope: list[int] | None, location_id: int | None
                   ) -> dict[tuple[int, int], dict[str, int]]:
    """(store, location) → entries, quantity and value (stored units) of the valued
    entries, and entries and quantity of those without a cost: one grouped pass."""
    query = (
        select(
            entries.c.store_id, entries.c.location_id,
            func.count().filter(_costed).label("entries"),
            func.coalesce(func.sum(entries.c.quantity).filter(_costed), 0).label("quantity"),
            func.coalesce(func.sum(_value_of_entry()), 0).label("value"),
            func.count().filter(~_costed).label("uncosted_entries"),
            func.coalesce(func.sum(entries.c.quantity).filter(~_costed), 0)
            .label("uncosted_quantity"),
        )
        .select_from(entries)
        .join(products, products.c.id == entries.c.product_id)
        .where(*_valued_entries(scope, location_id))
        .group_by(entries.c.store_id, entries.c.location_id)
    )
    try:
        rows = db.session.execute(query).all()
    except OperationalError as exc:
        if "integer overflow" not in str(exc.orig):
            raise
        rows = None
    if rows is None or any(isinstance(r.value, float) for r in rows):
        return _location_sums_in_python(scope, location_id)
    return {
        (r.store_id, r.location_id): {
            "entries": int(r.entries), "quantity": int(r.quantity), "value": int(r.value),
            "uncosted_entries": int(r.uncosted_entries),
            "uncosted_quantity": int(r.uncosted_quantity),
        }
        for r in rows
    }


def _location_sums_in_python(scope: list[int] | None, location_id: int | None
                             ) -> dict[tuple[int, int], dict[str, int]]:
    """_location_sums from every valued row, in Python's integers: SQLite's integers were
    too small for these sums."""
    sums: dict[tuple[int, int], dict[str, int]] = {}
    query = (
        select(entries.c.store_id, entries.c.location_id, entries.c.quantity,
               entries.c.average_cost)
        .select_from(entries)
        .join(products, products.c.id == entries.c.product_id)
        .where(*_valued_entries(scope, location_id))
    )
    result = db.session.execute(query, execution_options={"yield_per": 5_000})
    try:
        for store_id, place, quantity, cost in result:
            group = sums.setdefault((store_id, place), dict.fromkeys(
                ("entries", "quantity", "value", "uncosted_entries", "uncosted_quantity"), 0))
            if cost is None:
                group["uncosted_entries"] += 1
                group["uncosted_quantity"] += quantity
            else:
                group["entries"] += 1
                group["quantity"] += quantity
                group["value"] += quantity * cost
    finally:
        result.close()
    return sums


def stock_value(actor: Actor, *, store_id: int | None = None,
                location_id: int | None = None) -> Valuation:
    """The value of the stock in the actor's stores where they may see costs (or in the
    one store, or at the one location, asked for), per store and location, with totals by
    currency. Every store in scope is listed, valued 0 when it holds nothing valued.
    Raises NotFound naming `store` or `location`, PermissionDenied (purchasing:manage)."""
    scope = _scope(actor, store_id, location_id)
    sums = _location_sums(scope, location_id)
    named = select(stores.c.id, stores.c.name, stores.c.currency)
    if scope is not None:
        named = named.where(stores.c.id.in_(scope))
    else:
        # Every live store, and any archived one that still holds valued stock.
        named = named.where(stores.c.archived_at.is_(None)
                            | stores.c.id.in_(sorted({s for s, _ in sums} or {0})))
    shops = {r.id: r for r in db.session.execute(named)}
    places = {
        r.id: r for r in db.session.execute(
            select(locations.c.id, locations.c.code, locations.c.name)
            .where(locations.c.id.in_(sorted({loc for _, loc in sums})))
        )
    } if sums else {}
    by_store: dict[int, list[tuple[LocationValue, int]]] = {}
    for (shop, place), s in sums.items():
        by_store.setdefault(shop, []).append((LocationValue(
            store_id=shop, location_id=place, location_code=places[place].code,
            location_name=places[place].name, currency=shops[shop].currency,
            entries=s["entries"], quantity=s["quantity"], value=_units(s["value"]),
            uncosted_entries=s["uncosted_entries"], uncosted_quantity=s["uncosted_quantity"],
        ), s["value"]))
    # Summed as stored integers, exact, and made Decimals once.
    valued: list[tuple[StoreValue, int]] = []
    for shop in sorted(shops.values(), key=lambda r: (r.name.casefold(), r.id)):
        held = sorted(by_store.get(shop.id, []),
                      key=lambda p: (p[0].location_code, p[0].location_id))
        total = sum(stored for _, stored in held)
        places_here = [p for p, _ in held]
        valued.append((StoreValue(
            store_id=shop.id, store_name=shop.name, currency=shop.currency,
            entries=sum(p.entries for p in places_here),
            quantity=sum(p.quantity for p in places_here), value=_units(total),
            uncosted_entries=sum(p.uncosted_entries for p in places_here),
            uncosted_quantity=sum(p.uncosted_quantity for p in places_here),
            locations=tuple(places_here),
        ), total))
    return Valuation(stores=tuple(s for s, _ in valued), totals=_by_currency(valued))


def _units(stored: int) -> Decimal:
    return amount(stored)  # type: ignore[return-value]


def _by_currency(valued: Iterable[tuple[StoreValue, int]]) -> tuple[CurrencyTotal, ...]:
    totals: dict[str, list[tuple[StoreValue, int]]] = {}
    for shop, stored in valued:
        totals.setdefault(shop.currency, []).append((shop, stored))
    return tuple(
        CurrencyTotal(currency=code, value=_units(sum(stored for _, stored in group)),
                      stores=len(group),
                      uncosted_entries=sum(s.uncosted_entries for s, _ in group))
        for code, group in sorted(totals.items())
    )


# --------------------------------------------------------------------------- entries


_SORT_KEYS: dict[str, Any] = {
    "quantity": entries.c.quantity,
    "title": products.c.title,
    "sku": products.c.sku,
    "location": locations.c.code,
}


def _conditions(scope: list[int] | None, filters: ValuationFilters, *,
                any_cost: bool = False) -> list[Any]:
    """Which entries the filters list; with `any_cost`, those with a cost and without."""
    conditions = _valued_entries(scope, filters.location_id)
    if not any_cost:
        conditions.append(~_costed if filters.uncosted else _costed)
    return conditions


def _listing(scope: list[int] | None, filters: ValuationFilters, *,
             any_cost: bool = False) -> Select[Any]:
    """The entries the filters list, with the names a row shows."""
    return (
        select(
            entries.c.id.label("entry_id"), entries.c.store_id,
            stores.c.name.label("store_name"), stores.c.currency, entries.c.product_id,
            products.c.sku, products.c.title, entries.c.location_id,
            locations.c.code.label("location_code"), entries.c.quantity,
            entries.c.average_cost,
        )
        .select_from(entries)
        .join(products, products.c.id == entries.c.product_id)
        .join(locations, locations.c.id == entries.c.location_id)
        .join(stores, stores.c.id == entries.c.store_id)
        .where(*_conditions(scope, filters, any_cost=any_cost))
    )


def _ids(scope: list[int] | None, filters: ValuationFilters) -> Select[Any]:
    """The listed entries' ids, joined to no more than the filters and the order need:
    a join the order does not use would stand between the database's sort and the page's
    limit, and the sort would then order every row instead of keeping the best."""
    query = (select(entries.c.id).select_from(entries)
             .join(products, products.c.id == entries.c.product_id))
    if filters.sort == "location":
        query = query.join(locations, locations.c.id == entries.c.location_id)
    return query.where(*_conditions(scope, filters))


def _ordered(query: Select[Any], filters: ValuationFilters) -> Select[Any]:
    if filters.sort not in VALUATION_SORTS:
        raise ValueError(filters.sort)
    sort = filters.sort
    if filters.uncosted and sort in ("value", "cost"):
        sort = "quantity"
    key = {"value": _value_of_entry(), "cost": entries.c.average_cost}.get(sort)
    if key is None:
        key = _SORT_KEYS[sort]
    if filters.descending:
        return query.order_by(key.desc(), entries.c.id.desc())
    return query.order_by(key, entries.c.id)


def _entry_value(row: Any) -> EntryValue:
    cost = row.average_cost
    return EntryValue(
        entry_id=row.entry_id, store_id=row.store_id, store_name=row.store_name,
        currency=row.currency, product_id=row.product_id, sku=row.sku, title=row.title,
        location_id=row.location_id, location_code=row.location_code, quantity=row.quantity,
        average_cost=None if cost is None else _units(cost),
        value=None if cost is None else _units(row.quantity * cost),
    )


def valuation_page(actor: Actor, filters: ValuationFilters, *, page: int = 1,
                   per_page: int = 50, total: int | None = None) -> ValuationPage:
    """One page of the entries the filters value (or, with `uncosted`, of those without
    a cost), numbered from 1; a page past the last shows the last. `total`, when the
    caller has it (stock_value counts the same entries), saves counting them again. Each
    entry's value is worked out in Python from its quantity and cost, exactly.

    Pages by number, not by key: the value is no column an index could hold, so every
    page reads the store's entries once to order them either way. The page's ids are
    picked first, alone, so the database keeps only the best rows while it orders (a
    top-N sort) instead of sorting every row with its names; the names come after.
    Raises as stock_value."""
    scope = _scope(actor, filters.store_id, filters.location_id)
    if total is None:
        total = int(db.session.scalar(
            select(func.count()).select_from(_ids(scope, filters).subquery())))
    last = max(1, -(-total // per_page))
    page = min(max(page, 1), last)
    ids = list(db.session.scalars(
        _ordered(_ids(scope, filters), filters).limit(per_page).offset((page - 1) * per_page)))
    found = {r.entry_id: r for r in db.session.execute(
        _listing(scope, filters).where(entries.c.id.in_(ids)))} if ids else {}
    return ValuationPage(rows=[_entry_value(found[i]) for i in ids if i in found],
                         total=total, page=page, per_page=per_page)


def iter_valuation(actor: Actor, filters: ValuationFilters) -> Iterator[EntryValue]:
    """Every entry of the listing in its order, read in batches through a server-side
    cursor, so an export of any size runs in constant memory. Raises as stock_value, at
    once rather than at the first row: a download refused must be refused before it
    starts."""
    return _each_entry(_scope(actor, filters.store_id, filters.location_id), filters)


def _each_entry(scope: list[int] | None, filters: ValuationFilters) -> Iterator[EntryValue]:
    result = db.session.execute(_ordered(_listing(scope, filters), filters),
                                execution_options={"yield_per": 1_000})
    try:
        for batch in result.partitions():
            for row in batch:
                yield _entry_value(row)
    finally:
        result.close()


def product_value(actor: Actor, product_id: int) -> ProductValue | None:
    """A product's value per location and in all, for its page; None when the actor may
    not see costs in its store. The product must be one the actor can read (NotFound)."""
    require_readable(actor, product_id=product_id)
    store = db.session.execute(
        select(stores.c.id, stores.c.currency)
        .join(products, products.c.store_id == stores.c.id)
        .where(products.c.id == product_id)
    ).one()
    if not sees_costs(actor, store.id):
        return None
    found = db.session.execute(
        _listing([store.id], ValuationFilters(), any_cost=True)
        .where(entries.c.product_id == product_id)
    ).all()
    return ProductValue(
        currency=store.currency, by_entry={r.entry_id: _entry_value(r) for r in found},
        value=_units(sum(r.quantity * r.average_cost for r in found
                         if r.average_cost is not None)),
        entries=sum(1 for r in found if r.average_cost is not None),
        uncosted_entries=sum(1 for r in found if r.average_cost is None),
    )


__all__ = [
    "DEFAULT_SORT",
    "VALUATION_SORTS",
    "CurrencyTotal",
    "EntryValue",
    "LocationValue",
    "OVERVIEW_VALUE_LIMIT",
    "OverviewValue",
    "ProductValue",
    "StoreValue",
    "Valuation",
    "ValuationFilters",
    "ValuationPage",
    "iter_valuation",
    "overview_value",
    "product_value",
    "sees_costs",
    "stock_value",
    "valuation_page",
]
