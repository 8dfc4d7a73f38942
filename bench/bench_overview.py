"""The inventory overview and an adjust round trip, through Flask, against the bare SQL.

For each backend the benchmark creates a database of its own (bench_services.BenchDatabase),
bulk-seeds 20 stores with 2 locations and 2,500 products each (100k entries) with realistic
titles, SKUs and GTINs, a sprinkling of thresholds, zero stock and reservations, then signs in
a platform admin and the owner of one store through POST /sign-in and times, with Flask's
test client (server time, no network):

* the overview's first page (the full HTML page);
* a filtered page: one store, one of its locations, status low_stock;
* a search (the htmx fragment) for a word that matches about 1 % of the entries;
* a deep page (htmx fragment), reached by following the "Next" links about 200 pages in;
* an adjust round trip: POST /inventory/entries/<id>/adjust with htmx headers.

Next to each: plain SQL (text()) fetching the same rows and numbers: the page with LIMIT,
its count, the stats aggregate and the locations list (plus the exact-code look-up for a
search, and the UPDATE/INSERT/SELECT for adjust). For the deep page the naive OFFSET query
is timed too. SQL statements per request are counted with a before_cursor_execute listener.

Run from the repository root:  python bench/bench_overview.py [--backend sqlite]
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
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench_services import (
    BACKENDS,
    RESULTS_DIR,
    TABLE_COLUMNS,
    BareSQL,
    BenchDatabase,
    Unreachable,
    _server_version,
    app_config,
    bulk_load,
    normalize_url,
    peak_rss_mb,
)
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from app import create_app
from app.database import configure_engine
from app.extensions import db
from app.services import tallies
from app.services.people.credentials import hash_password

BENCH_DIR = Path(__file__).resolve().parent
SEED_ACTOR = "system:bench-seed"
PASSWORD = "bench-password-1234"
HX = {"HX-Request": "true"}
SEARCH_WORD = "bamboo"  # the material given to 1 % of the products
PAGE_AIM_KB, FRAGMENT_AIM_KB = 150, 5

# Realistic catalogue words. Materials are weighted so SEARCH_WORD lands on ~1 % of titles.
BRANDS = ("Northwind", "Fjall", "Acme", "Harbor", "Kestrel", "Juniper", "Atlas", "Pioneer",
          "Summit", "Lumen", "Driftwood", "Copperline")
MATERIALS = (("Cotton", 20), ("Wool", 9), ("Merino", 8), ("Linen", 8), ("Leather", 10),
             ("Steel", 10), ("Ceramic", 8), ("Oak", 6), ("Recycled", 10), ("Canvas", 10),
             ("Bamboo", 1))
NOUNS = ("Socks", "T-Shirt", "Hoodie", "Backpack", "Mug", "Water Bottle", "Notebook",
         "Tote Bag", "Cap", "Scarf", "Gloves", "Belt", "Wallet", "Apron", "Cutting Board",
         "Lunch Box", "Pillow Cover", "Blanket", "Jacket", "Candle Holder")
COLORS = ("Black", "White", "Navy", "Olive", "Sand", "Charcoal", "Rust", "Forest", "Sky",
          "Burgundy")
SIZES = ("XS", "S", "M", "L", "XL", "One Size", "250 ml", "500 ml", "Large", "Small")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Overview and adjust requests through Flask vs the bare SQL."
    )
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--locations", type=int, default=2, help="locations per store")
    parser.add_argument("--products", type=int, default=2500, help="products per store")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per row")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first")
    parser.add_argument("--depth", type=int, default=200, help="pages to follow for deep")
    parser.add_argument(
        "--database-url",
        help="as for bench_services.py: a PostgreSQL server or a SQLite file to create",
    )
    parser.add_argument("--seed", type=int, default=1234, help="random seed")
    parser.add_argument(
        "--profile", action="store_true",
        help="also run the overview's first page and the search under cProfile",
    )
    parser.add_argument("--no-save", action="store_true", help="don't write bench/results/")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.stores, args.locations, args.products, args.requests, args.depth) < 1:
        parser.error("stores, locations, products, requests and depth must be >= 1")
    if args.database_url:
        args.database_url = normalize_url(args.database_url)
        scheme = make_url(args.database_url).get_backend_name()
        if scheme not in BACKENDS:
            parser.error(f"unsupported database URL scheme: {scheme}")
        if args.backend not in ("both", scheme):
            parser.error(f"--backend {args.backend} does not match --database-url")
        args.backend = scheme
    return args


# ---------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------

RESERVATION_COLUMNS = (
    "id", "store_id", "entry_id", "product_id", "location_id", "order_ref", "line_ref",
    "quantity", "open_quantity", "status", "expires_at", "created_by_id", "created_at",
    "closed_at",
)
# bench_services' tables, with reservations loaded before the ledger rows that name them.
TABLES = {
    **{k: v for k, v in TABLE_COLUMNS.items() if k != "stock_movements"},
    "reservations": RESERVATION_COLUMNS,
    "stock_movements": TABLE_COLUMNS["stock_movements"],
    # Every product a variant: four sizes of one item, as a merchant with options has them.
    "items": ("id", "store_id", "title", "description", "status", "option1", "option2",
              "option3", "created_at", "updated_at"),
    "item_variants": ("product_id", "store_id", "item_id", "value1", "value2", "value3",
                      "position"),
}
VARIANTS_PER_ITEM = 4


def gtin13(n: int) -> str:
    """A valid EAN-13 in a private prefix."""
    body = f"20{n:010d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


@dataclass
class Dataset:
    counts: dict[str, int]
    owner_store: int
    owner_location: int
    adjust_entries: list[int]  # entries of the owner's store with room for +/-1


def plan_dataset(args: argparse.Namespace, rng: random.Random) -> tuple[Dataset, dict]:
    base = (datetime.now() - timedelta(days=60)).replace(microsecond=0)
    rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in TABLES}
    materials = [m for m, weight in MATERIALS for _ in range(weight)]
    password_hash = hash_password(PASSWORD)

    rows["users"].append((1, "admin@bench.example", "Platform Admin", password_hash, True, True,
                          base))
    rows["users"].append((2, "owner@bench.example", "Store Owner", password_hash, False, True,
                          base))
    for s in range(1, args.stores + 1):
        rows["stores"].append((s, f"{BRANDS[s % len(BRANDS)]} store {s}", f"store-{s}", None,
                               base))
    rows["memberships"].append((1, 2, 1, "owner", "[]", base))

    loc_ids: dict[int, list[int]] = {}
    next_loc = 1
    for s in range(1, args.stores + 1):
        loc_ids[s] = list(range(next_loc, next_loc + args.locations))
        for n, loc in enumerate(loc_ids[s]):
            code = ("MAIN", "BACK", "OVERFLOW")[n] if n < 3 else f"BIN-{n:03d}"
            rows["locations"].append((loc, s, code, f"{code.title()} room", None, base))
        next_loc += args.locations

    pid = eid = rid = mid = iid = 0
    adjust_entries: list[int] = []
    for s in range(1, args.stores + 1):
        prefix = f"{BRANDS[s % len(BRANDS)][:3].upper()}{s:02d}"
        for _n in range(args.products):
            pid += 1
            material, noun = rng.choice(materials), rng.choice(NOUNS)
            size = rng.choice(SIZES)
            title = f"{rng.choice(BRANDS)} {material} {noun} – {rng.choice(COLORS)}, {size}"
            if _n % VARIANTS_PER_ITEM == 0:
                iid += 1
                rows["items"].append((iid, s, title.rsplit(",", 1)[0], None, "active", "Size",
                                      None, None, base, base))
            rows["item_variants"].append((pid, s, iid, f"{size} #{_n % VARIANTS_PER_ITEM}",
                                          "", "", _n % VARIANTS_PER_ITEM))
            sku = f"{prefix}-{noun[:3].upper()}-{pid:06d}"
            backorder = rng.random() < 0.05
            rows["products"].append(
                (pid, s, sku, title, gtin13(pid), "physical", backorder,
                 rng.choice((0, 0, 10, 25)), rng.choice((0, 20, 50)), None, base, base)
            )
            for loc in loc_ids[s]:
                eid += 1
                threshold = rng.choice((0, 0, 0, 5, 10, 20)) if rng.random() < 0.45 else 0
                roll = rng.random()
                if roll < 0.04:
                    qty = 0
                elif roll < 0.14 and threshold:
                    qty = rng.randint(1, threshold)
                else:
                    qty = rng.randint(20, 1000)
                reserved = rng.randint(1, min(5, qty)) if qty and rng.random() < 0.03 else 0
                moved = base + timedelta(minutes=rng.randrange(60 * 24 * 59))
                rows["inventory_entries"].append(
                    (eid, s, pid, loc, qty, reserved, rng.choice((0, 0, 0, 12)), threshold,
                     None, moved, 1, base, moved)
                )
                if qty:
                    mid += 1
                    rows["stock_movements"].append(
                        (mid, s, eid, pid, loc, "received", qty, 0, qty, 0, "Opening stock",
                         None, None, None, None, SEED_ACTOR, base)
                    )
                if reserved:
                    rid += 1
                    ref = f"SO-{100000 + rid}"
                    rows["reservations"].append(
                        (rid, s, eid, pid, loc, ref, None, reserved, reserved, "active", None,
                         None, moved, None)
                    )
                    mid += 1
                    rows["stock_movements"].append(
                        (mid, s, eid, pid, loc, "reserved", 0, reserved, qty, reserved, None,
                         ref, rid, None, None, SEED_ACTOR, moved)
                    )
                if s == 1 and qty - reserved >= 50 and len(adjust_entries) < 200:
                    adjust_entries.append(eid)
    data = Dataset(
        counts={"stores": args.stores, "locations": len(rows["locations"]), "products": pid,
                "entries": eid, "reservations": rid, "ledger_rows": mid},
        owner_store=1,
        owner_location=loc_ids[1][0],
        adjust_entries=adjust_entries,
    )
    return data, rows


# ---------------------------------------------------------------------------
# Bare SQL: what each request needs, written out by hand
# ---------------------------------------------------------------------------

AVAILABLE = "(e.quantity - e.reserved_quantity)"
STATUS_SQL = {
    "in_stock": f"(p.type <> 'physical' OR ({AVAILABLE} > 0 AND (e.low_stock_threshold = 0 "
                f"OR {AVAILABLE} > e.low_stock_threshold)))",
    "low_stock": f"(p.type = 'physical' AND {AVAILABLE} > 0 AND e.low_stock_threshold > 0 "
                 f"AND {AVAILABLE} <= e.low_stock_threshold)",
    "out_of_stock": f"(p.type = 'physical' AND {AVAILABLE} <= 0 AND p.allow_backorder = FALSE)",
    "on_backorder": f"(p.type = 'physical' AND {AVAILABLE} <= 0 AND p.allow_backorder = TRUE)",
}
ROW_COLUMNS = (
    "e.id, e.store_id, s.name AS store_name, e.product_id, p.sku, p.title, p.gtin, "
    "p.type AS product_type, e.location_id, l.code AS location_code, e.quantity, "
    f"e.reserved_quantity, {AVAILABLE} AS available_quantity, e.incoming_quantity, "
    "e.low_stock_threshold, CASE WHEN p.type <> 'physical' THEN 'in_stock' "
    f"WHEN {AVAILABLE} <= 0 THEN CASE WHEN p.allow_backorder = TRUE THEN 'on_backorder' "
    "ELSE 'out_of_stock' END "
    f"WHEN e.low_stock_threshold > 0 AND {AVAILABLE} <= e.low_stock_threshold THEN 'low_stock' "
    "ELSE 'in_stock' END AS status, e.version, e.last_counted_at, e.last_movement_at, "
    "e.updated_at"
)
ROW_FROM = (
    "FROM inventory_entries e JOIN products p ON p.id = e.product_id "
    "JOIN locations l ON l.id = e.location_id JOIN stores s ON s.id = e.store_id"
)


@dataclass
class Scenario:
    """What one overview request asks for."""

    store_id: int | None = None
    location_id: int | None = None
    status: str | None = None
    search: str | None = None
    cursor_key: tuple[str, int] | None = None  # (title, id) after which the page starts
    offset: int | None = None  # the naive alternative to cursor_key


def bare_overview(backend: str, scope: list[int] | None, sc: Scenario, limit: int = 50
                  ) -> list[tuple[Any, dict[str, Any]]]:
    """The statements an overview request needs, with their parameters."""
    params: dict[str, Any] = {}
    scope_sql = "TRUE" if scope is None else f"e.store_id IN ({', '.join(map(str, scope))})"
    where = [scope_sql]
    if sc.store_id is not None:
        where.append("e.store_id = :store_id")
        params["store_id"] = sc.store_id
    if sc.location_id is not None:
        where.append("e.location_id = :location_id")
        params["location_id"] = sc.location_id
    if sc.status is not None:
        where.append(STATUS_SQL[sc.status])
    if sc.search:
        params["pattern"], params["term"] = f"%{sc.search}%", sc.search
        like = ("p.{0} ILIKE :pattern" if backend == "postgresql"
                else "lower(p.{0}) LIKE lower(:pattern)")
        where.append(f"({like.format('title')} OR {like.format('sku')} OR p.gtin = :term)")
    filters = " AND ".join(where)
    page_where = filters
    if sc.cursor_key is not None:
        page_where += " AND (p.title, e.id) > (:key_title, :key_id)"
        params["key_title"], params["key_id"] = sc.cursor_key
    tail = f"LIMIT {limit + 1}" + (f" OFFSET {sc.offset}" if sc.offset is not None else "")
    statements = [
        (text(f"SELECT {ROW_COLUMNS}, p.title AS sort_key {ROW_FROM} WHERE {page_where} "
              f"ORDER BY p.title, e.id {tail}"), params),
        (text("SELECT count(*) FROM inventory_entries e JOIN products p ON p.id = e.product_id "
              f"WHERE {filters}"), params),
    ]
    stats_where = scope_sql + (" AND e.store_id = :store_id" if sc.store_id is not None else "")
    statuses = ", ".join(
        f"coalesce(sum(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS {name}"
        for name, cond in STATUS_SQL.items()
    )
    statements.append((text(
        "SELECT count(e.id), coalesce(sum(e.quantity), 0), coalesce(sum(e.reserved_quantity), 0), "
        f"coalesce(sum({AVAILABLE}), 0), count(DISTINCT e.store_id), "
        f"count(DISTINCT e.location_id), {statuses} "
        f"FROM inventory_entries e JOIN products p ON p.id = e.product_id WHERE {stats_where}"
    ), params))
    loc_scope = "TRUE" if scope is None else f"store_id IN ({', '.join(map(str, scope))})"
    loc_store = " AND store_id = :store_id" if sc.store_id is not None else ""
    statements.append((text(
        "SELECT id, store_id, code, name FROM locations WHERE archived_at IS NULL AND "
        f"{loc_scope}{loc_store} ORDER BY code, id"
    ), params))
    if sc.search:
        statements.append((text(
            f"SELECT {ROW_COLUMNS} {ROW_FROM} WHERE {scope_sql} AND "
            "(upper(p.sku) = upper(:term) OR p.gtin = :term) ORDER BY e.id LIMIT 20"
        ), params))
    return statements


def run_statements(engine: Engine, statements: list[tuple[Any, dict[str, Any]]]) -> None:
    """One pooled connection, one read transaction, every row fetched: as a request would."""
    with engine.connect() as conn:
        for statement, params in statements:
            conn.execute(statement, params).all()


ENTRY_BY_ID = text(f"SELECT {ROW_COLUMNS} {ROW_FROM} WHERE e.id = :id AND e.store_id IN (:s)")


def bare_adjust(engine: Engine, bare: BareSQL, actor: Any, store_id: int, entry_id: int,
                delta: int) -> None:
    """Read the entry, apply the change (UPDATE … RETURNING + ledger row), read it again."""
    run_statements(engine, [(ENTRY_BY_ID, {"id": entry_id, "s": store_id})])
    bare.adjust(actor, [store_id], entry_id, delta)
    run_statements(engine, [(ENTRY_BY_ID, {"id": entry_id, "s": store_id})])


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Row:
    name: str
    user: str
    app: list[float]
    bare: list[float]
    statements: int
    bare_statements: int
    size: int
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "request": self.name, "user": self.user, "statements": self.statements,
            "bare_statements": self.bare_statements, "bytes": self.size, "note": self.note,
            "app_p50_ms": pct(self.app, 50), "app_p95_ms": pct(self.app, 95),
            "bare_p50_ms": pct(self.bare, 50), "bare_p95_ms": pct(self.bare, 95),
            "ratio": pct(self.app, 50) / pct(self.bare, 50),
        }


def compare(request: Callable[[int], Any], bare: Callable[[int], Any], counter: StatementCounter,
            requests: int, warmup: int) -> tuple[list[float], list[float], int, int]:
    """Warm both up, then alternate app request and bare SQL, so drift hits both alike.
    Returns the samples in ms, the statements of the last request and its response size."""
    clock = time.perf_counter
    for i in range(warmup):
        request(i)
        bare(i)
    app_ms: list[float] = []
    bare_ms: list[float] = []
    statements = size = 0
    for i in range(warmup, warmup + requests):
        counter.count = 0
        started = clock()
        response = request(i)
        app_ms.append((clock() - started) * 1e3)
        statements = counter.count
        size = len(response.get_data())
        started = clock()
        bare(i)
        bare_ms.append((clock() - started) * 1e3)
    return app_ms, bare_ms, statements, size


def bare_samples(bare: Callable[[int], Any], requests: int, warmup: int) -> list[float]:
    samples = []
    for i in range(warmup + requests):
        started = time.perf_counter()
        bare(i)
        if i >= warmup:
            samples.append((time.perf_counter() - started) * 1e3)
    return samples


def checked(response: Any, status: int = 200) -> Any:
    if response.status_code != status:
        raise SystemExit(f"unexpected {response.status_code} for {response.request.path}: "
                         f"{response.get_data(as_text=True)[:300]}")
    return response


def sign_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    client.base_url = "https://localhost"  # the session cookie is Secure, as in production
    response = client.post("/sign-in", data={"email": email, "password": PASSWORD},
                           base_url="https://localhost")
    checked(response, 303)
    return client


NEXT_LINK = re.compile(r'rel="next" href="([^"]+)"')


def follow_next(client: FlaskClient, depth: int) -> tuple[str, int]:
    """Follow the "Next" links from the first page; returns the last page's URL and depth."""
    url, pages = "/inventory", 0
    while pages < depth:
        body = checked(client.get(url, headers=HX, base_url="https://localhost")).get_data(
            as_text=True)
        found = NEXT_LINK.search(body)
        if not found:
            break
        url, pages = html.unescape(found.group(1)), pages + 1
    return url, pages


