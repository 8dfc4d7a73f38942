"""Cross-store statistics for platform admins: every store's stock, places and people in one
grouped query, with the platform totals added up from the same rows."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select, true

from app.extensions import db
from app.models import Membership, StockTally, User
from app.models.tallies import COUNTS
from app.permissions import Actor
from app.services.errors import NotFound, PermissionDenied
from app.services.queries import (
    STATUSES,
    locations,
    products,
    stores,
)
from app.services.stores import MANAGE_STORES
from app.services.validation import is_id

memberships = Membership.__table__
tally = StockTally.__table__
users = User.__table__


@dataclass(frozen=True)
class StoreStats:
    """One store with the seed's admin statistics and what it is set up with."""

    id: int
    name: str
    slug: str
    archived_at: datetime | None
    created_at: datetime
    total_entries: int
    total_quantity: int
    total_reserved: int
    total_available: int
    in_stock: int
    low_stock: int
    out_of_stock: int
    on_backorder: int
    unique_locations: int  # locations holding at least one entry
    locations: int  # active locations
    archived_locations: int
    products: int  # active products
    members: int  # memberships of active users
    owners: int

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    @property
    def low_stock_count(self) -> int:
        return self.low_stock

    @property
    def has_inventory(self) -> bool:
        return self.total_entries > 0

    @property
    def status_counts(self) -> dict[str, int]:
        return {s: getattr(self, s) for s in STATUSES}


@dataclass(frozen=True)
class StatsTotals:
    """The platform statistics over a set of stores. Every location belongs to one store,
    so the stores' distinct-location counts add up to the platform's."""

    stores: int
    stores_with_inventory: int
    unique_locations: int
    total_entries: int
    total_quantity: int
    total_reserved: int
    total_available: int
    low_stock_count: int


@dataclass(frozen=True)
class StoresOverview:
    active: list[StoreStats]
    archived: list[StoreStats]
    totals: StatsTotals  # over the active stores: the ones anyone works in

    @property
    def stores(self) -> list[StoreStats]:
        return [*self.active, *self.archived]


def stores_overview(actor: Actor) -> StoresOverview:
    """Every store, active ones first, with its statistics and the active stores' totals.
    One query. Raises PermissionDenied for anyone but a platform admin."""
    _require_platform_admin(actor)
    rows = _read(_stats_select(False), {})
    active = [r for r in rows if not r.archived]
    return StoresOverview(
        active=active, archived=[r for r in rows if r.archived], totals=totals(active)
    )


def store_stats(actor: Actor, store_id: int) -> StoreStats:
    """One store's statistics, archived or not. Raises NotFound, PermissionDenied."""
    _require_platform_admin(actor)
    rows = _read(_stats_select(True), {"store_id": store_id}) if is_id(store_id) else []
    if not rows:
        raise NotFound("Store not found.")
    return rows[0]


def totals(rows: list[StoreStats]) -> StatsTotals:
    """The platform statistics of `rows`, as the seed's stats endpoint names them."""
    return StatsTotals(
        stores=len(rows),
        stores_with_inventory=sum(1 for r in rows if r.has_inventory),
        unique_locations=sum(r.unique_locations for r in rows),
        total_entries=sum(r.total_entries for r in rows),
        total_quantity=sum(r.total_quantity for r in rows),
        total_reserved=sum(r.total_reserved for r in rows),
        total_available=sum(r.total_available for r in rows),
        low_stock_count=sum(r.low_stock for r in rows),
    )


def _require_platform_admin(actor: Actor) -> None:
    if not actor.is_platform_admin:
        raise PermissionDenied(MANAGE_STORES)


def _count_where(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


@functools.cache
def _stats_select(one_store: bool) -> Select[Any]:
    """Built once per shape: the statement is large enough that building it costs more
    than running it. With `one_store`, it takes the store's id as :store_id."""
    # Each side is grouped by store before the join, so no side multiplies another's rows;
    # for one store, each side reads that store's rows alone.
    def only(column: Any) -> Any:
        return column == bindparam("store_id") if one_store else true()

    # Stock from the tallies (app/models/tallies.py): summed per location first, so a
    # location whose sums are all zero is not counted as holding entries.
    per_place = (
        select(
            tally.c.store_id,
            *(func.sum(tally.c[c]).label(c) for c in COUNTS),
        )
        .where(only(tally.c.store_id))
        .group_by(tally.c.store_id, tally.c.location_id)
        .subquery("per_place")
    )
    total = {c: func.sum(per_place.c[c]) for c in COUNTS}
    stock = (
        select(
            per_place.c.store_id,
            total["entries"].label("total_entries"),
            total["quantity"].label("total_quantity"),
            total["reserved"].label("total_reserved"),
            (total["quantity"] - total["reserved"]).label("total_available"),
            _count_where(per_place.c.entries > 0).label("unique_locations"),
            (total["entries"] - total["low_stock"] - total["out_of_stock"]
             - total["on_backorder"]).label("in_stock"),
            *(total[s].label(s) for s in STATUSES if s != "in_stock"),
        )
        .group_by(per_place.c.store_id)
        .subquery("stock")
    )
    places = (
        select(
            locations.c.store_id,
            _count_where(locations.c.archived_at.is_(None)).label("locations"),
            _count_where(locations.c.archived_at.is_not(None)).label("archived_locations"),
        )
        .where(only(locations.c.store_id))
        .group_by(locations.c.store_id)
        .subquery("places")
    )
    catalog = (
        select(products.c.store_id, func.count(products.c.id).label("products"))
        .where(products.c.archived_at.is_(None), only(products.c.store_id))
        .group_by(products.c.store_id)
        .subquery("catalog")
    )
    people = (
        select(
            memberships.c.store_id,
            func.count(memberships.c.id).label("members"),
            _count_where(memberships.c.role == "owner").label("owners"),
        )
        .join(users, users.c.id == memberships.c.user_id)
        .where(users.c.active == true(), only(memberships.c.store_id))
        .group_by(memberships.c.store_id)
        .subquery("people")
    )

    def zero(column: Any, name: str) -> Any:
        return func.coalesce(column, 0).label(name)

    query = (
        select(
            stores.c.id, stores.c.name, stores.c.slug, stores.c.archived_at, stores.c.created_at,
            zero(stock.c.total_entries, "total_entries"),
            zero(stock.c.total_quantity, "total_quantity"),
            zero(stock.c.total_reserved, "total_reserved"),
            zero(stock.c.total_available, "total_available"),
            *(zero(stock.c[s], s) for s in STATUSES),
            zero(stock.c.unique_locations, "unique_locations"),
            zero(places.c.locations, "locations"),
            zero(places.c.archived_locations, "archived_locations"),
            zero(catalog.c.products, "products"),
            zero(people.c.members, "members"),
            zero(people.c.owners, "owners"),
        )
        .outerjoin(stock, stock.c.store_id == stores.c.id)
        .outerjoin(places, places.c.store_id == stores.c.id)
        .outerjoin(catalog, catalog.c.store_id == stores.c.id)
        .outerjoin(people, people.c.store_id == stores.c.id)
        .order_by(stores.c.archived_at.is_not(None), stores.c.name, stores.c.id)
    )
    if one_store:
        query = query.where(stores.c.id == bindparam("store_id"))
    return query


def _read(query: Select[Any], params: dict[str, Any]) -> list[StoreStats]:
    counted = set(StoreStats.__dataclass_fields__) - {"id", "name", "slug", "archived_at",
                                                      "created_at"}
    return [
        StoreStats(**{k: int(v) if k in counted else v for k, v in row._asdict().items()})
        for row in db.session.execute(query, params)
    ]
