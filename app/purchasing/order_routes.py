"""Purchase orders: a store's list, a new draft, an order's page, its details, placing and
cancelling it, and the printable page and CSV to send the supplier. Its lines are in
line_routes.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from flask import abort, make_response, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from app.clock import utcnow
from app.models import PURCHASE_ORDER_STATUSES
from app.purchasing import bp
from app.purchasing.common import (
    ORDERS_PER_PAGE,
    beside_fields,
    location_choices,
    purchasing_stores,
    store_from_args,
    supplier_choices,
)
from app.purchasing.forms import OrderActionForm, OrderDetailsForm, OrderForm, amount_text
from app.purchasing.order_view import lines_context, load_order, order_context
from app.services import purchasing, queries
from app.services.csvfile import neutralise
from app.services.errors import NotFound, ValidationError
from app.services.money import SCALE_DIGITS, amount, convert, format_amount
from app.services.purchasing import PurchaseOrderView, SupplierView
from app.services.validation import ascii_strip, parse_id
from app.web import current_actor, format_money
from app.web.actions import FormView, finish, reload_main, run_form
from app.web.csv import csv_response
from app.web.htmx import is_htmx, vary_on_htmx, wants_fragment

# The list's status filter: "open" is ordered or partly received.
STATUS_CHOICES = [("", "Any status"), ("open", "Open (ordered, partly received)"),
                  *((s, purchasing.STATUS_LABELS[s]) for s in PURCHASE_ORDER_STATUSES)]

# The order's actions: (title, button, past tense, destructive).
ORDER_ACTIONS = {
    "order": ("Place order", "Place order", "Placed", False),
    "cancel": ("Cancel order", "Cancel order", "Cancelled", True),
}


# --------------------------------------------------------------------------- the list


@bp.get("/orders", endpoint="orders")
@login_required
def order_list():  # type: ignore[no-untyped-def]
    """A store's purchase orders, newest first, filtered by status and supplier, a page at
    a time."""
    store = store_from_args()
    if store is None:
        return render_template("purchasing/choose_store.html", title="Purchase orders",
                               stores=purchasing_stores())
    actor = current_actor()
    args = request.args
    status = ascii_strip(args.get("status") or "") or None
    supplier = _supplier_filter(store.id, args.get("supplier"))
    raw_before = ascii_strip(args.get("before") or "")
    before = parse_id(raw_before) if raw_before else None
    errors: dict[str, str] = {}
    if raw_before and before is None:
        errors["before"] = "Not a page of this list: showing the first page."
    try:
        rows = purchasing.list_purchase_orders(
            actor, store.id, status=status, supplier_id=supplier.id if supplier else None,
            limit=ORDERS_PER_PAGE + 1, before_id=before)
    except ValidationError as exc:
        errors.update(exc.fields)
        status = None if "status" in exc.fields else status
        rows = purchasing.list_purchase_orders(
            actor, store.id, status=status, supplier_id=supplier.id if supplier else None,
            limit=ORDERS_PER_PAGE + 1)
        before = None
    more = len(rows) > ORDERS_PER_PAGE
    rows = rows[:ORDERS_PER_PAGE]
    context = {
        "store": store, "rows": rows, "status": status, "supplier": supplier,
        "before": before, "errors": errors,
        "next_before": rows[-1].id if more and rows else None,
        "statuses": STATUS_CHOICES,
        "suppliers": purchasing.list_suppliers(actor, store.id, include_archived=True),
    }
    code = 422 if errors else 200
    if wants_fragment():
        response = make_response(render_template("purchasing/_orders.html", **context), code)
        response.headers["HX-Push-Url"] = orders_url(store.id, status, supplier, before)
        return vary_on_htmx(response)
    return vary_on_htmx(make_response(render_template("purchasing/orders.html", **context),
                                      code))


def orders_url(store_id: int, status: str | None, supplier: SupplierView | None,
               before: int | None = None) -> str:
    return url_for("purchasing.orders", store=store_id, status=status or None,
                   supplier=supplier.id if supplier else None, before=before)


def _supplier_filter(store_id: int, raw: str | None) -> SupplierView | None:
    """The supplier a list is filtered to: one of this store's, else 404 like any filter
    naming what the user cannot see."""
    text = ascii_strip(raw or "")
    if not text:
        return None
    supplier_id = parse_id(text)
    if supplier_id is None:
        abort(404)
    found = purchasing.get_supplier(current_actor(), supplier_id)
    if found.store_id != store_id:
        abort(404)
    return found


# --------------------------------------------------------------------------- a new draft


@bp.route("/orders/new", methods=["GET", "POST"])
@login_required
def order_new():  # type: ignore[no-untyped-def]
    """Start a draft: its supplier, where it arrives, when it is expected. Lines are added
    on its page."""
    store = store_from_args()
    if store is None:
        return render_template("purchasing/choose_store.html", title="New purchase order",
                               stores=purchasing_stores())
    actor = current_actor()
    places = queries.store_locations(actor, store_id=store.id)
    form = OrderForm(data=None if request.method == "POST" else {
        "supplier_id": ascii_strip(request.args.get("supplier") or ""),
        "location_id": str(places[0].id) if len(places) == 1 else "",
        "idempotency_key": uuid.uuid4().hex,
    })
    form.supplier_id.choices = supplier_choices(store.id)
    form.location_id.choices = location_choices(store.id, empty="Choose a location")
    title = "New purchase order"
    view = FormView("purchasing/_order_form.html", title, context={
        "form": form, "store": store, "title": title, "problem": None,
        "back": url_for("purchasing.orders", store=store.id),
        "has_suppliers": len(form.supplier_id.choices) > 1,
    }, crumbs=[("Purchase orders", url_for("purchasing.orders", store=store.id))])

    def render(status: int = 200, problem: str | None = None) -> Response:
        if status != 200:
            form.idempotency_key.data = uuid.uuid4().hex  # a corrected retry is a new request
        return view.render(status, problem=problem)

    if request.method == "GET":
        return render()

    def create() -> PurchaseOrderView:
        supplier_id, location_id = form.supplier_id.id_value, form.location_id.id_value
        if location_id not in {p.id for p in places}:
            raise ValidationError({"location_id": "Choose a location from the list."})
        found = _store_supplier(store.id, supplier_id)
        return purchasing.create_purchase_order(
            actor=actor, supplier_id=found.id, expected_on=form.expected_on.day,
            notes=form.notes.data or None, exchange_rate=amount_text(form.exchange_rate),
            deliver_to_id=location_id, idempotency_key=f"web:{form.idempotency_key.data}")

    def created(order: PurchaseOrderView) -> Response:
        message = f"Started {order.number} to {order.supplier_name}. Scan or type what to order."
        target = url_for("purchasing.order", order_id=order.id)
        if is_htmx():
            return reload_main(target, message)
        return finish(message, target, lambda: make_response(""))

    return run_form(form, render, create, created, labelled=True,
                    refused=beside_fields(form, render))


def _store_supplier(store_id: int, supplier_id: Any) -> SupplierView:
    """The chosen supplier, one of this store's (another store's is not on the list)."""
    try:
        found = purchasing.get_supplier(current_actor(), supplier_id)
    except NotFound:
        found = None
    if found is None or found.store_id != store_id:
        raise ValidationError({"supplier_id": "Choose a supplier from the list."})
    return found


# --------------------------------------------------------------------------- one order


@bp.get("/orders/<int:order_id>", endpoint="order")
@login_required
def order_page(order_id: int):  # type: ignore[no-untyped-def]
    """An order: its state, its lines with what each has received and still awaits, and,
    while a draft, adding lines by scanning or typing their codes."""
    found = load_order(order_id)
    return render_template("purchasing/order.html",
                           **{**order_context(found), **lines_context(found)})


@bp.route("/orders/<int:order_id>/edit", methods=["GET", "POST"])
@login_required
def order_edit(order_id: int):  # type: ignore[no-untyped-def]
    """Change an order's expected date, notes and (while a draft) exchange rate."""
    found = load_order(order_id)
    context = order_context(found)
    form = OrderDetailsForm(data=None if request.method == "POST" else {
        "expected_version": str(found.version),
        "expected_on": found.expected_on.isoformat() if found.expected_on else "",
        "exchange_rate": f"{found.exchange_rate.normalize():f}" if found.exchange_rate else "",
        "notes": found.notes or "",
    })
    back = url_for("purchasing.order", order_id=found.id)
    title = "Order details"
    view = FormView("purchasing/_order_details_form.html", title, context={
        **context, "form": form, "title": title, "problem": None, "back": back,
    }, crumbs=[("Purchase orders", url_for("purchasing.orders", store=found.store_id)),
               (found.number, back)])
    if request.method == "GET":
        return view.render()

    def saved(after: PurchaseOrderView) -> Response:
        message = f"Saved {after.number}'s details."
        if is_htmx():
            return reload_main(back, message)
        return finish(message, back, lambda: make_response(""))

    return run_form(
        form, view.render,
        lambda: purchasing.update_purchase_order(
            actor=current_actor(), order_id=found.id, expected_on=form.expected_on.day,
            notes=form.notes.data or None, exchange_rate=amount_text(form.exchange_rate),
            expected_version=form.expected_version.number),
        saved, labelled=True, refused=beside_fields(form, view.render),
    )


