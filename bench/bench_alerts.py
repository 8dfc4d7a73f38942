"""The bell on every page, next to its bare SQL, on SQLite and PostgreSQL.

Every signed-in page counts the user's unread stock alerts: the store's `stock.low` and
`stock.out` events after where they last read. So the count has to stay cheap however long
the store's outbox grows. For each backend: a database of its own, bench_services' merchant
(20 stores, 20k entries), and an outbox for store 1 grown to --events rows (1M by default)
of which 2 % are crossings; its owner subscribed. Then, timed:

* the bell with 30 unread (someone who reads their alerts) and with every crossing unread
  (capped at 100, someone who never does);
* the alert page's list (the latest 50, with their payloads);
* bare: the statements the service sent for that call, captured once and replayed verbatim
  on a plain pooled connection: the same SQL without the service.

Run from the repository root:  python bench/bench_alerts.py [--backend sqlite] [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_reorder import Statements, p, replay, timed_pair  # noqa: E402
from bench_services import (  # noqa: E402 - after the path set-up above
    TABLE_COLUMNS,
    BenchDatabase,
    Unreachable,
    app_config,
    bulk_load,
    plan_dataset,
)
from sqlalchemy import create_engine, text  # noqa: E402

from app import create_app  # noqa: E402
from app.database import configure_engine  # noqa: E402
from app.extensions import db  # noqa: E402
from app.services import alerts  # noqa: E402

CROSSING_SHARE = 0.02
SUBSCRIPTION = ("id", "user_id", "store_id", "mode", "mailed_through", "read_through",
                "created_at", "updated_at")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="events in store 1's outbox")
    parser.add_argument("--repeat", type=int, default=30, help="timed calls per path")
    parser.add_argument("--quick", action="store_true", help="100k events, 10 calls")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.repeat = 100_000, 10
    return args


def grow_outbox(rows: dict[str, list[tuple[Any, ...]]], count: int, rng: random.Random
                ) -> tuple[int, int]:
    """Store 1's outbox to `count` events; returns (last sequence, sequence 30 crossings
    before the end)."""
    mine = [e for e in rows["inventory_entries"] if e[1] == 1]
    sequences = dict(rows["event_sequences"])
    sequence = sequences[1]
    next_id = max(e[0] for e in rows["events"]) + 1
    moment = datetime.now().replace(microsecond=0) - timedelta(days=60)
    crossings: list[int] = []
    for _ in range(count - sequence):
        entry = rng.choice(mine)
        sequence += 1
        crossing = rng.random() < CROSSING_SHARE
        kind = rng.choice(("stock.low", "stock.out")) if crossing else "stock.changed"
        if crossing:
            crossings.append(sequence)
        moment += timedelta(seconds=5)
        rows["events"].append((next_id, 1, sequence, kind, entry[0], entry[0], entry[2],
                               entry[3], moment))
        next_id += 1
    rows["event_sequences"] = [(s, sequence if s == 1 else last)
                               for s, last in rows["event_sequences"]]
    return sequence, crossings[-31]


def run_backend(backend: str, args: argparse.Namespace) -> None:
    database = BenchDatabase(backend, args.database_url)
    try:
        url = database.create()
    except Unreachable as exc:
        print(f"[{backend}] skipped: {exc}")
        return
    try:
        _run(backend, url, args)
    finally:
        database.drop()


def _run(backend: str, url: str, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    app = create_app(app_config(url))
    with app.app_context():
        db.create_all()
        plan = argparse.Namespace(stores=20, products=5_000, entries=20_000)
        data, rows = plan_dataset(plan, rng)
        last, thirty_back = grow_outbox(rows, args.events, rng)
        owner = data.owners[1]
        now = datetime.now().replace(microsecond=0)
        rows["alert_subscriptions"] = [(1, owner, 1, "immediate", last, thirty_back, now, now)]
        started = time.perf_counter()
        bulk_load(db.engine, rows, {**TABLE_COLUMNS, "alert_subscriptions": SUBSCRIPTION})
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"[{backend}] loaded {len(rows['events']):,} events ({last:,} in store 1) "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        del rows
        bare = create_engine(url, **app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        configure_engine(bare, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])
        statements = Statements(db.engine)

        def read_through(value: int) -> None:
            db.session.execute(text("UPDATE alert_subscriptions SET read_through = :v"),
                               {"v": value})
            db.session.commit()

        cases = [
            ("bell, 30 unread", lambda: read_through(thirty_back),
             lambda: alerts.unread_count(owner)),
            ("bell, never read (cap)", lambda: read_through(0),
             lambda: alerts.unread_count(owner)),
            ("alert list, latest 50", lambda: None, lambda: len(alerts.recent(owner))),
        ]
        results = []
        for name, prepare, call in cases:
            prepare()
            found = call()
            captured = statements.capture(call)
            service, plain = timed_pair(lambda c=call: (c(), db.session.rollback()),
                                        lambda c=captured: replay(bare, c), args.repeat)
            results.append((name, found, len(captured), p(service, .5), p(service, .95),
                            p(plain, .5), p(plain, .95),
                            statistics.median(service) / statistics.median(plain)))
        bare.dispose()
        db.session.remove()
        db.engine.dispose()
    print()
    print(f"{backend}: {last:,} events in the store's outbox, {args.repeat} calls per path")
    print(f"{'':26}{'found':>7}{'stmts':>6}{'service p50/p95 ms':>21}{'bare p50/p95 ms':>19}"
          f"{'ratio':>7}")
    for name, found, stmts, s50, s95, b50, b95, ratio in results:
        print(f"{name:26}{found:>7}{stmts:>6}{s50:>12.2f}/{s95:<8.2f}{b50:>10.2f}/{b95:<8.2f}"
              f"{ratio:>6.2f}")
    print()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for backend in (("sqlite", "postgresql") if args.backend == "both" else (args.backend,)):
        run_backend(backend, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
