"""Inventory screens: overview, stock actions, entry and product pages (the reports are in
report_routes.py)."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from flask import (
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.clock import utcnow
from app.inventory import bp
from app.inventory.actions import ACTIONS, ROW_ACTIONS, StockAction, row_note
from app.inventory.bulk_view import bulk_bar
from app.inventory.filters import OverviewView, overview_args
from app.inventory.report_routes import report_total
from app.inventory.report_view import report_at
from app.inventory.rows import rows_of_page, without_row_selection
from app.permissions import ADJUST, PURCHASING, Actor
from app.services import activity, export, items, purchasing, queries
from app.services.errors import (
    BelowReserved,
    ExceedsFulfilled,
    ExceedsReserved,
    InsufficientStock,
    QuantityTooLarge,
    StaleStock,
    StockroomError,
    ValidationError,
)
from app.services.queries import EntryView, movements
from app.web import current_actor, show_store
from app.web.actions import FormView, attach_field_errors, finish, run_form, swap
from app.web.charts import CHART_DAYS, DEFAULT_CHART_DAYS, stock_charts
from app.web.csv import csv_response
from app.web.htmx import is_htmx, trigger, vary_on_htmx, wants_fragment
from app.web.urls import next_from_request, safe_next


@bp.get("/")
@login_required
def home():  # type: ignore[no-untyped-def]
    """The overview is the home page."""
    return redirect(url_for("inventory.overview"))


@bp.get("/inventory")
@login_required
def overview():  # type: ignore[no-untyped-def]
    """Stats, filters and the entries table; htmx asks for the results alone."""
    actor = current_actor()
    fragment = wants_fragment()
    # Turning a page, sorting or searching leaves the stats cards and the location list as
    # they are: only a change of store (or a stock change, which asks for the stats itself)
    # needs them again, and at a million entries the stats cost more than the page.
    summary = not fragment or _store_changed()
    context = overview_context(actor, overview_args(actor, request.args), summary=summary)
    view = context["view"]
    status = 422 if view.errors else 200
    if fragment:
        html = render_template("inventory/_results.html", oob_stats=summary, **context)
        response = _response(html, status)
        response.headers["HX-Push-Url"] = view.url()
        return vary_on_htmx(response)
    return vary_on_htmx(_response(render_template("inventory/overview.html", **context), status))


@bp.get("/inventory/keys")
@login_required
def keys_help():  # type: ignore[no-untyped-def]
    """The keyboard shortcuts' dialog, which app.js fetches the first time "?" is pressed on
    a page instead of every page carrying it. The same for everyone, so the browser may keep
    it for an hour."""
    response = make_response(render_template("_keys_help.html"))
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/inventory/scan")
@login_required
def scan():  # type: ignore[no-untyped-def]
    """What a scanner's Enter asks for: an exact SKU or GTIN of one entry in the overview's
    store and location opens that entry (its page, or its Adjust form when the user chose
    that and may adjust there); of several, the overview lists them; a location's
    code sets the location filter; anything else is an ordinary search."""
    actor = current_actor()
    view = overview_args(actor, request.args)
    target = _scan_target(actor, view)
    if isinstance(target, EntryView):
        if current_user.scan_opens != "adjust" or not actor.can(ADJUST, target.store_id):
            target = url_for("inventory.entry", entry_id=target.id)
        elif is_htmx():
            # The overview stays, showing the scanned entry, and its Adjust form opens in
            # the dialog over it (static/app.js hears open-dialog), as from the row's link.
            context = overview_context(actor, view, summary=False)
            html = render_template("inventory/_results.html", oob_stats=False, **context)
            response = _response(html, 200)
            response.headers["HX-Push-Url"] = view.url()
            adjust = url_for("inventory.entry_action", entry_id=target.id, action_name="adjust")
            return vary_on_htmx(trigger(response, **{"open-dialog": {"url": adjust}}))
        else:
            # Without JavaScript the form is a page of its own, and applying it comes back
            # to the overview showing what was scanned.
            return redirect(url_for("inventory.entry_action", entry_id=target.id,
                                    action_name="adjust", next=view.url()), code=303)
    if isinstance(target, str):
        if is_htmx():
            response = _response("", 200)
            response.headers["HX-Redirect"] = target
            return response
        return redirect(target, code=303)
    if not is_htmx():
        if target.errors:
            context = overview_context(actor, target)
            return _response(render_template("inventory/overview.html", **context), 422)
        return redirect(target.url(), code=303)
    context = overview_context(actor, target, summary=False)
    html = render_template("inventory/_results.html", oob_stats=False, **context)
    response = _response(html, 422 if target.errors else 200)
    response.headers["HX-Push-Url"] = target.url()
    return vary_on_htmx(response)


def _scan_target(actor: Actor, view: OverviewView) -> EntryView | OverviewView:
    """Where a scan of the overview's search term leads: the one entry it names, or the
    overview's state to show."""
    code = view.filters.search
    if not code or view.errors:
        return view
    found = queries.find_exact(actor, code, limit=2, store_id=view.filters.store_id,
                               location_id=view.filters.location_id)
    if len(found) == 1:
        return found[0]
    if found:
        return view
    places = queries.find_location_code(actor, code, store_id=view.filters.store_id)
    if len(places) == 1:
        filters = replace(view.filters, location_id=places[0].id, search=None)
        return replace(view, filters=filters, cursor=None)
    return view


