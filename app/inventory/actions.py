"""The stock actions a row offers: which form, which permission, which service call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app import permissions as perm
from app.inventory import forms
from app.permissions import Actor
from app.services import queries, stock
from app.services.errors import NotFound, ValidationError
from app.services.queries import EntryView
from app.services.stock import StockChange
from app.services.validation import ascii_strip, clean_text
from app.web import current_actor


@dataclass(frozen=True)
class StockAction:
    name: str
    label: str
    title: str
    permission: str
    form: type[forms.ActionForm]
    apply: Callable[[Actor, EntryView, forms.ActionForm, str], StockChange]
    describe: Callable[[EntryView, StockChange], str]
    submit: str
    destructive: bool = False
    # The field that says how much: "more than there is" errors stand beside it.
    quantity_field: str = "quantity"


def _version(form: forms.ActionForm) -> int | None:
    raw = ascii_strip(form.expected_version.data or "")  # type: ignore[attr-defined]
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        raise ValidationError({"expected_version": "Reload the entry and try again."})
    return int(raw)


def _choice(value: str | None, field: str) -> int | None:
    raw = ascii_strip(value or "")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12 or not int(raw):
        raise ValidationError({field: "Choose one from the list."})
    return int(raw)


def _on_hand(entry: EntryView, change: StockChange) -> str:
    return f"on hand {entry.quantity:,} → {change.entry.quantity:,}"


def _available(entry: EntryView, change: StockChange) -> str:
    return f"available {entry.available_quantity:,} → {change.entry.available_quantity:,}"


def _where(entry: EntryView) -> str:
    return f"{entry.title} ({entry.sku}) at {entry.location_code}"


def _adjust(actor: Actor, entry: EntryView, form: Any, key: str) -> StockChange:
    return stock.adjust_stock(
        actor=actor, entry_id=entry.id, delta=form.delta.number, reason=form.reason.data,
        reference=clean_text(form.reference.data), idempotency_key=key,
    )


def _set(actor: Actor, entry: EntryView, form: Any, key: str) -> StockChange:
    return stock.set_stock(
        actor=actor, entry_id=entry.id, quantity=form.quantity.number,
        reason=clean_text(form.reason.data), expected_version=_version(form), idempotency_key=key,
    )


def _count(actor: Actor, entry: EntryView, form: Any, key: str) -> StockChange:
    return stock.count_stock(
        actor=actor, entry_id=entry.id, counted_quantity=form.counted_quantity.number,
        reason=clean_text(form.reason.data), expected_version=_version(form), idempotency_key=key,
    )


def _reserve(actor: Actor, entry: EntryView, form: Any, key: str) -> StockChange:
    minutes = form.hold_minutes.number
    return stock.reserve_stock(
        actor=actor, entry_id=entry.id, quantity=form.quantity.number,
        order_ref=form.order_ref.data, line_ref=clean_text(form.line_ref.data),
        # A while, not a moment: a repeat of this post replays instead of being refused.
        expires_in_seconds=minutes * 60 if minutes else None,
        idempotency_key=key,
    )


def _closer(service: Callable[..., StockChange]) -> Callable[..., StockChange]:
    def apply(actor: Actor, entry: EntryView, form: Any, key: str) -> StockChange:
        reservation_id = _choice(form.reservation_id.data, "reservation_id")
        if reservation_id is not None and reservation_id not in {
            r.id for r in queries.entry_reservations(actor, entry.id)
        }:
            # The service would close any hold in the store; this dialog is about one entry.
            raise NotFound("Reservation not found.")
        return service(
            actor=actor,
            entry_id=None if reservation_id else entry.id,
            reservation_id=reservation_id,
            quantity=form.quantity.number,
            reason=clean_text(form.reason.data),
            idempotency_key=key,
        )

    return apply


def _return(actor: Actor, entry: EntryView, form: Any, key: str) -> StockChange:
    return stock.return_stock(
        actor=actor, entry_id=entry.id, quantity=form.quantity.number, reason=form.reason.data,
        reference=clean_text(form.reference.data), idempotency_key=key,
    )


def _transfer(actor: Actor, entry: EntryView, form: Any, key: str) -> StockChange:
    target = _choice(form.to_location_id.data, "to_location_id")
    if target is None:
        raise ValidationError({"to_location_id": "Choose where the stock goes."})
    return stock.transfer_stock(
        actor=actor, product_id=entry.product_id, from_location_id=entry.location_id,
        to_location_id=target, quantity=form.quantity.number, reason=clean_text(form.reason.data),
        idempotency_key=key,
    )


def _threshold(actor: Actor, entry: EntryView, form: Any, key: str) -> StockChange:
    return stock.set_threshold(
        actor=actor, entry_id=entry.id, low_stock_threshold=form.low_stock_threshold.number,
        idempotency_key=key,
    )


def _delete(actor: Actor, entry: EntryView, form: Any, key: str) -> StockChange:
    return stock.delete_entry(
        actor=actor, entry_id=entry.id, reason=clean_text(form.reason.data), idempotency_key=key
    )


def _transferred(entry: EntryView, change: StockChange) -> str:
    target = change.entries[1].location_id if len(change.entries) > 1 else None
    code = next((loc.code for loc in queries.store_locations(
        current_actor(), store_id=entry.store_id) if loc.id == target), None)
    moved = entry.quantity - change.entry.quantity
    return (f"Transferred {moved:,} of {entry.title} ({entry.sku}) from {entry.location_code} "
            f"to {code or 'the other location'}: {_on_hand(entry, change)}, "
            f"{_available(entry, change)} at {entry.location_code}.")


def _moved(verb: str) -> Callable[[EntryView, StockChange], str]:
    def describe(entry: EntryView, change: StockChange) -> str:
        return f"{verb} {_where(entry)}: {_on_hand(entry, change)}, {_available(entry, change)}."

    return describe


ACTIONS: dict[str, StockAction] = {
    a.name: a
    for a in (
        StockAction("adjust", "Adjust", "Adjust stock", perm.ADJUST, forms.AdjustStockForm,
                    _adjust, _moved("Adjusted"), "Apply adjustment", quantity_field="delta"),
        StockAction("set", "Set", "Set on hand", perm.ADJUST, forms.SetStockForm, _set,
                    _moved("Set"), "Set quantity"),
        StockAction("count", "Count", "Record a count", perm.ADJUST, forms.CountStockForm,
                    _count, _moved("Counted"), "Record count",
                    quantity_field="counted_quantity"),
        StockAction("reserve", "Reserve", "Reserve stock", perm.RESERVE,
                    forms.ReserveStockForm, _reserve, _moved("Reserved"), "Reserve"),
        StockAction("release", "Release", "Release a reservation", perm.RESERVE,
                    forms.CloseHoldForm, _closer(stock.release_stock), _moved("Released"),
                    "Release"),
        StockAction("fulfill", "Fulfill", "Fulfill a reservation", perm.RESERVE,
                    forms.CloseHoldForm, _closer(stock.fulfill_stock), _moved("Fulfilled"),
                    "Fulfill"),
        StockAction("return", "Return", "Return stock", perm.ADJUST, forms.ReturnStockForm,
                    _return, _moved("Returned"), "Return to stock"),
        StockAction("transfer", "Transfer", "Transfer stock", perm.ADJUST,
                    forms.TransferStockForm, _transfer, _transferred, "Transfer"),
        StockAction("threshold", "Threshold", "Low-stock threshold", perm.THRESHOLD,
                    forms.ThresholdForm, _threshold,
                    lambda e, c: f"Low-stock threshold of {_where(e)} is now "
                    f"{c.details['low_stock_threshold']:,}.", "Save threshold",
                    quantity_field="low_stock_threshold"),
        StockAction("delete", "Delete", "Delete entry", perm.DELETE, forms.DeleteEntryForm,
                    _delete,
                    lambda e, c: f"Deleted the entry for {_where(e)} ({c.previous_quantity:,} "
                    "on hand written off in the ledger).", "Delete entry", destructive=True),
    )
}
ROW_ACTIONS = ("adjust", "set", "reserve", "release", "fulfill", "count", "return", "transfer",
               "threshold", "delete")

# The verb a changed row's own short message starts with.
_ROW_VERBS = {
    "adjust": "Adjusted", "set": "Set", "count": "Counted", "reserve": "Reserved",
    "release": "Released", "fulfill": "Fulfilled", "return": "Returned",
    "transfer": "Transferred",
}


def row_note(action: StockAction, entry: EntryView, change: StockChange) -> str:
    """The short line the changed row carries, e.g. "Adjusted +1: on hand 12 → 13"."""
    if action.name == "threshold":
        return (f"Threshold {entry.low_stock_threshold:,} → "
                f"{change.details['low_stock_threshold']:,}")
    verb = _ROW_VERBS.get(action.name, action.label)
    after = change.entry
    moved = after.quantity - entry.quantity
    if moved:
        return f"{verb} {_signed(moved)}: on hand {entry.quantity:,} → {after.quantity:,}"
    held = after.available_quantity - entry.available_quantity
    if held:
        return (f"{verb} {abs(held):,}: available {entry.available_quantity:,} → "
                f"{after.available_quantity:,}")
    return f"{verb}: on hand {after.quantity:,}, unchanged"


def _signed(value: int) -> str:
    return f"+{value:,}" if value > 0 else f"−{-value:,}"
