"""The API's request and response shapes. They validate every request and are the source
of the OpenAPI document, so the two cannot drift apart.

Field rules mirror the service layer's (whole numbers within ±1,000,000,000, ids within a
32-bit key, texts of bounded length); the service still checks everything itself.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates, validates_schema

from app.models import EVENT_TYPES, MAX_OPTIONS, PRODUCT_TYPES, PURCHASE_ORDER_STATUSES
from app.models.audit import OBJECT_TYPES
from app.services.activity import is_kind
from app.services.bundles import MAX_COMPONENTS
from app.services.items import (
    DESCRIPTION_LENGTH,
    MAX_VARIANTS,
    OPTION_NAME_LENGTH,
    OPTION_VALUE_LENGTH,
    SETTABLE_STATUSES,
    SKU_LENGTH,
    TITLE_LENGTH,
)
from app.services.purchasing import MAX_PURCHASE_ORDER_LINES as MAX_REORDER_LINES
from app.services.queries import REORDER_SORTS, SORTS, STATUSES
from app.services.validation import LIMIT, MAX_ID

MAX_LINES = 200


class QueryInteger(fields.Integer):
    """A whole number in a query string: ASCII digits only, where int() would also take
    "５", "1_000" and surrounding spaces."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> int:
        if not isinstance(value, str) or not WHOLE_TEXT.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._deserialize(value, attr, data, **kwargs)


WHOLE_TEXT = re.compile(r"[+-]?[0-9]{1,10}", re.ASCII)


def _integer(query: bool, **kwargs: Any) -> fields.Integer:
    # In JSON a number must be a number: "5", 5.0 and true are refused.
    return QueryInteger(**kwargs) if query else fields.Integer(strict=True, **kwargs)


def Id(*, query: bool = False, **kwargs: Any) -> fields.Integer:  # noqa: N802 - a field type
    return _integer(query, validate=validate.Range(1, MAX_ID), **kwargs)


def Whole(  # noqa: N802
    minimum: int = -LIMIT, *, query: bool = False, **kwargs: Any
) -> fields.Integer:
    return _integer(query, validate=validate.Range(minimum, LIMIT), **kwargs)


def printable(value: str) -> None:
    """Control characters have no place in any text here, and PostgreSQL refuses NUL."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ma.ValidationError("Must not contain control characters.")


AMOUNT_TEXT = r"^[0-9]{1,15}(\.[0-9]{1,15})?$"


def Amount(**kwargs: Any) -> fields.String:  # noqa: N802 - a field type
    """Money sent as decimal text ("12.50", "0.0125"), never a JSON number: a binary float
    has no exact 0.1. The service checks its range and its four decimals at most."""
    metadata = {"example": "12.50", **kwargs.pop("metadata", {})}
    return fields.String(validate=validate.Regexp(AMOUNT_TEXT, error="Enter an amount, like "
                                                                       "12.50."),
                         metadata=metadata, **kwargs)


def AmountOut(**kwargs: Any) -> fields.Decimal:  # noqa: N802
    """Money as it is kept: decimal text with four decimals ("12.5000"), documented as the
    text it is sent as."""
    metadata = {"type": "string", "format": "decimal", "example": "12.5000",
                **kwargs.pop("metadata", {})}
    return fields.Decimal(as_string=True, metadata=metadata, **kwargs)


def Text(  # noqa: N802
    max_length: int, min_length: int | None = None, **kwargs: Any
) -> fields.String:
    return fields.String(
        validate=[validate.Length(min=min_length, max=max_length), printable], **kwargs
    )


class StrictBoolean(fields.Boolean):
    """true or false in JSON, nothing else: not "true", 1 or "yes"."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if type(value) is not bool:
            raise self.make_error("invalid", input=value)
        return value


class UtcNaiveDateTime(fields.NaiveDateTime):
    """A moment with any offset, stored as naive UTC; one that falls off the calendar when
    moved to UTC is invalid, not a crash."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except OverflowError as exc:
            raise self.make_error("invalid", input=value, obj_type="datetime") from exc


class UtcDateTime(fields.DateTime):
    """Times are stored as naive UTC; on the wire they carry their `Z`."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


class Schema(ma.Schema):
    """Unknown fields are refused (422), so a misspelt field never passes silently."""


# --------------------------------------------------------------------------- requests


class EntryRef(Schema):
    """An entry named by its id, or by product and location code as the seed API does."""

    entry_id = Id(metadata={"description": "The entry; or give product_id and location"})
    product_id = Id()
    location = Text(64, 1,
                    metadata={"description": "Location code, any case: warehouse_a"})

    @validates_schema
    def _one_way(self, data: dict[str, Any], **_: Any) -> None:
        if "entry_id" in data:
            if "product_id" in data or "location" in data:
                raise ma.ValidationError("Give entry_id, or product_id with location; not both.",
                                         "entry_id")
            return
        missing = {
            name: ["Required with product_id and location, or give entry_id."]
            for name in ("product_id", "location") if name not in data
        }
        if missing:
            raise ma.ValidationError(missing)


class AdminEntryRef(EntryRef):
    store_id = Id(required=True)


class SetStockIn(EntryRef):
    quantity = Whole(0, required=True, metadata={"description": "The exact on-hand quantity"})
    reason = Text(200)
    expected_version = Id(metadata={"description": "Refuse (409) if the entry has moved on"})
    expected_quantity = Whole(0)


class AdminSetStockIn(SetStockIn, AdminEntryRef):
    pass


class AdjustStockIn(EntryRef):
    quantity = Whole(required=True, metadata={"description": "Signed change: -10 removes ten; "
                                                             "not 0"})

    @validates("quantity")
    def _nonzero(self, value: int, **_: Any) -> None:
        if value == 0:
            raise ma.ValidationError("Must not be zero.")
    reason = Text(200, required=True)
    reference = Text(100)


class AdminAdjustStockIn(AdjustStockIn, AdminEntryRef):
    pass


class ReserveStockIn(EntryRef):
    quantity = Whole(1, required=True)
    order_ref = Text(100, required=True)
    line_ref = Text(100)
    expires_at = UtcNaiveDateTime(timezone=UTC, metadata={"description": "UTC"})
    reason = Text(200)


