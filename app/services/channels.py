"""Sales channels: where a store sells (web shop, retail counter, marketplace), each selling
from an ordered list of the store's locations.

A channel's availability of a product sums its locations' available stock. An order
reserved on a channel names no location: the stock engine (stock.orders.reserve_order)
takes each line from the first location in the channel's order that can cover it, or,
when the channel allows splitting, from several in that order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.clock import utcnow
from app.database import is_unique_violation, write_transaction
from app.extensions import db
from app.models import (
    UNLIMITED_TYPES,
    ChannelLocation,
    InventoryEntry,
    Location,
    Product,
    SalesChannel,
)
from app.models.stores import normalize_location_code
from app.permissions import CATALOG, READ, Actor
from app.services import audit
from app.services.bundles import bundle_parts, made_at
from app.services.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.services.stores import require_store
from app.services.validation import Checker, is_id

channels = SalesChannel.__table__
channel_locations = ChannelLocation.__table__
locations = Location.__table__
entries = InventoryEntry.__table__
products = Product.__table__

# More would not be a channel's order of preference but a list of the store's locations.
MAX_CHANNEL_LOCATIONS = 50


@dataclass(frozen=True)
class ChannelRow:
    id: int
    store_id: int
    code: str
    name: str
    allow_split: bool
    location_ids: tuple[int, ...]
    location_codes: tuple[str, ...]


def _check(check: Checker, code: Any, name: Any, location_ids: Any) -> None:
    check.text("code", code, required=True, max_length=40)
    check.text("name", name, required=False, max_length=120)
    if not isinstance(location_ids, Sequence) or isinstance(location_ids, str) or not location_ids:
        check.fail("locations", "Choose at least one location the channel sells from.")
        return
    if len(location_ids) > MAX_CHANNEL_LOCATIONS:
        check.fail("locations", f"A channel sells from at most {MAX_CHANNEL_LOCATIONS} "
                                "locations.")
    elif not all(is_id(x) for x in location_ids):
        check.fail("locations", "Choose locations from the list.")
    elif len(set(location_ids)) != len(location_ids):
        check.fail("locations", "Each location appears once in a channel's order.")


def _require_locations(session: Any, store_id: int, location_ids: Sequence[int]) -> None:
    found = set(session.scalars(
        select(locations.c.id).where(locations.c.id.in_(location_ids),
                                     locations.c.store_id == store_id,
                                     locations.c.archived_at.is_(None))
    ))
    missing = [x for x in location_ids if x not in found]
    if missing:
        raise ValidationError({"locations": f"Location {missing[0]} is not an active location "
                                            "of this store."})


def create_channel(
    *, actor: Actor, store_id: int, code: str, name: str = "",
    location_ids: Sequence[int], allow_split: bool = False,
) -> ChannelRow:
    """A new channel selling from `location_ids`, in that order. Raises ValidationError
    (naming code, name or locations), Conflict (a code the store has), NotFound,
    PermissionDenied."""
    check = Checker()
    _check(check, code, name, location_ids)
    if not isinstance(allow_split, bool):
        check.fail("allow_split", "Choose yes or no.")
    check.done()
    require_store(actor, CATALOG, store_id)
    code = normalize_location_code(code)
    try:
        with write_transaction() as session:
            _require_locations(session, store_id, location_ids)
            if session.scalar(select(func.count()).where(channels.c.store_id == store_id,
                                                         channels.c.code == code)):
                raise Conflict(f"This store already has a channel with the code {code}.")
            channel_id = session.execute(
                insert(channels).values(store_id=store_id, code=code, name=(name or "").strip(),
                                        allow_split=allow_split, created_at=utcnow())
                .returning(channels.c.id)
            ).scalar_one()
            _write_order(session, store_id, channel_id, location_ids)
            audit.record(session, actor, "channel.created", "store", store_id, code,
                         store_id=store_id,
                         changes={"channel": (None, code),
                                  "locations": (None, _codes(session, location_ids)),
                                  "allow_split": (None, allow_split)})
    except IntegrityError as exc:
        if not is_unique_violation(exc, "code"):
            raise
        raise Conflict(f"This store already has a channel with the code {code}.") from exc
    return get_channel(actor, channel_id)


def update_channel(
    *, actor: Actor, channel_id: int, name: str, location_ids: Sequence[int],
    allow_split: bool,
) -> ChannelRow:
    """Change a channel's name, its locations and their order, and whether it splits
    lines. Reservations already made stay where they are. Raises ValidationError,
    NotFound, PermissionDenied."""
    check = Checker()
    _check(check, "x", name, location_ids)
    if not isinstance(allow_split, bool):
        check.fail("allow_split", "Choose yes or no.")
    check.done()
    with write_transaction() as session:
        current = session.execute(
            select(channels).where(channels.c.id == channel_id).with_for_update()
        ).one_or_none() if is_id(channel_id) else None
        if current is None or not actor.is_member(current.store_id):
            raise NotFound("Channel not found.")
        if not actor.can(CATALOG, current.store_id):
            raise PermissionDenied(CATALOG)
        _require_locations(session, current.store_id, location_ids)
        before = _codes(session, _order(session, channel_id))
        session.execute(update(channels).where(channels.c.id == channel_id)
                        .values(name=(name or "").strip(), allow_split=allow_split))
        session.execute(delete(channel_locations)
                        .where(channel_locations.c.channel_id == channel_id))
        _write_order(session, current.store_id, channel_id, location_ids)
        changes = audit.diff(
            {"name": current.name, "locations": before, "allow_split": current.allow_split},
            {"name": (name or "").strip(), "locations": _codes(session, location_ids),
             "allow_split": allow_split},
        )
        if changes:
            audit.record(session, actor, "channel.updated", "store", current.store_id,
                         current.code, store_id=current.store_id, changes=changes)
    return get_channel(actor, channel_id)


def _write_order(session: Any, store_id: int, channel_id: int,
                 location_ids: Sequence[int]) -> None:
    session.execute(insert(channel_locations), [
        {"channel_id": channel_id, "location_id": location_id, "store_id": store_id,
         "position": position}
        for position, location_id in enumerate(location_ids)
    ])


def _order(session: Any, channel_id: int) -> list[int]:
    return list(session.scalars(
        select(channel_locations.c.location_id)
        .where(channel_locations.c.channel_id == channel_id)
        .order_by(channel_locations.c.position)
    ))


def _codes(session: Any, location_ids: Sequence[int]) -> str:
    codes = dict(session.execute(
        select(locations.c.id, locations.c.code).where(locations.c.id.in_(location_ids))
    ).all())
    return ", ".join(codes.get(x, str(x)) for x in location_ids)


def channel_order(session: Any, store_id: int, channel_id: int) -> tuple[Any, list[int]]:
    """The live channel of this store, and its locations in order; NotFound otherwise.
    For the stock engine, inside its transaction."""
    channel = session.execute(
        select(channels.c.id, channels.c.code, channels.c.allow_split)
        .where(channels.c.id == channel_id, channels.c.store_id == store_id,
               channels.c.archived_at.is_(None))
    ).one_or_none() if is_id(channel_id) else None
    if channel is None:
        raise NotFound(f"Channel {channel_id} not found.",
                       {"channel": "No such channel in this store."})
    return channel, _order(session, channel.id)


def _row(channel: Any) -> ChannelRow:
    order = db.session.execute(
        select(locations.c.id, locations.c.code)
        .join(channel_locations, channel_locations.c.location_id == locations.c.id)
        .where(channel_locations.c.channel_id == channel.id)
        .order_by(channel_locations.c.position)
    ).all()
    return ChannelRow(id=channel.id, store_id=channel.store_id, code=channel.code,
                      name=channel.name, allow_split=channel.allow_split,
                      location_ids=tuple(r.id for r in order),
                      location_codes=tuple(r.code for r in order))


def get_channel(actor: Actor, channel_id: int) -> ChannelRow:
    """Raises NotFound for a channel the actor cannot read (a foreign store's too)."""
    channel = db.session.execute(
        select(channels).where(channels.c.id == channel_id)
    ).one_or_none() if is_id(channel_id) else None
    if channel is None or not actor.is_member(channel.store_id) or not actor.can(
            READ, channel.store_id):
        raise NotFound("Channel not found.")
    return _row(channel)


def find_channel(actor: Actor, store_id: int, code: str) -> ChannelRow:
    """A store's live channel by its code (any case). Raises NotFound naming `channel`."""
    require_store(actor, READ, store_id)
    channel = db.session.execute(
        select(channels).where(channels.c.store_id == store_id,
                               channels.c.code == normalize_location_code(code or ""),
                               channels.c.archived_at.is_(None))
    ).one_or_none()
    if channel is None:
        raise NotFound(f"No channel {code} in this store.",
                       {"channel": "No such channel in this store."})
    return _row(channel)


def list_channels(actor: Actor, store_id: int) -> list[ChannelRow]:
    """A store's live channels by code."""
    require_store(actor, READ, store_id)
    return [_row(c) for c in db.session.execute(
        select(channels).where(channels.c.store_id == store_id,
                               channels.c.archived_at.is_(None))
        .order_by(channels.c.code)
    )]


@dataclass(frozen=True)
class ChannelAvailability:
    product_id: int
    sku: str
    unlimited: bool
    available: int | None  # the sum over the channel's locations; None when unlimited
    by_location: tuple[tuple[str, int], ...]  # (code, available) in the channel's order


def channel_availability(actor: Actor, channel_id: int,
                         product_ids: Sequence[int]) -> list[ChannelAvailability]:
    """What each product can sell on the channel now: the available stock of the
    channel's locations, summed, and per location in the channel's order. Raises
    NotFound for a channel or product the actor cannot read."""
    channel = get_channel(actor, channel_id)
    wanted = sorted(set(product_ids))
    found = {
        r.id: r for r in db.session.execute(
            select(products.c.id, products.c.sku, products.c.type)
            .where(products.c.id.in_(wanted), products.c.store_id == channel.store_id)
        )
    }
    missing = [x for x in wanted if x not in found]
    if missing:
        raise NotFound(f"Product {missing[0]} not found.",
                       {"product_id": "No such product in this store."})
    stock: dict[tuple[int, int], int] = {
        (r.product_id, r.location_id): int(r.available)
        for r in db.session.execute(
            select(entries.c.product_id, entries.c.location_id,
                   (entries.c.quantity - entries.c.reserved_quantity).label("available"))
            .where(entries.c.product_id.in_(wanted),
                   entries.c.location_id.in_(channel.location_ids))
        )
    }
    kits = bundle_parts(db.session, wanted)
    out = []
    for product_id in product_ids:
        product = found[product_id]
        if product.type in UNLIMITED_TYPES:
            out.append(ChannelAvailability(product_id, product.sku, True, None, ()))
            continue
        if product_id in kits:
            # A bundle: what its components make at each of the channel's locations.
            made = made_at(kits[product_id])
            per = tuple((code, made.get(location_id, 0)) for location_id, code in
                        zip(channel.location_ids, channel.location_codes, strict=True))
            out.append(ChannelAvailability(product_id, product.sku, False,
                                           sum(n for _, n in per), per))
            continue
        per = tuple((code, max(stock.get((product_id, location_id), 0), 0))
                    for location_id, code in zip(channel.location_ids, channel.location_codes,
                                                 strict=True))
        out.append(ChannelAvailability(product_id, product.sku, False,
                                       sum(n for _, n in per), per))
    return out
