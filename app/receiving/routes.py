"""The way in to receiving (the open orders one may receive, an order by its number, or
"whatever arrives" at a location) and the summary a receipt ends on."""

from __future__ import annotations

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from app.permissions import RECEIVE, Actor
from app.receiving import bp
from app.receiving.common import require_some_store
from app.services import purchasing, queries
from app.services.purchasing import ReceivableOrder
from app.services.purchasing.views import MAX_RECEIPTS
from app.services.queries.lookups import LocationOption
from app.services.validation import ascii_strip, parse_id
from app.web import current_actor, current_store, readable_stores, show_store

# More receipts than one page names (a "whatever arrives" list reaches a few orders).
MAX_SHOWN = MAX_RECEIPTS


@bp.get("/receiving")
@login_required
def start():  # type: ignore[no-untyped-def]
    """Choose what to receive: an open order, an order by its number, or whatever arrives
    at a location."""
    actor = current_actor()
    require_some_store(actor)
    return _render(actor)


@bp.get("/receiving/find")
@login_required
def find():  # type: ignore[no-untyped-def]
    """An order by the number typed or scanned from its printed copy: that order's page,
    or the choice when several stores have one of that number."""
    actor = current_actor()
    require_some_store(actor)
    number = ascii_strip(request.args.get("number") or "")
    if not number:
        return _render(actor, number=number, status=422,
                       error="Scan or type a purchase order number, like PO-0001.")
    store_id = _store_here(actor)
    found = purchasing.find_orders_to_receive(actor, number, store_id=store_id)
    if len(found) == 1:
        return redirect(url_for("receiving.order", order_id=found[0].id), code=303)
    if not found:
        where = "in this store" if store_id is not None else "in the stores where you receive"
        shown = number if len(number) <= 40 else number[:40] + "…"
        return _render(actor, number=number, status=422,
                       error=f"No purchase order {shown.upper()} {where}.")
    return _render(actor, number=number, matches=found)


@bp.get("/receiving/receipts")
@login_required
def receipts():  # type: ignore[no-untyped-def]
    """What one or more receipts took in: each line's units, on hand after, what the line
    still awaits, and each order's status now."""
    actor = current_actor()
    ids = [parse_id(raw) for raw in request.args.getlist("receipt")]
    if not ids or None in ids or len(ids) > MAX_SHOWN:
        abort(404)
    found = purchasing.get_receipts(actor, [i for i in ids if i is not None])
    location = _location_arg(actor)
    show_store(found[0].store_id)
    html = render_template("receiving/receipts.html", receipts=found, location=location,
                           units=sum(r.quantity for r in found))
    return make_response(html, 200)


# --------------------------------------------------------------------------- machinery


def _store_here(actor: Actor) -> int | None:
    """The store the top bar names, when the actor may receive there."""
    store = current_store()
    return store.id if store is not None and actor.can(RECEIVE, store.id) else None


def receiving_locations(actor: Actor, store_id: int | None = None) -> list[LocationOption]:
    """Active locations in the stores where the actor may receive (only `store_id`)."""
    return [loc for loc in queries.store_locations(actor, store_id=store_id)
            if actor.can(RECEIVE, loc.store_id)]


def _location_arg(actor: Actor) -> LocationOption | None:
    raw = request.args.get("location")
    location_id = parse_id(raw) if raw else None
    if location_id is None:
        return None
    return next((loc for loc in receiving_locations(actor) if loc.id == location_id), None)


def landing(actor: Actor, *, location_error: str) -> Response:
    """The way in again (422), its location choice naming what was wrong with the one
    sent."""
    return _render(actor, location_error=location_error, status=422)


def _render(actor: Actor, *, number: str = "", error: str | None = None,
            matches: list[ReceivableOrder] | None = None, location_error: str | None = None,
            status: int = 200) -> Response:
    store_id = _store_here(actor)
    orders = purchasing.list_receivable_orders(actor, store_id=store_id)
    locations = receiving_locations(actor, store_id)
    names = {s.id: s.name for s in readable_stores()}
    html = render_template(
        "receiving/start.html", orders=orders, locations=locations, store_names=names,
        several_stores=len({o.store_id for o in orders} | {x.store_id for x in locations}) > 1,
        number=number, error=error, matches=matches or [], store_id=store_id,
        location_error=location_error,
    )
    return make_response(html, status)
