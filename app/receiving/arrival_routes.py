"""Whatever arrives at a location: scan what came in, whichever order it came on. Each
variant's units go to the open purchase order lines awaiting it there, the soonest
expected order first (undated ones last), then the older order; units beyond all of them
go to the last line, as an over-receipt to confirm. A code with no open line at the
location is said so and not taken. Receive takes each order's units as one receipt of its
own, order by order, and reports each.

As on the count screen the list lives in the page: a row per variant carries its count and
the lines (with their orders' versions and what they awaited) the page showed it going to,
so Receive takes exactly what was shown, and an order changed since is refused as stale.
Without JavaScript every scan is a form post; with it (static/receive.js) a scan of a
variant already listed adds one in the page, and a new one asks `arrival_line` for its row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.permissions import Actor
from app.receiving import bp
from app.receiving.common import (
    Excess,
    code_problem,
    posted,
    quantity,
    require_receive,
    require_some_store,
    text,
)
from app.receiving.routes import landing, receiving_locations
from app.services import catalog, purchasing, queries
from app.services.errors import NotFound, StockroomError
from app.services.purchasing import MAX_PURCHASE_ORDER_LINES, OpenLineView
from app.services.queries.lookups import LocationOption
from app.services.validation import ascii_strip, parse_id
from app.web import current_actor, show_store

MAX_REASON = 200
CHOOSE_LOCATION = "Choose a location from the list."


def allocate(count: int, awaiting: Sequence[int]) -> list[int]:
    """How `count` units fill lines awaiting these quantities, in order: each line up to
    what it awaits, anything beyond them all on the last line (static/receive.js
    allocates the same way)."""
    left, takes = count, []
    for awaited in awaiting:
        take = min(left, awaited)
        takes.append(take)
        left -= take
    if left and takes:
        takes[-1] += left
    return takes


@dataclass(frozen=True)
class Seen:
    """A line as the page showed it: the one a receipt is checked against."""

    line_id: int
    order_id: int
    version: int
    awaited: int

    def __str__(self) -> str:
        return f"{self.line_id}:{self.order_id}:{self.version}:{self.awaited}"

    @classmethod
    def parse(cls, value: str) -> list[Seen] | None:
        """The row's lines as posted, or None when they cannot be read."""
        found = []
        for part in filter(None, ascii_strip(value or "").split(",")):
            pieces = part.split(":")
            numbers = [parse_id(p) for p in pieces[:3]] + [quantity(pieces[3])[0]
                                                            if len(pieces) == 4 else None]
            if len(pieces) != 4 or None in numbers:
                return None
            found.append(cls(*numbers))  # type: ignore[arg-type]
        return found


@dataclass
class ArrivalRow:
    """One variant in the list: what was counted of it and where its units go."""

    product_id: int
    sku: str
    title: str
    codes: tuple[str, ...]
    typed: str
    lines: list[OpenLineView] = field(default_factory=list)
    seen: list[Seen] | None = None
    error: str | None = None
    position: int = 0

    @property
    def count(self) -> int | None:
        return quantity(self.typed)[0]

    @property
    def awaited(self) -> int:
        return sum(line.outstanding_qty for line in self.lines)

    @property
    def over(self) -> int:
        return max((self.count or 0) - self.awaited, 0) if self.lines else 0

    @property
    def plan(self) -> list[tuple[OpenLineView, int]]:
        takes = allocate(self.count or 0, [line.outstanding_qty for line in self.lines])
        return list(zip(self.lines, takes, strict=True))

    @property
    def label(self) -> str:
        return f"{self.title} ({self.sku})"

    @property
    def lines_field(self) -> str:
        return ",".join(str(Seen(x.line_id, x.order_id, x.order_version, x.outstanding_qty))
                        for x in self.lines)


