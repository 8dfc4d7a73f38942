"""Opaque keyset cursors for the URL: the last row's sort value and id."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.services.errors import ValidationError

# Ids and quantities are 32-bit integers on PostgreSQL; a forged number past that would
# reach the driver and fail there instead of being refused here.
_INT32 = 2**31


@dataclass(frozen=True)
class Cursor:
    value: Any
    id: int
    backwards: bool


def encode_cursor(value: Any, row_id: int, *, backwards: bool) -> str:
    if isinstance(value, datetime):
        payload: list[Any] = ["t", value.isoformat(), row_id, backwards]
    else:
        payload = ["v", value, row_id, backwards]
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, expect: type | None = None) -> Cursor:
    """Raises ValidationError naming `cursor` when the token was not made by encode_cursor
    (or, with `expect`, when its value is not of the sort column's type)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        kind, value, row_id, backwards = json.loads(raw)
        if kind == "t":
            value = datetime.fromisoformat(value)
        elif kind != "v" or not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError(kind)
        if type(row_id) is not int or type(backwards) is not bool:
            raise ValueError(row_id)
        if not all(-_INT32 <= n < _INT32 for n in (row_id, value) if type(n) is int):
            raise ValueError(row_id)
        if expect is not None and type(value) is not expect:
            raise ValueError(value)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError({"cursor": "This page link is no longer valid."}) from exc
    return Cursor(value=value, id=row_id, backwards=backwards)
