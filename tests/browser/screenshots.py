"""Take the README screenshots from the running app with the demo data set.

    .venv/bin/python tests/browser/screenshots.py [--database-url URL] [--out DIR]

Without --database-url (or $DATABASE_URL) it builds a temporary SQLite database with
`flask db upgrade` and `flask seed-demo`, run through the app's own CLI runner; a database
given by URL is used as it is, and must already hold the demo data. The app is served on a
free local port, Debian's Chromium ($STOCKROOM_CHROMIUM) signs in as the demo owner, and
1400×900 PNGs are written, overview.png, adjust-dialog.png, activity.png, a purchase
order, purchase-order.png, a sheet of labels, labels.png, the reorder suggestions,
reorder.png, the stock value, valuation.png, and the stock alerts, alerts.png; and
390×844 phone ones, overview-phone.png and receiving-phone.png (an order received in part
by scanning) (default: docs/screenshots/).

Not a test module: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from flask import Flask

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

from live_app import LiveServer, launch_chromium  # noqa: E402

from app import create_app  # noqa: E402
from app.demo import DEMO_PASSWORD  # noqa: E402

OWNER = "owner@stockroom.test"
VIEWPORT = {"width": 1400, "height": 900}


def build_app(database_url: str) -> Flask:
    for prefix in ("postgres://", "postgresql://"):  # as app/config.py reads $DATABASE_URL
        if database_url.startswith(prefix):
            database_url = "postgresql+psycopg://" + database_url[len(prefix):]
    return create_app({
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": os.urandom(16).hex(),
        "SESSION_COOKIE_SECURE": False,  # served over plain HTTP on 127.0.0.1
    })


def seeded_sqlite(folder: Path) -> Flask:
    """A fresh SQLite file, migrated and filled by the app's own commands."""
    app = build_app(f"sqlite:///{folder / 'demo.sqlite'}")
    runner = app.test_cli_runner()
    for args in (["db", "upgrade"], ["seed-demo"]):
        result = runner.invoke(args=args)
        if result.exit_code != 0:
            raise SystemExit(f"flask {' '.join(args)} failed:\n{result.output}{result.exception}")
    return app