@bp.route("/orders/<int:order_id>/<any(order, cancel):verb>", methods=["GET", "POST"])
@login_required
def order_action(order_id: int, verb: str):  # type: ignore[no-untyped-def]
    """Place a draft with its supplier (what it brings becomes incoming), or cancel an
    order (what it has not delivered leaves incoming), after a confirmation."""
    found = load_order(order_id)
    context = order_context(found)
    form = OrderActionForm(data=None if request.method == "POST" else {
        "expected_version": str(found.version), "idempotency_key": uuid.uuid4().hex})
    title, button, done, destructive = ORDER_ACTIONS[verb]
    back = url_for("purchasing.order", order_id=found.id)
    view = FormView("purchasing/_order_action.html", title, context={
        **context, "form": form, "verb": verb, "title": f"{title} — {found.number}",
        "button": button, "destructive": destructive, "problem": None, "back": back,
    }, crumbs=[("Purchase orders", url_for("purchasing.orders", store=found.store_id)),
               (found.number, back)])

    def render(status: int = 200, problem: str | None = None) -> Response:
        if status != 200:
            form.idempotency_key.data = uuid.uuid4().hex
        return view.render(status, problem=problem)

    if request.method == "GET":
        return render()

    def act() -> PurchaseOrderView:
        key = f"web:{form.idempotency_key.data}"
        if verb == "order":
            return purchasing.order_purchase_order(
                actor=current_actor(), order_id=found.id,
                expected_version=form.expected_version.number, idempotency_key=key)
        return purchasing.cancel_purchase_order(
            actor=current_actor(), order_id=found.id, reason=form.reason.data or None,
            expected_version=form.expected_version.number, idempotency_key=key)

    def acted(after: PurchaseOrderView) -> Response:
        if verb == "order":
            message = (f"Placed {after.number} with {after.supplier_name}: "
                       f"{sum(x.ordered_qty for x in after.lines):,} units on their way.")
        else:
            message = f"Cancelled {after.number}."
            if after.lines and found.is_open:
                message += (f" {found.outstanding_qty:,} units not yet received no longer "
                            "count as incoming.")
        if is_htmx():
            return reload_main(back, message, **{"stock-changed": True})
        return finish(message, back, lambda: make_response(""))

    return run_form(form, render, act, acted, labelled=True,
                    refused=beside_fields(form, render))


