"""The demo data set behind `flask seed-demo`.

Three stores with about three weeks of history, replayed in time order through the
service functions (with the clock pinned to each moment), so every ledger row, reservation
and status is one the application itself could have produced. A fixed random seed makes
every run build the same data, apart from the dates, which end at the moment of seeding.
"""

from __future__ import annotations

import heapq
import itertools
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select

from app.clock import frozen_at, utcnow
from app.extensions import db
from app.models import (
    InventoryEntry,
    Location,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    StockMovement,
    Store,
    Supplier,
    User,
)
from app.permissions import ADJUST, RECEIVE, RESERVE, Actor, actor_for_user, system_actor
from app.services import (
    alerts,
    bundles,
    catalog,
    channels,
    items,
    purchasing,
    queries,
    stock,
    stores,
)
from app.services.people import accounts, members

DEMO_PASSWORD = "stockroom-demo-2026"
DEFAULT_SEED = 2026
HISTORY_DAYS = 21

# --------------------------------------------------------------------------- catalog


@dataclass(frozen=True)
class Axis:
    """An item's option: its name and its values as (label, SKU code)."""

    name: str
    values: tuple[tuple[str, str], ...]


def axis(name: str, *labels: str) -> Axis:
    """An option with its values; "Space Grey=SGY" names the value's SKU code explicitly."""
    options = []
    for label in labels:
        value, _, code = label.partition("=")
        options.append((value, code or re.sub(r"[^A-Za-z0-9]", "", value).upper()[:3]))
    return Axis(name, tuple(options))


SIZES = axis("Size", "S", "M", "L", "XL")


def first(option: Axis, count: int) -> Axis:
    """The option with only its first `count` values."""
    return Axis(option.name, option.values[:count])


@dataclass(frozen=True)
class Line:
    """A product line that expands into one product per combination of its axes."""

    title: str
    code: str
    axes: tuple[Axis, ...] = ()
    stock: tuple[int, int] = (12, 60)  # opening on-hand range at the home location
    kind: str = "physical"
    backorder: bool = False
    home: str | None = None  # location code; the store's first location when None
    gtin: bool = True
    # A bundle: (SKU without the store's prefix, units per bundle) of its components, which
    # come earlier in the store's lines. A bundle holds no stock of its own.
    parts: tuple[tuple[str, int], ...] = ()
    # Reordered up to the top of its stock range rather than by a fixed quantity.
    up_to: bool = False


@dataclass(frozen=True)
class StoreSpec:
    name: str
    slug: str
    sku_prefix: str
    gs1_prefix: str  # GS1 company prefix: 7 digits, leaving 5 for the item reference
    order_prefix: str
    locations: tuple[tuple[str, str], ...]  # (code, name); the first is home by default
    walk_in: str | None  # location with over-the-counter sales, restocked by transfers
    quarantine: str | None  # where opened returns wait for inspection
    lines: tuple[Line, ...]
    # Sales channels: (code, name, location codes in the channel's order, split lines).
    channels: tuple[tuple[str, str, tuple[str, ...], bool], ...] = ()
    currency: str = "USD"  # what the store keeps its costs in
    suppliers: tuple[SupplierSpec, ...] = ()


@dataclass(frozen=True)
class SupplierSpec:
    """Someone a store buys from, and what: {line code: unit cost} (a 1 kg variant costs
    3.6 times its line's), each line's variants the supplier's own, preferred unless
    `alternate` (another supplier's line, dearer)."""

    name: str
    code: str  # its SKUs: CODE-<our SKU without the store's prefix>
    contact: str
    email: str
    phone: str
    lead_time_days: int
    costs: dict[str, str]
    currency: str | None = None  # the store's unless given
    rate: str | None = None  # store currency per unit of the supplier's
    packs: dict[str, tuple[int, int]] = field(default_factory=dict)  # line: (pack, minimum)
    alternate: tuple[str, ...] = ()


