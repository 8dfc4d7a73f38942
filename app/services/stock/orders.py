"""The order flow: reserve an order's lines all or nothing, release them when payment
fails, fulfill them on shipment, take returns.

The order's own reservations are the record of where each line stands, so a repeat for
the same order line changes nothing: reserve skips lines that already hold stock, release
and fulfill only touch holds still active. Each call first locks the entries it will
touch, in primary-key order, and only then reads the order's holds, so a concurrent
repeat waits for this one and then sees its result. Returns have no such state on the
line, so a return without an idempotency key gets one derived from its content.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.models import UNLIMITED_TYPES
from app.permissions import ADJUST, RESERVE, Actor
from app.services.bundles import Component, bundle_parts, makes
from app.services.channels import channel_order
from app.services.errors import (
    Conflict,
    ExceedsFulfilled,
    NotFound,
    OrderShort,
    QuantityTooLarge,
    ValidationError,
)
from app.services.stock.engine import (
    ADD_ON_HAND,
    HOLD,
    MAX_EXPIRY_SECONDS,
    MAX_ORDER_LINES,
    RELEASE_HOLD,
    SHIP_HOLD,
    EntryState,
    StockChange,
    available,
    change_entry,
    check_expiry,
    entries,
    entry_for,
    expiry,
    insert_reservation,
    locations,
    lock_entries,
    movements,
    products,
    record,
    require_future_expiry,
    reservations,
    run_mutation,
)
from app.services.stock.holds import expire_entry
from app.services.stores import require_store
from app.services.validation import Checker, clean_text, is_id

# A line counts as reserved while its hold is active or has shipped.
HOLDING = ("active", "fulfilled")


def reserve_order(
    *,
    actor: Actor,
    store_id: int,
    order_ref: str,
    lines: Sequence[Mapping[str, Any]],
    expires_at: datetime | None = None,
    expires_in_seconds: int | None = None,
    idempotency_key: str | None = None,
    channel_id: int | None = None,
) -> StockChange:
    """Reserve every line of an order that holds no stock yet, or none of them. Each line
    has product_id, quantity, an optional line_ref and, for physical products,
    location_id; unlimited products are granted without an entry. A line whose line_ref
    already holds stock in this order is left as it is. The holds lapse at `expires_at`
    or after `expires_in_seconds` (one or neither).

    On a sales channel (`channel_id`), a physical line may leave its location out: the
    line is taken from the first of the channel's locations, in the channel's order, whose
    available stock covers it; when none does and the channel allows splitting, from
    several in that order, one hold each; else the line is short. Every entry the choice
    could take from is locked (primary-key order) before its stock is read, so two orders
    choosing at once cannot both count the same units.

    Raises OrderShort naming every short line, Conflict when a line was reserved with
    other values, NotFound, ValidationError."""
    check = Checker()
    if channel_id is not None and not is_id(channel_id):
        check.fail("channel", "Choose a channel.")
    _check_order(check, store_id, order_ref)
    check_expiry(check, expires_at, expires_in_seconds)
    _check_lines(check, lines, quantity=True, product=True, line_ref_required=False)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        require_future_expiry(expires_at, now)
        until = expiry(expires_at, expires_in_seconds, now)
        ref = clean_text(order_ref)
        require_store(actor, RESERVE, store_id)
        channel, order = (channel_order(session, store_id, channel_id)
                          if channel_id is not None else (None, []))
        kits = bundle_parts(session, [line["product_id"] for line in lines])
        found, physical, by_key = _resolve_lines(session, store_id, lines,
                                                 on_channel=channel is not None, kits=kits)
        # The entries a channel line may take from: its product (a bundle's components)
        # at each channel location.
        choosing = {part for _, line in physical if line.get("location_id") is None
                    for part, _per in _parts(kits, line["product_id"])}
        candidates = _channel_entries(session, store_id, choosing, order)
        lock_entries(session, [*by_key.values(), *candidates.values()])
        left = _available_after_expiry(session, candidates.values(), now)
        line_refs = [clean_text(x.get("line_ref")) for x in lines]
        held = _line_holds(session, store_id, ref, [r for r in line_refs if r])

        def label(n: int, sku: str) -> str:
            return f"{line_refs[n] or f'line {n + 1}'}: {sku}"

        results: list[dict[str, Any]] = []
        short: list[dict[str, Any]] = []
        # (entry id, line, quantity, product held): a bundle's line holds its components.
        planned: list[tuple[int, int, int, int]] = []
        for n, line in enumerate(lines):
            line_ref = line_refs[n]
            product = found[line["product_id"]]
            result = {"line_ref": line_ref, "product_id": product.id,
                      "location_id": line.get("location_id"), "quantity": line["quantity"],
                      "reservation_ids": []}
            results.append(result)
            if product.type in UNLIMITED_TYPES:
                result["status"] = "unlimited"
                continue
            chosen_here = line.get("location_id") is None
            if line_ref in held:
                prior = held[line_ref]
                # A line the channel placed may sit anywhere: its quantity and product say
                # whether the repeat is the same line.
                asked = (line["quantity"], product.id,
                         prior["location_id"] if chosen_here else line["location_id"])
                if (prior["quantity"], prior["product_id"], prior["location_id"]) != asked:
                    raise Conflict(
                        f"Line {line_ref} is already reserved as {prior['quantity']} of "
                        f"product {prior['product_id']}; release it before changing it."
                    )
                result.update(status="already_reserved", reservation_ids=prior["ids"],
                              location_id=prior["location_id"])
                continue
            parts = _parts(kits, product.id)
            if chosen_here and product.id in kits:
                assert channel is not None
                place = _choose_for_bundle(parts, line["quantity"], order, candidates, left)
                if place is None:
                    short.append({"line": n, "label": f"{label(n, product.sku)} on "
                                  f"{channel.code}", "available": max(
                                      (_bundles_at(parts, loc, candidates, left)
                                       for loc in order), default=0),
                                  "requested": line["quantity"], "channel": channel.code})
                    continue
                for part, per in parts:
                    entry_id = candidates[(part, place)]
                    left[entry_id] -= per * line["quantity"]
                    planned.append((entry_id, n, per * line["quantity"], part))
                result["location_id"] = place
                continue
            if chosen_here:
                assert channel is not None
                pieces = _choose(product.id, line["quantity"], order, candidates, left,
                                 split=channel.allow_split)
                if not pieces:
                    total = sum(max(left.get(candidates.get((product.id, loc), 0), 0), 0)
                                for loc in order)
                    where = f"{label(n, product.sku)} on {channel.code}"
                    if total >= line["quantity"]:
                        where += ", no one location of which holds it all"
                    short.append({"line": n, "label": where, "available": total,
                                  "requested": line["quantity"], "channel": channel.code})
                    continue
                for entry_id, qty in pieces:
                    left[entry_id] -= qty
                    planned.append((entry_id, n, qty, product.id))
                result["location_id"] = next(
                    loc for loc in order if candidates.get((product.id, loc)) == pieces[0][0])
                continue
            missing = [part for part, _per in parts
                       if (part, line["location_id"]) not in by_key]
            if missing:
                what = label(n, product.sku) + (
                    f" (component {kit_sku(kits, product.id, missing[0])} is not stocked "
                    "there)" if product.id in kits else "")
                short.append({"line": n, "label": what, "available": 0,
                              "requested": line["quantity"]})
                continue
            for part, per in parts:
                planned.append((by_key[(part, line["location_id"])], n, per * line["quantity"],
                                part))

        # Hold in primary-key order: two orders touching the same entries can't deadlock.
        reservation_ids: list[int] = []
        movement_ids: list[int] = []
        states: dict[int, EntryState] = {}
        location_of = {entry_id: loc for (_p, loc), entry_id in candidates.items()}
        for entry_id, n, qty, part in sorted(planned, key=lambda item: (item[0], item[1])):
            line = lines[n]
            sold = found[line["product_id"]]
            bundle = sold.id if sold.id in kits else None
            row = change_entry(session, actor, RESERVE, HOLD, entry_id, now, n=qty)
            if row is None and expire_entry(session, entry_id, now):
                row = change_entry(session, actor, RESERVE, HOLD, entry_id, now, n=qty)
            if row is None:
                current = entry_for(session, actor, RESERVE, entry_id)
                if bundle is None:
                    short.append({"line": n, "label": label(n, sold.sku),
                                  "available": available(current), "requested": qty})
                else:
                    per = qty // line["quantity"]
                    short.append({"line": n, "label": label(n, sold.sku) + (
                        f" (component {kit_sku(kits, bundle, part)}, {per} a bundle)"),
                        "available": max(available(current), 0) // per,
                        "requested": line["quantity"]})
                continue
            # Record each line at once: its ledger row carries the quantities as they stood
            # after that very line, and expiring stale holds for a later line on the same
            # entry writes rows that must come after it. A short order rolls all this back.
            rid = insert_reservation(
                session, actor, row, qty, order_ref, line.get("line_ref"), until, now
            )
            reservation_ids.append(rid)
            note = None
            if bundle is not None:
                # The component's hold names its bundle and how many the line holds, so
                # shipping and returns of the line know what one bundle takes.
                session.execute(update(reservations).where(reservations.c.id == rid)
                                .values(bundle_id=bundle, bundle_units=line["quantity"]))
                note = f"Bundle {sold.sku} ×{line['quantity']}"
            movement_ids.append(
                record(session, actor, row, "reserved", 0, qty, now, reference=ref,
                       reservation_id=rid, reason=note)
            )
            states[row.id] = EntryState.of(row)
            results[n]["status"] = "reserved"
            results[n]["reservation_ids"] = [*results[n]["reservation_ids"], rid]
            if bundle is not None:
                results[n].setdefault("components", []).append(
                    {"product_id": part, "quantity": qty, "reservation_id": rid})
            elif line.get("location_id") is None:
                results[n].setdefault("allocations", []).append(
                    {"location_id": location_of[entry_id], "quantity": qty,
                     "reservation_id": rid})
        if short:
            raise OrderShort(sorted(short, key=lambda s: s["line"]))
        return StockChange(
            "order_reserve", tuple(states.values()), tuple(movement_ids),
            tuple(reservation_ids),
            details={"order_ref": ref, "store_id": store_id, "lines": results,
                     **({"channel": channel.code} if channel is not None else {}),
                     "expires_at": until.isoformat() + "Z" if until else None,
                     "unlimited_lines": [n for n, r in enumerate(results)
                                         if r["status"] == "unlimited"]},
        )

    return run_mutation(
        "order_reserve", actor, idempotency_key,
        {"store_id": store_id, "order_ref": order_ref, "lines": [dict(x) for x in lines],
         "expires_at": expires_at, "expires_in_seconds": expires_in_seconds,
         **({"channel_id": channel_id} if channel_id is not None else {})},
        work,
    )


def _parts(kits: Mapping[int, list[Component]], product_id: int) -> list[tuple[int, int]]:
    """What a line of this product holds, as (product id, units per unit sold): a bundle's
    components, or the product itself."""
    if product_id in kits:
        return [(c.product_id, c.quantity) for c in kits[product_id]]
    return [(product_id, 1)]


def kit_sku(kits: Mapping[int, list[Component]], bundle_id: int, product_id: int) -> str:
    return next(c.sku for c in kits[bundle_id] if c.product_id == product_id)


def _bundles_at(parts: Sequence[tuple[int, int]], location_id: int,
                candidates: Mapping[tuple[int, int], int], left: Mapping[int, int]) -> int:
    """How many bundles of these parts a location can make from what is left there."""
    if any((part, location_id) not in candidates for part, _ in parts):
        return 0
    return makes(parts, {part: left.get(candidates[(part, location_id)], 0)
                         for part, _ in parts})


def _choose_for_bundle(parts: Sequence[tuple[int, int]], quantity: int, order: Sequence[int],
                       candidates: Mapping[tuple[int, int], int], left: Mapping[int, int]
                       ) -> int | None:
    """The first of the channel's locations where every component covers the line: a
    bundle is put together in one place, never split."""
    return next((loc for loc in order if _bundles_at(parts, loc, candidates, left) >= quantity),
                None)


def _channel_entries(session: Session, store_id: int, product_ids: set[int],
                     order: Sequence[int]) -> dict[tuple[int, int], int]:
    """The entry id of each (product, channel location) that has one."""
    if not product_ids or not order:
        return {}
    return {
        (r.product_id, r.location_id): r.id
        for r in session.execute(
            select(entries.c.id, entries.c.product_id, entries.c.location_id)
            .where(entries.c.store_id == store_id, entries.c.product_id.in_(product_ids),
                   entries.c.location_id.in_(order))
        )
    }


def _available_after_expiry(session: Session, entry_ids: Any, now: datetime
                            ) -> dict[int, int]:
    """Available stock of these (locked) entries once their lapsed holds are retired, so a
    channel's choice counts what is really free."""
    ids = sorted(set(entry_ids))
    for entry_id in ids:
        expire_entry(session, entry_id, now)
    if not ids:
        return {}
    return {
        r.id: int(r.quantity - r.reserved_quantity)
        for r in session.execute(
            select(entries.c.id, entries.c.quantity, entries.c.reserved_quantity)
            .where(entries.c.id.in_(ids))
        )
    }