# The overview counts matching entries up to this many and then says "10,000+": an exact
# count of a million rows costs more than the page itself, and nobody pages that far.
COUNT_LIMIT = 10_000
# Counting items means testing each for a matching entry: the grouped overview stops sooner.
GROUP_COUNT_LIMIT = 1_000


def _store_changed() -> bool:
    """Whether an htmx request asks for another store than the page it came from shows."""
    current = request.headers.get("HX-Current-URL")
    if not current:
        return True
    before = parse_qs(urlsplit(current).query).get("store", [""])[0]
    return before.strip() != (request.args.get("store") or "").strip()


def overview_context(actor: Actor, view: OverviewView, *, summary: bool = True
                     ) -> dict[str, Any]:
    """Everything the overview page and its results fragment show for `view`; without
    `summary`, not the stats cards and the location list."""
    if view.group:
        return _grouped_context(actor, view, summary=summary)
    try:
        page = queries.list_entries(actor, view.filters, cursor=view.cursor, limit=view.per_page,
                                    count_limit=COUNT_LIMIT)
    except ValidationError as exc:
        # A stale or forged page link: say so and show the first page instead.
        view = replace(view, cursor=None, errors={**view.errors, **exc.fields})
        page = queries.list_entries(actor, view.filters, limit=view.per_page,
                                    count_limit=COUNT_LIMIT)
    exact = queries.find_exact(actor, view.filters.search) if view.filters.search else []
    return {
        "view": view,
        "page": page,
        "exact": exact,
        "search_mode": queries.search_mode(view.filters.search) if view.filters.search else None,
        "row_actions": ROW_ACTIONS,
        "actions": ACTIONS,
        **({
            **_stats(actor, view.filters.store_id),
            "locations": queries.store_locations(actor, store_id=view.filters.store_id),
        } if summary else {}),
        **bulk_bar(actor, view, page.total, page.total_capped),
    }


