"""Several gunicorn workers, one database, 32 clients on a few hot entries.

The production command (gunicorn.conf.py, `flask db upgrade` first, a real SECRET_KEY, small
per-worker pools, Redis for rate limits when one answers) serves a fresh database: 4
workers on PostgreSQL, 2 on SQLite. Each client signs in over HTTP with the CSRF token of
the sign-in page, then reserves, adjusts and transfers through the browser's endpoints
(plain form posts and htmx) and through the JSON API with a token, some requests sent twice
with the same idempotency key. Afterwards: no 5xx, every accepted change applied exactly
once, nothing oversold, the CHECK constraints held, and `flask inventory verify` is clean.
"""

from __future__ import annotations

import html
import random
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from argon2 import PasswordHasher
from sqlalchemy import func, select, text

from app import create_app
from app.extensions import db
from app.models import InventoryEntry, StockMovement
from app.permissions import ADJUST, RESERVE, system_actor
from app.services import catalog, stock, stores
from app.services.people import accounts, credentials, tokens

from .server import Gunicorn, process_alive, run_flask

WORKERS = {"postgresql": 4, "sqlite": 2}
CLIENTS = 32
OPERATIONS = 25  # per client, after signing in
START = 40  # on hand of each hot entry: far less than the clients try to reserve
DEADLINE = 180.0  # seconds for the whole load: a bound so CI never hangs, not a timing test
PASSWORD = "race-password-2026"

pytestmark = pytest.mark.slow
LOCATIONS = ("HOT_A", "HOT_B")


@dataclass(frozen=True)
class Scene:
    store_id: int
    location_ids: dict[str, int]  # code -> id
    entries: dict[tuple[int, str], int]  # (product id, location code) -> entry id
    users: list[tuple[str, str]]  # (email, API token)

    def entry(self, product_id: int, code: str) -> int:
        return self.entries[(product_id, code)]

    @property
    def product_ids(self) -> list[int]:
        return sorted({p for p, _ in self.entries})


@dataclass
class Outcome:
    """One request a client sent and what came back (status 0: no response at all)."""

    kind: str  # sign-in, dialog, reserve, adjust, transfer
    channel: str  # form, htmx, api, page
    key: str
    entry_id: int
    quantity: int
    status: int
    to_entry_id: int | None = None
    repeat: bool = False
    detail: str = ""

    @property
    def accepted(self) -> bool:
        if self.channel == "form":
            return self.status == 303
        return self.status == 200


def _app(database_url: str) -> Any:
    return create_app({
        "TESTING": True, "SECRET_KEY": "seed", "SQLALCHEMY_DATABASE_URI": database_url,
        "RATELIMIT_ENABLED": False, "DB_POOL_SIZE": 2, "DB_MAX_OVERFLOW": 0,
    })


