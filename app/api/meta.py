"""Who the token acts as."""

from __future__ import annotations

from typing import Any

from flask import g

from app.api.auth import api_actor
from app.api.common import api_blueprint
from app.api.schemas import MeOut

bp = api_blueprint("me", "/api/v1/me", "The token's user and its stores.")


@bp.route("", methods=["GET"])
@bp.response(200, MeOut)
def me() -> Any:
    """The token's user, the permissions the token holds in each store, and its expiry."""
    actor = api_actor()
    return {
        "user_id": actor.user_id,
        "email": actor.name,
        "platform_admin": actor.is_platform_admin,
        "stores": [
            {"store_id": store_id, "permissions": sorted(permissions)}
            for store_id, permissions in sorted(actor.store_permissions.items())
        ],
        "token_expires_at": g.get("api_token_expires_at"),
    }
