"""The stock value report: what the stock is worth per store and location, and entry by
entry, filtered, sorted, paged and exported as CSV. For those who may see costs
(purchasing:manage); the service refuses anyone else."""

from __future__ import annotations

from typing import Any

from flask import make_response, render_template, request
from flask_login import login_required

from app.clock import utcnow
from app.inventory import bp
from app.inventory.valuation_view import SORT_LABELS, ValuationView, parse_valuation_args
from app.permissions import Actor
from app.services import queries
from app.services.csvfile import neutralise
from app.services.errors import ValidationError
from app.services.queries import valuation
from app.web import current_actor, readable_stores
from app.web.csv import csv_response
from app.web.htmx import vary_on_htmx, wants_fragment

CSV_COLUMNS = ("store", "currency", "location", "sku", "title", "on_hand", "average_cost",
               "value")


@bp.get("/reports/valuation", endpoint="valuation")
@login_required
def report():  # type: ignore[no-untyped-def]
    """The stock value per store and location, then entry by entry; htmx asks for the
    results alone."""
    actor = current_actor()
    view = parse_valuation_args(request.args)
    context = valuation_context(actor, view)
    status = 422 if view.errors else 200
    if wants_fragment():
        response = make_response(
            render_template("inventory/_valuation_results.html", **context), status)
        response.headers["HX-Push-Url"] = view.url()
        return vary_on_htmx(response)
    return vary_on_htmx(make_response(
        render_template("inventory/valuation.html", **context), status))


@bp.get("/reports/valuation.csv")
@login_required
def valuation_csv():  # type: ignore[no-untyped-def]
    """The report's entries as CSV, every page, with the page's filters and order; the
    value and average cost in full, as plain decimals."""
    actor = current_actor()
    view = parse_valuation_args(request.args)
    if view.errors:
        # A filter or order left out would export something else than the page shows.
        raise ValidationError(dict(view.errors))
    store = f"-store-{view.filters.store_id}" if view.filters.store_id else ""
    kind = "-uncosted" if view.filters.uncosted else ""
    name = f"stockroom-stock-value{kind}{store}-{utcnow():%Y-%m-%d}.csv"
    rows = valuation.iter_valuation(actor, view.filters)
    return csv_response(name, CSV_COLUMNS, (
        (neutralise(r.store_name), r.currency, neutralise(r.location_code), neutralise(r.sku),
         neutralise(r.title), r.quantity,
         "" if r.average_cost is None else str(r.average_cost),
         "" if r.value is None else str(r.value))
        for r in rows
    ))


def valuation_context(actor: Actor, view: ValuationView) -> dict[str, Any]:
    """Everything the report's page and its results fragment show for `view`."""
    f = view.filters
    summary = valuation.stock_value(actor, store_id=f.store_id, location_id=f.location_id)
    # The summary has counted the entries the page lists: no need to count them again.
    listed = summary.uncosted_entries if f.uncosted else summary.entries
    return {
        "view": view,
        "summary": summary,
        "page": valuation.valuation_page(actor, f, page=view.page, per_page=view.per_page,
                                         total=listed),
        "sort_labels": SORT_LABELS,
        "locations": queries.store_locations(actor, store_id=f.store_id),
        "store_names": {s.id: s.name for s in readable_stores()},
    }
