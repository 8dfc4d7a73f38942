"""Helpers for the API tests."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.models import User


class ApiClient:
    """Calls the API with one bearer token."""

    def __init__(self, client: FlaskClient, token: str | None, user: User | None = None) -> None:
        self.client = client
        self.token = token
        self.user = user

    def headers(self, key: str | None = None, extra: dict[str, str] | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if key is not None:
            headers["Idempotency-Key"] = key
        return {**headers, **(extra or {})}

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.get(url, headers=self.headers(extra=kwargs.pop("headers", None)),
                               **kwargs)

    def post(self, url: str, json: Any = None, *, key: str | None = None,
             **kwargs: Any) -> TestResponse:
        return self.client.post(url, json=json,
                                headers=self.headers(key, kwargs.pop("headers", None)), **kwargs)

    def put(self, url: str, json: Any = None, *, key: str | None = None) -> TestResponse:
        return self.client.put(url, json=json, headers=self.headers(key))

    def patch(self, url: str, json: Any = None, *, key: str | None = None) -> TestResponse:
        return self.client.patch(url, json=json, headers=self.headers(key))

    def delete(self, url: str, *, key: str | None = None) -> TestResponse:
        return self.client.delete(url, headers=self.headers(key))


def assert_error(response: TestResponse, status: int, code: str | None = None) -> dict:
    """The response is the API's JSON error with this status (and code); returns it."""
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]
