"""Moving an active reservation to another location of its store, from the entry page that
lists it: a dialog under htmx, a page without."""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app.inventory import bp
from app.inventory.forms import MoveReservationForm
from app.permissions import RESERVE
from app.services import queries, stock
from app.services.errors import InsufficientStock, StockroomError, ValidationError
from app.services.queries import EntryView, ReservationView
from app.web import current_actor, show_store
from app.web.actions import FormView, attach_field_errors, finish, reload_main, run_form


def movable(hold: ReservationView) -> bool:
    """An active hold none of which has shipped: what "Move…" is offered for."""
    return hold.status == "active" and hold.open_quantity == hold.quantity


@bp.route("/inventory/entries/<int:entry_id>/reservations/<int:reservation_id>/move",
          methods=["GET", "POST"])
@login_required
def reservation_move(entry_id: int, reservation_id: int):  # type: ignore[no-untyped-def]
    """Move a reservation held at this entry to the product's entry at another location."""
    actor = current_actor()
    entry = queries.get_entry(actor, entry_id)
    show_store(entry.store_id)
    hold = next((r for r in queries.entry_reservations(actor, entry_id)
                 if r.id == reservation_id and r.status == "active"), None)
    if hold is None:
        abort(404)
    if not actor.can(RESERVE, entry.store_id):
        abort(403)
    targets = _targets(entry)
    form = MoveReservationForm()
    form.location_id.choices = [SelectChoice("", "Choose a location")] + [
        SelectChoice(str(t.location_id), f"{t.location_code} — {t.available_quantity:,} available")
        for t in targets
    ]
    back = url_for("inventory.entry", entry_id=entry_id)
    title = "Move reservation"
    view = FormView("inventory/_move_form.html", title, context={
        "form": form, "entry": entry, "hold": hold, "targets": targets, "title": title,
        "problem": None, "back": back,
    })

    def render(status: int = 200, **changes: Any) -> Response:
        if status != 200:
            # A corrected retry is a new request, not a replay of the refused one.
            form.idempotency_key.data = uuid.uuid4().hex
        return view.render(status, **changes)

    if request.method == "GET":
        form.idempotency_key.data = uuid.uuid4().hex
        return render()

    def move() -> Any:
        raw = (form.location_id.data or "").strip()
        if not raw:
            raise ValidationError({"location_id": "Choose a location."})
        target = next((t for t in targets if str(t.location_id) == raw), None)
        if target is None:
            raise ValidationError({"location_id": "Choose one from the list."})
        return stock.move_reservation(
            actor=actor, reservation_id=reservation_id, location_id=target.location_id,
            reason=(form.reason.data or "").strip() or None,
            idempotency_key=form.idempotency_key.data,
        )

    def refused(exc: StockroomError) -> Response | None:
        if isinstance(exc, InsufficientStock):
            # The location chosen cannot cover the hold: that is what to change, so the
            # message stands beside it as well as at the top, and focus goes there.
            attach_field_errors(form, ValidationError({"location_id": exc.message}))
            return render(409, problem=exc.message)
        return None

    def moved(change: Any) -> Response:
        to_code = next((t.location_code for t in targets
                        if t.location_id == change.entries[1].location_id), "another location")
        message = (f"Moved reservation {reservation_id} (order {hold.order_ref}) from "
                   f"{entry.location_code} to {to_code}.")
        target_page = url_for("inventory.entry", entry_id=change.entries[1].id)
        return finish(message, target_page,
                      lambda: _reload(target_page, message, change.entries[1].id))

    return run_form(form, render, move, moved, refused=refused)


def _targets(entry: EntryView) -> list[EntryView]:
    """The product's entries at the store's other active locations: where a hold can go."""
    active = {loc.id for loc in queries.store_locations(current_actor(),
                                                         store_id=entry.store_id)}
    return [e for e in queries.product_stock(current_actor(), entry.product_id).locations
            if e.location_id != entry.location_id and e.location_id in active]


def _reload(page: str, message: str, entry_id: int) -> Response:
    """Under htmx: the entry page the hold now belongs to, its main part loaded in place."""
    return reload_main(page, message, **{"stock-changed": {"entry": entry_id}})
