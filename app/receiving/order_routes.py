"""Receive one purchase order: its lines with ordered, received and outstanding, a scan box
that adds one to a line's "receiving now" (or puts the cursor in it, for someone whose
scans open Adjust), and Receive, which takes every counted line as one receipt.

The counts live in the page, one field per line, so without JavaScript each scan is a form
post (Add) that draws the page again with one more, and Receive posts them all. With
JavaScript (static/receive.js) a scan is matched to its line in the page at once; only a
code no line answers to asks `order_code` why. The form carries the order's version: a
receipt counted against figures someone else has since changed is refused as stale and the
page comes back with the figures as they stand, the counts as typed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from flask import make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.permissions import Actor
from app.receiving import bp
from app.receiving.common import (
    Excess,
    code_key,
    code_problem,
    form_id,
    posted,
    quantity,
    require_receive,
    text,
)
from app.services import purchasing
from app.services.errors import (
    Conflict,
    IdempotencyKeyReused,
    NotFound,
    OverReceipt,
    StalePurchaseOrder,
    ValidationError,
)
from app.services.purchasing import PurchaseOrderLineView, PurchaseOrderView
from app.services.validation import ascii_strip, parse_id
from app.web import current_actor, show_store

MAX_REASON = 200
INCOMPLETE = "The page arrived incomplete. Nothing was received; check the counts and press " \
             "Receive again."
GARBLED = "The page arrived garbled. Nothing was received; reload the order and count again."


@dataclass
class OrderLine:
    """One line of the order as the page shows it, with what is typed in it."""

    line: PurchaseOrderLineView
    codes: tuple[str, ...]
    typed: str = ""
    # What the page showed as outstanding when the counts were typed (a stale notice
    # names the lines whose figure moved since).
    seen: int | None = None
    error: str | None = None

    @property
    def id(self) -> int:
        return self.line.id

    @property
    def now(self) -> int | None:
        return quantity(self.typed)[0]

    @property
    def over(self) -> int:
        now = self.now or 0
        return max(now - self.line.outstanding_qty, 0)

    @property
    def label(self) -> str:
        return f"{self.line.title} ({self.line.sku}) at {self.line.location_code}"

    @property
    def moved(self) -> bool:
        return self.seen is not None and self.seen != self.line.outstanding_qty


@dataclass
class OrderPage:
    order: PurchaseOrderView
    lines: list[OrderLine]
    code: str = ""
    code_error: str | None = None
    reason: str = ""
    reason_error: str | None = None
    problem: str | None = None
    notice: str | None = None
    said: str | None = None
    confirm: list[Excess] = field(default_factory=list)
    # The line whose field takes the cursor (a scan, for someone whose scans open Adjust).
    focus: int | None = None

    @property
    def units(self) -> int:
        return sum(line.now or 0 for line in self.lines)

    @property
    def counted_lines(self) -> int:
        return sum(1 for line in self.lines if line.now)


# --------------------------------------------------------------------------- routes


@bp.get("/receiving/orders/<int:order_id>")
@login_required
def order(order_id: int):  # type: ignore[no-untyped-def]
    """One order to receive: its lines, the scan box and Receive."""
    actor = current_actor()
    page = _page(actor, order_id)
    return _render(page)


@bp.post("/receiving/orders/<int:order_id>/scan")
@login_required
def order_scan(order_id: int):  # type: ignore[no-untyped-def]
    """Without JavaScript: one scan (or Enter in a count) draws the page again, the
    scanned line one more (or its field ready to type in), every count as posted."""
    actor = current_actor()
    posted()
    page = _posted_page(actor, order_id)
    code = ascii_strip(page.code)
    if not code or page.problem:
        return _render(page, _status(page))  # Enter in a count: the page as edited
    found, problem = _match(actor, page, code)
    if found is None:
        page.code_error = problem
        return _render(page, 422)
    if current_user.scan_opens == "adjust":
        page.focus = found.id
        page.said = f"{found.label}: type how many arrived."
    else:
        found.typed = str((found.now or 0) + 1)
        page.said = f"{found.label}: {found.now:,} receiving now."
    page.code = ""
    return _render(page, _status(page))


@bp.get("/receiving/orders/<int:order_id>/code")
@login_required
def order_code(order_id: int):  # type: ignore[no-untyped-def]
    """What receive.js asks about a code no line in the page answers to: the line's id
    (200) when one does after all, else why not (422), as text."""
    actor = current_actor()
    page = _page(actor, order_id)
    found, problem = _match(actor, page, request.args.get("code") or "")
    if found is None:
        return text(problem or "", 422)
    return text(str(found.id), 200)


@bp.post("/receiving/orders/<int:order_id>")
@login_required
def order_receive(order_id: int):  # type: ignore[no-untyped-def]
    """Receive every counted line as one receipt; over what a line awaits only once
    confirmed; stale figures come back fresh with the counts kept."""
    actor = current_actor()
    posted()
    page = _posted_page(actor, order_id)
    version = form_id("version")
    if version is None:
        page.problem = INCOMPLETE
    if page.problem:
        return _render(page, 422)
    if any(line.error for line in page.lines) or page.reason_error:
        page.problem = "Nothing was received: fix what is marked below."
        return _render(page, 422)
    counted = [line for line in page.lines if line.now]
    if not counted:
        page.problem = "Nothing was received: count at least one unit first."
        return _render(page, 422)
    try:
        change = purchasing.receive_purchase_order(
            actor=actor, order_id=order_id,
            lines=[{"line_id": line.id, "quantity": line.now} for line in counted],
            confirm_over=request.form.get("confirm_over") == "1",
            reason=ascii_strip(page.reason) or None, expected_version=version,
            idempotency_key=request.form.get("idempotency_key") or None,
        )
    except OverReceipt as exc:
        page.confirm = [_excess(counted, problem) for problem in exc.lines]
        page.problem = exc.message
        return _render(page, 409)
    except StalePurchaseOrder:
        fresh = _again(actor, page)
        fresh.problem = (f"{page.order.number} changed since you loaded it: "
                         "someone else received or changed it. Nothing was received; the "
                         "figures below are as they stand now, your counts as you typed "
                         "them. Check them and press Receive again.")
        return _render(fresh, 409)
    except ValidationError as exc:
        for name, message in exc.fields.items():
            _attach(page, counted, name, message)
        page.problem = "Nothing was received. " + "; ".join(exc.fields.values())
        return _render(page, 422)
    except IdempotencyKeyReused:
        # This page was sent once already, with other counts (its earlier copy, come
        # back through the browser's history): the figures now, the counts as typed.
        fresh = _again(actor, page)
        fresh.problem = ("This page was used for a receipt already. Nothing more was "
                         "received; the figures below are as they stand now, your counts "
                         "as you typed them. Check them and press Receive again.")
        return _render(fresh, 409)
    except (Conflict, NotFound) as exc:
        fresh = _again(actor, page)
        fresh.problem = exc.message
        return _render(fresh, exc.status)
    return redirect(url_for("receiving.receipts", receipt=min(change.movement_ids)), code=303)


# --------------------------------------------------------------------------- machinery


def _page(actor: Actor, order_id: int) -> OrderPage:
    """The order as it stands (404 for one the actor cannot see, 403 where they may not
    receive), no counts typed."""
    order = purchasing.get_purchase_order(actor, order_id)
    require_receive(actor, order.store_id)
    show_store(order.store_id)
    codes = purchasing.receiving_codes(actor, order_id)
    return OrderPage(order=order, lines=[
        OrderLine(line, codes.get(line.id, (line.sku,)), seen=line.outstanding_qty)
        for line in order.lines
    ])


def _posted_page(actor: Actor, order_id: int) -> OrderPage:
    """The order as it stands, with the counts, code and note as posted; a count that
    cannot be read is named beside its line."""
    page = _page(actor, order_id)
    values = request.form
    page.code = values.get("code") or ""
    page.reason = values.get("reason") or ""
    if len(ascii_strip(page.reason)) > MAX_REASON:
        page.reason_error = f"Must be at most {MAX_REASON} characters."
    ids, seen, typed = values.getlist("line"), values.getlist("seen"), values.getlist("qty")
    if not len(ids) == len(seen) == len(typed):
        page.problem = INCOMPLETE
        return page
    by_id = {line.id: line for line in page.lines}
    for raw_id, raw_seen, text_ in zip(ids, seen, typed, strict=True):
        line = by_id.get(parse_id(raw_id) or 0)
        shown = quantity(raw_seen)[0]
        if line is None or shown is None:
            page.problem = GARBLED
            return page
        line.typed, line.seen, line.error = text_, shown, quantity(text_)[1]
    return page


def _match(actor: Actor, page: OrderPage, code: str) -> tuple[OrderLine | None, str | None]:
    """The line a scanned code names (of a product at several destinations, the first
    still awaiting units beyond those counted, else the last), or why there is none."""
    problem = code_problem(code)
    if problem is not None:
        return None, problem
    key = code_key(code)
    found = [line for line in page.lines if key in {code_key(c) for c in line.codes}]
    if found:
        return next((x for x in found if (x.now or 0) < x.line.outstanding_qty), found[-1]), None
    shown = ascii_strip(code)
    elsewhere = purchasing.product_for_code(actor, page.order.store_id, shown)
    if elsewhere is not None:
        return None, f"{elsewhere[1]} is not on {page.order.number}."
    return None, f"Nothing in this store has the SKU or GTIN “{shown}”."


def _excess(counted: list[OrderLine], problem: dict[str, object]) -> Excess:
    """The service's over-receipt problem (it names lines[n].quantity of what was sent)
    as the confirmation shows it."""
    match = re.fullmatch(r"lines\[(\d+)\]\.quantity", str(problem["field"]))
    line = counted[int(match.group(1))] if match else None
    label = line.label if line else str(problem["label"])
    received = int(problem["quantity"])  # type: ignore[call-overload]
    return Excess(label, received, received - int(problem["over"]))  # type: ignore[call-overload]


def _attach(page: OrderPage, counted: list[OrderLine], name: str, message: str) -> None:
    match = re.fullmatch(r"lines\[(\d+)\]\.\w+", name)
    if match and int(match.group(1)) < len(counted):
        counted[int(match.group(1))].error = message
    elif name == "reason":
        page.reason_error = message


def _again(actor: Actor, page: OrderPage) -> OrderPage:
    """The order read again as it stands now, carrying what was typed in `page`."""
    fresh = _page(actor, page.order.id)
    typed = {line.id: line for line in page.lines}
    for line in fresh.lines:
        before = typed.get(line.id)
        if before is not None:
            line.typed, line.seen, line.error = before.typed, before.seen, before.error
    fresh.reason, fresh.reason_error = page.reason, page.reason_error
    return fresh


def _status(page: OrderPage) -> int:
    return 422 if page.code_error or page.problem or any(line.error for line in page.lines) \
        else 200


def _render(page: OrderPage, status: int = 200) -> Response:
    """The page, saying which outstanding figures moved since the counts were typed against
    them; from here on the counts are read against the figures (and the order's version)
    this page shows."""
    moved = [line for line in page.lines if line.moved]
    if moved and page.notice is None:
        page.notice = "Outstanding changed since the page was loaded: " + "; ".join(
            f"{line.label} {line.seen:,} → {line.line.outstanding_qty:,}" for line in moved
        ) + "."
    html = render_template(
        "receiving/order.html", page=page, order=page.order,
        scan_opens=current_user.scan_opens, idempotency_key=uuid.uuid4().hex,
    )
    return make_response(html, status)
