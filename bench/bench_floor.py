"""The signed-in request floor: what every signed-in page and every API call pays before its
view does anything (the session's user, the actor's memberships, the security headers).

For each backend the benchmark creates a database of its own, seeds 20 stores, a user who is
a member of 6 of them (owner, admin and staff with grants) and an API token of theirs, then
times, single-threaded, each request in its own app context as a server runs it:

* bare flask   GET of a view returning "ok" on a plain Flask app: the test client's and
               Flask's own cost, the baseline nothing in Stockroom can remove;
* anonymous    GET /bench-floor/anonymous on Stockroom's app: request id, input screening,
               security headers, no sign-in;
* anonymous+db the same with one `SELECT 1` through the app's database session: what any
               view that reads the database pays (pool checkout, BEGIN, the end of the
               transaction), signed in or not;
* signed in    GET /bench-floor, a login_required view that loads the actor (current_actor())
               and returns "ok": everything above plus the session's user and the actor;
* user+actor   the user loader and current_actor() alone, in a request context whose session
               holds the signed-in user (no test client, no response);
* api me       GET /api/v1/me with the bearer token: token check, actor, JSON out.

The routes under /bench-floor are added to the benchmark's own app only. The floor is
`signed in − bare flask`; the aim (issue #15) is 0.5 ms. The user signs in through the
sign-in form first, so the session cookie is the one a browser holds. SQL statements per request are
counted with a before_cursor_execute listener (SQLite's BEGIN included, as the app sends it).

The figures measured before the one-query floor are kept in bench/floor-baseline.json and
printed beside the new ones. Run from the repository root:

    python bench/bench_floor.py [--backend sqlite|postgresql|both] [--requests 2000]
    python bench/bench_floor.py --save-baseline     # record the current code as "before"
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from flask import Flask, session
from flask_login import current_user, login_required
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Membership, Store, User  # noqa: E402
from app.services.people import tokens  # noqa: E402
from app.services.people.credentials import hash_password  # noqa: E402
from app.web import current_actor  # noqa: E402

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "floor-baseline.json"
RESULTS_DIR = HERE / "results"
DEFAULT_PG_URL = os.environ.get(
    "STOCKROOM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PATHS = ("bare flask", "anonymous", "anonymous+db", "signed in", "user+actor", "api me")
BLOCK = 100
AIM_MS = 0.5
PASSWORD = "bench-password-123"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The signed-in request floor.")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per path")
    parser.add_argument("--save-baseline", action="store_true",
                        help="write the figures to bench/floor-baseline.json as 'before'")
    parser.add_argument("--no-save", action="store_true", help="don't write a JSON result")
    return parser.parse_args(argv)


def config(url: str) -> dict[str, Any]:
    return {"TESTING": True, "SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": url,
            "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
            "SESSION_COOKIE_SECURE": False}


class Database:
    """A database of the benchmark's own, removed afterwards."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        if backend == "sqlite":
            self.tmp = tempfile.mkdtemp(prefix="stockroom-bench-floor-")
            self.url = f"sqlite:///{self.tmp}/bench.sqlite"
        else:
            self.name = f"stockroom_bench_floor_{uuid.uuid4().hex[:8]}"
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


def seed(app: Flask) -> dict[str, Any]:
    """20 stores (two archived); the user is owner of one, admin of one, staff in four
    (with and without grants), and in one archived store."""
    with app.app_context():
        db.create_all()
        stores = [Store(name=f"Store {n}", slug=f"store-{n}") for n in range(20)]
        db.session.add_all(stores)
        user = User(email="floor@bench.test", name="Floor",
                    password_hash=hash_password(PASSWORD))
        db.session.add(user)
        db.session.flush()
        stores[18].archived_at = stores[19].archived_at = db.func.now()
        roles = [("owner", []), ("admin", []), ("staff", []), ("staff", ["inventory:adjust"]),
                 ("staff", ["inventory:reserve", "catalog:manage"]), ("staff", ["audit:read"])]
        for store, (role, grants) in zip(stores, roles, strict=False):
            db.session.add(Membership(user_id=user.id, store_id=store.id, role=role,
                                      grants=grants))
        db.session.add(Membership(user_id=user.id, store_id=stores[19].id, role="owner",
                                  grants=[]))
        db.session.commit()
        _, token = tokens.create_token(user_id=user.id, name="bench")
        return {"user_id": user.id, "session_id": user.get_id(), "token": token}


