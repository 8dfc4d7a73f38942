"""Form fields that parse the way the service layer expects: strictly."""

from __future__ import annotations

import re
from typing import Any

from wtforms import StringField
from wtforms.validators import ValidationError

from app.services.validation import LIMIT, LIMIT_TEXT, ascii_strip

# ASCII digits only: int() would also accept "５" and "1_000". Commas only as thousands
# separators: "1,5" is one and a half to half the world, never fifteen.
_WHOLE = re.compile(r"[+-]?(?:[0-9]{1,10}|[1-9][0-9]{0,2}(?:,[0-9]{3}){1,3})", re.ASCII)


class WholeNumberField(StringField):
    """A whole number within ±1,000,000,000, typed in a text box with a numeric keypad."""

    def __init__(self, label: str | None = None, validators: Any = None, *, minimum: int = -LIMIT,
                 required: bool = True, nonzero: bool = False, **kwargs: Any) -> None:
        render_kw = {"inputmode": "numeric", "autocomplete": "off", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.minimum = minimum
        self.required = required
        self.nonzero = nonzero
        self.number: int | None = None

    def pre_validate(self, form: Any) -> None:
        text = ascii_strip(self.data or "")
        self.number = None
        if not text:
            if self.required:
                raise ValidationError("Enter a whole number.")
            return
        if not _WHOLE.fullmatch(text):
            raise ValidationError("Enter a whole number, like 12.")
        value = int(text.replace(",", ""))
        if not -LIMIT <= value <= LIMIT:
            raise ValidationError(f"Must be between -{LIMIT_TEXT} and {LIMIT_TEXT}.")
        if value < self.minimum:
            raise ValidationError(
                f"Must be at least {self.minimum}." if self.minimum else "Must not be negative."
            )
        if self.nonzero and value == 0:
            raise ValidationError("Must not be zero.")
        self.number = value