class CloseHoldsIn(EntryRef):
    reservation_id = Id(metadata={"description": "One hold; or name the entry and a quantity"})
    quantity = Whole(1, metadata={"description": "Required unless reservation_id is given"})
    order_ref = Text(100, metadata={"description": "Only this order's holds"})
    line_ref = Text(100)
    reason = Text(200)

    @validates_schema
    def _one_way(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "reservation_id" in data:
            if {"entry_id", "product_id", "location"} & data.keys():
                raise ma.ValidationError("Give reservation_id, or the entry; not both.",
                                         "reservation_id")
            return
        super()._one_way(data, **kwargs)
        if "quantity" not in data:
            raise ma.ValidationError("Required unless reservation_id is given.", "quantity")


class ReturnStockIn(EntryRef):
    quantity = Whole(1, required=True)
    reason = Text(200, required=True)
    reference = Text(100)


class CountStockIn(EntryRef):
    counted_quantity = Whole(0, required=True)
    reason = Text(200)
    expected_version = Id()
    expected_quantity = Whole(0)


class TransferStockIn(Schema):
    product_id = Id(required=True)
    from_location = Text(64, 1, required=True)
    to_location = Text(64, 1, required=True)
    quantity = Whole(1, required=True)
    reason = Text(200)
    reference = Text(100)

    @validates_schema
    def _two_places(self, data: dict[str, Any], **_: Any) -> None:
        same = str(data.get("from_location", "")).strip().upper()
        if same and same == str(data.get("to_location", "")).strip().upper():
            raise ma.ValidationError("Choose a location other than the source.", "to_location")


class CreateEntryIn(Schema):
    product_id = Id(required=True)
    location = Text(64, 1, required=True)
    quantity = Whole(0, load_default=0, metadata={"description": "Opening stock"})
    low_stock_threshold = Whole(0, load_default=0)
    incoming_quantity = Whole(0, load_default=0, metadata={
        "description": "Only 0 is taken: incoming is what open purchase orders bring"})
    reason = Text(200)
    unit_cost = Amount(metadata={
        "description": "What a unit of the opening stock cost, in the store's currency: it "
                       "starts the entry's average cost. Only with a quantity above 0"})


class UpdateEntryIn(Schema):
    low_stock_threshold = Whole(0, required=True, metadata={"description": "0 disables it"})


class ListArgs(Schema):
    store_id = Id(query=True)
    location_id = Id(query=True)
    status = fields.String(validate=validate.OneOf(STATUSES))
    max_quantity = Whole(query=True,
                         metadata={"description": "Only entries with on hand at most this"})
    q = Text(200, metadata={"description": "Search title and SKU; exact GTIN"})
    sort = fields.String(load_default="title", validate=validate.OneOf(sorted(SORTS)))
    order = fields.String(load_default="asc", validate=validate.OneOf(("asc", "desc")))
    cursor = Text(400, metadata={"description": "next_cursor or prev_cursor of a page"})
    limit = QueryInteger(load_default=50, validate=validate.Range(1, 200))


class AdminListArgs(ListArgs):
    low_stock = Whole(query=True,
                      metadata={"description": "As the seed API: on hand at most this"})


class StoreListArgs(ListArgs):
    class Meta:
        exclude = ("store_id",)


def _kind(value: str) -> None:
    if not is_kind(value):
        raise ma.ValidationError("Give an object type (product) or one of its actions "
                                 "(product.archived).")


class ActivityArgs(Schema):
    actor_id = Id(query=True, metadata={"description": "Only changes made by this user"})
    actor = Text(254, 1, metadata={"description": "Only changes by a name or email containing "
                                                  "this"})
    kind = fields.String(validate=[validate.Length(1, 40), _kind], metadata={
        "description": "An object type (every change to products) or one action "
                       "(product.archived, entry.threshold_set)"})
    object_type = fields.String(validate=validate.OneOf(OBJECT_TYPES),
                                metadata={"description": "With object_id: one object"})
    object_id = Id(query=True)
    product_id = Id(query=True, metadata={"description": "A product and its entries"})
    date_from = fields.Date(data_key="from", metadata={"description": "First day (UTC)"})
    date_to = fields.Date(data_key="to", metadata={"description": "Last day (UTC)"})
    cursor = Text(400, metadata={"description": "next_cursor or prev_cursor of a page"})
    limit = QueryInteger(load_default=50, validate=validate.Range(1, 200))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        if ("object_id" in data) != ("object_type" in data):
            raise ma.ValidationError("Give object_type and object_id together.", "object_id")
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ma.ValidationError("The end date is before the start date.", "to")


class AdminActivityArgs(ActivityArgs):
    store_id = Id(query=True, metadata={"description": "Only this store's changes"})


class StoreArgs(Schema):
    store_id = Id(query=True)


class LowStockArgs(Schema):
    store_id = Id(query=True)
    threshold = Whole(query=True, metadata={
        "description": "Every entry with available at most this; without it, entries in "
                       "low_stock",
    })
    limit = QueryInteger(load_default=500, validate=validate.Range(1, 1000))


class OrderLineIn(Schema):
    line_ref = Text(100, 1, required=True)
    product_id = Id(required=True)
    location = Text(64, 1,
                    metadata={"description": "Location code; needed for physical products"})
    location_id = Id()
    quantity = Whole(1, required=True)

    @validates_schema
    def _one_location(self, data: dict[str, Any], **_: Any) -> None:
        if "location" in data and "location_id" in data:
            raise ma.ValidationError("Give location or location_id, not both.", "location")


class AvailabilityLineIn(OrderLineIn):
    line_ref = Text(100)


class AvailabilityIn(Schema):
    store_id = Id(metadata={"description": "Needed when the token's user is in several stores"})
    lines = fields.List(fields.Nested(AvailabilityLineIn), required=True,
                        validate=validate.Length(1, MAX_LINES))


class OrderReserveIn(Schema):
    store_id = Id()
    channel = Text(40, 1, metadata={
        "description": "A sales channel's code: lines may then leave out their location, "
                       "and each is taken from the first of the channel's locations that "
                       "covers it (or split across them, where the channel allows)"})
    lines = fields.List(fields.Nested(OrderLineIn), required=True,
                        validate=validate.Length(1, MAX_LINES))
    expires_in_seconds = fields.Integer(
        strict=True, validate=validate.Range(1, 30 * 24 * 3600),
        metadata={"description": "The holds lapse after this long unless fulfilled"},
    )


class OrderCloseIn(Schema):
    store_id = Id()
    line_refs = fields.List(
        Text(100, 1),
        validate=validate.Length(1, MAX_LINES),
        metadata={"description": "Only these lines; all of the order's lines when left out"},
    )
    reason = Text(200)


class OrderReturnLineIn(Schema):
    line_ref = Text(100, 1, required=True)
    quantity = Whole(1, required=True)


class OrderReturnIn(Schema):
    store_id = Id()
    lines = fields.List(fields.Nested(OrderReturnLineIn), required=True,
                        validate=validate.Length(1, MAX_LINES))
    reason = Text(200, required=True)


class OrderArgs(Schema):
    store_id = Id(query=True)


# --------------------------------------------------------------------------- responses


class EntryOut(Schema):
    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    store_name = fields.String(required=True)
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    title = fields.String(required=True)
    gtin = fields.String(required=True, allow_none=True)
    product_type = fields.String(required=True)
    unlimited = fields.Boolean(required=True)
    location_id = fields.Integer(required=True)
    location = fields.String(required=True, attribute="location_code")
    quantity = fields.Integer(required=True)
    reserved_quantity = fields.Integer(required=True)
    available_quantity = fields.Integer(required=True)
    incoming_quantity = fields.Integer(required=True)
    low_stock_threshold = fields.Integer(required=True)
    status = fields.String(required=True)
    version = fields.Integer(required=True)
    last_counted_at = UtcDateTime(required=True, allow_none=True)
    last_movement_at = UtcDateTime(required=True, allow_none=True)
    updated_at = UtcDateTime(required=True)


class EntryPageOut(Schema):
    items = fields.List(fields.Nested(EntryOut), required=True, attribute="rows")
    total = fields.Integer(required=True)
    next_cursor = fields.String(required=True, allow_none=True)
    prev_cursor = fields.String(required=True, allow_none=True)


class ActivityOut(Schema):
    id = fields.Integer(required=True)
    created_at = UtcDateTime(required=True)
    store_id = fields.Integer(required=True, allow_none=True,
                              metadata={"description": "null for accounts, tokens and "
                                                       "platform access"})
    store_name = fields.String(required=True, allow_none=True)
    action = fields.String(required=True, metadata={"description": "product.updated, "
                                                                    "entry.threshold_set, ..."})
    action_label = fields.String(required=True, metadata={"description": "The action in words"})
    object_type = fields.String(required=True)
    object_id = fields.Integer(required=True, allow_none=True)
    object_label = fields.String(required=True,
                                 metadata={"description": "The object's name at the time"})
    product_id = fields.Integer(required=True, allow_none=True)
    changes = fields.Dict(
        keys=fields.String(), values=fields.List(fields.Raw(allow_none=True)), required=True,
        attribute="recorded",
        metadata={"description": "Each changed field as [before, after]; secrets as "
                                 "\"(secret)\""},
    )
    batch_ref = fields.String(required=True, allow_none=True)
    actor_id = fields.Integer(required=True, allow_none=True)
    actor_name = fields.String(required=True)


class ActivityPageOut(Schema):
    items = fields.List(fields.Nested(ActivityOut), required=True, attribute="rows")
    total = fields.Integer(required=True)
    next_cursor = fields.String(required=True, allow_none=True)
    prev_cursor = fields.String(required=True, allow_none=True)


class EntryStateOut(Schema):
    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    location_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    reserved_quantity = fields.Integer(required=True)
    available_quantity = fields.Integer(required=True)
    version = fields.Integer(required=True)


class StockChangeOut(Schema):
    """What a mutation did. A repeat with the same Idempotency-Key returns this same body
    with the header `Idempotent-Replayed: true`."""

    operation = fields.String(required=True)
    entries = fields.List(fields.Nested(EntryStateOut), required=True,
                          metadata={"description": "The entries changed, as they stand after"})
    movement_ids = fields.List(fields.Integer(), required=True)
    reservation_ids = fields.List(fields.Integer(), required=True)
    previous_quantity = fields.Integer(required=True, allow_none=True)
    details = fields.Dict(required=True)


class ProductStockOut(Schema):
    product_id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    title = fields.String(required=True)
    product_type = fields.String(required=True)
    unlimited = fields.Boolean(required=True)
    allow_backorder = fields.Boolean(required=True)
    reorder_point = fields.Integer(required=True)
    reorder_quantity = fields.Integer(required=True)
    reorder_up_to = fields.Integer(required=True, metadata={
        "description": "The stock level a reorder brings it up to; 0 when not set"})
    status = fields.String(required=True)
    total_quantity = fields.Integer(required=True)
    total_reserved = fields.Integer(required=True)
    total_available = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null when unlimited"}
    )
    locations = fields.List(fields.Nested(EntryOut), required=True)