def _grouped_context(actor: Actor, view: OverviewView, *, summary: bool) -> dict[str, Any]:
    """The overview grouped by item: a page of items with their roll-ups; each item's
    entries come when it is expanded (item_rows). No bulk bar: it acts on entry rows."""
    try:
        groups = queries.item_groups(actor, view.filters, cursor=view.cursor,
                                     limit=view.per_page, count_limit=GROUP_COUNT_LIMIT)
    except ValidationError as exc:
        view = replace(view, cursor=None, errors={**view.errors, **exc.fields})
        groups = queries.item_groups(actor, view.filters, limit=view.per_page,
                                     count_limit=GROUP_COUNT_LIMIT)
    return {
        "view": view,
        "page": groups,
        "groups": groups,
        "exact": [],
        "search_mode": queries.search_mode(view.filters.search) if view.filters.search else None,
        "row_actions": ROW_ACTIONS,
        "actions": ACTIONS,
        **({
            **_stats(actor, view.filters.store_id),
            "locations": queries.store_locations(actor, store_id=view.filters.store_id),
        } if summary else {}),
        "bulk_actions": [],
    }


# As many of one item's entries as an expanded group shows; more are a link to the list.
GROUP_ROWS = 200


@bp.get("/inventory/items/<int:item_id>/rows")
@login_required
def item_rows(item_id: int):  # type: ignore[no-untyped-def]
    """One item's entries under the overview's filters, as the rows an expanded group of
    the grouped overview shows; without JavaScript, the overview filtered to the item."""
    actor = current_actor()
    view = overview_args(actor, request.args)
    queries.item_title(actor, item_id)  # NotFound for an item the reader cannot see
    flat = replace(view, filters=replace(view.filters, item_id=item_id), group=False,
                   cursor=None, errors={})
    if not is_htmx():
        return redirect(flat.url(), code=303)
    page = queries.list_entries(actor, flat.filters, limit=GROUP_ROWS)
    without_row_selection()
    html = render_template("inventory/_group_rows.html", item_id=item_id, page=page,
                           flat=flat, limit=GROUP_ROWS)
    return vary_on_htmx(_response(html, 200))


@bp.get("/inventory.csv")
@login_required
def export_csv():  # type: ignore[no-untyped-def]
    """The overview's entries as CSV, every page of them, streamed so a large export
    starts at once; the same filters, order and stores as the overview."""
    actor = current_actor()
    view = overview_args(actor, request.args)
    if view.errors:
        # A filter left out would export more than the user asked for.
        raise ValidationError(dict(view.errors))
    rows = export.iter_entries_csv(actor, view.filters)
    return csv_response(_export_name(view), export.CSV_COLUMNS,
                        (row.cells() for row in rows))


def _export_name(view: OverviewView) -> str:
    store = f"-store-{view.filters.store_id}" if view.filters.store_id else ""
    return f"stockroom-inventory{store}-{utcnow():%Y-%m-%d}.csv"


@bp.get("/inventory/stats")
@login_required
def stats():  # type: ignore[no-untyped-def]
    """The stats cards, refreshed after every stock change."""
    actor = current_actor()
    view = overview_args(actor, request.args)
    return render_template("inventory/_stats.html", view=view,
                           **_stats(actor, view.filters.store_id))


def _stats(actor: Actor, store_id: int | None) -> dict[str, Any]:
    """The stats cards' figures, and the stock value for those who may see it."""
    numbers = queries.stock_stats(actor, store_id=store_id)
    return {"stats": numbers, "stock_value": queries.valuation.overview_value(
        actor, store_id, entries=numbers["total_entries"])}


@bp.get("/inventory/entries/<int:entry_id>")
@login_required
def entry(entry_id: int):  # type: ignore[no-untyped-def]
    """One entry: quantities, reservations, a chart of its stock and its movement history;
    htmx paging through the history asks for that section alone."""
    actor = current_actor()
    view = queries.get_entry(actor, entry_id)
    show_store(view.store_id)
    cursor = (request.args.get("cursor") or "").strip() or None
    history = movements.entry_history(actor, entry_id, cursor=cursor)
    days = request.args.get("days", type=int)
    days = days if days in CHART_DAYS else DEFAULT_CHART_DAYS
    context: dict[str, Any] = {"entry": view, "history": history, "days": days}
    if wants_fragment() and request.headers.get("HX-Target") == "history":
        return vary_on_htmx(make_response(render_template("inventory/_history.html", **context)))
    now = utcnow()
    since = now - timedelta(days=days)
    html = render_template(
        "inventory/entry.html",
        reservations=queries.entry_reservations(actor, entry_id),
        actions=ACTIONS,
        row_actions=ROW_ACTIONS,
        charts=stock_charts(movements.entry_series(actor, entry_id, since), since, now),
        chart_days=CHART_DAYS,
        changes=activity.entry_changes(actor, entry_id),
        **context,
    )
    return vary_on_htmx(make_response(html))


