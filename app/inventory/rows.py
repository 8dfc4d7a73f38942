"""What each overview row offers, worked out once per store and request rather than per row.

A page of 50 rows would otherwise ask the actor ten permission questions and build ten
URLs per row; the answers only vary by store, and the URLs only by entry id. The actions
cell (a button and a "More" menu of up to eight links) is most of a row's HTML: it is
rendered once per store and page and then filled in with each row's id, SKU and location.
"""

from __future__ import annotations

from flask import current_app, g, url_for
from markupsafe import Markup, escape

from app.inventory import bp
from app.inventory.actions import ACTIONS, ROW_ACTIONS
from app.permissions import ADJUST, THRESHOLD
from app.services.queries import EntryView
from app.web import current_actor

# Placeholder entry id in a URL built once and then filled in per row.
_SLOT = "/entries/0/"
# Stand-ins for the per-row values while an actions cell is rendered. A NUL never reaches the
# HTML otherwise: URLs percent-encode it and the labels are ours.
_ID, _SKU, _CODE = "\x00id\x00", "\x00sku\x00", "\x00code\x00"


def row_actions_for(store_id: int) -> tuple[str, ...]:
    """The row actions the signed-in actor may use on entries of this store, in order."""
    cache: dict[int, tuple[str, ...]] = g.setdefault("_row_actions", {})
    if store_id not in cache:
        actor = current_actor()
        cache[store_id] = tuple(
            name for name in ROW_ACTIONS if actor.can(ACTIONS[name].permission, store_id)
        )
    return cache[store_id]


def row_selectable(store_id: int) -> bool:
    """Whether rows of this store get a checkbox: some bulk action is allowed there."""
    cache: dict[int, bool] = g.setdefault("_row_selectable", {})
    if store_id not in cache:
        actor = current_actor()
        cache[store_id] = actor.can(ADJUST, store_id) or actor.can(THRESHOLD, store_id)
    return cache[store_id]


def entry_action_url(entry_id: int, action_name: str, next_url: str) -> str:
    """url_for('inventory.entry_action', …) for this entry, built once per action."""
    cache: dict[tuple[str, str], str] = g.setdefault("_row_action_urls", {})
    key = (action_name, next_url)
    if key not in cache:
        cache[key] = url_for(
            "inventory.entry_action", entry_id=0, action_name=action_name, next=next_url
        )
    return cache[key].replace(_SLOT, f"/entries/{int(entry_id)}/", 1)


@bp.app_template_global()
def entry_url(entry_id: int) -> str:
    """url_for('inventory.entry', entry_id=…), built once per request."""
    base: str | None = g.get("_entry_url")
    if base is None:
        base = g._entry_url = url_for("inventory.entry", entry_id=0).removesuffix("0")
    return f"{base}{int(entry_id)}"


@bp.app_template_global()
def row_actions_cell(entry: EntryView, next_url: str) -> Markup:
    """The inside of a row's actions cell: its button and "More" menu for this entry."""
    cache: dict[tuple[int, str], str] = g.setdefault("_row_action_cells", {})
    key = (entry.store_id, next_url)
    shape = cache.get(key)
    if shape is None:
        shape = cache[key] = _actions_shape(entry.store_id, next_url)
    return Markup(shape.format(int(entry.id), escape(entry.sku), escape(entry.location_code)))


def _actions_shape(store_id: int, next_url: str) -> str:
    """The actions cell of any entry of this store, as a str.format template of the entry's
    id, SKU and location code (already escaped when they are filled in)."""
    allowed = row_actions_for(store_id)
    urls = {
        name: entry_action_url(0, name, next_url).replace(_SLOT, f"/entries/{_ID}/", 1)
        for name in allowed
    }
    macro = current_app.jinja_env.get_template("inventory/_row.html").module.actions_cell
    html = str(macro(allowed, urls, Markup(_SKU), Markup(_CODE), ACTIONS))
    return (
        html.replace("{", "{{").replace("}", "}}")
        .replace(_ID, "{0}").replace(_SKU, "{1}").replace(_CODE, "{2}")
    )
