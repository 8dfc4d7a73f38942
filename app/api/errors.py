"""Every API failure as JSON: {"error": {"code", "message", "fields"}}, never a page."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from app.database import database_unreachable, discard_session
from app.services.errors import OrderShort, PermissionDenied, StockroomError
from app.web.errors import RETRY_AFTER_SECONDS, log_unreachable
from app.web.request_ids import request_id as current_request_id

log = logging.getLogger("stockroom")

API_PREFIX = "/api/"

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    503: "unavailable",
}
MESSAGES = {
    400: "The request could not be read.",
    401: "Send a valid API token as `Authorization: Bearer <token>`.",
    403: "You do not have permission to do this.",
    404: "Not found.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    415: "Send the body as application/json.",
    429: "Too many requests; slow down and try again shortly.",
}


class ErrorDetailSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Stable, machine-readable"})
    message = ma.fields.String(required=True, metadata={"description": "For people"})
    fields = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(), required=True,
        metadata={"description": "Each invalid field, named as in the request, and why"},
    )


class ErrorSchema(ma.Schema):
    """The body of every error response."""

    error = ma.fields.Nested(ErrorDetailSchema, required=True)


def error_response(
    status: int, code: str, message: str, fields: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "fields": dict(fields or {})}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="stockroom"'
    return response


def domain_error(exc: StockroomError) -> Response:
    discard_session()
    fields = dict(exc.fields)
    message = exc.message
    if isinstance(exc, PermissionDenied):
        from app.api.auth import token_refusal

        message = token_refusal(exc) or message
    if "idempotency_key" in fields:
        # The API takes the key as a header: name it as the client sent it.
        fields["Idempotency-Key"] = fields.pop("idempotency_key")
    if isinstance(exc, OrderShort):
        # The per-line answer: which lines are short, and by how much.
        for line in exc.short_lines:
            fields[f"lines[{line['line']}]"] = (
                f"available {line['available']}, requested {line['requested']}"
            )
    return error_response(exc.status, exc.code, message, fields)


def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return unexpected_error(getattr(exc, "original_exception", None) or exc)
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    headers: dict[str, str] = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods or ())
    retry_after = exc.get_response().headers.get("Retry-After")
    if retry_after:
        headers["Retry-After"] = retry_after
    if status == 422 and messages:
        fields = flatten_messages(messages)
        return error_response(422, "invalid", "Check the fields named in `fields`.", fields)
    if status == 400 and messages:
        return error_response(400, "bad_request", "The request body is not valid JSON.",
                              {"body": "Send a JSON object."})
    if status == 413:
        limit = current_app.config["API_MAX_BODY_BYTES"]
        return error_response(413, "too_large", MESSAGES[413],
                              {"body": f"At most {limit:,} bytes."})
    return error_response(
        status, CODES.get(status, "error"), MESSAGES.get(status, exc.name), headers=headers
    )


def unexpected_error(exc: BaseException) -> Response:
    discard_session()
    request_id = current_request_id()
    if database_unreachable(exc):
        log_unreachable(exc)
        return error_response(
            503, "unavailable",
            "The database cannot be reached just now; try again shortly, and check whether "
            f"a change you sent was made before repeating it. Request id: {request_id}.",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    log.error("unhandled API error, request id %s", request_id, exc_info=exc)
    return error_response(
        500, "internal",
        f"Something went wrong on our side; nothing was changed. Request id: {request_id}.",
    )


def flatten_messages(messages: Any) -> dict[str, str]:
    """webargs' nested {"json": {"lines": {0: {"quantity": [...]}}}} as flat field names:
    {"lines[0].quantity": "..."}; a message about the whole body is named `body`."""
    flat: dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key == "_schema":
                    walk(value, path or "body")
                elif isinstance(key, int):
                    walk(value, f"{path}[{key}]")
                else:
                    walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list | tuple):
            texts = [str(x) for x in node if not isinstance(x, Mapping | list | tuple)]
            if texts:
                flat.setdefault(path or "body", " ".join(texts))
            for item in node:
                if isinstance(item, Mapping | list | tuple):
                    walk(item, path)
        else:
            flat.setdefault(path or "body", str(node))

    # The top level names where the value came from (json, query, headers), not a field.
    if isinstance(messages, Mapping):
        for value in messages.values():
            walk(value, "")
    else:
        walk(messages, "")
    return flat


def register_blueprint_errors(bp: Blueprint) -> None:
    """JSON for every failure raised inside one of the API's blueprints."""
    bp.register_error_handler(StockroomError, domain_error)
    bp.register_error_handler(HTTPException, http_error)
    bp.register_error_handler(Exception, unexpected_error)


def register_routing_errors(app: Flask) -> None:
    """A path under /api/ that matches no route (404) or no method (405) fails before any
    blueprint is chosen, so these two are caught app-wide; other paths keep their pages."""
    pages = app.error_handler_spec[None][None].get(HTTPException)

    def routing_error(exc: HTTPException) -> Any:
        if request.path.startswith(API_PREFIX):
            return http_error(exc)
        return pages(exc) if pages is not None else exc

    app.register_error_handler(404, routing_error)
    app.register_error_handler(405, routing_error)
