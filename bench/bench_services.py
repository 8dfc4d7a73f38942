"""Stock service layer against the bare SQL doing the same work, on SQLite and PostgreSQL.

For each backend the benchmark creates a database of its own, builds the schema with
db.create_all(), bulk-seeds stores, locations, products, users and inventory entries (each
with its opening 'received' ledger row), then times, single-threaded:

* reserve_stock (quantity 1), adjust_stock (+1/-1 alternating) and transfer_stock (1 unit
  between two locations of one store), called as the app calls them, with an owner's Actor
  built by actor_for_user, inside an app context;
* the same transaction in bare SQL: the same conditional UPDATE … RETURNING and the same
  INSERTs (reservation, ledger), via SQLAlchemy Core text() on a plain engine with the app's
  engine options and pragmas (BEGIN IMMEDIATE on SQLite), on the same random entries.

Run from the repository root:  python bench/bench_services.py [--backend sqlite] [--ops 500]
See bench/README.md for the columns.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import platform
import pstats
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import DateTime, Engine, Table, bindparam, create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.clock import utcnow
from app.database import configure_engine
from app.extensions import db
from app.permissions import Actor, actor_for_user
from app.services import stock
from app.services.validation import LIMIT

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_PG_URL = os.environ.get(
    "STOCKROOM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
OPERATIONS = ("reserve_stock", "adjust_stock", "transfer_stock")
BACKENDS = ("sqlite", "postgresql")
# The product mix: most products are stocked; the unlimited kinds get no entries.
PRODUCT_MIX = (("physical", 90), ("digital", 4), ("service", 3), ("subscription", 3))
BLOCK = 100  # service and bare SQL alternate in blocks of this many operations
SEED_ACTOR = "system:bench-seed"


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Service layer vs bare SQL throughput for reserve/adjust/transfer."
    )
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument("--entries", type=int, default=100_000, help="inventory entries")
    parser.add_argument("--ops", type=int, default=2000, help="timed operations per kind")
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument(
        "--database-url",
        help="PostgreSQL: server to create the bench database on (the URL's own database "
        "is only used for CREATE/DROP DATABASE). SQLite: the file to create (must not "
        "exist; removed at the end). Picks the backend from its scheme.",
    )
    parser.add_argument("--seed", type=int, default=1234, help="random seed")
    parser.add_argument(
        "--profile", action="store_true",
        help="also run each service operation under cProfile and print the top costs",
    )
    parser.add_argument("--no-save", action="store_true", help="don't write bench/results/")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.entries < args.stores or args.ops < 1 or args.products < args.stores:
        parser.error("need entries >= stores, products >= stores and ops >= 1")
    if args.database_url:
        args.database_url = normalize_url(args.database_url)
        scheme = make_url(args.database_url).get_backend_name()
        if scheme not in BACKENDS:
            parser.error(f"unsupported database URL scheme: {scheme}")
        if args.backend not in ("both", scheme):
            parser.error(f"--backend {args.backend} does not match --database-url")
        args.backend = scheme
    return args


def normalize_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# ---------------------------------------------------------------------------
# Databases
# ---------------------------------------------------------------------------


def app_config(url: str) -> dict[str, Any]:
    """Production-like settings: nothing here should make the service path cheaper."""
    return {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False}


class BenchDatabase:
    """A database of the benchmark's own, removed on exit."""

    def __init__(self, backend: str, url_override: str | None) -> None:
        self.backend = backend
        self.url = ""
        self._tmpdir: str | None = None
        self._sqlite_file: Path | None = None
        self._admin: Engine | None = None
        self._pg_name: str | None = None
        self._override = url_override

    def create(self) -> str:
        if self.backend == "sqlite":
            if self._override:
                path = Path(make_url(self._override).database or "")
                if not path.name or path.exists():
                    raise SystemExit(f"{path}: give a SQLite file that does not exist yet")
            else:
                self._tmpdir = tempfile.mkdtemp(prefix="stockroom-bench-")
                path = Path(self._tmpdir) / "bench.sqlite"
            self._sqlite_file = path.resolve()
            self.url = f"sqlite:///{self._sqlite_file}"
            return self.url
        admin_url = self._override or normalize_url(DEFAULT_PG_URL)
        admin = create_engine(
            admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        name = f"stockroom_bench_{uuid.uuid4().hex[:10]}"
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except Exception as exc:  # any failure here means "no usable server"
            admin.dispose()
            where = make_url(admin_url).render_as_string(hide_password=True)
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise Unreachable(f"PostgreSQL not reachable at {where}: {reason}") from exc
        self._admin, self._pg_name = admin, name
        self.url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        return self.url

    def drop(self) -> None:
        if self._admin is not None and self._pg_name is not None:
            with self._admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')
            self._admin.dispose()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
        elif self._sqlite_file is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self._sqlite_file}{suffix}").unlink(missing_ok=True)

    @property
    def label(self) -> str:
        if self.backend == "sqlite":
            return str(self._sqlite_file)
        return make_url(self.url).render_as_string(hide_password=True)


