"""Counting a location in Chromium: from the overview to the count screen, scans at scanner
speed (each one counts one, the box ready for the next at once), a number typed for several,
a typed correction, a removed line, and the list applied as one count; on a 390-px phone
without sideways scrolling and with Apply in reach; the camera through a stand-in
BarcodeDetector; the list kept over a reload; and the whole flow with JavaScript off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import InventoryEntry, Location

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed; pip install -e '.[test]'"
).expect

WIDTHS = [1400, 390]

# A stand-in for the browser's BarcodeDetector: it "sees" the codes a test queues, one per
# detect() call, and a camera that is a canvas's stream (no device, no permission prompt).
FAKE_CAMERA = """
window.__codes = [];
window.__detectorFormats = null;
window.BarcodeDetector = class {
  constructor(options) { window.__detectorFormats = options && options.formats; }
  static getSupportedFormats() { return Promise.resolve(["code_128", "ean_13", "qr_code"]); }
  detect(source) {
    if (!(source instanceof HTMLVideoElement) || !source.srcObject) {
      return Promise.reject(new Error("not a live video"));
    }
    var code = window.__codes.shift();
    return Promise.resolve(code ? [{ rawValue: code, format: "code_128" }] : []);
  }
};
if (navigator.mediaDevices) navigator.mediaDevices.getUserMedia = function (constraints) {
  window.__constraints = constraints;
  var canvas = document.createElement("canvas");
  canvas.width = 64; canvas.height = 48;
  canvas.getContext("2d").fillRect(0, 0, 64, 48);
  return Promise.resolve(canvas.captureStream(5));
};
"""


def at_width(new_context: Callable[..., BrowserContext], width: int, **options) -> Page:
    return new_context(viewport={"width": width, "height": 800}, **options).new_page()


def warehouse_id() -> int:
    found = db.session.scalar(select(Location.id).where(Location.code == "WAREHOUSE_A"))
    db.session.remove()
    return int(found)


def on_hand(entry_id: int) -> int:
    db.session.remove()
    value = db.session.scalar(
        select(InventoryEntry.quantity).where(InventoryEntry.id == entry_id))
    db.session.remove()
    return int(value)


def line(page: Page, sku: str):
    return page.locator(f"tr[data-count-line][data-sku='{sku}']")


def scan(page: Page, code: str) -> None:
    """A scanner: the code's keys 5 ms apart, then Enter, wherever focus is."""
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")


def wait_until_seen(page: Page) -> None:
    """Until the stand-in detector has handed out every queued code (polled: a string
    predicate would be evaluated with eval, which the CSP refuses), and one frame more."""
    for _ in range(200):
        if page.evaluate("window.__codes.length") == 0:
            break
        page.wait_for_timeout(25)
    else:
        raise AssertionError("the camera never looked at the queued codes")
    page.wait_for_timeout(450)


def open_count(page: Page) -> None:
    page.get_by_role("link", name="Count stock").click()
    expect(page.get_by_role("heading", name="Count stock", level=1)).to_be_visible()
    page.get_by_label("Location").select_option(label="WAREHOUSE_A")
    page.get_by_role("button", name="Start counting").click()
    expect(page.get_by_role("heading", name="Count stock at WAREHOUSE_A")).to_be_visible()
    expect(page.get_by_label("Scan or type a SKU or GTIN")).to_be_focused()


