"""Classes of hostile values, and which of them each kind of field must refuse.

A class is refused ("bad") for a kind of field when no value of it can be right there: a
control character anywhere, a value longer than any field, "５" or "1.5" in a whole number.
Other classes are text someone could mean (HTML in a reason, "１" in a title): the field may
take them, and then the response must show them escaped. Every value is derived from the
field's valid value, so "inside and around" a value is tested, not only alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MISSING = object()  # the field left out of the request altogether


@dataclass(frozen=True)
class Raw:
    """Bytes sent as they are in a form-encoded body (already %-escaped): a lone surrogate
    cannot travel through UTF-8, so its three bytes go raw and arrive as U+FFFD."""

    escaped: str


# Characters no field takes: C0 controls (not tab or line breaks), DEL, C1 controls.
CONTROLS = ["\x00", "\x0b", "\x1b", "\x7f", "\x85"]

MARKUP = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '" hx-post="/x',
          "{{7*7}}"]
SQL = ["'; DROP TABLE stock_movements; --", "1 OR 1=1", "1; DELETE FROM inventory_entries"]


def _around(valid: str, c: str) -> list[str]:
    middle = len(valid) // 2
    return [f"{c}{valid}", f"{valid}{c}", f"{valid[:middle]}{c}{valid[middle:]}"]


def control(valid: str) -> list[Any]:
    values = _around(valid, "\x00")
    values += [f"{valid}{c}" if n % 2 else f"{c}{valid}" for n, c in enumerate(CONTROLS[1:])]
    return values


def surrogate(valid: str) -> list[Any]:
    from urllib.parse import quote

    base = quote(valid, safe="")
    return [Raw("%ED%A0%80"), Raw(f"{base}%ED%B0%80"), Raw(f"{base}%FF")]


def overlong(valid: str) -> list[Any]:
    # Both past the 10,000 characters the boundary lets any form value have.
    return ["x" * 10_240, (valid or "x") * (100_000 // max(len(valid), 1) + 1)]


def foreign_digits(valid: str) -> list[Any]:
    return ["５", "1\u00a0", "\u20071", "1١"]


def huge(valid: str) -> list[Any]:
    return [str(2**63), str(10**30), str(-(2**63))]


def floats(valid: str) -> list[Any]:
    return ["1.5", "1e3", "NaN", "0x10"]


def bad_signs(valid: str) -> list[Any]:
    return ["--1", "+-1"]


def signs(valid: str) -> list[Any]:
    """Signs a whole number may carry: "+1" is 1, "-1" is minus one."""
    return ["+1", "-1"]


def markup(valid: str) -> list[Any]:
    return [MARKUP[0], MARKUP[2], f"{valid}{MARKUP[1]}"]


def sql(valid: str) -> list[Any]:
    return [SQL[0], f"{valid}' OR '1'='1"]


def empty(valid: str) -> list[Any]:
    return ["", MISSING]


def blank(valid: str) -> list[Any]:
    return [" \t"]


CLASSES = {
    "control": control, "surrogate": surrogate, "overlong": overlong,
    "foreign_digits": foreign_digits, "huge": huge, "float": floats, "bad_sign": bad_signs,
    "sign": signs, "markup": markup, "sql": sql, "empty": empty, "blank": blank,
    "foreign": lambda valid: [],  # a case supplies another store's ids for its id fields
}

# Which classes a kind of field must refuse; every other class it may take or refuse.
ALWAYS = {"control", "overlong"}
NOT_NUMBERS = {"foreign_digits", "huge", "float", "bad_sign", "markup", "sql", "surrogate"}
BAD: dict[str, set[str]] = {
    "text": ALWAYS | {"empty", "blank"},  # required free text: a reason, a title
    "optional_text": ALWAYS,
    "identifier": ALWAYS | {"empty", "blank"},  # a SKU, code, slug or email
    "number": ALWAYS | NOT_NUMBERS | {"empty", "blank"},
    "optional_number": ALWAYS | NOT_NUMBERS,
    "id": ALWAYS | NOT_NUMBERS | {"empty", "blank", "sign", "foreign"},
    "optional_id": ALWAYS | NOT_NUMBERS | {"sign", "foreign"},
    "key": ALWAYS | {"empty", "blank"},  # an idempotency key
    "choice": ALWAYS,  # a select: the service refuses what is not offered, or ignores it
    "flag": ALWAYS,  # a checkbox: any value is "on"
    "password": ALWAYS,
    "next": ALWAYS,  # where to go after: anything unsafe is dropped, not refused
    "unread": {"overlong"},  # a field no form declares: ignored, but not unboundedly long
}


# The classes whose fate can turn on the database: what reaches storage (control characters,
# surrogates, overlong text, huge numbers and signs, SQL) and another store's ids, which each
# database must refuse, keep or convert by its own rules. The others (foreign digits, floats,
# bad signs, markup, empty and blank) are refused, or escaped, the same way before any
# statement runs: a form route sends them once, on PostgreSQL, the production database.
REACH_STORAGE = frozenset({"control", "surrogate", "overlong", "huge", "sign", "sql",
                           "foreign"})


def values_for(kind: str, valid: str, foreign: list[str] = (),
               *, classes: frozenset[str] | None = None) -> Iterator[tuple[str, Any, bool]]:
    """(class, value, must be refused) for a field of `kind` whose valid value is `valid`;
    only those of `classes`, when given."""
    bad = BAD[kind]
    for name, make in CLASSES.items():
        if classes is not None and name not in classes:
            continue
        values = list(foreign) if name == "foreign" else make(valid)
        for value in values:
            if value == valid:
                continue
            yield name, value, name in bad
