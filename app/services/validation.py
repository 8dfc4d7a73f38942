"""Checks on the primitives a service function receives; all field errors at once."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from app.services.errors import ValidationError

LIMIT = 1_000_000_000
LIMIT_TEXT = "1,000,000,000"
MAX_ID = 2**31 - 1  # primary keys are 32-bit integers on PostgreSQL

# Characters no field of Stockroom holds: C0 controls but tab and line breaks, DEL, C1
# controls, and UTF-16 surrogates (a JSON "\ud800" decodes to one; no encoder can write it).
# PostgreSQL refuses NUL in text outright, so one of these reaching a query is a 500 there.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
ASCII_SPACE = " \t\n\r\f\v"


def unsafe_character(value: str) -> str | None:
    """Why `value` cannot be taken as text, naming the first offending character, or None."""
    found = _UNSAFE.search(value)
    if found is None:
        return None
    char = found.group()
    kind = "unpaired surrogates" if "\ud800" <= char <= "\udfff" else "control characters"
    return f"Must not contain {kind} (found U+{ord(char):04X})."


def printable(name: str) -> str:
    """A field name fit to show and log: unsafe characters written as escapes."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", name)


MAX_JSON_DEPTH = 32  # the deepest request body Stockroom reads nests 4 levels


def json_problem(document: Any) -> tuple[str, str] | None:
    """The first (field, problem) of a decoded JSON document: a string or key no field can
    hold, or nesting beyond MAX_JSON_DEPTH. Fields are named as the API names them
    (`lines[0].line_ref`); the walk keeps its own stack, so depth costs no recursion."""
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return "body", f"Nests deeper than {MAX_JSON_DEPTH} levels."
        if isinstance(node, str):
            problem = unsafe_character(node)
            if problem:
                return printable(path) or "body", problem
        elif isinstance(node, dict):
            for key, item in reversed(list(node.items())):
                name = f"{path}.{key}" if path else str(key)
                problem = unsafe_character(str(key))
                if problem:
                    return printable(name), "The field name " + problem[0].lower() + problem[1:]
                stack.append((item, name, depth + 1))
        elif isinstance(node, list):
            stack.extend((item, f"{path}[{n}]", depth + 1)
                         for n, item in reversed(list(enumerate(node))))
    return None


def parse_id(text: str) -> int | None:
    """A row id typed in a URL or a form: ASCII digits (ASCII spaces around them) naming a key
    in range, else None. int() would take "５", "1_0" and "1\u00a0"."""
    text = ascii_strip(text)
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def ascii_strip(value: str) -> str:
    """`value` without the ASCII whitespace around it. str.strip() would also take a no-break
    or figure space, so "1\u00a0" would read as the number 1."""
    return value.strip(ASCII_SPACE)


def identifier(value: str) -> str:
    """An identifier (SKU, location code, email) as stored and looked up: NFKC-normalised, so
    full-width "ＭＵＧ" and "MUG" are one SKU, without the whitespace around it."""
    return unicodedata.normalize("NFKC", value).strip()


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
