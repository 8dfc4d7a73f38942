"""Reads anyone may make, without a token."""

from __future__ import annotations

from typing import Any

from app.api.common import api_blueprint
from app.api.presenters import public_availability, public_item
from app.api.schemas import PublicAvailabilityOut, PublicItemAvailabilityOut
from app.services import items, queries

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


@bp.route("/items/<int(min=1, max=2147483647):item_id>/availability", methods=["GET"])
@bp.response(200, PublicItemAvailabilityOut)
@bp.doc(security=[])
def item_availability(item_id: int) -> Any:
    """How many units of each variant of an item can be sold now (or `unlimited`), with
    its SKU, option values and status: what a storefront's product page needs."""
    return public_item(item_id, items.public_item_availability(item_id))