STORES: tuple[StoreSpec, ...] = (
    StoreSpec(
        name="Northwind Outfitters",
        slug="northwind",
        sku_prefix="NW",
        gs1_prefix="5061234",
        order_prefix="NW",
        locations=(
            ("WAREHOUSE_MAIN", "Main warehouse, Unit 4 Riverside Park"),
            ("STORE_FRONT", "Shop floor, 18 Harbour Street"),
            ("RETURNS_BAY", "Returns inspection bay"),
        ),
        walk_in="STORE_FRONT",
        quarantine="RETURNS_BAY",
        channels=(("WEB", "Web shop", ("WAREHOUSE_MAIN", "STORE_FRONT"), True),
                  ("COUNTER", "Shop counter", ("STORE_FRONT",), False)),
        currency="EUR",
        suppliers=(
            SupplierSpec(
                "Fjellvik Textiles", "FJ", "Ingrid Fjellvik", "orders@fjellvik.example",
                "+47 22 41 90 00", 5,
                {"FLC": "31.50", "PRK": "118.00", "RSH": "46.20", "TRS": "29.80",
                 "FLN": "17.40", "SCK": "4.85", "BNE": "6.10", "VST": "38.00", "BLT": "15.90",
                 "GLV": "5.75", "HAT": "9.80", "GTR": "12.60", "BTL": "13.90"},
                packs={"SCK": (6, 12), "BNE": (5, 10), "GLV": (6, 12), "FLC": (1, 4),
                       "PRK": (1, 2)},
                alternate=("BTL",)),
            SupplierSpec(
                "Cascade Outdoor Supply", "CAS", "Dale Ortiz",
                "purchasing@cascade-outdoor.example", "+1 503 555 0142", 7,
                {"BOT": "72.00", "BTL": "11.40", "BPK": "54.00", "TNT": "164.00",
                 "TFP": "21.00", "TRK": "38.50", "STV": "31.00", "HLP": "14.80",
                 "SLB": "61.00", "PAD": "27.50", "TRN": "52.00", "DRY": "8.90", "CMP": "9.60",
                 "FAK": "11.20", "SCK": "5.40"},
                currency="USD", rate="0.92",
                packs={"BTL": (6, 12), "HLP": (4, 8), "DRY": (5, 10), "CMP": (6, 6),
                       "FAK": (6, 6)},
                alternate=("SCK",)),
        ),
        lines=(
            Line("Trailhead Fleece Jacket", "FLC",
                 (axis("Color", "Navy", "Forest", "Charcoal=CHR"), SIZES), (8, 30)),
            Line("Summit Down Parka", "PRK",
                 (axis("Color", "Black", "Glacier Blue=GLB"), SIZES), (4, 16),
                 backorder=True),
            Line("Ridgeline Hiking Boot", "BOT",
                 (axis("Color", "Brown", "Slate"),
                  axis("Size", "40", "41", "42", "43", "44", "45")), (3, 14)),
            Line("Canyon Rain Shell", "RSH",
                 (axis("Color", "Red", "Navy", "Black"), first(SIZES, 3)), (6, 24)),
            Line("Softshell Trousers", "TRS",
                 (axis("Color", "Black", "Khaki"),
                  axis("Waist", "W30=30", "W32=32", "W34=34", "W36=36")), (6, 20)),
            Line("Flannel Shirt", "FLN",
                 (axis("Color", "Red Plaid=RED", "Blue Plaid=BLU"), SIZES), (6, 20)),
            Line("Merino Crew Socks", "SCK",
                 (axis("Color", "Grey", "Olive"), axis("Size", "S/M=SM", "L/XL=LXL")),
                 (30, 90)),
            Line("Basecamp Beanie", "BNE",
                 (axis("Color", "Mustard=MUS", "Navy", "Rust", "Heather Grey=HGR", "Black"),),
                 (15, 50), up_to=True),
            Line("Insulated Water Bottle 750 ml", "BTL",
                 (axis("Color", "Steel=STL", "Sage", "Sand", "Midnight=MID"),), (20, 60)),
            Line("Alpine 45L Backpack", "BPK", (axis("Color", "Orange", "Graphite=GRA"),), (5, 18)),
            Line("Ultralight 2-Person Tent", "TNT", stock=(3, 10), backorder=True),
            Line("Tent Footprint 2P", "TFP", stock=(4, 12)),
            Line("Carbon Trekking Poles (pair)", "TRK", stock=(6, 20)),
            Line("Titanium Camp Stove", "STV", stock=(5, 16)),
            Line("Rechargeable Headlamp 300 lm", "HLP", stock=(12, 40)),
            Line("Three-Season Sleeping Bag -5 C", "SLB",
                 (axis("Length", "Regular=REG", "Long=LNG"),),
                 (4, 14)),
            Line("Self-Inflating Sleeping Pad", "PAD", stock=(5, 15)),
            Line("Waterproof Gaiters", "GTR", (axis("Size", "S/M=SM", "L/XL=LXL"),), (6, 18)),
            Line("Touchscreen Liner Gloves", "GLV", (axis("Size", "S", "M", "L"),), (10, 30)),
            Line("Wide-Brim Sun Hat", "HAT", (axis("Color", "Sand", "Olive"),), (8, 24)),
            Line("Packable Down Vest", "VST", (axis("Color", "Black", "Moss"), SIZES), (4, 14)),
            Line("Thermal Base Layer Top", "BLT",
                 (axis("Color", "Black", "Heather Grey=HGR"), SIZES),
                 (8, 24), up_to=True),
            Line("Trail Running Shoe", "TRN",
                 (axis("Color", "Volt", "Storm"),
                  axis("Size", "40", "41", "42", "43", "44", "45")), (3, 12),
                 backorder=True),
            Line("Roll-Top Dry Bag", "DRY",
                 (axis("Volume", "5 L=5L", "10 L=10L", "20 L=20L"),), (8, 25)),
            Line("Baseplate Compass", "CMP", stock=(6, 18)),
            Line("Trail First Aid Kit", "FAK", stock=(8, 24)),
            Line("Trail Starter Set", "TSS", parts=(("HLP", 1), ("FAK", 1), ("CMP", 1))),
            Line("Gift Card EUR 25", "GC25", kind="digital", gtin=False),
            Line("Gift Card EUR 50", "GC50", kind="digital", gtin=False),
            Line("Gift Card EUR 100", "GC100", kind="digital", gtin=False),
            Line("Ski and Snowboard Tune-Up", "SVC-TUNE", kind="service", gtin=False),
            Line("Boot Fitting Appointment", "SVC-FIT", kind="service", gtin=False),
            Line("Adventure Club Membership (monthly)", "SUB-CLUB", kind="subscription",
                 gtin=False),
        ),
    ),
    StoreSpec(
        name="Harbor Coffee Roasters",
        slug="harbor-coffee",
        sku_prefix="HC",
        gs1_prefix="5059876",
        order_prefix="HC",
        locations=(
            ("ROASTERY", "Roastery, Pier 9"),
            ("CAFE_COUNTER", "Cafe counter"),
            ("WAREHOUSE_MAIN", "Dry store and equipment"),
        ),
        walk_in="CAFE_COUNTER",
        quarantine=None,
        channels=(("WEB", "Web shop", ("ROASTERY", "WAREHOUSE_MAIN"), False),
                  ("CAFE", "Cafe counter", ("CAFE_COUNTER",), False)),
        suppliers=(
            SupplierSpec(
                "Bluewater Coffee Importers", "BW", "Marisol Vega",
                "sales@bluewater-coffee.example", "+1 206 555 0187", 3,
                {"ETH": "5.60", "COL": "4.90", "GUA": "4.70", "KEN": "6.40", "SUM": "5.10",
                 "BRA": "4.20", "CRI": "5.30", "RWA": "6.10", "HSE": "3.95", "LHE": "4.35",
                 "NWD": "4.10", "DEC": "5.20", "HON": "4.60", "PER": "4.80", "WHB": "4.45"},
                packs={code: (6, 12) for code in ("ETH", "COL", "BRA", "HSE", "LHE")}),
            SupplierSpec(
                "Pier Nine Brewware", "P9", "Theo Lindqvist", "trade@piernine.example",
                "+1 206 555 0113", 5,
                {"V60": "8.20", "FLT": "2.10", "KTL": "34.00", "GRD": "61.00", "FRP": "14.50",
                 "TPB": "12.80", "PTC": "7.40", "MUG": "9.90", "CBB": "11.60", "SCL": "17.30",
                 "ECP": "8.70", "RCP": "4.30", "APR": "13.20", "TMP": "15.60", "KNK": "12.10",
                 "HSE": "4.40"},
                packs={"FLT": (10, 20), "RCP": (12, 12), "ECP": (6, 6)},
                alternate=("HSE",)),
        ),
        lines=(
            Line("Ethiopia Yirgacheffe", "ETH",
                 (axis("Grind", "Whole Bean=WB", "Espresso Grind=ESP", "Filter Grind=FIL"),
                  axis("Weight", "250 g=250", "1 kg=1K")), (10, 45)),
            Line("Colombia Huila", "COL",
                 (axis("Grind", "Whole Bean=WB", "Espresso Grind=ESP", "Filter Grind=FIL"),
                  axis("Weight", "250 g=250", "1 kg=1K")), (10, 45)),
            Line("Guatemala Antigua", "GUA",
                 (axis("Grind", "Whole Bean=WB", "Filter Grind=FIL"),
                  axis("Weight", "250 g=250", "1 kg=1K")),
                 (8, 35)),
            Line("Kenya Nyeri AA", "KEN",
                 (axis("Grind", "Whole Bean=WB", "Filter Grind=FIL"),
                  axis("Weight", "250 g=250", "1 kg=1K")),
                 (6, 25), backorder=True),
            Line("Sumatra Mandheling", "SUM",
                 (axis("Grind", "Whole Bean=WB", "Espresso Grind=ESP"),
                  axis("Weight", "250 g=250", "1 kg=1K")),
                 (8, 30)),
            Line("Brazil Cerrado", "BRA",
                 (axis("Grind", "Whole Bean=WB", "Espresso Grind=ESP", "Filter Grind=FIL"),
                  axis("Weight", "250 g=250", "1 kg=1K")), (12, 50)),
            Line("Costa Rica Tarrazu", "CRI",
                 (axis("Grind", "Whole Bean=WB", "Filter Grind=FIL"),
                  axis("Weight", "250 g=250", "1 kg=1K")),
                 (6, 28)),
            Line("Rwanda Nyamasheke", "RWA",
                 (axis("Grind", "Whole Bean=WB"), axis("Weight", "250 g=250", "1 kg=1K")),
                 (4, 18), backorder=True),
            Line("Harbor House Blend", "HSE",
                 (axis("Grind", "Whole Bean=WB", "Espresso Grind=ESP", "Filter Grind=FIL"),
                  axis("Weight", "250 g=250", "1 kg=1K")), (20, 80)),
            Line("Lighthouse Espresso", "LHE",
                 (axis("Grind", "Whole Bean=WB", "Espresso Grind=ESP"),
                  axis("Weight", "250 g=250", "1 kg=1K")),
                 (15, 60)),
            Line("Night Watch Dark Roast", "NWD",
                 (axis("Grind", "Whole Bean=WB", "Filter Grind=FIL"),
                  axis("Weight", "250 g=250", "1 kg=1K")),
                 (10, 40), up_to=True),
            Line("Swiss Water Decaf", "DEC", (axis("Grind", "Whole Bean=WB", "Filter Grind=FIL"),),
                 (6, 24)),
            Line("Honduras Marcala", "HON",
                 (axis("Grind", "Whole Bean=WB", "Filter Grind=FIL"),
                  axis("Weight", "250 g=250", "1 kg=1K")),
                 (6, 28)),
            Line("Peru Cajamarca", "PER",
                 (axis("Grind", "Whole Bean=WB", "Espresso Grind=ESP"),
                  axis("Weight", "250 g=250", "1 kg=1K")),
                 (6, 28)),
            Line("Winter Harbor Blend", "WHB",
                 (axis("Grind", "Whole Bean=WB", "Filter Grind=FIL"),),
                 (10, 40)),
            Line("Single-Origin Sampler Box", "SMP",
                 parts=(("ETH-WB-250", 1), ("COL-WB-250", 1), ("GUA-WB-250", 1))),
            Line("Ceramic Pour-Over Dripper", "V60", (axis("Color", "White", "Black"),), (6, 20),
                 home="WAREHOUSE_MAIN"),
            Line("Paper Filters (100 pack)", "FLT", stock=(30, 120), home="WAREHOUSE_MAIN"),
            Line("Gooseneck Kettle 1 L", "KTL", stock=(4, 12), home="WAREHOUSE_MAIN",
                 backorder=True),
            Line("Conical Burr Grinder", "GRD", stock=(3, 10), home="WAREHOUSE_MAIN"),
            Line("French Press 1 L", "FRP", stock=(6, 18), home="WAREHOUSE_MAIN"),
            Line("Travel Press Brewer", "TPB", stock=(8, 24), home="WAREHOUSE_MAIN"),
            Line("Milk Frothing Pitcher 350 ml", "PTC", stock=(8, 20), home="WAREHOUSE_MAIN"),
            Line("Double-Wall Travel Mug 350 ml", "MUG",
                 (axis("Color", "Harbor Blue=HBL", "Sand", "Black"),),
                 (10, 30), home="WAREHOUSE_MAIN"),
            Line("Cold Brew Bottle 1 L", "CBB", stock=(6, 18), home="WAREHOUSE_MAIN"),
            Line("Digital Coffee Scale", "SCL", stock=(5, 15), home="WAREHOUSE_MAIN"),
            Line("Espresso Cups (set of 2)", "ECP",
                 (axis("Color", "White", "Harbor Blue=HBL", "Black"),),
                 (6, 20), home="WAREHOUSE_MAIN"),
            Line("Reusable Cup 12 oz", "RCP", (axis("Color", "Sand", "Sea Green=SEA", "Black"),),
                 (12, 36), home="WAREHOUSE_MAIN"),
            Line("Barista Apron", "APR", (axis("Color", "Denim", "Canvas"),), (4, 12),
                 home="WAREHOUSE_MAIN"),
            Line("Stainless Tamper 58 mm", "TMP", stock=(4, 12), home="WAREHOUSE_MAIN"),
            Line("Knock Box", "KNK", stock=(3, 10), home="WAREHOUSE_MAIN"),
            Line("Monthly Single-Origin Subscription", "SUB-SO", kind="subscription", gtin=False),
            Line("Espresso Lover Subscription", "SUB-ESP", kind="subscription", gtin=False),
            Line("Brewing Masterclass (video course)", "DIG-CLASS", kind="digital", gtin=False),
            Line("Home Barista Workshop", "SVC-WKSHP", kind="service", gtin=False),
            Line("Espresso Machine Descaling", "SVC-DESC", kind="service", gtin=False),
            Line("E-Gift Card", "DIG-GIFT", kind="digital", gtin=False),
        ),
    ),
    StoreSpec(
        name="Pixel & Parcel",
        slug="pixel-parcel",
        sku_prefix="PP",
        gs1_prefix="4260987",
        order_prefix="PP",
        locations=(
            ("WAREHOUSE_EAST", "East fulfilment centre"),
            ("WAREHOUSE_WEST", "West fulfilment centre"),
        ),
        walk_in=None,
        quarantine=None,
        channels=(("WEB", "Web shop", ("WAREHOUSE_EAST", "WAREHOUSE_WEST"), True),
                  ("MARKET", "Marketplace", ("WAREHOUSE_WEST", "WAREHOUSE_EAST"), False)),
        currency="EUR",
        suppliers=(
            SupplierSpec(
                "Brightlink Electronics", "BL", "Wei Chen", "export@brightlink.example",
                "+86 755 5550 1234", 6,
                {"UCC": "1.80", "HDMI": "6.40", "HUB": "14.20", "GAN65": "16.90",
                 "CHG20": "5.10", "QI": "7.30", "PB10": "9.40", "PB20": "15.80", "EAR": "18.50",
                 "ANC": "44.00", "CAM": "17.20", "RNG": "11.40", "PLG": "8.60", "MSD": "9.90",
                 "SSD": "52.00", "LTC": "2.30", "MIC": "23.50", "SPK": "16.40", "ETH": "6.90"},
                currency="USD", rate="0.92",
                packs={"UCC": (10, 20), "LTC": (10, 20), "CHG20": (10, 10), "MSD": (5, 10)}),
            SupplierSpec(
                "Nordhafen Accessories", "NH", "Jonas Becker", "bestellung@nordhafen.example",
                "+49 40 555 0190", 3,
                {"CASE": "3.20", "GLS": "1.40", "KBD": "41.00", "MSE": "9.80", "SLV": "8.40",
                 "TPD": "7.90", "STD": "15.20", "LBR": "19.60", "BND": "3.60", "ORG": "5.30",
                 "UCC": "2.40"},
                packs={"CASE": (5, 10), "GLS": (10, 20), "BND": (5, 10)},
                alternate=("UCC",)),
        ),
        lines=(
            Line("USB-C Cable", "UCC",
                 (axis("Length", "1 m=1M", "2 m=2M"), axis("Color", "Black", "White")),
                 (30, 120)),
            Line("USB-C to HDMI Adapter 4K", "HDMI", stock=(15, 50)),
            Line("USB-C Hub 7-in-1", "HUB", stock=(10, 35), backorder=True),
            Line("65 W GaN Charger", "GAN65", (axis("Color", "Black", "White"),), (10, 40)),
            Line("20 W USB-C Charger", "CHG20", stock=(25, 80)),
            Line("Wireless Charging Pad", "QI", stock=(10, 35)),
            Line("Power Bank 10,000 mAh", "PB10",
                 (axis("Color", "Black", "Blue", "Pink"),), (10, 30)),
            Line("Power Bank 20,000 mAh", "PB20", stock=(6, 20)),
            Line("Phone Case", "CASE",
                 (axis("Model", "Pixel 8=PX8", "Pixel 9=PX9", "iPhone 15=IP15", "iPhone 16=IP16",
                       "Galaxy S24=S24"),
                  axis("Color", "Clear", "Matte Black=MBK", "Sage")), (6, 25)),
            Line("Tempered Glass Screen Protector", "GLS",
                 (axis("Model", "Pixel 8=PX8", "Pixel 9=PX9", "iPhone 15=IP15", "iPhone 16=IP16",
                       "Galaxy S24=S24"),), (15, 50)),
            Line("Mechanical Keyboard", "KBD",
                 (axis("Switches", "Red Switches=RED", "Brown Switches=BRN"),
                  axis("Layout", "US", "UK", "DE")), (3, 12),
                 backorder=True),
            Line("Wireless Mouse", "MSE", (axis("Color", "Black", "White"),), (8, 30), up_to=True),
            Line("Laptop Sleeve", "SLV",
                 (axis("Size", "13 in=13", "15 in=15"), axis("Color", "Grey", "Navy")),
                 (6, 20)),
            Line("Bluetooth Earbuds", "EAR", (axis("Color", "Black", "White"),), (8, 25)),
            Line("Over-Ear Headphones ANC", "ANC", stock=(4, 12)),
            Line("1080p Webcam", "CAM", stock=(6, 20)),
            Line("LED Ring Light 10 in", "RNG", stock=(5, 15)),
            Line("Smart Plug (2 pack)", "PLG", stock=(10, 30)),
            Line("Aluminium Phone Tripod", "TPD", stock=(6, 18)),
            Line("microSD Card", "MSD", (axis("Capacity", "128 GB=128", "256 GB=256"),), (12, 40)),
            Line("Portable SSD 1 TB", "SSD", stock=(4, 12), backorder=True),
            Line("Lightning to USB-C Cable", "LTC",
                 (axis("Length", "1 m=1M", "2 m=2M"),), (15, 45)),
            Line("Aluminium Laptop Stand", "STD",
                 (axis("Color", "Silver", "Space Grey=SGY"),), (5, 16)),
            Line("Monitor Light Bar", "LBR", stock=(4, 12)),
            Line("USB Condenser Microphone", "MIC", stock=(4, 12)),
            Line("Portable Bluetooth Speaker", "SPK",
                 (axis("Color", "Black", "Coral", "Teal"),), (6, 18)),
            Line("Smartwatch Band", "BND",
                 (axis("Case", "41 mm=41", "45 mm=45"),
                  axis("Color", "Black", "Olive", "Blush=BLS")), (8, 24)),
            Line("Cable Organiser Kit", "ORG", stock=(10, 30)),
            Line("USB-C Ethernet Adapter", "ETH", stock=(8, 24)),
            Line("Photo Editing Presets Pack", "DIG-PRESET", kind="digital", gtin=False),
            Line("Home Office Tech Guide (e-book)", "DIG-EBOOK", kind="digital", gtin=False),
            Line("Extended Warranty, 2 years", "SVC-WARR", kind="service", gtin=False),
            Line("Device Setup Service", "SVC-SETUP", kind="service", gtin=False),
            Line("Cloud Backup 100 GB (monthly)", "SUB-CLOUD", kind="subscription", gtin=False),
        ),
    ),
)