class Unreachable(Exception):
    pass


# ---------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------


@dataclass
class Dataset:
    entries: list[tuple[int, int, int, int]]  # (id, store_id, product_id, location_id)
    owners: dict[int, int]  # store_id -> owner user_id
    siblings: dict[int, list[int]]  # product_id -> indexes into entries
    counts: dict[str, int] = field(default_factory=dict)


def plan_dataset(args: argparse.Namespace, rng: random.Random) -> tuple[Dataset, dict]:
    """Decide every row up front; returns the dataset description and the table rows."""
    n_stores = args.stores
    base = (datetime.now() - timedelta(days=30)).replace(microsecond=0)
    kinds = [k for k, share in PRODUCT_MIX for _ in range(share)]
    rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)

    for s in range(1, n_stores + 1):
        rows["stores"].append((s, f"Bench store {s}", f"bench-{s}", None, base))
        rows["users"].append(
            (s, f"owner{s}@bench.example", f"Owner {s}", "!unusable", False, True, base)
        )
        rows["memberships"].append((s, s, s, "owner", "[]", base))

    physical: dict[int, list[int]] = defaultdict(list)
    for p in range(1, args.products + 1):
        store = (p - 1) % n_stores + 1
        kind = kinds[(p * 37) % len(kinds)]
        if kind == "physical":
            physical[store].append(p)
        rows["products"].append(
            (p, store, f"SKU-{p:06d}", f"Bench product {p}", f"{p:014d}", kind, False,
             rng.randrange(0, 20), rng.randrange(0, 50), None, base, base)
        )

    # Enough locations per store to hold its share of the entries.
    per_store = [args.entries // n_stores + (1 if s < args.entries % n_stores else 0)
                 for s in range(n_stores)]
    fewest = min(len(physical[s]) for s in range(1, n_stores + 1))
    if fewest == 0:
        raise SystemExit("too few products: some store has no physical product")
    n_loc = max(2, math.ceil(max(per_store) / fewest * 1.1))
    loc_ids: dict[int, list[int]] = {}
    next_loc = 1
    for s in range(1, n_stores + 1):
        loc_ids[s] = list(range(next_loc, next_loc + n_loc))
        for n, loc in enumerate(loc_ids[s]):
            rows["locations"].append((loc, s, f"BIN-{n + 1:03d}", f"Bin {n + 1}", None, base))
        next_loc += n_loc

    entries: list[tuple[int, int, int, int]] = []
    entry_id = 0
    numbered: dict[int, int] = defaultdict(int)
    for s in range(1, n_stores + 1):
        pairs = [(loc, p) for loc in loc_ids[s] for p in physical[s]]
        chosen = sorted(rng.sample(pairs, per_store[s - 1]))
        for loc, p in chosen:
            entry_id += 1
            qty = rng.randrange(50, 1000)
            entries.append((entry_id, s, p, loc))
            rows["inventory_entries"].append(
                (entry_id, s, p, loc, qty, 0, 0, rng.choice((0, 0, 5, 10)), None, base, 1,
                 base, base)
            )
            rows["stock_movements"].append(
                (entry_id, s, entry_id, p, loc, "received", qty, 0, qty, 0, "Opening stock",
                 None, None, None, None, SEED_ACTOR, base)
            )
            # Its event in the outbox, numbered in the store as the app numbers them.
            numbered[s] += 1
            rows["events"].append((entry_id, s, numbered[s], "stock.changed", entry_id,
                                   entry_id, p, loc, base))

    rows["event_sequences"] = [(s, numbered[s]) for s in range(1, n_stores + 1)]
    siblings: dict[int, list[int]] = defaultdict(list)
    for index, (_id, _s, p, _loc) in enumerate(entries):
        siblings[p].append(index)
    data = Dataset(
        entries=entries,
        owners={s: s for s in range(1, n_stores + 1)},
        siblings={p: ix for p, ix in siblings.items() if len(ix) > 1},
        counts={
            "stores": n_stores,
            "locations": len(rows["locations"]),
            "products": args.products,
            "physical_products": sum(len(v) for v in physical.values()),
            "entries": len(entries),
            "ledger_rows": len(rows["stock_movements"]),
        },
    )
    return data, rows


TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "stores": ("id", "name", "slug", "archived_at", "created_at"),
    "users": ("id", "email", "name", "password_hash", "is_platform_admin", "active",
              "created_at"),
    "memberships": ("id", "user_id", "store_id", "role", "grants", "created_at"),
    "products": ("id", "store_id", "sku", "title", "gtin", "type", "allow_backorder",
                 "reorder_point", "reorder_quantity", "archived_at", "created_at", "updated_at"),
    "locations": ("id", "store_id", "code", "name", "archived_at", "created_at"),
    "inventory_entries": (
        "id", "store_id", "product_id", "location_id", "quantity", "reserved_quantity",
        "incoming_quantity", "low_stock_threshold", "last_counted_at", "last_movement_at",
        "version", "created_at", "updated_at"),
    "stock_movements": (
        "id", "store_id", "entry_id", "product_id", "location_id", "type", "quantity_delta",
        "reserved_delta", "quantity_after", "reserved_after", "reason", "reference",
        "reservation_id", "batch_ref", "actor_id", "actor_name", "created_at"),
    "events": ("id", "store_id", "sequence", "type", "entry_id", "movement_id", "product_id",
               "location_id", "created_at"),
    "event_sequences": ("store_id", "last_sequence"),
}


def _filler(table: Table, given: Sequence[str]) -> tuple[list[str], Callable[[], tuple]]:
    """Columns the seed rows don't name (the schema may grow) get their model defaults."""
    extra: list[tuple[str, Callable[[], Any]]] = []
    for column in table.columns:
        if column.name in given or column.server_default is not None:
            continue
        default = column.default
        if default is not None and getattr(default, "is_callable", False):
            extra.append((column.name, lambda fn=default.arg: fn(None)))
        elif default is not None and getattr(default, "is_scalar", False):
            extra.append((column.name, lambda v=default.arg: v))
        elif column.nullable:
            extra.append((column.name, lambda: None))
        else:
            raise SystemExit(f"bench seed: {table.name}.{column.name} needs a value")
    names = [*given, *(name for name, _fn in extra)]
    fns = [fn for _name, fn in extra]
    return names, lambda: tuple(fn() for fn in fns)


