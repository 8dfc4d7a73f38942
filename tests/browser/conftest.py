"""The browser tier: Playwright driving Debian's Chromium against the app on a live server.

Each test gets its own copy of a SQLite file seeded with a small store, the app on a
werkzeug server thread with CSRF protection on (the real thing), and a fresh browser
context. Every console error, uncaught exception and Content-Security-Policy violation on
any page of the test fails it, unless the test announced it (`page_problems.expect`).

Every test here skips, saying why, when Chromium ($STOCKROOM_CHROMIUM, default
/usr/bin/chromium) or the playwright package is missing; with STOCKROOM_REQUIRE_BROWSER=1
(CI) that is a failure instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from live_app import LiveServer, chromium_path, launch_chromium

from app import create_app
from app.database import write_transaction
from app.extensions import db
from app.models import Item, ItemVariant, Location, Membership, Product, Store, User
from app.permissions import ADJUST, Actor, system_actor
from app.services import audit, stock
from app.services.people.credentials import hash_password

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright

HERE = Path(__file__).resolve().parent
REQUIRE_BROWSER = os.environ.get("STOCKROOM_REQUIRE_BROWSER") == "1"
PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 5_000


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not importable ({exc}); pip install -e '.[test]' installs it"
    path = chromium_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        return (
            f"no Chromium at {path}; install Debian's chromium package or point "
            "STOCKROOM_CHROMIUM at a Chromium binary"
        )
    return None


UNAVAILABLE = _unavailable()
if UNAVAILABLE and REQUIRE_BROWSER and "playwright" in UNAVAILABLE:
    # The test modules cannot even be imported: stop here, loudly, rather than skip.
    raise pytest.UsageError(f"STOCKROOM_REQUIRE_BROWSER=1 but {UNAVAILABLE}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this directory's tests when there is no browser to drive (outside CI)."""
    if not UNAVAILABLE or REQUIRE_BROWSER:
        return
    skip = pytest.mark.skip(
        reason=f"browser tests skipped: {UNAVAILABLE} (STOCKROOM_REQUIRE_BROWSER=1 makes this fail)"
    )
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(skip)


# Reports every CSP violation on the console, including ones Chromium would only count.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("CSP violation: " + e.violatedDirective + " blocked " +
                (e.blockedURI || "inline code") + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


@pytest.fixture
def backend() -> str:
    """The browser tier drives the app on SQLite; the service tier covers PostgreSQL."""
    return "sqlite"


# --------------------------------------------------------------------------- seeded store


@dataclass(frozen=True)
class Shop:
    """The small store every browser test starts from."""

    store_id: int
    entries: dict[str, int]
    owner: str
    clerk: str  # staff with inventory:adjust
    viewer: str  # staff with no grants: read-only
    password: str = PASSWORD


@dataclass(frozen=True)
class SeededFile:
    path: Path
    shop: Shop


def _seed(path: Path) -> Shop:
    """One store, three locations, products in every status (one digital), 29 entries so
    the overview has a second page at 25 rows, and three users. Built through the service
    layer, so every entry's ledger is consistent."""
    application = create_app(
        {"TESTING": True, "SECRET_KEY": "seed", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}
    )
    actor = system_actor("browser-tests")
    with application.app_context():
        db.create_all()
        store = Store(name="Harbour Street", slug="harbour-street")
        db.session.add(store)
        db.session.flush()
        places = {code: Location(store_id=store.id, code=code)
                  for code in ("WAREHOUSE_A", "SHELF_B", "BACKROOM")}
        goods = {
            "mug": Product(store_id=store.id, sku="MUG-BLU", title="Blue Mug",
                           gtin="4006381333931"),
            "teapot": Product(store_id=store.id, sku="POT-RED", title="Red Teapot"),
            "vase": Product(store_id=store.id, sku="VAS-GRN", title="Green Vase",
                            allow_backorder=True),
            "towel": Product(store_id=store.id, sku="TWL-LIN", title="Linen Towel"),
            "gift": Product(store_id=store.id, sku="GIFT-25", title="Gift Card", type="digital"),
        }
        for n in range(1, 25):
            goods[f"spoon_{n:02d}"] = Product(
                store_id=store.id, sku=f"SPN-{n:02d}", title=f"Spoon {n:02d}"
            )
        hashed = hash_password(PASSWORD)
        people = {
            "owner": (User(email="owner@harbour.test", name="Olive Owner",
                           password_hash=hashed), "owner", []),
            "clerk": (User(email="clerk@harbour.test", name="Cleo Clerk",
                           password_hash=hashed), "staff", [ADJUST]),
            "viewer": (User(email="viewer@harbour.test", name="Vic Viewer",
                            password_hash=hashed), "staff", []),
        }
        db.session.add_all([*places.values(), *goods.values()])
        db.session.add_all(user for user, _, _ in people.values())
        db.session.flush()
        db.session.add_all(
            Membership(user_id=user.id, store_id=store.id, role=role, grants=grants)
            for user, role, grants in people.values()
        )
        # Each product the single variant of an item of its own, as the catalog makes it.
        for product in goods.values():
            item = Item(store_id=store.id, title=product.title, status="active")
            db.session.add(item)
            db.session.flush()
            db.session.add(ItemVariant(product_id=product.id, store_id=store.id,
                                       item_id=item.id))
        db.session.commit()

        def stocked(product: str, where: str, quantity: int, threshold: int = 0) -> int:
            return stock.create_entry(
                actor=actor, product_id=goods[product].id, location_id=places[where].id,
                quantity=quantity, low_stock_threshold=threshold,
            ).entry.id

        entries = {
            "mug_warehouse": stocked("mug", "WAREHOUSE_A", 10, threshold=5),  # in stock
            "mug_shelf": stocked("mug", "SHELF_B", 3, threshold=5),  # low stock
            "teapot": stocked("teapot", "WAREHOUSE_A", 0),  # out of stock
            "vase": stocked("vase", "WAREHOUSE_A", 0),  # on backorder
            "towel": stocked("towel", "SHELF_B", 12),  # 4 of them reserved below
        }
        stock.reserve_stock(
            actor=actor, entry_id=entries["towel"], quantity=4, order_ref="ORD-1001"
        )
        for n in range(1, 25):
            entries[f"spoon_{n:02d}"] = stocked(f"spoon_{n:02d}", "BACKROOM", 100 + n)
        # A little of the audit trail, so the Activity screen and the entry's and product's
        # changes have something to show.
        owner_actor = Actor(name=people["owner"][0].email, user_id=people["owner"][0].id)
        mug = goods["mug"]
        with write_transaction() as session:
            audit.record(session, owner_actor, "product.updated", "product", mug.id,
                         f"{mug.sku} — {mug.title}", store_id=store.id, product_id=mug.id,
                         changes={"reorder_point": (0, 6), "reorder_quantity": (0, 24)})
            audit.record(session, owner_actor, "entry.threshold_set", "entry",
                         entries["mug_shelf"], "MUG-BLU at SHELF_B", store_id=store.id,
                         product_id=mug.id, changes={"low_stock_threshold": (2, 5)})
            audit.record(session, owner_actor, "member.added", "member",
                         people["viewer"][0].id, people["viewer"][0].email,
                         store_id=store.id, changes={"role": (None, "staff")})
        shop = Shop(
            store_id=store.id,
            entries=entries,
            owner=people["owner"][0].email,
            clerk=people["clerk"][0].email,
            viewer=people["viewer"][0].email,
        )
        db.session.remove()
        db.engine.dispose()  # the last connection closing folds the WAL into the file
    return shop


