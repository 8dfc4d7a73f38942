"""Small helpers for answering htmx requests."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    """A list/search request from htmx that wants only the results, not the page."""
    return is_htmx() and request.headers.get("HX-Boosted") != "true" and (
        request.headers.get("HX-History-Restore-Request") != "true"
    )


def trigger(response: Response, **events: Any) -> Response:
    """Fire client-side events after the swap (e.g. stock-changed for the stats cards)."""
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def vary_on_htmx(response: Response) -> Response:
    response.vary.add("HX-Request")
    return response
