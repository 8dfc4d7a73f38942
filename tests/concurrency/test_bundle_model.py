"""Model of bundles and sales channels: the stock model (test_model.py) in a store where two
products are bundles of up to three components and two channels sell from ordered lists of
the three locations (one splits lines, one does not).

The rules added here reserve orders with bundle and plain lines, each line at a location
or chosen by a channel; release, fulfill and return such orders (and, to reach them more
often, lines held in several places, and lines given up and reserved again); move a hold to
another location; change a bundle's components; stock a product (refused for a bundle);
and reorder a channel. The model predicts each outcome on its own: where a channel takes a
line (the first of its locations that covers it, else split in the channel's order where
allowed, else a refusal naming the line), that a bundle line holds its components at one
place, bundles × quantity per bundle each, and that a return puts units back on hand where
they shipped from.

After every step, besides what the stock model checks (the database equals the model,
I1–I4): no bundle has an entry and no component entry holds more than it has; every ledger
row naming a hold names its order, and the row reserving a component names its bundle (the
hold names its line); a channel's availability (a bundle's: what each location makes, the
least over its components of available ÷ quantity per bundle) equals a recount from the
raw entry rows, one channel a step in turn, and every channel and each bundle's own
availability at the end of an example.

Examples and steps come from the hypothesis profile, as for the stock model.
"""

from __future__ import annotations

import copy
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule, run_state_machine_as_test
from sqlalchemy import select

from app.clock import frozen_at
from app.extensions import db
from app.models import BundleComponent, Location, Product, Store
from app.services import bundles, channels, stock
from app.services.errors import (
    BundleProduct,
    Conflict,
    DuplicateEntry,
    ExceedsFulfilled,
    InsufficientStock,
    NotFound,
    OrderShort,
    ReservationNotActive,
    StockroomError,
    ValidationError,
)
from app.services.stock.engine import entries

from .test_model import (
    ACTOR,
    CUT_SHORT,
    KEYS,
    MAX_REPORTED,
    SERVICE,
    START,
    Entry,
    Hold,
    Model,
    Ok,
    Outcome,
    Replay,
    Snapshot,
    StockMachine,
    check_entry,
)

COMPONENTS = 3
KITS = ("KIT-A", "KIT-B")
LOCATIONS = 3
CHANNELS = (("WEB", True), ("SHOP", False))  # code, whether it splits a line
SALES = ("SO-1", "SO-2", "SO-3")
LINES = ("L1", "L2")
# A line counts as reserved while one of its holds is active or has shipped.
HOLDING = ("active", "fulfilled")
NEEDS_LOCATION = ("Choose a location for this physical product, or reserve the order on a "
                  "sales channel.")
# A bundle's components: up to three of them, one to three units each per bundle.
PARTS = st.lists(st.tuples(st.integers(0, COMPONENTS - 1), st.integers(1, 3)),
                 min_size=1, max_size=COMPONENTS, unique_by=lambda part: part[0])
components_table = BundleComponent.__table__
# A step here costs about three times one of the stock model (its orders touch more
# entries, and a channel's availability is asked after each), so a quarter as many
# examples: under the 'ci' profile 50 of 50 steps take about 50 s on PostgreSQL and 20 s on
# SQLite on a busy two-core machine, less than the stock model's 200 there.
MAX_EXAMPLES = 50


@dataclass
class Channel:
    id: int
    code: str
    order: list[int]  # location ids, in the channel's order
    split: bool


@dataclass
class Held:
    """An order line as its holds record it."""

    quantity: int
    product: int
    location: int
    ids: list[int] = field(default_factory=list)


