"""Every request's id: the one a proxy in front supplied, if it looks like one, or a new one.
It goes out as X-Request-ID on every response and into every log line about the request."""

from __future__ import annotations

import uuid

from flask import g, request


def assign_request_id() -> None:
    supplied = request.headers.get("X-Request-ID", "")
    g.request_id = supplied if 8 <= len(supplied) <= 64 and supplied.isalnum() else uuid.uuid4().hex


def request_id() -> str:
    """This request's id; assigned now if a hook that runs earlier failed first."""
    if "request_id" not in g:
        assign_request_id()
    return str(g.request_id)
