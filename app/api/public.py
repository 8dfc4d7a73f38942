"""Reads anyone may make, without a token."""

from __future__ import annotations

from typing import Any

from app.api.common import api_blueprint
from app.api.presenters import public_availability
from app.api.schemas import PublicAvailabilityOut
from app.services import queries

bp = api_blueprint(
    "public", "/api/v1/public",
    "No token needed. Exposes availability and status only.", public=True,
)


@bp.route("/products/<int(min=1, max=2147483647):product_id>/availability", methods=["GET"])
@bp.response(200, PublicAvailabilityOut)
@bp.doc(security=[])
def product_availability(product_id: int) -> Any:
    """How many units of a product can be sold now (or `unlimited`), and its status."""
    return public_availability(queries.public_availability(product_id))
