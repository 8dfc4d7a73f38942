"""What goes on a printed label: products, inventory entries and locations, read in the
actor's stores. A label carries the code a scanner types back into the overview's search
(SKU, GTIN or location code), so a printed sheet and the scan box speak the same language."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.permissions import Actor
from app.services.errors import NotFound, ValidationError
from app.services.queries import entries, locations, products, readable_scope, stores
from app.services.validation import is_id

MAX_LABELS = 500  # one sheet; a store's whole catalog is printed in several


@dataclass(frozen=True)
class Label:
    kind: str  # "product", "entry" or "location"
    id: int
    code: str  # what the barcode encodes: a SKU or a location code
    title: str
    detail: str  # the line under the title: the store, and the location of an entry
    gtin: str | None = None


def labels_for(
    actor: Actor, *, product_ids: Sequence[int] = (), entry_ids: Sequence[int] = (),
    location_ids: Sequence[int] = (), store_id: int | None = None, every: str | None = None,
) -> list[Label]:
    """Labels for the ids given, in the order given; with `store_id` and `every`
    ("products" or "locations"), for each active one of that store, by code.
    Raises NotFound for an id (or store) the actor cannot read, ValidationError for a
    sheet of more than MAX_LABELS or none at all."""
    wanted = len(product_ids) + len(entry_ids) + len(location_ids)
    if wanted > MAX_LABELS:
        raise ValidationError({"labels": f"Print at most {MAX_LABELS} labels on one sheet."})
    for field, ids in (("product", product_ids), ("entry", entry_ids),
                       ("location", location_ids)):
        if not all(is_id(i) for i in ids):
            raise NotFound(f"No such {field}.", {field: f"No such {field}."})
    try:
        labels = [*_products(actor, product_ids), *_entries(actor, entry_ids),
                  *_locations(actor, location_ids)]
        if store_id is not None:
            labels += _every(actor, store_id, every)
    finally:
        db.session.rollback()
    if not labels:
        raise ValidationError({"labels": "Choose products, entries or locations to label."})
    return labels[:MAX_LABELS] if store_id is not None else labels


def _in_order(found: dict[int, Label], ids: Sequence[int], field: str) -> list[Label]:
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"No such {field}: {missing[0]}.", {field: f"No such {field}."})
    return [found[i] for i in ids]


def _products(actor: Actor, ids: Sequence[int]) -> list[Label]:
    if not ids:
        return []
    rows = db.session.execute(
        select(products.c.id, products.c.sku, products.c.title, products.c.gtin,
               stores.c.name.label("store"))
        .join(stores, stores.c.id == products.c.store_id)
        .where(products.c.id.in_(set(ids)), readable_scope(actor, products.c.store_id))
    )
    found = {r.id: Label("product", r.id, r.sku, r.title, f"{r.sku} · {r.store}", r.gtin)
             for r in rows}
    return _in_order(found, ids, "product")


def _entries(actor: Actor, ids: Sequence[int]) -> list[Label]:
    if not ids:
        return []
    rows = db.session.execute(
        select(entries.c.id, products.c.sku, products.c.title, products.c.gtin,
               locations.c.code.label("location"), stores.c.name.label("store"))
        .join(products, products.c.id == entries.c.product_id)
        .join(locations, locations.c.id == entries.c.location_id)
        .join(stores, stores.c.id == entries.c.store_id)
        .where(entries.c.id.in_(set(ids)), readable_scope(actor))
    )
    found = {r.id: Label("entry", r.id, r.sku, r.title, f"{r.sku} at {r.location} · {r.store}",
                         r.gtin) for r in rows}
    return _in_order(found, ids, "entry")


def _locations(actor: Actor, ids: Sequence[int]) -> list[Label]:
    if not ids:
        return []
    rows = db.session.execute(
        select(locations.c.id, locations.c.code, locations.c.name, stores.c.name.label("store"))
        .join(stores, stores.c.id == locations.c.store_id)
        .where(locations.c.id.in_(set(ids)), readable_scope(actor, locations.c.store_id))
    )
    found = {r.id: Label("location", r.id, r.code, r.name or r.code, r.store) for r in rows}
    return _in_order(found, ids, "location")


def _every(actor: Actor, store_id: int, every: str | None) -> list[Label]:
    store = db.session.execute(
        select(stores.c.id, stores.c.name)
        .where(stores.c.id == store_id, readable_scope(actor, stores.c.id))
    ).one_or_none() if is_id(store_id) else None
    if store is None:
        raise NotFound("No such store.", {"store": "No such store."})
    if every == "locations":
        rows = db.session.execute(
            select(locations.c.id, locations.c.code, locations.c.name)
            .where(locations.c.store_id == store_id, locations.c.archived_at.is_(None))
            .order_by(locations.c.code).limit(MAX_LABELS)
        )
        return [Label("location", r.id, r.code, r.name or r.code, store.name) for r in rows]
    if every == "products":
        rows = db.session.execute(
            select(products.c.id, products.c.sku, products.c.title, products.c.gtin)
            .where(products.c.store_id == store_id, products.c.archived_at.is_(None))
            .order_by(products.c.sku).limit(MAX_LABELS)
        )
        return [Label("product", r.id, r.sku, r.title, f"{r.sku} · {store.name}", r.gtin)
                for r in rows]
    raise ValidationError({"every": "Choose products or locations."})