@dataclass(frozen=True)
class DemoUser:
    role: str
    email: str
    name: str
    description: str


USERS: tuple[DemoUser, ...] = (
    DemoUser("platform admin", "admin@stockroom.test", "Ada Platform", "every store"),
    DemoUser("owner", "owner@stockroom.test", "Olivia Owner",
             "owner of Northwind Outfitters and Harbor Coffee Roasters"),
    DemoUser("store admin", "manager@stockroom.test", "Marcus Manager",
             "admin of Northwind Outfitters"),
    DemoUser("staff", "staff@stockroom.test", "Sam Staff",
             "staff at Northwind Outfitters, may adjust, reserve and receive"),
    DemoUser("read-only staff", "viewer@stockroom.test", "Vera Viewer",
             "staff at Northwind Outfitters, read only"),
)

RETURN_REASONS = (
    "Customer return: wrong size",
    "Customer return: changed mind",
    "Customer return: gift receipt",
    "Customer return: ordered twice",
)
LOSS_REASONS = (
    "Damaged in storage",
    "Damaged in transit",
    "Shrinkage",
    "Used as display sample",
    "Packaging crushed, written off",
)
GAIN_REASONS = ("Found during restock", "Supplier sent extra units", "Mis-scan corrected")


@dataclass
class DemoSummary:
    """What a seeding run built, for the command to print."""

    stores: int = 0
    locations: int = 0
    products: dict[str, int] = field(default_factory=dict)
    entries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    reservations: dict[str, int] = field(default_factory=dict)
    overdue_holds: int = 0
    movements: dict[str, int] = field(default_factory=dict)
    suppliers: int = 0
    purchase_orders: dict[str, int] = field(default_factory=dict)
    users: tuple[DemoUser, ...] = USERS
    password: str = DEMO_PASSWORD
    first_movement: datetime | None = None
    last_movement: datetime | None = None
    seconds: float = 0.0


