from flask import Blueprint

bp = Blueprint("inventory", __name__)

from app.inventory import bulk_routes, count_routes, report_routes, routes  # noqa: E402,F401
from app.inventory.rows import (  # noqa: E402
    entry_action_url,
    row_actions_for,
    row_selectable,
)

for _helper in (row_actions_for, row_selectable, entry_action_url):
    bp.add_app_template_global(_helper)
