"""What the JSON API costs on top of the service layer: reserve through the API against
reserve_stock called directly, on SQLite and PostgreSQL.

For each backend the benchmark creates a database of its own, builds the schema, seeds a
store with entries and an owner with an API token, then times, single-threaded and on the
same random entries:

* service   stock.reserve_stock(actor=…, entry_id=…, quantity=1, order_ref=…), the
            actor built once, as a long-running worker would hold it;
* api       POST /api/v1/store/inventory/reserve with the bearer token and {entry_id, …},
            through Flask's test client, each request in its own app context as a server
            runs it: token check, actor load, validation, the same service call, JSON;
* api+code  the same, naming the entry by product_id and location code as the seed API
            does (one more query to resolve the entry).

The paths alternate in blocks so drift in the machine affects them alike. Run from the
repository root:  python bench/bench_api.py [--backend sqlite] [--ops 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Location, Membership, Product, Store, User  # noqa: E402
from app.permissions import actor_for_user  # noqa: E402
from app.services import stock  # noqa: E402
from app.services.people import tokens  # noqa: E402
from app.services.people.credentials import hash_password  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_PG_URL = os.environ.get(
    "STOCKROOM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PATHS = ("service", "api", "api+code")
BLOCK = 50
# Issue #15's aim: a reserve through the API at 70 % or more of the direct call's throughput.
RATIO_AIM = 0.70


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Reserve through the API vs the service.")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--ops", type=int, default=1000, help="timed reserves per path")
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--no-save", action="store_true", help="don't write a JSON result")
    return parser.parse_args(argv)


def config(url: str) -> dict[str, Any]:
    return {"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url,
            "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False}


class Database:
    """A database of the benchmark's own, removed afterwards."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        if backend == "sqlite":
            self.tmp = tempfile.mkdtemp(prefix="stockroom-bench-api-")
            self.url = f"sqlite:///{self.tmp}/bench.sqlite"
        else:
            self.name = f"stockroom_bench_api_{uuid.uuid4().hex[:8]}"
            self.admin = create_engine(DEFAULT_PG_URL, isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
            self.url = make_url(DEFAULT_PG_URL).set(database=self.name).render_as_string(
                hide_password=False)

    def drop(self) -> None:
        if self.backend == "sqlite":
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.admin.dispose()


def seed(app: Flask, entries: int, rng: random.Random) -> dict[str, Any]:
    """One store, its owner with a token, `entries` entries with plenty of stock."""
    with app.app_context():
        db.create_all()
        store = Store(name="Bench", slug="bench")
        db.session.add(store)
        db.session.flush()
        per_location = 200
        locations = [Location(store_id=store.id, code=f"LOC_{n}")
                     for n in range((entries + per_location - 1) // per_location)]
        products = [Product(store_id=store.id, sku=f"SKU-{n}", title=f"Product {n}")
                    for n in range(per_location)]
        owner = User(email="owner@bench.test", name="Owner",
                     password_hash=hash_password("bench-password-123"))
        db.session.add_all([*locations, *products, owner])
        db.session.flush()
        db.session.add(Membership(user_id=owner.id, store_id=store.id, role="owner", grants=[]))
        db.session.commit()
        setup = actor_for_user(owner.id)
        targets = []
        for n in range(entries):
            location = locations[n // per_location]
            product = products[n % per_location]
            change = stock.create_entry(actor=setup, product_id=product.id,
                                            location_id=location.id, quantity=1_000_000)
            targets.append((change.entry.id, product.id, location.code))
        _, token = tokens.create_token(user_id=owner.id, name="bench")
        return {"owner_id": owner.id, "token": token, "targets": targets}


def timed(call: Callable[[int], None], ops: range) -> tuple[list[float], float]:
    """Each call's wall time, and the CPU time this thread spent on them all."""
    samples = []
    cpu = time.thread_time()
    for n in ops:
        start = time.perf_counter()
        call(n)
        samples.append(time.perf_counter() - start)
    return samples, time.thread_time() - cpu


def run(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    database = Database(backend)
    try:
        app = create_app(config(database.url))
        world = seed(app, args.entries, rng)
        picks = [rng.choice(world["targets"]) for _ in range(args.ops * len(PATHS))]
        client = app.test_client()
        headers = {"Authorization": f"Bearer {world['token']}"}
        with app.app_context():
            actor = actor_for_user(world["owner_id"])

        def service(n: int) -> None:
            entry_id, _, _ = picks[n]
            with app.app_context():
                stock.reserve_stock(actor=actor, entry_id=entry_id, quantity=1,
                                        order_ref=f"S-{n}")

        def api(n: int) -> None:
            entry_id, _, _ = picks[n]
            response = client.post("/api/v1/store/inventory/reserve", headers=headers,
                                   json={"entry_id": entry_id, "quantity": 1,
                                         "order_ref": f"A-{n}"})
            assert response.status_code == 200, response.get_data(as_text=True)

        def api_by_code(n: int) -> None:
            _, product_id, code = picks[n]
            response = client.post("/api/v1/store/inventory/reserve", headers=headers,
                                   json={"product_id": product_id, "location": code.lower(),
                                         "quantity": 1, "order_ref": f"C-{n}"})
            assert response.status_code == 200, response.get_data(as_text=True)

        calls = {"service": service, "api": api, "api+code": api_by_code}
        for name, call in calls.items():  # warm caches and connections
            for n in range(20):
                call(len(picks) - 1 - n - 20 * PATHS.index(name))
        samples: dict[str, list[float]] = {name: [] for name in PATHS}
        cpu: dict[str, float] = dict.fromkeys(PATHS, 0.0)
        offset = {name: i * args.ops for i, name in enumerate(PATHS)}
        for block in range(0, args.ops, BLOCK):
            for name in PATHS:
                start = offset[name] + block
                wall, spent = timed(calls[name], range(start, start + min(BLOCK,
                                                                         args.ops - block)))
                samples[name] += wall
                cpu[name] += spent
        with app.app_context():
            db.engine.dispose()
    finally:
        database.drop()

    result: dict[str, Any] = {"backend": backend, "ops": args.ops, "entries": args.entries}
    for name in PATHS:
        total = sum(samples[name])
        result[name] = {
            "ops_per_s": round(len(samples[name]) / total, 1),
            "mean_ms": round(1000 * statistics.fmean(samples[name]), 3),
            "p50_ms": round(1000 * statistics.median(samples[name]), 3),
            "p95_ms": round(1000 * statistics.quantiles(samples[name], n=20)[-1], 3),
            "cpu_us": round(1e6 * cpu[name] / len(samples[name]), 1),
        }
    service_rate = result["service"]["ops_per_s"]
    for name in ("api", "api+code"):
        result[name]["ratio_to_service"] = round(result[name]["ops_per_s"] / service_rate, 3)
        result[name]["overhead_ms"] = round(result[name]["mean_ms"] - result["service"]["mean_ms"],
                                            3)
        result[name]["p50_ratio"] = round(result["service"]["p50_ms"] / result[name]["p50_ms"], 3)
        result[name]["cpu_ratio"] = round(result["service"]["cpu_us"] / result[name]["cpu_us"], 3)
    result["aim"] = RATIO_AIM
    result["load"] = round(os.getloadavg()[0], 2)
    return result


def report(result: dict[str, Any]) -> None:
    print(f"\n{result['backend']}: {result['ops']} reserves per path, "
          f"{result['entries']} entries")
    print(f"  {'path':10} {'ops/s':>9} {'mean ms':>9} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'CPU us':>8} {'ratio':>7} {'+ms':>7}  {'p50 ratio':>9} {'CPU ratio':>9}")
    for name in PATHS:
        row = result[name]
        ratio = f"{row['ratio_to_service']:.2f}" if "ratio_to_service" in row else "1.00"
        extra = f"{row['overhead_ms']:.2f}" if "overhead_ms" in row else "-"
        p50 = f"{row['p50_ratio']:.2f}" if "p50_ratio" in row else "1.00"
        cpu = f"{row['cpu_ratio']:.2f}" if "cpu_ratio" in row else "1.00"
        print(f"  {name:10} {row['ops_per_s']:>9.1f} {row['mean_ms']:>9.3f} "
              f"{row['p50_ms']:>8.3f} {row['p95_ms']:>8.3f} {row['cpu_us']:>8.1f} {ratio:>7} "
              f"{extra:>7}  {p50:>9} {cpu:>9}")
    api = result["api"]["ratio_to_service"]
    verdict = "met" if api >= result["aim"] else "MISS"
    print(f"  aim: API reserve >= {result['aim']:.0%} of the direct call's throughput: "
          f"{api:.0%} {verdict}  (by entry_id; by product_id + location code "
          f"{result['api+code']['ratio_to_service']:.0%})")
    print(f"  host load average {result['load']:.2f} ({os.cpu_count()} CPUs): wall-clock figures "
          "move with it; CPU us is this thread's CPU time per reserve (on SQLite it includes "
          "the database's work, on PostgreSQL only the client's)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = []
    for backend in backends:
        try:
            result = run(backend, args)
        except Exception as exc:
            if backend == "postgresql" and args.backend == "both":
                print(f"\npostgresql: skipped ({exc.__class__.__name__}: {exc})")
                continue
            raise
        report(result)
        results.append(result)
    if results and not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"api-{stamp}.json"
        path.write_text(json.dumps({
            "python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "results": results,
        }, indent=2) + "\n")
        print(f"\nSaved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
