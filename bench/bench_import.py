"""CSV import of entries against a bare bulk UPDATE + INSERT of the same rows.

Seeds N entries (one store, a few locations, each entry with its opening 'received' ledger
row), writes a CSV in the overview's export format that changes every one of them (new
on-hand quantity and threshold), then times:

* plan   — stock.plan_import: parse, bulk lookups, every rule (the dry-run preview);
* apply  — stock.apply_import: plans again under lock, then the set-based writes, one
  ledger row per entry, one batch reference;
* bare   — the same rows written by hand: one UPDATE per entry (executemany on SQLite,
  UPDATE … FROM unnest(…) on PostgreSQL) and one INSERT per ledger row, one transaction,
  ids already known, no checks.

Run from the repository root:
    .venv/bin/python bench/bench_import.py                    # SQLite, 100,000 rows
    .venv/bin/python bench/bench_import.py --rows 20000 --postgres
    DATABASE_URL=postgresql://postgres@127.0.0.1/test .venv/bin/python bench/bench_import.py
PostgreSQL runs when --postgres or DATABASE_URL is given; the URL's own database is only used
to CREATE and DROP a database of the benchmark's own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.clock import utcnow  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import InventoryEntry, Location, Product, Store  # noqa: E402
from app.permissions import system_actor  # noqa: E402
from app.services import stock  # noqa: E402
from app.services.ledger import verify_ledger  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
LOCATIONS = 10
SEED_CHUNK = 20_000
entries = InventoryEntry.__table__


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="entries to seed and import")
    parser.add_argument("--postgres", nargs="?", const=os.environ.get("DATABASE_URL") or DEFAULT_PG,
                        default=os.environ.get("DATABASE_URL"), metavar="URL",
                        help="also run on PostgreSQL (default URL: $DATABASE_URL or "
                        f"{DEFAULT_PG})")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    return parser.parse_args()


def pg_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def seed(rows: int) -> None:
    """One store, LOCATIONS locations, rows / LOCATIONS products, an entry per pair."""
    now = utcnow()
    db.create_all()
    store = Store(name="Bench", slug="bench")
    db.session.add(store)
    db.session.flush()
    places = [Location(store_id=store.id, code=f"LOC_{n:02d}") for n in range(LOCATIONS)]
    db.session.add_all(places)
    db.session.commit()
    per_location = -(-rows // LOCATIONS)
    db.session.execute(insert(Product.__table__), [
        {"store_id": store.id, "sku": f"SKU-{n:07d}", "title": f"Product {n}", "type": "physical",
         "allow_backorder": False, "reorder_point": 0, "reorder_quantity": 0,
         "created_at": now, "updated_at": now}
        for n in range(per_location)
    ])
    db.session.commit()
    product_ids = [r[0] for r in db.session.execute(
        text("SELECT id FROM products ORDER BY id")
    )]
    pairs = [(p, loc.id) for loc in places for p in product_ids][:rows]
    for start in range(0, len(pairs), SEED_CHUNK):
        db.session.execute(insert(entries), [
            {"store_id": store.id, "product_id": p, "location_id": loc, "quantity": 10,
             "reserved_quantity": 0, "incoming_quantity": 0, "low_stock_threshold": 0,
             "version": 1, "created_at": now, "updated_at": now, "last_movement_at": now}
            for p, loc in pairs[start:start + SEED_CHUNK]
        ])
    db.session.execute(text(
        "INSERT INTO stock_movements (store_id, entry_id, product_id, location_id, type, "
        "quantity_delta, reserved_delta, quantity_after, reserved_after, reason, batch_ref, "
        "actor_name, created_at) SELECT store_id, id, product_id, location_id, 'received', "
        "quantity, 0, quantity, 0, 'Opening stock', NULL, 'system:bench', created_at "
        "FROM inventory_entries"
    ))
    db.session.commit()


def export_csv() -> bytes:
    """Every entry, on hand + 5 and threshold 3, in the export's column order."""
    lines = ["store,location,sku,title,quantity,reserved,available,threshold,status,version"]
    for slug, code, sku, quantity, version in db.session.execute(text(
        "SELECT s.slug, l.code, p.sku, e.quantity, e.version FROM inventory_entries e "
        "JOIN stores s ON s.id = e.store_id JOIN locations l ON l.id = e.location_id "
        "JOIN products p ON p.id = e.product_id ORDER BY e.id"
    )):
        lines.append(f"{slug},{code},{sku},Product,{quantity + 5},0,{quantity + 5},3,in_stock,"
                     f"{version}")
    db.session.rollback()
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode()