@pytest.mark.parametrize("width", WIDTHS)
def test_scan_a_location_and_apply_the_counts(
    new_context, shop, sign_in, page_problems, width: int
):
    page = at_width(new_context, width)
    sign_in(page, shop.clerk)
    open_count(page)
    box = page.get_by_label("Scan or type a SKU or GTIN")

    # Consecutive scans at scanner speed: each one is a line or one more on its line.
    for code in ("MUG-BLU", "MUG-BLU", "POT-RED", "mug-blu", "4006381333931"):
        scan(page, code)
        expect(box).to_have_value("")
    expect(line(page, "MUG-BLU").locator("[data-counted]")).to_have_value("4")
    expect(line(page, "POT-RED").locator("[data-counted]")).to_have_value("1")
    expect(line(page, "MUG-BLU").locator("[data-expected]")).to_have_text("10")
    expect(line(page, "MUG-BLU").locator("[data-diff]")).to_have_text("−6")
    expect(page.locator("tr[data-count-line]")).to_have_count(2)

    # A number typed first counts that many with the next scan.
    page.get_by_label("How many").fill("7")
    box.focus()
    scan(page, "VAS-GRN")
    expect(line(page, "VAS-GRN").locator("[data-counted]")).to_have_value("7")
    expect(page.get_by_label("How many")).to_have_value("")

    # A code that names nothing here is said beside the box; the list stays as it was.
    page_problems.expect("status of 422")
    scan(page, "NOPE-1")
    expect(page.locator("#count-code-error")).to_have_text(
        "Nothing in this store has the SKU or GTIN “NOPE-1”.")
    expect(box).to_have_attribute("aria-invalid", "true")
    page_problems.expect("status of 422")
    scan(page, "TWL-LIN")  # stocked at SHELF_B only
    expect(page.locator("#count-code-error")).to_have_text("TWL-LIN is not stocked at WAREHOUSE_A.")
    expect(page.locator("tr[data-count-line]")).to_have_count(3)

    # Focus away from every field: a scan still goes to the list, and the page stays.
    page.get_by_role("heading", name="Count stock at WAREHOUSE_A").click()
    page.evaluate("document.activeElement.blur()")
    scan(page, "POT-RED")
    expect(line(page, "POT-RED").locator("[data-counted]")).to_have_value("2")
    assert "/inventory/count" in page.url
    expect(page.locator("#count-code-error")).to_be_hidden()

    # A typed correction moves the difference; Remove takes a line out.
    line(page, "POT-RED").locator("[data-counted]").fill("3")
    expect(line(page, "POT-RED").locator("[data-diff]")).to_have_text("+3")
    # A scan while that figure still has focus counts the code; the figure stays as typed.
    expect(line(page, "POT-RED").locator("[data-counted]")).to_be_focused()
    scan(page, "MUG-BLU")
    expect(line(page, "MUG-BLU").locator("[data-counted]")).to_have_value("5")
    expect(line(page, "POT-RED").locator("[data-counted]")).to_have_value("3")
    expect(box).to_be_focused()
    line(page, "VAS-GRN").get_by_role("button", name="Remove Green Vase (VAS-GRN)").click()
    expect(page.locator("tr[data-count-line]")).to_have_count(2)
    expect(page.locator("[data-count-total]")).to_have_text("2 items in the list")

    # The page never scrolls sideways, and Apply is in reach without scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    apply = page.get_by_role("button", name="Apply counts")
    box_of_apply = apply.bounding_box()
    assert box_of_apply and box_of_apply["y"] + box_of_apply["height"] <= 800

    apply.click()
    expect(page.locator(".flash-success")).to_have_text(
        "Counted 2 items at WAREHOUSE_A. Changed: Blue Mug (MUG-BLU) 10 → 5, "
        "Red Teapot (POT-RED) 0 → 3.")
    expect(page.locator("tr[data-count-line]")).to_have_count(0)
    assert on_hand(shop.entries["mug_warehouse"]) == 5
    assert on_hand(shop.entries["teapot"]) == 3
    assert on_hand(shop.entries["vase"]) == 0  # removed from the list: not counted
    # The next count starts empty, even after a reload.
    page.reload()
    expect(page.locator("tr[data-count-line]")).to_have_count(0)


