"""The Activity page: every change that is not stock, filtered, paged, and exported as CSV."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import abort, make_response, render_template, request
from flask_login import login_required

from app.activity import bp
from app.activity.filters import ActivityPageState, activity_args
from app.clock import utcnow
from app.permissions import AUDIT, Actor
from app.services import activity as activity_reads
from app.services.activity import ActivityView
from app.services.csvfile import neutralise
from app.services.errors import ValidationError
from app.web import current_actor
from app.web.csv import csv_response
from app.web.htmx import vary_on_htmx, wants_fragment

CSV_HEADER = (
    "Time (UTC)", "Store", "What", "Action", "Object type", "Object id", "Object",
    "Changes", "Batch", "Actor", "Actor id", "Event id",
)


def _reader() -> Actor:
    actor = current_actor()
    if not activity_reads.can_read_activity(actor):
        abort(403)
    return actor


@bp.get("/activity")
@login_required
def activity():  # type: ignore[no-untyped-def]
    """The audit trail with its filters; htmx asks for the results alone."""
    actor = _reader()
    state = activity_args(actor, request.args)
    try:
        page = activity_reads.list_activity(
            actor, state.filters, cursor=state.cursor, limit=state.per_page
        )
    except ValidationError as exc:
        # A stale or hand-edited page link: say so and show the first page.
        state = replace(state, cursor=None, errors={**state.errors, **exc.fields})
        page = activity_reads.list_activity(actor, state.filters, limit=state.per_page)
    readable = actor.stores_with(AUDIT)
    context: dict[str, Any] = {
        "view": state,
        "page": page,
        "chips": state.chips(activity_reads.filter_names(actor, state.filters)),
        # Name each row's store only when rows from several stores can appear together.
        "several_stores": state.filters.store_id is None
        and (readable is None or len(readable) > 1),
    }
    status = 422 if state.errors else 200
    if wants_fragment():
        response = make_response(render_template("activity/_results.html", **context), status)
        response.headers["HX-Push-Url"] = state.url()
        return vary_on_htmx(response)
    context["kinds"] = activity_reads.kind_options(actor)
    html = render_template("activity/activity.html", **context)
    return vary_on_htmx(make_response(html, status))


@bp.get("/activity.csv")
@login_required
def activity_csv():  # type: ignore[no-untyped-def]
    """The filtered trail as CSV, streamed so a large export starts at once."""
    actor = _reader()
    state = activity_args(actor, request.args)
    rows = activity_reads.iter_activity(actor, state.filters)
    return csv_response(_export_name(state), CSV_HEADER, map(_csv_row, rows))


def _export_name(state: ActivityPageState) -> str:
    store = f"-store-{state.filters.store_id}" if state.filters.store_id else ""
    return f"stockroom-activity{store}-{utcnow():%Y-%m-%d}.csv"


def _csv_row(a: ActivityView) -> list[Any]:
    changes = "; ".join(f"{c.label}: {c.before} → {c.after}" for c in a.changes)
    return [
        a.created_at.isoformat(sep=" ", timespec="seconds"),
        neutralise(a.store_name),
        neutralise(a.action_label),
        neutralise(a.action),
        a.object_type,
        a.object_id,
        neutralise(a.object_label),
        neutralise(changes),
        neutralise(a.batch_ref),
        neutralise(a.actor_name),
        a.actor_id,
        a.id,
    ]
