"""Forms of the account pages. The token service decides validity; these only parse."""

from __future__ import annotations

from wtforms import BooleanField, DateField, RadioField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.permissions import (
    ADJUST,
    AUDIT,
    CATALOG,
    DELETE,
    MEMBERS,
    PURCHASING,
    READ,
    RECEIVE,
    RESERVE,
    THRESHOLD,
    WEBHOOKS,
)
from app.web.forms import Form

PERMISSION_LABELS: dict[str, str] = {
    READ: "Read stock (every token can)",
    ADJUST: "Adjust stock (adjust, set, count, transfer, return)",
    RESERVE: "Reserve stock (reserve, release, fulfill)",
    THRESHOLD: "Set low-stock thresholds",
    DELETE: "Delete inventory entries",
    CATALOG: "Manage products and locations",
    MEMBERS: "Manage members",
    AUDIT: "Read the movements log",
    RECEIVE: "Receive stock against purchase orders",
    PURCHASING: "Manage suppliers and purchase orders",
    WEBHOOKS: "Manage webhooks",
}
EXPIRY_DAYS = {"30": 30, "90": 90, "365": 365}
EXPIRY_CHOICES = [SelectChoice(value, label) for value, label in (
    ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year"), ("date", "On a date"),
    ("never", "Never"))]
ACCESS_CHOICES = [SelectChoice(value, label) for value, label in (
    ("all", "Everything you may do"), ("read", "Read only"),
    ("chosen", "Only the permissions chosen below"))]
PERMISSION_CHOICES = [SelectChoice(value, label) for value, label in PERMISSION_LABELS.items()]
SCAN_CHOICES = [SelectChoice(value, label) for value, label in (
    ("entry", "Open its page"),
    ("adjust", "Open Adjust (where you may adjust stock; else its page)"))]


class CreateTokenForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    expiry = RadioField("Expires", choices=EXPIRY_CHOICES, default="90")
    expires_on = DateField("Expiry date (UTC)", validators=[Optional()])
    # The choices are the user's stores, set by the view; an id outside them is refused.
    stores = SelectMultipleField("Stores", coerce=int, choices=[])
    access = RadioField("Permissions", choices=ACCESS_CHOICES, default="all")
    permissions = SelectMultipleField("Permissions", choices=PERMISSION_CHOICES)
    platform_admin = BooleanField("Act as platform admin (every store, when not limited above)",
                                  default=True)


class RevokeTokenForm(Form):
    """Carries only the CSRF token: revoking is a POST."""


class ScanSettingForm(Form):
    """What a scan naming exactly one entry in the overview's scope opens."""

    scan_opens = RadioField("When a scan finds one entry", choices=SCAN_CHOICES)


class AlertSettingsForm(Form):
    """How the user hears about each store: the choices are posted as mode-<store id>,
    one per store the page lists, and checked by the alerts service."""


class MarkReadForm(Form):
    """Marks the bell's alerts read (CSRF only)."""
