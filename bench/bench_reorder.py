"""Reorder suggestions at 100k entries, next to their bare SQL, on SQLite and PostgreSQL.

For each backend: a database of its own, the schema, and bench_services' merchant (20 stores,
5,000 products, 100k entries), reshaped so that the report has work to do: 15 % of the
entries run low, five suppliers per store sell every physical product once or twice (packs,
minimums, a preferred one for most), open purchase orders bring stock to some entries (their
incoming kept in step) and draft orders to others. Then, timed with the store owner's actor
(one store, ~5k entries) and a platform admin's (every store):

* service: queries.reorder_suggestions, as the screen and the API call it (the page, its
  count, the page's last costs), and iter_reorder_suggestions for a whole export;
* bare: the statements the service sent for that call, captured once and replayed verbatim
  on a plain pooled connection with every row fetched: the same SQL without the service.

Prints p50 and p95 in ms, the ratio service ÷ bare, rows and statements per call.

Run from the repository root:  python bench/bench_reorder.py [--backend sqlite] [--quick]
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_services import (  # noqa: E402 - after the path set-up above
    TABLE_COLUMNS,
    BenchDatabase,
    Unreachable,
    app_config,
    bulk_load,
    plan_dataset,
)
from sqlalchemy import Engine, create_engine, event, text  # noqa: E402

from app import create_app  # noqa: E402
from app.database import configure_engine  # noqa: E402
from app.extensions import db  # noqa: E402
from app.permissions import actor_for_user, system_actor  # noqa: E402
from app.services import queries  # noqa: E402
from app.services.queries import ReportFilters  # noqa: E402

SUPPLIERS_PER_STORE = 5
LOW_SHARE = 0.15
TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK)\b", re.I)

REORDER_TABLES: dict[str, tuple[str, ...]] = {
    "suppliers": ("id", "store_id", "name", "currency", "lead_time_days", "created_at",
                  "updated_at"),
    "supplier_items": ("id", "store_id", "supplier_id", "product_id", "supplier_sku",
                       "unit_cost", "pack_size", "min_order_qty", "preferred", "created_at",
                       "updated_at"),
    "purchase_orders": ("id", "store_id", "supplier_id", "sequence", "number", "status",
                        "currency", "version", "created_at", "created_by_name", "ordered_at",
                        "ordered_by_name", "updated_at"),
    "purchase_order_lines": ("id", "store_id", "order_id", "product_id", "location_id",
                             "ordered_qty", "received_qty", "over_received_qty", "unit_cost",
                             "created_at"),
}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=15, help="timed calls per path")
    parser.add_argument("--quick", action="store_true", help="20k entries, 5 calls")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.entries, args.repeat = 20_000, 5
    return args


def reshape(rows: dict[str, list[tuple[Any, ...]]], rng: random.Random) -> dict[str, int]:
    """Low stock on some entries (their opening ledger row to match), suppliers and their
    items, open orders (incoming on their entries) and drafts."""
    base = datetime.now().replace(microsecond=0) - timedelta(days=10)
    entries = rows["inventory_entries"]
    ledger = rows["stock_movements"]
    for n, entry in enumerate(entries):
        if rng.random() < LOW_SHARE:
            quantity = rng.randrange(0, 15)
            entries[n] = (*entry[:4], quantity, *entry[5:])
            movement = ledger[n]
            ledger[n] = (*movement[:6], quantity, 0, quantity, *movement[9:])
    physical = defaultdict(list)
    for product in rows["products"]:
        if product[5] == "physical":
            physical[product[1]].append(product[0])
    supplier_of: dict[int, list[int]] = defaultdict(list)
    for store in sorted(physical):
        for k in range(SUPPLIERS_PER_STORE):
            supplier_id = len(rows["suppliers"]) + 1
            rows["suppliers"].append((supplier_id, store, f"Supplier {store}-{k + 1}", "USD",
                                      rng.choice((0, 3, 7, 14)), base, base))
            supplier_of[store].append(supplier_id)
    item_id = 0
    sold_by: dict[int, int] = {}
    for store, products in physical.items():
        for product in products:
            sellers = rng.sample(supplier_of[store], rng.choice((1, 1, 2)))
            preferred = rng.random() < 0.6
            sold_by[product] = sellers[0]
            for k, seller in enumerate(sellers):
                item_id += 1
                rows["supplier_items"].append((
                    item_id, store, seller, product, f"S{product}-{k}",
                    rng.randrange(5_000, 500_000), rng.choice((1, 1, 6, 12)),
                    rng.choice((0, 0, 10, 24)), preferred and k == 0, base, base))
    # Orders: per store, two open and two drafts, each with lines for some of its entries.
    by_store: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for n, entry in enumerate(entries):
        by_store[entry[1]].append((n, entry))
    line_id = order_id = 0
    for store, held in sorted(by_store.items()):
        chosen = rng.sample(held, min(len(held), 200))
        for k, status in enumerate(("ordered", "ordered", "draft", "draft")):
            order_id += 1
            rows["purchase_orders"].append((
                order_id, store, supplier_of[store][k], k + 1, f"PO-{k + 1:04d}", status,
                "USD", 1, base, "bench", base if status == "ordered" else None,
                "bench" if status == "ordered" else None, base))
            for n, entry in chosen[k * 50:(k + 1) * 50]:
                line_id += 1
                quantity = rng.randrange(5, 60)
                rows["purchase_order_lines"].append((
                    line_id, store, order_id, entry[2], entry[3], quantity, 0, 0,
                    rng.randrange(5_000, 500_000), base))
                if status == "ordered":
                    entries[n] = (*entries[n][:6], quantity, *entries[n][7:])
    return {"suppliers": len(rows["suppliers"]), "supplier_items": item_id,
            "purchase_orders": order_id, "purchase_order_lines": line_id}


class Statements:
    """What the app sends to the database, counted, and captured on request."""

    def __init__(self, engine: Engine) -> None:
        self.capturing = False
        self.captured: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.capturing and not TRANSACTION_CONTROL.match(statement):
            self.captured.append((statement, parameters))

    def capture(self, call: Callable[[], Any]) -> list[tuple[str, Any]]:
        self.captured, self.capturing = [], True
        try:
            call()
        finally:
            self.capturing = False
            db.session.rollback()
        return self.captured


def replay(engine: Engine, statements: list[tuple[str, Any]]) -> None:
    with engine.connect() as conn:
        for statement, parameters in statements:
            result = conn.exec_driver_sql(statement, parameters)
            if result.returns_rows:
                result.fetchall()


def timed_pair(first: Callable[[], Any], second: Callable[[], Any], repeat: int
               ) -> tuple[list[float], list[float]]:
    """Both paths, warmed, then called in turn, so a busy moment of a shared host falls
    on both alike."""
    first(), second()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for call, out in ((first, samples[0]), (second, samples[1])):
            started = time.perf_counter()
            call()
            out.append((time.perf_counter() - started) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_backend(backend: str, args: argparse.Namespace) -> list[dict[str, Any]] | None:
    database = BenchDatabase(backend, args.database_url)
    try:
        url = database.create()
    except Unreachable as exc:
        print(f"[{backend}] skipped: {exc}")
        return None
    try:
        return _run(backend, url, args)
    finally:
        database.drop()


def _run(backend: str, url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    rng = random.Random(args.seed)
    app = create_app(app_config(url))
    with app.app_context():
        db.create_all()
        plan_args = argparse.Namespace(stores=args.stores, products=args.products,
                                       entries=args.entries)
        data, rows = plan_dataset(plan_args, rng)
        counts = reshape(rows, rng)
        started = time.perf_counter()
        bulk_load(db.engine, rows, {**TABLE_COLUMNS, **REORDER_TABLES})
        print(f"[{backend}] loaded {len(rows['inventory_entries']):,} entries, "
              f"{counts['suppliers']} suppliers, {counts['supplier_items']:,} supplier items, "
              f"{counts['purchase_orders']} orders ({counts['purchase_order_lines']:,} lines) "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        del rows
        bare = create_engine(url, **app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        configure_engine(bare, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])
        statements = Statements(db.engine)
        owner = actor_for_user(data.owners[1])
        admin = system_actor("bench")
        db.session.rollback()
        supplier = db.session.execute(text(
            "SELECT supplier_id FROM supplier_items WHERE store_id = 1 "
            "GROUP BY supplier_id ORDER BY count(*) DESC LIMIT 1")).scalar_one()
        db.session.rollback()

        def page(actor: Any, **filters: Any) -> Callable[[], Any]:
            return lambda: queries.reorder_suggestions(actor, ReportFilters(**filters))

        def export(actor: Any, **filters: Any) -> Callable[[], Any]:
            return lambda: sum(1 for _ in queries.iter_reorder_suggestions(
                actor, ReportFilters(**filters)))

        cases = [
            ("one store, first page", page(owner, store_id=1)),
            ("one store, by suggested desc", page(owner, store_id=1, sort="suggested",
                                                  descending=True)),
            ("one store, one supplier", page(owner, store_id=1, supplier_id=supplier)),
            ("every store, first page", page(admin)),
            ("every store, no supplier", page(admin, without_supplier=True)),
            ("every store, whole export", export(admin)),
        ]
        results = []
        for name, call in cases:
            found = call()
            size = found if isinstance(found, int) else found.total
            captured = statements.capture(call)
            service, plain = timed_pair(lambda c=call: (c(), db.session.rollback()),
                                        lambda c=captured: replay(bare, c), args.repeat)
            results.append({"case": name, "rows": size, "statements": len(captured),
                            "service_p50": p(service, .5), "service_p95": p(service, .95),
                            "bare_p50": p(plain, .5), "bare_p95": p(plain, .95),
                            "ratio": statistics.median(service) / statistics.median(plain)})
            print(f"[{backend}] {name}: {results[-1]['service_p50']:.1f} ms", flush=True)
        bare.dispose()
        db.session.remove()
        db.engine.dispose()
    print()
    print(f"{backend}: {args.entries:,} entries, {args.repeat} calls per path")
    print(f"{'':31}{'lines':>7}{'stmts':>6}{'service p50/p95 ms':>21}"
          f"{'bare p50/p95 ms':>19}{'ratio':>7}")
    for r in results:
        print(f"{r['case']:31}{r['rows']:>7,}{r['statements']:>6}"
              f"{r['service_p50']:>12.1f}/{r['service_p95']:<8.1f}"
              f"{r['bare_p50']:>10.1f}/{r['bare_p95']:<8.1f}{r['ratio']:>6.2f}")
    print()
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        run_backend(backend, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
