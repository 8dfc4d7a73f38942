"""The Webhooks screens: a store's endpoints (add, change, turn off and on, new secret,
remove) and each one's delivery log with Redeliver. For whoever holds webhooks:manage in
the store: its owners and admins."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from app.models import EVENT_TYPES, Store
from app.permissions import WEBHOOKS
from app.services import webhooks
from app.services.errors import NotFound, PermissionDenied, ValidationError
from app.services.validation import ascii_strip, parse_id
from app.web import current_actor, readable_stores, show_store
from app.web.forms import Form

from . import bp

EVENT_LABELS = {
    "stock.changed": "Stock changed (every ledger row)",
    "stock.low": "Stock low (crossed to its threshold)",
    "stock.out": "Out of stock",
    "stock.back_in_stock": "Back in stock",
    "reservation.expired": "Reservation expired",
    "purchase_order.ordered": "Purchase order placed",
    "purchase_order.received": "Purchase order received",
    "purchase_order.cancelled": "Purchase order cancelled",
}


class ActionForm(Form):
    """CSRF only: the buttons of the endpoint's page."""


def _policy() -> webhooks.Policy:
    return webhooks.policy_from(current_app.config)


def _hook_stores() -> list[Store]:
    actor = current_actor()
    return [s for s in readable_stores() if actor.can(WEBHOOKS, s.id)]


def _store() -> Store | None:
    """?store=ID, else the user's only store with webhooks; None: the page asks which."""
    raw = ascii_strip(request.args.get("store") or request.form.get("store") or "")
    choices = _hook_stores()
    if raw:
        store_id = parse_id(raw)
        store = next((s for s in readable_stores() if s.id == store_id), None)
        if store is None:
            abort(404)
        if store not in choices:
            abort(403)
        show_store(store.id)
        return store
    if len(choices) == 1:
        show_store(choices[0].id)
        return choices[0]
    if not choices:
        abort(403)
    return None


def _form_values() -> dict[str, Any]:
    return {
        "url": request.form.get("url", ""),
        "description": request.form.get("description", ""),
        "event_types": request.form.getlist("event_types"),
    }


def _list(store: Store, *, status: int = 200, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, created: Any = None,
          secret: str | None = None):  # type: ignore[no-untyped-def]
    html = render_template(
        "hooks/list.html", store=store,
        endpoints=webhooks.list_endpoints(current_actor(), store.id),
        values=values or {"url": "", "description": "", "event_types": []},
        errors=errors or {}, event_labels=EVENT_LABELS, event_types=EVENT_TYPES,
        created=created, secret=secret, form=ActionForm(),
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.get("")
@login_required
def endpoints_page():  # type: ignore[no-untyped-def]
    store = _store()
    if store is None:
        return render_template("hooks/choose_store.html", stores=_hook_stores())
    return _list(store)


@bp.post("")
@login_required
def create():  # type: ignore[no-untyped-def]
    store = _store()
    if store is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        return _list(store, status=400)
    values = _form_values()
    try:
        endpoint, secret = webhooks.create_endpoint(current_actor(), store.id,
                                                    policy=_policy(), **values)
    except ValidationError as exc:
        return _list(store, status=422, values=values, errors=exc.fields)
    # Rendered, not redirected: the secret is shown this once and kept nowhere readable.
    return _list(store, status=201, created=endpoint, secret=secret)


def _endpoint(endpoint_id: int) -> webhooks.EndpointView:
    try:
        endpoint = webhooks.get_endpoint(current_actor(), endpoint_id)
    except NotFound:
        abort(404)
    except PermissionDenied:
        abort(403)
    show_store(endpoint.store_id)
    return endpoint


def _detail(endpoint: webhooks.EndpointView, *, status: int = 200,
            values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
            secret: str | None = None, confirm_delete: bool = False):  # type: ignore[no-untyped-def]
    raw = request.args.get("before")
    before = parse_id(raw) if raw else None
    if raw and before is None:
        abort(404)
    log, older = webhooks.delivery_log(current_actor(), endpoint.id, before=before)
    html = render_template(
        "hooks/endpoint.html", endpoint=endpoint, log=log, older=older,
        values=values or {"url": endpoint.url, "description": endpoint.description,
                          "event_types": list(endpoint.event_types)},
        errors=errors or {}, event_labels=EVENT_LABELS, event_types=EVENT_TYPES,
        secret=secret, form=ActionForm(), confirm_delete=confirm_delete,
        store=next((s for s in readable_stores() if s.id == endpoint.store_id), None),
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.get("/<int:endpoint_id>")
@login_required
def endpoint_page(endpoint_id: int):  # type: ignore[no-untyped-def]
    return _detail(_endpoint(endpoint_id))


@bp.post("/<int:endpoint_id>")
@login_required
def update(endpoint_id: int):  # type: ignore[no-untyped-def]
    endpoint = _endpoint(endpoint_id)
    if not ActionForm().validate_on_submit():
        return _detail(endpoint, status=400)
    values = _form_values()
    try:
        webhooks.update_endpoint(current_actor(), endpoint.id, policy=_policy(), **values)
    except ValidationError as exc:
        return _detail(endpoint, status=422, values=values, errors=exc.fields)
    flash("Saved the webhook.", "success")
    return redirect(url_for("hooks.endpoint_page", endpoint_id=endpoint.id), code=303)


@bp.post("/<int:endpoint_id>/<any(enable, disable, rotate, delete):action>")
@login_required
def endpoint_action(endpoint_id: int, action: str):  # type: ignore[no-untyped-def]
    endpoint = _endpoint(endpoint_id)
    if not ActionForm().validate_on_submit():
        return _detail(endpoint, status=400)
    actor = current_actor()
    if action == "rotate":
        endpoint, secret = webhooks.rotate_secret(actor, endpoint.id)
        return _detail(endpoint, secret=secret)
    if action == "delete":
        webhooks.delete_endpoint(actor, endpoint.id)
        flash(f"Removed the webhook to {endpoint.url}.", "success")
        return redirect(url_for("hooks.endpoints_page", store=endpoint.store_id), code=303)
    webhooks.set_enabled(actor, endpoint.id, action == "enable")
    flash("Turned the webhook on: what waited is sent next." if action == "enable"
          else "Turned the webhook off: events wait for it.", "success")
    return redirect(url_for("hooks.endpoint_page", endpoint_id=endpoint.id), code=303)


@bp.get("/<int:endpoint_id>/delete")
@login_required
def confirm_delete(endpoint_id: int):  # type: ignore[no-untyped-def]
    """Ask before removing: its delivery log goes with it."""
    return _detail(_endpoint(endpoint_id), confirm_delete=True)


@bp.post("/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
@login_required
def redeliver(endpoint_id: int, delivery_id: int):  # type: ignore[no-untyped-def]
    endpoint = _endpoint(endpoint_id)
    if not ActionForm().validate_on_submit():
        return _detail(endpoint, status=400)
    try:
        sent = webhooks.redeliver(current_actor(), delivery_id)
    except NotFound:
        abort(404)
    flash(f"{sent.event_id} goes again with the next run, within the minute.", "success")
    return redirect(url_for("hooks.endpoint_page", endpoint_id=endpoint.id), code=303)