@bp.get("/inventory/entries/<int:entry_id>/row")
@login_required
def entry_row(entry_id: int):  # type: ignore[no-untyped-def]
    """A single table row, for re-rendering after a change."""
    rows_of_page(next_from_request())
    return render_template(
        "inventory/_row.html", entry=queries.get_entry(current_actor(), entry_id)
    )


@bp.route("/inventory/entries/<int:entry_id>/<action_name>", methods=["GET", "POST"])
@login_required
def entry_action(entry_id: int, action_name: str):  # type: ignore[no-untyped-def]
    """Show a stock action's form (a dialog under htmx, a page without), and apply it."""
    action = ACTIONS.get(action_name) or abort(404)
    actor = current_actor()
    entry = queries.get_entry(actor, entry_id)
    show_store(entry.store_id)
    if not actor.can(action.permission, entry.store_id):
        abort(403)
    form = action.form()
    _offer_choices(action, form, entry)
    view = FormView("inventory/_action_form.html", action.title,
                    context={"action": action, "form": form, "entry": entry, "problem": None})

    def render(status: int = 200, **changes: Any) -> Response:
        if status != 200:
            # Every submission gets a fresh key, so a corrected retry is a new request.
            form.idempotency_key.data = uuid.uuid4().hex
        return view.render(status, **changes)

    if request.method == "GET":
        form.idempotency_key.data = uuid.uuid4().hex
        form.next.data = next_from_request() or ""
        if hasattr(form, "expected_version"):
            form.expected_version.data = str(entry.version)
        return render()

    def refused(exc: StockroomError) -> Response | None:
        if isinstance(exc, StaleStock):
            # Show the value as it is now and let the user apply again against it.
            form.expected_version.data = str(exc.version)
            fresh = queries.get_entry(actor, entry_id)
            return render(409, entry=fresh, problem=exc.message)
        if isinstance(exc, (InsufficientStock, ExceedsReserved, BelowReserved,
                            ExceedsFulfilled, QuantityTooLarge)):
            # More (or less) than there is: the quantity the user typed is what to change,
            # so the message stands beside it as well as at the top, and focus goes there.
            attach_field_errors(form, ValidationError({action.quantity_field: exc.message}))
            return render(409, problem=exc.message)
        return None

    return run_form(
        form, render, lambda: action.apply(actor, entry, form, form.idempotency_key.data),
        lambda change: _applied(action, entry, change, form.next.data), refused=refused,
    )


def _applied(action: StockAction, entry: EntryView, change: Any, next_field: str | None
             ) -> Response:
    """After a stock action: a flash and a redirect for a plain post; under htmx, the
    overview's row (or the page the dialog was opened from) and the stats told."""
    entry_id = entry.id
    message = action.describe(entry, change)
    next_url = safe_next(next_field) or url_for("inventory.overview")
    if action.name == "delete" and urlsplit(next_url).path == url_for(
        "inventory.entry", entry_id=entry_id
    ):
        # The entry's own page is gone with it: its product's page lists what is left.
        next_url = url_for("inventory.product", product_id=entry.product_id)
    return finish(message, next_url, lambda: _swapped(action, entry, change, next_url, message))


