"""One place that turns failures into pages, fragments and status codes."""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.services.errors import StockroomError

log = logging.getLogger("stockroom")

TITLES = {
    400: "Bad request",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Check your input",
    429: "Too many attempts",
    500: "Something went wrong",
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(StockroomError)
    def domain_error(exc: StockroomError):  # type: ignore[no-untyped-def]
        db.session.rollback()
        return _render(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        message = exc.description if status in (400, 405, 429) else None
        return _render(status, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        db.session.rollback()
        log.exception("unhandled error, request id %s", g.get("request_id", "-"))
        return _render(500, None)


def _render(status: int, message: str | None):  # type: ignore[no-untyped-def]
    template = "errors/_error.html" if request.headers.get("HX-Request") else "errors/page.html"
    body = render_template(
        template,
        status=status,
        title=TITLES.get(status, "Error"),
        message=message,
        request_id=g.get("request_id", ""),
    )
    return body, status
