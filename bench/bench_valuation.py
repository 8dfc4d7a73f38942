"""The stock value at 100k entries a store: the valuation service next to the bare SQL
doing the same work, on PostgreSQL (and SQLite with --backend both).

The benchmark creates a database of its own, builds the schema with db.create_all() and
bulk-loads two stores of --entries entries each (bench_services' catalogue: products,
locations, entries with their opening ledger rows), 90 % of them with an average cost
between 0.01 and 200.00 and the rest without one. It then times, single-threaded, with the
store owner's Actor:

* value: queries.valuation.stock_value(store_id=…), what the overview's Stock value card
  and the report's totals read: one grouped pass over the store's entries; and across
  both stores, as a platform admin's overview of every store reads it;
* report page: what the valuation report reads for page 1 by value, largest first: the
  totals (stock_value), then the page's ids in a narrow top-N sort, then their rows;
* stats: queries.stock_stats(store_id=…), the rest of the overview's cards (kept tallies),
  for scale;

each next to bare SQL on a plain connection, timed in turns with it: the same statements
written by hand, and for the value also the sum as a 64-bit integer (no NUMERIC cast) to
show what exactness costs.

Run from the repository root:  python bench/bench_valuation.py [--backend both]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_services import (  # noqa: E402
    TABLE_COLUMNS,
    BenchDatabase,
    Unreachable,
    app_config,
    bulk_load,
    plan_dataset,
)
from sqlalchemy import bindparam, create_engine, text  # noqa: E402

from app import create_app  # noqa: E402
from app.database import configure_engine  # noqa: E402
from app.extensions import db  # noqa: E402
from app.permissions import actor_for_user, system_actor  # noqa: E402
from app.services import queries  # noqa: E402
from app.services.queries.valuation import ValuationFilters  # noqa: E402

VALUE_SQL = """
SELECT e.store_id, e.location_id,
       count(*) FILTER (WHERE e.average_cost IS NOT NULL),
       coalesce(sum(e.quantity) FILTER (WHERE e.average_cost IS NOT NULL), 0),
       coalesce(sum({product}), 0),
       count(*) FILTER (WHERE e.average_cost IS NULL),
       coalesce(sum(e.quantity) FILTER (WHERE e.average_cost IS NULL), 0)
FROM inventory_entries e JOIN products p ON p.id = e.product_id
WHERE e.quantity > 0 AND p.type = 'physical' AND e.store_id = :store
GROUP BY e.store_id, e.location_id
"""
PAGE_IDS_SQL = """
SELECT e.id FROM inventory_entries e JOIN products p ON p.id = e.product_id
WHERE e.quantity > 0 AND p.type = 'physical' AND e.store_id = :store
  AND e.average_cost IS NOT NULL
ORDER BY {product} DESC, e.id DESC LIMIT 50 OFFSET 0
"""
PAGE_ROWS_SQL = """
SELECT e.id, e.store_id, s.name, s.currency, e.product_id, p.sku, p.title, e.location_id,
       l.code, e.quantity, e.average_cost
FROM inventory_entries e JOIN products p ON p.id = e.product_id
JOIN locations l ON l.id = e.location_id JOIN stores s ON s.id = e.store_id
WHERE e.id IN :ids
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite", "both"),
                        default="postgresql")
    parser.add_argument("--entries", type=int, default=100_000, help="entries per store")
    parser.add_argument("--runs", type=int, default=30, help="timed calls per row")
    parser.add_argument("--database-url", help="PostgreSQL server to create the database on")
    parser.add_argument("--seed", type=int, default=1234)
    return parser.parse_args()


