"""What the Sales channels panel of the Locations page shows: a store's channels, and the
form that adds one with its locations chosen position by position."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.catalog.forms import ChannelForm
from app.permissions import CATALOG
from app.services import channels, queries
from app.web import current_actor

# Positions offered beyond those a channel already uses; never more than the store has.
SPARE_POSITIONS = 2
MIN_POSITIONS = 4


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def positions(chosen: Sequence[str], choices: Sequence[Any]) -> list[tuple[str, str]]:
    """One (label, selected id) per select the form shows: the positions in use, and a few
    empty ones after them, up to the number of locations there are to choose from."""
    count = max(len(chosen), min(len(choices), max(MIN_POSITIONS,
                                                   len(chosen) + SPARE_POSITIONS)))
    return [(ordinal(n + 1), chosen[n] if n < len(chosen) else "") for n in range(count)]


def panel_context(store_id: int | None, form: ChannelForm | None = None) -> dict[str, Any]:
    """The channels panel's values for a store (nothing when no store is chosen)."""
    if store_id is None:
        return {"channels": None}
    actor = current_actor()
    form = form if form is not None else ChannelForm(formdata=None)
    places = queries.store_locations(actor, store_id=store_id)
    return {
        "channels": channels.list_channels(actor, store_id),
        "channel_form": form,
        "channel_places": places,
        "channel_positions": positions(form.locations.data or [], places),
        "can_manage_channels": actor.can(CATALOG, store_id),
    }
