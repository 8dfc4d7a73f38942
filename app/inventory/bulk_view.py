"""The bulk actions the overview offers: which form, which permission, which service call,
and how a request names its selection (chosen rows, or every row the filters match)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from app import permissions as perm
from app.inventory import forms
from app.inventory.filters import OverviewView, parse_overview_args
from app.permissions import READ, Actor
from app.services import stock
from app.services.errors import ValidationError
from app.services.stock import BulkPreview, Selection, StockChange
from app.services.validation import ascii_strip, clean_text

# The overview's filters that narrow the selection; sort and paging do not change it.
FILTER_FIELDS = ("store", "location", "status", "max_qty", "q")


@dataclass(frozen=True)
class BulkAction:
    name: str
    label: str
    title: str
    permission: str
    form: type[forms.BulkForm]
    preview: Callable[[Actor, Selection, Any], BulkPreview]
    apply: Callable[[Actor, Selection, Any, str], StockChange]
    describe: Callable[[StockChange], str]
    column: str  # what the preview's before → after columns hold


def _entries(count: int) -> str:
    return f"{count:,} {'entry' if count == 1 else 'entries'}"


BULK_ACTIONS: dict[str, BulkAction] = {
    a.name: a
    for a in (
        BulkAction(
            "adjust", "Adjust stock…", "Adjust stock", perm.ADJUST, forms.BulkAdjustForm,
            lambda actor, chosen, form: stock.preview_bulk_adjust(
                actor=actor, selection=chosen, delta=form.delta.number,
                reason=form.reason.data, reference=clean_text(form.reference.data),
            ),
            lambda actor, chosen, form, key: stock.bulk_adjust(
                actor=actor, selection=chosen, delta=form.delta.number,
                reason=form.reason.data, reference=clean_text(form.reference.data),
                idempotency_key=key,
            ),
            lambda c: (
                f"Adjusted {_entries(c.details['count'])} by {c.details['delta']:+,}: on hand "
                f"{c.details['on_hand_before']:,} → {c.details['on_hand_after']:,} in total."
            ),
            "On hand",
        ),
        BulkAction(
            "threshold", "Set threshold…", "Set low-stock threshold", perm.THRESHOLD,
            forms.BulkThresholdForm,
            lambda actor, chosen, form: stock.preview_bulk_threshold(
                actor=actor, selection=chosen, low_stock_threshold=form.low_stock_threshold.number,
            ),
            lambda actor, chosen, form, key: stock.bulk_threshold(
                actor=actor, selection=chosen,
                low_stock_threshold=form.low_stock_threshold.number, idempotency_key=key,
            ),
            lambda c: (
                f"Low-stock threshold is now {c.details['low_stock_threshold']:,} for "
                f"{_entries(c.details['count'])}."
            ),
            "Threshold",
        ),
    )
}


def offered(actor: Actor) -> list[BulkAction]:
    """The bulk actions the actor may use in at least one store."""
    return [a for a in BULK_ACTIONS.values() if actor.stores_with(a.permission) != frozenset()]


def can_select(actor: Actor, store_id: int) -> bool:
    """Whether a row of this store gets a checkbox: some bulk action is allowed there."""
    return any(actor.can(a.permission, store_id) for a in BULK_ACTIONS.values())


def bulk_bar(actor: Actor, view: OverviewView, total: int, capped: bool = False
             ) -> dict[str, Any]:
    """What the overview's bulk bar needs: the actions on offer, how many entries "all
    matching these filters" would act on, and whether that is more than one bulk action
    takes (then the bar asks for narrower filters instead of offering them all)."""
    actions = offered(actor)
    if not actions or not total:
        return {"bulk_actions": actions, "bulk_total": 0, "bulk_too_many": False}
    readable = actor.stores_with(READ)
    everywhere = all(actor.stores_with(a.permission) in (None, readable) for a in actions)
    if everywhere:
        count, too_many = total, capped or total > stock.MAX_BULK
    else:
        count = stock.count_matching(
            actor, view.filters, *(a.permission for a in actions), limit=stock.MAX_BULK + 1
        )
        too_many = count > stock.MAX_BULK
    return {"bulk_actions": actions, "bulk_total": count, "bulk_too_many": too_many,
            "bulk_max": stock.MAX_BULK}


def read_selection(values: MultiDict[str, str]) -> tuple[Selection, OverviewView]:
    """The selection a request names, and the overview state it came from. Raises
    ValidationError naming `selection`."""
    view = parse_overview_args(values)
    if values.get("scope") == "filter":
        if view.errors:
            # Leaving a bad filter out would widen the selection: refuse instead.
            raise ValidationError({
                "selection": "Some filters were not understood ("
                + ", ".join(view.errors) + "); go back to the overview and filter again."
            })
        return stock.selection(filters=view.filters), view
    ids = []
    for raw in values.getlist("entry"):
        text = ascii_strip(raw)
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            raise ValidationError(
                {"selection": "The selection holds something that is not an entry."}
            )
        ids.append(int(text))
    return stock.selection(entry_ids=ids), view


def selection_fields(chosen: Selection, view: OverviewView) -> list[tuple[str, str]]:
    """Hidden fields that carry the selection (and the overview's filters) to the next
    step."""
    fields = [(k, v) for k, v in view.params(cursor=None).items()
              if k in FILTER_FIELDS or k in ("sort", "dir", "per_page")]
    if chosen.by_filter:
        return [("scope", "filter"), *fields]
    return [("entry", str(i)) for i in chosen.entry_ids] + fields


def describe_selection(
    chosen: Selection, view: OverviewView, size: int | None, names: dict[str, str]
) -> str:
    """The selection in words, for the dialog's heading; `names` holds what the store and
    location filters are called."""
    if not chosen.by_filter:
        return f"{_entries(len(chosen.entry_ids))} selected"
    words = [f"{key.title()}: {names[key]}" for key in ("store", "location") if key in names]
    words += [label for label, _ in view.chips]
    where = f" matching {', '.join(words)}" if words else ""
    counted = _entries(size) if size is not None else "entries"
    return f"All {counted}{where}"
