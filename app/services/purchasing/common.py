"""What the purchasing verbs share: checks of their fields, and the store and product
look-ups they make inside their transactions."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import UNLIMITED_TYPES, Product, Store
from app.permissions import Actor
from app.services.bundles import bundle_parts
from app.services.errors import Conflict, NotFound, PermissionDenied
from app.services.validation import Checker, is_id, unsafe_character

products = Product.__table__
stores = Store.__table__

MAX_NOTES = 2000
# Something@something.something, no spaces: enough to catch a name typed in the wrong box.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def line_field(n: int, name: str) -> str:
    return f"lines[{n}].{name}"


def checked_line_places(
    check: Checker, given: Any, *, limit: int, empty: str, too_many: str, shape: str,
) -> Iterator[tuple[int, Mapping[str, Any], Any, Any]]:
    """The lines of a list naming a product and a location each, as (n, line, product_id,
    location_id): the list's shape and length, each line's ids, and no product sent twice
    to one location are checked on `check` (`empty`, `too_many` and `shape` are the
    messages of the first three). A line that is not a mapping is named and skipped."""
    if not isinstance(given, Sequence) or isinstance(given, str) or not given:
        check.fail("lines", empty)
        return
    if len(given) > limit:
        check.fail("lines", too_many)
        return
    seen: dict[tuple[Any, Any], int] = {}
    for n, line in enumerate(given):
        if not isinstance(line, Mapping):
            check.fail(f"lines[{n}]", shape)
            continue
        product_id, location_id = line.get("product_id"), line.get("location_id")
        if not is_id(product_id):
            check.fail(line_field(n, "product_id"), "Choose a product.")
        if not is_id(location_id):
            check.fail(line_field(n, "location_id"), "Choose a location.")
        if is_id(product_id) and is_id(location_id):
            if (product_id, location_id) in seen:
                check.fail(line_field(n, "product_id"),
                           f"Line {seen[(product_id, location_id)] + 1} already orders this "
                           "product to this location.")
            seen.setdefault((product_id, location_id), n)
        yield n, line, product_id, location_id


def check_notes(check: Checker, field: str, value: Any) -> None:
    """Free text of several lines: tabs and line breaks allowed, other controls not."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return
    if not isinstance(value, str):
        check.fail(field, "Enter text.")
    elif len(value.strip()) > MAX_NOTES:
        check.fail(field, f"Must be at most {MAX_NOTES} characters.")
    elif (problem := unsafe_character(value)) is not None:
        check.fail(field, problem)


def check_email(check: Checker, field: str, value: Any) -> None:
    check.text(field, value, required=False, max_length=254)
    if isinstance(value, str) and value.strip() and field not in check.errors and not (
        _EMAIL.fullmatch(value.strip())
    ):
        check.fail(field, "Enter an email address, like orders@example.com.")


def text_or_none(value: Any) -> str | None:
    """What a checked optional text field stores: stripped, empty as None."""
    if not isinstance(value, str):
        return None
    return value.strip() or None


def require(actor: Actor, permission: str, store_id: int) -> None:
    if not actor.can(permission, store_id):
        raise PermissionDenied(permission)


def store_currency(session: Session, store_id: int) -> str:
    return str(session.scalar(select(stores.c.currency).where(stores.c.id == store_id)))


def stockable(session: Session, store_id: int, product_ids: list[int], field_of: Any
              ) -> dict[int, Any]:
    """The products (id → row with sku, title), all of this store and all holding stock of
    their own. Raises NotFound naming `field_of(product_id)` for a product outside the
    store, Conflict for an unlimited product or a bundle."""
    found = {
        r.id: r for r in session.execute(
            select(products.c.id, products.c.sku, products.c.title, products.c.type)
            .where(products.c.id.in_(sorted(set(product_ids))),
                   products.c.store_id == store_id)
        )
    }
    for product_id in product_ids:
        if product_id not in found:
            raise NotFound(f"Product {product_id} not found.",
                           {field_of(product_id): "No such product in this store."})
    for product_id in product_ids:
        row = found[product_id]
        if row.type in UNLIMITED_TYPES:
            raise Conflict(f"{row.sku} is a {row.type} product: its stock is unlimited and "
                           "is never bought in.")
    kits = bundle_parts(session, product_ids)
    if kits:
        sku = found[min(kits)].sku
        raise Conflict(f"{sku} is a bundle: it holds no stock of its own. Buy its "
                       "components instead.")
    return found