@pytest.fixture(scope="session")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> SeededFile:
    """The seeded store, built once per run (password hashing is slow on purpose)."""
    path = tmp_path_factory.mktemp("browser") / "shop.sqlite"
    return SeededFile(path, _seed(path))


@pytest.fixture(scope="session")
def sqlite_template(seeded_file: SeededFile) -> Path:
    """Here the file every test's `app` copies holds the seeded store, not just the schema."""
    return seeded_file.path


@pytest.fixture
def shop(app: Flask, seeded_file: SeededFile) -> Shop:
    """The seeded store in this test's own copy of the database."""
    return seeded_file.shop


@pytest.fixture
def live_server(app: Flask, shop: Shop) -> Iterator[LiveServer]:
    """The app on a free port with CSRF protection on, as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    db.session.remove()  # the server's requests use their own sessions
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    if UNAVAILABLE:
        pytest.fail(f"STOCKROOM_REQUIRE_BROWSER=1 but {UNAVAILABLE}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    instance = launch_chromium(playwright_driver)
    try:
        yield instance
    finally:
        instance.close()


@dataclass
class PageProblems:
    """Console errors, uncaught exceptions and CSP violations seen on a test's pages."""

    seen: list[str] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        self.pages.append(page)
        page.on("console", lambda msg: self._console(page, msg))
        page.on("pageerror", lambda exc: self.seen.append(f"{page.url}: uncaught {exc}"))

    def expect(self, text: str) -> None:
        """Allow one console error containing `text` (e.g. the 403 a test provokes)."""
        self.expected.append(text)

    def _console(self, page: Page, msg: ConsoleMessage) -> None:
        if msg.type not in ("error", "assert"):
            return
        for n, text in enumerate(self.expected):
            if text in msg.text:
                del self.expected[n]
                return
        self.seen.append(f"{page.url}: console {msg.type}: {msg.text}")

    def collect(self) -> list[str]:
        from playwright.sync_api import Error as PlaywrightError

        for page in self.pages:
            if not page.is_closed():
                try:
                    page.evaluate("0")  # let pending console events arrive
                except PlaywrightError:
                    pass
        return list(self.seen)


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail the test itself (not its teardown) when a page logged an error."""
    result = yield
    problems = getattr(item, "funcargs", {}).get("page_problems")
    if isinstance(problems, PageProblems):
        seen = problems.collect()
        if seen:
            raise AssertionError("the browser reported problems:\n  " + "\n  ".join(seen))
    return result


@pytest.fixture
def new_context(
    browser: Browser, live_server: LiveServer, page_problems: PageProblems
) -> Iterator[Callable[..., BrowserContext]]:
    """Open a browser context on the live server; every page in it is watched."""
    opened: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(CSP_WATCH)
        context.on("page", page_problems.watch)
        opened.append(context)
        return context

    yield make
    for context in opened:
        context.close()


@pytest.fixture
def context(new_context: Callable[..., BrowserContext]) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def sign_in(shop: Shop) -> Callable[..., None]:
    """Sign `email` in through the form and wait for the overview."""

    from playwright.sync_api import expect

    def do(page: Page, email: str, password: str = PASSWORD) -> None:
        page.goto("/sign-in")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Inventory", level=1)).to_be_visible()

    return do