def _choose(product_id: int, quantity: int, order: Sequence[int],
            candidates: Mapping[tuple[int, int], int], left: Mapping[int, int], *,
            split: bool) -> list[tuple[int, int]]:
    """Where a channel line is taken from, as (entry id, quantity): the first location in
    the channel's order that covers it all; else, splitting, as much as each location has,
    in order, until the line is covered. Empty when the channel cannot cover the line."""
    stocked = [candidates[(product_id, loc)] for loc in order if (product_id, loc) in candidates]
    for entry_id in stocked:
        if left.get(entry_id, 0) >= quantity:
            return [(entry_id, quantity)]
    if not split:
        return []
    pieces, needed = [], quantity
    for entry_id in stocked:
        take = min(max(left.get(entry_id, 0), 0), needed)
        if take:
            pieces.append((entry_id, take))
            needed -= take
        if not needed:
            return pieces
    return []


def release_order(
    *,
    actor: Actor,
    store_id: int,
    order_ref: str,
    line_refs: Sequence[str] | None = None,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Give back every unit an order (or some of its lines) still holds, e.g. when payment
    fails. Holds already closed are left alone. Raises NotFound for an order with no
    reservations."""
    return _close_order(
        "release", actor, store_id, order_ref, line_refs, reason, idempotency_key
    )


def fulfill_order(
    *,
    actor: Actor,
    store_id: int,
    order_ref: str,
    line_refs: Sequence[str] | None = None,
    reason: str | None = None,
    idempotency_key: str | None = None,
) -> StockChange:
    """Ship every unit an order (or some of its lines) holds: on-hand and reserved go down
    together. Holds already closed are left alone. Raises NotFound for an order with no
    reservations."""
    return _close_order(
        "fulfill", actor, store_id, order_ref, line_refs, reason, idempotency_key
    )


def return_order(
    *,
    actor: Actor,
    store_id: int,
    order_ref: str,
    lines: Sequence[Mapping[str, Any]],
    reason: str,
    idempotency_key: str | None = None,
) -> StockChange:
    """Put units of shipped order lines back on hand where they left from. Each line has
    line_ref and quantity. A line's units go back to the holds that shipped them, the
    oldest hold first, so a line split across locations, or reserved again elsewhere after
    a release, returns each unit to its own location; a bundle line returns whole bundles,
    each component to where its hold shipped it. Without an idempotency key the same
    return sent twice counts once. Raises ExceedsFulfilled, NotFound, Conflict (a line
    shipped from an entry deleted since)."""
    check = Checker()
    _check_order(check, store_id, order_ref)
    _check_lines(check, lines, quantity=True, product=False, line_ref_required=True)
    check.text("reason", reason, required=True, max_length=200)
    check.done()
    params = {"store_id": store_id, "order_ref": order_ref,
              "lines": [dict(x) for x in lines], "reason": reason}
    if idempotency_key is None:
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        idempotency_key = f"order-return:{digest}"

    def work(session: Session) -> StockChange:
        now = utcnow()
        ref = clean_text(order_ref)
        require_store(actor, ADJUST, store_id)
        refs = [clean_text(line["line_ref"]) for line in lines]
        holds = session.execute(
            select(reservations.c.id, reservations.c.line_ref, reservations.c.entry_id,
                   reservations.c.product_id, reservations.c.quantity, reservations.c.status,
                   reservations.c.bundle_id, reservations.c.bundle_units)
            .where(reservations.c.store_id == store_id, reservations.c.order_ref == ref,
                   reservations.c.line_ref.in_(refs))
            .order_by(reservations.c.id)
        ).all()
        by_line: dict[str, list[Any]] = {}
        for hold in holds:
            by_line.setdefault(hold.line_ref, []).append(hold)
        for line_ref in refs:
            if line_ref not in by_line:
                raise NotFound(f"Order {ref} has no line {line_ref}.")
        lock_entries(session, {h.entry_id for h in holds if h.entry_id is not None})
        shipped = _ledger_sums(session, [h.id for h in holds])

        # Every line first, in the request's order: which hold takes back how many. A line
        # is what its latest reservation sold: a line released and reserved again as
        # another product (a bundle once, a plain product now, say) returns the latter.
        pieces: list[tuple[Any, int]] = []
        results = []
        for line in lines:
            line_ref = clean_text(line["line_ref"])
            latest = by_line[line_ref][-1]
            line_holds = [h for h in by_line[line_ref] if h.bundle_id == latest.bundle_id and (
                latest.bundle_id is not None or h.product_id == latest.product_id)]
            bundle = latest.bundle_id is not None
            taken = (_bundle_returns if bundle else _plain_returns)(
                line_ref, line["quantity"], line_holds, shipped)
            if any(hold.entry_id is None for hold, _units in taken):
                raise Conflict(f"Line {line_ref} shipped from an entry that no longer exists.")
            pieces += taken
            places = {hold.entry_id for hold, _units in taken}
            results.append({"line_ref": line_ref, "quantity": line["quantity"],
                            "entry_id": places.pop() if len(places) == 1 and not bundle
                            else None})
        # Then the entries, in primary-key order. Each row names the hold it returns to,
        # so the next return of the line counts what already came back to each.
        movement_ids: list[int] = []
        states: dict[int, EntryState] = {}
        for hold, units in sorted(pieces, key=lambda p: (p[0].entry_id, p[0].id)):
            row = change_entry(session, actor, ADJUST, ADD_ON_HAND, hold.entry_id, now, n=units)
            if row is None:
                entry_for(session, actor, ADJUST, hold.entry_id)
                raise QuantityTooLarge()
            movement_ids.append(record(
                session, actor, row, "returned", units, 0, now,
                reason=clean_text(reason), reference=ref, reservation_id=hold.id,
            ))
            states[row.id] = EntryState.of(row)
        return StockChange(
            "order_return", tuple(states.values()), tuple(movement_ids),
            details={"order_ref": ref, "store_id": store_id, "lines": results},
        )

    return run_mutation("order_return", actor, idempotency_key, params, work)


def _out(shipped: Mapping[tuple[int, str], int], hold_id: int) -> int:
    """Units a hold shipped that have not come back (the ledger's shipments are negative)."""
    return -shipped.get((hold_id, "fulfilled"), 0) - shipped.get((hold_id, "returned"), 0)


def _plain_returns(line_ref: str, quantity: int, holds: Sequence[Any],
                   shipped: Mapping[tuple[int, str], int]) -> list[tuple[Any, int]]:
    """Returned units of a line: no more than it shipped and has not had back, taken from
    its holds oldest first, each up to what it shipped and has not had back."""
    outs = [(hold, _out(shipped, hold.id)) for hold in holds]
    returnable = sum(out for _hold, out in outs)
    if quantity > returnable:
        raise ExceedsFulfilled(line_ref, quantity, max(returnable, 0))
    pieces, left = [], quantity
    for hold, out in outs:
        take = min(max(out, 0), left)
        if take:
            pieces.append((hold, take))
            left -= take
    return pieces


def _bundle_returns(line_ref: str, bundles: int, holds: Sequence[Any],
                    shipped: Mapping[tuple[int, str], int]) -> list[tuple[Any, int]]:
    """Returned bundles of a line: each of its component holds takes back as many units
    per bundle as it held. The line is the holds still holding or having shipped; one
    released or expired unshipped (a reservation of the line given up before it was
    reserved again) no longer counts. No more bundles than have shipped and not come
    back, counted on the hold that has the fewest."""
    making = [(hold, hold.quantity // hold.bundle_units) for hold in holds
              if hold.status in HOLDING or shipped.get((hold.id, "fulfilled"))]
    returnable = min((_out(shipped, hold.id) // per for hold, per in making), default=0)
    if bundles > returnable:
        raise ExceedsFulfilled(line_ref, bundles, max(returnable, 0))
    return [(hold, per * bundles) for hold, per in making]


# --------------------------------------------------------------------------- machinery


def _close_order(
    verb: str,
    actor: Actor,
    store_id: int,
    order_ref: str,
    line_refs: Sequence[str] | None,
    reason: str | None,
    idempotency_key: str | None,
) -> StockChange:
    fulfilling = verb == "fulfill"
    check = Checker()
    _check_order(check, store_id, order_ref)
    if line_refs is not None:
        if not isinstance(line_refs, Sequence) or isinstance(line_refs, str) or not line_refs:
            check.fail("line_refs", "List at least one line, or leave it out for all lines.")
        else:
            for n, line_ref in enumerate(line_refs):
                check.text(f"line_refs[{n}]", line_ref, required=True, max_length=100)
    check.text("reason", reason, required=False, max_length=200)
    check.done()

    def work(session: Session) -> StockChange:
        now = utcnow()
        ref = clean_text(order_ref)
        require_store(actor, RESERVE, store_id)
        scope = [reservations.c.store_id == store_id, reservations.c.order_ref == ref]
        if line_refs is not None:
            scope.append(reservations.c.line_ref.in_([clean_text(x) for x in line_refs]))
        if not session.scalar(select(func.count()).where(*scope)):
            raise NotFound(f"Order {ref} has no reservations" + (
                " for these lines." if line_refs is not None else "."
            ))
        active = reservations.c.status == "active"
        entry_ids = set(session.scalars(select(reservations.c.entry_id).where(*scope, active)))
        lock_entries(session, entry_ids)
        # Read again under the locks: a concurrent release may have closed some holds.
        holds = session.execute(
            select(reservations.c.id, reservations.c.entry_id, reservations.c.open_quantity,
                   reservations.c.line_ref)
            .where(*scope, active, reservations.c.entry_id.in_(entry_ids))
            .order_by(reservations.c.entry_id, reservations.c.id)
        ).all()
        final_status = "fulfilled" if fulfilling else "released"
        movement_ids: list[int] = []
        states: dict[int, EntryState] = {}
        results = []
        for hold in holds:
            amount = hold.open_quantity
            row = change_entry(
                session, actor, RESERVE, SHIP_HOLD if fulfilling else RELEASE_HOLD,
                hold.entry_id, now, n=amount,
            )
            if row is None:  # pragma: no cover - holds sum to reserved on a locked entry
                raise Conflict("The order's holds do not match the entry; nothing changed.")
            session.execute(
                update(reservations).where(reservations.c.id == hold.id)
                .values(open_quantity=0, status=final_status, closed_at=now)
            )
            movement_ids.append(record(
                session, actor, row, "fulfilled" if fulfilling else "released",
                -amount if fulfilling else 0, -amount, now,
                reason=clean_text(reason), reference=ref, reservation_id=hold.id,
            ))
            states[row.id] = EntryState.of(row)
            results.append({"line_ref": hold.line_ref, "reservation_id": hold.id,
                            "quantity": amount})
        return StockChange(
            f"order_{verb}", tuple(states.values()), tuple(movement_ids),
            tuple(h.id for h in holds),
            details={"order_ref": ref, "store_id": store_id, "lines": results},
        )

    return run_mutation(
        f"order_{verb}", actor, idempotency_key,
        {"store_id": store_id, "order_ref": order_ref,
         "line_refs": list(line_refs) if line_refs is not None else None, "reason": reason},
        work,
    )


def _check_order(check: Checker, store_id: Any, order_ref: Any) -> None:
    if not is_id(store_id):
        check.fail("store_id", "Choose a store.")
    check.text("order_ref", order_ref, required=True, max_length=100)


def _check_lines(
    check: Checker, lines: Any, *, quantity: bool, product: bool, line_ref_required: bool
) -> None:
    if not isinstance(lines, Sequence) or isinstance(lines, str) or not lines:
        check.fail("lines", "Add at least one line.")
        return
    if len(lines) > MAX_ORDER_LINES:
        check.fail("lines", f"At most {MAX_ORDER_LINES} lines per order.")
        return
    seen: set[str] = set()
    for n, line in enumerate(lines):
        if not isinstance(line, Mapping):
            needs = "product_id and quantity" if product else "line_ref and quantity"
            check.fail(f"lines[{n}]", f"Each line needs {needs}.")
            continue
        line_ref = line.get("line_ref")
        check.text(f"lines[{n}].line_ref", line_ref, required=line_ref_required,
                   max_length=100)
        if isinstance(line_ref, str) and line_ref.strip():
            if line_ref.strip() in seen:
                check.fail(f"lines[{n}].line_ref", "Each line of an order needs its own ref.")
            seen.add(line_ref.strip())
        if product:
            if not is_id(line.get("product_id")):
                check.fail(f"lines[{n}].product_id", "Choose a product.")
            if line.get("location_id") is not None and not is_id(line["location_id"]):
                check.fail(f"lines[{n}].location_id", "Choose a location.")
        if quantity:
            check.whole(f"lines[{n}].quantity", line.get("quantity"), minimum=1)


def _resolve_lines(
    session: Session, store_id: int, lines: Sequence[Mapping[str, Any]], *,
    on_channel: bool = False, kits: Mapping[int, list[Component]] | None = None,
) -> tuple[dict[int, Row[Any]], list[tuple[int, Mapping[str, Any]]], dict[tuple[int, int], int]]:
    """An order's products (by id), its physical lines (index, line) and the entry id of
    each (product, location) that has one. Raises NotFound for a product or location
    outside the store, ValidationError for a physical line without a location (unless the
    order is on a channel, which chooses it)."""
    product_ids = {line["product_id"] for line in lines}
    found = {
        p.id: p
        for p in session.execute(
            select(products.c.id, products.c.sku, products.c.type).where(
                products.c.id.in_(product_ids), products.c.store_id == store_id
            )
        )
    }
    missing = sorted(product_ids - found.keys())
    if missing:
        n = next(n for n, line in enumerate(lines) if line["product_id"] == missing[0])
        raise NotFound(f"Product {missing[0]} not found.",
                       {f"lines[{n}].product_id": "No such product in this store."})
    physical = [
        (n, line) for n, line in enumerate(lines)
        if found[line["product_id"]].type not in UNLIMITED_TYPES
    ]
    if not on_channel and any(line.get("location_id") is None for _, line in physical):
        raise ValidationError({
            f"lines[{n}].location_id": "Choose a location for this physical product, or "
                                       "reserve the order on a sales channel."
            for n, line in physical if line.get("location_id") is None
        })
    # A location outside this store is a foreign id (404), not a shortage.
    located = [(n, line) for n, line in physical if line.get("location_id") is not None]
    location_ids = {line["location_id"] for _, line in located}
    unknown = sorted(location_ids - set(session.scalars(
        select(locations.c.id).where(
            locations.c.id.in_(location_ids), locations.c.store_id == store_id
        )
    )))
    if unknown:
        n = next(n for n, line in located if line["location_id"] == unknown[0])
        raise NotFound(f"Location {unknown[0]} not found.",
                       {f"lines[{n}].location": "No such location in this store."})
    wanted = {(part, line["location_id"]) for _, line in located
              for part, _per in _parts(kits or {}, line["product_id"])}
    by_key = {
        (r.product_id, r.location_id): r.id
        for r in session.execute(
            select(entries.c.id, entries.c.product_id, entries.c.location_id).where(
                entries.c.store_id == store_id,
                entries.c.product_id.in_({p for p, _ in wanted}),
            )
        )
        if (r.product_id, r.location_id) in wanted
    }
    return found, physical, by_key


def _line_holds(
    session: Session, store_id: int, order_ref: str | None, line_refs: list[str | None]
) -> dict[str, dict[str, Any]]:
    """The holds that already reserve each line: quantity, product, location, ids."""
    held: dict[str, dict[str, Any]] = {}
    for hold in session.execute(
        select(reservations.c.id, reservations.c.line_ref, reservations.c.quantity,
               reservations.c.product_id, reservations.c.location_id,
               reservations.c.bundle_id, reservations.c.bundle_units)
        .where(reservations.c.store_id == store_id, reservations.c.order_ref == order_ref,
               reservations.c.line_ref.in_(line_refs), reservations.c.status.in_(HOLDING))
        .order_by(reservations.c.id)
    ):
        # A bundle's line is its components' holds: it holds bundle_units of the bundle.
        line = held.setdefault(hold.line_ref, {
            "quantity": 0, "product_id": hold.bundle_id or hold.product_id,
            "location_id": hold.location_id, "ids": []})
        if hold.bundle_id is not None:
            line["quantity"] = hold.bundle_units
        else:
            line["quantity"] += hold.quantity
        line["ids"].append(hold.id)
    return held


def _ledger_sums(session: Session, hold_ids: list[int]) -> dict[tuple[int, str], int]:
    """On-hand moved per hold by shipments and returns, from the ledger."""
    if not hold_ids:
        return {}
    rows = session.execute(
        select(movements.c.reservation_id, movements.c.type, func.sum(movements.c.quantity_delta))
        .where(movements.c.reservation_id.in_(hold_ids),
               movements.c.type.in_(("fulfilled", "returned")))
        .group_by(movements.c.reservation_id, movements.c.type)
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


__all__ = [
    "MAX_EXPIRY_SECONDS",
    "fulfill_order",
    "release_order",
    "reserve_order",
    "return_order",
]