@dataclass
class ArrivalsPage:
    location: LocationOption
    rows: list[ArrivalRow] = field(default_factory=list)
    code: str = ""
    code_error: str | None = None
    reason: str = ""
    reason_error: str | None = None
    problem: str | None = None
    said: str | None = None
    confirm: list[Excess] = field(default_factory=list)
    # Receipts taken by a Receive that could not take every order.
    taken: list[Any] = field(default_factory=list)
    focus: int | None = None

    @property
    def units(self) -> int:
        return sum(row.count or 0 for row in self.rows)


# --------------------------------------------------------------------------- routes


@bp.get("/receiving/arrivals")
@login_required
def arrivals():  # type: ignore[no-untyped-def]
    """The scan box and the list for whatever arrives at one location."""
    actor = current_actor()
    require_some_store(actor)
    raw = ascii_strip(request.args.get("location") or "")
    if not raw:
        return redirect(url_for("receiving.start"), code=303)
    location = _location(actor, raw)
    if location is None:
        return landing(actor, location_error=CHOOSE_LOCATION)
    return _render(ArrivalsPage(location=location))


@bp.get("/receiving/arrivals/line")
@login_required
def arrival_line():  # type: ignore[no-untyped-def]
    """One variant's row for a scanned code, with the open lines its units go to: what
    receive.js adds to the list. 422 with the reason as text when the code names nothing
    awaited here."""
    actor = current_actor()
    location = _location(actor, request.args.get("location") or "")
    if location is None:
        return text(CHOOSE_LOCATION, 422)
    counted = quantity(request.args.get("count") or "1")
    if counted[0] is None:
        return text(f"How many: {counted[1]}", 422)
    row, problem = _row_for_code(actor, location, request.args.get("code") or "")
    if row is None:
        return text(problem or "", 422)
    row.typed = str(counted[0])
    html = render_template("receiving/_arrival_row.html", row=row, location=location,
                           page=None)
    return make_response(html, 200)


@bp.post("/receiving/arrivals/scan")
@login_required
def arrival_scan():  # type: ignore[no-untyped-def]
    """Without JavaScript: add the scanned code to the list (or take a row out) and draw
    the page again, every row's lines as they stand now."""
    actor = current_actor()
    posted()
    page = _posted_page(actor)
    if page is None:
        return landing(actor, location_error=CHOOSE_LOCATION)
    removed = parse_id(request.form.get("remove") or "")
    if removed is not None:
        page.rows = [row for row in page.rows if row.product_id != removed]
        return _render(page, _status(page))
    if not ascii_strip(page.code):
        return _render(page, _status(page))  # Enter in a count: the list as edited
    if len(page.rows) >= MAX_PURCHASE_ORDER_LINES:
        page.code_error = f"At most {MAX_PURCHASE_ORDER_LINES:,} items in one list."
        return _render(page, 422)
    row, problem = _row_for_code(actor, page.location, page.code)
    if row is None:
        page.code_error = problem
        return _render(page, 422)
    listed = next((r for r in page.rows if r.product_id == row.product_id), None)
    if listed is None:
        row.typed = "1"
        page.rows.append(row)
        listed = row
    elif current_user.scan_opens != "adjust":
        listed.typed = str((listed.count or 0) + 1)
    if current_user.scan_opens == "adjust":
        page.focus = listed.product_id
        page.said = f"{listed.label}: type how many arrived."
    else:
        page.said = f"{listed.label}: {listed.count or 0:,} arrived."
    page.code = ""
    return _render(page, _status(page))