def seed(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Scene:
    """One store, two products at two locations (four hot entries), four users with tokens.
    Passwords get a cheap Argon2 hash: verification takes the hash's own parameters, and the
    production cost would make 32 sign-ins the slowest part of the test."""
    fast = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(credentials, "_hasher", fast)
    application = _app(database_url)
    seeder = system_actor("race-seed")
    with application.app_context():
        store = stores.create_store(actor=seeder, name="Race Store", slug="race-store")
        store_id = store.id
        location_ids = {
            code: stores.create_location(actor=seeder, store_id=store_id, code=code).id
            for code in LOCATIONS
        }
        entries = {}
        for n in (1, 2):
            product = catalog.create_product(
                actor=seeder, store_id=store_id, sku=f"HOT-{n}", title=f"Hot item {n}"
            )
            for code, location_id in location_ids.items():
                change = stock.create_entry(
                    actor=seeder, product_id=product.id, location_id=location_id,
                    quantity=START,
                )
                entries[(product.id, code)] = change.entry.id
        users = []
        for n, (role, grants) in enumerate(
            [("owner", ()), ("admin", ()), ("staff", (ADJUST, RESERVE)),
             ("staff", (ADJUST, RESERVE))]
        ):
            email = f"racer{n}@stockroom.test"
            user = accounts.create_user(
                email=email, name=f"Racer {n}", password=PASSWORD, store_slug="race-store",
                role=role, grants=grants,
            )
            users.append((email, tokens.create_token(user_id=user.id, name="race")[1]))
        db.session.remove()
        db.engine.dispose()
    return Scene(store_id, location_ids, entries, users)


# --------------------------------------------------------------------------- one client


def form_value(body: str, name: str) -> str:
    for tag in re.findall(r"<input\b[^>]*>", body):
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            value = re.search(r'\bvalue="([^"]*)"', tag)
            return html.unescape(value.group(1)) if value else ""
    raise AssertionError(f"no input named {name!r} in: {body[:300]}")


class Client:
    """A person at a browser (session cookie, CSRF token) who also holds an API token."""

    def __init__(self, number: int, base: str, scene: Scene, deadline: float) -> None:
        self.number = number
        self.base = base
        self.scene = scene
        self.deadline = deadline
        self.random = random.Random(number)
        self.email, self.token = scene.users[number % len(scene.users)]
        self.http = requests.Session()
        self.csrf = ""
        self.outcomes: list[Outcome] = []
        self.crashed = ""

    def run(self) -> None:
        try:
            if self.sign_in():
                for _ in range(OPERATIONS):
                    if time.monotonic() > self.deadline:
                        self.crashed = "deadline reached"
                        break
                    self.operation()
        except Exception as exc:  # reported by the test, never swallowed
            self.crashed = f"{exc.__class__.__name__}: {exc}"
        finally:
            self.http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        try:
            return self.http.request(method, self.base + path, timeout=30,
                                     allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            self.crashed = self.crashed or f"{exc.__class__.__name__}: {exc}"
            return None

    def _record(self, outcome: Outcome, response: requests.Response | None) -> Outcome:
        outcome.status = response.status_code if response is not None else 0
        if response is not None and not (outcome.accepted or response.status_code == 409):
            outcome.detail = response.text[:300]
        self.outcomes.append(outcome)
        return outcome

    def sign_in(self) -> bool:
        page = self._send("GET", "/sign-in")
        self._record(Outcome("sign-in", "page", "", 0, 0, 0), page)
        if page is None or page.status_code != 200:
            return False
        response = self._send("POST", "/sign-in", data={
            "email": self.email, "password": PASSWORD, "next": "",
            "csrf_token": form_value(page.text, "csrf_token"),
        })
        signed = self._record(Outcome("sign-in", "form", "", 0, 0, 0), response)
        if response is None or not signed.accepted \
                or "/sign-in" in response.headers.get("Location", ""):
            return False
        # The session is new after signing in; its token comes with the first dialog.
        first = self.scene.entry(self.scene.product_ids[0], LOCATIONS[0])
        dialog = self._send("GET", f"/inventory/entries/{first}/reserve",
                            headers={"HX-Request": "true"})
        self._record(Outcome("dialog", "htmx", "", first, 0, 0), dialog)
        if dialog is None or dialog.status_code != 200:
            return False
        self.csrf = form_value(dialog.text, "csrf_token")
        return True

    def operation(self) -> None:
        pick = self.random.random()
        kind = "reserve" if pick < 0.55 else "adjust" if pick < 0.75 else "transfer"
        channel = self.random.choice(("form", "htmx", "api"))
        product = self.random.choice(self.scene.product_ids)
        here, there = self.random.sample(LOCATIONS, 2)
        entry_id = self.scene.entry(product, here)
        key = uuid.uuid4().hex
        if kind == "reserve":
            quantity = self.random.randint(1, 3)
            outcome = Outcome("reserve", channel, key, entry_id, quantity, 0)
            form = {"quantity": str(quantity), "order_ref": f"RACE-{self.number}"}
            api = ("/reserve", {"entry_id": entry_id, "quantity": quantity,
                                "order_ref": f"RACE-{self.number}"})
        elif kind == "adjust":
            quantity = self.random.choice((-3, -2, -1, 1, 2, 3))
            outcome = Outcome("adjust", channel, key, entry_id, quantity, 0)
            form = {"delta": str(quantity), "reason": "Race count"}
            api = ("/adjust", {"entry_id": entry_id, "quantity": quantity,
                               "reason": "Race count"})
        else:
            quantity = self.random.randint(1, 3)
            outcome = Outcome("transfer", channel, key, entry_id, quantity, 0,
                              to_entry_id=self.scene.entry(product, there))
            form = {"to_location_id": str(self.scene.location_ids[there]),
                    "quantity": str(quantity)}
            api = ("/transfer", {"product_id": product, "from_location": here,
                                 "to_location": there, "quantity": quantity})
        # Now and then the same request twice, as a double click or a client's retry.
        repeats = 2 if self.random.random() < 0.15 else 1
        for n in range(repeats):
            sent = Outcome(**{**outcome.__dict__, "repeat": n > 0})
            if channel == "api":
                response = self._send(
                    "POST", f"/api/v1/store/inventory{api[0]}", json=api[1],
                    headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key},
                )
            else:
                data = {"idempotency_key": key, "next": "", **form}
                headers = {}
                if channel == "htmx":  # htmx sends the token in a header (base.html)
                    headers = {"HX-Request": "true", "X-CSRFToken": self.csrf}
                else:
                    data["csrf_token"] = self.csrf
                response = self._send("POST", f"/inventory/entries/{entry_id}/{kind}",
                                      data=data, headers=headers)
                if (response is not None and response.status_code == 303
                        and "/sign-in" in response.headers.get("Location", "")):
                    sent.detail = "sent to sign in: the session did not hold across workers"
                    response.status_code = 401
            self._record(sent, response)


# --------------------------------------------------------------------------- the test


@pytest.fixture
def served(
    backend: str, gunicorn_installed: None, migrated: dict[str, str], database_url: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Gunicorn, Scene]]:
    scene = seed(database_url, monkeypatch)
    server = Gunicorn(env=migrated, workers=WORKERS[backend], logs=tmp_path / "logs")
    try:
        server.start()
        yield server, scene
    finally:
        server.stop()


