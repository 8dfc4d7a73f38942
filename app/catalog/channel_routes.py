"""Sales channels on the Locations page: a store's channels, adding one, and changing a
channel's name, its locations and their order, and whether it splits lines."""

from __future__ import annotations

from typing import Any

from flask import abort, make_response, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from app.catalog import bp
from app.catalog.channel_panel import panel_context, positions
from app.catalog.forms import ChannelEditForm, ChannelForm, NewLocationForm
from app.catalog.routes import (
    StoreNotChosen,
    _beside,
    _locations_response,
    _require_catalog,
    _store_to_create_in,
)
from app.services import channels, queries
from app.web import current_actor, show_store
from app.web.actions import FormView, finish, flash_oob, run_form, swap
from app.web.htmx import is_htmx, vary_on_htmx


def order_text(codes: Any) -> str:
    """A channel's locations as the page writes them: WAREHOUSE_MAIN → CAFE_COUNTER."""
    return " → ".join(codes) or "no locations"


@bp.post("/channels")
@login_required
def channel_create():  # type: ignore[no-untyped-def]
    """Add a sales channel to the store the page is about (?store=)."""
    form = ChannelForm()
    try:
        store_id = _store_to_create_in()
    except StoreNotChosen as exc:
        abort(400, exc.message)

    def added(created: channels.ChannelRow) -> Response:
        message = (f"Added channel {created.code}, selling from "
                   f"{order_text(created.location_codes)}"
                   f"{' (splits lines)' if created.allow_split else ''}.")
        return finish(message, url_for("catalog.locations", store=store_id) + "#channels",
                      lambda: _channels_response(store_id, ChannelForm(formdata=None), 200,
                                                 flashed=message))

    return run_form(
        form, lambda status, problem=None: _channels_response(store_id, form, status, problem),
        lambda: channels.create_channel(
            actor=current_actor(), store_id=store_id, code=form.code.data or "",
            name=form.name.data or "", location_ids=form.locations.ids,
            allow_split=bool(form.allow_split.data),
        ),
        added, labelled=True,
        refused=_beside(form, "code", lambda: _channels_response(store_id, form, 409),
                        when=lambda exc: "code" in exc.message),
    )


@bp.route("/channels/<int:channel_id>/edit", methods=["GET", "POST"])
@login_required
def channel_edit(channel_id: int):  # type: ignore[no-untyped-def]
    """Change a channel: a dialog under htmx, a page without."""
    actor = current_actor()
    channel = channels.get_channel(actor, channel_id)
    show_store(channel.store_id)
    _require_catalog(channel.store_id)
    form = ChannelEditForm(data=None if request.method == "POST" else {
        "name": channel.name, "allow_split": channel.allow_split,
        "locations": [str(x) for x in channel.location_ids],
    })
    places = queries.store_locations(actor, store_id=channel.store_id)
    title = "Edit sales channel"
    view = FormView("catalog/_channel_form.html", title, context={
        "form": form, "channel": channel, "places": places, "title": title, "problem": None,
        "back": url_for("catalog.locations", store=channel.store_id) + "#channels",
    })

    def render(status: int = 200, problem: str | None = None) -> Response:
        return view.render(status, problem=problem,
                           order_positions=positions(form.locations.data or [], places))

    if request.method == "GET":
        return render()

    def saved(after: channels.ChannelRow) -> Response:
        message = f"Saved channel {after.code}: {_changes(channel, after)}."
        return finish(message, url_for("catalog.locations", store=channel.store_id)
                      + "#channels",
                      lambda: swap(_channels_response(channel.store_id, ChannelForm(
                          formdata=None), 200, flashed=message), "#channels"))

    return run_form(
        form, render,
        lambda: channels.update_channel(
            actor=actor, channel_id=channel_id, name=form.name.data or "",
            location_ids=form.locations.ids, allow_split=bool(form.allow_split.data),
        ),
        saved, labelled=True,
    )


def _changes(before: channels.ChannelRow, after: channels.ChannelRow) -> str:
    """What an edit changed, from → to, in words."""
    said = []
    if before.name != after.name:
        said.append(f"name “{before.name or 'no name'}” → “{after.name or 'no name'}”")
    if before.location_ids != after.location_ids:
        said.append(f"sells from {order_text(after.location_codes)} "
                    f"(was {order_text(before.location_codes)})")
    if before.allow_split != after.allow_split:
        said.append("splits lines" if after.allow_split else "no longer splits lines")
    return "; ".join(said) or "nothing changed"


def _channels_response(store_id: int, form: ChannelForm, status: int,
                       problem: str | None = None, flashed: str | None = None) -> Response:
    """The channels panel for htmx (with the flash), else the whole Locations page."""
    if is_htmx():
        html = render_template("catalog/_channels.html", store_id=store_id,
                               channel_problem=problem, **panel_context(store_id, form))
        if flashed:
            html += flash_oob(flashed)
        return vary_on_htmx(make_response(html, status))
    return _locations_response(store_id, NewLocationForm(formdata=None), status,
                               channel_form=form, channel_problem=problem)
