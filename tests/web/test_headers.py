"""Security headers on every HTML response, and markup a strict CSP can run: no inline
script, no style attributes, no event-handler attributes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.inventory.actions import ACTIONS
from app.permissions import ADJUST

from .helpers import HX, assert_csp_clean, audit, valid_form


def directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = [w.lower() for w in words[1:]]
    return out


def assert_secure_headers(response: Any) -> None:
    policy = directives(response.headers.get("Content-Security-Policy", ""))
    script_src = policy.get("script-src", policy.get("default-src"))
    assert script_src, policy
    assert "'unsafe-eval'" not in script_src and "'unsafe-inline'" not in script_src
    assert not any(s.startswith(("'nonce-", "'sha", "data:", "*", "http:")) for s in script_src)
    assert "'unsafe-inline'" not in policy.get("style-src", [])
    assert policy.get("frame-ancestors") == ["'none'"]
    assert policy.get("object-src") == ["'none'"]
    assert policy.get("base-uri") == ["'none'"]
    assert response.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.fixture
def site(
    scene: Callable[..., SimpleNamespace],
    login_as: Callable[..., FlaskClient],
    make_app: Callable[..., Flask],
) -> SimpleNamespace:
    place = scene(quantity=10, reserved=5, threshold=20)
    place.owner = login_as("owner", place.store)
    place.reader = login_as("staff", place.store, (ADJUST,))
    place.csrf_app = make_app(WTF_CSRF_ENABLED=True)
    return place


def _responses(app: Flask, site: SimpleNamespace) -> Iterator[tuple[str, Any]]:
    owner, entry_id = site.owner, site.entry.id
    pages = ["/inventory", "/inventory?max_qty=x", "/inventory/stats",
             f"/inventory/entries/{entry_id}", f"/inventory/entries/{entry_id}/row",
             f"/products/{site.product.id}", "/reports/low-stock", "/reports/out-of-stock",
             "/reports/reorder", f"/inventory/entries/{entry_id + 999}", "/no-such-page"]
    # Every other page without parameters the app serves, including ones added later (the
    # JSON API has its own tier).
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and rule.rule not in pages \
                and not rule.rule.startswith(("/static", "/api/")):
            pages.append(rule.rule)
    for url in pages:
        for headers in ({}, HX):
            yield f"GET {url} htmx={bool(headers)}", owner.get(url, headers=headers)
    for name in ACTIONS:
        url = f"/inventory/entries/{entry_id}/{name}"
        yield f"GET {url}", owner.get(url)
        yield f"GET {url} htmx", owner.get(url, headers=HX)
        yield f"POST {url} invalid", owner.post(url, data={"idempotency_key": "k"}, headers=HX)
        yield f"POST {url} full", owner.post(url, data={"idempotency_key": "k"})
    url = f"/inventory/entries/{entry_id}"
    yield "409", owner.post(f"{url}/delete", data=valid_form("delete", site), headers=HX)
    yield "403", site.reader.get(f"{url}/threshold")
    yield "403 htmx", site.reader.get(f"{url}/threshold", headers=HX)
    yield "405", owner.put(f"{url}/adjust")
    yield "success htmx", owner.post(f"{url}/adjust", data=valid_form("adjust", site), headers=HX)
    anonymous = app.test_client()
    yield "sign-in", anonymous.get("/sign-in")
    yield "sign-in 422", anonymous.post("/sign-in", data={"email": "a@b.c", "password": "x"})
    yield "anonymous htmx 401", anonymous.get("/inventory", headers=HX)
    yield "csrf 400", site.csrf_app.test_client().post("/sign-in", data={})


def test_every_html_response_carries_the_security_headers_and_clean_markup(
    app: Flask, site: SimpleNamespace, subtests: Any
) -> None:
    seen = 0
    for label, response in _responses(app, site):
        with subtests.test(response=label, status=response.status_code):
            assert response.status_code < 500
            assert_secure_headers(response)
            if response.mimetype == "text/html":
                seen += 1
                assert_csp_clean(response.get_data(as_text=True))
    assert seen >= 60


def test_redirects_and_static_files_are_covered_too(
    app: Flask, site: SimpleNamespace
) -> None:
    for response in (site.owner.get("/"), app.test_client().get("/inventory")):
        assert response.status_code == 302
        assert_secure_headers(response)
    for path, kind in (("/static/app.js", "javascript"), ("/static/app.css", "text/css"),
                       ("/static/vendor/htmx-2.0.11.min.js", "javascript")):
        response = app.test_client().get(path)
        assert response.status_code == 200
        assert kind in response.content_type
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        response.close()


def test_htmx_is_configured_for_the_csp(site: SimpleNamespace) -> None:
    page = site.owner.get("/inventory").get_data(as_text=True)
    found = audit(page)
    (meta,) = found.elements("meta", name="htmx-config")
    config = json.loads(meta["content"])
    assert config["allowEval"] is False
    assert config["selfRequestsOnly"] is True
    assert config["historyRestoreAsHxRequest"] is False
    assert config["includeIndicatorStyles"] is False
    swapped = {rule["code"]: rule for rule in config["responseHandling"]}
    assert swapped["409"]["swap"] is True and swapped["422"]["swap"] is True
    # Scripts only from this site's static folder, htmx vendored (minified) with its version
    # in the name, linked by its content-hashed copy.
    assert found.script_srcs and all(s.startswith("/static/") for s in found.script_srcs)
    assert any(re.fullmatch(r"/static/vendor/htmx-2\.0\.\d+\.min-[0-9a-f]{32}\.js", s)
               for s in found.script_srcs)
    assert "hx-on" not in page


def test_the_markup_audit_catches_what_it_should() -> None:
    """The helper these tests rely on does find inline script, styles and handlers."""
    for bad in ("<script>alert(1)</script>", "<script></script>", '<p style="x">',
                '<img src=x onerror="alert(1)">', "<style>p{}</style>"):
        with pytest.raises(AssertionError):
            assert_csp_clean(bad)
    assert_csp_clean('<script src="/static/app.js" defer></script><p class="x">ok</p>')