def _sqlite_value(value: Any) -> Any:
    # The storage forms SQLAlchemy's SQLite types use.
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def bulk_load(engine: Engine, rows: dict[str, list[tuple[Any, ...]]],
              tables: dict[str, tuple[str, ...]] = TABLE_COLUMNS) -> None:
    """One transaction; sqlite3 executemany in big batches, or COPY on PostgreSQL.
    `tables` names the tables to load, in order, and the columns the rows give."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for table, given in tables.items():
            columns, fill = _filler(db.metadata.tables[table], given)
            data = [r + fill() for r in rows[table]] if len(columns) > len(given) else rows[table]
            names = ", ".join(columns)
            if sqlite:
                sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
                cursor = raw.cursor()
                for start in range(0, len(data), 20_000):
                    batch = data[start:start + 20_000]
                    cursor.executemany(sql, [tuple(map(_sqlite_value, r)) for r in batch])
                cursor.close()
            else:
                with raw.cursor() as cursor, cursor.copy(
                    f"COPY {table} ({names}) FROM STDIN"
                ) as copy:
                    for r in data:
                        copy.write_row(r)
        if not sqlite:
            # COPY with explicit ids leaves the id sequences behind.
            for table in tables:
                if "id" not in tables[table]:
                    continue  # keyed by another table's id (item_variants)
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
    raw_conn = engine.raw_connection()  # outside any transaction
    try:
        if sqlite:
            raw_conn.driver_connection.execute("ANALYZE")
            raw_conn.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            raw_conn.driver_connection.autocommit = True
            raw_conn.driver_connection.execute("ANALYZE")
            raw_conn.driver_connection.autocommit = False
    finally:
        raw_conn.close()


# ---------------------------------------------------------------------------
# Bare SQL: the same statements the service functions send
# ---------------------------------------------------------------------------

RETURN_ENTRY = (
    "RETURNING id, store_id, product_id, location_id, quantity, reserved_quantity, version"
)
STAMP = "version = version + 1, updated_at = :now, last_movement_at = :now"


def _sql(statement: str, expanding: bool = True) -> Any:
    binds = [bindparam("now", type_=DateTime())]
    if expanding:
        binds.append(bindparam("scope", expanding=True))
    return text(statement).bindparams(*binds)


RESERVE_UPDATE = _sql(
    "UPDATE inventory_entries SET reserved_quantity = reserved_quantity + :qty, "
    f"{STAMP} WHERE id = :id AND store_id IN :scope "
    f"AND quantity - reserved_quantity >= :qty {RETURN_ENTRY}"
)
ADJUST_UPDATE = _sql(
    f"UPDATE inventory_entries SET quantity = quantity + :delta, {STAMP} "
    "WHERE id = :id AND store_id IN :scope AND quantity + :delta >= reserved_quantity "
    f"AND quantity + :delta <= :limit {RETURN_ENTRY}"
)
TRANSFER_OUT_UPDATE = _sql(
    f"UPDATE inventory_entries SET quantity = quantity - :qty, {STAMP} "
    "WHERE id = :id AND store_id IN :scope AND quantity - reserved_quantity >= :qty "
    f"{RETURN_ENTRY}"
)
TRANSFER_IN_UPDATE = _sql(
    f"UPDATE inventory_entries SET quantity = quantity + :qty, {STAMP} "
    f"WHERE id = :id AND store_id IN :scope AND quantity + :qty <= :limit {RETURN_ENTRY}"
)
INSERT_RESERVATION = _sql(
    "INSERT INTO reservations (store_id, entry_id, product_id, location_id, order_ref, "
    "line_ref, quantity, open_quantity, status, expires_at, created_by_id, created_at) "
    "VALUES (:store_id, :entry_id, :product_id, :location_id, :order_ref, NULL, :qty, :qty, "
    "'active', NULL, :actor_id, :now) RETURNING id",
    expanding=False,
)
INSERT_MOVEMENT = _sql(
    "INSERT INTO stock_movements (store_id, entry_id, product_id, location_id, type, "
    "quantity_delta, reserved_delta, quantity_after, reserved_after, reason, reference, "
    "reservation_id, batch_ref, actor_id, actor_name, created_at) VALUES (:store_id, "
    ":entry_id, :product_id, :location_id, :type, :quantity_delta, :reserved_delta, "
    ":quantity_after, :reserved_after, :reason, :reference, :reservation_id, :batch_ref, "
    ":actor_id, :actor_name, :now) RETURNING id",
    expanding=False,
)


# The outbox's part of a stock change, as app.services.events writes it at commit: the
# entries' thresholds and product types (to tell a crossing), the store's numbers, the events.
EVENT_FACTS = text(
    "SELECT e.id, e.low_stock_threshold, p.type, p.allow_backorder FROM inventory_entries e "
    "JOIN products p ON p.id = e.product_id WHERE e.id IN :scope"
).bindparams(bindparam("scope", expanding=True))
TAKE_NUMBERS = text(
    "UPDATE event_sequences SET last_sequence = last_sequence + :n WHERE store_id = :store_id "
    "RETURNING last_sequence"
)
INSERT_EVENT = _sql(
    "INSERT INTO events (store_id, sequence, type, entry_id, movement_id, product_id, "
    "location_id, data, created_at) VALUES (:store_id, :sequence, :type, :entry_id, "
    ":movement_id, :product_id, :location_id, NULL, :now)", expanding=False,
)


def write_events(conn: Any, moved: list[tuple[Any, int]], now: datetime) -> None:
    """One stock.changed per (entry row after, movement id); no crossing in this bench's
    changes of ±1 on stock of 50 or more, but the facts are read as the app reads them."""
    conn.execute(EVENT_FACTS, {"scope": sorted({row.id for row, _ in moved})}).all()
    store_id = moved[0][0].store_id
    last = conn.execute(TAKE_NUMBERS, {"n": len(moved), "store_id": store_id}).scalar_one()
    first = last - len(moved) + 1
    conn.execute(INSERT_EVENT, [
        {"store_id": store_id, "sequence": first + i, "type": "stock.changed",
         "entry_id": row.id, "movement_id": movement_id, "product_id": row.product_id,
         "location_id": row.location_id, "now": now}
        for i, (row, movement_id) in enumerate(moved)
    ])


def _movement(row: Any, actor: Actor, now: datetime, kind: str, dq: int, dr: int,
              reason: str | None, reference: str | None, reservation_id: int | None = None,
              batch_ref: str | None = None) -> dict[str, Any]:
    return {
        "store_id": row.store_id, "entry_id": row.id, "product_id": row.product_id,
        "location_id": row.location_id, "type": kind, "quantity_delta": dq,
        "reserved_delta": dr, "quantity_after": row.quantity,
        "reserved_after": row.reserved_quantity, "reason": reason, "reference": reference,
        "reservation_id": reservation_id, "batch_ref": batch_ref, "actor_id": actor.user_id,
        "actor_name": actor.name, "now": now,
    }


class BareSQL:
    """Each method: one transaction, checked out of the pool like a Session does."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _tx(self, work: Callable[[Any], None]) -> None:
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                work(conn)

    def reserve(self, actor: Actor, scope: list[int], entry_id: int, order_ref: str) -> None:
        def work(conn: Any) -> None:
            now = utcnow()
            row = conn.execute(
                RESERVE_UPDATE, {"qty": 1, "now": now, "id": entry_id, "scope": scope}
            ).one_or_none()
            if row is None:
                raise RuntimeError(f"bare reserve failed on entry {entry_id}")
            reservation_id = conn.execute(INSERT_RESERVATION, {
                "store_id": row.store_id, "entry_id": row.id, "product_id": row.product_id,
                "location_id": row.location_id, "order_ref": order_ref, "qty": 1,
                "actor_id": actor.user_id, "now": now,
            }).scalar_one()
            movement = conn.execute(INSERT_MOVEMENT, _movement(
                row, actor, now, "reserved", 0, 1, None, order_ref, reservation_id
            )).scalar_one()
            write_events(conn, [(row, movement)], now)

        self._tx(work)

    def adjust(self, actor: Actor, scope: list[int], entry_id: int, delta: int) -> None:
        def work(conn: Any) -> None:
            now = utcnow()
            row = conn.execute(ADJUST_UPDATE, {
                "delta": delta, "now": now, "id": entry_id, "scope": scope, "limit": LIMIT,
            }).one_or_none()
            if row is None:
                raise RuntimeError(f"bare adjust failed on entry {entry_id}")
            movement = conn.execute(INSERT_MOVEMENT, _movement(
                row, actor, now, "adjustment", delta, 0, "bench", None
            )).scalar_one()
            write_events(conn, [(row, movement)], now)

        self._tx(work)

    def transfer(self, actor: Actor, scope: list[int], source_id: int, target_id: int) -> None:
        def work(conn: Any) -> None:
            now = utcnow()
            after = {}
            for entry_id in sorted((source_id, target_id)):  # primary-key order
                statement = TRANSFER_OUT_UPDATE if entry_id == source_id else TRANSFER_IN_UPDATE
                row = conn.execute(statement, {
                    "qty": 1, "now": now, "id": entry_id, "scope": scope, "limit": LIMIT,
                }).one_or_none()
                if row is None:
                    raise RuntimeError(f"bare transfer failed on entry {entry_id}")
                after[entry_id] = row
            pair = uuid.uuid4().hex
            out = conn.execute(INSERT_MOVEMENT, _movement(
                after[source_id], actor, now, "transfer_out", -1, 0, None, None, batch_ref=pair
            )).scalar_one()
            into = conn.execute(INSERT_MOVEMENT, _movement(
                after[target_id], actor, now, "transfer_in", 1, 0, None, None, batch_ref=pair
            )).scalar_one()
            write_events(conn, [(after[source_id], out), (after[target_id], into)], now)

        self._tx(work)


