"""Forms of the stores administration; the store service decides what is valid."""

from __future__ import annotations

from wtforms import HiddenField, StringField

from app.web.forms import Form


class StoreActionForm(Form):
    next = HiddenField()


class CreateStoreForm(StoreActionForm):
    name = StringField("Name", render_kw={"autocomplete": "off"})
    slug = StringField("Slug", render_kw={"autocomplete": "off",
                                          "autocapitalize": "none", "spellcheck": "false"})


class RenameStoreForm(StoreActionForm):
    name = StringField("New name", render_kw={"autocomplete": "off"})


class ConfirmStoreForm(StoreActionForm):
    """Archive and unarchive: the dialog says what happens, the button is the second click."""
