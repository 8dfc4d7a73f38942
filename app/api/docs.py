"""The OpenAPI document and a page that reads it, both generated from the schemas."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template
from markupsafe import Markup, escape

from app.api.errors import register_blueprint_errors
from app.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
register_blueprint_errors(bp)
csrf.exempt(bp)

METHODS = ("get", "post", "put", "patch", "delete")


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 document of this API."""
    return jsonify(_spec())


@bp.get("/docs")
def docs() -> str:
    """The API reference as a page, rendered on the server from the OpenAPI document."""
    spec = _spec()
    operations = [
        {"method": method.upper(), "path": path, **operation}
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]
    groups: dict[str, list[dict[str, Any]]] = {}
    for operation in operations:
        groups.setdefault(operation.get("tags", ["other"])[0], []).append(operation)
    return render_template(
        "api/docs.html", spec=spec, groups=groups, schemas=spec["components"]["schemas"],
        tags={t["name"]: t.get("description", "") for t in spec.get("tags", [])},
        code=inline_code,
    )


def inline_code(text: str | None) -> Markup:
    """The document's `backtick` spans as <code>, everything else escaped."""
    pieces = str(escape(text or "")).split("`")
    return Markup("".join(f"<code>{p}</code>" if n % 2 else p for n, p in enumerate(pieces)))


def _spec() -> dict[str, Any]:
    return current_app.extensions["stockroom_api"].document()  # type: ignore[no-any-return]
