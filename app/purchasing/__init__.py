from flask import Blueprint

bp = Blueprint("purchasing", __name__, url_prefix="/purchasing")

from app.purchasing import line_routes, order_routes, supplier_routes  # noqa: E402,F401