@bp.post("/receiving/arrivals")
@login_required
def arrivals_receive():  # type: ignore[no-untyped-def]
    """Receive the list: each order's units as one receipt, order by order; the orders
    that could not be received stay in the list with the reason."""
    actor = current_actor()
    posted()
    page = _posted_page(actor)
    if page is None:
        return landing(actor, location_error=CHOOSE_LOCATION)
    for row in page.rows:
        if row.count and not row.seen and not row.error:
            # Listed when nothing awaited it here; something does now: show where it goes.
            row.error = "Where these units go has changed: check it and press Receive again."
    if page.problem or page.reason_error or any(row.error for row in page.rows):
        page.problem = page.problem or "Nothing was received: fix what is marked below."
        return _render(page, 422)
    counted = [row for row in page.rows if row.count]
    if not counted:
        page.problem = "Nothing was received: scan what arrived first."
        return _render(page, 422)
    plans = {row.product_id: _posted_plan(row) for row in counted}
    over = [(row, sum(take for _, take in plans[row.product_id]) - sum(
        s.awaited for s in row.seen or ())) for row in counted]
    over = [(row, extra) for row, extra in over if extra > 0]
    confirmed = request.form.get("confirm_over") == "1"
    if over and not confirmed:
        page.confirm = [Excess(row.label, row.count or 0, (row.count or 0) - extra)
                        for row, extra in over]
        page.problem = ("More arrived than the open orders here await: "
                        + "; ".join(f"{x.label}: {x.receiving:,} arrived, {x.awaited:,} "
                                    f"awaited ({x.over:,} over)" for x in page.confirm)
                        + ". Confirm the over-receipt to take the extra units.")
        return _render(page, 409)

    # Each order's units, checked against the oldest version any row saw it at: rows
    # looked up at different times saw it at different versions, and the receipt must be
    # refused if any of what they showed has changed since.
    by_order: dict[int, tuple[int, list[dict[str, int]]]] = {}
    for row in counted:
        for seen, take in plans[row.product_id]:
            if take:
                version, lines = by_order.get(seen.order_id, (seen.version, []))
                lines.append({"line_id": seen.line_id, "quantity": take})
                by_order[seen.order_id] = (min(version, seen.version), lines)
    key = request.form.get("idempotency_key") or uuid.uuid4().hex
    taken: dict[int, Any] = {}
    refused: list[str] = []
    for order_id, (version, lines) in sorted(by_order.items()):
        try:
            change = purchasing.receive_purchase_order(
                actor=actor, order_id=order_id, lines=lines, confirm_over=confirmed,
                reason=ascii_strip(page.reason) or None, expected_version=version,
                idempotency_key=f"{key[:100]}:{order_id}",
            )
        except StockroomError as exc:
            refused.append(exc.message)
            continue
        taken[order_id] = min(change.movement_ids)
    if not refused:
        return redirect(url_for("receiving.receipts", receipt=list(taken.values()),
                                location=page.location.id), code=303)

    # What was taken leaves the list; what was refused stays, going where it goes now.
    for row in counted:
        gone = sum(take for seen, take in plans[row.product_id] if seen.order_id in taken)
        row.typed = str((row.count or 0) - gone)
    page.rows = [row for row in page.rows if row.count]
    page.taken = purchasing.get_receipts(actor, list(taken.values())) if taken else []
    page.problem = " ".join(
        ([f"Received {', '.join(r.number for r in page.taken)}."] if page.taken else [])
        + [f"Not received: {message}" for message in refused]
        + ["What was not received is still in the list below, going where it goes now: "
           "check it and press Receive again."])
    return _render(_refreshed(actor, page), 409)


# --------------------------------------------------------------------------- machinery


def _location(actor: Actor, raw: str) -> LocationOption | None:
    """The location a request names: None for something that is not an id; 404 for one
    the actor cannot see, 403 for one where they may not receive."""
    location_id = parse_id(raw) if isinstance(raw, str) else None
    if location_id is None:
        return None
    found = next((loc for loc in queries.store_locations(actor) if loc.id == location_id), None)
    if found is None:
        abort(404)
    require_receive(actor, found.store_id)
    show_store(found.store_id)
    return found


def _row_for_code(actor: Actor, location: LocationOption, code: str
                  ) -> tuple[ArrivalRow | None, str | None]:
    """The row of the variant a code names, its open lines at the location; or why
    there is none."""
    problem = code_problem(code)
    if problem is not None:
        return None, problem
    shown = ascii_strip(code)
    here = queries.find_exact(actor, shown, limit=5, store_id=location.store_id,
                              location_id=location.id)
    lines = purchasing.open_lines_at(actor, location.id, [e.product_id for e in here])
    if lines:
        first = lines[0]
        return ArrivalRow(first.product_id, first.sku, first.title,
                          _codes(first.sku, first.gtin),
                          "", [x for x in lines if x.product_id == first.product_id]), None
    named = here[0].sku if here else (
        purchasing.product_for_code(actor, location.store_id, shown) or (None, None))[1]
    if named:
        return None, f"No open purchase order for {named} at {location.code}."
    return None, f"Nothing in this store has the SKU or GTIN “{shown}”."


