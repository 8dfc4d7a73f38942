"""Bearer-token authentication: the only way into the API's non-public endpoints.

The session cookie is never consulted, so a page on another site cannot make a signed-in
browser call the API; that is also why CSRF tokens do not apply here.
"""

from __future__ import annotations

import hashlib

from flask import current_app, g, request
from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.permissions import ALL_PERMISSIONS, Actor
from app.services.errors import PermissionDenied, StockroomError
from app.services.people import tokens


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
    """before_request: resolve the token to its user's actor, limited to the token's scope,
    or refuse with 401 (an expired token's answer says when it expired)."""
    token = bearer_token()
    if token is None:
        raise NotAuthenticated(
            "Send an API token as `Authorization: Bearer <token>`; "
            "create one on your account's API tokens page."
        )
    grant = tokens.authenticate_token(token)
    if grant is None:
        raise NotAuthenticated("This API token is not valid, or it was revoked.")
    g.api_actor = grant.actor
    g.api_token_expires_at = grant.expires_at


def token_refusal(exc: PermissionDenied) -> str | None:
    """The message for a refusal that the token's scope caused, naming what it lacks; None
    when the user themselves lacks the permission."""
    actor = g.get("api_actor")
    scope = actor.token_scope if actor is not None else None
    if scope is None:
        return None
    if exc.permission in ALL_PERMISSIONS:
        if scope.permissions is None or exc.permission in scope.permissions:
            return None
        return (
            f"This API token lacks {exc.permission}: it is limited to "
            f"{scope.describe_permissions()}. Create a token with {exc.permission} on your "
            "account's API tokens page."
        )
    # Platform-wide work: only an unlimited token of a platform admin does it.
    if not db.session.scalar(select(User.is_platform_admin).where(User.id == actor.user_id)):
        return None
    why = "limited to some stores or permissions" if scope.platform_admin else (
        "limited to your memberships")
    return (
        f"This API token does not act as platform admin ({exc.permission}): it is {why}. "
        "Create a token without limits for platform-wide work."
    )


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
