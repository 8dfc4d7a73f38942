"""Small translations between the wire and the read models' own types."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

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