def bench_routes(app: Flask) -> None:
    @app.get("/bench-floor")
    @login_required
    def floor() -> str:
        actor = current_actor()
        assert actor.user_id is not None and current_user.name == "Floor"
        return "ok"

    @app.get("/bench-floor/anonymous")
    def anonymous() -> str:
        return "ok"

    @app.get("/bench-floor/anonymous-db")
    def anonymous_db() -> str:
        assert db.session.execute(text("SELECT 1")).scalar_one() == 1
        return "ok"


def bare_app() -> Flask:
    app = Flask("bare")

    @app.get("/bench-floor")
    def floor() -> str:
        return "ok"

    return app


class Counter:
    """SQL statements sent by the app's engine while `on`."""

    def __init__(self, engine: Any) -> None:
        self.seen: list[str] = []
        self.on = False
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.on:
            self.seen.append(statement)


def run(backend: str, requests: int) -> dict[str, Any]:
    database = Database(backend)
    try:
        app = create_app(config(database.url))
        bench_routes(app)
        world = seed(app)
        client = app.test_client()
        signing_in = client.post("/sign-in", data={"email": "floor@bench.test",
                                                   "password": PASSWORD})
        assert signing_in.status_code == 303, signing_in.status_code
        with client.session_transaction() as stored:
            cookie_session = dict(stored)
        plain = bare_app().test_client()
        api_headers = {"Authorization": f"Bearer {world['token']}"}
        with app.app_context():
            counter = Counter(db.engine)

        def get(target: Any, url: str, **kwargs: Any) -> Callable[[], None]:
            def call() -> None:
                response = target.get(url, **kwargs)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
            return call

        def user_and_actor() -> None:
            with app.test_request_context("/bench-floor"):
                session.update(cookie_session)
                start = time.perf_counter()
                assert current_user.is_authenticated
                actor = current_actor()
                elapsed = time.perf_counter() - start
                assert actor.user_id == world["user_id"]
                db.session.remove()
            user_and_actor.elapsed = elapsed  # type: ignore[attr-defined]

        calls: dict[str, Callable[[], None]] = {
            "bare flask": get(plain, "/bench-floor"),
            "anonymous": get(client, "/bench-floor/anonymous"),
            "anonymous+db": get(client, "/bench-floor/anonymous-db"),
            "signed in": get(client, "/bench-floor"),
            "user+actor": user_and_actor,
            "api me": get(client, "/api/v1/me", headers=api_headers),
        }
        statements: dict[str, list[str]] = {}
        for name, call in calls.items():  # warm caches and connections
            for _ in range(30):
                call()
            counter.seen, counter.on = [], True
            call()
            counter.on = False
            statements[name] = counter.seen
        samples: dict[str, list[float]] = {name: [] for name in PATHS}
        cpu: dict[str, float] = dict.fromkeys(PATHS, 0.0)
        for block in range(0, requests, BLOCK):
            for name in PATHS:
                call = calls[name]
                cpu_start = time.thread_time()
                for _ in range(min(BLOCK, requests - block)):
                    start = time.perf_counter()
                    call()
                    elapsed = time.perf_counter() - start
                    samples[name].append(getattr(call, "elapsed", elapsed))
                cpu[name] += time.thread_time() - cpu_start
        with app.app_context():
            db.engine.dispose()
    finally:
        database.drop()

    result: dict[str, Any] = {"backend": backend, "requests": requests, "paths": {}}
    for name in PATHS:
        result["paths"][name] = {
            "p50_ms": round(1000 * statistics.median(samples[name]), 3),
            "p95_ms": round(1000 * statistics.quantiles(samples[name], n=20)[-1], 3),
            "cpu_us": round(1e6 * cpu[name] / len(samples[name]), 1),
            "statements": len(statements[name]),
            "sql": [" ".join(s.split())[:160] for s in statements[name]],
        }
    paths = result["paths"]
    result["floor_ms"] = round(paths["signed in"]["p50_ms"] - paths["bare flask"]["p50_ms"], 3)
    result["sign_in_share_ms"] = round(
        paths["signed in"]["p50_ms"] - paths["anonymous"]["p50_ms"], 3)
    result["over_db_view_ms"] = round(
        paths["signed in"]["p50_ms"] - paths["anonymous+db"]["p50_ms"], 3)
    return result


