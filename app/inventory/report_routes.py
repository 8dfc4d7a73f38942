"""The reports: low stock, out of stock and reorder, each filtered by store, location and
supplier, sorted, paged and exported as CSV, their rows carrying the overview's actions.
The reorder report's lines are also chosen to draft purchase orders from."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from flask import current_app, make_response, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from app.clock import utcnow
from app.inventory import bp
from app.inventory.actions import ACTIONS, ROW_ACTIONS
from app.inventory.filters import whole_number
from app.inventory.report_view import REPORTS, SORT_LABELS, Report, ReportView, report_args
from app.inventory.rows import rows_of_page
from app.permissions import PURCHASING, READ, Actor
from app.services import export, purchasing, queries
from app.services.errors import Conflict, NotFound, ValidationError
from app.services.money import format_amount
from app.web import current_actor, readable_stores
from app.web.boundary import screen_form
from app.web.csv import csv_response
from app.web.htmx import is_htmx, vary_on_htmx, wants_fragment

# Counted up to this many, then "10,000+", as on the overview.
COUNT_LIMIT = 10_000
# A purchase order's own page, where the purchasing screens provide one: the drafts made
# here link to it, and are named by their numbers alone where there is none.
PURCHASE_ORDER_ENDPOINT = "purchasing.order"
# How many drafts one "created" note names.
MAX_CREATED = 100


@bp.get("/reports/low-stock")
@login_required
def low_stock():  # type: ignore[no-untyped-def]
    """Entries at or below their low-stock threshold, with their row actions."""
    return _show(REPORTS["low_stock"])


@bp.get("/reports/out-of-stock")
@login_required
def out_of_stock():  # type: ignore[no-untyped-def]
    """Entries with nothing available, backordered or not, with their row actions."""
    return _show(REPORTS["out_of_stock"])


@bp.get("/reports/reorder")
@login_required
def reorder():  # type: ignore[no-untyped-def]
    """Entries whose stock and what is coming fell to their reorder point, with the order
    suggested, grouped by supplier; ?created= names drafts just made from them."""
    return _show(REPORTS["reorder"], created=_created(request.args.get("created")))


@bp.post("/reports/reorder/purchase-orders")
@login_required
def reorder_purchase_orders():  # type: ignore[no-untyped-def]
    """Draft purchase orders from the reorder lines chosen, one per supplier and location;
    the report again, naming them, or saying why nothing was made."""
    screen_form()
    actor = current_actor()
    report = REPORTS["reorder"]
    view = report_args(actor, report, request.form)
    chosen = request.form.getlist("line")
    try:
        if view.errors:
            # The page's filters came back unread: nothing is ordered from a page misread.
            raise ValidationError(dict(view.errors))
        store_id = _ordering_store(actor, view)
        if store_id is None:
            raise ValidationError({"store": "Choose a store (at the top) to order for."})
        made = purchasing.create_reorder_purchase_orders(
            actor=actor, store_id=store_id, lines=purchasing.lines_from_keys(chosen),
            idempotency_key=request.form.get("idempotency_key") or None,
        )
    except ValidationError as exc:
        return _render(report, replace(view, errors={}), 422, chosen=set(chosen),
                       problem="Nothing was ordered.", problem_fields=exc.fields)
    except (Conflict, NotFound) as exc:
        # Nothing was made: the report as it is now, the lines still chosen, and why.
        return _render(report, view, exc.status, problem=exc.message, chosen=set(chosen))
    ids = [order.id for order in made]
    if not is_htmx():
        return redirect(view.url(created=",".join(map(str, ids))), code=303)
    return _render(report, replace(view, cursor=None), 200, created=made)


@bp.get("/reports/low-stock.csv")
@login_required
def low_stock_csv():  # type: ignore[no-untyped-def]
    """The low stock report as CSV, every page, with the page's filters and order."""
    return _export(REPORTS["low_stock"])


@bp.get("/reports/out-of-stock.csv")
@login_required
def out_of_stock_csv():  # type: ignore[no-untyped-def]
    """The out of stock report as CSV, every page, with the page's filters and order."""
    return _export(REPORTS["out_of_stock"])


@bp.get("/reports/reorder.csv")
@login_required
def reorder_csv():  # type: ignore[no-untyped-def]
    """The reorder report as CSV: a purchase list with the page's filters and order."""
    return _export(REPORTS["reorder"])


def _show(report: Report, **extra: Any):  # type: ignore[no-untyped-def]
    """The report's page, or under htmx (a filter, a sort, a page) its results alone."""
    actor = current_actor()
    view = report_args(actor, report, request.args)
    return _render(report, view, 422 if view.errors else 200, **extra)


