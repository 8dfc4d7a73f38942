"""Bundles (kits): a sellable product made of component products, such as a gift set of two
coffees and a mug.

A bundle holds no stock of its own. Its availability at a location is the least, over its
components, of the component's available stock there divided by the quantity one bundle
needs; reserving a bundle on an order holds its components (stock.orders.reserve_order),
and releasing, shipping or returning the order's line changes them, in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select

from app.database import write_transaction
from app.extensions import db
from app.models import BundleComponent, InventoryEntry, Location, Product
from app.permissions import CATALOG, READ, Actor
from app.services import audit
from app.services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.services.validation import LIMIT, identifier, is_id

components = BundleComponent.__table__
products = Product.__table__
entries = InventoryEntry.__table__
locations = Location.__table__

MAX_COMPONENTS = 20


@dataclass(frozen=True)
class Component:
    product_id: int
    sku: str
    title: str
    quantity: int


def bundle_parts(session: Any, product_ids: Sequence[int]) -> dict[int, list[Component]]:
    """The components of whichever of these products are bundles, by bundle id."""
    if not product_ids:
        return {}
    out: dict[int, list[Component]] = {}
    for r in session.execute(
        select(components.c.bundle_id, components.c.component_id, components.c.quantity,
               products.c.sku, products.c.title)
        .join(products, products.c.id == components.c.component_id)
        .where(components.c.bundle_id.in_(sorted(set(product_ids))))
        .order_by(components.c.bundle_id, products.c.sku)
    ):
        out.setdefault(r.bundle_id, []).append(
            Component(r.component_id, r.sku, r.title, int(r.quantity)))
    return out


def set_components(
    *, actor: Actor, bundle_id: int, parts: Sequence[tuple[int, int]]
) -> list[Component]:
    """Make a product a bundle of these (component id, quantity per bundle) pairs, or
    change its components; an empty list makes it an ordinary product again. The bundle
    must hold no stock of its own (no entries), and its components must be physical
    products of its store that are not bundles themselves. Raises ValidationError naming
    `components`, Conflict, NotFound, PermissionDenied."""
    problem = _parts_problem(bundle_id, parts)
    if problem:
        raise ValidationError({"components": problem})
    with write_transaction() as session:
        bundle = session.execute(
            select(products.c.id, products.c.store_id, products.c.sku, products.c.type)
            .where(products.c.id == bundle_id).with_for_update(key_share=True)
        ).one_or_none() if is_id(bundle_id) else None
        if bundle is None or not actor.is_member(bundle.store_id):
            raise NotFound("Product not found.")
        if not actor.can(CATALOG, bundle.store_id):
            raise PermissionDenied(CATALOG)
        if bundle.type != "physical":
            raise ValidationError({"components": f"{bundle.sku} is a {bundle.type} product; "
                                                 "a bundle is physical."})
        stocked = session.scalar(select(func.count()).select_from(entries)
                                 .where(entries.c.product_id == bundle_id))
        if stocked and parts:
            raise Conflict(f"{bundle.sku} has stock at {stocked} location(s); a bundle holds "
                           "none of its own. Delete its entries first, or make a new product "
                           "the bundle.")
        wanted = [p for p, _ in parts]
        found = {r.id: r for r in session.execute(
            select(products.c.id, products.c.sku, products.c.type)
            .where(products.c.id.in_(wanted), products.c.store_id == bundle.store_id))}
        nested = set(session.scalars(select(components.c.bundle_id)
                                     .where(components.c.bundle_id.in_(wanted))))
        used_in = session.scalar(select(func.count()).select_from(components)
                                 .where(components.c.component_id == bundle_id))
        for product_id, _ in parts:
            if product_id not in found:
                raise ValidationError({"components": f"Product {product_id} is not a product "
                                                     "of this store."})
            if found[product_id].type != "physical":
                raise ValidationError({"components": f"{found[product_id].sku} is "
                                                     f"{found[product_id].type}: a component "
                                                     "is a physical product."})
            if product_id in nested:
                raise ValidationError({"components": f"{found[product_id].sku} is a bundle "
                                                     "itself; list its components instead."})
        if used_in and parts:
            raise ValidationError({"components": f"{bundle.sku} is a component of another "
                                                 "bundle, so it cannot be a bundle itself."})
        before = _described(bundle_parts(session, [bundle_id]).get(bundle_id, []))
        session.execute(delete(components).where(components.c.bundle_id == bundle_id))
        if parts:
            session.execute(insert(components), [
                {"bundle_id": bundle_id, "component_id": p, "store_id": bundle.store_id,
                 "quantity": q} for p, q in parts])
        after_parts = bundle_parts(session, [bundle_id]).get(bundle_id, [])
        after = _described(after_parts)
        if before != after:
            audit.record(session, actor, "product.updated", "product", bundle_id, bundle.sku,
                         store_id=bundle.store_id, product_id=bundle_id,
                         changes={"components": (before or None, after or None)})
    return after_parts


def _parts_problem(bundle_id: Any, parts: Any) -> str | None:
    if not isinstance(parts, Sequence) or isinstance(parts, str):
        return "List the components."
    if len(parts) > MAX_COMPONENTS:
        return f"A bundle has at most {MAX_COMPONENTS} components."
    seen = set()
    for part in parts:
        if not (isinstance(part, tuple) and len(part) == 2 and is_id(part[0])
                and type(part[1]) is int):
            return "Each component is a product and a whole number of units."
        if not 1 <= part[1] <= LIMIT:
            return "Each component needs at least 1 unit per bundle."
        if part[0] == bundle_id:
            return "A bundle cannot contain itself."
        if part[0] in seen:
            return "Each product appears once among the components."
        seen.add(part[0])
    return None


def _described(parts: Sequence[Component]) -> str:
    return ", ".join(f"{c.sku} ×{c.quantity}" for c in parts)


@dataclass(frozen=True)
class BundleAvailability:
    bundle_id: int
    components: tuple[Component, ...]
    # (location code, bundles available there) for each location holding every component.
    by_location: tuple[tuple[str, int], ...]

    @property
    def available(self) -> int:
        return sum(n for _, n in self.by_location)


def bundle_availability(actor: Actor, bundle_id: int) -> BundleAvailability:
    """How many of a bundle can be made at each location now, and in all. Raises NotFound
    for a product the actor cannot read, ValidationError when it is not a bundle."""
    bundle = db.session.execute(
        select(products.c.id, products.c.store_id).where(products.c.id == bundle_id)
    ).one_or_none() if is_id(bundle_id) else None
    if bundle is None or not actor.is_member(bundle.store_id) or not actor.can(
            READ, bundle.store_id):
        raise NotFound("Product not found.")
    parts = bundle_parts(db.session, [bundle_id]).get(bundle_id, [])
    if not parts:
        raise ValidationError({"product_id": "This product is not a bundle."})
    made = made_at(parts)
    codes = dict(db.session.execute(
        select(locations.c.id, locations.c.code).where(locations.c.id.in_(list(made)))
    ).all()) if made else {}
    per_location = [(codes[location_id], n) for location_id, n in made.items()]
    return BundleAvailability(bundle_id, tuple(parts), tuple(sorted(per_location)))


PART_LINE = re.compile(r"^\s*(?P<sku>\S+)\s*(?:[×xX*]\s*(?P<qty>\d{1,10}))?\s*$")


def parse_parts(actor: Actor, store_id: int, text: str) -> list[tuple[int, int]]:
    """Components as a person types them, one a line: "COFFEE-WB-250 × 2" (no quantity
    is 1), SKUs of the store in any case. Raises ValidationError naming `components`."""
    wanted: list[tuple[int, str, int]] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        match = PART_LINE.match(identifier(line))
        if match is None:
            raise ValidationError({"components": (
                f"Line {number}: write a SKU and how many one bundle takes, for example "
                "“MUG-BLU × 2”.")})
        wanted.append((number, match["sku"], int(match["qty"] or 1)))
    if len(wanted) > MAX_COMPONENTS:
        raise ValidationError({"components": f"A bundle has at most {MAX_COMPONENTS} "
                                             "components."})
    found = {
        sku.casefold(): product_id for product_id, sku in db.session.execute(
            select(products.c.id, products.c.sku).where(
                products.c.store_id == store_id,
                func.lower(products.c.sku).in_([w[1].lower() for w in wanted])))
    } if wanted else {}
    parts = []
    for number, sku, quantity in wanted:
        if sku.casefold() not in found:
            raise ValidationError({"components": f"Line {number}: this store has no product "
                                                 f"with the SKU {sku}."})
        parts.append((found[sku.casefold()], quantity))
    return parts


def makes(parts: Sequence[Component] | Sequence[tuple[int, int]],
          available: Mapping[int, int]) -> int:
    """How many bundles one location makes from its components' available stock there
    (product id → available; a component missing makes none): the least, over the
    components, of available ÷ the quantity one bundle takes."""
    pairs = [(c.product_id, c.quantity) if isinstance(c, Component) else c for c in parts]
    return min(max(available.get(pid, 0), 0) // per for pid, per in pairs)


def made_at(parts: Sequence[Component]) -> dict[int, int]:
    """How many bundles of these components each location can make now (by location id):
    the least, over the components, of available ÷ quantity; a location lacking one of
    them makes none and is left out."""
    held: dict[int, dict[int, int]] = {}
    for r in db.session.execute(
        select(entries.c.product_id, entries.c.location_id,
               (entries.c.quantity - entries.c.reserved_quantity).label("available"))
        .where(entries.c.product_id.in_([c.product_id for c in parts]))
    ):
        held.setdefault(r.location_id, {})[r.product_id] = int(r.available)
    return {
        location_id: makes(parts, stock)
        for location_id, stock in held.items() if all(c.product_id in stock for c in parts)
    }


def bundle_made(parts: Sequence[Component]) -> int:
    """How many bundles of these components all locations together can make now."""
    return sum(made_at(parts).values())


def components_of(product_id: int) -> list[Component]:
    """A product's components, by SKU; empty when it is not a bundle."""
    return bundle_parts(db.session, [product_id]).get(product_id, [])
