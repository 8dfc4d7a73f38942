from flask import Blueprint

bp = Blueprint("hooks", __name__, url_prefix="/webhooks")

from app.hooks import routes  # noqa: E402,F401
