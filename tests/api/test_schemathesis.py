"""Schemathesis against the OpenAPI document, in process (WSGI, no network): every
operation, generated requests, no 5xx, and every response matches the document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from app import create_app
from app.models import User

# Per operation; CI's Hypothesis profile does not raise it, so the run stays near a minute.
EXAMPLES = 25


def _document() -> dict[str, Any]:
    """The document as the app generates it; it needs no database."""
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    with app.app_context():
        return app.extensions["stockroom_api"].document()


schema = schemathesis.openapi.from_dict(_document())


@pytest.fixture
def served(app: Flask, world: Any, make_user: Callable[..., User],
           token_for: Callable[[User], str]) -> dict[str, Any]:
    """The test's app as a WSGI callable with a fresh app context per request, as a server
    runs it, and a platform admin's token so that every operation can succeed."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        with app.app_context():
            return list(app.wsgi_app(environ, start_response))

    token = token_for(make_user(platform_admin=True))
    # The in-process transport asks for compressed bodies (its HTTP library's default) but
    # does not decode them as an HTTP client does, so it asks for none here.
    return {"app": wsgi,
            "headers": {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}}


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck), print_blob=True)
def test_api_matches_its_document(case: Any, served: dict[str, Any]) -> None:
    case.call_and_validate(
        app=served["app"], headers=served["headers"],
        checks=[not_a_server_error, response_schema_conformance],
    )