def _codes(sku: str, gtin: str | None) -> tuple[str, ...]:
    return (sku, gtin) if gtin else (sku,)


def _posted_page(actor: Actor) -> ArrivalsPage | None:
    """The list as posted: its location (None for one that is not an id, 404/403 as on
    the page), each row's count and the lines it was shown going to, read again as they
    stand now for display."""
    values = request.form
    location = _location(actor, values.get("location") or "")
    if location is None:
        return None
    page = ArrivalsPage(location=location, code=values.get("code") or "",
                        reason=values.get("reason") or "")
    if len(ascii_strip(page.reason)) > MAX_REASON:
        page.reason_error = f"Must be at most {MAX_REASON} characters."
    products = values.getlist("row_product")
    counts = values.getlist("row_count")
    seen = values.getlist("row_lines")
    if not (len(products) == len(counts) == len(seen)):
        page.problem = "The list arrived incomplete; scan the items again."
        return page
    if len(products) > MAX_PURCHASE_ORDER_LINES:
        page.problem = f"At most {MAX_PURCHASE_ORDER_LINES:,} items in one list."
        return page
    listed: set[int] = set()
    for raw_product, typed, raw_seen in zip(products, counts, seen, strict=True):
        product_id = parse_id(raw_product)
        lines = Seen.parse(raw_seen)
        if product_id is None or lines is None:
            page.problem = "The list arrived garbled; scan the items again."
            return page
        if product_id in listed:
            continue
        listed.add(product_id)
        page.rows.append(ArrivalRow(product_id, "", "", (), typed, seen=lines,
                                    error=quantity(typed)[1]))
    return _refreshed(actor, page)


def _refreshed(actor: Actor, page: ArrivalsPage) -> ArrivalsPage:
    """Each row with its product's names and its open lines here as they stand now; a
    row whose product has none left says so."""
    fresh = purchasing.open_lines_at(actor, page.location.id,
                                     [row.product_id for row in page.rows])
    for row in page.rows:
        row.lines = [x for x in fresh if x.product_id == row.product_id]
        if row.lines:
            row.sku, row.title = row.lines[0].sku, row.lines[0].title
            row.codes = _codes(row.sku, row.lines[0].gtin)
        else:
            try:
                product = catalog.get_product(actor, row.product_id)
            except NotFound:
                abort(404)  # another store's, as any foreign id: not found
            if product.store_id != page.location.store_id:
                abort(404)
            row.sku, row.title = product.sku, product.title
            row.codes = _codes(product.sku, product.gtin)
            if row.count and not row.error:
                row.error = (f"No open purchase order for {product.sku} at "
                             f"{page.location.code} any more: remove it from the list.")
    return page


def _posted_plan(row: ArrivalRow) -> list[tuple[Seen, int]]:
    """The row's units on the lines the page showed them going to."""
    seen = row.seen or []
    return list(zip(seen, allocate(row.count or 0, [s.awaited for s in seen]), strict=True))


def _status(page: ArrivalsPage) -> int:
    return 422 if page.code_error or page.problem or any(row.error for row in page.rows) \
        else 200


def _render(page: ArrivalsPage, status: int = 200) -> Response:
    for n, row in enumerate(page.rows, start=1):
        row.position = n
    locations = receiving_locations(current_actor(), page.location.store_id)
    html = render_template(
        "receiving/arrivals.html", page=page, location=page.location, locations=locations,
        scan_opens=current_user.scan_opens, idempotency_key=uuid.uuid4().hex,
    )
    return make_response(html, status)
