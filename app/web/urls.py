"""Redirect targets we accept from the client."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import request


def safe_next(target: str | None) -> str | None:
    """A same-site path, or None: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return None
    return target


def page_of(url: str | None, host: str) -> str | None:
    """The path and query of `url` when it is a page of this site (host as the request
    names it), else None. For the page an action was opened from."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc != host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def next_from_request() -> str | None:
    """Where to go back to after a form: its `next` argument, or else the page the form was
    opened from (htmx's HX-Current-URL, or the Referer of a plain link), on this site only."""
    return (safe_next(request.args.get("next"))
            or page_of(request.headers.get("HX-Current-URL"), request.host)
            or page_of(request.referrer, request.host))


def page_params(values: dict[str, Any], changes: dict[str, Any]) -> dict[str, str]:
    """A listing's query string: its state (`values`) with `changes` applied, where any
    change but a page's own cursor starts again from the first page; empty values left out."""
    values = dict(values)
    if changes and "cursor" not in changes:
        values["cursor"] = None
    values.update(changes)
    return {k: str(v) for k, v in values.items() if v not in (None, "")}
