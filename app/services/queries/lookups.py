"""Look-ups by code or id: scanned codes, locations, and the store, entry or location a
request names (the API's resolvers), all within the actor's readable stores."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    bindparam,
    func,
    select,
)

from app.extensions import db
from app.models import Item, Reservation
from app.models.stores import normalize_location_code
from app.permissions import READ, Actor
from app.services.errors import NotFound, ValidationError
from app.services.queries.common import (
    EntryView,
    dialect_name,
    entries,
    entry_select,
    locations,
    products,
    readable_scope,
    stores,
)
from app.services.queries.search import (
    SEARCH_PARAMS,
    exact_code_condition,
)
from app.services.validation import is_id

items = Item.__table__
reservations = Reservation.__table__


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
    query = _exact_statement(dialect_name(), scope is not None, store_id is not None,
                             location_id is not None)
    return [EntryView(**r._asdict()) for r in db.session.execute(query, values)]


@functools.lru_cache(maxsize=32)
def _exact_statement(dialect: str, scoped: bool, in_store: bool = False,
                     at_location: bool = False) -> Select[Any]:
    """find_exact's statement, with placeholders for its values: built once for each
    dialect (exact_code_condition differs) and kind of reader (see listing._listing_statements)."""
    query = entry_select().where(exact_code_condition(SEARCH_PARAMS["search_term"]))
    if scoped:
        query = query.where(entries.c.store_id.in_(bindparam("scope", expanding=True)))
    if in_store:
        query = query.where(entries.c.store_id == bindparam("exact_store", type_=Integer()))
    if at_location:
        query = query.where(
            entries.c.location_id == bindparam("exact_location", type_=Integer())
        )
    return query.order_by(entries.c.id).limit(bindparam("exact_limit", type_=Integer()))


@dataclass(frozen=True)
class ProductMatch:
    """A product a scanned code names, stocked anywhere or nowhere yet."""

    id: int
    store_id: int
    sku: str
    title: str
    type: str
    archived: bool


def find_product_code(actor: Actor, code: str, *, store_id: int, limit: int = 5
                      ) -> list[ProductMatch]:
    """A store's products whose SKU (any case) or GTIN is exactly `code`, matched as the
    overview's scan box matches entries (exact_code_condition), but whether or not they are
    stocked anywhere: what to order, say. Live products first. Empty for a store the actor
    cannot read."""
    term = code.strip() if isinstance(code, str) else ""
    if not term or len(term) > 100 or not actor.is_member(store_id):
        return []
    query = (
        select(products.c.id, products.c.store_id, products.c.sku, products.c.title,
               products.c.type, products.c.archived_at)
        .where(products.c.store_id == store_id, readable_scope(actor, products.c.store_id),
               exact_code_condition(term))
        .order_by(products.c.archived_at.is_not(None), products.c.id)
        .limit(limit)
    )
    return [ProductMatch(id=r.id, store_id=r.store_id, sku=r.sku, title=r.title, type=r.type,
                         archived=r.archived_at is not None)
            for r in db.session.execute(query)]


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


def require_readable(
    actor: Actor, *, store_id: int | None = None, location_id: int | None = None,
    product_id: int | None = None, item_id: int | None = None,
) -> None:
    """Raises NotFound when a filter names a store, location or product the actor cannot read,
    or one that does not exist: the two read alike, on every screen and in the API."""
    checks = [
        (store_id, stores.c.id, stores.c.id, "store"),
        (location_id, locations.c.id, locations.c.store_id, "location"),
        (product_id, products.c.id, products.c.store_id, "product"),
        (item_id, items.c.id, items.c.store_id, "item"),
    ]
    for value, key, store_column, field in checks:
        if value is None:
            continue
        found = db.session.scalar(
            select(key).where(key == value, readable_scope(actor, store_column))
        ) if is_id(value) else None
        if found is None:
            raise NotFound(f"No such {field} among your stores.", {field: f"No such {field}."})


def item_title(actor: Actor, item_id: int) -> str:
    """The title of an item the actor can read, for a filter's label. Raises NotFound."""
    title = db.session.scalar(
        select(items.c.title).where(items.c.id == item_id,
                                    readable_scope(actor, items.c.store_id))
    ) if is_id(item_id) else None
    if title is None:
        raise NotFound("No such item among your stores.", {"item": "No such item."})
    return str(title)


def reservation_store(actor: Actor, reservation_id: int, *, order_ref: str) -> int:
    """The store of a reservation of this order that the actor can read. Raises NotFound."""
    store_id = db.session.scalar(
        select(reservations.c.store_id).where(reservations.c.id == reservation_id,
                                              reservations.c.order_ref == order_ref.strip(),
                                              readable_scope(actor, reservations.c.store_id))
    ) if is_id(reservation_id) else None
    if store_id is None:
        raise NotFound("Reservation not found.")
    return int(store_id)


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


def location_store(actor: Actor, location_id: int) -> int:
    """The store a location belongs to. Raises NotFound (also for foreign locations)."""
    store_id = db.session.scalar(
        select(locations.c.store_id).where(
            locations.c.id == location_id, readable_scope(actor, locations.c.store_id)
        )
    ) if is_id(location_id) else None
    if store_id is None:
        raise NotFound("No such location among your stores.", {"location": "No such location."})
    return int(store_id)
