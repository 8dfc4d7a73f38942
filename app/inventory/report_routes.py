"""The reports: low stock, out of stock and reorder, each filtered by store and location,
sorted, paged and exported as CSV; the entry reports' rows carry the overview's actions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from flask import make_response, render_template, request
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from app.clock import utcnow
from app.inventory import bp
from app.inventory.actions import ACTIONS, ROW_ACTIONS
from app.inventory.report_view import REPORTS, SORT_LABELS, Report, ReportView, report_args
from app.permissions import Actor
from app.services import export, queries
from app.services.errors import ValidationError
from app.web import current_actor, readable_stores
from app.web.csv import csv_response
from app.web.htmx import vary_on_htmx, wants_fragment

# Counted up to this many, then "10,000+", as on the overview.
COUNT_LIMIT = 10_000


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
    """Products at or below their reorder point, with the suggested order."""
    return _show(REPORTS["reorder"])


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


def _show(report: Report):  # type: ignore[no-untyped-def]
    """The report's page, or under htmx (a filter, a sort, a page) its results alone."""
    actor = current_actor()
    context = report_context(actor, report_args(actor, report, request.args))
    view = context["view"]
    status = 422 if view.errors else 200
    if wants_fragment():
        response = make_response(render_template("inventory/_report_results.html", **context),
                                 status)
        response.headers["HX-Push-Url"] = view.url()
        return vary_on_htmx(response)
    return vary_on_htmx(make_response(render_template("inventory/report.html", **context),
                                      status))


def report_context(actor: Actor, view: ReportView) -> dict[str, Any]:
    """Everything a report's page and its results fragment show for `view`."""
    read = _reader(view.report)
    try:
        page = read(actor, view.filters, cursor=view.cursor, limit=view.per_page)
    except ValidationError as exc:
        # A stale or forged page link: say so and show the first page instead.
        view = replace(view, cursor=None, errors={**view.errors, **exc.fields})
        page = read(actor, view.filters, limit=view.per_page)
    return {
        "view": view,
        "report": view.report,
        "page": page,
        "sort_labels": SORT_LABELS,
        "locations": queries.store_locations(actor, store_id=view.filters.store_id),
        "store_names": {s.id: s.name for s in readable_stores()},
        "row_actions": ROW_ACTIONS,
        "actions": ACTIONS,
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
    if report.per_product:
        def read_products(actor: Actor, filters: queries.ReportFilters, **kw: Any) -> Any:
            return queries.reorder_page(actor, filters, count_limit=COUNT_LIMIT, **kw)
        return read_products

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
