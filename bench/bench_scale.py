"""The overview at scale: 100k and 1M entries on PostgreSQL, 100k on SQLite.

For each size the benchmark creates a database of its own, builds the schema by running the
migrations (so every index the migrations add is there), bulk-loads a merchant shaped like a
real one (4 stores with 20 locations each, every product stocked at every location of its
store, realistic titles, a mix of statuses, reservations on some entries) with COPY on
PostgreSQL and executemany on SQLite, and reports the load time. A second process then
builds the app, signs in a platform admin and a store owner through the sign-in form (CSRF
on) and times, with Flask's test client (server time, no network):

* the overview's first page, one store (the owner's), a location + status filter, a search,
  page 1 and page 1,000 as htmx asks for them, the stats cards, and an adjust round trip
  (GET the dialog, POST the form it returned);

each next to

* bare: the SQL statements the app sent for that request, captured once and replayed on a
  plain pooled connection with every row fetched: the same work without the app around it
  (for the adjust, hand-written SQL: a POST can't be replayed);
* naive, for page 1,000 and the search: hand-written SQL fetching the same rows the
  straightforward way (the page, its count, the stats aggregate, the locations), with OFFSET
  for the page and a LIKE scan for the search.

Then the peak memory of the app process during the requests, and during a full CSV export
of every row (GET /inventory.csv; GET /movements.csv while that does not exist) read as a
stream.

Run from the repository root:  python bench/bench_scale.py [--quick]
See bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import html
import io
import json
import math
import os
import platform
import pstats
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench_overview import (
    HX,
    PASSWORD,
    TABLES,
    Scenario,
    bare_adjust,
    bare_overview,
    pct,
    plan_dataset,
)
from bench_services import (
    RESULTS_DIR,
    BareSQL,
    BenchDatabase,
    Unreachable,
    _server_version,
    app_config,
    bulk_load,
    normalize_url,
)
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, bindparam, create_engine, event, text
from sqlalchemy.engine import make_url

from app import create_app
from app.database import configure_engine
from app.extensions import db
from app.services import tallies
from app.services.cursors import encode_cursor

BENCH_DIR = Path(__file__).resolve().parent
BASE = "https://localhost"  # the session cookie is Secure, as in production
PER_PAGE = 50
DEEP_PAGE = 1000
MEMORY_AIM_MB = 200
# The aim for app time / bare SQL time on overview requests: (backend, entries) -> ratio.
RATIO_AIM_LARGE, RATIO_AIM_SMALL = 3.0, 2.0
SEARCH_AIM, DEEP_AIM = 5.0, 2.0
# Issue #15's aims at 100k entries: the full first page's p50 (on a quiet machine) and the
# overview's HTML for a page of 50 rows and for a row (KB of 1,024 bytes, as wire.py counts).
FIRST_PAGE_AIM_MS = {"sqlite": 4.0, "postgresql": 7.0}
PAGE_AIM_KB, ROW_AIM_KB = 40, 0.6


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Overview requests at 100k and 1M entries vs their bare and naive SQL."
    )
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    parser.add_argument("--sizes", default="100000,1000000",
                        help="PostgreSQL sizes in entries, comma-separated")
    parser.add_argument("--sqlite-size", type=int, default=100_000,
                        help="SQLite size in entries (0 skips SQLite)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 10k entries on both backends, few requests")
    parser.add_argument("--stores", type=int, default=4)
    parser.add_argument("--locations", type=int, default=20, help="locations per store")
    parser.add_argument("--search", default="ambo",
                        help="the search term (a fragment of 'Bamboo', in ~1 %% of titles)")
    parser.add_argument("--requests", type=int, default=30, help="most timed requests per row")
    parser.add_argument("--min-requests", type=int, default=5,
                        help="fewest timed requests per row, whatever the budget")
    parser.add_argument("--row-budget", type=float, default=15.0,
                        help="seconds per row (app + bare + naive) after which timing stops")
    parser.add_argument("--warmup", type=int, default=1, help="untimed requests first")
    parser.add_argument("--database-url",
                        help="PostgreSQL server to create the bench databases on "
                             "(its own database is only used for CREATE/DROP DATABASE)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the databases (their URLs are printed)")
    parser.add_argument("--reuse", metavar="FILE",
                        help="measure a database kept by --keep again, without seeding")
    parser.add_argument("--seed", type=int, default=1234, help="random seed")
    parser.add_argument("--profile", action="store_true",
                        help="also profile the admin's first page with cProfile at each size")
    parser.add_argument("--no-save", action="store_true", help="don't write bench/results/")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.sqlite_size = "10000", 10_000
        args.requests, args.min_requests, args.row_budget, args.warmup = 3, 3, 1.0, 1
    try:
        args.size_list = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes: whole numbers separated by commas")
    per_product = args.stores * args.locations
    if min([*args.size_list, args.sqlite_size or per_product]) < per_product:
        parser.error(f"each size must be at least stores x locations = {per_product}")
    if min(args.stores, args.locations, args.requests, args.min_requests) < 1:
        parser.error("stores, locations, requests and min-requests must be >= 1")
    if args.database_url:
        args.database_url = normalize_url(args.database_url)
        if make_url(args.database_url).get_backend_name() != "postgresql":
            parser.error("--database-url names a PostgreSQL server")
    return args


# ---------------------------------------------------------------------------
# Seeding (in the parent process, so the app process's memory is its own)
# ---------------------------------------------------------------------------


@dataclass
class Target:
    """One database to measure, and what the child process needs to know about it."""

    backend: str
    entries: int
    url: str = ""
    label: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    owner_store: int = 1
    owner_location: int = 0
    adjust_entries: list[int] = field(default_factory=list)
    seed_s: float = 0.0
    generate_s: float = 0.0
    migrate_s: float = 0.0


def seed(target: Target, args: argparse.Namespace) -> None:
    """Migrate the empty database, then bulk-load the merchant."""
    from flask_migrate import upgrade

    products = math.ceil(target.entries / (args.stores * args.locations))
    shape = SimpleNamespace(stores=args.stores, locations=args.locations, products=products)
    app = create_app({**app_config(target.url), "RATELIMIT_ENABLED": False})
    with app.app_context():
        started = time.perf_counter()
        upgrade()
        target.migrate_s = time.perf_counter() - started
        started = time.perf_counter()
        data, rows = plan_dataset(shape, random.Random(args.seed))  # type: ignore[arg-type]
        target.generate_s = time.perf_counter() - started
        started = time.perf_counter()
        with indexes_built_after(db.engine, list(TABLES)):
            bulk_load(db.engine, rows, TABLES)
        del rows
        refresh_search_index(db.engine)
        # The tally triggers wrote a row per loaded statement (PostgreSQL) or entry (SQLite):
        # fold them as the first stats read would, so the timed reads see the steady state.
        tallies.fold()
        target.seed_s = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    target.counts = data.counts
    target.owner_store, target.owner_location = data.owner_store, data.owner_location
    target.adjust_entries = data.adjust_entries
    target.entries = data.counts["entries"]


@contextmanager
def indexes_built_after(engine: Engine, tables: list[str]) -> Iterator[None]:
    """Drop the loaded tables' indexes that back no constraint (and on PostgreSQL their
    foreign keys), load, then build them again: one sorted build per index and one
    validating join per constraint instead of an index insert and a look-up per row.
    Primary keys, unique constraints, checks and triggers stay as they are."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            sqlite_indexes = conn.execute(text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name IN :tables"
            ).bindparams(bindparam("tables", expanding=True)), {"tables": tables}).all()
            for name, _definition in sqlite_indexes:
                conn.exec_driver_sql(f'DROP INDEX "{name}"')
        yield
        with engine.begin() as conn:
            for _name, definition in sqlite_indexes:
                conn.exec_driver_sql(definition)
        raw_sqlite = engine.raw_connection()
        try:
            raw_sqlite.driver_connection.execute("ANALYZE")
        finally:
            raw_sqlite.close()
        return
    with engine.begin() as conn:
        foreign_keys = conn.execute(text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text IN :tables"
        ).bindparams(bindparam("tables", expanding=True)), {"tables": tables}).all()
        indexes = conn.execute(text(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
            "FROM pg_index i WHERE i.indrelid::regclass::text IN :tables AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        ).bindparams(bindparam("tables", expanding=True)), {"tables": tables}).all()
        for table, name, _definition in foreign_keys:
            conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        for name, _definition in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        for _name, definition in indexes:
            conn.exec_driver_sql(definition)
        for table, name, definition in foreign_keys:
            conn.exec_driver_sql(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    raw = engine.raw_connection()  # ANALYZE again: expression indexes have statistics too
    try:
        raw.driver_connection.autocommit = True
        raw.driver_connection.execute(f"ANALYZE {', '.join(tables)}")
    finally:
        raw.driver_connection.autocommit = False
        raw.close()


def refresh_search_index(engine: Engine) -> None:
    """An external-content FTS5 index (SQLite) learns of bulk-loaded products by a rebuild;
    triggers and PostgreSQL's indexes on the columns themselves need nothing."""
    if engine.dialect.name != "sqlite":
        return
    with engine.begin() as conn:
        tables = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql LIKE '%fts5%'"
        ).all()
        for name, sql in tables:
            kept_by_triggers = conn.exec_driver_sql(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND sql LIKE ?",
                (f"%INSERT INTO {name}%",),
            ).scalar_one()
            if "content=" in sql.replace(" ", "").lower() and not kept_by_triggers:
                conn.exec_driver_sql(f'INSERT INTO "{name}"("{name}") VALUES (\'rebuild\')')


# ---------------------------------------------------------------------------
# The app process: statements, timing, memory
# ---------------------------------------------------------------------------


TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.I)


class Statements:
    """Counts the app's SQL statements and, when asked, keeps them for replaying."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self.capturing = False
        self.captured: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any
              ) -> None:
        if TRANSACTION_CONTROL.match(statement):
            return  # SQLite's BEGIN IMMEDIATE/DEFERRED: not work a request asks for
        self.count += 1
        if self.capturing:
            self.captured.append((statement, parameters))

    def capture(self, request: Callable[[], Any]) -> list[tuple[str, Any]]:
        self.captured, self.capturing = [], True
        try:
            request()
        finally:
            self.capturing = False
        return self.captured


def replay(engine: Engine, statements: list[tuple[str, Any]]) -> None:
    """The captured statements, verbatim, on one pooled connection, every row fetched."""
    with engine.connect() as conn:
        for statement, parameters in statements:
            result = conn.exec_driver_sql(statement, parameters)
            if result.returns_rows:
                result.fetchall()


def run_naive(engine: Engine, statements: list[tuple[Any, dict[str, Any]]],
              force_scan: bool = False) -> None:
    """Hand-written statements in one transaction. With force_scan on PostgreSQL, bitmap
    scans are off for that transaction: a GIN (trigram) index is only ever read through a
    bitmap scan, so the search becomes the sequential LIKE scan it would be without it."""
    with engine.connect() as conn:
        if force_scan and engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        for statement, params in statements:
            conn.execute(statement, params).all()


def memory_mb() -> dict[str, float]:
    """This process's resident memory now (VmRSS) and at its peak (VmHWM), in MB."""
    values: dict[str, float] = {}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    values[key] = int(rest.split()[0]) / 1024
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
        values = {"VmRSS": peak_mb, "VmHWM": peak_mb}
    return {"rss": values["VmRSS"], "peak": values["VmHWM"]}


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@dataclass
class Row:
    name: str
    user: str
    app: list[float]
    bare: list[float]
    naive: list[float]
    statements: str
    naive_label: str = ""
    note: str = ""
    # The last response's body: its size, and how many entry rows it holds and their bytes
    # (from the first row's <tr> to the last row's </tr>, as wire.py measures a row).
    body_bytes: int | None = None
    body_rows: int = 0
    rows_bytes: int = 0

    def summary(self) -> dict[str, Any]:
        app50 = pct(self.app, 50)
        bare50 = pct(self.bare, 50) if self.bare else None
        naive50 = pct(self.naive, 50) if self.naive else None
        return {
            "request": self.name, "user": self.user, "n": len(self.app),
            "p50_ms": app50, "p95_ms": pct(self.app, 95),
            "bare_p50_ms": bare50, "bare_p95_ms": pct(self.bare, 95) if self.bare else None,
            "ratio": app50 / bare50 if bare50 else None,
            "naive_p50_ms": naive50, "naive_label": self.naive_label,
            "speedup": naive50 / app50 if naive50 else None,
            "statements": self.statements, "note": self.note,
            "body_bytes": self.body_bytes, "body_rows": self.body_rows,
            "rows_bytes": self.rows_bytes,
        }


def checked(response: Any, status: int = 200) -> Any:
    if response.status_code != status:
        raise SystemExit(f"unexpected {response.status_code} for {response.request.path}: "
                         f"{response.get_data(as_text=True)[:300]}")
    return response


def hidden_value(page: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
    if not found:
        raise SystemExit(f"no {name} field in the page")
    return html.unescape(found.group(1))


def sign_in(app: Flask, email: str) -> FlaskClient:
    """Through the form, CSRF token and all."""
    client = app.test_client()
    page = checked(client.get("/sign-in", base_url=BASE)).get_data(as_text=True)
    checked(client.post("/sign-in", base_url=BASE, headers={"Referer": f"{BASE}/sign-in"}, data={
        "email": email, "password": PASSWORD, "csrf_token": hidden_value(page, "csrf_token"),
    }), 303)
    return client


ENTRY_ROW = re.compile(r'<tr id="entry-(\d+)"')


def html_rows(body: bytes) -> tuple[int, int]:
    """How many entry rows an overview's HTML holds, and the bytes they take together."""
    rows = body.count(b'<tr id="entry-')
    if not rows:
        return 0, 0
    first = body.find(b'<tr id="entry-')
    return rows, body.rfind(b"</tr>", first) + len(b"</tr>") - first


def measure(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    """Everything timed, in this (the app's) process."""
    backend, tag = target.backend, f"[{target.backend} {target.entries:,}]"
    config = {**app_config(target.url), "RATELIMIT_ENABLED": False}
    app = create_app(config)
    with app.app_context():
        statements = Statements(db.engine)
    engine = create_engine(target.url, **app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    configure_engine(engine, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])
    after_start = memory_mb()
    admin = sign_in(app, "admin@bench.example")
    owner = sign_in(app, "owner@bench.example")
    after_sign_in = memory_mb()  # its peak includes hashing the password twice
    peak_reset = reset_peak()  # from here on the peak mark is the requests' own
    term = args.search
    store, location = target.owner_store, target.owner_location

    # Page 1,000 (or the deepest full page a small dataset has): the cursor the "Next" link
    # of page 999 carries is the (title, id) of its last row.
    deep = max(2, min(DEEP_PAGE, target.entries // PER_PAGE))
    with engine.connect() as conn:
        key_title, key_id = conn.execute(text(
            "SELECT p.title, e.id FROM inventory_entries e JOIN products p "
            "ON p.id = e.product_id ORDER BY p.title, e.id LIMIT 1 OFFSET :n"
        ), {"n": (deep - 1) * PER_PAGE - 1}).one()
        offset_ids = [r[0] for r in conn.execute(text(
            "SELECT e.id FROM inventory_entries e JOIN products p ON p.id = e.product_id "
            "ORDER BY p.title, e.id LIMIT :limit OFFSET :offset"
        ), {"limit": PER_PAGE, "offset": (deep - 1) * PER_PAGE})]
        matches = conn.execute(text(
            "SELECT count(*) FROM inventory_entries e JOIN products p ON p.id = e.product_id "
            "WHERE lower(p.title) LIKE :p OR lower(p.sku) LIKE :p OR p.gtin = :t"
        ), {"p": f"%{term.lower()}%", "t": term}).scalar_one()
    # What a browser sends from the overview: htmx names the page it is on, so a page flip
    # or a search in the same store gets the rows without the stats cards.
    from_overview = {**HX, "HX-Current-URL": f"{BASE}/inventory"}
    deep_url = f"/inventory?cursor={encode_cursor(key_title, key_id, backwards=False)}"
    deep_page = checked(admin.get(deep_url, headers=HX, base_url=BASE)).get_data(as_text=True)
    deep_ok = [int(i) for i in ENTRY_ROW.findall(deep_page)] == offset_ids
    print(f"{tag} page {deep:,} through the cursor shows the rows OFFSET finds: "
          f"{'yes' if deep_ok else 'NO'}; q={term} matches {matches:,} entries "
          f"({matches / target.entries:.2%})", flush=True)

    def get(client: FlaskClient, url: str, headers: dict[str, str] | None = None
            ) -> Callable[[], Any]:
        return lambda: checked(client.get(url, headers=headers or {}, base_url=BASE))

    def naive(scope: list[int] | None, sc: Scenario, only: slice = slice(None),
              force_scan: bool = False) -> Callable[[], None]:
        chosen = bare_overview(backend, scope, sc)[only]
        return lambda: run_naive(engine, chosen, force_scan)

    # Naive SQL where the issue names the naive way: OFFSET for the deep page, a LIKE scan
    # for the search. The other rows compare with their bare SQL only.
    plans: list[tuple[str, str, Callable[[], Any], Callable[[], None] | None, str]] = [
        ("overview, first page", "admin", get(admin, "/inventory"), None, ""),
        ("one store, first page", "owner", get(owner, "/inventory"), None, ""),
        ("store filter", "admin", get(admin, f"/inventory?store={store}"), None, ""),
        ("location + status filter", "admin",
         get(admin, f"/inventory?store={store}&location={location}&status=low_stock"),
         None, ""),
        (f"search q={term} (htmx)", "admin", get(admin, f"/inventory?q={term}", from_overview),
         naive(None, Scenario(search=term), force_scan=True), "LIKE scan"),
        ("page 1 (htmx)", "admin", get(admin, "/inventory", from_overview), None, ""),
        (f"page {deep:,} (htmx, cursor)", "admin", get(admin, deep_url, from_overview),
         naive(None, Scenario(offset=(deep - 1) * PER_PAGE)), "OFFSET"),
        ("grouped by item, first page", "admin", get(admin, "/inventory?group=item"),
         None, ""),
        ("one store grouped by item", "owner", get(owner, "/inventory?group=item"), None, ""),
        ("stats (GET /inventory/stats)", "admin", get(admin, "/inventory/stats"),
         naive(None, Scenario(), slice(2, 3)), "count all"),
    ]
    rows: list[Row] = []
    for name, user, request, naive_run, naive_label in plans:
        captured = statements.capture(request)
        rows.append(time_row(name, user, request, lambda c=captured: replay(engine, c),
                             naive_run, naive_label, statements, args))
        print(f"{tag} {name}: {rows[-1].summary()['p50_ms']:.1f} ms", flush=True)

    rows.append(adjust_row(owner, engine, target, statements, args))
    print(f"{tag} adjust round trip: {rows[-1].summary()['p50_ms']:.1f} ms", flush=True)

    # The queries alone, for the search and paging aims.
    search_sql = statements.capture(get(admin, f"/inventory?q={term}", HX))
    search_only = [(s, p) for s, p in search_sql if _mentions(p, term)]
    extra = {
        "search_sql": time_pair(
            lambda: replay(engine, search_only),
            naive(None, Scenario(search=term), slice(0, 2), force_scan=True), args),
        "search_statements": len(search_only),
        "deep_sql": time_pair(
            naive(None, Scenario(cursor_key=(key_title, key_id)), slice(0, 1)),
            naive(None, Scenario(offset=(deep - 1) * PER_PAGE), slice(0, 1)), args),
    }
    after_requests = memory_mb()
    profile = profile_overview(admin, args) if args.profile else ""
    export = measure_export(admin, tag)
    engine.dispose()
    return {
        "backend": backend,
        "server": _server_version(target.url),
        "when": datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "target": asdict(target),
        "deep_page": deep,
        "deep_matches_offset": deep_ok,
        "search_term": term,
        "search_matches": matches,
        "rows": [r.summary() for r in rows],
        "extra": extra,
        "memory": {"after_start": after_start, "after_sign_in": after_sign_in,
                   "after_requests": after_requests, "requests_only": peak_reset,
                   "export": export},
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0],
        "profile": profile,
    }


def _mentions(parameters: Any, term: str) -> bool:
    values = parameters.values() if isinstance(parameters, dict) else parameters or ()
    return any(isinstance(v, str) and term.lower() in v.lower() for v in values)


def time_row(name: str, user: str, request: Callable[[], Any], bare: Callable[[], None],
             naive: Callable[[], None] | None, naive_label: str, statements: Statements,
             args: argparse.Namespace) -> Row:
    """Warm up, then alternate app request, bare SQL and naive SQL, so drift hits all alike,
    until --requests samples or the row's time budget (never fewer than --min-requests)."""
    clock = time.perf_counter
    for _ in range(args.warmup):
        request()
        bare()
        if naive:
            naive()
    app_ms: list[float] = []
    bare_ms: list[float] = []
    naive_ms: list[float] = []
    counts: set[int] = set()
    response = None
    started_row = clock()
    while len(app_ms) < args.requests and (
        len(app_ms) < args.min_requests or clock() - started_row < args.row_budget
    ):
        statements.count = 0
        started = clock()
        response = request()
        app_ms.append((clock() - started) * 1e3)
        counts.add(statements.count)
        started = clock()
        bare()
        bare_ms.append((clock() - started) * 1e3)
        if naive:
            started = clock()
            naive()
            naive_ms.append((clock() - started) * 1e3)
    shown = "/".join(str(c) for c in sorted(counts))  # more than one value would be a finding
    row = Row(name, user, app_ms, bare_ms, naive_ms, shown, naive_label if naive else "")
    if response is not None and hasattr(response, "get_data"):
        body = response.get_data()
        row.body_bytes = len(body)
        row.body_rows, row.rows_bytes = html_rows(body)
    return row


def time_pair(first: Callable[[], None], second: Callable[[], None],
              args: argparse.Namespace) -> dict[str, float]:
    for _ in range(args.warmup):
        first()
        second()
    a: list[float] = []
    b: list[float] = []
    started_pair = time.perf_counter()
    while len(a) < args.requests and (
        len(a) < args.min_requests or time.perf_counter() - started_pair < args.row_budget / 2
    ):
        for fn, samples in ((first, a), (second, b)):
            started = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - started) * 1e3)
    return {"p50_ms": pct(a, 50), "other_p50_ms": pct(b, 50), "n": len(a)}


def adjust_row(client: FlaskClient, engine: Engine, target: Target, statements: Statements,
               args: argparse.Namespace) -> Row:
    """GET the adjust dialog and POST what it returned (its CSRF token and idempotency key),
    ±1 alternating, as htmx does. Bare: hand-written, since a write can't be replayed: the
    entry for the dialog, then SELECT, UPDATE … RETURNING + ledger INSERT, SELECT."""
    entries = target.adjust_entries
    app_entries, bare_entries = entries[: len(entries) // 2], entries[len(entries) // 2:]
    bare = BareSQL(engine)
    actor = SimpleNamespace(user_id=2, name="owner")
    counter = {"app": 0, "bare": 0}
    split: list[str] = []

    def request() -> None:
        i = counter["app"]
        counter["app"] += 1
        entry_id = app_entries[i % len(app_entries)]
        path = f"/inventory/entries/{entry_id}/adjust"
        statements.count = 0
        dialog = checked(client.get(f"{path}?next=/inventory", headers=HX, base_url=BASE))
        dialog_statements = statements.count
        page = dialog.get_data(as_text=True)
        # Over HTTPS, Flask-WTF also wants a same-origin Referer, as a browser sends.
        headers = {**HX, "Referer": f"{BASE}/inventory"}
        checked(client.post(path, headers=headers, base_url=BASE, data={
            "csrf_token": hidden_value(page, "csrf_token"),
            "idempotency_key": hidden_value(page, "idempotency_key"),
            "next": "/inventory", "delta": "1" if i % 2 == 0 else "-1", "reason": "bench",
        }))
        split[:] = [f"{dialog_statements}+{statements.count - dialog_statements}"]

    def bare_run() -> None:
        i = counter["bare"]
        counter["bare"] += 1
        bare_adjust(engine, bare, actor, target.owner_store, bare_entries[i % len(bare_entries)],
                    1 if i % 2 == 0 else -1)

    row = time_row("adjust round trip (GET + POST)", "owner", request, bare_run, None, "",
                   statements, args)
    row.statements = split[0] if split else row.statements
    row.note = "bare: hand-written SELECT, UPDATE…RETURNING + INSERT, SELECT"
    return row


def measure_export(client: FlaskClient, tag: str) -> dict[str, Any]:
    """Every row as CSV, read as a stream; the peak RSS mark is reset first so the figure
    is the export's own."""
    fresh = reset_peak()
    before = memory_mb()
    for path in ("/inventory.csv", "/movements.csv"):
        started = time.perf_counter()
        response = client.get(path, base_url=BASE, buffered=False)
        if response.status_code == 404:
            response.close()
            continue
        checked(response)
        size = lines = 0
        sampled = before["rss"]
        for n, chunk in enumerate(response.iter_encoded()):
            size += len(chunk)
            lines += chunk.count(b"\n")
            if n % 64 == 0:
                sampled = max(sampled, memory_mb()["rss"])
        response.close()
        seconds = time.perf_counter() - started
        after = memory_mb()
        print(f"{tag} export {path}: {lines - 1:,} rows, {size / 1e6:.1f} MB in {seconds:.1f} s",
              flush=True)
        return {"path": path, "rows": lines - 1, "bytes": size, "seconds": seconds,
                "rss_before": before["rss"], "peak": after["peak"] if fresh else sampled,
                "peak_is_export_only": fresh}
    return {"path": None}


def profile_overview(client: FlaskClient, args: argparse.Namespace) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(max(3, args.min_requests)):
        checked(client.get("/inventory", base_url=BASE))
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def times(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def format_report(report: dict[str, Any]) -> str:
    t = report["target"]
    header = (f"{'request':<34}{'user':<6}{'n':>4}{'p50 ms':>9}{'p95 ms':>9}{'bare p50':>10}"
              f"{'ratio':>7}{'naive p50':>11}{'':<10}{'speedup':>8}{'statements':>12}"
              f"{'HTML KB':>9}")
    lines = [
        f"== {report['server']}: {t['entries']:,} entries ({t['counts']['stores']} stores, "
        f"{t['counts']['locations']} locations, {t['counts']['products']:,} products, "
        f"{t['counts']['reservations']:,} reservations) ==",
        f"seed: migrations {t['migrate_s']:.1f} s, generate {t['generate_s']:.1f} s, "
        f"load {t['seed_s']:.1f} s ({t['counts']['entries'] + t['counts']['ledger_rows']:,} "
        "entry and ledger rows)",
        header,
        "-" * len(header),
    ]
    for r in report["rows"]:
        lines.append(
            f"{r['request']:<34}{r['user']:<6}{r['n']:>4}{ms(r['p50_ms']):>9}"
            f"{ms(r['p95_ms']):>9}{ms(r['bare_p50_ms']):>10}{times(r['ratio']):>7}"
            f"{ms(r['naive_p50_ms']):>11} {r['naive_label']:<9}{times(r['speedup']):>8}"
            f"{r['statements']:>12}"
            + (f"{r['body_bytes'] / 1024:>9.1f}" if r.get("body_bytes") is not None else "")
        )
    x = report["extra"]
    deep = report["deep_page"]
    lines += [
        f"search SQL alone ({x['search_statements']} statements naming the term): "
        f"{ms(x['search_sql']['p50_ms'])} ms vs LIKE scan {ms(x['search_sql']['other_p50_ms'])} "
        f"ms = {times(x['search_sql']['other_p50_ms'] / x['search_sql']['p50_ms'])}; "
        f"q={report['search_term']} matches {report['search_matches']:,} entries "
        f"({report['search_matches'] / t['entries']:.2%})",
        f"page {deep:,} query alone: keyset {ms(x['deep_sql']['p50_ms'])} ms vs OFFSET "
        f"{ms(x['deep_sql']['other_p50_ms'])} ms; the cursor's page shows the OFFSET rows: "
        f"{'yes' if report['deep_matches_offset'] else 'NO'}",
    ]
    m = report["memory"]
    e = m["export"]
    lines.append(
        f"app process memory: {m['after_start']['rss']:.0f} MB after start-up, peak "
        f"{m['after_sign_in']['peak']:.0f} MB up to the two sign-ins (password hashing), "
        f"peak {m['after_requests']['peak']:.0f} MB over the requests"
        + ("" if m["requests_only"] else " (since start)")
    )
    if e.get("path"):
        lines.append(
            f"CSV export {e['path']}: {e['rows']:,} rows, {e['bytes'] / 1e6:.1f} MB in "
            f"{e['seconds']:.1f} s, RSS {e['rss_before']:.0f} MB before, peak "
            f"{e['peak']:.0f} MB during" + ("" if e["peak_is_export_only"] else " (sampled)")
        )
    else:
        lines.append("CSV export: neither /inventory.csv nor /movements.csv answered")
    lines.append(f"host load average {report['load']:.1f} ({report['cpus']} CPUs)")
    lines += ["aims:"] + [f"  {aim}" for aim in judge(report)]
    lines += ["issue #15's aims (times on a quiet machine; this host's load is above):"]
    lines += [f"  {aim}" for aim in judge_lean(report)]
    return "\n".join(lines)


def judge_lean(report: dict[str, Any]) -> list[str]:
    """Issue #15's aims for the overview: the full first page's p50, and its HTML for the
    page and for a row."""
    rows = {r["request"]: r for r in report["rows"]}
    first = rows["overview, first page"]
    aim_ms = FIRST_PAGE_AIM_MS[report["backend"]]
    out = [f"{'met ' if first['p50_ms'] <= aim_ms else 'MISS'} full first page p50 "
           f"<= {aim_ms:g} ms: {first['p50_ms']:.2f} ms (p95 {first['p95_ms']:.2f} ms, its "
           f"bare SQL {first['bare_p50_ms']:.2f} ms)"
           + ("" if report["target"]["entries"] == 100_000 else
              f" (the aim is for 100,000 entries; this is {report['target']['entries']:,})")]
    page, count, rows_bytes = (first.get("body_bytes"), first.get("body_rows"),
                               first.get("rows_bytes"))
    if page is None or not count:
        return [*out, "MISS the first page's HTML was not measured"]
    per_page = page / 1024 * PER_PAGE / count
    per_row = rows_bytes / count / 1024
    out.append(f"{'met ' if per_page <= PAGE_AIM_KB else 'MISS'} HTML <= {PAGE_AIM_KB} KB a page "
               f"of {PER_PAGE} rows: {page / 1024:.1f} KB for {count} rows"
               + ("" if count == PER_PAGE else f" ({per_page:.1f} KB for {PER_PAGE})"))
    out.append(f"{'met ' if per_row <= ROW_AIM_KB else 'MISS'} HTML <= {ROW_AIM_KB} KB a row: "
               f"{per_row:.2f} KB ({rows_bytes:,} bytes of rows / {count})")
    return out


def judge(report: dict[str, Any]) -> list[str]:
    """Issue #7's aims for this run, each met or missed."""
    t = report["target"]
    large = report["backend"] == "postgresql" and t["entries"] >= 1_000_000
    aim = RATIO_AIM_LARGE if large else RATIO_AIM_SMALL
    rows = {r["request"]: r for r in report["rows"]}
    out = []
    overview = [r for r in report["rows"] if not r["request"].startswith("adjust")]
    over = [f"{r['request']} {r['ratio']:.1f}x" for r in overview if r["ratio"] > aim]
    out.append(f"{'met ' if not over else 'MISS'} overview requests within {aim:g}x of their "
               f"bare SQL" + (f": {', '.join(over)}" if over else ""))
    search = next(r for name, r in rows.items() if name.startswith("search"))
    sql = report["extra"]["search_sql"]
    sql_speedup = sql["other_p50_ms"] / sql["p50_ms"]
    ok = search["speedup"] >= SEARCH_AIM
    out.append(f"{'met ' if ok else 'MISS'} search >= {SEARCH_AIM:g}x faster than the LIKE "
               f"scan: request {search['speedup']:.1f}x, its search SQL alone "
               f"{sql_speedup:.1f}x")
    first = rows["page 1 (htmx)"]
    deep = next(r for name, r in rows.items() if name.startswith(f"page {report['deep_page']:,}"))
    deep_ratio = deep["p50_ms"] / first["p50_ms"]
    out.append(f"{'met ' if deep_ratio <= DEEP_AIM else 'MISS'} page {report['deep_page']:,} "
               f"within {DEEP_AIM:g}x of page 1: {deep_ratio:.2f}x")
    same = first["statements"] == deep["statements"]
    out.append(f"{'met ' if same else 'MISS'} same statements on page 1 and page "
               f"{report['deep_page']:,}: {first['statements']} / {deep['statements']}")
    m = report["memory"]
    peak = max(m["after_sign_in"]["peak"], m["after_requests"]["peak"],
               m["export"].get("peak") or 0)
    out.append(f"{'met ' if peak < MEMORY_AIM_MB else 'MISS'} app process under "
               f"{MEMORY_AIM_MB} MB including the export: peak {peak:.0f} MB")
    return out


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def run_target(target: Target, args: argparse.Namespace) -> dict[str, Any] | None:
    database = BenchDatabase(target.backend, args.database_url
                             if target.backend == "postgresql" else None)
    try:
        target.url = database.create()
    except Unreachable as exc:
        print(f"[{target.backend}] skipped: {exc}")
        return None
    target.label = database.label
    tag = f"[{target.backend} {target.entries:,}]"
    try:
        print(f"{tag} database {target.label}", flush=True)
        seed(target, args)
        c = target.counts
        print(f"{tag} seeded {c['stores']} stores, {c['locations']} locations, "
              f"{c['products']:,} products, {c['entries']:,} entries, {c['reservations']:,} "
              f"reservations, {c['ledger_rows']:,} ledger rows: load {target.seed_s:.1f} s "
              f"(generate {target.generate_s:.1f} s, migrations {target.migrate_s:.1f} s)",
              flush=True)
        return measure_in_child(target, args)
    finally:
        if args.keep:
            RESULTS_DIR.mkdir(exist_ok=True)
            kept = RESULTS_DIR / f"scale-kept-{target.backend}-{target.entries}.json"
            kept.write_text(json.dumps(asdict(target)))
            print(f"{tag} kept {target.label}; measure it again with --reuse {kept}")
        else:
            database.drop()


def measure_in_child(target: Target, args: argparse.Namespace) -> dict[str, Any] | None:
    """The app runs in a process of its own, so its peak memory is not the seeder's."""
    tag = f"[{target.backend} {target.entries:,}]"
    with tempfile.TemporaryDirectory(prefix="stockroom-scale-") as tmp:
        spec, out = Path(tmp) / "target.json", Path(tmp) / "report.json"
        spec.write_text(json.dumps(asdict(target)))
        argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(spec),
                "--search", args.search, "--requests", str(args.requests),
                "--min-requests", str(args.min_requests), "--row-budget",
                str(args.row_budget), "--warmup", str(args.warmup)]
        if args.profile:
            argv.append("--profile")
        if subprocess.run(argv).returncode != 0 or not out.exists():
            print(f"{tag} the measuring process failed")
            return None
        report: dict[str, Any] = json.loads(out.read_text())
    print()
    print(format_report(report))
    if report.get("profile"):
        print(f"\n--- cProfile: admin first page, {tag} ---\n{report['profile']}")
    print(flush=True)
    return report


def child_main(spec_path: str, args: argparse.Namespace) -> int:
    spec = Path(spec_path)
    target = Target(**json.loads(spec.read_text()))
    report = measure(target, args)
    (spec.parent / "report.json").write_text(json.dumps(report))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, args)
    started = time.perf_counter()
    if args.reuse:
        reused = measure_in_child(Target(**json.loads(Path(args.reuse).read_text())), args)
        return 0 if reused else 1
    targets: list[Target] = []
    if args.backend in ("postgresql", "both"):
        targets += [Target("postgresql", n) for n in args.size_list]
    if args.backend in ("sqlite", "both") and args.sqlite_size:
        targets.append(Target("sqlite", args.sqlite_size))
    reports = [r for r in (run_target(t, args) for t in targets) if r is not None]
    print(f"total {time.perf_counter() - started:.0f} s")
    if reports and not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"scale-{datetime.now():%Y%m%d-%H%M%S}.json"
        path.write_text(json.dumps(reports, indent=2))
        print(f"saved {path.relative_to(BENCH_DIR.parent)}")
    return 0 if len(reports) == len(targets) else 1


if __name__ == "__main__":
    sys.exit(main())
