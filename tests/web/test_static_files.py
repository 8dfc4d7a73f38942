"""Static files as browsers expect them: pages link content-hashed names, a hashed name is
cached for a year as immutable, text responses go compressed (brotli or gzip, as asked), and
without a current manifest pages link the plain names, which still answer."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import brotli
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.web.static import MANIFEST, current_names, manifest_is_current

from .helpers import HX

STATIC = Path(__file__).resolve().parents[2] / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
HASHED = re.compile(r"-[0-9a-f]{32}\.[a-z]+$")
# Half of the first visit's 100 KB, so the page itself keeps the other half.
STATIC_BUDGET_BYTES = 50 * 1024


def static_links(body: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', body)


def decoded(response: Any) -> bytes:
    data = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(data)
    if encoding == "gzip":
        return gzip.decompress(data)
    assert encoding is None, encoding
    return data


@pytest.fixture
def manifest() -> dict[str, str]:
    return json.loads((STATIC / MANIFEST).read_text())


@pytest.fixture
def boom_app(make_app: Callable[..., Flask]) -> Flask:
    """An app with a route that fails: its 500 page is the database-free standalone one."""
    failing = make_app()

    @failing.get("/test-only/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    return failing


@pytest.fixture
def pages(scene: Callable[..., SimpleNamespace], login_as: Callable[..., FlaskClient],
          app: Flask, boom_app: Flask) -> dict[str, Any]:
    place = scene()
    owner = login_as("owner", place.store)
    return {
        "overview": owner.get("/inventory"),
        "sign-in": app.test_client().get("/sign-in"),
        "404 page": owner.get("/no-such-page"),
        "500 page": boom_app.test_client().get("/test-only/boom"),
        "API reference": owner.get("/api/v1/docs"),
    }


def test_the_test_run_built_a_current_manifest() -> None:
    assert manifest_is_current(STATIC)


def test_pages_link_every_static_file_by_its_hashed_name(
    pages: dict[str, Any], manifest: dict[str, str], app: Flask
) -> None:
    hashed_urls = {f"/static/{name}" for name in manifest.values()}
    for label, response in pages.items():
        assert response.status_code == {"404 page": 404, "500 page": 500}.get(label, 200)
        links = static_links(response.get_data(as_text=True))
        assert links, label
        assert all(link in hashed_urls for link in links), (label, links)
        assert any(re.search(r"/app-[0-9a-f]{32}\.css$", link) for link in links), label
        if label in ("overview", "sign-in"):
            assert any(re.search(r"/vendor/htmx-2\.0\.\d+\.min-[0-9a-f]{32}\.js$", link)
                       for link in links), (label, links)
    client = app.test_client()
    for plain, hashed in manifest.items():
        response = client.get(f"/static/{hashed}")
        assert response.status_code == 200
        assert response.get_data() == (STATIC / plain).read_bytes(), plain


def test_a_hashed_file_is_cached_a_year_and_a_plain_name_revalidates(
    app: Flask, manifest: dict[str, str]
) -> None:
    client = app.test_client()
    hashed = client.get(f"/static/{manifest['app.css']}")
    assert hashed.headers["Cache-Control"] == IMMUTABLE
    assert hashed.headers["X-Content-Type-Options"] == "nosniff"
    assert hashed.headers["X-Request-ID"]
    plain = client.get("/static/app.css")
    assert plain.status_code == 200
    assert plain.headers["Cache-Control"] == "no-cache"
    assert plain.get_data() == hashed.get_data()
    # A revalidation of the plain name is answered without the body.
    again = client.get("/static/app.css", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/static/no-such-file-0123456789abcdef0123456789abcdef.css"
                      ).status_code == 404


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_html_css_and_javascript_go_compressed_as_the_client_asks(
    encoding: str, scene: Callable[..., SimpleNamespace],
    login_as: Callable[..., FlaskClient], manifest: dict[str, str],
) -> None:
    place = scene()
    owner = login_as("owner", place.store)
    asked = {"Accept-Encoding": f"{encoding}, identity;q=0.5"}
    urls = ["/inventory", f"/static/{manifest['app.css']}",
            f"/static/{manifest['vendor/htmx-2.0.11.min.js']}", "/static/app.js"]
    for url in urls:
        plain = owner.get(url)
        packed = owner.get(url, headers=asked)
        assert packed.status_code == 200, url
        assert packed.headers["Content-Encoding"] == encoding, url
        assert "accept-encoding" in packed.headers["Vary"].lower(), url
        assert len(packed.get_data()) < len(plain.get_data()) / 2, url
        if url.startswith("/static/"):
            assert decoded(packed) == plain.get_data(), url
        else:  # the page carries a fresh CSRF token each time: compare its shape
            assert decoded(packed).decode().count("<tr") == plain.get_data(as_text=True).count(
                "<tr")
        assert packed.headers["Content-Security-Policy"] == plain.headers[
            "Content-Security-Policy"]
    # An htmx fragment goes compressed too, and decodes to what htmx asked for.
    fragment = owner.get("/inventory", headers={**HX, **asked})
    assert fragment.headers.get("Content-Encoding") in (encoding, None)
    assert "<html" not in decoded(fragment).decode()
    # A client that asks for nothing gets plain bytes.
    assert "Content-Encoding" not in owner.get("/inventory").headers


def test_csv_exports_small_responses_and_ranges_go_uncompressed(
    scene: Callable[..., SimpleNamespace], login_as: Callable[..., FlaskClient],
    app: Flask, manifest: dict[str, str],
) -> None:
    place = scene()
    owner = login_as("owner", place.store)
    asked = {"Accept-Encoding": "br, gzip"}
    export = owner.get("/inventory.csv", headers=asked)
    assert export.status_code == 200
    assert "Content-Encoding" not in export.headers
    assert export.get_data().startswith(b"\xef\xbb\xbf")
    icon = app.test_client().get(f"/static/{manifest['favicon.svg']}", headers=asked)
    assert len(icon.get_data()) < 500 and "Content-Encoding" not in icon.headers
    assert icon.headers["Cache-Control"] == IMMUTABLE
    # A range of a file is sent as those bytes: Content-Range counts them uncompressed.
    part = app.test_client().get(f"/static/{manifest['app.css']}",
                                 headers={**asked, "Range": "bytes=0-9999"})
    assert part.status_code == 206 and "Content-Encoding" not in part.headers
    assert part.headers["Content-Range"].startswith("bytes 0-9999/")
    assert part.get_data() == (STATIC / "app.css").read_bytes()[:10000]


def test_the_overview_static_files_fit_half_the_first_visit_budget(
    scene: Callable[..., SimpleNamespace], login_as: Callable[..., FlaskClient],
) -> None:
    place = scene()
    owner = login_as("owner", place.store)
    page = owner.get("/inventory", headers={"Accept-Encoding": "br, gzip"})
    links = static_links(decoded(page).decode())
    wire = sum(len(owner.get(link, headers={"Accept-Encoding": "br, gzip"}).get_data())
               for link in links)
    assert wire <= STATIC_BUDGET_BYTES, f"{wire:,} bytes over the wire for {links}"


def test_without_a_manifest_pages_link_plain_names_that_still_answer(
    tmp_path: Path, make_app: Callable[..., Flask], sign_in: Callable[..., FlaskClient],
    make_user: Callable[..., Any], scene: Callable[..., SimpleNamespace],
) -> None:
    bare = tmp_path / "static"
    shutil.copytree(STATIC, bare, ignore=shutil.ignore_patterns(
        MANIFEST, "*-" + "?" * 32 + ".*"))
    assert current_names(bare) == {}
    plain_app = make_app()
    plain_app.extensions["static_digest"].manifests["static"] = current_names(bare)

    @plain_app.get("/test-only/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    place = scene()
    owner = sign_in(make_user(role="owner", store=place.store), on=plain_app)
    for url, client, status in (("/inventory", owner, 200), ("/no-such-page", owner, 404),
                                ("/sign-in", plain_app.test_client(), 200),
                                ("/test-only/boom", plain_app.test_client(), 500)):
        response = client.get(url)
        assert response.status_code == status, url
        links = static_links(response.get_data(as_text=True))
        assert "/static/app.css" in links, (url, links)
        assert not any(HASHED.search(link) for link in links), (url, links)
        for link in links:
            served = client.get(link)
            assert served.status_code == 200 and served.headers["Cache-Control"] == "no-cache"


def test_a_file_changed_since_the_manifest_is_linked_by_its_plain_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "static"
    shutil.copytree(STATIC, folder)
    assert manifest_is_current(folder)
    before = current_names(folder)
    (folder / "app.css").write_text("/* edited */\n" + (folder / "app.css").read_text())
    after = current_names(folder)
    assert "app.css" not in after and "app.js" in after
    assert {k: v for k, v in before.items() if k != "app.css"} == after
    assert "app.css" in caplog.text
    assert not manifest_is_current(folder)
    (folder / "app.js").unlink(missing_ok=False)
    (folder / before["app.js"]).unlink()
    assert "app.js" not in current_names(folder)


def test_under_the_debugger_pages_link_plain_names(
    make_app: Callable[..., Flask]
) -> None:
    debug_app = make_app(DEBUG=True)
    links = static_links(debug_app.test_client().get("/sign-in").get_data(as_text=True))
    assert "/static/app.css" in links
    assert not any(HASHED.search(link) for link in links)