def cursor_key(engine: Engine, scope: list[int] | None, pages: int, limit: int = 50
               ) -> tuple[str, int]:
    """The (title, id) the deep page starts after: the last row of the page before it."""
    where = "TRUE" if scope is None else f"e.store_id IN ({', '.join(map(str, scope))})"
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT p.title, e.id FROM inventory_entries e JOIN products p ON p.id = e.product_id "
            f"WHERE {where} ORDER BY p.title, e.id LIMIT 1 OFFSET :n"
        ), {"n": pages * limit - 1}).one()
    return row[0], row[1]


# ---------------------------------------------------------------------------
# One backend
# ---------------------------------------------------------------------------


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any] | None:
    database = BenchDatabase(backend, args.database_url)
    try:
        url = database.create()
    except Unreachable as exc:
        print(f"[{backend}] skipped: {exc}")
        return None
    try:
        return _run(backend, url, database.label, args)
    finally:
        database.drop()


def _run(backend: str, url: str, label: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    print(f"[{backend}] database {label}", flush=True)
    config = {**app_config(url), "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}
    app: Flask = create_app(config)
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        data, rows = plan_dataset(args, rng)
        plan_s = time.perf_counter() - started
        started = time.perf_counter()
        bulk_load(db.engine, rows, TABLES)
        tallies.fold()  # what the first stats read would do: the reads then see one per place
        load_s = time.perf_counter() - started
        del rows
        c = data.counts
        print(f"[{backend}] seeded {c['stores']} stores, {c['locations']} locations, "
              f"{c['products']:,} products, {c['entries']:,} entries, {c['reservations']:,} "
              f"reservations, {c['ledger_rows']:,} ledger rows: load {load_s:.2f} s "
              f"(generate {plan_s:.2f} s)", flush=True)
        counter = StatementCounter(db.engine)
        engine = create_engine(url, **app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        configure_engine(engine, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])
        bare = BareSQL(engine)
        with engine.connect() as conn:
            matches = conn.execute(text(
                "SELECT count(*) FROM inventory_entries e JOIN products p ON p.id = e.product_id "
                "WHERE lower(p.title) LIKE :p OR lower(p.sku) LIKE :p"
            ), {"p": f"%{SEARCH_WORD}%"}).scalar_one()
            statuses = dict(conn.execute(text(
                "SELECT status, count(*) FROM (SELECT CASE "
                + " ".join(f"WHEN {cond} THEN '{name}'" for name, cond in STATUS_SQL.items())
                + " END AS status FROM inventory_entries e JOIN products p "
                "ON p.id = e.product_id) t GROUP BY status"
            )).all())
        db.session.remove()
        print(f"[{backend}] statuses {statuses}; q={SEARCH_WORD} matches {matches:,} entries "
              f"({matches / c['entries']:.1%})", flush=True)

    users = {
        "admin": (sign_in(app, "admin@bench.example"), None),
        "owner": (sign_in(app, "owner@bench.example"), [data.owner_store]),
    }
    n, warm = args.requests, args.warmup
    results: list[Row] = []
    load_before = os.getloadavg()[0]

    def get(client: FlaskClient, url: str, headers: dict[str, str] | None = None
            ) -> Callable[[int], Any]:
        return lambda _i: checked(client.get(url, headers=headers or {},
                                             base_url="https://localhost"))

    def bare_of(scope: list[int] | None, sc: Scenario) -> Callable[[int], Any]:
        statements = bare_overview(backend, scope, sc)
        return lambda _i: run_statements(engine, statements)

    filtered = Scenario(store_id=data.owner_store, location_id=data.owner_location,
                        status="low_stock")
    filtered_url = (f"/inventory?store={data.owner_store}&location={data.owner_location}"
                    "&status=low_stock")
    offset_rows: list[Row] = []
    for user, (client, scope) in users.items():
        plans = [
            ("overview, first page (full)", get(client, "/inventory"), Scenario(), ""),
            ("filtered page (full)", get(client, filtered_url), filtered, ""),
            (f"search q={SEARCH_WORD} (fragment)",
             get(client, f"/inventory?q={SEARCH_WORD}", HX), Scenario(search=SEARCH_WORD), ""),
        ]
        deep_url, depth = follow_next(client, args.depth)
        deep = Scenario(cursor_key=cursor_key(engine, scope, depth))
        plans.append((f"deep page {depth + 1} (fragment)", get(client, deep_url, HX), deep,
                      ""))
        for name, request, sc, note in plans:
            app_ms, bare_ms, statements, size = compare(
                request, bare_of(scope, sc), counter, n, warm)
            results.append(Row(name, user, app_ms, bare_ms, statements,
                               len(bare_overview(backend, scope, sc)), size, note))
            print(f"[{backend}] {user}: {name}: {pct(app_ms, 50):.1f} ms", flush=True)
        # The same deep page with OFFSET instead of the cursor, for comparison.
        naive = Scenario(offset=depth * 50)
        offset_ms = bare_samples(bare_of(scope, naive), n, warm)
        offset_rows.append(Row(f"deep page {depth + 1}: bare with OFFSET {depth * 50}", user,
                               results[-1].bare, offset_ms, 0, 4, 0))

        actor = SimpleNamespace(user_id=1 if scope is None else 2, name=user)
        entries = data.adjust_entries
        app_entries, bare_entries = entries[: len(entries) // 2], entries[len(entries) // 2:]

        def adjust(i: int, client: FlaskClient = client, targets: list[int] = app_entries
                   ) -> Any:
            entry_id = targets[i % len(targets)]
            return checked(client.post(
                f"/inventory/entries/{entry_id}/adjust",
                data={"delta": "1" if i % 2 == 0 else "-1", "reason": "bench",
                      "idempotency_key": uuid.uuid4().hex, "next": "/inventory"},
                headers=HX, base_url="https://localhost",
            ))

        def adjust_bare(i: int, actor: Any = actor, targets: list[int] = bare_entries) -> None:
            bare_adjust(engine, bare, actor, data.owner_store, targets[i % len(targets)],
                        1 if i % 2 == 0 else -1)

        app_ms, bare_ms, statements, size = compare(adjust, adjust_bare, counter, n, warm)
        results.append(Row("adjust round trip (htmx POST)", user, app_ms, bare_ms, statements,
                           4, size, "bare: SELECT, UPDATE…RETURNING + INSERT, SELECT"))
        print(f"[{backend}] {user}: adjust: {pct(app_ms, 50):.1f} ms", flush=True)

    profiles = {}
    if args.profile:
        client = users["admin"][0]
        for name, path, headers in (("overview", "/inventory", {}),
                                   ("search", f"/inventory?q={SEARCH_WORD}", HX)):
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(n):
                checked(client.get(path, headers=headers, base_url="https://localhost"))
            profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(30)
            stats.sort_stats("tottime").print_stats(15)
            profiles[name] = out.getvalue()
    engine.dispose()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

    report = {
        "backend": backend,
        "server": _server_version(url),
        "when": datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "counts": data.counts,
        "statuses": statuses,
        "search_matches": matches,
        "requests": n,
        "load_s": load_s,
        "results": [r.as_dict() for r in results],
        "offset": [r.as_dict() for r in offset_rows],
        "peak_rss_mb": peak_rss_mb(),
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    print()
    print(format_report(report))
    for name, text_ in profiles.items():
        print(f"\n--- cProfile: {name} ({backend}, admin, {n} requests) ---\n{text_}")
    if not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"overview-{backend}-{stamp}.json"
        path.write_text(json.dumps(report, indent=2))
        print(f"saved {path.relative_to(BENCH_DIR.parent)}")
    return report


def format_report(report: dict[str, Any]) -> str:
    header = (f"{'request':<36}{'user':<7}{'app p50':>9}{'p95':>8}{'bare p50':>10}{'p95':>8}"
              f"{'ratio':>7}{'stmts app/bare':>16}{'size':>10}")
    lines = [
        f"== {report['server']}: {report['counts']['entries']:,} entries, "
        f"{report['requests']} requests per row (ms) ==",
        header,
        "-" * len(header),
    ]
    for r in report["results"]:
        adjust = "adjust" in r["request"]  # no ratio aim: a write, not the overview
        flag = " !" if r["ratio"] > 2 and not adjust else ""
        aim = FRAGMENT_AIM_KB if adjust else PAGE_AIM_KB
        sized = adjust or "first page" in r["request"]
        big = " !" if sized and r["bytes"] > aim * 1024 else ""
        lines.append(
            f"{r['request']:<36}{r['user']:<7}{r['app_p50_ms']:>9.2f}{r['app_p95_ms']:>8.2f}"
            f"{r['bare_p50_ms']:>10.2f}{r['bare_p95_ms']:>8.2f}{r['ratio']:>7.2f}"
            f"{r['statements']:>10}/{r['bare_statements']:<5}{r['bytes'] / 1024:>8.1f} KB"
            f"{flag}{big}"
        )
    for r in report["offset"]:
        lines.append(
            f"{r['request']:<43} {r['user']:<6} keyset {r['app_p50_ms']:.2f} ms, "
            f"OFFSET {r['bare_p50_ms']:.2f} ms (p50; p95 {r['bare_p95_ms']:.2f} ms)"
        )
    s = report["statuses"]
    lines += [
        "statuses: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.items())),
        f"search matches {report['search_matches']:,} entries "
        f"({report['search_matches'] / report['counts']['entries']:.1%})",
        f"seed load {report['load_s']:.2f} s; peak RSS {report['peak_rss_mb']:.0f} MB",
        f"host load average {report['load_before']:.1f} before, {report['load_after']:.1f} "
        f"after ({report['cpus']} CPUs)",
        "ratio = app p50 / bare SQL p50 (aim <= 2 for the overview; '!' marks rows above it, "
        f"or a first page over {PAGE_AIM_KB} KB / an adjust fragment over {FRAGMENT_AIM_KB} KB)",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def child_argv(args: argparse.Namespace, backend: str) -> list[str]:
    argv = [
        sys.executable, str(Path(__file__).resolve()), "--in-process", "--backend", backend,
        "--stores", str(args.stores), "--locations", str(args.locations),
        "--products", str(args.products), "--requests", str(args.requests),
        "--warmup", str(args.warmup), "--depth", str(args.depth), "--seed", str(args.seed),
    ]
    if args.profile:
        argv.append("--profile")
    if args.no_save:
        argv.append("--no-save")
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.backend != "both" or args.in_process:
        backends = BACKENDS if args.backend == "both" else (args.backend,)
        for backend in backends:
            run_backend(backend, args)
        return 0
    status = 0
    for backend in BACKENDS:  # one process each, so each peak RSS is its own
        status = max(status, subprocess.run(child_argv(args, backend)).returncode)
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