class StatsOut(Schema):
    total_entries = fields.Integer(required=True)
    total_quantity = fields.Integer(required=True)
    total_reserved = fields.Integer(required=True)
    total_available = fields.Integer(required=True)
    low_stock_count = fields.Integer(required=True)
    stores_with_inventory = fields.Integer(required=True)
    unique_locations = fields.Integer(required=True)
    in_stock = fields.Integer(required=True)
    low_stock = fields.Integer(required=True)
    out_of_stock = fields.Integer(required=True)
    on_backorder = fields.Integer(required=True)


class LowStockOut(Schema):
    """One row of the low-stock report, named as the seed API names them."""

    entry_id = fields.Integer(required=True, attribute="id")
    product_id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    store_name = fields.String(required=True)
    product_title = fields.String(required=True, attribute="title")
    sku = fields.String(required=True)
    location = fields.String(required=True, attribute="location_code")
    quantity = fields.Integer(required=True)
    available_quantity = fields.Integer(required=True)
    low_stock_threshold = fields.Integer(required=True)
    status = fields.String(required=True)


class StoreOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    slug = fields.String(required=True)
    archived = fields.Boolean(required=True)
    total_entries = fields.Integer(required=True)
    total_quantity = fields.Integer(required=True)
    total_reserved = fields.Integer(required=True)
    total_available = fields.Integer(required=True)
    locations = fields.Integer(required=True)


