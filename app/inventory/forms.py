"""One form per stock action; each carries an idempotency key so a double submit applies once."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.web.fields import WholeNumberField
from app.web.forms import Form


class ActionForm(Form):
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class AdjustStockForm(ActionForm):
    delta = WholeNumberField("Change (+ adds, − removes)", nonzero=True)
    reason = StringField("Reason", validators=[DataRequired(), Length(max=200)])
    reference = StringField("Reference (optional)", validators=[Optional(), Length(max=100)])


class SetStockForm(ActionForm):
    quantity = WholeNumberField("New on hand", minimum=0)
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=200)])
    expected_version = HiddenField()


class CountStockForm(ActionForm):
    counted_quantity = WholeNumberField("Counted quantity", minimum=0)
    reason = StringField("Notes (optional)", validators=[Optional(), Length(max=200)])
    expected_version = HiddenField()


class ReserveStockForm(ActionForm):
    quantity = WholeNumberField("Quantity", minimum=1)
    order_ref = StringField("Order reference", validators=[DataRequired(), Length(max=100)])
    line_ref = StringField("Line reference (optional)", validators=[Optional(), Length(max=100)])
    hold_minutes = WholeNumberField("Hold for minutes (optional)", minimum=1, required=False)


class CloseHoldForm(ActionForm):
    reservation_id = SelectField("Reservation", choices=[], validate_choice=False)
    quantity = WholeNumberField("Quantity (blank: all of the reservation)", minimum=1,
                                required=False)
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=200)])


class ReturnStockForm(ActionForm):
    quantity = WholeNumberField("Quantity returned", minimum=1)
    reason = StringField("Reason", validators=[DataRequired(), Length(max=200)])
    reference = StringField("Reference (optional)", validators=[Optional(), Length(max=100)])


class TransferStockForm(ActionForm):
    to_location_id = SelectField("To location", choices=[], validate_choice=False)
    quantity = WholeNumberField("Quantity", minimum=1)
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=200)])


class ThresholdForm(ActionForm):
    low_stock_threshold = WholeNumberField("Low-stock threshold (0 turns it off)", minimum=0)


class DeleteEntryForm(ActionForm):
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=200)])


class BulkForm(Form):
    """A bulk action's values; the selection (entry ids or the overview's filters) travels
    beside them as plain fields, read by app.inventory.bulk."""

    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class BulkAdjustForm(BulkForm):
    delta = WholeNumberField("Change for every entry (+ adds, − removes)", nonzero=True)
    reason = StringField("Reason", validators=[DataRequired(), Length(max=200)])
    reference = StringField("Reference (optional)", validators=[Optional(), Length(max=100)])


class BulkThresholdForm(BulkForm):
    low_stock_threshold = WholeNumberField("Low-stock threshold for every entry (0 turns it off)",
                                           minimum=0)


class MoveReservationForm(ActionForm):
    location_id = SelectField("Move to location", choices=[], validate_choice=False)
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=200)])