# ---------------------------------------------------------------------------
# Operations and timing
# ---------------------------------------------------------------------------


@dataclass
class Op:
    """One operation on chosen entries, runnable through either path."""

    service: Callable[[], Any]
    bare: Callable[[], Any]


def build_ops(kind: str, data: Dataset, actors: dict[int, Actor], bare: BareSQL,
              rng: random.Random, count: int, tag: str) -> list[Op]:
    ops: list[Op] = []
    entries = data.entries
    sources = [ix for ixs in data.siblings.values() for ix in ixs]
    for i in range(count):
        if kind == "transfer_stock":
            index = rng.choice(sources)
        else:
            index = rng.randrange(len(entries))
        entry_id, store_id, product_id, location_id = entries[index]
        actor = actors[store_id]
        scope = [store_id]
        if kind == "reserve_stock":
            ref = f"BENCH-{tag}-{i}"
            ops.append(Op(
                service=lambda a=actor, e=entry_id, r=ref: stock.reserve_stock(
                    actor=a, entry_id=e, quantity=1, order_ref=r),
                bare=lambda a=actor, s=scope, e=entry_id, r=ref: bare.reserve(a, s, e, r),
            ))
        elif kind == "adjust_stock":
            delta = 1 if i % 2 == 0 else -1
            ops.append(Op(
                service=lambda a=actor, e=entry_id, d=delta: stock.adjust_stock(
                    actor=a, entry_id=e, delta=d, reason="bench"),
                bare=lambda a=actor, s=scope, e=entry_id, d=delta: bare.adjust(a, s, e, d),
            ))
        else:
            other = rng.choice([ix for ix in data.siblings[product_id] if ix != index])
            target_id, _s, _p, target_location = entries[other]
            ops.append(Op(
                service=lambda a=actor, p=product_id, f=location_id, t=target_location:
                    stock.transfer_stock(
                        actor=a, product_id=p, from_location_id=f, to_location_id=t,
                        quantity=1),
                bare=lambda a=actor, s=scope, e=entry_id, t=target_id: bare.transfer(
                    a, s, e, t),
            ))
    return ops


