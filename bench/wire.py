"""Bytes over the wire for the inventory overview: a first visit and a repeat visit.

The app runs in this process on a SQLite file of its own, seeded with the demo data set
(`flask seed-demo`'s three stores), and a demo user signs in through POST /sign-in. Then,
through Flask's test client:

* first visit, empty cache: GET /inventory and every static file the page links
  (stylesheets, scripts, icon);
* repeat visit: GET /inventory again; a static file is asked for again only when its
  Cache-Control lets a browser not keep it (no max-age: a conditional request, answered 304),
  so files sent `immutable` or with a max-age cost nothing.

Each is counted twice: as a client asking for no encoding gets it, and as a browser sending
`Accept-Encoding: br, gzip` does. A response counts its status line, headers and body (what
a browser's network panel calls "transferred", less what a server adds, such as Date and
Server). The issue's aims are printed beside: first visit <= 100 KB and repeat visit
<= 45 KB, compressed.

It measures whatever checkout it is run from, so the same script gives a before and an after:
    python bench/wire.py                       # from the repository root
    (cd ../other-checkout && python /path/to/bench/wire.py)
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path.cwd()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask.testing import FlaskClient  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FIRST_AIM_KB, REPEAT_AIM_KB = 100, 45
# The overview's HTML for a page of 50 rows, and a row of it (KB of 1,024 bytes, as printed).
PAGE_AIM_KB, ROW_AIM_KB = 40, 0.6
BROWSER = {"Accept-Encoding": "br, gzip"}
USERS = {
    "admin": "admin@stockroom.test",
    "owner": "owner@stockroom.test",
    "staff": "staff@stockroom.test",
}
LINKED = re.compile(r'<(?:link|script)\b[^>]*?\b(?:href|src)="(/static/[^"]+)"')


@dataclass
class Fetch:
    url: str
    status: int
    header_bytes: int
    body_bytes: int
    encoding: str
    cache_control: str

    @property
    def total(self) -> int:
        return self.header_bytes + self.body_bytes


@dataclass
class Visit:
    fetches: list[Fetch] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(f.total for f in self.fetches)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user", choices=sorted(USERS), default="admin",
                        help="demo user who signs in (admin sees every store)")
    parser.add_argument("--page", default="/inventory", help="the page visited")
    parser.add_argument("--no-save", action="store_true", help="don't write the JSON result")
    return parser.parse_args(argv)


def measured(response: Any, url: str) -> Fetch:
    body = response.get_data()
    status_line = f"HTTP/1.1 {response.status}\r\n"
    headers = "".join(f"{k}: {v}\r\n" for k, v in response.headers.items())
    return Fetch(url=url, status=response.status_code,
                 header_bytes=len(status_line) + len(headers) + 2, body_bytes=len(body),
                 encoding=response.headers.get("Content-Encoding", ""),
                 cache_control=response.headers.get("Cache-Control", ""))


def decoded(response: Any) -> str:
    data = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        import brotli

        data = brotli.decompress(data)
    elif encoding == "gzip":
        import gzip

        data = gzip.decompress(data)
    return data.decode("utf-8")


def kept_by_browser(cache_control: str) -> bool:
    """Whether a browser reuses the file on the next visit without asking the server."""
    words = {w.strip().split("=")[0]: w.strip() for w in cache_control.lower().split(",")}
    if "no-cache" in words or "no-store" in words:
        return False
    if "immutable" in words:
        return True
    age = words.get("max-age", "max-age=0").split("=")[-1]
    return age.isdigit() and int(age) > 0


def visits(client: FlaskClient, page: str, headers: dict[str, str]) -> tuple[Visit, Visit]:
    first, repeat = Visit(), Visit()
    response = client.get(page, headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"GET {page} answered {response.status_code}")
    first.fetches.append(measured(response, page))
    links = list(dict.fromkeys(LINKED.findall(decoded(response))))
    cached: dict[str, Any] = {}
    for link in links:
        static = client.get(link, headers=headers)
        if static.status_code != 200:
            raise SystemExit(f"GET {link} answered {static.status_code}")
        first.fetches.append(measured(static, link))
        cached[link] = static

    response = client.get(page, headers=headers)
    repeat.fetches.append(measured(response, page))
    for link in links:
        earlier = cached[link]
        if kept_by_browser(earlier.headers.get("Cache-Control", "")):
            continue
        conditional = dict(headers)
        if earlier.headers.get("ETag"):
            conditional["If-None-Match"] = earlier.headers["ETag"]
        if earlier.headers.get("Last-Modified"):
            conditional["If-Modified-Since"] = earlier.headers["Last-Modified"]
        repeat.fetches.append(measured(client.get(link, headers=conditional), link))
    return first, repeat


def kb(n: int) -> str:
    return f"{n / 1024:7.1f} KB"


def verdict(n: int, aim_kb: int) -> str:
    return "met" if n <= aim_kb * 1024 else "MISS"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from app import demo

    with tempfile.TemporaryDirectory(prefix="stockroom-wire-") as tmp:
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(tmp) / 'wire.sqlite'}",
            "SECRET_KEY": "bench", "TESTING": False, "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False, "SESSION_COOKIE_SECURE": False,
        })
        with app.app_context():
            db.create_all()
            started = time.perf_counter()
            demo.seed()
            seeded = time.perf_counter() - started
            db.session.remove()
        client = app.test_client()
        signed = client.post("/sign-in", data={"email": USERS[args.user],
                                               "password": demo.DEMO_PASSWORD})
        if signed.status_code not in (302, 303):
            raise SystemExit(f"sign-in as {USERS[args.user]} answered {signed.status_code}")
        html = client.get(args.page).get_data()
        plain_first, plain_repeat = visits(client, args.page, {})
        first, repeat = visits(client, args.page, BROWSER)
        with app.app_context():
            db.engine.dispose()

    print(f"Bytes over the wire: GET {args.page} as the demo {args.user} "
          f"({USERS[args.user]}); demo data seeded in {seeded:.1f} s")
    print(f"checkout: {ROOT}")
    print()
    print(f"{'response':58} {'no encoding':>11} {'br, gzip':>11}  cache-control")
    for plain, packed in zip(plain_first.fetches, first.fetches, strict=True):
        label = plain.url if len(plain.url) <= 58 else "…" + plain.url[-57:]
        print(f"{label:58} {kb(plain.total):>11} {kb(packed.total):>11}  "
              f"{packed.encoding or '-':4} {packed.cache_control}")
    print()
    print(f"{'visit':58} {'no encoding':>11} {'br, gzip':>11}  aim (compressed)")
    print(f"{'first visit (page + every static file it links)':58} {kb(plain_first.total):>11} "
          f"{kb(first.total):>11}  <= {FIRST_AIM_KB} KB  {verdict(first.total, FIRST_AIM_KB)}")
    asked_again = len(repeat.fetches) - 1
    label = f"repeat visit (page + {asked_again} static revalidated)"
    print(f"{label:58} {kb(plain_repeat.total):>11} {kb(repeat.total):>11}  "
          f"<= {REPEAT_AIM_KB} KB  {verdict(repeat.total, REPEAT_AIM_KB)}")
    rows = html.count(b'<tr id="entry-')
    first_row = html.find(b'<tr id="entry-')
    rows_bytes = html.rfind(b"</tr>", first_row) + len(b"</tr>") - first_row if rows else 0
    per_row = rows_bytes / rows if rows else 0.0
    print()
    print(f"{'HTML of the page (no encoding)':58} {kb(len(html)):>11} {'':>11}  "
          f"<= {PAGE_AIM_KB} KB  {verdict(len(html), PAGE_AIM_KB)}  ({rows} rows)")
    print(f"{'HTML of a row (its rows / their number)':58} {per_row / 1024:>8.2f} KB {'':>11}  "
          f"<= {ROW_AIM_KB} KB  {'met' if per_row <= ROW_AIM_KB * 1024 else 'MISS'}")
    print()
    print("Each response counts its status line, headers and body, through Flask's test "
          "client;\na repeat visit asks again only for static files without a max-age.")

    if not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        out = RESULTS_DIR / f"wire-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps({
            "checkout": str(ROOT), "page": args.page, "user": args.user,
            "first": {"plain": plain_first.total, "compressed": first.total,
                      "fetches": [asdict(f) for f in first.fetches]},
            "repeat": {"plain": plain_repeat.total, "compressed": repeat.total,
                       "fetches": [asdict(f) for f in repeat.fetches]},
            "html": {"page": len(html), "rows": rows, "per_row": per_row},
            "aims_kb": {"first": FIRST_AIM_KB, "repeat": REPEAT_AIM_KB, "page": PAGE_AIM_KB,
                        "row": ROW_AIM_KB},
        }, indent=2))
        print(f"saved {out.relative_to(Path(__file__).resolve().parent.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
