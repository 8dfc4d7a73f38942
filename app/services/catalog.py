"""Products: what a store sells, identified by SKU, optionally by GTIN."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.database import is_unique_violation, write_transaction
from app.models import PRODUCT_TYPES, Product, Store
from app.permissions import CATALOG, Actor
from app.services.errors import Conflict, NotFound, PermissionDenied
from app.services.validation import Checker

GTIN_LENGTHS = (8, 12, 13, 14)


def gtin_check_digit(body: str) -> str:
    """The GS1 check digit for a GTIN without its last digit.

    Weights alternate 3, 1, … starting from the digit next to the check digit, so the
    same rule serves GTIN-8, -12, -13 and -14.
    """
    if not body.isdigit():
        raise ValueError("a GTIN has digits only")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def is_valid_gtin(code: str) -> bool:
    """True for a GTIN-8/12/13/14 whose check digit is right."""
    return (
        code.isascii() and code.isdigit() and len(code) in GTIN_LENGTHS
        and gtin_check_digit(code[:-1]) == code[-1]
    )


def create_product(
    *,
    actor: Actor,
    store_id: int,
    sku: str,
    title: str,
    gtin: str | None = None,
    product_type: str = "physical",
    allow_backorder: bool = False,
    reorder_point: int = 0,
    reorder_quantity: int = 0,
) -> Product:
    """Add a product to a store's catalog. Raises ValidationError, Conflict, NotFound,
    PermissionDenied."""
    check = Checker()
    check.text("sku", sku, required=True, max_length=64)
    check.text("title", title, required=True, max_length=200)
    check.text("gtin", gtin, required=False, max_length=14)
    if isinstance(gtin, str) and gtin.strip() and not is_valid_gtin(gtin.strip()):
        check.fail("gtin", "Enter a GTIN of 8, 12, 13 or 14 digits with a valid check digit.")
    if product_type not in PRODUCT_TYPES:
        check.fail("product_type", f"Choose one of: {', '.join(PRODUCT_TYPES)}.")
    if not isinstance(allow_backorder, bool):
        check.fail("allow_backorder", "Choose yes or no.")
    check.whole("reorder_point", reorder_point, minimum=0)
    check.whole("reorder_quantity", reorder_quantity, minimum=0)
    check.done()
    if type(store_id) is not int or not actor.is_member(store_id):
        raise NotFound("Store not found.")
    if not actor.can(CATALOG, store_id):
        raise PermissionDenied(CATALOG)
    sku = sku.strip()

    try:
        with write_transaction() as session:
            if session.get(Store, store_id) is None:
                raise NotFound("Store not found.")
            if session.scalar(
                select(func.count()).where(Product.store_id == store_id, Product.sku == sku)
            ):
                raise Conflict(f"This store already has a product with the SKU {sku}.")
            product = Product(
                store_id=store_id, sku=sku, title=title.strip(),
                gtin=(gtin or "").strip() or None, type=product_type,
                # Unlimited products never run short, so backorders mean nothing for them.
                allow_backorder=allow_backorder and product_type == "physical",
                reorder_point=reorder_point, reorder_quantity=reorder_quantity,
            )
            session.add(product)
            session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc, "sku"):
            raise
        raise Conflict(f"This store already has a product with the SKU {sku}.") from exc
    return product