class LocationOut(Schema):
    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)


class StoreInventoryOut(Schema):
    store = fields.Nested(StoreOut, required=True)
    stats = fields.Nested(StatsOut, required=True)
    page = fields.Nested(EntryPageOut, required=True)


class LineAvailabilityOut(Schema):
    line = fields.Integer(required=True, metadata={"description": "Position in the request"})
    line_ref = fields.String(required=True, allow_none=True)
    product_id = fields.Integer(required=True)
    location_id = fields.Integer(required=True, allow_none=True)
    requested = fields.Integer(required=True)
    unlimited = fields.Boolean(required=True)
    available = fields.Integer(metadata={"description": "Left out when unlimited"})
    status = fields.String(required=True)
    sufficient = fields.Boolean(required=True)


class AvailabilityOut(Schema):
    store_id = fields.Integer(required=True)
    all_sufficient = fields.Boolean(required=True)
    lines = fields.List(fields.Nested(LineAvailabilityOut), required=True)


class ReservationOut(Schema):
    id = fields.Integer(required=True)
    order_ref = fields.String(required=True)
    line_ref = fields.String(required=True, allow_none=True)
    product_id = fields.Integer(required=True)
    location_id = fields.Integer(required=True)
    location = fields.String(required=True, attribute="location_code",
                             metadata={"description": "Where it is held: the location's code"})
    quantity = fields.Integer(required=True)
    open_quantity = fields.Integer(required=True)
    status = fields.String(required=True)
    expires_at = UtcDateTime(required=True, allow_none=True)
    created_at = UtcDateTime(required=True)
    closed_at = UtcDateTime(required=True, allow_none=True)


class OrderOut(Schema):
    store_id = fields.Integer(required=True)
    order_ref = fields.String(required=True)
    reservations = fields.List(fields.Nested(ReservationOut), required=True)


class PublicAvailabilityOut(Schema):
    """Only what a storefront needs: a count, or `unlimited`, and the status."""

    product_id = fields.Integer(required=True)
    available = fields.Integer(metadata={"description": "Left out when unlimited"})
    unlimited = fields.Boolean(metadata={"description": "Present, and true, when unlimited"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))


class MembershipOut(Schema):
    store_id = fields.Integer(required=True)
    permissions = fields.List(fields.String(), required=True)


class MeOut(Schema):
    user_id = fields.Integer(required=True)
    email = fields.String(required=True)
    platform_admin = fields.Boolean(required=True)
    stores = fields.List(fields.Nested(MembershipOut), required=True, metadata={
        "description": "What the token may do in each store: its user's permissions there, "
                       "within the token's scope"})
    token_expires_at = UtcDateTime(required=True, allow_none=True, metadata={
        "description": "When the token stops working (UTC); null if it never expires"})


class OptionOut(Schema):
    name = fields.String(required=True)
    values = fields.List(fields.String(), required=True)


class ItemCellOut(Schema):
    """One variant at one location."""

    entry_id = fields.Integer(required=True)
    location_id = fields.Integer(required=True)
    location = fields.String(required=True, metadata={"description": "The location's code"})
    quantity = fields.Integer(required=True)
    reserved = fields.Integer(required=True)
    available = fields.Integer(required=True)
    status = fields.String(required=True)


class ItemVariantOut(Schema):
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    gtin = fields.String(required=True, allow_none=True)
    product_type = fields.String(required=True)
    options = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                          metadata={"description": "Option name → this variant's value"})
    archived = fields.Boolean(required=True)
    unlimited = fields.Boolean(required=True, metadata={
        "description": "Digital, service and subscription variants never run out"})
    total_quantity = fields.Integer(required=True)
    total_available = fields.Integer(required=True, allow_none=True,
                                     metadata={"description": "null when unlimited"})
    locations = fields.List(fields.Nested(ItemCellOut), required=True)


class ItemOut(Schema):
    """An item with its options and its variants' stock per location."""

    item_id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    status = fields.String(required=True)
    options = fields.List(fields.Nested(OptionOut), required=True)
    total_quantity = fields.Integer(required=True)
    total_available = fields.Integer(required=True)
    variants = fields.List(fields.Nested(ItemVariantOut), required=True)


class PublicVariantOut(Schema):
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    options = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    available = fields.Integer(metadata={"description": "Left out when unlimited"})
    unlimited = fields.Boolean(metadata={"description": "Present, and true, when unlimited"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))


class PublicItemAvailabilityOut(Schema):
    """An item's live variants: only what a storefront needs."""

    item_id = fields.Integer(required=True)
    variants = fields.List(fields.Nested(PublicVariantOut), required=True)


class MoveReservationIn(Schema):
    location = Text(64, 1, required=True, metadata={"description": "The new location's code"})
    reason = Text(200)


class ChannelArgs(Schema):
    store_id = Id(query=True)
    product_id = fields.List(QueryInteger(validate=validate.Range(1, 2_147_483_647)),
                             required=True, validate=validate.Length(1, 100))


class ChannelLocationOut(Schema):
    location = fields.String(required=True)
    available = fields.Integer(required=True)


class ChannelProductOut(Schema):
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    unlimited = fields.Boolean(required=True)
    available = fields.Integer(required=True, allow_none=True,
                               metadata={"description": "null when unlimited"})
    locations = fields.List(fields.Nested(ChannelLocationOut), required=True)


class ChannelAvailabilityOut(Schema):
    channel = fields.String(required=True)
    store_id = fields.Integer(required=True)
    locations = fields.List(fields.String(), required=True,
                            metadata={"description": "The channel's locations, in its order"})
    allow_split = fields.Boolean(required=True)
    products = fields.List(fields.Nested(ChannelProductOut), required=True)


# --------------------------------------------------------------------------- the catalog


