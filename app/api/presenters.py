"""Small translations between the wire and the read models' own types."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from app.models import UNLIMITED_TYPES
from app.services.items import ItemView, PublicVariant
from app.services.queries import Availability, EntryFilters, LineAvailability, ProductStock


def entry_filters(args: dict[str, Any], **fixed: Any) -> EntryFilters:
    """The overview's filters from list query arguments (`low_stock` is the seed's name
    for a maximum on-hand quantity)."""
    max_quantity = args.get("max_quantity", args.get("low_stock"))
    values = {
        "store_id": args.get("store_id"),
        "location_id": args.get("location_id"),
        "status": args.get("status"),
        "max_quantity": max_quantity,
        "search": args.get("q"),
        "sort": args["sort"],
        "descending": args["order"] == "desc",
    }
    values.update(fixed)
    return EntryFilters(**values)


def product_summary(stock: ProductStock) -> dict[str, Any]:
    """Unlimited products show no available count, never a stand-in number."""
    data = asdict(stock)
    data["unlimited"] = stock.unlimited
    data["locations"] = stock.locations
    if stock.unlimited:
        data["total_available"] = None
    return data


def public_availability(view: Availability) -> dict[str, Any]:
    """The public read: a count or `unlimited`, and the status, nothing else."""
    body: dict[str, Any] = {"product_id": view.product_id, "status": view.status}
    if view.unlimited:
        body["unlimited"] = True
    else:
        body["available"] = view.available
    return body


def line_availability(lines: list[LineAvailability]) -> list[dict[str, Any]]:
    """Per-line answers; an unlimited line says so and carries no count."""
    answers = []
    for line in lines:
        data = asdict(line)
        if line.unlimited:
            data.pop("available")
        answers.append(data)
    return answers


def item_stock(view: ItemView, location_codes: dict[int, str] | None = None) -> dict[str, Any]:
    """An item for the API: options by name, and each variant's stock per location."""
    codes = location_codes or {c.id: c.code for c in view.locations}
    names = [o.name for o in view.options]
    return {
        "item_id": view.id, "store_id": view.store_id, "title": view.title,
        "description": view.description, "status": view.status,
        "options": [{"name": o.name, "values": list(o.values)} for o in view.options],
        "total_quantity": view.on_hand, "total_available": view.available,
        "variants": [
            {
                "product_id": v.product_id, "sku": v.sku, "gtin": v.gtin,
                "product_type": v.type, "archived": v.archived,
                "unlimited": v.type in UNLIMITED_TYPES,
                "options": dict(zip(names, v.values, strict=False)),
                "total_quantity": v.on_hand,
                # Unlimited variants show no count, never a stand-in number.
                "total_available": None if v.type in UNLIMITED_TYPES else v.available,
                "locations": [
                    {"entry_id": cell.entry_id, "location_id": location_id,
                     "location": codes.get(location_id, ""), "quantity": cell.quantity,
                     "reserved": cell.reserved, "available": cell.available,
                     "status": cell.status}
                    for location_id, cell in sorted(v.cells.items(),
                                                    key=lambda kv: codes.get(kv[0], ""))
                ],
            }
            for v in view.variants
        ],
    }


def public_item(item_id: int, variants: list[PublicVariant]) -> dict[str, Any]:
    """The public read of an item: each live variant's count or `unlimited`, and status."""
    rows = []
    for v in variants:
        row = {"product_id": v.product_id, "sku": v.sku, "options": v.options,
               **public_availability(v.availability)}
        rows.append(row)
    return {"item_id": item_id, "variants": rows}
