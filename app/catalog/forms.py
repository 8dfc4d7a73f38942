"""Forms of the catalog screens: locations, products, items, and stocking a product somewhere."""

from __future__ import annotations

from wtforms import BooleanField, Field, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, StopValidation

from app.models import PRODUCT_TYPES
from app.services.catalog import gtin_problem
from app.services.validation import ascii_strip
from app.web.fields import WholeNumberField
from app.web.forms import Form

TYPE_LABELS = {
    "physical": "Physical — counted stock",
    "digital": "Digital — unlimited",
    "service": "Service — unlimited",
    "subscription": "Subscription — unlimited",
}


class NewLocationForm(Form):
    code = StringField(
        "Code", validators=[DataRequired("Enter a code, like WAREHOUSE_A."), Length(max=64)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
    name = StringField("Name (optional)", validators=[Optional(), Length(max=120)])


class RenameLocationForm(Form):
    name = StringField("Name", validators=[Optional(), Length(max=120)])


class ConfirmForm(Form):
    """A destructive or state-changing button: the CSRF token is all it carries."""


class LocationOrderField(Field):
    """A channel's locations in order: one select per position, all sent under the same
    name; the positions left blank are skipped. `data` is the chosen ids as text, in order;
    `ids` the same as numbers once validated."""

    def __init__(self, label: str | None = None, **kwargs: object) -> None:
        super().__init__(label, default=list, **kwargs)  # type: ignore[arg-type]
        self.ids: list[int] = []

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = [v for v in valuelist if ascii_strip(v)]

    def pre_validate(self, form: object) -> None:
        self.ids = []
        for raw in self.data or ():
            text = ascii_strip(raw)
            if not text.isascii() or not text.isdigit() or len(text) > 10:
                raise StopValidation("Choose locations from the list.")
            self.ids.append(int(text))


class ChannelForm(Form):
    """A new sales channel. The fields' ids are their own: the page also holds the form
    that adds a location, with its own Code and Name."""

    code = StringField(
        "Channel code", id="channel-code",
        validators=[DataRequired("Enter a code, like WEB_SHOP."), Length(max=40)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
    name = StringField("Channel name (optional)", id="channel-name",
                       validators=[Optional(), Length(max=120)])
    locations = LocationOrderField("Sells from, in this order", id="channel-locations")
    allow_split = BooleanField("Split a line across these locations when no single one "
                               "covers it", id="channel-allow_split")


class ChannelEditForm(Form):
    """A channel's name, locations and splitting; its code stays."""

    name = StringField("Channel name (optional)", id="edit-channel-name",
                       validators=[Optional(), Length(max=120)])
    locations = LocationOrderField("Sells from, in this order", id="edit-channel-locations")
    allow_split = BooleanField("Split a line across these locations when no single one "
                               "covers it", id="edit-channel-allow_split")


class ProductForm(Form):
    sku = StringField(
        "SKU", validators=[DataRequired("Enter a SKU."), Length(max=64)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    title = StringField("Title", validators=[DataRequired("Enter a title."), Length(max=200)])
    gtin = StringField(
        "GTIN (optional)", validators=[Optional()],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    product_type = SelectField(
        "Type", choices=[SelectChoice(t, TYPE_LABELS[t]) for t in PRODUCT_TYPES],
        default="physical", validate_choice=False,
    )
    allow_backorder = BooleanField("Allow backorders (keep selling when nothing is available)")
    reorder_point = WholeNumberField("Reorder point", minimum=0, default="0")
    reorder_quantity = WholeNumberField("Reorder quantity", minimum=0, default="0")
    reorder_up_to = WholeNumberField("Order up to", minimum=0, required=False, default="0")

    def validate_gtin(self, field: Field) -> None:
        # The same words the service uses, shown beside the field before it is called.
        problem = gtin_problem((field.data or "").strip()) if (field.data or "").strip() else None
        if problem:
            raise StopValidation(problem)


class StockEntryForm(Form):
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=200)])
    location_id = SelectField("Location", choices=[], validate_choice=False)
    quantity = WholeNumberField("Opening stock on hand", minimum=0, default="0")
    low_stock_threshold = WholeNumberField("Low-stock threshold (0 turns it off)", minimum=0,
                                           default="0")
    # Checked by the service (app.services.money), which names the field.
    unit_cost = StringField("Unit cost (optional)",
                            render_kw={"inputmode": "decimal", "autocomplete": "off"})
    reason = StringField("Reason (optional)", validators=[Optional(), Length(max=200)])


class ItemForm(Form):
    """A new item and its variants, made from every combination of its options' values."""

    title = StringField("Title", validators=[DataRequired("Enter a title."), Length(max=200)])
    # Long enough for three options of many values; parse_options reads it line by line.
    options = TextAreaField(
        "Options (optional)", validators=[Optional(), Length(max=4000)],
        render_kw={"rows": 4, "spellcheck": "false"},
    )
    sku_prefix = StringField(
        "SKU prefix", validators=[DataRequired("Enter a SKU prefix, like PRK."), Length(max=64)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
    product_type = SelectField(
        "Type", choices=[SelectChoice(t, TYPE_LABELS[t]) for t in PRODUCT_TYPES],
        default="physical", validate_choice=False,
    )
    allow_backorder = BooleanField("Allow backorders (keep selling when nothing is available)")
    reorder_point = WholeNumberField("Reorder point", minimum=0, default="0")
    reorder_quantity = WholeNumberField("Reorder quantity", minimum=0, default="0")
    reorder_up_to = WholeNumberField("Order up to", minimum=0, required=False, default="0")


class OptionValueForm(Form):
    """One more value for one of an item's options, and the variants it makes."""

    option = SelectField("Option", choices=[], validate_choice=False)
    value = StringField("New value", validators=[DataRequired("Enter the new value."),
                                                 Length(max=60)])
    sku_prefix = StringField(
        "SKU prefix", validators=[DataRequired("Enter a SKU prefix."), Length(max=64)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )


class BundleForm(Form):
    components = TextAreaField(
        "Components", validators=[Optional(), Length(max=2000)],
        render_kw={"rows": 4, "spellcheck": "false", "autocomplete": "off"},
    )


class RenameItemForm(Form):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)],
                        render_kw={"autocomplete": "off"})