def database_has_data() -> bool:
    """True once any store or user exists."""
    return bool(
        db.session.scalar(select(func.count()).select_from(Store))
        or db.session.scalar(select(func.count()).select_from(User))
    )


def seed(*, random_seed: int = DEFAULT_SEED, now: datetime | None = None) -> DemoSummary:
    """Build the demo data set into an empty database and describe what was built."""
    started = time.perf_counter()
    moment = (now or utcnow()).replace(second=0, microsecond=0)
    _Seeder(random.Random(random_seed), moment, random.Random(random_seed + 1)).run()
    summary = summarize(moment)
    summary.seconds = time.perf_counter() - started
    return summary


def summarize(now: datetime) -> DemoSummary:
    """Counts of what the database holds, as the seed command reports them."""
    session = db.session
    overview = queries.stock_stats(system_actor("demo"))
    summary = DemoSummary(
        stores=session.scalar(select(func.count()).select_from(Store)) or 0,
        locations=session.scalar(select(func.count()).select_from(Location)) or 0,
        products=_counts(
            select(Product.type, func.count()).group_by(Product.type).order_by(Product.type)
        ),
        entries=overview["total_entries"],
        statuses={s: overview[s] for s in queries.STATUSES},
        reservations=_counts(
            select(Reservation.status, func.count()).group_by(Reservation.status)
            .order_by(Reservation.status)
        ),
        overdue_holds=session.scalar(
            select(func.count()).where(Reservation.status == "active",
                                       Reservation.expires_at <= now)
        ) or 0,
        movements=_counts(
            select(StockMovement.type, func.count()).group_by(StockMovement.type)
            .order_by(StockMovement.type)
        ),
        suppliers=session.scalar(select(func.count()).select_from(Supplier)) or 0,
        purchase_orders=_counts(
            select(PurchaseOrder.status, func.count()).group_by(PurchaseOrder.status)
            .order_by(PurchaseOrder.status)
        ),
        first_movement=session.scalar(select(func.min(StockMovement.created_at))),
        last_movement=session.scalar(select(func.max(StockMovement.created_at))),
    )
    session.rollback()
    return summary


def _counts(query: Select[Any]) -> dict[str, int]:
    return {str(key): int(count) for key, count in db.session.execute(query)}


# --------------------------------------------------------------------------- simulation


@dataclass
class _Entry:
    id: int
    store: int
    product: int
    location: int
    quantity: int
    reserved: int
    threshold: int

    @property
    def available(self) -> int:
        return self.quantity - self.reserved


@dataclass
class _Store:
    spec: StoreSpec
    id: int
    locations: dict[str, int]
    people: list[Actor] = field(default_factory=list)
    lead: Actor | None = None
    physical: list[int] = field(default_factory=list)  # product ids
    unlimited: list[int] = field(default_factory=list)
    home: dict[int, int] = field(default_factory=dict)  # product id -> location id
    sold: list[tuple[int, str]] = field(default_factory=list)  # (entry id, order ref)
    on_order: set[int] = field(default_factory=set)  # entry ids awaiting a delivery
    orders: Iterator[int] = field(default_factory=lambda: itertools.count(100_001))

    def location(self, code: str | None) -> int | None:
        return self.locations.get(code) if code else None


