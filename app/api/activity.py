"""The audit trail, read by store (audit:read there) and across stores for platform admins."""

from __future__ import annotations

from typing import Any

from app.api.auth import api_actor, require_platform_admin
from app.api.common import api_blueprint
from app.api.schemas import ActivityArgs, ActivityPageOut, AdminActivityArgs
from app.services import activity
from app.services.activity import ActivityFilters, ActivityPage
from app.services.errors import NotFound

bp = api_blueprint(
    "api_activity", "/api/v1",
    "Who changed what, apart from stock: products, thresholds, locations, stores, members, "
    "accounts and tokens, newest first.",
)
ID = "<int(min=1, max=2147483647):{}>"
# The screen's filter names, as the API's fields call them.
API_FIELDS = {"store": "store_id", "product": "product_id", "object": "object_id"}


@bp.route(f"/stores/{ID.format('store_id')}/activity", methods=["GET"])
@bp.arguments(ActivityArgs, location="query")
@bp.response(200, ActivityPageOut)
def store_activity(args: dict[str, Any], store_id: int) -> Any:
    """One store's changes with filters and cursor pagination; needs audit:read there."""
    activity.require_store_activity(api_actor(), store_id)
    return _page({**args, "store_id": store_id})


@bp.route("/admin/activity", methods=["GET"])
@bp.arguments(AdminActivityArgs, location="query")
@bp.response(200, ActivityPageOut)
def admin_activity(args: dict[str, Any]) -> Any:
    """Every store's changes and the platform's own (accounts, tokens), for platform admins."""
    require_platform_admin()
    return _page(args)


def _page(args: dict[str, Any]) -> ActivityPage:
    actor = api_actor()
    filters = ActivityFilters(
        store_id=args.get("store_id"),
        actor_id=args.get("actor_id"),
        actor_name=args.get("actor"),
        kind=args.get("kind"),
        object_type=args.get("object_type"),
        object_id=args.get("object_id"),
        product_id=args.get("product_id"),
        date_from=args.get("date_from"),
        date_to=args.get("date_to"),
    )
    try:
        activity.require_filters(actor, filters)
    except NotFound as exc:
        raise NotFound(exc.message, {API_FIELDS[k]: v for k, v in exc.fields.items()}) from None
    return activity.list_activity(actor, filters, cursor=args.get("cursor"), limit=args["limit"])
