from flask import Blueprint

bp = Blueprint("catalog", __name__, url_prefix="/catalog")

from app.catalog import channel_routes, item_routes, routes  # noqa: E402,F401