def timed(calls: Iterable[Callable[[], Any]], out: list[int]) -> None:
    clock = time.perf_counter_ns
    for call in calls:
        start = clock()
        call()
        out.append(clock() - start)


def summarize(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        rank = max(0, math.ceil(p / 100 * len(ordered)) - 1)
        return ordered[rank] / 1e6

    total_s = sum(ordered) / 1e9
    return {
        "ops": len(ordered),
        "ops_per_s": len(ordered) / total_s,
        "total_s": total_s,
        "p50_ms": pct(50),
        "p95_ms": pct(95),
    }


def measure(kind: str, data: Dataset, actors: dict[int, Actor], bare: BareSQL,
            rng: random.Random, ops: int) -> dict[str, Any]:
    warm = build_ops(kind, data, actors, bare, rng, min(200, max(20, ops // 10)), "warm")
    timed((op.service for op in warm), [])
    timed((op.bare for op in warm), [])
    plan = build_ops(kind, data, actors, bare, rng, ops, "run")
    service: list[int] = []
    bare_ns: list[int] = []
    cpu = {"service": 0, "bare": 0}
    # Alternate blocks so drift (WAL growth, checkpoints, autovacuum) hits both sides alike.
    for start in range(0, ops, BLOCK):
        block = plan[start:start + BLOCK]
        before = time.process_time_ns()
        timed((op.service for op in block), service)
        middle = time.process_time_ns()
        timed((op.bare for op in block), bare_ns)
        cpu["service"] += middle - before
        cpu["bare"] += time.process_time_ns() - middle
    s, b = summarize(service), summarize(bare_ns)
    # This process's CPU per operation: robust to a busy host. On SQLite it includes the
    # database engine's own work; on PostgreSQL only the client side.
    s["cpu_us"] = cpu["service"] / ops / 1e3
    b["cpu_us"] = cpu["bare"] / ops / 1e3
    return {"operation": kind, "service": s, "bare": b, "ratio": s["total_s"] / b["total_s"]}


def profile(kind: str, data: Dataset, actors: dict[int, Actor], bare: BareSQL,
            rng: random.Random, ops: int, backend: str, save: bool) -> str:
    plan = build_ops(kind, data, actors, bare, rng, ops, "prof")
    profiler = cProfile.Profile()
    profiler.enable()
    for op in plan:
        op.service()
    profiler.disable()
    if save:
        RESULTS_DIR.mkdir(exist_ok=True)
        profiler.dump_stats(RESULTS_DIR / f"profile-{backend}-{kind}.prof")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(35)
    return out.getvalue()


def check_ledger(engine: Engine) -> dict[str, int]:
    """Every entry's ledger and open holds must add up to its quantities."""
    with engine.connect() as conn:
        ledger = conn.execute(text(
            "SELECT count(*) FROM inventory_entries e LEFT JOIN (SELECT entry_id, "
            "sum(quantity_delta) AS q, sum(reserved_delta) AS r FROM stock_movements "
            "GROUP BY entry_id) m ON m.entry_id = e.id "
            "WHERE coalesce(m.q, 0) <> e.quantity OR coalesce(m.r, 0) <> e.reserved_quantity"
        )).scalar_one()
        holds = conn.execute(text(
            "SELECT count(*) FROM inventory_entries e LEFT JOIN (SELECT entry_id, "
            "sum(open_quantity) AS o FROM reservations WHERE status = 'active' "
            "GROUP BY entry_id) r ON r.entry_id = e.id "
            "WHERE coalesce(r.o, 0) <> e.reserved_quantity"
        )).scalar_one()
        movements = conn.execute(text("SELECT count(*) FROM stock_movements")).scalar_one()
    return {"ledger_mismatches": ledger, "hold_mismatches": holds, "ledger_rows": movements}


# ---------------------------------------------------------------------------
# One backend
# ---------------------------------------------------------------------------


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


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
    app: Flask = create_app(app_config(url))
    rss_app = peak_rss_mb()  # the interpreter, the app and its libraries, before any data
    with app.app_context():
        started = time.perf_counter()
        db.create_all()
        schema_s = time.perf_counter() - started

        started = time.perf_counter()
        data, rows = plan_dataset(args, rng)
        plan_s = time.perf_counter() - started
        started = time.perf_counter()
        bulk_load(db.engine, rows)
        load_s = time.perf_counter() - started
        del rows
        c = data.counts
        print(
            f"[{backend}] seeded {c['stores']} stores, {c['locations']} locations, "
            f"{c['products']:,} products ({c['physical_products']:,} physical), "
            f"{c['entries']:,} entries + {c['ledger_rows']:,} opening ledger rows: "
            f"load {load_s:.2f} s (generate {plan_s:.2f} s, schema {schema_s:.2f} s)",
            flush=True,
        )

        # The bare engine: a plain create_engine with the app's options and pragmas.
        bare_engine = create_engine(url, **app.config["SQLALCHEMY_ENGINE_OPTIONS"])
        configure_engine(bare_engine, busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"])
        bare = BareSQL(bare_engine)

        actors = {store: actor_for_user(user) for store, user in data.owners.items()}
        for store, actor in actors.items():
            assert not actor.is_platform_admin and actor.can("inventory:adjust", store)
        db.session.rollback()  # end actor_for_user's read transaction, as a request would

        results = []
        load_before = os.getloadavg()[0]
        for kind in OPERATIONS:
            started = time.perf_counter()
            result = measure(kind, data, actors, bare, rng, args.ops)
            results.append(result)
            print(f"[{backend}] {kind}: ratio {result['ratio']:.2f} "
                  f"({time.perf_counter() - started:.1f} s)", flush=True)

        profiles = {}
        if args.profile:
            for kind in OPERATIONS:
                profiles[kind] = profile(kind, data, actors, bare, rng, args.ops, backend,
                                         not args.no_save)

        check = check_ledger(bare_engine)
        bare_engine.dispose()
        db.session.remove()
        db.engine.dispose()

    report = {
        "backend": backend,
        "server": _server_version(url),
        "when": datetime.now().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "entries": args.entries,
        "ops": args.ops,
        "counts": data.counts,
        "seed_s": {"schema": schema_s, "generate": plan_s, "load": load_s},
        "results": results,
        "check": check,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_app_mb": rss_app,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    print()
    print(format_report(report))
    for kind, text_ in profiles.items():
        print(f"\n--- cProfile: {kind} ({backend}, {args.ops} calls) ---\n{text_}")
    if not args.no_save:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = RESULTS_DIR / f"bench-{backend}-{stamp}.json"
        path.write_text(json.dumps(report, indent=2))
        print(f"saved {path.relative_to(BENCH_DIR.parent)}")
    return report


def _server_version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return "SQLite " + conn.exec_driver_sql("SELECT sqlite_version()").scalar_one()
            return "PostgreSQL " + str(conn.exec_driver_sql("SHOW server_version").scalar_one())
    finally:
        engine.dispose()


def format_report(report: dict[str, Any]) -> str:
    header = (
        f"{'operation':<16}{'service ops/s':>14}{'bare ops/s':>12}{'ratio':>8}"
        f"{'svc p50 ms':>12}{'svc p95 ms':>12}{'bare p50 ms':>13}{'bare p95 ms':>13}"
        f"{'CPU us svc/bare':>17}"
    )
    lines = [
        f"== {report['server']}: {report['counts']['entries']:,} entries, "
        f"{report['ops']:,} ops per operation, single thread ==",
        header,
        "-" * len(header),
    ]
    for r in report["results"]:
        s, b = r["service"], r["bare"]
        flag = " !" if r["ratio"] > 2 else ""
        lines.append(
            f"{r['operation']:<16}{s['ops_per_s']:>14,.0f}{b['ops_per_s']:>12,.0f}"
            f"{r['ratio']:>8.2f}{s['p50_ms']:>12.3f}{s['p95_ms']:>12.3f}"
            f"{b['p50_ms']:>13.3f}{b['p95_ms']:>13.3f}"
            f"{s['cpu_us']:>11.0f}/{b['cpu_us']:<5.0f}{flag}"
        )
    seed = report["seed_s"]
    check = report["check"]
    ok = "consistent" if not (check["ledger_mismatches"] or check["hold_mismatches"]) else (
        f"MISMATCH ({check['ledger_mismatches']} ledger, {check['hold_mismatches']} holds)"
    )
    lines += [
        f"seed: load {seed['load']:.2f} s, generate {seed['generate']:.2f} s, "
        f"schema {seed['schema']:.2f} s",
        f"ledger after run: {check['ledger_rows']:,} rows, {ok}",
        f"peak RSS: {report['peak_rss_mb']:.0f} MB ({report['rss_after_app_mb']:.0f} MB "
        "after create_app, before any data)",
        f"host load average "
        f"{report['load_before']:.1f} before, {report['load_after']:.1f} after "
        f"({report['cpus']} CPUs)",
        "ratio = service time / bare SQL time (target <= 2; '!' marks rows above it)",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def child_argv(args: argparse.Namespace, backend: str) -> list[str]:
    argv = [
        sys.executable, str(Path(__file__).resolve()), "--in-process", "--backend", backend,
        "--entries", str(args.entries), "--ops", str(args.ops), "--stores", str(args.stores),
        "--products", str(args.products), "--seed", str(args.seed),
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
    # One process per backend, so each peak RSS is its own.
    status = 0
    for backend in BACKENDS:
        status = max(status, subprocess.run(child_argv(args, backend)).returncode)
        print()
    return status


if __name__ == "__main__":
    sys.exit(main())
