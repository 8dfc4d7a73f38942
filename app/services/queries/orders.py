"""Order reads: storefront availability, whether an order's lines could be reserved, an
order's holds, and its lines' location codes resolved."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    func,
    select,
)

from app.extensions import db
from app.models.stores import normalize_location_code
from app.permissions import Actor
from app.services.bundles import bundle_made, bundle_parts, makes
from app.services.errors import NotFound
from app.services.queries.common import (
    ReservationView,
    available,
    entries,
    locations,
    product_status,
    products,
    readable_scope,
    reservations,
    stores,
)
from app.services.validation import Checker, is_id


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
    parts = bundle_parts(db.session, [product.id]).get(product.id)
    if parts:
        made = bundle_made(parts)
        return Availability(product.id, False, made, "in_stock" if made else "out_of_stock")
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
    kits = bundle_parts(db.session, sorted(product_ids))
    stocked = product_ids | {c.product_id for parts in kits.values() for c in parts}
    per_location = {
        (r.product_id, r.location_id): (int(r.available), int(r.low_stock_threshold))
        for r in db.session.execute(
            select(
                entries.c.product_id, entries.c.location_id,
                available.label("available"), entries.c.low_stock_threshold,
            ).where(entries.c.store_id == store_id, entries.c.product_id.in_(stocked))
        )
    }
    answers = []
    for n, line in enumerate(lines):
        product = found[line["product_id"]]
        location_id = line.get("location_id")
        if product.id in kits:
            # A bundle: what its components make, location by location.
            places = ({location_id} if location_id is not None
                      else {lid for (_p, lid) in per_location})
            total = sum(
                makes(kits[product.id], {c.product_id: per_location[(c.product_id, lid)][0]
                                         for c in kits[product.id]
                                         if (c.product_id, lid) in per_location})
                for lid in places)
            answers.append(LineAvailability(
                n, line.get("line_ref"), product.id, location_id, line["quantity"], False,
                total, "in_stock" if total > 0 else "out_of_stock",
                total >= line["quantity"],
            ))
            continue
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
    """Every hold an order has had in a store, oldest first, with the product and the
    location it is held at. Raises NotFound when it has none, so a mistyped reference is
    not mistaken for an empty order."""
    check = Checker()
    check.text("order_ref", order_ref, required=True, max_length=100)
    check.done()
    rows = db.session.execute(
        select(
            reservations.c.id, reservations.c.order_ref, reservations.c.line_ref,
            reservations.c.quantity, reservations.c.open_quantity, reservations.c.status,
            reservations.c.expires_at, reservations.c.created_at, reservations.c.closed_at,
            reservations.c.product_id, reservations.c.location_id,
            locations.c.code.label("location_code"),
        )
        .join(locations, locations.c.id == reservations.c.location_id)
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
