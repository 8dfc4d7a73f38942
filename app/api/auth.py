"""Bearer-token authentication: the only way into the API's non-public endpoints.

The session cookie is never consulted, so a page on another site cannot make a signed-in
browser call the API; that is also why CSRF tokens do not apply here.
"""

from __future__ import annotations

import hashlib

from flask import current_app, g, request

from app.permissions import Actor, actor_for_user
from app.services import tokens
from app.services.errors import PermissionDenied, StockroomError


class NotAuthenticated(StockroomError):
    status = 401
    code = "unauthorized"


def bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def limit_body() -> None:
    """before_request: refuse large bodies before anything reads them (413)."""
    request.max_content_length = current_app.config["API_MAX_BODY_BYTES"]


def authenticate() -> None:
    """before_request: resolve the token to its user's actor, or refuse with 401."""
    token = bearer_token()
    if token is None:
        raise NotAuthenticated(
            "Send an API token as `Authorization: Bearer <token>`; "
            "create one on your account's API tokens page."
        )
    user_id = tokens.authenticate_token(token)
    actor = actor_for_user(user_id) if user_id is not None else None
    if actor is None or actor.user_id is None:
        raise NotAuthenticated("This API token is not valid, or it was revoked.")
    g.api_actor = actor


def require_platform_admin() -> None:
    """before_request for the cross-store endpoints."""
    if not api_actor().is_platform_admin:
        raise PermissionDenied("platform:admin")


def api_actor() -> Actor:
    """The actor of the current API request, set by authenticate()."""
    return g.api_actor  # type: ignore[no-any-return]


def rate_limit_key() -> str:
    """Requests are counted per token; without one, per client address."""
    token = bearer_token()
    if token is not None:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "-")


def address_key() -> str:
    return "addr:" + (request.remote_addr or "-")
