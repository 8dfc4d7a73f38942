"""One place that turns failures into pages, fragments and status codes.

The pages for 500 and 503 never touch the database: they are the answer when it fails, so
they render from a layout of their own (errors/standalone.html) without the context
processors that would look up the signed-in user. An error page that cannot render at all
still answers, with a plain built-in page. A database that cannot be reached answers 503
with Retry-After, on pages and fragments alike; everything else unexpected is a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, render_template, request
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from app.database import database_unreachable, discard_session
from app.services.errors import StockroomError
from app.web.htmx import is_htmx
from app.web.request_ids import request_id

log = logging.getLogger("stockroom")

# How long a client should wait before asking again while the database is away.
RETRY_AFTER_SECONDS = 10

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
    503: "Temporarily unavailable",
}

STANDALONE = "errors/standalone.html"
FRAGMENT = "errors/_error.html"
# htmx targets inside an open dialog: an error there replaces the dialog's form.
DIALOG_TARGETS = {"dialog-body"}


def register_error_handlers(app: Flask) -> None:
    # Compile the database-free templates now: a broken one fails the start, not an outage.
    app.jinja_env.get_template(STANDALONE)
    app.jinja_env.get_template(FRAGMENT)

    @app.errorhandler(StockroomError)
    def domain_error(exc: StockroomError):  # type: ignore[no-untyped-def]
        discard_session()
        return _render(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        status = exc.code or 500
        if status >= 500:
            return failure(getattr(exc, "original_exception", None) or exc)
        message = exc.description if status in (400, 405, 429) else None
        return _render(status, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        return failure(exc)


def failure(exc: BaseException):  # type: ignore[no-untyped-def]
    """A failure the app did not expect: 503 when the database is out of reach, else 500.
    Either way the request's transaction is rolled back."""
    discard_session()
    if database_unreachable(exc):
        log_unreachable(exc)
        return _render(503, None)
    log.error("unhandled error, request id %s", request_id(), exc_info=exc)
    return _render(500, None)


def log_unreachable(exc: BaseException) -> None:
    """One line, not a traceback per request while the database is away."""
    first_line = (str(exc).strip().splitlines() or [""])[0][:200]
    log.error("database unreachable, request id %s (%s: %s)", request_id(),
              exc.__class__.__name__, first_line)


def _render(status: int, message: str | None):  # type: ignore[no-untyped-def]
    context: dict[str, Any] = {
        "status": status,
        "title": TITLES.get(status, "Error"),
        "message": message,
        "request_id": request_id(),
    }
    headers: dict[str, str] = {}
    if is_htmx():
        if status >= 500:
            # Show it: where the request's own result would go inside a dialog, else in the
            # page's message area; and never record the failed URL in the history.
            in_dialog = request.headers.get("HX-Target") in DIALOG_TARGETS
            context["in_dialog"] = in_dialog
            headers["HX-Retarget"] = "#dialog-body" if in_dialog else "#flashes"
            headers["HX-Reswap"] = "innerHTML"
            headers["HX-Push-Url"] = "false"
        body = _without_database(FRAGMENT, context)
    elif status >= 500:
        body = _without_database(STANDALONE, context)
    else:
        try:
            body = render_template("errors/page.html", **context)
        except Exception as exc:
            # The layout reads the database (who is signed in, their stores): when that
            # fails too, the answer becomes the failure's own page.
            return failure(exc)
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return body, status, headers


def _without_database(template: str, context: dict[str, Any]) -> str:
    """Render straight from the template, skipping the context processors (Flask-Login's
    loads the user); if even that fails, a page built here."""
    try:
        return current_app.jinja_env.get_template(template).render(context)
    except Exception:
        log.exception("the error template %s did not render, request id %s",
                      template, context["request_id"])
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(context['title'])} · Stockroom</title></head><body>"
            f'<section class="error-page" id="error"><h1>{escape(context["title"])}</h1>'
            f"<p>Reference <code>{escape(context['request_id'])}</code>.</p></section>"
            f"</body></html>"
        )