def load_baseline() -> dict[str, Any]:
    if not BASELINE.exists():
        return {}
    return {r["backend"]: r for r in json.loads(BASELINE.read_text())["results"]}


def report(result: dict[str, Any], before: dict[str, Any] | None) -> None:
    print(f"\n{result['backend']}: {result['requests']} requests per path "
          f"(before: {'bench/floor-baseline.json' if before else 'none recorded'})")
    print(f"  {'path':12} {'p50 ms':>8} {'p95 ms':>8} {'CPU us':>8} {'SQL':>4}   "
          f"{'before p50':>10} {'p95':>7} {'SQL':>4}")
    for name in PATHS:
        row = result["paths"][name]
        old = (before or {}).get("paths", {}).get(name)
        was = (f"{old['p50_ms']:>10.3f} {old['p95_ms']:>7.3f} {old['statements']:>4}"
               if old else f"{'-':>10} {'-':>7} {'-':>4}")
        print(f"  {name:12} {row['p50_ms']:>8.3f} {row['p95_ms']:>8.3f} {row['cpu_us']:>8.1f} "
              f"{row['statements']:>4}   {was}")
    floor = result["floor_ms"]
    old_floor = f" (before {before['floor_ms']:.3f})" if before else ""
    print(f"  floor = signed in − bare flask: {floor:.3f} ms{old_floor}; aim ≤ {AIM_MS} ms: "
          f"{'met' if floor <= AIM_MS else 'MISS'}")
    old_share = f" (before {before['sign_in_share_ms']:.3f})" if before else ""
    print(f"  sign-in share = signed in − anonymous: {result['sign_in_share_ms']:.3f} ms"
          f"{old_share}")
    if "over_db_view_ms" in result:
        old = (f" (before {before['over_db_view_ms']:.3f})"
               if before and "over_db_view_ms" in before else "")
        print(f"  over a view reading the database = signed in − anonymous+db: "
              f"{result['over_db_view_ms']:.3f} ms{old}")
    for name in ("signed in", "api me"):
        print(f"  SQL for {name}:")
        for statement in result["paths"][name]["sql"]:
            print(f"    {statement}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    baseline = load_baseline()
    results = []
    for backend in backends:
        try:
            result = run(backend, args.requests)
        except Exception as exc:
            if backend == "postgresql" and args.backend == "both":
                print(f"\npostgresql: skipped ({exc.__class__.__name__}: {exc})")
                continue
            raise
        report(result, None if args.save_baseline else baseline.get(backend))
        results.append(result)
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    document = {"python": platform.python_version(), "machine": platform.machine(),
                "cpus": os.cpu_count(), "load": os.getloadavg(), "results": results}
    if args.save_baseline:
        BASELINE.write_text(json.dumps(document, indent=2) + "\n")
        print(f"Saved {BASELINE}")
    elif results and not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        path = RESULTS_DIR / f"floor-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"Saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
