"""JSON API v1 (/api/v1): token-authenticated, on the same service layer as the screens.

flask-smorest builds each request's validation and the OpenAPI document from the same
marshmallow schemas (app/api/schemas.py), so the document cannot drift from what the
endpoints accept.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from flask_smorest import Api

from app.api.errors import ErrorSchema, register_routing_errors

DEFAULTS = {
    "API_TITLE": "Stockroom",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    # Requests beyond this many bytes get 413 before anything reads them.
    "API_MAX_BODY_BYTES": 64 * 1024,
    "API_RATE_LIMIT": "1200 per minute",
    "API_AUTH_FAILURE_LIMIT": "30 per minute",
}


class StockroomApi(Api):
    """flask-smorest with Stockroom's error body documented, and its own app-wide error
    handler left out: the app's pages keep theirs, the API's blueprints bring their own.

    The OpenAPI document is built on first use rather than in create_app: every test
    builds an app, and few of them read the document.
    """

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._undocumented: list[tuple[Any, Any]] = []
        self._documenting = threading.Lock()
        super().__init__(*args, **kwargs)

    def _register_error_handlers(self) -> None:
        pass

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        self._app.extensions["flask-smorest"]["blp_name_to_api"][blp.name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, parameters))

    def document(self) -> dict[str, Any]:
        """The OpenAPI document as a dict, generated from the schemas the first time."""
        with self._documenting:
            while self._undocumented:
                blp, parameters = self._undocumented.pop(0)
                blp.register_views_in_doc(self, self._app, self.spec, name=blp.name,
                                          parameters=parameters)
                self.spec.tag({"name": blp.name, "description": blp.description})
            return self.spec.to_dict()  # type: ignore[no-any-return]


def init_api(app: Flask) -> StockroomApi:
    """Register the API's blueprints and its OpenAPI document on the app."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    api = StockroomApi(app, spec_kwargs={
        "info": {"description": "Inventory across stores and locations. Send a personal "
                                "token as `Authorization: Bearer <token>`. A token acts as its "
                                "user, within its scope: it may be limited to some stores and "
                                "permissions, and it expires (90 days unless chosen otherwise). "
                                "An expired token gets 401 `token_expired` saying when; a "
                                "permission outside its scope gets 403 naming it; a store "
                                "outside it is not found (404), as any store the user cannot "
                                "see."},
        "servers": [{"url": "/"}],
    })
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "A personal API "
                       "token, created on the account's API tokens page or by "
                       "`flask create-token`, with an expiry and optionally limited to some "
                       "stores and permissions. It never grants more than its user holds."}
    )
    api.spec.options["security"] = [{"bearerAuth": []}]
    app.extensions["stockroom_api"] = api

    from app.api import (
        activity,
        admin,
        catalog,
        channels,
        docs,
        events,
        meta,
        orders,
        public,
        purchasing,
        reorder,
        store,
        webhooks,
    )

    for module in (store, catalog, purchasing, reorder, events, admin, orders, channels,
                   activity, webhooks, public, meta):
        api.register_blueprint(module.bp)
    app.register_blueprint(docs.bp)
    register_routing_errors(app)
    return api
