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
    # A search ranks exact SKU/GTIN matches (0) before the other rows (1); the rank leads
    # the sort key, so a search's cursor carries it and a plain listing's does not.
    rank: int | None = None


def encode_cursor(value: Any, row_id: int, *, backwards: bool, rank: int | None = None) -> str:
    if isinstance(value, datetime):
        payload: list[Any] = ["t", value.isoformat(), row_id, backwards]
    else:
        payload = ["v", value, row_id, backwards]
    if rank is not None:
        payload.append(rank)
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    token: str, expect: type | None = None, *, ranked: bool | None = None
) -> Cursor:
    """Raises ValidationError naming `cursor` when the token was not made by encode_cursor
    (or, with `expect`, when its value is not of the sort column's type; with `ranked`,
    when it does or does not carry a search rank against the caller's wish)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        if not isinstance(payload, list) or len(payload) not in (4, 5):
            raise ValueError(payload)
        kind, value, row_id, backwards = payload[:4]
        rank = payload[4] if len(payload) == 5 else None
        if rank is not None and (type(rank) is not int or rank not in (0, 1)):
            raise ValueError(rank)
        if ranked is not None and (rank is not None) != ranked:
            raise ValueError(rank)
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
    return Cursor(value=value, id=row_id, backwards=backwards, rank=rank)


# Keys past this are no value any listing sorts on; refused before they reach the driver.
_INT64 = 2**62


@dataclass(frozen=True)
class KeysCursor:
    """A row's place in an order of several keys (a group, then a sort value, then an id)."""

    values: tuple[Any, ...]
    backwards: bool


def encode_keys(values: tuple[Any, ...], *, backwards: bool) -> str:
    """A cursor of several sort keys (ints and strings), for listings that order by more
    than one value and an id."""
    raw = json.dumps(["k", list(values), backwards], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_keys(token: str, types: tuple[type, ...]) -> KeysCursor:
    """Raises ValidationError naming `cursor` unless the token was made by encode_keys for
    keys of exactly these types."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        if not isinstance(payload, list) or len(payload) != 3 or payload[0] != "k":
            raise ValueError(payload)
        _kind, values, backwards = payload
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError(values)
        if type(backwards) is not bool:
            raise ValueError(backwards)
        for value, expect in zip(values, types, strict=True):
            if type(value) is not expect:
                raise ValueError(value)
            if type(value) is int and not -_INT64 <= value < _INT64:
                raise ValueError(value)
            if type(value) is str:
                value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError
                if "\x00" in value:
                    raise ValueError(value)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError({"cursor": "This page link is no longer valid."}) from exc
    return KeysCursor(values=tuple(values), backwards=backwards)
