"""What every API blueprint shares: its set-up, the Idempotency-Key header, the response
for a stock change, and naming an entry the way the seed API does."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint

from app.api.auth import address_key, api_actor, authenticate, limit_body, rate_limit_key
from app.api.errors import register_blueprint_errors
from app.extensions import csrf, limiter
from app.services import queries
from app.services.errors import NotFound, UnreadableInput
from app.services.stock import StockChange
from app.services.validation import json_problem

IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": (
        "Makes the request safe to retry: a repeat with the same key returns the first "
        "response (with `Idempotent-Replayed: true`) and changes nothing; the same key "
        "with another payload gets 422."
    ),
}


class ApiBlueprint(Blueprint):  # type: ignore[misc]
    """flask-smorest's blueprint, reading each request's arguments with one schema instance
    per endpoint, made when the app starts: given a schema class, webargs would build a new
    instance (copying every field) on every request. A schema keeps no state between loads,
    so one instance serves every request; the OpenAPI document is the same either way."""

    def arguments(self, schema: Any, **kwargs: Any) -> Any:
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, **kwargs)


def api_blueprint(
    name: str, url_prefix: str, description: str, *, public: bool = False
) -> Blueprint:
    """A blueprint of the API: JSON errors, no CSRF (no cookies), a body limit, rate limits
    and, unless public, bearer authentication."""
    bp = ApiBlueprint(name, __name__, url_prefix=url_prefix, description=description)
    register_blueprint_errors(bp)
    csrf.exempt(bp)
    bp.before_request(limit_body)
    if not public:
        bp.before_request(authenticate)
        # Failed sign-ins by token are throttled per address, so guessing tokens is slow.
        limiter.limit(
            lambda: current_app.config["API_AUTH_FAILURE_LIMIT"], key_func=address_key,
            deduct_when=lambda response: response.status_code == 401,
        )(bp)
    limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=rate_limit_key)(bp)
    bp.before_request(screen_json)
    return bp


def screen_json() -> None:
    """before_request: refuse a JSON body nested too deeply (400) or holding text no field
    can take (422), naming the field, before the schema reads it. Malformed JSON is left to
    the schema, which answers it as it always has."""
    if not request.is_json or not request.content_length:
        return
    try:
        document = json.loads(request.get_data(cache=True))
    except RecursionError:
        raise UnreadableInput("body", "Nests too deeply to read.", status=400) from None
    except ValueError:
        return
    found = json_problem(document)
    if found is not None:
        field, problem = found
        raise UnreadableInput(field, problem, status=400 if field == "body" else 422)


def require_readable_filters(args: Mapping[str, Any]) -> None:
    """A store_id or location_id filter naming one the token's user cannot read, or one that
    does not exist, is a 404 naming it: never an empty page a typo would also give."""
    try:
        queries.require_readable(api_actor(), store_id=args.get("store_id"),
                                 location_id=args.get("location_id"))
    except NotFound as exc:
        raise NotFound(exc.message, {f"{k}_id": v for k, v in exc.fields.items()}) from None


def idempotency_key() -> str | None:
    """The request's Idempotency-Key header, passed to the service as it is."""
    return request.headers.get("Idempotency-Key")


def changed(change: StockChange, status: int = 200) -> tuple[Response, int, dict[str, str]]:
    """A stock change as the response; a replay says so in a header, not the body, so the
    body is byte for byte the first response.

    The body is StockChangeOut's fields exactly (a test holds them together), so it is sent
    as it is rather than copied once more through the schema."""
    body = change.to_json()
    # The average cost stays out until the API documents costs as amounts: the state
    # carries it as stored (× 10,000), which no client should have to know.
    body["entries"] = [
        {**{k: v for k, v in state.items() if k != "average_cost"},
         "available_quantity": state["quantity"] - state["reserved_quantity"]}
        for state in body["entries"]
    ]
    headers = {"Idempotent-Replayed": "true"} if change.replayed else {}
    return jsonify(body), status, headers


def entry_id_of(args: Mapping[str, Any], store_id: int | None = None) -> int:
    """The entry a request names: entry_id, or product_id with a location code; with
    store_id, only an entry of that store."""
    if "entry_id" in args:
        entry_id = int(args["entry_id"])
        if store_id is not None and queries.get_entry(api_actor(), entry_id).store_id != store_id:
            raise NotFound("Inventory entry not found.", {"entry_id": "No such inventory entry."})
        return entry_id
    return queries.resolve_entry(api_actor(), args["product_id"], args["location"],
                                 store_id=store_id)
