"""The audit log: every stock movement, filtered, paged, and exported as CSV."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import abort, make_response, render_template, request
from flask_login import login_required

from app.audit import bp
from app.audit.filters import MovementsView, movement_args
from app.clock import utcnow
from app.permissions import AUDIT, Actor
from app.services.csvfile import neutralise
from app.services.errors import ValidationError
from app.services.queries import movements as movement_reads
from app.services.queries.movements import TYPE_LABELS, MovementView
from app.web import current_actor
from app.web.csv import csv_response
from app.web.htmx import vary_on_htmx, wants_fragment

CSV_HEADER = (
    "Time (UTC)", "Store", "SKU", "Product", "Location", "Type",
    "On hand change", "Reserved change", "On hand after", "Reserved after", "Available after",
    "Reason", "Reference", "Reservation", "Batch", "Actor", "Actor id", "Entry id", "Movement id",
)


def _auditor() -> Actor:
    actor = current_actor()
    if not movement_reads.can_audit(actor):
        abort(403)
    return actor


@bp.get("/movements")
@login_required
def movements():  # type: ignore[no-untyped-def]
    """The audit log with its filters; htmx asks for the results alone."""
    actor = _auditor()
    view = movement_args(actor, request.args)
    try:
        page = movement_reads.list_movements(
            actor, view.filters, cursor=view.cursor, limit=view.per_page
        )
    except ValidationError as exc:
        # A stale or hand-edited page link: say so and show the first page.
        view = replace(view, cursor=None, errors={**view.errors, **exc.fields})
        page = movement_reads.list_movements(actor, view.filters, limit=view.per_page)
    auditable = actor.stores_with(AUDIT)
    context: dict[str, Any] = {
        "view": view,
        "page": page,
        "chips": view.chips(movement_reads.filter_names(actor, view.filters)),
        "type_labels": TYPE_LABELS,
        # Name each row's store only when rows from several stores can appear together.
        "several_stores": view.filters.store_id is None
        and (auditable is None or len(auditable) > 1),
    }
    status = 422 if view.errors else 200
    if wants_fragment():
        response = make_response(render_template("audit/_results.html", **context), status)
        response.headers["HX-Push-Url"] = view.url()
        return vary_on_htmx(response)
    context["stores"] = movement_reads.audit_stores(actor)
    context["locations"] = movement_reads.audit_locations(actor, store_id=view.filters.store_id)
    html = render_template("audit/movements.html", **context)
    return vary_on_htmx(make_response(html, status))


@bp.get("/movements.csv")
@login_required
def movements_csv():  # type: ignore[no-untyped-def]
    """The filtered audit log as CSV, streamed so a large export starts at once."""
    actor = _auditor()
    view = movement_args(actor, request.args)
    rows = movement_reads.iter_movements_csv(actor, view.filters)
    return csv_response(_export_name(view), CSV_HEADER, map(_csv_row, rows))


def _export_name(view: MovementsView) -> str:
    store = f"-store-{view.filters.store_id}" if view.filters.store_id else ""
    return f"stockroom-movements{store}-{utcnow():%Y-%m-%d}.csv"


def _csv_row(m: MovementView) -> list[Any]:
    return [
        m.created_at.isoformat(sep=" ", timespec="seconds"),
        neutralise(m.store_name),
        neutralise(m.sku),
        neutralise(m.title),
        neutralise(m.location_code),
        m.type,
        m.quantity_delta,
        m.reserved_delta,
        m.quantity_after,
        m.reserved_after,
        m.available_after,
        neutralise(m.reason),
        neutralise(m.reference),
        m.reservation_id,
        neutralise(m.batch_ref),
        neutralise(m.actor_name),
        m.actor_id,
        m.entry_id,
        m.id,
    ]
