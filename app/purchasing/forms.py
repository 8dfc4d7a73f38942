"""Forms of the purchasing screens: suppliers and what they sell, purchase orders and their
lines. Amounts are read by the service (app.services.money), which names a bad one beside
its field; ids and dates are read here, strictly."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.services.validation import ascii_strip, parse_id
from app.web.fields import WholeNumberField
from app.web.forms import Form

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
FIRST_YEAR, LAST_YEAR = 2000, 2099
CODE_KW = {"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
           "enterkeyhint": "go"}
AMOUNT_KW = {"inputmode": "decimal", "autocomplete": "off"}


class DayField(StringField):
    """A calendar day typed as the browser's date picker sends it (2026-05-31); blank is
    none. `day` holds it once validated."""

    def __init__(self, label: str | None = None, **kwargs: Any) -> None:
        render_kw = {"type": "date", **kwargs.pop("render_kw", {})}
        super().__init__(label, render_kw=render_kw, **kwargs)
        self.day: date | None = None

    def pre_validate(self, form: Any) -> None:
        text = ascii_strip(self.data or "")
        self.day = None
        if not text:
            return
        if not _DAY.fullmatch(text):
            raise ValidationError("Enter a date, like 2026-05-31.")
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValidationError("Enter a real date, like 2026-05-31.") from None
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ValidationError(f"Enter a date between {FIRST_YEAR} and {LAST_YEAR}.")
        self.day = day


class ChoiceIdField(SelectField):
    """A select of rows by id, its options set by the view; `id` holds the chosen one once
    validated (None when the first, empty option is chosen and the field is optional)."""

    def __init__(self, label: str | None = None, *, message: str, required: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(label, choices=[], validate_choice=False, **kwargs)
        self.message = message
        self.required = required
        self.id_value: int | None = None

    def pre_validate(self, form: Any) -> None:
        text = ascii_strip(self.data or "")
        self.id_value = None
        if not text:
            if self.required:
                raise ValidationError(self.message)
            return
        value = parse_id(text)
        if value is None:
            raise ValidationError(self.message)
        self.id_value = value


class VersionField(HiddenField):
    """The version of the order the form was drawn from: a change made since then is
    refused rather than overwritten. `number` holds it once validated."""

    def __init__(self, label: str | None = "Version", **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        # Drawn and summed up as any hidden field is (_forms.html, catalog/_form_errors.html
        # tell hidden fields by their type): its error is named in the summary.
        self.type = "HiddenField"
        self.number: int | None = None

    def pre_validate(self, form: Any) -> None:
        text = ascii_strip(self.data or "")
        self.number = None
        if not text:
            return
        value = parse_id(text)
        if value is None:
            raise ValidationError("This form is out of date: reload the page.")
        self.number = value


def amount_text(field: Any) -> str | None:
    """What an amount field holds, for the service to read (blank: none)."""
    return ascii_strip(field.data or "") or None


class SupplierForm(Form):
    name = StringField("Name", validators=[DataRequired("Enter the supplier's name.")],
                       render_kw={"autocomplete": "organization"})
    contact_name = StringField("Contact (optional)", render_kw={"autocomplete": "name"})
    email = StringField("Email (optional)",
                        render_kw={"type": "email", "autocomplete": "email",
                                   "spellcheck": "false"})
    phone = StringField("Phone (optional)", render_kw={"type": "tel", "autocomplete": "tel"})
    currency = StringField("Currency", render_kw={
        "autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
        "maxlength": "3", "size": "4"})
    lead_time_days = WholeNumberField("Lead time (days)", minimum=0, default="0")
    notes = TextAreaField("Notes (optional)", validators=[Optional()], render_kw={"rows": 3})


class SupplierItemForm(Form):
    """What a supplier sells a variant for; `code` (a SKU or GTIN, typed or scanned) names
    the variant when adding one."""

    code = StringField("SKU or GTIN", render_kw=CODE_KW)
    unit_cost = StringField("Unit cost", render_kw=AMOUNT_KW)
    supplier_sku = StringField("Supplier's SKU (optional)",
                               render_kw={"autocomplete": "off", "spellcheck": "false"})
    pack_size = WholeNumberField("Pack size", minimum=1, default="1")
    min_order_qty = WholeNumberField("Minimum order", minimum=0, default="0")
    preferred = BooleanField("Preferred supplier of this variant")


class CurrencyForm(Form):
    currency = StringField("Currency", render_kw={
        "autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
        "maxlength": "3", "size": "4"})


class OrderForm(Form):
    """A new draft: who it goes to, where it arrives, when."""

    idempotency_key = HiddenField("Request", validators=[
        DataRequired("This form is out of date: reload the page."),
        Length(max=200, message="This form is out of date: reload the page.")])
    supplier_id = ChoiceIdField("Supplier", message="Choose a supplier from the list.")
    location_id = ChoiceIdField("Deliver to", message="Choose a location from the list.")
    expected_on = DayField("Expected on (optional)")
    exchange_rate = StringField("Exchange rate (optional)", render_kw=AMOUNT_KW)
    notes = TextAreaField("Notes (optional)", validators=[Optional()], render_kw={"rows": 3})


class OrderDetailsForm(Form):
    expected_version = VersionField()
    expected_on = DayField("Expected on (optional)")
    exchange_rate = StringField("Exchange rate (optional)", render_kw=AMOUNT_KW)
    notes = TextAreaField("Notes (optional)", validators=[Optional()], render_kw={"rows": 3})


class LineForm(Form):
    """A line added to a draft by its code, as a scanner types it: blank quantity and cost
    take the supplier's (its minimum in whole packs, its cost on record)."""

    code = StringField("Scan or type a SKU or GTIN", render_kw=CODE_KW)
    quantity = WholeNumberField("Quantity (optional)", minimum=1, required=False)
    unit_cost = StringField("Unit cost (optional)", render_kw=AMOUNT_KW)
    location_id = ChoiceIdField("Deliver to", message="Choose a location from the list.")


class LineEditForm(Form):
    expected_version = VersionField()
    quantity = WholeNumberField("Quantity", minimum=1)
    unit_cost = StringField("Unit cost", render_kw=AMOUNT_KW)


class OrderActionForm(Form):
    """Placing or cancelling an order: what the dialog showed, and a key that applies a
    double click once."""

    idempotency_key = HiddenField("Request", validators=[
        DataRequired("This form is out of date: reload the page."),
        Length(max=200, message="This form is out of date: reload the page.")])
    expected_version = VersionField()
    reason = StringField("Reason (optional)")


class ConfirmForm(Form):
    """A button that changes something: the CSRF token is all it carries."""