def test_workers_share_the_stock_without_overselling(
    backend: str, served: tuple[Gunicorn, Scene], migrated: dict[str, str], database_url: str,
) -> None:
    server, scene = served
    began = time.monotonic()
    clients = [Client(n, server.url, scene, began + DEADLINE) for n in range(CLIENTS)]
    threads = [threading.Thread(target=c.run, name=f"client-{c.number}") for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE + 60)
    load_seconds = time.monotonic() - began
    master = server.process.pid if server.process else None
    server.stop()
    # What the server logged for the clients (the readiness probes aside).
    served_by = [(pid, status) for pid, status, path in server.access_lines()
                 if path != "/healthz"]

    try:
        _check_the_run(backend, server, scene, clients, served_by, database_url, migrated)
    except AssertionError:
        print(f"--- gunicorn stderr ({backend}) ---\n{server.stderr()[-20000:]}")
        raise
    finally:
        outcomes = [o for c in clients for o in c.outcomes]
        print(
            f"\n{backend}: {WORKERS[backend]} workers, {CLIENTS} clients, {len(outcomes)} "
            f"requests in {load_seconds:.1f} s (server ready in {server.started_in:.1f} s); "
            f"statuses {dict(sorted(Counter(o.status for o in outcomes).items()))}; "
            f"requests per worker {sorted(Counter(p for p, _ in served_by).values())}"
        )
    assert master is not None and not process_alive(master)
    assert all(not process_alive(pid) for pid in {p for p, _ in served_by}), "a worker outlived"


