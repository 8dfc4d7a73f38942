"""Checks on the primitives a service function receives; all field errors at once."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from app.services.errors import ValidationError

LIMIT = 1_000_000_000
LIMIT_TEXT = "1,000,000,000"
MAX_ID = 2**31 - 1  # primary keys are 32-bit integers on PostgreSQL


def is_id(value: Any) -> bool:
    """Whether `value` can be a row id: a plain int (never a bool) within the key's range.
    Anything else would reach the database as a wrong type or an overflow."""
    return type(value) is int and 0 < value <= MAX_ID


class Checker:
    """Collects field errors and raises one ValidationError naming every bad field."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def fail(self, field: str, message: str) -> None:
        self.errors.setdefault(field, message)

    def whole(
        self, field: str, value: Any, *, minimum: int = -LIMIT, nonzero: bool = False
    ) -> None:
        if type(value) is not int:
            self.fail(field, "Enter a whole number.")
        elif not -LIMIT <= value <= LIMIT:
            self.fail(field, f"Must be between -{LIMIT_TEXT} and {LIMIT_TEXT}.")
        elif value < minimum:
            self.fail(field, f"Must be at least {minimum}." if minimum else "Must not be negative.")
        elif nonzero and value == 0:
            self.fail(field, "Must not be zero.")

    def optional_whole(self, field: str, value: Any, *, minimum: int = 0) -> None:
        if value is not None:
            self.whole(field, value, minimum=minimum)

    def text(
        self, field: str, value: Any, *, required: bool, max_length: int
    ) -> None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail(field, "This field is required.")
            return
        if not isinstance(value, str):
            self.fail(field, "Enter text.")
        elif len(value.strip()) > max_length:
            self.fail(field, f"Must be at most {max_length} characters.")
        elif any(unicodedata.category(ch) == "Cc" for ch in value):
            self.fail(field, "Must not contain control characters.")

    def moment(self, field: str, value: Any, *, after: datetime | None = None) -> None:
        if value is None:
            return
        if not isinstance(value, datetime) or value.tzinfo is not None:
            self.fail(field, "Enter a date and time (UTC).")
        elif after is not None and value <= after:
            self.fail(field, "Must be in the future.")

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)


def clean_text(value: str | None) -> str | None:
    """Strip surrounding whitespace; empty becomes None."""
    if value is None:
        return None
    value = value.strip()
    return value or None
