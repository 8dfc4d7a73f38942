from flask import Blueprint

bp = Blueprint("inventory", __name__)

from app.inventory import (  # noqa: E402,F401
    bulk_routes,
    count_routes,
    move_routes,
    report_routes,
    routes,
    valuation_routes,
)
from app.inventory.rows import (  # noqa: E402
    entry_action_url,
    row_actions_for,
    row_selectable,
)

for _helper in (row_actions_for, row_selectable, entry_action_url):
    bp.add_app_template_global(_helper)