def _check_the_run(
    backend: str, server: Gunicorn, scene: Scene, clients: list[Client],
    served_by: list[tuple[int, int]], database_url: str, env: dict[str, str],
) -> None:
    assert all(not t.is_alive() for t in threading.enumerate() if t.name.startswith("client-"))
    crashed = {c.number: c.crashed for c in clients if c.crashed}
    assert not crashed, crashed
    outcomes = [o for c in clients for o in c.outcomes]
    statuses = Counter(o.status for o in outcomes)
    server_errors = [o for o in outcomes if o.status >= 500 or o.status == 0]
    assert not server_errors, server_errors[:5]
    # Every answer is an accepted change or a 409 for stock that is not there; anything
    # else (400 CSRF, 401/403, 422, 429) means a client or the server got something wrong.
    unexpected = [o for o in outcomes if not o.accepted and o.status != 409]
    assert not unexpected, unexpected[:5]
    assert sum(1 for o in outcomes if o.kind == "sign-in" and o.channel == "form") == CLIENTS
    operations = [o for o in outcomes if o.kind in ("reserve", "adjust", "transfer")]
    assert len({o.key for o in operations}) == CLIENTS * OPERATIONS

    # The server saw what the clients sent, spread over more than one process, no 5xx.
    assert len(served_by) == len(outcomes), (len(served_by), len(outcomes))
    assert not [s for _, s in served_by if s >= 500]
    assert len({pid for pid, _ in served_by}) >= 2, Counter(p for p, _ in served_by)

    # A key counts once however often it was sent; repeats of an accepted change are
    # accepted again (replayed), never applied twice.
    by_key: dict[str, list[Outcome]] = defaultdict(list)
    for o in operations:
        by_key[o.key].append(o)
    applied = [next(o for o in sent if o.accepted) for sent in by_key.values()
               if any(o.accepted for o in sent)]
    for sent in by_key.values():
        if sent[0].accepted:
            assert all(o.accepted for o in sent), sent
    assert Counter(o.channel for o in applied).keys() == {"form", "htmx", "api"}
    assert {o.kind for o in applied} == {"reserve", "adjust", "transfer"}
    refused = [o for o in operations if o.kind == "reserve" and o.status == 409]
    assert refused, "stock never ran out: the race proved nothing about overselling"
    assert statuses[409] > 0

    expected = {entry_id: [START, 0] for entry_id in scene.entries.values()}
    granted: Counter[int] = Counter()
    for o in applied:
        if o.kind == "reserve":
            expected[o.entry_id][1] += o.quantity
            granted[o.entry_id] += o.quantity
        elif o.kind == "adjust":
            expected[o.entry_id][0] += o.quantity
        else:
            assert o.to_entry_id is not None
            expected[o.entry_id][0] -= o.quantity
            expected[o.to_entry_id][0] += o.quantity

    application = _app(database_url)
    with application.app_context():
        final = {
            e.id: [e.quantity, e.reserved_quantity]
            for e in db.session.scalars(select(InventoryEntry))
        }
        # Exactly the accepted changes, each once: nothing lost, nothing doubled.
        assert final == expected
        for entry_id, (on_hand, reserved) in final.items():
            # 0 oversell: what was granted is held, and never more than is on hand.
            assert granted[entry_id] == reserved <= on_hand, (entry_id, on_hand, reserved)
        reserved_rows = db.session.execute(
            select(StockMovement.entry_id, func.count(), func.sum(StockMovement.reserved_delta))
            .where(StockMovement.type == "reserved").group_by(StockMovement.entry_id)
        ).all()
        reserves_applied = Counter(o.entry_id for o in applied if o.kind == "reserve")
        assert {r[0]: (r[1], r[2]) for r in reserved_rows} == {
            e: (reserves_applied[e], granted[e]) for e in granted
        }
        # The CHECK constraints held on every row, and on every row the ledger wrote.
        broken = db.session.scalar(text(
            "SELECT count(*) FROM inventory_entries WHERE quantity < 0 OR reserved_quantity < 0"
            " OR reserved_quantity > quantity"
        ))
        broken_ledger = db.session.scalar(text(
            "SELECT count(*) FROM stock_movements WHERE quantity_after < 0"
            " OR reserved_after < 0 OR reserved_after > quantity_after"
        ))
        assert (broken, broken_ledger) == (0, 0)
        db.session.remove()
        db.engine.dispose()

    verify = run_flask(env, "inventory", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"Checked {len(scene.entries)} entries: 0 mismatches" in verify.stdout
