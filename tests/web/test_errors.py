"""An unexpected failure: a generic page, no traceback, a reference the log can be searched
for, and nothing of the failed request's writes left behind."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import Store

from .helpers import HX

SECRET = "db password is hunter2"


@pytest.fixture
def failing_app(make_app: Callable[..., Flask]) -> SimpleNamespace:
    """An app with test-only routes that write and then fail, and a hook that looks at the
    request's own session after the error handler ran."""
    failing = make_app()
    seen: dict[str, int] = {}
    marker = f"rolled back {uuid.uuid4().hex[:8]}"

    def visible() -> int:
        return db.session.scalar(select(func.count()).select_from(Store)
                                 .where(Store.name == marker))

    @failing.get("/test-only/boom")
    def boom() -> str:
        db.session.add(Store(name=marker, slug=uuid.uuid4().hex[:12]))
        db.session.flush()
        assert visible() == 1  # written, in this request's transaction
        raise RuntimeError(SECRET)

    @failing.get("/test-only/bad-sql")
    def bad_sql() -> str:
        db.session.add(Store(name=marker, slug=uuid.uuid4().hex[:12]))
        db.session.flush()
        db.session.execute(text("SELECT no_such_column FROM stores"))
        return "unreachable"

    @failing.after_request
    def look(response: Any) -> Any:
        if request_path().startswith("/test-only/"):
            seen["rows after the error handler"] = visible()
        return response

    return SimpleNamespace(app=failing, seen=seen, marker=marker, visible=visible)


def request_path() -> str:
    from flask import request

    return request.path


def committed(marker: str) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Store).where(Store.name == marker))


@pytest.mark.parametrize("path", ["/test-only/boom", "/test-only/bad-sql"])
@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_an_unexpected_error_gives_a_generic_page_and_rolls_back(
    failing_app: SimpleNamespace,
    path: str,
    signed_in: bool,
    make_store: Callable[..., Store],
    login_as: Callable[..., FlaskClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = (login_as("owner", make_store(), on=failing_app.app) if signed_in
              else failing_app.app.test_client())
    for headers in ({}, HX):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="stockroom"):
            response = client.get(path, headers=headers)
        body = response.get_data(as_text=True)
        request_id = response.headers["X-Request-ID"]

        assert response.status_code == 500
        assert "Something went wrong" in body
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        assert f"<code>{request_id}</code>" in body
        for leak in ("Traceback", "RuntimeError", SECRET, "no_such_column", "OperationalError",
                     'File "', "sqlalchemy"):
            assert leak not in body
        assert bool(headers) != body.lstrip().lower().startswith("<!doctype html>")
        records = [r for r in caplog.records if request_id in r.getMessage()]
        assert len(records) == 1
        assert records[0].exc_info is not None  # the traceback goes to the log, not the page
        assert failing_app.seen["rows after the error handler"] == 0
        assert committed(failing_app.marker) == 0


def test_a_supplied_request_id_is_kept_and_a_strange_one_replaced(
    failing_app: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    client = failing_app.app.test_client()
    with caplog.at_level(logging.ERROR, logger="stockroom"):
        response = client.get("/test-only/boom", headers={"X-Request-ID": "edge1234abcd"})
    assert response.headers["X-Request-ID"] == "edge1234abcd"
    assert "edge1234abcd" in response.get_data(as_text=True)
    assert "edge1234abcd" in caplog.text
    for strange in ("<script>alert(1)</script>", "short", "x" * 65, "a b c d e f g h",
                    "id;Set-Cookie: x=1"):
        response = client.get("/test-only/boom", headers={"X-Request-ID": strange})
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
        assert "<script>alert" not in response.get_data(as_text=True)


def test_the_app_still_works_after_an_error(
    failing_app: SimpleNamespace, make_store: Callable[..., Store],
    login_as: Callable[..., FlaskClient],
) -> None:
    client = login_as("owner", make_store(), on=failing_app.app)
    assert client.get("/test-only/bad-sql").status_code == 500
    assert client.get("/inventory").status_code == 200