class OptionIn(Schema):
    name = Text(OPTION_NAME_LENGTH, 1, required=True, metadata={"example": "Color"})
    values = fields.List(Text(OPTION_VALUE_LENGTH, 1), required=True,
                         validate=validate.Length(1, MAX_VARIANTS),
                         metadata={"example": ["Black", "Glacier Blue"]})


class VariantIn(Schema):
    """One variant, with its own SKU: one value of each of the item's options."""

    options = fields.Dict(
        keys=Text(OPTION_NAME_LENGTH, 1), values=Text(OPTION_VALUE_LENGTH, 1),
        load_default=dict, validate=validate.Length(max=MAX_OPTIONS),
        metadata={"description": "Option name → this variant's value; {} for an item "
                                 "without options", "example": {"Color": "Black"}})
    sku = Text(SKU_LENGTH, 1, required=True, metadata={"description": "Unique in the store"})
    gtin = Text(14, metadata={"description": "8, 12, 13 or 14 digits with a right check digit"})


class ItemCreateIn(Schema):
    store_id = Id(metadata={"description": "Needed when the token's user is in several stores"})
    title = Text(TITLE_LENGTH, 1, required=True)
    description = Text(DESCRIPTION_LENGTH)
    status = fields.String(load_default="active", validate=validate.OneOf(SETTABLE_STATUSES),
                           metadata={"description": "A draft item is left out of the public "
                                                    "read until it is made active"})
    options = fields.List(fields.Nested(OptionIn), load_default=list,
                          validate=validate.Length(max=MAX_OPTIONS),
                          metadata={"description": "Up to three; none for a single product"})
    sku_prefix = Text(SKU_LENGTH, 1, metadata={
        "description": "A variant for every combination of the options' values, each SKU "
                       "the prefix and its values' codes (PRK-BLACK-S); or give `variants`"})
    variants = fields.List(fields.Nested(VariantIn), validate=validate.Length(1, MAX_VARIANTS),
                           metadata={"description": "Each variant with its own SKU; every "
                                                    "option value must have one"})
    product_type = fields.String(load_default="physical", validate=validate.OneOf(PRODUCT_TYPES),
                                 metadata={"description": "Every variant's type"})
    allow_backorder = StrictBoolean(load_default=False)
    reorder_point = Whole(0, load_default=0)
    reorder_quantity = Whole(0, load_default=0)
    reorder_up_to = Whole(0, load_default=0, metadata={
        "description": "Every variant's order-up-to level: a reorder brings what it has "
                       "coming up to it instead of ordering reorder_quantity; above "
                       "reorder_point, 0 for none"})

    @validates_schema
    def _one_way(self, data: dict[str, Any], **_: Any) -> None:
        if ("sku_prefix" in data) == ("variants" in data):
            raise ma.ValidationError("Give sku_prefix, or variants with their SKUs; one of "
                                     "the two.", "sku_prefix")


class ItemUpdateIn(Schema):
    title = Text(TITLE_LENGTH, 1, metadata={"description": "Each variant's title follows"})
    description = Text(DESCRIPTION_LENGTH, allow_none=True,
                       metadata={"description": "null or \"\" clears it"})
    status = fields.String(validate=validate.OneOf(SETTABLE_STATUSES), metadata={
        "description": "Archive an item (all its variants) with POST …/archive"})

    @validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ma.ValidationError("Give title, description or status.")


class OptionValueIn(Schema):
    option = Text(OPTION_NAME_LENGTH, 1, required=True,
                  metadata={"description": "The option's name, any case", "example": "Size"})
    value = Text(OPTION_VALUE_LENGTH, 1, required=True, metadata={"example": "XL"})
    sku_prefix = Text(SKU_LENGTH, 1, metadata={
        "description": "The new variants' SKUs are this prefix and their values' codes; "
                       "by default the prefix the item's SKUs share"})


class ComponentIn(Schema):
    product_id = Id(required=True)
    quantity = Whole(1, required=True, metadata={"description": "Units one bundle takes"})


class ComponentsIn(Schema):
    components = fields.List(fields.Nested(ComponentIn), required=True,
                             validate=validate.Length(max=MAX_COMPONENTS), metadata={
                                 "description": "[] makes it an ordinary product again"})


class ComponentOut(Schema):
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    title = fields.String(required=True)
    quantity = fields.Integer(required=True)


class BundleOut(Schema):
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    components = fields.List(fields.Nested(ComponentOut), required=True,
                             metadata={"description": "Empty when it is not a bundle"})


# --------------------------------------------------------------------------- purchasing


def text_lines(value: str) -> None:
    """Several lines of text: tabs and line breaks, no other control character."""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r" for ch in value):
        raise ma.ValidationError("Must not contain control characters.")


def Notes(**kwargs: Any) -> fields.String:  # noqa: N802
    return fields.String(validate=[validate.Length(max=2000), text_lines], **kwargs)


def Rate(**kwargs: Any) -> fields.String:  # noqa: N802
    return fields.String(
        validate=validate.Regexp(AMOUNT_TEXT, error="Enter a rate, like 1.0825."),
        metadata={"description": "Store currency per unit of the order's; needed before "
                                 "ordering when the supplier's currency is not the store's",
                  "example": "1.0825"}, **kwargs)


class SupplierFieldsIn(Schema):
    name = Text(120, 1, required=True)
    contact_name = Text(120, allow_none=True)
    email = Text(254, allow_none=True, metadata={"example": "orders@example.com"})
    phone = Text(40, allow_none=True)
    currency = Text(3, 3, allow_none=True, metadata={
        "description": "ISO 4217, any case: what the supplier quotes in; the store's when "
                       "left out", "example": "EUR"})
    lead_time_days = Whole(0, load_default=0, metadata={"description": "At most 365"})
    notes = Notes(allow_none=True)


class SupplierCreateIn(SupplierFieldsIn):
    store_id = Id(metadata={"description": "Needed when the token's user is in several stores"})


class SupplierUpdateIn(SupplierFieldsIn):
    """Every field as it should now be; a left-out currency keeps the supplier's, and it
    changes only while the supplier has no items and no orders."""