# --------------------------------------------------------------------------- to the supplier


@bp.get("/orders/<int:order_id>/print")
@login_required
def order_print(order_id: int):  # type: ignore[no-untyped-def]
    """The order as a page to print or save as PDF and send the supplier: no navigation."""
    found = load_order(order_id)
    context = order_context(found)
    items = {i.product_id: i for i in purchasing.list_supplier_items(current_actor(),
                                                                    found.supplier_id)}
    places = {p.id: p for p in queries.store_locations(current_actor(),
                                                       store_id=found.store_id)}
    return render_template("purchasing/print.html", **context, items=items, places=places)


CSV_HEADER = ("order", "supplier", "line", "supplier_sku", "sku", "title", "deliver_to",
              "quantity", "unit_cost", "line_total", "currency", "expected_on")


@bp.get("/orders/<int:order_id>.csv")
@login_required
def order_csv(order_id: int):  # type: ignore[no-untyped-def]
    """The order's lines as CSV, one a row, for the supplier's system."""
    found = load_order(order_id)
    items = {i.product_id: i for i in purchasing.list_supplier_items(current_actor(),
                                                                    found.supplier_id)}
    return csv_response(f"{found.number}.csv", CSV_HEADER, _csv_rows(found, items))


def _csv_rows(found: PurchaseOrderView, items: dict[int, Any]) -> Iterator[list[Any]]:
    """Text cells neutralised: a title or SKU never runs as a spreadsheet formula."""
    for n, line in enumerate(found.lines, start=1):
        item = items.get(line.product_id)
        yield [neutralise(found.number), neutralise(found.supplier_name), n,
               neutralise(item.supplier_sku if item else None), neutralise(line.sku),
               neutralise(line.title), neutralise(line.location_code), line.ordered_qty,
               format_amount(line.unit_cost, found.currency).replace(",", ""),
               format_amount(line.line_total, found.currency).replace(",", ""),
               found.currency, found.expected_on.isoformat() if found.expected_on else ""]


def total_in_store_currency(found: PurchaseOrderView, store_currency: str) -> str | None:
    """The order's total in the store's currency when the order is in another one and has
    its rate: what it will be worth in stock."""
    if found.currency == store_currency or found.exchange_rate is None:
        return None
    stored = int(found.total.scaleb(SCALE_DIGITS))
    return format_money(amount(convert(stored, found.exchange_rate)), store_currency)


@bp.context_processor
def _order_helpers() -> dict[str, Any]:
    return {"orders_url": orders_url, "total_in_store_currency": total_in_store_currency,
            "today": utcnow().date()}