def seed(url: str, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    plan = SimpleNamespace(stores=2, products=5_000, entries=2 * args.entries)
    _data, rows = plan_dataset(plan, rng)
    # Nine entries in ten have a cost (0.01 to 200.00, stored × 10,000), the rest none.
    rows["inventory_entries"] = [
        (*r, rng.randrange(100, 2_000_001) if rng.random() < 0.9 else None)
        for r in rows["inventory_entries"]
    ]
    tables = {**TABLE_COLUMNS,
              "inventory_entries": (*TABLE_COLUMNS["inventory_entries"], "average_cost")}
    app = create_app(app_config(url))
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        bulk_load(db.engine, rows, tables)
        print(f"  loaded {len(rows['inventory_entries']):,} entries in "
              f"{time.perf_counter() - started:.1f} s")
        db.engine.dispose()


def _summary(samples: list[float]) -> dict[str, float]:
    samples.sort()
    return {"median": statistics.median(samples),
            "p95": samples[max(0, int(len(samples) * 0.95) - 1)]}


def timed(call: Callable[[], Any], runs: int) -> dict[str, float]:
    call()  # warm up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return _summary(samples)


def paired(service: Callable[[], Any], bare: Callable[[], Any], runs: int
           ) -> tuple[dict[str, float], dict[str, float]]:
    """Both timed in turns, one call each, so a busy host weighs on them alike."""
    service()
    bare()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for call, out in ((service, samples[0]), (bare, samples[1])):
            started = time.perf_counter()
            call()
            out.append((time.perf_counter() - started) * 1000)
    return _summary(samples[0]), _summary(samples[1])


def measure(url: str, backend: str, args: argparse.Namespace) -> list[tuple[str, dict, dict]]:
    app = create_app(app_config(url))
    bare = create_engine(url)
    configure_engine(bare, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])
    exact = "e.quantity::numeric * e.average_cost" if backend == "postgresql" else \
        "e.quantity * e.average_cost"
    fast = "e.quantity * e.average_cost"

    def bare_sql(sql: str, **params: Any) -> Callable[[], Any]:
        statement = text(sql)

        def run() -> Any:
            with bare.connect() as conn:
                return conn.execute(statement, params).all()
        return run

    rows = []
    with app.app_context():
        owner = actor_for_user(1)
        store = 1

        def value() -> Any:
            result = queries.valuation.stock_value(owner, store_id=store)
            db.session.rollback()
            return result

        admin = system_actor("bench")

        def value_everywhere() -> Any:
            result = queries.valuation.stock_value(admin)
            db.session.rollback()
            return result

        def report_page() -> Any:
            """As the report's route reads it: the totals, then page 1 counted by them."""
            summary = queries.valuation.stock_value(owner, store_id=store)
            result = queries.valuation.valuation_page(
                owner, ValuationFilters(store_id=store), total=summary.entries)
            db.session.rollback()
            return result

        def stats() -> Any:
            result = queries.stock_stats(owner, store_id=store)
            db.session.rollback()
            return result

        found = value()
        print(f"  store 1: {found.stores[0].entries:,} entries valued, "
              f"{found.stores[0].uncosted_entries:,} without a cost, "
              f"{len(found.stores[0].locations)} locations, value {found.totals[0].value:,}")
        rows.append(("value (exact)", *paired(
            value, bare_sql(VALUE_SQL.format(product=exact), store=store), args.runs)))
        if backend == "postgresql":
            rows.append(("value, bare as bigint", {},
                         timed(bare_sql(VALUE_SQL.format(product=fast), store=store),
                               args.runs)))
        everywhere = VALUE_SQL.format(product=exact).replace("AND e.store_id = :store", "")
        rows.append(("value, both stores", *paired(value_everywhere, bare_sql(everywhere),
                                                   args.runs)))
        summary_sql = bare_sql(VALUE_SQL.format(product=exact), store=store)
        ids_statement = text(PAGE_IDS_SQL.format(product=exact))
        rows_statement = text(PAGE_ROWS_SQL).bindparams(bindparam("ids", expanding=True))

        def bare_report() -> Any:
            summary_sql()
            with bare.connect() as conn:
                ids = list(conn.execute(ids_statement, {"store": store}).scalars())
                return conn.execute(rows_statement, {"ids": ids}).all()

        rows.append(("report page 1 by value", *paired(report_page, bare_report, args.runs)))
        rows.append(("stats cards (tallies)", timed(stats, args.runs), {}))
    bare.dispose()
    return rows


def _cell(times: dict[str, float]) -> str:
    return f"{times['median']:7.1f} / {times['p95']:6.1f}" if times else f"{'—':>15}"


def report(backend: str, rows: list[tuple[str, dict, dict]]) -> None:
    print(f"\n  {backend}: milliseconds, median / p95")
    print(f"  {'':24} {'service':>17} {'bare SQL':>17}")
    for name, service, bare in rows:
        print(f"  {name:24} {_cell(service):>17} {_cell(bare):>17}")


def main() -> int:
    args = parse_args()
    for backend in (("postgresql", "sqlite") if args.backend == "both" else (args.backend,)):
        database = BenchDatabase(backend, args.database_url if backend == "postgresql"
                                 else None)
        try:
            url = database.create()
        except Unreachable as exc:
            print(f"{backend}: skipped ({exc})")
            continue
        try:
            print(f"{backend}: {database.label}")
            seed(url, args)
            report(backend, measure(url, backend, args))
        finally:
            database.drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
