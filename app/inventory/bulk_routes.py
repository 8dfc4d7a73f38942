"""Bulk work on the overview: choose the values, preview every entry, apply all or none."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import abort, flash, render_template, request, url_for
from flask_login import login_required
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from app.inventory import bp
from app.inventory.bulk_view import (
    BULK_ACTIONS,
    BulkAction,
    describe_selection,
    read_selection,
    selection_fields,
)
from app.inventory.filters import OverviewView, parse_overview_args
from app.inventory.routes import _response, overview_context
from app.services import queries, stock
from app.services.errors import BulkRefused, Conflict, ValidationError
from app.services.stock import BulkPreview, Selection
from app.web import current_actor, readable_stores
from app.web.actions import FormView, attach_field_errors, finish, flash_oob, swap
from app.web.boundary import screen_beyond_form
from app.web.urls import safe_next

# A preview lists this many entries that would change; every problem is always listed.
PREVIEW_ROWS = 500


@bp.route("/inventory/bulk/<action_name>", methods=["GET", "POST"])
@login_required
def bulk_action(action_name: str):  # type: ignore[no-untyped-def]
    """A bulk action on chosen rows or on every row matching the overview's filters:
    the form (GET), its preview (POST step=preview) and applying it (POST step=apply).
    A dialog under htmx, a page without."""
    action = BULK_ACTIONS.get(action_name) or abort(404)
    actor = current_actor()
    values: MultiDict[str, str] = request.form if request.method == "POST" else request.args
    form = action.form()
    if request.method == "POST":
        screen_beyond_form(form)  # the selection and filters travel beside the form
    try:
        chosen, view = read_selection(values)
    except ValidationError as exc:
        return _render(action, form, None, parse_overview_args(values), 422,
                       problem=exc.fields["selection"])

    if request.method == "GET":
        form.idempotency_key.data = uuid.uuid4().hex
        form.next.data = safe_next(request.args.get("next")) or view.url(cursor=None)
        try:
            size = stock.selection_size(actor, chosen, action.permission)
        except ValidationError as exc:
            return _render(action, form, chosen, view, 422, problem=exc.fields.get("selection"))
        return _render(action, form, chosen, view, 200, size=size)

    step = request.form.get("step")
    if not form.validate():
        return _render(action, form, chosen, view, 422)
    if step == "edit":
        return _render(action, form, chosen, view, 200)
    try:
        if step != "apply":
            preview = action.preview(actor, chosen, form)
            status = 409 if preview.problems else 200
            return _render(action, form, chosen, view, status, preview=preview)
        change = action.apply(actor, chosen, form, form.idempotency_key.data)
    except ValidationError as exc:
        fields = {k: v for k, v in exc.fields.items() if k != "selection"}
        if fields:
            attach_field_errors(form, ValidationError(fields))
        return _render(action, form, chosen, view, 422, problem=exc.fields.get("selection"))
    except BulkRefused as exc:
        # Something changed since the preview: show the preview as things stand now.
        form.idempotency_key.data = uuid.uuid4().hex
        preview = action.preview(actor, chosen, form)
        return _render(action, form, chosen, view, 409, preview=preview, problem=exc.message)
    except Conflict as exc:
        return _render(action, form, chosen, view, 409, problem=exc.message)

    message = action.describe(change)
    next_url = safe_next(form.next.data) or url_for("inventory.overview")
    return finish(message, next_url, lambda: _swapped(next_url, message))


def _swapped(next_url: str, message: str) -> Response:
    """What an htmx page gets after bulk work: the overview's rows, or the page it came from."""
    target = urlsplit(next_url)
    if target.path != url_for("inventory.overview"):
        flash(message, "success")
        response = _response("", 200)
        response.headers["HX-Redirect"] = next_url
        return response
    # Back on the overview: the rows the user is looking at, the stats and one flash line.
    state = parse_overview_args(MultiDict(parse_qsl(target.query)))
    html = render_template(
        "inventory/_results.html", oob_stats=True, **overview_context(current_actor(), state)
    ) + flash_oob(message)
    return swap(html, "#results")


def _render(
    action: BulkAction,
    form: Any,
    chosen: Selection | None,
    view: OverviewView,
    status: int,
    *,
    size: int | None = None,
    preview: BulkPreview | None = None,
    problem: str | None = None,
):  # type: ignore[no-untyped-def]
    if chosen is not None and size is None and preview is not None:
        size = preview.count
    context = {
        "action": action,
        "form": form,
        "chosen": chosen,
        "view": view,
        "preview": preview,
        "preview_rows": PREVIEW_ROWS,
        "problem": problem,
        "fields": selection_fields(chosen, view) if chosen is not None else [],
        "described": describe_selection(chosen, view, size, _names(view))
        if chosen is not None else "",
        "back_url": safe_next(form.next.data) or view.url(cursor=None),
    }
    form_view = FormView("inventory/_bulk_form.html", action.title, context,
                         dialog_class="bulk-dialog", panel_class="bulk-panel")
    return form_view.render(status)


def _names(view: OverviewView) -> dict[str, str]:
    names = {}
    f = view.filters
    if f.store_id is not None:
        names["store"] = next(
            (s.name for s in readable_stores() if s.id == f.store_id), f"#{f.store_id}"
        )
    if f.location_id is not None:
        names["location"] = next(
            (loc.code for loc in queries.store_locations(current_actor(), store_id=f.store_id)
             if loc.id == f.location_id), f"#{f.location_id}",
        )
    return names