class SupplierListArgs(Schema):
    store_id = Id(query=True)
    include_archived = fields.Boolean(load_default=False)


class SupplierOut(Schema):
    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    name = fields.String(required=True)
    contact_name = fields.String(required=True, allow_none=True)
    email = fields.String(required=True, allow_none=True)
    phone = fields.String(required=True, allow_none=True)
    currency = fields.String(required=True)
    lead_time_days = fields.Integer(required=True)
    notes = fields.String(required=True, allow_none=True)
    archived = fields.Boolean(required=True)
    archived_at = UtcDateTime(required=True, allow_none=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


class SupplierListOut(Schema):
    items = fields.List(fields.Nested(SupplierOut), required=True)


class SupplierItemIn(Schema):
    unit_cost = Amount(required=True, metadata={"description": "In the supplier's currency"})
    supplier_sku = Text(64, allow_none=True)
    pack_size = Whole(1, load_default=1, metadata={"description": "Units a pack holds"})
    min_order_qty = Whole(0, load_default=0, metadata={"description": "The least it takes"})
    preferred = StrictBoolean(load_default=False, metadata={
        "description": "Made preferred, it takes over from the product's other preferred "
                       "supplier"})


class SupplierItemOut(Schema):
    id = fields.Integer(required=True)
    supplier_id = fields.Integer(required=True)
    supplier_name = fields.String(required=True)
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    title = fields.String(required=True)
    supplier_sku = fields.String(required=True, allow_none=True)
    currency = fields.String(required=True)
    unit_cost = AmountOut(required=True)
    pack_size = fields.Integer(required=True)
    min_order_qty = fields.Integer(required=True)
    preferred = fields.Boolean(required=True)


class SupplierItemListOut(Schema):
    items = fields.List(fields.Nested(SupplierItemOut), required=True)


class PurchaseOrderLineIn(Schema):
    product_id = Id(required=True)
    location_id = Id(required=True)
    quantity = Whole(1, required=True)
    unit_cost = Amount(metadata={"description": "In the order's currency; the supplier's "
                                                "cost on record when left out"})


class PurchaseOrderCreateIn(Schema):
    supplier_id = Id(required=True)
    lines = fields.List(fields.Nested(PurchaseOrderLineIn), load_default=list,
                        validate=validate.Length(max=1000))
    expected_on = fields.Date(allow_none=True)
    notes = Notes(allow_none=True)
    exchange_rate = Rate(allow_none=True)
    deliver_to_id = Id(allow_none=True, metadata={
        "description": "The location it is to arrive at (each line still names its own)"})


class PurchaseOrderUpdateIn(Schema):
    """Every field as it should now be: one left out is cleared (a placed order keeps its
    rate)."""

    expected_on = fields.Date(allow_none=True)
    notes = Notes(allow_none=True)
    exchange_rate = Rate(allow_none=True)
    expected_version = Id(metadata={"description": "Refuse (409) if the order has moved on"})


class PurchaseOrderLinesIn(Schema):
    lines = fields.List(fields.Nested(PurchaseOrderLineIn), required=True,
                        validate=validate.Length(1, 1000))
    expected_version = Id()


class PurchaseOrderLineUpdateIn(Schema):
    quantity = Whole(1, required=True)
    unit_cost = Amount(required=True)
    expected_version = Id()


class PurchaseOrderVersionIn(Schema):
    expected_version = Id(metadata={"description": "Refuse (409) if the order has moved on"})


class PurchaseOrderCancelIn(PurchaseOrderVersionIn):
    reason = Text(200)


class ReceiptLineIn(Schema):
    line_id = Id(metadata={"description": "The order's line; or give product_id and "
                                          "location_id"})
    product_id = Id()
    location_id = Id()
    quantity = Whole(1, required=True)

    @validates_schema
    def _one_way(self, data: dict[str, Any], **_: Any) -> None:
        if "line_id" in data:
            if "product_id" in data or "location_id" in data:
                raise ma.ValidationError("Give line_id, or product_id with location_id; not "
                                         "both.", "line_id")
            return
        missing = {name: ["Required with product_id and location_id, or give line_id."]
                   for name in ("product_id", "location_id") if name not in data}
        if missing:
            raise ma.ValidationError(missing)


class ReceiptIn(Schema):
    lines = fields.List(fields.Nested(ReceiptLineIn), required=True,
                        validate=validate.Length(1, 1000))
    confirm_over_receipt = StrictBoolean(load_default=False, metadata={
        "description": "Take units beyond what a line still awaits; without it such a "
                       "receipt is refused (409 over_receipt) naming each line"})
    reason = Text(200)


class PurchaseOrderListArgs(Schema):
    store_id = Id(query=True)
    status = fields.String(validate=validate.OneOf([*PURCHASE_ORDER_STATUSES, "open"]), metadata={
        "description": "One status, or open (ordered and partly received)"})
    supplier_id = Id(query=True)
    cursor = Text(400, metadata={"description": "next_cursor of a page"})
    limit = QueryInteger(load_default=50, validate=validate.Range(1, 200))


class PurchaseOrderLineOut(Schema):
    id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    title = fields.String(required=True)
    location_id = fields.Integer(required=True)
    location = fields.String(required=True, attribute="location_code")
    ordered_qty = fields.Integer(required=True)
    received_qty = fields.Integer(required=True)
    over_received_qty = fields.Integer(required=True)
    outstanding_qty = fields.Integer(required=True)
    unit_cost = AmountOut(required=True, allow_none=True, metadata={
        "description": "In the order's currency; null without purchasing:manage"})


class PurchaseOrderOut(Schema):
    """An order and its lines. Costs (unit_cost, total, exchange_rate) are null for a
    token that may receive but not buy (purchasing:manage)."""

    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    number = fields.String(required=True)
    supplier_id = fields.Integer(required=True)
    supplier_name = fields.String(required=True)
    status = fields.String(required=True)
    expected_on = fields.Date(required=True, allow_none=True)
    notes = fields.String(required=True, allow_none=True)
    currency = fields.String(required=True)
    exchange_rate = AmountOut(required=True, allow_none=True, metadata={
        "example": "1.082500000", "description": "Store currency per unit of the order's; "
                                                 "null in the store's own currency"})
    total = AmountOut(required=True, allow_none=True)
    version = fields.Integer(required=True)
    created_at = UtcDateTime(required=True)
    created_by_name = fields.String(required=True)
    ordered_at = UtcDateTime(required=True, allow_none=True)
    ordered_by_name = fields.String(required=True, allow_none=True)
    closed_at = UtcDateTime(required=True, allow_none=True)
    closed_by_name = fields.String(required=True, allow_none=True)
    updated_at = UtcDateTime(required=True)
    deliver_to_id = fields.Integer(required=True, allow_none=True)
    deliver_to_code = fields.String(required=True, allow_none=True)
    lines = fields.List(fields.Nested(PurchaseOrderLineOut), required=True)


class PurchaseOrderSummaryOut(Schema):
    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    number = fields.String(required=True)
    supplier_id = fields.Integer(required=True)
    supplier_name = fields.String(required=True)
    status = fields.String(required=True)
    expected_on = fields.Date(required=True, allow_none=True)
    currency = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    line_count = fields.Integer(required=True)
    ordered_qty = fields.Integer(required=True)
    received_qty = fields.Integer(required=True)
    total = AmountOut(required=True, allow_none=True, metadata={
        "description": "null without purchasing:manage"})


class PurchaseOrderPageOut(Schema):
    items = fields.List(fields.Nested(PurchaseOrderSummaryOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class ValuationArgs(Schema):
    store_id = Id(query=True)
    location_id = Id(query=True)


class LocationValueOut(Schema):
    location_id = fields.Integer(required=True)
    location = fields.String(required=True, attribute="location_code")
    name = fields.String(required=True, attribute="location_name")
    entries = fields.Integer(required=True, metadata={"description": "Entries with stock and "
                                                                     "a cost"})
    quantity = fields.Integer(required=True, metadata={"description": "Their units"})
    value = AmountOut(required=True, metadata={"description": "Their units × average cost"})
    uncosted_entries = fields.Integer(required=True, metadata={
        "description": "Entries with stock and no cost yet: not in the value"})
    uncosted_quantity = fields.Integer(required=True)


class StoreValueOut(Schema):
    store_id = fields.Integer(required=True)
    store_name = fields.String(required=True)
    currency = fields.String(required=True)
    entries = fields.Integer(required=True)
    quantity = fields.Integer(required=True)
    value = AmountOut(required=True)
    uncosted_entries = fields.Integer(required=True)
    uncosted_quantity = fields.Integer(required=True)
    locations = fields.List(fields.Nested(LocationValueOut), required=True)


class CurrencyTotalOut(Schema):
    currency = fields.String(required=True)
    value = AmountOut(required=True)
    stores = fields.Integer(required=True)
    uncosted_entries = fields.Integer(required=True)


class ValuationOut(Schema):
    """Stock value: on hand × moving average cost, per store (in its currency) and
    location. Stores keep no exchange rate, so the totals are one per currency."""

    stores = fields.List(fields.Nested(StoreValueOut), required=True)
    totals = fields.List(fields.Nested(CurrencyTotalOut), required=True)
# --------------------------------------------------------------------------- reordering


class ReorderArgs(Schema):
    store_id = Id(query=True)
    location_id = Id(query=True)
    supplier_id = Id(query=True, metadata={"description": "Only lines bought from this "
                                                          "supplier"})
    no_supplier = fields.Boolean(load_default=False, metadata={
        "description": "Only lines that no supplier sells"})
    sort = fields.String(load_default="title", validate=validate.OneOf(REORDER_SORTS),
                         metadata={"description": "Within each supplier's lines"})
    order = fields.String(load_default="asc", validate=validate.OneOf(("asc", "desc")))
    cursor = Text(400, metadata={"description": "next_cursor or prev_cursor of a page"})
    limit = QueryInteger(load_default=50, validate=validate.Range(1, 200))

    @validates_schema
    def _one_supplier_filter(self, data: dict[str, Any], **_: Any) -> None:
        if "supplier_id" in data and data.get("no_supplier"):
            raise ma.ValidationError("Give supplier_id or no_supplier, not both.",
                                     "no_supplier")


class ReorderSupplierOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    supplier_sku = fields.String(required=True, allow_none=True)
    currency = fields.String(required=True)
    lead_time_days = fields.Integer(required=True)
    unit_cost = fields.Decimal(required=True, as_string=True, allow_none=True, metadata={
        "description": "What the supplier charges a unit, in its currency (the draft's "
                       "cost); null unless the user may buy in the store (purchasing:manage)"})
    last_cost = fields.Decimal(required=True, as_string=True, allow_none=True, metadata={
        "description": "What the last placed order from this supplier paid a unit; null "
                       "when none was placed, or for a user who may not buy in the store"})
    pack_size = fields.Integer(required=True)
    min_order_qty = fields.Integer(required=True)


class ReorderSuggestionOut(Schema):
    entry_id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    store_name = fields.String(required=True)
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    title = fields.String(required=True)
    location_id = fields.Integer(required=True)
    location = fields.String(required=True)
    quantity = fields.Integer(required=True)
    reserved_quantity = fields.Integer(required=True)
    available_quantity = fields.Integer(required=True)
    incoming_quantity = fields.Integer(required=True, metadata={
        "description": "What open purchase orders bring here"})
    on_draft_quantity = fields.Integer(required=True, metadata={
        "description": "What draft purchase orders bring here; it counts as coming"})
    reorder_point = fields.Integer(required=True)
    reorder_point_from = fields.String(required=True, validate=validate.OneOf(
        ("location", "product")), metadata={
        "description": "location: the entry's low-stock threshold; product: its reorder point"})
    reorder_quantity = fields.Integer(required=True)
    reorder_up_to = fields.Integer(required=True, metadata={
        "description": "The variant's order-up-to level; 0 when not set"})
    shortfall = fields.Integer(required=True, metadata={
        "description": "reorder_point - (available + incoming + on draft)"})
    suggested_quantity = fields.Integer(required=True, metadata={
        "description": "reorder_up_to - (available + incoming + on draft) when reorder_up_to "
                       "is above reorder_point, else the reorder quantity, at least "
                       "shortfall + 1; then at least the supplier's minimum, in whole packs"})
    supplier = fields.Nested(ReorderSupplierOut, required=True, allow_none=True, metadata={
        "description": "The preferred supplier, else the cheapest; null when none sells it"})


class ReorderPageOut(Schema):
    items = fields.List(fields.Nested(ReorderSuggestionOut), required=True, metadata={
        "description": "Grouped by supplier name (no supplier last), then the sort"})
    total = fields.Integer(required=True)
    total_capped = fields.Boolean(required=True, metadata={
        "description": "true when there are more lines than total counted"})
    next_cursor = fields.String(required=True, allow_none=True)
    prev_cursor = fields.String(required=True, allow_none=True)


class ReorderLineIn(Schema):
    product_id = Id(required=True)
    location_id = Id(required=True)
    expected_quantity = Whole(1, metadata={
        "description": "The suggested_quantity seen: refused (409) if the suggestion is now "
                       "another"})


class ReorderOrdersIn(Schema):
    store_id = Id(metadata={"description": "Needed when the token's user is in several stores"})
    lines = fields.List(fields.Nested(ReorderLineIn), required=True,
                        validate=validate.Length(1, MAX_REORDER_LINES))


class DraftLineOut(Schema):
    id = fields.Integer(required=True)
    product_id = fields.Integer(required=True)
    sku = fields.String(required=True)
    title = fields.String(required=True)
    location_id = fields.Integer(required=True)
    location = fields.String(required=True)
    ordered_quantity = fields.Integer(required=True)
    unit_cost = fields.Decimal(required=True, as_string=True)


class DraftOrderOut(Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    status = fields.String(required=True)
    store_id = fields.Integer(required=True)
    supplier_id = fields.Integer(required=True)
    supplier_name = fields.String(required=True)
    currency = fields.String(required=True)
    total = fields.Decimal(required=True, as_string=True)
    lines = fields.List(fields.Nested(DraftLineOut), required=True)


class DraftOrdersOut(Schema):
    purchase_orders = fields.List(fields.Nested(DraftOrderOut), required=True, metadata={
        "description": "One draft per supplier and destination location"})


class EventsArgs(Schema):
    store_id = Id(query=True, metadata={
        "description": "Whose events; needed when the token's user belongs to several stores"})
    after = QueryInteger(load_default=0, validate=validate.Range(0, 2**63 - 1), metadata={
        "description": "The last sequence number already handled; 0 from the start"})
    limit = QueryInteger(load_default=100, validate=validate.Range(1, 1000))


class EventOut(Schema):
    id = fields.String(required=True, metadata={
        "description": "The same in every delivery of the event (webhook-id in webhooks)"})
    type = fields.String(required=True, metadata={"description": ", ".join(EVENT_TYPES)})
    store_id = fields.Integer(required=True)
    sequence = fields.Integer(required=True, metadata={
        "description": "1, 2, 3 … per store, without a gap, in commit order"})
    timestamp = fields.String(required=True)
    data = fields.Dict(required=True, metadata={
        "description": "Stock events: entry_id, product_id, sku, title, location_id, "
                       "location, and for a ledger row movement_id, movement_type, "
                       "quantity_before/after, reserved_before/after, "
                       "available_before/after, reason, reference, actor; crossings add "
                       "status and low_stock_threshold"})


class EventPageOut(Schema):
    store_id = fields.Integer(required=True)
    events = fields.List(fields.Nested(EventOut), required=True)
    next_after = fields.Integer(required=True, metadata={
        "description": "Send as `after` for the next page: the last sequence here"})
    has_more = fields.Boolean(required=True)


class WebhookFieldsIn(Schema):
    url = fields.String(required=True, validate=validate.Length(1, 2048), metadata={
        "description": "https only in production; no inner addresses unless allowed by "
                       "WEBHOOKS_ALLOWED_HOSTS", "example": "https://example.com/hooks"})
    description = fields.String(load_default="", validate=validate.Length(0, 200))
    event_types = fields.List(
        fields.String(validate=validate.OneOf(EVENT_TYPES)), load_default=list,
        validate=validate.Length(0, len(EVENT_TYPES)),
        metadata={"description": "Which events to send; empty or left out: every event"})


class WebhookCreateIn(WebhookFieldsIn):
    store_id = Id(metadata={"description": "Needed when the token's user is in several stores"})


class WebhookListArgs(Schema):
    store_id = Id(query=True)


class WebhookOut(Schema):
    id = fields.Integer(required=True)
    store_id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(required=True)
    event_types = fields.List(fields.String(), required=True, metadata={
        "description": "Empty: every event"})
    enabled = fields.Boolean(required=True)
    failing_since = fields.DateTime(required=True, allow_none=True)
    disabled_reason = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    created_by = fields.String(required=True)
    pending = fields.Integer(required=True, metadata={"description": "Deliveries waiting"})
    dead = fields.Integer(required=True, metadata={
        "description": "Deliveries given up on after a day of failures"})


class WebhookWithSecretOut(WebhookOut):
    secret = fields.String(required=True, metadata={
        "description": "The signing secret (whsec_…), shown in this answer only"})


class WebhookListOut(Schema):
    items = fields.List(fields.Nested(WebhookOut), required=True)


class WebhookEnabledIn(Schema):
    enabled = StrictBoolean(required=True)


class DeliveryArgs(Schema):
    before = Id(query=True, metadata={
        "description": "The next_before of the previous page; left out: the newest"})


class DeliveryOut(Schema):
    id = fields.Integer(required=True)
    event_id = fields.String(required=True, metadata={
        "description": "The webhook-id header, the same in every delivery of the event"})
    event_type = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "description": "pending, succeeded or dead"})
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(required=True, allow_none=True)
    last_attempt_at = fields.DateTime(required=True, allow_none=True)
    response_code = fields.Integer(required=True, allow_none=True)
    duration_ms = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)


class DeliveryPageOut(Schema):
    deliveries = fields.List(fields.Nested(DeliveryOut), required=True)
    next_before = fields.Integer(required=True, allow_none=True)