def _render(report: Report, view: ReportView, status: int, **extra: Any
            ):  # type: ignore[no-untyped-def]
    context = {**report_context(current_actor(), view), **extra}
    view = context["view"]
    if report.suggests:
        rows_of_page(view.url())  # a post's page: its store is in the form, not the URL
    if status == 200 and view.errors:
        status = 422
    if wants_fragment():
        response = make_response(render_template("inventory/_report_results.html", **context),
                                 status)
        response.headers["HX-Push-Url"] = view.url()
        return vary_on_htmx(response)
    return vary_on_htmx(make_response(render_template("inventory/report.html", **context),
                                      status))


def _ordering_store(actor: Actor, view: ReportView) -> int | None:
    """The store the report's lines are ordered for: the one it is filtered to, or the
    actor's only store."""
    if view.filters.store_id is not None:
        return view.filters.store_id
    readable = actor.stores_with(READ)
    return next(iter(readable)) if readable is not None and len(readable) == 1 else None


def _created(raw: str | None) -> list[purchasing.PurchaseOrderView]:
    """The drafts a ?created= list names, those the actor can read."""
    found = []
    for part in (raw or "").split(",")[:MAX_CREATED]:
        order_id = whole_number(part, "created", {}, minimum=1)
        if order_id is None:
            continue
        try:
            found.append(purchasing.get_purchase_order(current_actor(), order_id))
        except NotFound:
            continue
    return found


@bp.app_template_global()
def purchase_order_url(order_id: int) -> str | None:
    """The purchase order's own page, where the app has one."""
    if PURCHASE_ORDER_ENDPOINT not in current_app.view_functions:
        return None
    return url_for(PURCHASE_ORDER_ENDPOINT, order_id=order_id)


@bp.app_template_global()
def reorder_costs_shown() -> bool:
    """Whether the reorder lines have a cost column: for those who may buy in some store
    (costs are theirs to see; a line of a store where they may not shows none)."""
    return current_actor().stores_with(PURCHASING) != set()


@bp.app_template_global()
def cost_text(value: Any, currency: str | None) -> str:
    """A unit cost as people write it in its currency (12.50), or a dash."""
    return "—" if value is None or currency is None else format_amount(value, currency)


def report_context(actor: Actor, view: ReportView) -> dict[str, Any]:
    """Everything a report's page and its results fragment show for `view`."""
    read = _reader(view.report)
    try:
        page = read(actor, view.filters, cursor=view.cursor, limit=view.per_page)
    except ValidationError as exc:
        # A stale or forged page link: say so and show the first page instead.
        view = replace(view, cursor=None, errors={**view.errors, **exc.fields})
        page = read(actor, view.filters, limit=view.per_page)
    ordering = _ordering_store(actor, view) if view.report.suggests else None
    return {
        "view": view,
        "report": view.report,
        "page": page,
        "sort_labels": SORT_LABELS,
        "locations": queries.store_locations(actor, store_id=view.filters.store_id),
        "suppliers": queries.supplier_options(actor, store_id=view.filters.store_id),
        "store_names": {s.id: s.name for s in readable_stores()},
        "row_actions": ROW_ACTIONS,
        "actions": ACTIONS,
        # Lines are chosen to order only by someone who may buy for the report's store.
        "ordering": ordering is not None and actor.can(PURCHASING, ordering),
        "buys_elsewhere": ordering is None and view.report.suggests
        and actor.stores_with(PURCHASING) != set(),
        "order_key": uuid.uuid4().hex,
        "chosen": set(),
        "created": [],
        "problem": None,
        "problem_fields": {},
    }


def report_total(actor: Actor, report: Report, query: str) -> Any | None:
    """The report's page of one row with its total, for the filters in `query` (the query
    string of the page a row action came from), to tell that page its new count; None when
    the filters are not understood (the page then keeps the count it showed)."""
    view = report_args(actor, report, MultiDict(parse_qsl(query, keep_blank_values=True)))
    if view.errors:
        return None
    return _reader(report)(actor, view.filters, limit=1)


def _reader(report: Report) -> Any:
    if report.suggests:
        def read_lines(actor: Actor, filters: queries.ReportFilters, **kw: Any) -> Any:
            return queries.reorder_suggestions(actor, filters, count_limit=COUNT_LIMIT, **kw)
        return read_lines

    def read_entries(actor: Actor, filters: queries.ReportFilters, **kw: Any) -> Any:
        return queries.report_page(actor, report.name, filters, count_limit=COUNT_LIMIT, **kw)
    return read_entries


def _export(report: Report):  # type: ignore[no-untyped-def]
    actor = current_actor()
    view = report_args(actor, report, request.args)
    if view.errors:
        # A filter or order left out would export something else than the page shows.
        raise ValidationError(dict(view.errors))
    store = f"-store-{view.filters.store_id}" if view.filters.store_id else ""
    name = f"stockroom-{report.name.replace('_', '-')}{store}-{utcnow():%Y-%m-%d}.csv"
    rows = export.iter_report_csv(actor, report.name, view.filters)
    return csv_response(name, export.REPORT_COLUMNS[report.name], rows)
