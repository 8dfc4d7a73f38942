from flask import Blueprint

bp = Blueprint("catalog", __name__, url_prefix="/catalog")

from app.catalog import item_routes, routes  # noqa: E402,F401