class _Seeder:
    """Replays three weeks of a plausible business, event by event, in time order."""

    def __init__(self, rng: random.Random, now: datetime,
                 prices: random.Random | None = None) -> None:
        self.rng = rng
        self.now = now
        today = now.replace(hour=0, minute=0)
        self.first_day = today - timedelta(days=HISTORY_DAYS)
        # Business runs until 21:00 yesterday and the scene is set in the two hours after,
        # whatever the time of seeding: so every run builds the same rows, only dated anew.
        self.cutoff = today - timedelta(hours=3)
        self.stores: list[_Store] = []
        self.entries: dict[int, _Entry] = {}
        self.entry_at: dict[tuple[int, int], int] = {}
        self.backorder: dict[int, bool] = {}
        self.reorder: dict[int, tuple[int, int]] = {}  # product id -> (point, quantity)
        self.storefront = system_actor("storefront")
        self.queue: list[tuple[datetime, int, str, tuple[Any, ...]]] = []
        self.sequence = itertools.count()
        self.po_numbers = itertools.count(4_101)
        self.opening: dict[int, tuple[int, int]] = {}  # product id -> on-hand range
        self.line_code: dict[int, str] = {}  # product id -> its line's code
        # product id -> (supplier, its rate or None): who the store orders it from.
        self.supplier_of: dict[int, tuple[purchasing.SupplierView, str | None]] = {}
        # product id -> what its opening stock cost a unit, in the store's currency: the
        # preferred supplier's price, so the stock has a value from the first day.
        self.opening_cost: dict[int, Decimal] = {}
        # Prices wander a little from order to order, so receipts move the average cost;
        # a generator of their own, so the history's draws stay as they were.
        self.prices = prices or random.Random(0)

    # ---- set-up ---------------------------------------------------------------------

    def run(self) -> None:
        with frozen_at(self.first_day + timedelta(hours=7)):
            self.create_stores()
            self.create_users()
            self.create_catalog()
            self.create_channels()
            self.create_suppliers()
        with frozen_at(self.first_day + timedelta(hours=8)):
            self.open_stock()
        self.schedule_days()
        self.replay()
        self.subscribe_to_alerts()
        self.buy_in(self.set_the_scene())

    def subscribe_to_alerts(self) -> None:
        """Owners hear about their stores from here on, the store admin by a daily digest:
        the scene set next gives the bell its first unread alerts, not three weeks' worth."""
        alerts.ensure_owner_subscriptions()
        northwind = self.stores[0]
        alerts.set_modes(northwind.lead, {northwind.id: "digest"})

    def create_stores(self) -> None:
        platform = system_actor("demo-setup")
        for spec in STORES:
            store = stores.create_store(actor=platform, name=spec.name, slug=spec.slug)
            locations = {
                code: stores.create_location(actor=platform, store_id=store.id, code=code,
                                             name=name).id
                for code, name in spec.locations
            }
            if spec.currency != "USD":
                purchasing.set_store_currency(actor=platform, store_id=store.id,
                                              currency=spec.currency)
            self.stores.append(_Store(spec, store.id, locations))

    def create_users(self) -> None:
        northwind, harbor, pixel = self.stores
        made = {}
        for user in USERS:
            role, grants, slug = {
                "platform admin": (None, (), None),
                "owner": ("owner", (), northwind.spec.slug),
                "store admin": ("admin", (), northwind.spec.slug),
                "staff": ("staff", (ADJUST, RESERVE, RECEIVE), northwind.spec.slug),
                "read-only staff": ("staff", (), northwind.spec.slug),
            }[user.role]
            made[user.role] = accounts.create_user(
                email=user.email, name=user.name, password=DEMO_PASSWORD,
                platform_admin=user.role == "platform admin", store_slug=slug, role=role,
                grants=grants,
            ).id
        members.add_user_to_store(actor=system_actor("demo-setup"), store_id=harbor.id,
                                  user_id=made["owner"], role="owner")
        admin, owner = actor_for_user(made["platform admin"]), actor_for_user(made["owner"])
        manager, staff = actor_for_user(made["store admin"]), actor_for_user(made["staff"])
        northwind.people, northwind.lead = [staff, staff, manager, owner], manager
        harbor.people, harbor.lead = [owner], owner
        pixel.people, pixel.lead = [admin], admin

    def create_catalog(self) -> None:
        platform = system_actor("demo-setup")
        for store in self.stores:
            spec = store.spec
            item = itertools.count(1)
            for line in spec.lines:
                point, quantity = self.reorder_levels(line)
                up_to = self.reorder_up_to(line)
                made: list[int] = []
                if line.axes:
                    # An item with options: one variant per combination, in one step.
                    variants = []
                    for combo in itertools.product(*(a.values for a in line.axes)):
                        gtin = None
                        if line.gtin:
                            body = f"{spec.gs1_prefix}{next(item):05d}"
                            gtin = body + catalog.gtin_check_digit(body)
                        variants.append(items.VariantSpec(
                            values=tuple(label for label, _ in combo),
                            sku="-".join([spec.sku_prefix, line.code,
                                          *(code for _, code in combo)]),
                            gtin=gtin, reorder_point=point, reorder_quantity=quantity,
                            reorder_up_to=up_to,
                        ))
                    made = list(items.create_item(
                        actor=platform, store_id=store.id, title=line.title,
                        options=[items.Option(a.name, tuple(label for label, _ in a.values))
                                 for a in line.axes],
                        variants_to_make=variants, product_type=line.kind,
                        allow_backorder=line.backorder,
                    ).product_ids)
                else:
                    gtin = None
                    if line.gtin:
                        body = f"{spec.gs1_prefix}{next(item):05d}"
                        gtin = body + catalog.gtin_check_digit(body)
                    made = [catalog.create_product(
                        actor=platform, store_id=store.id, sku=f"{spec.sku_prefix}-{line.code}",
                        title=line.title, gtin=gtin, product_type=line.kind,
                        allow_backorder=line.backorder, reorder_point=point,
                        reorder_quantity=quantity, reorder_up_to=up_to,
                    ).id]
                if line.parts:
                    # Its components' rows, by SKU: the bundle is stocked through them.
                    bundles.set_components(actor=platform, bundle_id=made[0], parts=[
                        (db.session.scalar(select(Product.id).where(
                            Product.store_id == store.id,
                            Product.sku == f"{spec.sku_prefix}-{sku}")), units)
                        for sku, units in line.parts])
                    continue
                for product_id in made:
                    if line.kind != "physical":
                        store.unlimited.append(product_id)
                        continue
                    store.physical.append(product_id)
                    home = store.locations[line.home or spec.locations[0][0]]
                    store.home[product_id] = home
                    self.backorder[product_id] = line.backorder
                    self.reorder[product_id] = (point, quantity)
                    self.opening[product_id] = line.stock
                    self.line_code[product_id] = line.code

    def create_channels(self) -> None:
        platform = system_actor("demo-setup")
        for store in self.stores:
            for code, name, places, split in store.spec.channels:
                channels.create_channel(
                    actor=platform, store_id=store.id, code=code, name=name,
                    location_ids=[store.locations[p] for p in places], allow_split=split)

    def create_suppliers(self) -> None:
        """Each store's two suppliers and what they sell: every stocked variant from one
        (preferred), a few from the other too, dearer."""
        for store in self.stores:
            lead = store.lead
            assert lead is not None
            skus = dict(db.session.execute(
                select(Product.id, Product.sku).where(Product.store_id == store.id)).all())
            db.session.rollback()
            for spec in store.spec.suppliers:
                supplier = purchasing.create_supplier(
                    actor=lead, store_id=store.id, name=spec.name, contact_name=spec.contact,
                    email=spec.email, phone=spec.phone, currency=spec.currency,
                    lead_time_days=spec.lead_time_days,
                    notes="Quote the order number on every delivery. Terms: net 30.")
                for product_id in store.physical:
                    code = self.line_code[product_id]
                    if code not in spec.costs:
                        continue
                    sku = skus[product_id]
                    cost = Decimal(spec.costs[code]) * (Decimal("3.6") if "-1K" in sku else 1)
                    pack, minimum = spec.packs.get(code, (1, 0))
                    preferred = code not in spec.alternate
                    purchasing.set_supplier_item(
                        actor=lead, supplier_id=supplier.id, product_id=product_id,
                        unit_cost=cost.quantize(Decimal("0.01")),
                        supplier_sku=f"{spec.code}-{sku.split('-', 1)[1]}", pack_size=pack,
                        min_order_qty=minimum, preferred=preferred)
                    if preferred:
                        self.supplier_of[product_id] = (supplier, spec.rate)
                        self.opening_cost[product_id] = (
                            cost * Decimal(spec.rate or 1)).quantize(Decimal("0.01"))

    def reorder_levels(self, line: Line) -> tuple[int, int]:
        if line.kind != "physical" or line.parts:
            return 0, 0
        low, high = line.stock
        middle = (low + high) // 2
        return max(2, middle // 3), max(6, round(middle * 0.8 / 6) * 6)

    def reorder_up_to(self, line: Line) -> int:
        """The level a line marked up_to is ordered up to on the reorder page: the top of
        its stock range, well above its point. The scene's own orders keep to the quantity."""
        return line.stock[1] if line.up_to and self.reorder_levels(line)[0] else 0

    def open_stock(self) -> None:
        rng = self.rng
        for store in self.stores:
            walk_in = store.location(store.spec.walk_in)
            # Stores without a shop floor spread stock over their warehouses.
            others = [] if walk_in is not None else list(store.locations.values())
            for product_id in store.physical:
                home = store.home[product_id]
                low, high = self.opening[product_id]
                quantity = rng.randint(low, high)
                self.create_entry(
                    store, product_id, home, quantity,
                    threshold=max(2, quantity // 5) if rng.random() < 0.7 else 0,
                )
                # Once a typed incoming figure; incoming now comes from purchase orders. The
                # draw stays, so every figure the demo makes after it stays as it was.
                rng.random()
                if walk_in is not None and rng.random() < 0.6:
                    self.create_entry(store, product_id, walk_in, rng.randint(2, 10),
                                      threshold=rng.choice((0, 2, 3, 4)))
                for location in others:
                    if location != home and rng.random() < 0.45:
                        self.create_entry(store, product_id, location,
                                          rng.randint(low // 2, max(low // 2, high // 2)),
                                          threshold=rng.choice((0, 0, 3, 5)))

    def create_entry(
        self, store: _Store, product_id: int, location_id: int, quantity: int, *,
        threshold: int,
    ) -> None:
        change = stock.create_entry(
            actor=store.lead, product_id=product_id, location_id=location_id,
            quantity=quantity, low_stock_threshold=threshold, reason="Opening stock count",
            unit_cost=self.opening_cost.get(product_id) if quantity else None,
        )
        self.track(change, threshold)

    def track(self, change: stock.StockChange, threshold: int | None = None) -> None:
        for state in change.entries:
            known = self.entries.get(state.id)
            if known is None:
                known = _Entry(state.id, state.store_id, state.product_id, state.location_id,
                               0, 0, threshold or 0)
                self.entries[state.id] = known
                self.entry_at[(state.product_id, state.location_id)] = state.id
            known.quantity, known.reserved = state.quantity, state.reserved_quantity

    def reload(self) -> None:
        """Re-read quantities after work that reports no entries (the expiry sweep)."""
        rows = db.session.execute(
            select(InventoryEntry.id, InventoryEntry.quantity, InventoryEntry.reserved_quantity)
        ).all()
        db.session.rollback()
        for entry_id, quantity, reserved in rows:
            self.entries[entry_id].quantity, self.entries[entry_id].reserved = quantity, reserved

    # ---- the calendar ---------------------------------------------------------------

    def at(self, moment: datetime, kind: str, *args: Any) -> None:
        if moment < self.cutoff:
            heapq.heappush(self.queue, (moment, next(self.sequence), kind, args))

    def schedule_days(self) -> None:
        rng = self.rng
        for day in range(1, HISTORY_DAYS):
            start = self.first_day + timedelta(days=day)
            self.at(start + timedelta(hours=2), "sweep")
            for index, store in enumerate(self.stores):
                self.at(start + timedelta(hours=7, minutes=30 + index), "restock", index)
                self.at(start + timedelta(hours=8, minutes=15 + index), "purchase", index)
                for _ in range(rng.randint(7, 13)):
                    self.at(self.during_day(start, 7, 23), "online", index)
                if store.spec.walk_in:
                    for _ in range(rng.randint(3, 7)):
                        self.at(self.during_day(start, 9, 18), "counter", index)
                for _ in range(rng.randint(0, 2)):
                    self.at(self.during_day(start, 9, 17), "adjust", index)
                for _ in range(rng.randint(1, 2)):
                    self.at(self.during_day(start, 10, 17), "return", index)
                for _ in range(rng.randint(2, 4)):
                    self.at(self.during_day(start, 17, 19), "count", index)
                if day % 7 == 0:
                    for _ in range(rng.randint(2, 3)):
                        self.at(self.during_day(start, 19, 20), "stocktake", index)

    def during_day(self, start: datetime, first_hour: int, last_hour: int) -> datetime:
        seconds = self.rng.randint(first_hour * 3600, last_hour * 3600 - 1)
        return start + timedelta(seconds=seconds)

    def replay(self) -> None:
        while self.queue:
            moment, _, kind, args = heapq.heappop(self.queue)
            with frozen_at(moment):
                getattr(self, "on_" + kind)(moment, *args)

    # ---- events ---------------------------------------------------------------------

    def on_sweep(self, moment: datetime) -> None:
        if stock.expire_reservations():
            self.reload()

    def on_online(self, moment: datetime, index: int) -> None:
        """A web order: reserve every line, then ship, cancel or abandon it."""
        rng, store = self.rng, self.stores[index]
        lines: list[dict[str, Any]] = []
        chosen: set[int] = set()
        for number in range(1, rng.choice((1, 1, 1, 2, 2, 3)) + 1):
            entry = self.pick(store, minimum=3, exclude=chosen, shipping=True)
            if entry is None:
                break
            chosen.add(entry.id)
            quantity = rng.choice((1, 1, 1, 1, 2, 2, 3))
            lines.append({"product_id": entry.product, "location_id": entry.location,
                          "quantity": min(quantity, entry.available), "line_ref": str(number)})
        if store.unlimited and rng.random() < 0.15:
            lines.append({"product_id": rng.choice(store.unlimited), "quantity": 1,
                          "line_ref": str(len(lines) + 1)})
        if not lines:
            return
        order = f"{store.spec.order_prefix}-{next(store.orders)}"
        change = stock.reserve_order(
            actor=self.storefront, store_id=store.id, order_ref=order, lines=lines,
            expires_at=moment + timedelta(hours=48),
        )
        self.track(change)
        fate = rng.random()
        if fate < 0.84:
            when = moment + timedelta(hours=rng.uniform(2, 30))
            for hold in change.reservation_ids:
                self.at(when, "ship", index, hold, order)
                when += timedelta(seconds=rng.randint(20, 90))
        elif fate < 0.94:
            self.at(moment + timedelta(hours=rng.uniform(0.5, 20)), "cancel",
                    index, change.reservation_ids)
        # Otherwise the checkout is abandoned and the hold lapses at its expiry.

    def on_ship(self, moment: datetime, index: int, hold: int, order: str) -> None:
        if not self.active(hold):
            return
        change = stock.fulfill_stock(
            actor=self.storefront, reservation_id=hold, reason="Shipped", order_ref=order
        )
        self.track(change)
        self.stores[index].sold.append((change.entry.id, order))

    def on_cancel(self, moment: datetime, index: int, holds: tuple[int, ...]) -> None:
        for hold in holds:
            if self.active(hold):
                self.track(stock.release_stock(
                    actor=self.storefront, reservation_id=hold,
                    reason="Order cancelled by customer",
                ))

    def on_counter(self, moment: datetime, index: int) -> None:
        """An over-the-counter sale: rung up (reserved) and handed over (fulfilled)."""
        store = self.stores[index]
        walk_in = store.location(store.spec.walk_in)
        entry = self.pick(store, minimum=1, location=walk_in)
        if entry is None:
            return
        order = f"POS-{store.spec.order_prefix}-{next(store.orders)}"
        change = stock.reserve_stock(
            actor=self.rng.choice(store.people), entry_id=entry.id,
            quantity=self.rng.choice((1, 1, 1, 2)) if entry.available > 1 else 1,
            order_ref=order, line_ref="1", reason="Counter sale",
        )
        self.track(change)
        self.at(moment + timedelta(minutes=self.rng.randint(1, 4)), "hand_over", index,
                change.reservation_ids[0], order)

    def on_hand_over(self, moment: datetime, index: int, hold: int, order: str) -> None:
        store = self.stores[index]
        change = stock.fulfill_stock(
            actor=self.rng.choice(store.people), reservation_id=hold, order_ref=order,
            reason="Counter sale",
        )
        self.track(change)
        store.sold.append((change.entry.id, order))

    def on_restock(self, moment: datetime, index: int) -> None:
        """Morning top-up of the shop floor from the store's other locations."""
        store = self.stores[index]
        walk_in = store.location(store.spec.walk_in)
        if walk_in is None:
            self.rebalance(moment, index)
            return
        low = [e for e in self.entries_of(store, location=walk_in)
               if e.available <= max(2, e.threshold)]
        self.rng.shuffle(low)
        when = moment
        for entry in low[:6]:
            source = self.entries.get(self.entry_at.get((entry.product, store.home[entry.product])))
            if source is None or source.available < 6:
                continue
            quantity = min(source.available // 3, self.rng.randint(4, 10))
            when += timedelta(minutes=self.rng.randint(2, 6))
            self.at(when, "move", index, source.id, walk_in, quantity, "Shop floor top-up", None)

    def rebalance(self, moment: datetime, index: int) -> None:
        """Two warehouses: move stock to the one running short."""
        store, moved = self.stores[index], 0
        for product_id in store.physical:
            spots = [self.entries[i] for loc in store.locations.values()
                     if (i := self.entry_at.get((product_id, loc))) is not None]
            if len(spots) < 2:
                continue
            spots.sort(key=lambda e: e.available)
            short, rich = spots[0], spots[-1]
            if short.available <= 2 and rich.available >= 12 and moved < 4:
                moved += 1
                self.at(moment + timedelta(minutes=5 * moved), "move", index, rich.id,
                        short.location, rich.available // 3, "Rebalancing between warehouses",
                        None)

    def on_move(self, moment: datetime, index: int, source_id: int, to_location: int,
                quantity: int, reason: str, reference: str | None) -> None:
        """A planned transfer, trimmed to what the source still has when it happens."""
        source = self.entries[source_id]
        quantity = min(quantity, source.available)
        if quantity > 0:
            self.transfer(self.stores[index], source, to_location, quantity, reason, reference)

    def transfer(
        self, store: _Store, source: _Entry, to_location: int, quantity: int, reason: str,
        reference: str | None = None,
    ) -> None:
        change = stock.transfer_stock(
            actor=self.rng.choice(store.people), product_id=source.product,
            from_location_id=source.location, to_location_id=to_location, quantity=quantity,
            reason=reason, reference=reference,
        )
        self.track(change)

    def on_purchase(self, moment: datetime, index: int) -> None:
        """Reorder what has fallen to its reorder point, one purchase order per supplier;
        each line arrives days later, on its own day."""
        store = self.stores[index]
        due = [
            entry for entry in self.entries_of(store)
            if entry.location == store.home[entry.product]
            and entry.id not in store.on_order
            and entry.quantity <= self.reorder[entry.product][0]
        ]
        # A buyer's budget: some items wait for next week's order.
        self.rng.shuffle(due)
        chosen = due[: self.rng.randint(3, 7)]
        orders = self.place_orders(store, [(e, self.reorder[e.product][1]) for e in chosen],
                                   moment)
        for entry in chosen:
            store.on_order.add(entry.id)
            when = self.during_day(moment.replace(hour=0, minute=0, second=0)
                                   + timedelta(days=self.rng.randint(2, 5)), 9, 12)
            order_id, line_id = orders[entry.id]
            self.at(when, "receive", index, entry.id, order_id, line_id)

    def place_orders(self, store: _Store, wanted: list[tuple[_Entry, int]], moment: datetime,
                     *, place: bool = True, notes: str | None = None
                     ) -> dict[int, tuple[int, int]]:
        """Purchase orders for (entry, quantity) pairs, one per preferred supplier, at its
        cost of the day, placed unless `place` is False; entry id → (order id, line id)."""
        by_supplier: dict[int, list[tuple[_Entry, int]]] = {}
        for entry, quantity in wanted:
            supplier, _rate = self.supplier_of[entry.product]
            by_supplier.setdefault(supplier.id, []).append((entry, quantity))
        made: dict[int, tuple[int, int]] = {}
        for supplier_id, lines in sorted(by_supplier.items()):
            supplier, rate = self.supplier_of[lines[0][0].product]
            costs = {i.product_id: i.unit_cost for i in purchasing.list_supplier_items(
                store.lead, supplier_id)} if store.lead else {}
            places = {e.location for e, _q in lines}
            order = purchasing.create_purchase_order(
                actor=store.lead, supplier_id=supplier_id, exchange_rate=rate, notes=notes,
                deliver_to_id=next(iter(places)) if len(places) == 1 else None,
                expected_on=(moment + timedelta(days=supplier.lead_time_days)).date(),
                lines=[{"product_id": e.product, "location_id": e.location, "quantity": q,
                        "unit_cost": self.price_of(costs[e.product])} for e, q in lines])
            if place:
                order = purchasing.order_purchase_order(actor=store.lead, order_id=order.id)
            for line in order.lines:
                entry = next(e for e, _q in lines if e.product == line.product_id)
                made[entry.id] = (order.id, line.id)
        return made

    def price_of(self, listed: Decimal) -> Decimal:
        """What a supplier charges this time: its listed cost, give or take a few percent."""
        return (listed * Decimal(self.prices.choice((96, 98, 100, 100, 100, 102, 104, 105)))
                / 100).quantize(Decimal("0.01"))

    def on_receive(self, moment: datetime, index: int, entry_id: int, order_id: int,
                   line_id: int) -> None:
        """A delivery: the line comes in whole, received by whoever is on shift."""
        store = self.stores[index]
        store.on_order.discard(entry_id)
        person = self.rng.choice(store.people)
        change = purchasing.receive_purchase_order(
            actor=person if person.can(RECEIVE, store.id) else store.lead, order_id=order_id,
            lines=[{"line_id": line_id, "quantity": self.ordered(line_id)}])
        self.track(change)

    def ordered(self, line_id: int) -> int:
        quantity = db.session.scalar(select(PurchaseOrderLine.ordered_qty)
                                     .where(PurchaseOrderLine.id == line_id))
        db.session.rollback()
        return int(quantity)

    def on_adjust(self, moment: datetime, index: int) -> None:
        store, rng = self.stores[index], self.rng
        entry = self.pick(store, minimum=2)
        if entry is None:
            return
        if rng.random() < 0.75:
            delta, reason = -rng.randint(1, min(2, entry.available)), rng.choice(LOSS_REASONS)
        else:
            delta, reason = rng.randint(1, 3), rng.choice(GAIN_REASONS)
        self.track(stock.adjust_stock(actor=rng.choice(store.people), entry_id=entry.id,
                                          delta=delta, reason=reason))

    def on_return(self, moment: datetime, index: int) -> None:
        store, rng = self.stores[index], self.rng
        if not store.sold:
            return
        entry_id, order = store.sold.pop(rng.randrange(len(store.sold)))
        if entry_id not in self.entries:
            return
        person = rng.choice(store.people)
        quarantine = store.location(store.spec.quarantine)
        if quarantine is not None and rng.random() < 0.35:
            self.track(stock.return_stock(
                actor=person, entry_id=entry_id, quantity=1, reason="Customer return: opened",
                reference=order,
            ))
            self.at(moment + timedelta(minutes=3), "quarantine", index, entry_id, order)
            return
        self.track(stock.return_stock(
            actor=person, entry_id=entry_id, quantity=1, reason=rng.choice(RETURN_REASONS),
            reference=order,
        ))

    def on_quarantine(self, moment: datetime, index: int, entry_id: int, order: str) -> None:
        """An opened return goes to the returns bay until someone has looked at it."""
        store, returned = self.stores[index], self.entries[entry_id]
        quarantine = store.location(store.spec.quarantine)
        if quarantine is None or returned.available < 1:
            return
        self.transfer(store, returned, quarantine, 1, "Opened return awaiting inspection", order)
        held = self.entry_at[(returned.product, quarantine)]
        self.at(moment + timedelta(days=self.rng.uniform(1, 3)), "inspect", index, held,
                entry_id, order)

    def on_inspect(self, moment: datetime, index: int, held: int, back_to: int,
                   order: str) -> None:
        store, entry = self.stores[index], self.entries[held]
        if entry.available < 1:
            return
        if self.rng.random() < 0.7:
            self.transfer(store, entry, self.entries[back_to].location, 1,
                          "Inspected: resaleable", order)
        else:
            self.track(stock.adjust_stock(
                actor=self.rng.choice(store.people), entry_id=held, delta=-1,
                reason="Inspected: damaged, written off", reference=order,
            ))

    def on_count(self, moment: datetime, index: int) -> None:
        """End-of-day cycle count; most shelves agree with the system, a few don't."""
        store, rng = self.stores[index], self.rng
        candidates = self.entries_of(store)
        if not candidates:
            return
        entry = rng.choice(candidates)
        counted = max(entry.reserved, entry.quantity + rng.choice((0, 0, 0, 0, -1, -1, -2, 1)))
        self.track(stock.count_stock(
            actor=rng.choice(store.people), entry_id=entry.id, counted_quantity=counted,
            reason="Cycle count",
        ))

    def on_stocktake(self, moment: datetime, index: int) -> None:
        """The weekly stocktake sheet, keyed in as exact quantities by the store's lead."""
        store, rng = self.stores[index], self.rng
        entry = rng.choice(self.entries_of(store))
        quantity = max(entry.reserved, entry.quantity + rng.choice((-3, -2, -1, 0, 1, 2)))
        self.track(stock.set_stock(
            actor=store.lead, entry_id=entry.id, quantity=quantity,
            reason="Weekly stocktake", expected_quantity=entry.quantity,
        ))

    # ---- the present ----------------------------------------------------------------

    def set_the_scene(self) -> datetime:
        """The last hours before now: a few sell-outs, low shelves and holds, so that every
        status and every kind of reservation is there to look at."""
        moment = self.cutoff
        with frozen_at(moment):
            if stock.expire_reservations():
                self.reload()
        wanted = {"out_of_stock": 24, "on_backorder": 10, "low_stock": 45}
        have = Counter(self.status(e) for e in self.entries.values())
        in_stock = sorted(
            (e for e in self.entries.values() if self.status(e) == "in_stock"),
            key=lambda e: e.id,
        )
        self.rng.shuffle(in_stock)
        for entry in in_stock:
            store = self.store_of(entry)
            backorder = self.backorder[entry.product]
            target = "on_backorder" if backorder else self.rng.choice(
                ("out_of_stock", "low_stock", "low_stock")
            )
            if have[target] >= wanted[target]:
                continue
            moment += timedelta(seconds=self.rng.randint(20, 45))
            with frozen_at(moment):
                if target == "low_stock":
                    if not entry.threshold:
                        entry.threshold = self.rng.randint(3, 8)
                        stock.set_threshold(actor=store.lead, entry_id=entry.id,
                                                low_stock_threshold=entry.threshold)
                    keep = self.rng.randint(1, entry.threshold)
                    if entry.available > keep:
                        self.wholesale(store, entry, entry.available - keep)
                else:
                    self.wholesale(store, entry, entry.available)
            have[target] += 1
            have["in_stock"] -= 1

        # The manager raises a reorder point after the rush: a change that is not stock.
        moment += timedelta(minutes=2)
        with frozen_at(moment):
            self.raise_reorder_point(self.stores[0])

        # Holds that are still open: click-and-collect, layaway, and checkouts whose
        # expiry passed after the last sweep, so `flask inventory expire-reservations`
        # has work on a freshly seeded database.
        open_holds = (
            [("CC", timedelta(days=3), "Click and collect")] * 6
            + [("LAY", None, "Layaway")] * 3
            + [("WEB", timedelta(minutes=45), "Checkout hold")] * 5
        )
        for prefix, lasts, reason in open_holds:
            moment += timedelta(minutes=self.rng.randint(1, 4))
            store = self.stores[self.rng.randrange(len(self.stores))]
            entry = self.pick(store, minimum=8, shipping=True)
            if entry is None:
                continue
            with frozen_at(moment):
                self.track(stock.reserve_stock(
                    actor=self.storefront if prefix == "WEB" else self.rng.choice(store.people),
                    entry_id=entry.id, quantity=self.rng.randint(1, 2),
                    order_ref=f"{prefix}-{store.spec.order_prefix}-{next(store.orders)}",
                    line_ref="1", expires_at=moment + lasts if lasts else None, reason=reason,
                ))
        assert moment < self.now, "the demo history must end before the moment of seeding"
        return moment

    def buy_in(self, moment: datetime) -> None:
        """What a buyer has on the go in every store, whatever the history left: a draft
        being filled, at least two orders placed and awaited, one partly received, one
        cancelled, and the received ones behind them."""
        for store in self.stores:
            moment += timedelta(minutes=3)
            with frozen_at(moment):
                self.orders_in_every_state(store, moment)
        assert moment < self.now, "the demo history must end before the moment of seeding"

    def orders_in_every_state(self, store: _Store, moment: datetime) -> None:
        lead = store.lead
        assert lead is not None
        awaited = {pid for pid, in db.session.execute(
            select(PurchaseOrderLine.product_id).join(
                PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
            .where(PurchaseOrder.store_id == store.id,
                   PurchaseOrder.status.in_(("draft", "ordered", "partially_received"))))}
        db.session.rollback()
        # The emptiest shelves nobody has ordered for yet, at their home locations.
        short = sorted((e for e in self.entries_of(store)
                        if e.location == store.home[e.product] and e.product not in awaited),
                       key=lambda e: (e.available - self.reorder[e.product][0], e.id))
        picks = iter(short)

        def take(count: int) -> list[tuple[_Entry, int]]:
            return [(entry, self.reorder[entry.product][1])
                    for entry in itertools.islice(picks, count)]

        self.place_orders(store, take(3), moment, place=False,
                          notes="Top up before the weekend; ask about the autumn colours.")
        for order_id, _line in set(self.place_orders(store, take(1), moment).values()):
            purchasing.cancel_purchase_order(
                actor=lead, order_id=order_id,
                reason="The supplier cannot deliver before the season ends.")
        if not self.orders_of(store, "partially_received"):
            placed = self.orders_of(store, "ordered")
            order_id = placed[0] if placed else next(iter(
                self.place_orders(store, take(2), moment).values()))[0]
            lines = purchasing.get_purchase_order(lead, order_id).lines
            first = lines[0]
            quantity = first.ordered_qty if len(lines) > 1 else max(first.ordered_qty // 2, 1)
            self.track(purchasing.receive_purchase_order(
                actor=lead, order_id=order_id,
                lines=[{"line_id": first.id, "quantity": quantity}]))
        for _ in range(2 - len(self.orders_of(store, "ordered"))):
            self.place_orders(store, take(2), moment)

    def orders_of(self, store: _Store, status: str) -> list[int]:
        """A store's orders in a status, newest first."""
        found = list(db.session.scalars(
            select(PurchaseOrder.id).where(PurchaseOrder.store_id == store.id,
                                           PurchaseOrder.status == status)
            .order_by(PurchaseOrder.id.desc())))
        db.session.rollback()
        return found

    def raise_reorder_point(self, store: _Store) -> None:
        """Reorder the store's first product two units earlier, and a few more at a time."""
        product = catalog.get_product(store.lead, store.physical[0])
        point, quantity = product.reorder_point + 2, product.reorder_quantity + 6
        catalog.update_product(
            actor=store.lead, product_id=product.id, sku=product.sku, title=product.title,
            gtin=product.gtin, product_type=product.type,
            allow_backorder=product.allow_backorder, reorder_point=point,
            reorder_quantity=quantity, reorder_up_to=product.reorder_up_to,
        )
        self.reorder[product.id] = (point, quantity)

    def wholesale(self, store: _Store, entry: _Entry, quantity: int) -> None:
        """A trade customer takes a large lot: reserved, then collected a minute later."""
        if quantity < 1:
            return
        order = f"WHS-{store.spec.order_prefix}-{next(store.orders)}"
        change = stock.reserve_stock(
            actor=store.lead, entry_id=entry.id, quantity=quantity, order_ref=order,
            line_ref="1", reason="Trade order",
        )
        self.track(change)
        hold = change.reservation_ids[0]
        with frozen_at(utcnow() + timedelta(seconds=20)):
            self.track(stock.fulfill_stock(actor=store.lead, reservation_id=hold,
                                               order_ref=order, reason="Collected"))

    # ---- helpers --------------------------------------------------------------------

    def status(self, entry: _Entry) -> str:
        if entry.available <= 0:
            return "on_backorder" if self.backorder[entry.product] else "out_of_stock"
        if entry.threshold and entry.available <= entry.threshold:
            return "low_stock"
        return "in_stock"

    def store_of(self, entry: _Entry) -> _Store:
        return next(s for s in self.stores if s.id == entry.store)

    def entries_of(self, store: _Store, *, location: int | None = None) -> list[_Entry]:
        return [e for e in self.entries.values()
                if e.store == store.id and (location is None or e.location == location)]

    def pick(
        self, store: _Store, *, minimum: int, location: int | None = None,
        exclude: set[int] | frozenset[int] = frozenset(), shipping: bool = False,
    ) -> _Entry | None:
        """A random entry with at least `minimum` available, or None after a few tries;
        `shipping` leaves out the shop floor and the returns bay."""
        candidates = self.entries_of(store, location=location)
        if shipping:
            skip = {store.location(store.spec.walk_in), store.location(store.spec.quarantine)}
            candidates = [e for e in candidates if e.location not in skip]
        for _ in range(12):
            if not candidates:
                return None
            entry = self.rng.choice(candidates)
            if entry.available >= minimum and entry.id not in exclude:
                return entry
        return None

    def active(self, hold: int) -> bool:
        status = db.session.scalar(select(Reservation.status).where(Reservation.id == hold))
        db.session.rollback()
        return status == "active"
