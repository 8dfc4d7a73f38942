"""What each overview row offers, worked out once per store and request rather than per row.

A page of 50 rows would otherwise ask the actor ten permission questions and build ten
URLs per row; the answers only vary by store, and the URLs only by entry id.
"""

from __future__ import annotations

from flask import g, url_for

from app.inventory.actions import ACTIONS, ROW_ACTIONS
from app.permissions import ADJUST, THRESHOLD
from app.web import current_actor

# Placeholder entry id in a URL built once and then filled in per row.
_SLOT = "/entries/0/"


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