def fingerprint(params: Mapping[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


class BundleMachine(StockMachine):
    SERVICE = {
        **SERVICE,
        "create_entry": stock.create_entry,
        "reserve_order": stock.reserve_order,
        "release_order": stock.release_order,
        "fulfill_order": stock.fulfill_order,
        "return_order": stock.return_order,
        "move": stock.move_reservation,
    }

    def __init__(self, reset: Callable[[], None]) -> None:
        super().__init__(reset)
        self.store_id = 0
        self.sku: dict[int, str] = {}
        self.code: dict[int, str] = {}
        self.components: list[int] = []
        self.kits: list[int] = []
        # bundle id → (component id, units per bundle), by SKU; a product that is not a
        # bundle (now) has none
        self.parts: dict[int, list[tuple[int, int]]] = {}
        self.channels: dict[int, Channel] = {}
        # An order's return sent without a key is keyed by its content: the first result
        # of each, replayed by a repeat.
        self.returns: dict[str, stock.StockChange] = {}
        self.named: set[int] = set()  # component holds whose reserving row names the bundle
        self.steps = 0

    # ------------------------------------------------------------------ set-up

    @initialize(
        quantities=st.lists(st.integers(0, 20), min_size=COMPONENTS * LOCATIONS,
                            max_size=COMPONENTS * LOCATIONS),
        present=st.lists(st.integers(0, 3).map(bool), min_size=COMPONENTS * LOCATIONS,
                         max_size=COMPONENTS * LOCATIONS),
        kit_parts=st.lists(PARTS, min_size=len(KITS), max_size=len(KITS)),
        orders=st.lists(st.permutations(range(LOCATIONS)), min_size=len(CHANNELS),
                        max_size=len(CHANNELS)),
        lengths=st.lists(st.integers(2, LOCATIONS), min_size=len(CHANNELS),
                         max_size=len(CHANNELS)),
    )
    def open_the_store(
        self, quantities: list[int], present: list[bool],
        kit_parts: list[list[tuple[int, int]]], orders: list[list[int]], lengths: list[int],
    ) -> None:
        self.reset()
        with frozen_at(START):
            store = Store(name="Bundle store", slug="bundles")
            db.session.add(store)
            db.session.flush()
            components = [Product(store_id=store.id, sku=f"SKU-{n}", title=f"Component {n}")
                          for n in range(COMPONENTS)]
            kits = [Product(store_id=store.id, sku=sku, title=f"Bundle {sku}") for sku in KITS]
            locations = [Location(store_id=store.id, code=f"LOC_{n}")
                         for n in range(LOCATIONS)]
            db.session.add_all(components + kits + locations)
            db.session.flush()
            self.store_id = store.id
            self.components = [p.id for p in components]
            self.kits = [p.id for p in kits]
            self.products = self.components + self.kits
            self.locations = [loc.id for loc in locations]
            self.sku = {p.id: p.sku for p in components + kits}
            self.code = {loc.id: loc.code for loc in locations}
            db.session.commit()
            cells = [(p, loc) for p in self.components for loc in self.locations]
            present = [True, *present[1:]]
            for (product, location), quantity, wanted in zip(cells, quantities, present,
                                                             strict=True):
                if wanted:
                    change = stock.create_entry(actor=ACTOR, product_id=product,
                                                location_id=location, quantity=quantity)
                    self.model.entries[change.entry.id] = Entry(
                        change.entry.id, product, location, quantity)
                    self.model.ledger += 1 if quantity else 0
            for kit, parts in zip(self.kits, kit_parts, strict=True):
                self.set_parts(kit, [(self.components[i], per) for i, per in parts])
            for (code, split), order, length in zip(CHANNELS, orders, lengths, strict=True):
                chosen = [self.locations[i] for i in order[:length]]
                row = channels.create_channel(actor=ACTOR, store_id=store.id, code=code,
                                              location_ids=chosen, allow_split=split)
                self.channels[row.id] = Channel(row.id, code, chosen, split)

    def set_parts(self, kit: int, parts: list[tuple[int, int]]) -> None:
        made = bundles.set_components(actor=ACTOR, bundle_id=kit, parts=parts)
        self.parts[kit] = sorted(parts, key=lambda part: self.sku[part[0]])
        assert [(c.product_id, c.quantity) for c in made] == self.parts[kit]

    def parts_of(self, product: int) -> list[tuple[int, int]]:
        """What one unit of a line of this product holds: a bundle's components, or itself."""
        return self.parts.get(product) or [(product, 1)]

    def attempt(self, call: Callable[[], Any], outcome: StockroomError | Callable[[Any], None]
                ) -> None:
        """A call that takes no idempotency key: the predicted error, or success."""
        try:
            with frozen_at(self.model.now):
                result = call()
        except StockroomError as exc:
            assert isinstance(outcome, StockroomError), f"raised {exc!r}, expected success"
            assert (type(exc), str(exc)) == (type(outcome), str(outcome))
            return
        assert not isinstance(outcome, StockroomError), f"succeeded, expected {outcome!r}"
        outcome(result)

    # The stock model's rules all run here too, but three: setting or counting an entry,
    # and a return off the books, change on-hand as adjusting does, which stays; holding
    # what is available to the unit is what reserving does now and then. Without them a
    # sequence reaches shipped and returned orders more often. Deleting an entry waits
    # until there are a few: each bundle needs its components stocked.
    set_or_count = None
    return_units = None
    reserve_at_the_limit = None

    @precondition(lambda self: len(self.model.entries) > 5)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        super().delete(data)

    # ------------------------------------------------------------------ orders

    @rule(data=st.data(), order=st.sampled_from(SALES), on_channel=st.integers(0, 3),
          expires_in=st.none() | st.integers(1, 60))
    def reserve_an_order(self, data: st.DataObject, order: str, on_channel: int,
                         expires_in: int | None) -> None:
        """One or two lines, bundles or plain products, each at a location or (mostly, on
        a channel) where the channel chooses."""
        channel = (data.draw(st.sampled_from(sorted(self.channels)), label="channel")
                   if on_channel else None)
        refs: list[str | None] = list(data.draw(st.permutations(LINES), label="line refs"))
        lines = []
        for n in range(data.draw(st.integers(1, 2), label="lines")):
            product = data.draw(st.sampled_from(self.kits) | st.sampled_from(self.products),
                                label="product")
            bundle = bool(self.parts.get(product))
            line: dict[str, Any] = {
                "product_id": product,
                "quantity": data.draw(st.integers(1, 3 if bundle else 8), label="quantity"),
                "line_ref": refs[n] if data.draw(st.integers(0, 9), label="ref?") else None,
            }
            placed = data.draw(st.integers(0, 19), label="placed?")
            if (channel is None and placed) or placed >= 14:
                line["location_id"] = data.draw(st.sampled_from(self.locations),
                                                label="location")
            lines.append(line)
        expires_at = (None if expires_in is None
                      else self.model.now + timedelta(minutes=expires_in))
        params: dict[str, Any] = {"store_id": self.store_id, "order_ref": order,
                                  "lines": lines, "expires_at": expires_at}
        if channel is not None:
            params["channel_id"] = channel
        self.perform("reserve_order", params, self.key(data), lambda: self.order_outcome(params))

    @rule(data=st.data(), order=st.sampled_from(SALES), quantity=st.integers(1, 3),
          expires_in=st.none() | st.integers(1, 60))
    def sell_a_bundle_on_a_channel(self, data: st.DataObject, order: str, quantity: int,
                                   expires_in: int | None) -> None:
        """The case in point: one bundle line, its location chosen by the channel."""
        channel = data.draw(st.sampled_from(sorted(self.channels)), label="channel")
        line = {"product_id": data.draw(st.sampled_from(self.kits), label="bundle"),
                "quantity": quantity, "line_ref": data.draw(st.sampled_from(LINES), label="ref")}
        expires_at = None if expires_in is None else self.model.now + timedelta(
            minutes=expires_in)
        params = {"store_id": self.store_id, "order_ref": order, "lines": [line],
                  "expires_at": expires_at, "channel_id": channel}
        self.perform("reserve_order", params, self.key(data), lambda: self.order_outcome(params))

    @rule(data=st.data(), order=st.sampled_from(SALES), beyond=st.integers(-1, 3))
    def sell_a_product_on_a_channel(self, data: st.DataObject, order: str,
                                    beyond: int) -> None:
        """One plain line the channel places: mostly a little more than the best of its
        locations has (split where the channel splits), else exactly that much."""
        ch = self.channels[data.draw(st.sampled_from(sorted(self.channels)), label="channel")]
        product = data.draw(st.sampled_from(self.components), label="product")
        best = max((e.quantity - e.reserved for e in self.model.entries.values()
                    if e.product == product and e.location in ch.order), default=0)
        line = {"product_id": product, "quantity": max(best + 1 + beyond, 1),
                "line_ref": data.draw(st.sampled_from(LINES), label="ref")}
        params = {"store_id": self.store_id, "order_ref": order, "lines": [line],
                  "expires_at": None, "channel_id": ch.id}
        self.perform("reserve_order", params, self.key(data), lambda: self.order_outcome(params))

    @staticmethod
    def key(data: st.DataObject) -> str | None:
        """An idempotency key now and then: the stock model tries them at every step; here
        a key reused for another request would mostly cut a sequence of orders short."""
        if data.draw(st.integers(0, 5), label="keyed?"):
            return None
        return data.draw(st.sampled_from(KEYS), label="key")

    def lines_held(self, model: Model, order_ref: str, refs: Sequence[str | None]
                   ) -> dict[str, Held]:
        """The order's lines among `refs` that hold stock: the first hold says the product
        (a bundle line's, its bundle) and location; a bundle line holds bundle_units, a
        plain one the sum of its holds."""
        held: dict[str, Held] = {}
        for h in sorted(model.holds.values(), key=lambda h: h.id):
            if h.order_ref != order_ref or h.line_ref is None or h.line_ref not in refs \
                    or h.status not in HOLDING:
                continue
            line = held.setdefault(h.line_ref, Held(0, h.bundle_id or h.product, h.location))
            line.quantity = h.bundle_units if h.bundle_units else line.quantity + h.quantity
            line.ids.append(h.id)
        return held

    def order_outcome(self, params: Mapping[str, Any]) -> Outcome:
        """What reserving this order does, worked out on a copy of the model."""
        sim = copy.deepcopy(self.model)
        lines: list[dict[str, Any]] = params["lines"]
        ch = self.channels.get(params.get("channel_id", 0))
        if ch is None:
            unplaced = [n for n, line in enumerate(lines) if "location_id" not in line]
            if unplaced:
                return ValidationError({f"lines[{n}].location_id": NEEDS_LOCATION
                                        for n in unplaced})
        order = ch.order if ch else []
        kit = [bool(self.parts.get(line["product_id"])) for line in lines]
        parts = [self.parts_of(line["product_id"]) for line in lines]
        at = {(e.product, e.location): e for e in sim.entries.values()}
        # Where a channel may take its lines from: their products (a bundle's components)
        # at the channel's locations. Their holds past expiry no longer count.
        choosing = {p for n, line in enumerate(lines) if "location_id" not in line
                    for p, _ in parts[n]}
        candidates = {(p, loc): at[(p, loc)] for p in choosing for loc in order
                      if (p, loc) in at}
        sim.expire([h for e in candidates.values() for h in sim.due(e.id)])
        free = {e.id: e.quantity - e.reserved for e in candidates.values()}
        held = self.lines_held(sim, params["order_ref"], [x.get("line_ref") for x in lines])

        def label(n: int) -> str:
            return f"{lines[n].get('line_ref') or f'line {n + 1}'}: " \
                   f"{self.sku[lines[n]['product_id']]}"

        def bundles_at(n: int, loc: int) -> int:
            if any((p, loc) not in candidates for p, _ in parts[n]):
                return 0
            return min(max(free[candidates[(p, loc)].id], 0) // per for p, per in parts[n])

        results: list[dict[str, Any]] = []
        short: list[dict[str, Any]] = []
        planned: list[tuple[int, int, int, int]] = []  # entry, line, units, product
        for n, line in enumerate(lines):
            ref, product, qty = line.get("line_ref"), line["product_id"], line["quantity"]
            where = line.get("location_id")
            result: dict[str, Any] = {"line_ref": ref, "product_id": product,
                                      "location_id": where, "quantity": qty,
                                      "reservation_ids": []}
            results.append(result)
            if ref is not None and ref in held:
                prior = held[ref]
                if (qty, product, where or prior.location) != (
                        prior.quantity, prior.product, prior.location):
                    return Conflict(f"Line {ref} is already reserved as {prior.quantity} of "
                                    f"product {prior.product}; release it before changing "
                                    "it.")
                result.update(status="already_reserved", reservation_ids=prior.ids,
                              location_id=prior.location)
                continue
            if where is None and kit[n]:
                assert ch is not None
                # A bundle is put together at one place: the first that makes them all.
                place = next((loc for loc in order if bundles_at(n, loc) >= qty), None)
                if place is None:
                    short.append({"line": n, "label": f"{label(n)} on {ch.code}",
                                  "available": max(bundles_at(n, loc) for loc in order),
                                  "requested": qty, "channel": ch.code})
                    continue
                for p, per in parts[n]:
                    e = candidates[(p, place)]
                    free[e.id] -= per * qty
                    planned.append((e.id, n, per * qty, p))
                result["location_id"] = place
                continue
            if where is None:
                assert ch is not None
                stocked = [(loc, candidates[(product, loc)].id) for loc in order
                           if (product, loc) in candidates]
                pieces = [(loc, e, qty) for loc, e in stocked if free[e] >= qty][:1]
                if not pieces and ch.split:
                    need = qty
                    for loc, e in stocked:
                        take = min(max(free[e], 0), need)
                        if take:
                            pieces.append((loc, e, take))
                            need -= take
                    if need:
                        pieces = []
                if not pieces:
                    total = sum(max(free[e], 0) for _, e in stocked)
                    spread = ", no one location of which holds it all" if total >= qty else ""
                    short.append({"line": n, "label": f"{label(n)} on {ch.code}{spread}",
                                  "available": total, "requested": qty, "channel": ch.code})
                    continue
                for _loc, e, take in pieces:
                    free[e] -= take
                    planned.append((e, n, take, product))
                result["location_id"] = pieces[0][0]
                continue
            missing = [p for p, _ in parts[n] if (p, where) not in at]
            if missing:
                text = label(n) + (f" (component {self.sku[missing[0]]} is not stocked there)"
                                   if kit[n] else "")
                short.append({"line": n, "label": text, "available": 0, "requested": qty})
                continue
            planned += [(at[(p, where)].id, n, per * qty, p) for p, per in parts[n]]

        # The holds, entry by entry in id order; an entry short of a line's units first
        # retires its holds past expiry.
        made: list[tuple[Hold, int]] = []
        for entry_id, n, qty, product in sorted(planned, key=lambda x: (x[0], x[1])):
            e, line = sim.entries[entry_id], lines[n]
            if e.quantity - e.reserved < qty:
                sim.expire(sim.due(entry_id))
            if e.quantity - e.reserved < qty:
                if kit[n]:
                    per = qty // line["quantity"]
                    short.append({"line": n, "label": f"{label(n)} (component "
                                  f"{self.sku[product]}, {per} a bundle)",
                                  "available": max(e.quantity - e.reserved, 0) // per,
                                  "requested": line["quantity"]})
                else:
                    short.append({"line": n, "label": label(n),
                                  "available": e.quantity - e.reserved, "requested": qty})
                continue
            e.reserved += qty
            e.version += 1
            sim.ledger += 1
            made.append((Hold(
                0, entry_id, qty, qty, params["order_ref"], params["expires_at"],
                product=product, location=e.location, line_ref=line.get("line_ref"),
                bundle_id=line["product_id"] if kit[n] else None,
                bundle_units=line["quantity"] if kit[n] else None), n))
        if short:
            return OrderShort(sorted(short, key=lambda s: s["line"]))

        def apply(change: stock.StockChange) -> None:
            assert len(change.reservation_ids) == len(made), (change.reservation_ids, made)
            for (hold, n), rid in zip(made, change.reservation_ids, strict=True):
                assert rid not in sim.holds
                hold.id = rid
                sim.holds[rid] = hold
                result = results[n]
                result["status"] = "reserved"
                result["reservation_ids"].append(rid)
                if kit[n]:
                    result.setdefault("components", []).append(
                        {"product_id": hold.product, "quantity": hold.quantity,
                         "reservation_id": rid})
                elif "location_id" not in lines[n]:
                    result.setdefault("allocations", []).append(
                        {"location_id": hold.location, "quantity": hold.quantity,
                         "reservation_id": rid})
            expires_at = params["expires_at"]
            assert change.details == {
                "order_ref": params["order_ref"], "store_id": self.store_id, "lines": results,
                **({"channel": ch.code} if ch else {}),
                "expires_at": expires_at.isoformat() + "Z" if expires_at else None,
                "unlimited_lines": [],
            }
            assert [s.id for s in change.entries] == sorted({h.entry_id for h, _ in made})
            for state in change.entries:
                check_entry(state, sim.entries[state.id])
            assert len(change.movement_ids) == len(made)
            self.model = sim

        return Ok(apply)

    def draw_order(self, data: st.DataObject, active: bool = False) -> str:
        """Mostly an order with holds (active ones, if `active`), among them mostly one
        with a line held in several places (a split line, a bundle's); now and then any."""
        lines: dict[tuple[str, str | None], int] = {}
        for h in self.model.holds.values():
            if h.order_ref in SALES and (not active or h.status == "active"):
                lines[(h.order_ref, h.line_ref)] = lines.get((h.order_ref, h.line_ref), 0) + 1
        known = sorted({order for order, _ in lines})
        spread = sorted({order for (order, ref), n in lines.items() if n > 1 and ref})
        choice = data.draw(st.integers(0, 5), label="known order?") if known else 0
        if choice:
            return data.draw(st.sampled_from(spread if spread and choice > 2 else known),
                             label="order")
        return data.draw(st.sampled_from(SALES), label="any order")

    def orders_hold(self) -> bool:
        return any(h.order_ref in SALES and h.status == "active"
                   for h in self.model.holds.values())

    def lines_shipped(self) -> bool:
        return any(h.order_ref in SALES and h.line_ref is not None and h.shipped > h.returned
                   for h in self.model.holds.values())

    @precondition(orders_hold)
    @rule(data=st.data(), some=st.integers(0, 3))
    def ship_an_order(self, data: st.DataObject, some: int) -> None:
        self.close_an_order(data, True, some)

    @precondition(orders_hold)
    @rule(data=st.data(), some=st.integers(0, 3))
    def release_an_order(self, data: st.DataObject, some: int) -> None:
        self.close_an_order(data, False, some)

    def spread_lines(self, shipped: bool) -> list[tuple[str, str]]:
        """Order lines held in several places (split by a channel, or a bundle's): those
        with more than one active hold, or (`shipped`) with units out from more than one."""
        holds: Counter[tuple[str, str]] = Counter(
            (h.order_ref, h.line_ref) for h in self.model.holds.values()
            if h.order_ref in SALES and h.line_ref is not None
            and (h.shipped > h.returned if shipped else h.status == "active"))
        return sorted(line for line, n in holds.items() if n > 1)

    def given_up_lines(self) -> list[tuple[str, str]]:
        """Order lines whose holds were all released or expired, none shipped."""
        lines: dict[tuple[str, str], bool] = {}
        for h in self.model.holds.values():
            if h.order_ref in SALES and h.line_ref is not None:
                key = (h.order_ref, h.line_ref)
                lines[key] = lines.get(key, True) and h.status not in HOLDING
        return sorted(line for line, gone in lines.items() if gone)

    @precondition(lambda self: self.spread_lines(shipped=False))
    @rule(data=st.data())
    def ship_a_spread_line(self, data: st.DataObject) -> None:
        order, ref = data.draw(st.sampled_from(self.spread_lines(shipped=False)), label="line")
        self.close_an_order(data, True, 0, (order, [ref]))

    @precondition(lambda self: self.spread_lines(shipped=True))
    @rule(data=st.data(), keyed=st.integers(0, 2))
    def return_a_spread_line(self, data: st.DataObject, keyed: int) -> None:
        order, ref = data.draw(st.sampled_from(self.spread_lines(shipped=True)), label="line")
        self.return_lines(data, order, [ref], keyed)

    @precondition(lambda self: self.given_up_lines())
    @rule(data=st.data(), on_channel=st.integers(0, 3), other=st.integers(0, 2))
    def reserve_a_line_again(self, data: st.DataObject, on_channel: int, other: int) -> None:
        """Payment failed and the line was given up; the customer tries again: mostly the
        same product (a bundle, or not), now and then another; mostly on a channel, which
        may place it elsewhere this time."""
        order, ref = data.draw(st.sampled_from(self.given_up_lines()), label="line")
        latest = max((h for h in self.model.holds.values()
                      if (h.order_ref, h.line_ref) == (order, ref)), key=lambda h: h.id)
        product = (data.draw(st.sampled_from(self.products), label="product") if other == 0
                   else latest.bundle_id or latest.product)
        line: dict[str, Any] = {"product_id": product, "line_ref": ref,
                                "quantity": data.draw(st.integers(1, 6), label="quantity")}
        params: dict[str, Any] = {"store_id": self.store_id, "order_ref": order,
                                  "lines": [line], "expires_at": None}
        if on_channel:
            params["channel_id"] = data.draw(st.sampled_from(sorted(self.channels)),
                                             label="channel")
        else:
            line["location_id"] = data.draw(st.sampled_from(self.locations), label="location")
        self.perform("reserve_order", params, self.key(data), lambda: self.order_outcome(params))

    def close_an_order(self, data: st.DataObject, fulfil: bool, some: int,
                       target: tuple[str, list[str]] | None = None) -> None:
        """All of an order's lines, or some; mostly an order that holds stock."""
        m = self.model
        if target is not None:
            order, line_refs = target
        else:
            order = self.draw_order(data, active=True)
            line_refs = (data.draw(st.lists(st.sampled_from(LINES), min_size=1, max_size=2,
                                            unique=True), label="line refs")
                         if some == 0 else None)
        verb = "fulfill" if fulfil else "release"
        params = {"store_id": self.store_id, "order_ref": order, "line_refs": line_refs}

        def predict() -> Outcome:
            scope = [h for h in m.holds.values() if h.order_ref == order
                     and (line_refs is None or h.line_ref in line_refs)]
            if not scope:
                return NotFound(f"Order {order} has no reservations"
                                + (" for these lines." if line_refs is not None else "."))
            closing = sorted((h for h in scope if h.status == "active"),
                             key=lambda h: (h.entry_id or 0, h.id))

            def apply(change: stock.StockChange) -> None:
                assert change.reservation_ids == tuple(h.id for h in closing)
                assert change.details["lines"] == [
                    {"line_ref": h.line_ref, "reservation_id": h.id, "quantity": h.open}
                    for h in closing]
                for h in closing:
                    assert h.entry_id is not None
                    e = m.entries[h.entry_id]
                    e.reserved -= h.open
                    if fulfil:
                        e.quantity -= h.open
                        h.shipped += h.open
                    e.version += 1
                    m.ledger += 1
                    h.open, h.status = 0, "fulfilled" if fulfil else "released"
                assert len(change.movement_ids) == len(closing)
                assert [s.id for s in change.entries] == list(
                    dict.fromkeys(h.entry_id for h in closing))
                for state in change.entries:
                    check_entry(state, m.entries[state.id])

            return Ok(apply)

        self.perform(f"{verb}_order", params, self.key(data), predict)

    @precondition(lines_shipped)
    @rule(data=st.data(), two=st.integers(0, 3), keyed=st.integers(0, 2))
    def return_an_order(self, data: st.DataObject, two: int, keyed: int) -> None:
        """Units of shipped lines come back: to where each unit shipped from."""
        m = self.model
        out: dict[tuple[str, str], int] = {}
        places: dict[tuple[str, str], int] = {}  # how many of a line's holds have units out
        for h in m.holds.values():
            if h.order_ref in SALES and h.line_ref is not None:
                key = (h.order_ref, h.line_ref)
                out[key] = out.get(key, 0) + h.shipped - h.returned
                places[key] = places.get(key, 0) + (h.shipped > h.returned)
        shipped = sorted(k for k, n in out.items() if n > 0)
        spread = [k for k in shipped if places[k] > 1]
        choice = data.draw(st.integers(0, 5), label="a shipped line?") if shipped else 0
        if choice:
            order, first = data.draw(st.sampled_from(spread if spread and choice > 2
                                                     else shipped), label="line")
        else:
            order = data.draw(st.sampled_from(SALES), label="order")
            first = data.draw(st.sampled_from(LINES), label="line ref")
        refs = [first] + ([ref for ref in LINES if ref != first] if two == 0 else [])
        self.return_lines(data, order, refs, keyed)

    def return_lines(self, data: st.DataObject, order: str, refs: list[str],
                     keyed: int) -> None:
        m = self.model
        out: dict[str, int] = {}
        for h in m.holds.values():
            if h.order_ref == order and h.line_ref in refs:
                out[h.line_ref] = out.get(h.line_ref, 0) + h.shipped - h.returned
        lines = [{"line_ref": ref,
                  "quantity": data.draw(st.integers(1, max(out.get(ref, 0), 0) + 1),
                                        label="quantity")}
                 for ref in refs]
        params = {"store_id": self.store_id, "order_ref": order, "lines": lines,
                  "reason": "Returned"}
        key = self.key(data) if keyed == 0 else None
        content = fingerprint(params)

        def predict() -> Outcome:
            if key is None and content in self.returns:
                return Replay(self.returns[content])
            by_line = {ref: sorted((h for h in m.holds.values()
                                    if (h.order_ref, h.line_ref) == (order, ref)),
                                   key=lambda h: h.id) for ref in refs}
            for ref in refs:
                if not by_line[ref]:
                    return NotFound(f"Order {order} has no line {ref}.")
            back: list[tuple[Hold, int]] = []  # (hold, units it takes back)
            results = []
            for line in lines:
                ref, qty = line["line_ref"], line["quantity"]
                # The line is what its latest reservation sold.
                latest = by_line[ref][-1]
                holds = [h for h in by_line[ref] if h.bundle_id == latest.bundle_id
                         and (h.bundle_id is not None or h.product == latest.product)]
                if latest.bundle_id is not None:
                    # Whole bundles: the holds that make up the line (still holding, or
                    # having shipped) each give back their share of every bundle.
                    making = [h for h in holds if h.status in HOLDING or h.shipped]
                    shares = [(h, h.quantity // (h.bundle_units or 1)) for h in making]
                    whole = min(((h.shipped - h.returned) // per for h, per in shares),
                                default=0)
                    if qty > whole:
                        return ExceedsFulfilled(ref, qty, max(whole, 0))
                    pieces = [(h, per * qty) for h, per in shares]
                else:
                    unreturned = sum(h.shipped - h.returned for h in holds)
                    if qty > unreturned:
                        return ExceedsFulfilled(ref, qty, max(unreturned, 0))
                    pieces, left = [], qty
                    for h in holds:  # the oldest hold first
                        take = min(max(h.shipped - h.returned, 0), left)
                        if take:
                            pieces.append((h, take))
                            left -= take
                for h, _units in pieces:
                    if h.entry_id is None:
                        return Conflict(f"Line {ref} shipped from an entry that no longer "
                                        "exists.")
                back += pieces
                places = {h.entry_id for h, _units in pieces}
                results.append({"line_ref": ref, "quantity": qty,
                                "entry_id": places.pop() if len(places) == 1
                                and latest.bundle_id is None else None})

            def apply(change: stock.StockChange) -> None:
                touched = []
                for h, units in back:
                    assert h.entry_id is not None
                    e = m.entries[h.entry_id]
                    e.quantity += units
                    e.version += 1
                    h.returned += units
                    m.ledger += 1
                    touched.append(e.id)
                assert len(change.movement_ids) == len(back)
                assert change.details == {"order_ref": order, "store_id": self.store_id,
                                          "lines": results}
                assert sorted(s.id for s in change.entries) == sorted(set(touched))
                for state in change.entries:
                    check_entry(state, m.entries[state.id])
                if key is None:
                    self.returns[content] = change

            return Ok(apply)

        self.perform("return_order", params, key, predict)

    # ------------------------------------------------------------------ holds

    @precondition(lambda self: self.model.holds)
    @rule(data=st.data())
    def move_a_hold(self, data: st.DataObject) -> None:
        """Mostly a plain hold that may move; now and then a bundle's component, a hold
        partly closed or one that is closed."""
        m = self.model
        movable = sorted(h.id for h in m.holds.values()
                         if h.status == "active" and h.bundle_id is None and h.open == h.quantity)
        if movable and data.draw(st.integers(0, 3), label="movable?"):
            hold = m.holds[data.draw(st.sampled_from(movable), label="hold")]
        else:
            hold = m.holds[data.draw(st.sampled_from(sorted(m.holds)), label="any hold")]
        target = data.draw(st.sampled_from(self.locations), label="to")
        params = {"reservation_id": hold.id, "location_id": target}

        def predict() -> Outcome:
            if hold.status != "active" or hold.entry_id is None:
                return ReservationNotActive(hold.id, hold.status)
            if hold.bundle_id is not None:
                return Conflict(
                    f"Reservation {hold.id} holds a component of a bundle, which is put "
                    "together in one place: release the order's line and reserve it again "
                    "where it should be.")
            if hold.open != hold.quantity:
                return Conflict(
                    f"Part of reservation {hold.id} has shipped; its returns must come back "
                    "where it shipped from. Release what is still held and reserve it again.")
            if hold.location == target:
                return ValidationError({"location_id": "The reservation is already held "
                                                       "there."})
            there = m.at(hold.product, target)
            if there is None:
                return InsufficientStock(0, hold.open)
            due = []
            if there.quantity - there.reserved < hold.open:
                due = m.due(there.id)
                obtainable = there.quantity - there.reserved + sum(h.open for h in due)
                if obtainable < hold.open:
                    return InsufficientStock(obtainable, hold.open)
            source = m.entries[hold.entry_id]

            def apply(change: stock.StockChange) -> None:
                m.expire(due)
                there.reserved += hold.open
                there.version += 1
                source.reserved -= hold.open
                source.version += 1
                m.ledger += 2
                hold.entry_id, hold.location = there.id, target
                check_entry(change.entries[0], source)
                check_entry(change.entries[1], there)
                assert change.reservation_ids == (hold.id,)

            return Ok(apply)

        self.perform("move", params, self.key(data), predict)

    # ------------------------------------------------------------------ catalog

    @rule(data=st.data(), parts=PARTS, plain=st.integers(0, 9))
    def change_a_bundle(self, data: st.DataObject, parts: list[tuple[int, int]],
                        plain: int) -> None:
        """New components for a bundle; now and then none (it becomes a plain product)."""
        kit = data.draw(st.sampled_from(self.kits), label="bundle")
        wanted = [] if plain == 0 else [(self.components[i], per) for i, per in parts]
        stocked = sum(e.product == kit for e in self.model.entries.values())
        outcome: StockroomError | Callable[[Any], None]
        if stocked and wanted:
            outcome = Conflict(f"{self.sku[kit]} has stock at {stocked} location(s); a bundle "
                               "holds none of its own. Delete its entries first, or make a "
                               "new product the bundle.")
        else:
            def outcome(made: list[bundles.Component]) -> None:
                self.parts[kit] = sorted(wanted, key=lambda part: self.sku[part[0]])
                assert [(c.product_id, c.quantity) for c in made] == self.parts[kit]

        self.attempt(lambda: bundles.set_components(actor=ACTOR, bundle_id=kit, parts=wanted),
                     outcome)

    @rule(data=st.data(), quantity=st.integers(0, 15))
    def stock_a_product(self, data: st.DataObject, quantity: int) -> None:
        """A new entry: refused for a bundle, and where the product has one."""
        m = self.model
        product = data.draw(st.sampled_from(self.kits) | st.sampled_from(self.products),
                            label="product")
        location = data.draw(st.sampled_from(self.locations), label="location")
        params = {"product_id": product, "location_id": location, "quantity": quantity}

        def predict() -> Outcome:
            if self.parts.get(product):
                return BundleProduct(f"{self.sku[product]} is a bundle: it holds no stock of "
                                     "its own. Stock its components instead.")
            if m.at(product, location) is not None:
                return DuplicateEntry(f"{self.sku[product]} already has an entry at "
                                      f"{self.code[location]}.")

            def apply(change: stock.StockChange) -> None:
                e = Entry(change.entry.id, product, location, quantity)
                assert e.id not in m.entries and e.id not in m.gone
                m.entries[e.id] = e
                m.ledger += 1 if quantity else 0
                check_entry(change.entry, e)

            return Ok(apply)

        self.perform("create_entry", params, self.key(data), predict)

    @rule(data=st.data(), split=st.booleans())
    def change_a_channel(self, data: st.DataObject, split: bool) -> None:
        """Another order of locations, and splitting on or off; holds stay where they are."""
        ch = self.channels[data.draw(st.sampled_from(sorted(self.channels)), label="channel")]
        order = data.draw(st.permutations(self.locations), label="order")
        order = order[:data.draw(st.integers(1, LOCATIONS), label="how many")]

        def changed(row: channels.ChannelRow) -> None:
            assert (list(row.location_ids), row.allow_split) == (order, split)
            ch.order, ch.split = order, split

        self.attempt(lambda: channels.update_channel(actor=ACTOR, channel_id=ch.id, name="",
                                                     location_ids=order, allow_split=split),
                     changed)

    # ------------------------------------------------------------------ after every step

    def more_violations(self, snapshot: Snapshot) -> list[str]:
        problems: list[str] = []
        db.session.rollback()
        try:
            stored = {}
            for r in db.session.execute(select(components_table.c.bundle_id,
                                               components_table.c.component_id,
                                               components_table.c.quantity)):
                stored.setdefault(r.bundle_id, []).append((r.component_id, r.quantity))
            wanted = {kit: sorted(parts) for kit, parts in self.parts.items() if parts}
            if {k: sorted(v) for k, v in stored.items()} != wanted:
                problems.append(f"bundle components {stored}, the model has {wanted}")
            problems += self.bundle_problems(snapshot, stored)
            # Each step asks one channel, in turn, what it can sell (a bundle's part
            # of it: what each location makes); asking every channel and each bundle's
            # own availability every step tripled the time a step takes. The end of an
            # example asks them all.
            self.steps += 1
            channel = sorted(self.channels)[self.steps % len(self.channels)]
            problems += self.availability_problems(snapshot.entries.values(), stored,
                                                   [channel], [])
        finally:
            db.session.rollback()
        return problems

    def teardown(self) -> None:
        leaving = sys.exc_info()[1]
        if self.channels and (leaving is None or isinstance(leaving, CUT_SHORT)):
            db.session.rollback()
            try:
                rows = db.session.execute(select(
                    entries.c.product_id, entries.c.location_id, entries.c.quantity,
                    entries.c.reserved_quantity.label("reserved"))).all()
                stored: dict[int, list[tuple[int, int]]] = {}
                for r in db.session.execute(select(components_table)):
                    stored.setdefault(r.bundle_id, []).append((r.component_id, r.quantity))
                problems = self.availability_problems(rows, stored, sorted(self.channels),
                                                      self.kits)
            finally:
                db.session.rollback()
            assert not problems, "\n  ".join(problems[:MAX_REPORTED])
        super().teardown()

    def bundle_problems(self, snap: Snapshot, stored: Mapping[int, Any]) -> list[str]:
        problems = []
        parts_of_any = {p for parts in stored.values() for p, _ in parts}
        for e in snap.entries.values():
            if e.product_id in stored:
                problems.append(f"bundle {e.product_id} has entry {e.id}")
            if e.product_id in parts_of_any and not 0 <= e.reserved <= e.quantity:
                problems.append(f"component entry {e.id}: reserved {e.reserved} of "
                                f"{e.quantity} on hand")
        for mv in snap.new_movements:
            hold = snap.holds.get(mv.reservation_id) if mv.reservation_id else None
            if hold is None:
                continue
            if mv.reference != hold.order_ref:
                problems.append(f"movement {mv.id} names hold {hold.id} but order "
                                f"{mv.reference!r}, not {hold.order_ref!r}")
            if hold.bundle_id is not None and mv.type == "reserved":
                expected = f"Bundle {self.sku[hold.bundle_id]} ×{hold.bundle_units}"
                if (mv.reason, mv.product_id, mv.location_id, mv.reserved_delta) != (
                        expected, hold.product_id, hold.location_id, hold.quantity):
                    problems.append(f"movement {mv.id} reserving component hold {hold.id}: "
                                    f"reason {mv.reason!r}, {mv.product_id}@{mv.location_id} "
                                    f"+{mv.reserved_delta}; expected {expected!r}")
                if hold.id in self.named:
                    problems.append(f"component hold {hold.id} reserved twice")
                self.named.add(hold.id)
        for h in snap.holds.values():
            if h.bundle_id is not None:
                if h.id not in self.named:
                    problems.append(f"component hold {h.id}: no ledger row names its bundle")
                if not h.bundle_units or h.quantity % h.bundle_units:
                    problems.append(f"component hold {h.id}: {h.quantity} for "
                                    f"{h.bundle_units} bundle(s)")
        return problems

    def availability_problems(self, rows: Iterable[Any], stored: Mapping[int, Any],
                              channel_ids: Sequence[int], kits: Sequence[int]) -> list[str]:
        """Each channel's availability, and each bundle's, against a recount of the raw
        entry rows: a location's available stock; what a location makes of a bundle (only
        one stocking every component), the least of available ÷ units per bundle."""
        problems = []
        free = {(e.product_id, e.location_id): e.quantity - e.reserved for e in rows}

        def makes(kit: int, loc: int) -> int | None:
            if any((p, loc) not in free for p, _ in stored[kit]):
                return None
            return min(max(free[(p, loc)], 0) // per for p, per in stored[kit])

        for ch in (self.channels[c] for c in channel_ids):
            got = channels.channel_availability(ACTOR, ch.id, self.products)
            for row in got:
                if row.product_id in stored:
                    per = [makes(row.product_id, loc) or 0 for loc in ch.order]
                else:
                    per = [max(free.get((row.product_id, loc), 0), 0) for loc in ch.order]
                expected = (False, sum(per),
                            tuple(zip((self.code[loc] for loc in ch.order), per, strict=True)))
                if (row.unlimited, row.available, row.by_location) != expected:
                    problems.append(f"channel {ch.code}, product {self.sku[row.product_id]}: "
                                    f"{row.available} {row.by_location}, recount {expected}")
        for kit in kits:
            if kit not in stored:
                continue
            made = bundles.bundle_availability(ACTOR, kit)
            counts = ((self.code[loc], makes(kit, loc)) for loc in self.locations)
            expected_by = tuple(sorted((code, n) for code, n in counts if n is not None))
            if (made.by_location, made.available) != (expected_by,
                                                      sum(n for _, n in expected_by)):
                problems.append(f"bundle {self.sku[kit]}: {made.by_location}, recount "
                                f"{expected_by}")
        return problems


def test_bundles_and_channels_match_their_model(reset: Callable[[], None]) -> None:
    run_state_machine_as_test(
        lambda: BundleMachine(reset),
        settings=settings(deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          max_examples=min(settings.default.max_examples, MAX_EXAMPLES)),
    )