def _swapped(action: StockAction, entry: EntryView, change: Any, next_url: str,
             message: str) -> Response:
    """What an htmx page swaps after a stock action, with the stats told it changed."""
    changed = {"stock-changed": {"entry": entry.id}}
    path = urlsplit(next_url).path
    report = report_at(path)
    if path != url_for("inventory.overview") and report is None:
        # Opened from the entry's or its product's page: that page shows the quantities,
        # totals and history the change moved, so it is loaded again (its main part), with
        # the message. Only the overview and the entry reports have a row to swap.
        flash(message, "success")
        response = _response("", 200)
        response.headers["HX-Location"] = json.dumps(
            {"path": next_url, "target": "#main", "select": "#main", "swap": "outerHTML"}
        )
        return trigger(response, **changed, **{"close-dialog": True})
    if action.name == "delete":
        html = render_template("_flashes.html", oob=True, messages=[("success", message)])
        return swap(html, f"#entry-{entry.id}", how="delete", **changed)
    rows_of_page(next_url)
    actor = current_actor()
    html = render_template(
        "inventory/_report_row_update.html" if report else "inventory/_row_update.html",
        report=report,
        page=report_total(actor, report, urlsplit(next_url).query) if report else None,
        entry=queries.get_entry(actor, entry.id),
        # The reorder report's row is its line as it is now: None when no longer due.
        line=queries.reorder_suggestion(actor, entry.id) if report and report.suggests
        else None,
        ordering=actor.can(PURCHASING, entry.store_id),
        messages=[("success", message)],
        row_note=row_note(action, entry, change),
    ) + (_group_update(actor, entry, next_url) if report is None else "")
    return swap(html, f"#entry-{entry.id}", **changed)


def _group_update(actor: Actor, entry: EntryView, next_url: str) -> str:
    """On the overview grouped by item, the row of the item the changed entry belongs to,
    summed again under the page's filters and sent out of band, still expanded; "" on the
    flat overview, or when the page's filters are not understood or no longer match."""
    query = MultiDict(parse_qsl(urlsplit(next_url).query, keep_blank_values=True))
    if not query.get("group"):
        return ""
    view = overview_args(actor, query)
    variant_of = items.item_of(actor, entry.product_id)
    if view.errors or not view.group or variant_of is None:
        return ""
    found = queries.item_groups(actor, replace(view.filters, item_id=variant_of.item_id), limit=1)
    if not found.rows:
        return ""
    # A table row stands alone in the response only inside a template element.
    return render_template("inventory/_group_update.html", g=found.rows[0], view=view)


@bp.get("/products/<int:product_id>")
@login_required
def product(product_id: int):  # type: ignore[no-untyped-def]
    """A product's stock in every location, with totals, and its latest changes."""
    actor = current_actor()
    stock = queries.product_stock(actor, product_id)
    show_store(stock.store_id)
    changes = activity.product_changes(actor, product_id)
    # Who sells it, and at what: for those who buy in its store (costs are theirs to see).
    suppliers = (purchasing.product_suppliers(actor, product_id)
                 if actor.can(PURCHASING, stock.store_id) and not stock.unlimited else None)
    return render_template("inventory/product.html", product=stock, changes=changes,
                           variant_of=items.item_of(actor, product_id), suppliers=suppliers,
                           value=queries.valuation.product_value(actor, product_id))


def _offer_choices(action: StockAction, form: Any, entry: EntryView) -> None:
    actor = current_actor()
    if action.name in ("release", "fulfill"):
        holds = [r for r in queries.entry_reservations(actor, entry.id) if r.status == "active"]
        form.reservation_id.choices = [SelectChoice("", "Oldest reservations first")] + [
            SelectChoice(str(r.id), f"{r.order_ref}{' / ' + r.line_ref if r.line_ref else ''}: "
                                    f"{r.open_quantity:,} held")
            for r in holds
        ]
    elif action.name == "transfer":
        form.to_location_id.choices = [SelectChoice("", "Choose a location")] + [
            SelectChoice(str(loc.id), loc.code)
            for loc in queries.store_locations(actor, store_id=entry.store_id)
            if loc.id != entry.location_id
        ]


def _response(html: str, status: int):  # type: ignore[no-untyped-def]
    return make_response(html, status)