def bare_write(postgres: bool) -> None:
    """The same rows again, by hand: quantity + 1, a ledger row each, ids already known."""
    now = utcnow()
    rows = [tuple(r) for r in db.session.execute(text(
        "SELECT id, store_id, product_id, location_id, quantity FROM inventory_entries"
    ))]
    db.session.rollback()
    session = db.session()
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    if postgres:
        session.execute(text(
            "UPDATE inventory_entries AS e SET quantity = v.q, version = e.version + 1, "
            "updated_at = :now FROM unnest(CAST(:ids AS integer[]), CAST(:qs AS integer[])) "
            "AS v(id, q) WHERE e.id = v.id"
        ), {"now": now, "ids": [r[0] for r in rows], "qs": [r[4] + 1 for r in rows]})
        session.execute(text(
            "INSERT INTO stock_movements (store_id, entry_id, product_id, location_id, type, "
            "quantity_delta, reserved_delta, quantity_after, reserved_after, batch_ref, "
            "actor_name, created_at) SELECT v.s, v.e, v.p, v.l, 'set', 1, 0, v.q, 0, 'bare', "
            "'system:bench', :now FROM unnest(CAST(:s AS integer[]), CAST(:e AS integer[]), "
            "CAST(:p AS integer[]), CAST(:l AS integer[]), CAST(:q AS integer[])) "
            "AS v(s, e, p, l, q)"
        ), {"now": now, "s": [r[1] for r in rows], "e": [r[0] for r in rows],
            "p": [r[2] for r in rows], "l": [r[3] for r in rows], "q": [r[4] + 1 for r in rows]})
    else:
        stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
        conn = session.connection()
        conn.exec_driver_sql(
            "UPDATE inventory_entries SET quantity = ?, version = version + 1, updated_at = ? "
            "WHERE id = ?", [(r[4] + 1, stamp, r[0]) for r in rows],
        )
        conn.exec_driver_sql(
            "INSERT INTO stock_movements (store_id, entry_id, product_id, location_id, type, "
            "quantity_delta, reserved_delta, quantity_after, reserved_after, batch_ref, "
            "actor_name, created_at) VALUES (?, ?, ?, ?, 'set', 1, 0, ?, 0, 'bare', "
            "'system:bench', ?)", [(r[1], r[0], r[2], r[3], r[4] + 1, stamp) for r in rows],
        )
    session.commit()


def run(label: str, url: str, rows: int) -> dict[str, float]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    actor = system_actor("bench")
    with app.app_context():
        started = time.perf_counter()
        seed(rows)
        data = export_csv()
        print(f"{label}: seeded {rows:,} entries in {time.perf_counter() - started:.1f} s; "
              f"CSV {len(data) / 1e6:.1f} MB")
        timings: dict[str, float] = {}
        started, cpu = time.perf_counter(), time.process_time()
        plan = stock.plan_import(data, actor=actor, max_rows=None)
        timings["plan"] = time.perf_counter() - started
        timings["plan_cpu"] = time.process_time() - cpu
        assert plan.ok and plan.updates == rows, stock.describe(plan)
        started, cpu = time.perf_counter(), time.process_time()
        result = stock.apply_import(data, actor=actor, seen=plan.seen(), max_rows=None)
        timings["apply"] = time.perf_counter() - started
        timings["apply_cpu"] = time.process_time() - cpu
        assert result.movements == rows
        started, cpu = time.perf_counter(), time.process_time()
        bare_write(postgres=url.startswith("postgresql"))
        timings["bare"] = time.perf_counter() - started
        timings["bare_cpu"] = time.process_time() - cpu
        started = time.perf_counter()
        mismatches = verify_ledger()
        timings["verify"] = time.perf_counter() - started
        assert mismatches == [], mismatches[:5]
        db.session.remove()
        db.engine.dispose()
    total = timings["plan"] + timings["apply"]
    print(f"{label}: plan {timings['plan']:.2f} s, apply {timings['apply']:.2f} s "
          f"(plan + apply {total:.2f} s), bare UPDATE+INSERT {timings['bare']:.2f} s, "
          f"ratio apply/bare {timings['apply'] / timings['bare']:.1f}x, "
          f"(plan+apply)/bare {total / timings['bare']:.1f}x; ledger verified in "
          f"{timings['verify']:.2f} s")
    print(f"{label}: CPU time in this process: plan {timings['plan_cpu']:.2f} s, apply "
          f"{timings['apply_cpu']:.2f} s, bare {timings['bare_cpu']:.2f} s "
          f"(the database server's own time is not included)")
    print(f"{label}: load average while running: {os.getloadavg()[0]:.1f}")
    return timings


def main() -> None:
    args = parse_args()
    if not args.no_sqlite:
        folder = tempfile.mkdtemp(prefix="stockroom-bench-import-")
        try:
            run("SQLite", f"sqlite:///{folder}/bench.sqlite", args.rows)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if args.postgres:
        admin_url = pg_url(args.postgres)
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        name = f"stockroom_bench_import_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            run("PostgreSQL", url, args.rows)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