def take(base_url: str, out: Path) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    overview, dialog_png = out / "overview.png", out / "adjust-dialog.png"
    phone_png, labels_png = out / "overview-phone.png", out / "labels.png"
    activity_png, order_png = out / "activity.png", out / "purchase-order.png"
    reorder_png, value_png = out / "reorder.png", out / "valuation.png"
    alerts_png, receiving_png = out / "alerts.png", out / "receiving-phone.png"
    with sync_playwright() as driver:
        browser = launch_chromium(driver)
        try:
            context = browser.new_context(
                base_url=base_url, viewport=VIEWPORT, color_scheme="light"
            )
            page = context.new_page()
            page.goto("/sign-in")
            page.get_by_label("Email").fill(OWNER)
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", name="Inventory", level=1)).to_be_visible()
            page.mouse.move(0, 0)
            page.screenshot(path=overview)

            # A row with some units reserved shows every number the dialog explains.
            rows = page.locator("#results tbody tr")
            reserved = page.locator("#results tbody tr td:nth-child(4)").all_text_contents()
            index = next((i for i, v in enumerate(reserved) if v.strip() not in ("0", "")), 0)
            rows.nth(index).get_by_role("link", name="Adjust", exact=False).first.click()
            dialog = page.locator("dialog[open]")
            expect(dialog).to_be_visible()
            change = dialog.get_by_label("Change (+ adds, − removes)")
            expect(change).to_be_focused()
            dialog.get_by_label("Reason", exact=True).fill("Delivery from supplier")
            dialog.get_by_label("Reference (optional)").fill("PO-1042")
            change.fill("+12")  # last, so the focus ring is where the dialog put it
            page.screenshot(path=dialog_png)

            # A sheet of the first store's locations: what goes on the shelves to scan.
            page.keyboard.press("Escape")
            page.goto("/catalog/locations")
            page.locator(".store-choices a").first.click()
            page.get_by_role("link", name="Print location labels").click()
            expect(page.get_by_role("heading", name="Labels", level=1)).to_be_visible()
            page.screenshot(path=labels_png, clip={"x": 0, "y": 0, "width": 1100, "height": 420})

            # Who changed what in the owner's stores: thresholds set, a member added.
            page.goto("/activity")
            expect(page.get_by_role("heading", name="Activity", level=1)).to_be_visible()
            page.mouse.move(0, 0)
            page.screenshot(path=activity_png)

            # A purchase order partly received, in another currency than the store's: what
            # each line has received and still awaits, and the total at its rate.
            page.goto("/purchasing/orders")
            page.locator(".store-choices").get_by_role("link", name="Northwind Outfitters").click()
            page.get_by_label("Status").select_option("partially_received")
            first = page.locator("#orders tbody tr").first
            expect(first.locator(".po-status")).to_have_text("Partly received")
            first.locator("a.po-number").click()
            expect(page.locator(".po-status")).to_have_text("Partly received")
            page.mouse.move(0, 0)
            page.screenshot(path=order_png)

            # What to reorder per location, net of what is coming, by supplier.
            page.goto("/reports/reorder")
            page.get_by_label("Store", exact=True).select_option(label="Northwind Outfitters")
            page.wait_for_url("**store=*")
            expect(page.locator("h1")).to_be_visible()
            page.mouse.move(0, 0)
            page.screenshot(path=reorder_png)

            # What the stock is worth, per location, at average cost.
            page.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Stock value").click()
            expect(page.locator("h1")).to_contain_text("Stock value")
            page.mouse.move(0, 0)
            page.screenshot(path=value_png)

            # The bell: the scene's crossings into low and out of stock.
            page.locator("#bell").click()
            expect(page.get_by_role("heading", name="Stock alerts", level=1)).to_be_visible()
            page.mouse.move(0, 0)
            page.screenshot(path=alerts_png)

            phone = browser.new_context(
                base_url=base_url, viewport={"width": 390, "height": 844}, is_mobile=True,
                has_touch=True, color_scheme="light",
            ).new_page()
            phone.goto("/sign-in")
            phone.get_by_label("Email").fill(OWNER)
            phone.get_by_label("Password").fill(DEMO_PASSWORD)
            phone.get_by_role("button", name="Sign in").click()
            expect(phone.get_by_role("heading", name="Inventory", level=1)).to_be_visible()
            phone.screenshot(path=phone_png)

            # Receiving an open order on the phone: its first line scanned twice, the way a
            # scanner types (keys a few ms apart, then Enter).
            phone.goto("/receiving")
            phone.get_by_role("link", name="Receive PO-").first.click()
            box = phone.get_by_label("Scan or type a SKU, GTIN or supplier SKU")
            expect(box).to_be_focused()
            sku = phone.locator(".sku").first.inner_text().split(" → ")[0].strip()
            for _ in range(2):
                phone.keyboard.type(sku, delay=5)
                phone.keyboard.press("Enter")
                expect(box).to_have_value("")
            phone.screenshot(path=receiving_png)
        finally:
            browser.close()
    return [overview, dialog_png, phone_png, labels_png, activity_png, order_png,
            reorder_png, value_png, alerts_png, receiving_png]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="a database that already holds the demo data (default: a "
                             "temporary SQLite file seeded with `flask seed-demo`)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots",
                        help="where the PNGs go (default: docs/screenshots)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stockroom-shots-") as folder:
        if args.database_url:
            app = build_app(args.database_url)
        else:
            print("Seeding a temporary SQLite database with the demo data ...")
            app = seeded_sqlite(Path(folder))
        with LiveServer(app) as server:
            for path in take(server.url, args.out):
                print(f"wrote {path}")


if __name__ == "__main__":
    main()
