"""Static files as browsers expect them: content-hashed names cached for a year, and text
responses compressed.

Names: `flask digest compile` (Flask-Static-Digest; `make setup` runs it, and so must a
deploy) copies each file in static/ to a name carrying the MD5 of its bytes
(app-<32 hex>.css) and writes static/cache_manifest.json, the map from plain names to
hashed ones. Both are build artifacts, not kept in git. Templates link static files with
`static_url_for('static', filename=...)`, which looks the name up in that map. A hashed name
never changes its bytes, so it is sent `Cache-Control: public, max-age=31536000,
immutable`: a browser that has it never asks again. The plain names keep answering, with
the `no-cache` revalidation Flask gives any static file.

A page never links a name whose bytes are not the ones in static/ now: without a manifest,
for a file edited since the manifest was built, or under the debugger (`make dev`, where
files are edited while the app runs), the plain name is linked instead.

Compression: Flask-Compress sends HTML, CSS, JavaScript, JSON and SVG as brotli (level 5: about
gzip's speed, a little smaller) or gzip, whichever the client prefers, with
`Vary: Accept-Encoding` on every response. Bodies under 500 bytes go as they are, and so
do CSV exports (streamed row by row, and text/csv is not on the list) and partial content.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import re
from pathlib import Path

from flask import Flask, Response, request
from flask_compress import Compress
from flask_static_digest import FlaskStaticDigest

log = logging.getLogger("stockroom")

MANIFEST = "cache_manifest.json"
ONE_YEAR = 365 * 24 * 60 * 60
# The name Flask-Static-Digest gives a copy: its own name with "-<md5 hex>" before the suffix.
DIGESTED = re.compile(r"-([0-9a-f]{32})(?:\.[^./]*)?$")

COMPRESSED_TYPES = [
    "text/html",
    "text/css",
    "text/javascript",  # what Python names .js files from 3.12 on
    "application/javascript",  # and before
    "application/json",
    "image/svg+xml",
]


def init_static(app: Flask) -> None:
    """Hashed static links and far-future caching, and compressed responses."""
    # Hashed copies only: nothing here would serve pre-compressed .gz or .br files.
    app.config.setdefault("FLASK_STATIC_DIGEST_COMPRESSION", [])
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    # Flask sends a static file as a stream, which Flask-Compress compresses with these.
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["br", "gzip"])
    # Level 5: level 4 came out larger than gzip on htmx and the CSS; 5 beats gzip for
    # about 1.5 ms on the largest file, 11 would take 50 ms.
    app.config.setdefault("COMPRESS_BR_LEVEL", 5)
    app.config.setdefault("COMPRESS_LEVEL", 6)
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)

    digest = FlaskStaticDigest(app)
    app.extensions["static_digest"] = digest
    if app.static_folder:
        digest.manifests["static"] = (
            {} if app.debug else current_names(Path(app.static_folder))
        )
    WholeBodiesCompress(app)
    app.after_request(_cache_hashed_files)


class WholeBodiesCompress(Compress):
    """Flask-Compress, leaving partial content (206, a Range request for a static file)
    as it is: its Content-Range counts the file's own bytes, which compressing the slice
    would contradict (HTTP counts ranges in the encoded bytes)."""

    def after_request(self, response: Response | None) -> Response:
        if response is not None and response.status_code == 206:
            return response
        return super().after_request(response)


def current_names(static_folder: Path) -> dict[str, str]:
    """The manifest's entries whose hashed copy exists and holds the file's bytes as they
    are now; {} without a readable manifest."""
    try:
        manifest = json.loads((static_folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict):
        return {}
    names: dict[str, str] = {}
    stale: list[str] = []
    for plain, hashed in manifest.items():
        found = DIGESTED.search(str(hashed))
        copy, source = static_folder / str(hashed), static_folder / str(plain)
        if found and copy.is_file() and source.is_file() and _md5(source) == found.group(1):
            names[plain] = hashed
        else:
            stale.append(plain)
    if stale:
        log.warning("static files changed since `flask digest compile`, linked by their "
                    "plain names until it runs again: %s", ", ".join(sorted(stale)))
    return names


def manifest_is_current(static_folder: Path) -> bool:
    """Whether the manifest names a current hashed copy of every file in static/."""
    return set(current_names(static_folder)) == set(source_files(static_folder))


def build_manifest(static_folder: Path) -> None:
    """What `flask digest clean` and `flask digest compile` do, for a folder given by path
    (the test run builds it this way when it is missing or out of date)."""
    from flask_static_digest import digester

    folder = str(static_folder)
    with contextlib.redirect_stdout(io.StringIO()):  # each says where it wrote
        digester.clean(folder, [], False, False)
        digester.compile(folder, folder, [], False, False)


def source_files(static_folder: Path) -> list[str]:
    """The files the manifest maps, by their names relative to static/."""
    return sorted(
        path.relative_to(static_folder).as_posix()
        for path in static_folder.rglob("*")
        if path.is_file() and path.name != MANIFEST and not DIGESTED.search(path.name)
    )


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _cache_hashed_files(response: Response) -> Response:
    """A hashed name's bytes never change: let browsers and proxies keep it a year without
    asking again. Plain names keep Flask's no-cache revalidation."""
    if request.endpoint != "static" or response.status_code not in (200, 206, 304):
        return response
    filename = str((request.view_args or {}).get("filename", ""))
    if DIGESTED.search(filename.rsplit("/", 1)[-1]):
        response.cache_control.no_cache = None
        response.cache_control.public = True
        response.cache_control.max_age = ONE_YEAR
        response.cache_control.immutable = True
    return response
