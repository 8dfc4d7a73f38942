"""Domain errors, named after the condition and carrying the message a user sees.

One handler per surface maps them: a 409/422 fragment for htmx, a flash for a full
page, JSON for the API, a non-zero exit for the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from app.permissions import MEMBERS


class StockroomError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})


class ValidationError(StockroomError):
    """Input is malformed; `fields` maps each bad field to its message."""

    status = 422
    code = "invalid"

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()), fields)


class NotFound(StockroomError):
    """Missing, or in a store the actor is not a member of: the two look the same."""

    status = 404
    code = "not_found"


class PermissionDenied(StockroomError):
    status = 403
    code = "forbidden"

    def __init__(self, permission: str) -> None:
        super().__init__(f"You do not have permission to do this ({permission}).")
        self.permission = permission


class Conflict(StockroomError):
    """The request is well formed but the current state forbids it."""

    status = 409
    code = "conflict"


class InsufficientStock(Conflict):
    code = "insufficient_stock"

    def __init__(self, available: int, requested: int) -> None:
        super().__init__(
            f"Insufficient stock available. Available: {available}, Requested: {requested}"
        )
        self.available = available
        self.requested = requested


class BelowReserved(Conflict):
    code = "below_reserved"

    def __init__(self, quantity: int, reserved: int, *, counted: bool = False) -> None:
        word = "Counted" if counted else "Quantity"
        super().__init__(f"{word} {quantity} is below reserved {reserved}")


class ExceedsReserved(Conflict):
    code = "exceeds_reserved"

    def __init__(self, verb: str, requested: int, reserved: int) -> None:
        super().__init__(f"Cannot {verb} {requested}: only {reserved} reserved")


class EntryHasReservations(Conflict):
    code = "entry_has_reservations"

    def __init__(self, reserved: int) -> None:
        super().__init__(f"Entry has {reserved} reserved units")


class EntryHasIncoming(Conflict):
    code = "entry_has_incoming"

    def __init__(self, incoming: int) -> None:
        super().__init__(
            f"Entry has {incoming:,} {'unit' if incoming == 1 else 'units'} on open purchase "
            "orders; receive or cancel them first"
        )


class StaleStock(Conflict):
    """The entry moved since the user loaded it; carries the current values."""

    code = "stale"

    def __init__(self, quantity: int, reserved: int, version: int) -> None:
        super().__init__(
            f"Stock changed since you loaded it: on hand is now {quantity} "
            f"({reserved} reserved). Check the new value and apply again."
        )
        self.quantity = quantity
        self.reserved = reserved
        self.version = version


class QuantityTooLarge(Conflict):
    code = "quantity_too_large"

    def __init__(self) -> None:
        super().__init__("On hand would exceed the maximum of 1,000,000,000.")


class DuplicateEntry(Conflict):
    code = "duplicate_entry"


class ReservationNotActive(Conflict):
    code = "reservation_not_active"

    def __init__(self, reservation_id: int, status: str) -> None:
        super().__init__(f"Reservation {reservation_id} is {status}, not active")


class UnlimitedProduct(Conflict):
    code = "unlimited_product"


class BundleProduct(Conflict):
    """A bundle holds no stock of its own: its components do."""

    code = "bundle_product"


class OrderShort(Conflict):
    """A multi-line reservation in which some lines lack stock; names every one."""

    code = "insufficient_stock"

    def __init__(self, short_lines: Sequence[Mapping[str, object]]) -> None:
        parts = [
            f"{line['label']} (available {line['available']}, requested {line['requested']})"
            for line in short_lines
        ]
        noun = "line" if len(parts) == 1 else "lines"
        super().__init__(f"Insufficient stock for {len(parts)} {noun}: " + "; ".join(parts))
        self.short_lines = [dict(line) for line in short_lines]


class IdempotencyKeyReused(StockroomError):
    status = 422
    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(
            "This idempotency key was already used for a different request.",
            {"idempotency_key": "already used for a different request"},
        )


class StalePurchaseOrder(Conflict):
    """The order changed since the user loaded it."""

    code = "stale"

    def __init__(self, number: str, version: int) -> None:
        super().__init__(
            f"{number} changed since you loaded it. Check it as it stands now and try again."
        )
        self.version = version


class StaleSuggestion(Conflict):
    """Reorder lines chosen from suggestions that have changed since: no longer due (what
    is coming covers them now, a draft orders them already) or due at another quantity.
    Names every such line."""

    code = "stale_suggestion"

    def __init__(self, lines: Sequence[tuple[str, str]]) -> None:
        super().__init__(
            "The suggestions changed since they were shown, so nothing was ordered: "
            + "; ".join(text for _field, text in lines) + ". Look at them again.",
            {field: text for field, text in lines},
        )


class OverReceipt(Conflict):
    """A receipt would take more of some lines than they await; names every one. Taken
    only with an explicit confirmation."""

    code = "over_receipt"

    def __init__(self, number: str, lines: Sequence[Mapping[str, Any]]) -> None:
        parts = [
            f"{line['label']}: receiving {line['quantity']:,} would make "
            f"{line['received'] + line['quantity']:,} of {line['ordered']:,} ordered "
            f"({line['over']:,} over)"
            for line in lines
        ]
        super().__init__(
            f"More than {number} ordered: " + "; ".join(parts)
            + ". Confirm the over-receipt to take the extra units.",
            {line["field"]: f"{line['over']:,} more than this line awaits; confirm to take "
                            "them." for line in lines},
        )
        self.lines = [dict(line) for line in lines]


class ExceedsFulfilled(Conflict):
    """A return for an order line larger than what shipped and has not come back yet."""

    code = "exceeds_fulfilled"

    def __init__(self, line_ref: str, requested: int, returnable: int) -> None:
        super().__init__(
            f"Cannot return {requested} of line {line_ref}: "
            f"only {returnable} shipped and not yet returned"
        )


class UnreadableInput(ValidationError):
    """A value no field can hold (a control character, an unpaired surrogate, a body nested
    too deeply, a value far longer than any field): refused before any work starts."""

    def __init__(self, field: str, problem: str, *, status: int = 422) -> None:
        super().__init__({field: problem})
        self.status = status
        if status == 400:
            self.code = "bad_request"  # the body as a whole could not be read
        self.message = f"“{field}”: {problem} Nothing was changed."


class TokenExpired(StockroomError):
    status = 401
    code = "token_expired"

    def __init__(self, expired_at: datetime) -> None:
        super().__init__(
            f"This API token expired on {expired_at:%Y-%m-%d %H:%M} UTC; create a new one on "
            "your account's API tokens page (or with `flask create-token`)."
        )
        self.expired_at = expired_at


class OwnerRequired(PermissionDenied):
    """A store admin tried to make, change or remove an owner."""

    def __init__(self) -> None:
        super().__init__(MEMBERS)
        self.message = "Only an owner of this store can make, change or remove owners."
        self.args = (self.message,)


class LastOwner(Conflict):
    """The change would leave a store without an owner."""

    code = "last_owner"

    def __init__(self, name: str, store_name: str, *, active: bool = False) -> None:
        last = "the last active owner" if active else "the last owner"
        super().__init__(f"{name} is {last} of {store_name}; make someone else owner first.")


class ReservedStockBlocksTypeChange(Conflict):
    """A physical product cannot turn unlimited while units of it are held for orders."""

    code = "reserved_blocks_type_change"

    def __init__(self, sku: str, product_type: str, reserved: int, entries: int) -> None:
        super().__init__(
            f"{sku} has {reserved:,} reserved {'unit' if reserved == 1 else 'units'} in "
            f"{entries:,} {'entry' if entries == 1 else 'entries'}: release or fulfill "
            f"them before making it a {product_type} product."
        )


class LocationHoldsStock(Conflict):
    """Archiving refused: the location still has units on hand (and maybe reserved)."""

    code = "location_holds_stock"

    def __init__(self, code: str, units: int, entries: int, reserved: int) -> None:
        held = f" ({reserved:,} reserved)" if reserved else ""
        super().__init__(
            f"{code} still holds {units:,} {'unit' if units == 1 else 'units'} in "
            f"{entries:,} {'entry' if entries == 1 else 'entries'}{held}; "
            "move or remove them first."
        )
        self.units = units
        self.entries = entries
        self.reserved = reserved


class LocationAwaitsStock(Conflict):
    """Archiving refused: open purchase orders still bring units to the location."""

    code = "location_awaits_stock"

    def __init__(self, code: str, units: int) -> None:
        super().__init__(
            f"{code} awaits {units:,} {'unit' if units == 1 else 'units'} on open purchase "
            "orders; receive or cancel them first."
        )
        self.units = units


# How many items a message about many names before it says "and N more".
NAMED_IN_MESSAGE = 10


class BulkRefused(Conflict):
    """Some entries of a bulk action would break a rule; nothing was applied. Each problem
    has a `label` (which entry) and a `problem` (which rule)."""

    code = "bulk_refused"

    def __init__(self, problems: Sequence[Any]) -> None:
        named = "; ".join(f"{p.label}: {p.problem}" for p in problems[:NAMED_IN_MESSAGE])
        more = len(problems) - NAMED_IN_MESSAGE
        tail = f"; and {more:,} more" if more > 0 else ""
        noun = "entry" if len(problems) == 1 else "entries"
        super().__init__(
            f"Nothing was applied: {len(problems):,} {noun} would break the rules. "
            f"{named}{tail}"
        )
        self.problems = list(problems)


class ImportRefused(Conflict):
    """The file cannot be applied as it stands: it has errors, or rows moved since the
    preview. Carries the lines concerned."""

    code = "import_refused"

    def __init__(self, message: str, lines: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.lines = list(lines)


class CountRefused(Conflict):
    """A location's count cannot be applied as it stands; nothing was counted. Each problem
    has a `label` (which line), a `field` (the line's field, as the API names it) and a
    `problem`. Malformed lines make it a 422, lines the stock refuses (below reserved, on
    hand moved since the scan) a 409; `current` then carries each line's on hand now."""

    code = "count_refused"

    def __init__(self, problems: Sequence[Any], *,
                 current: Mapping[int, int] | None = None) -> None:
        named = "; ".join(f"{p.label}: {p.problem}" for p in problems[:NAMED_IN_MESSAGE])
        more = len(problems) - NAMED_IN_MESSAGE
        tail = f"; and {more:,} more" if more > 0 else ""
        noun = "line needs" if len(problems) == 1 else "lines need"
        super().__init__(
            f"Nothing was counted: {len(problems):,} {noun} attention. {named}{tail}",
            {p.field: p.problem for p in problems},
        )
        self.problems = list(problems)
        self.current = dict(current or {})
        if any(p.invalid for p in problems):
            self.status = 422
            self.code = "invalid"
