"""Malformed input to every stock action: hundreds of values per endpoint, each refused with a
message beside the field it concerns, never a server error, never a change, never echoed raw.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from wtforms.fields.core import UnboundField

from app.inventory.actions import ACTIONS

from .helpers import ACTION_NAMES, HX, Htmx, valid_form

MISSING = object()  # the field is left out of the form altogether

CONTROL = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cc"]
# Python's str.strip() trims these at the ends like spaces; inside a value they stay.
VISIBLE_CONTROL = [c for c in CONTROL if not c.isspace()]
PAYLOADS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", '" hx-post="/x',
    "{{7*7}}", "'; DROP TABLE inventory_entries; --", "1' OR '1'='1", "1 OR 1=1",
    "1; DELETE FROM stock_movements", "$(reboot)", "../../etc/passwd", "%00", "%31",
    "&#49;", "\\x31", "null", "None", "undefined", "true", "false", "[]", "{}", "[1]",
    '{"a": 1}',
]
OTHER_DIGITS = "０１２３４５６７８９٠١٢٣٤٥٦٧٨٩०१२३४५६७८९𝟎𝟏𝟐"

NOT_A_NUMBER: list[Any] = [
    "1e3", "1E3", "1e0", "1.5", "1.0", "0.5", ".5", "5.", "-1.5", "0x10", "0X1F", "0o7",
    "0b1", "1_000", "1 000", "1\u00a0000", "1\u202f000", "1,5", "1,2,3", ",5", "5,",
    "1,,000", "12,34", "1,0000", "1,000,000,000,000", "2**63", str(2**63), str(-(2**63)),
    str(2**64), "99999999999999999999", "9" * 10_000, "1" * 11, "NaN", "nan", "-NaN", "inf",
    "-inf", "Infinity", "+", "-", "--1", "+-1", "1-", "1+", "1 2", "1/2", "½", "²", "Ⅻ",
    "one", "abc", "0.0", "−5", "–5", "\u200b1", "1\u200b", "\u202e1", "\ufeff1", "\ufffd",
    "a" * 10_000, *OTHER_DIGITS[::2], "1１", "1٣",
    *PAYLOADS,
]
BLANK: list[Any] = [MISSING, "", " ", "   ", "\t", "\r\n"]
OUT_OF_RANGE = ["1000000001", "-1000000001", "1,000,000,001", "9999999999", "-9999999999"]
NEGATIVE = ["-1", "-5", "-0001", "-1000000000"]
ZEROISH = ["0", "-0", "+0", "00", "000"]

TOO_LONG = {
    100: ["x" * 101, "é" * 101, "５" * 101, "<b>" * 34, "x" * 10_000],
    200: ["x" * 201, "é" * 201, "５" * 201, "<b>" * 67, "x" * 10_000],
}
HTML_TOO_LONG = [f"{p}{'x' * 201}" for p in PAYLOADS[:4]]
HTML_WITH_CONTROL = [f"{p}\x00" for p in PAYLOADS[:4]]
NOT_AN_ID = ["abc", "-1", "1.5", "１", "0x1", "1e2", "0", "00", "1" * 13, "\x00", "1\x00",
             " 1 2", "<script>alert(1)</script>", '" hx-post="/x', "{{7*7}}", "1 OR 1=1",
             "9" * 10_000, "١", "+1", "[1]"]


def every(values: list[str], full: bool, step: int) -> list[str]:
    """All of a long list for an endpoint with few fields, a spread sample otherwise."""
    return values if full else values[::step]


def number(*, minimum: int | None, required: bool = True, full: bool = False) -> list[Any]:
    """Values a whole-number field with this lower bound must refuse."""
    values = [*NOT_A_NUMBER, *OUT_OF_RANGE,
              *(f"1{c}" for c in every(VISIBLE_CONTROL, full, 4)),
              *(f"{c}1" for c in every(VISIBLE_CONTROL, full, 9))]
    if required:
        values += BLANK
    if minimum is None:  # a signed delta: anything but zero
        values += ZEROISH
    elif minimum >= 0:
        values += NEGATIVE
    if minimum == 1:
        values += ZEROISH
    return values


def text(max_length: int, *, required: bool, full: bool = False) -> list[Any]:
    values = [*TOO_LONG[max_length], *HTML_WITH_CONTROL,
              *(f"a{c}b" for c in every(CONTROL, full, 4)),
              *(f"{c}ab" for c in every(VISIBLE_CONTROL, full, 6))]
    if max_length >= 200:
        values += HTML_TOO_LONG
    if required:
        values += [*BLANK, "\x1f", "\x0b"]
    return values


def key(*, full: bool = False) -> list[Any]:
    return [*BLANK, "x" * 201, "k" * 10_000, "é" * 201,
            *(f"k{c}k" for c in every(CONTROL, full, 4))]


VERSION = ["abc", "-1", "0", "1.5", "1e3", "５", "99999999999", "\x00", "1\x00", "0x1",
           "<script>alert(1)</script>", "{{7*7}}", "1 OR 1=1", "9" * 10_000, "+1"]

# Each action's fields and what each must refuse.
FIELDS: dict[str, dict[str, list[Any]]] = {
    "adjust": {"delta": number(minimum=None), "reason": text(200, required=True),
               "reference": text(100, required=False), "idempotency_key": key()},
    "set": {"quantity": number(minimum=0), "reason": text(200, required=False),
            "expected_version": VERSION, "idempotency_key": key()},
    "count": {"counted_quantity": number(minimum=0), "reason": text(200, required=False),
              "expected_version": VERSION, "idempotency_key": key()},
    "reserve": {"quantity": number(minimum=1), "order_ref": text(100, required=True),
                "line_ref": text(100, required=False),
                "hold_minutes": number(minimum=1, required=False)[::3], "idempotency_key": key()},
    "release": {"quantity": number(minimum=1), "reservation_id": NOT_AN_ID,
                "reason": text(200, required=False), "idempotency_key": key()},
    "fulfill": {"quantity": number(minimum=1), "reservation_id": NOT_AN_ID,
                "reason": text(200, required=False), "idempotency_key": key()},
    "return": {"quantity": number(minimum=1), "reason": text(200, required=True),
               "reference": text(100, required=False), "idempotency_key": key()},
    "transfer": {"to_location_id": [*BLANK, *NOT_AN_ID], "quantity": number(minimum=1),
                 "reason": text(200, required=False), "idempotency_key": key()},
    "threshold": {"low_stock_threshold": number(minimum=0),
                  "idempotency_key": key(full=True)},
    "delete": {"reason": text(200, required=False, full=True), "idempotency_key": key(full=True)},
}
# Bytes that are not UTF-8, straight into the first numeric or id field.
RAW = ["%FF", "%C0%AF", "1%FF", "%ED%A0%80", "%F4%90%80%80"]
PER_ENDPOINT = 200


def cases(action: str, place: SimpleNamespace) -> Iterator[tuple[str, Any, bytes | dict]]:
    """(field, value, form) for every malformed submission of `action`; each has a key of
    its own, so one wrongly accepted value cannot hide behind the replay of another."""
    base = valid_form(action, place)
    for field, values in FIELDS[action].items():
        for value in values:
            form = {k: v for k, v in base.items() if k != field}
            if field != "idempotency_key":
                form["idempotency_key"] = uuid.uuid4().hex
            if value is not MISSING:
                form[field] = value
            yield field, value, form
    if action == "transfer":
        yield "to_location_id", "source", {**base, "to_location_id": str(place.location.id)}
    numeric = [f for f in FIELDS[action] if f not in ("reason", "reference", "order_ref",
                                                      "line_ref", "idempotency_key")]
    if numeric:
        field = numeric[0]
        rest = urlencode({k: v for k, v in base.items() if k != field})
        for raw in RAW:
            yield field, raw, f"{rest}&{field}={raw}".encode()


def test_every_endpoint_gets_enough_malformed_values_for_every_field(
    scene: Callable[..., SimpleNamespace],
) -> None:
    place = scene()
    for action in ACTIONS:
        form = ACTIONS[action].form
        declared = {name for klass in form.__mro__ for name, value in vars(klass).items()
                    if isinstance(value, UnboundField)}
        assert declared - {"next"} <= set(FIELDS[action]), action
        assert sum(1 for _ in cases(action, place)) >= PER_ENDPOINT, action


@pytest.mark.parametrize("action", ACTION_NAMES)
def test_malformed_values_are_refused_and_change_nothing(
    action: str,
    scene: Callable[..., SimpleNamespace],
    login_as: Callable[..., FlaskClient],
    db_state: Callable[[], Any],
    htmx: Htmx,
) -> None:
    place = scene(reserved=0 if action == "delete" else 2)
    client = login_as("owner", place.store)
    url = f"/inventory/entries/{place.entry.id}/{action}"
    before = db_state()
    failures: list[str] = []
    sent = 0
    for n, (field, value, form) in enumerate(cases(action, place)):
        sent += 1
        headers = {} if n % 4 == 3 else HX  # every fourth as a plain form post
        if isinstance(form, bytes):
            response = client.post(url, data=form, headers=headers,
                                   content_type="application/x-www-form-urlencoded")
        else:
            response = client.post(url, data=form, headers=headers)
        body = response.get_data(as_text=True)
        shown = "missing" if value is MISSING else repr(value)[:40]
        if response.status_code != 422:
            failures.append(f"{field}={shown}: {response.status_code}")
            continue
        if f'id="{field}-error"' not in body:
            failures.append(f"{field}={shown}: no message beside the field")
        if isinstance(value, str) and ("<" in value or '"' in value) and value in body:
            failures.append(f"{field}={shown}: echoed unescaped")
        if "<script>alert" in body or "<img src=x" in body or 'hx-post="/x' in body:
            failures.append(f"{field}={shown}: markup from the input in the body")
    assert sent >= PER_ENDPOINT
    assert failures == [], f"{len(failures)} of {sent} refused badly: {failures[:25]}"
    assert db_state() == before