def test_the_camera_feeds_the_same_list(new_context, shop, sign_in, page_problems):
    context = new_context(viewport={"width": 390, "height": 800})
    context.add_init_script(FAKE_CAMERA)
    page = context.new_page()
    sign_in(page, shop.clerk)
    page.goto(f"/inventory/count?location={warehouse_id()}")

    page.get_by_role("button", name="Scan with camera").click()
    dialog = page.locator("#camera-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-camera-status]")).to_have_text("Point the camera at a barcode.")
    assert page.evaluate("window.__constraints.video.facingMode") == "environment"
    assert "ean_13" in page.evaluate("window.__detectorFormats")

    page.evaluate("window.__codes.push('MUG-BLU')")
    expect(line(page, "MUG-BLU").locator("[data-counted]")).to_have_value("1")
    # The same code seen in frame after frame counts once ...
    page.evaluate("window.__codes.push('POT-RED', 'POT-RED', 'POT-RED')")
    expect(line(page, "POT-RED").locator("[data-counted]")).to_have_value("1")
    wait_until_seen(page)
    expect(line(page, "POT-RED").locator("[data-counted]")).to_have_value("1")
    # ... and again once another came between.
    page.evaluate("window.__codes.push('4006381333931')")
    expect(line(page, "MUG-BLU").locator("[data-counted]")).to_have_value("2")

    dialog.get_by_role("button", name="Done").click()
    expect(dialog).to_be_hidden()
    # The dialog's close event, which stops the camera, comes a task after it hides.
    page.wait_for_function(
        "document.getElementById('camera-video').srcObject.getTracks()"
        ".every(function (t) { return t.readyState === 'ended'; })", timeout=5000)
    expect(page.get_by_label("Scan or type a SKU or GTIN")).to_be_focused()
    page.get_by_role("button", name="Apply counts").click()
    expect(page.locator(".flash-success")).to_contain_text("Blue Mug (MUG-BLU) 10 → 2")


def test_without_barcode_detection_there_is_no_camera_button(new_context, shop, sign_in):
    context = new_context()
    context.add_init_script("delete window.BarcodeDetector;")
    page = context.new_page()
    sign_in(page, shop.clerk)
    page.goto(f"/inventory/count?location={warehouse_id()}")
    expect(page.get_by_label("Scan or type a SKU or GTIN")).to_be_focused()
    expect(page.locator("[data-camera]")).to_be_hidden()


def test_an_accidental_reload_keeps_the_list(new_context, shop, sign_in):
    page = at_width(new_context, 1400)
    sign_in(page, shop.clerk)
    page.goto(f"/inventory/count?location={warehouse_id()}")
    scan(page, "MUG-BLU")
    scan(page, "MUG-BLU")
    scan(page, "POT-RED")
    expect(line(page, "POT-RED")).to_have_count(1)
    expect(line(page, "MUG-BLU").locator("[data-counted]")).to_have_value("2")

    page.reload()
    expect(line(page, "MUG-BLU").locator("[data-counted]")).to_have_value("2")
    expect(line(page, "POT-RED").locator("[data-counted]")).to_have_value("1")
    expect(line(page, "MUG-BLU").locator("[data-expected]")).to_have_text("10")


def test_with_javascript_off_the_list_is_built_by_form_posts(new_context, shop, sign_in):
    page = at_width(new_context, 390, java_script_enabled=False)
    sign_in(page, shop.clerk)
    page.goto(f"/inventory/count?location={warehouse_id()}")
    box = page.get_by_label("Scan or type a SKU or GTIN")
    for code in ("MUG-BLU", "POT-RED", "MUG-BLU"):
        box.fill(code)
        box.press("Enter")
        expect(page.get_by_label("Scan or type a SKU or GTIN")).to_have_value("")
    expect(line(page, "MUG-BLU").locator("[data-counted]")).to_have_value("2")
    expect(line(page, "POT-RED").locator("[data-counted]")).to_have_value("1")
    line(page, "POT-RED").get_by_role("button", name="Remove Red Teapot (POT-RED)").click()
    expect(page.locator("tr[data-count-line]")).to_have_count(1)
    expect(page.locator("[data-camera]")).to_be_hidden()

    page.get_by_role("button", name="Apply counts").click()
    expect(page.locator(".flash-success")).to_have_text(
        "Counted 1 item at WAREHOUSE_A. Changed: Blue Mug (MUG-BLU) 10 → 2.")
    assert on_hand(shop.entries["mug_warehouse"]) == 2
