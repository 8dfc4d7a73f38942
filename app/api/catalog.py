"""The catalog of the stores the token's user belongs to: items with options and their
variants, and bundles. The same service functions as the catalog screens, with the same
permission (catalog:manage) and the same audit rows.

Each change takes an Idempotency-Key as the stock changes do: its first answer is stored
in the change's own transaction and a repeat gets it back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from flask import Response, jsonify

from app.api.auth import api_actor
from app.api.common import IDEMPOTENCY_HEADER, api_blueprint, idempotency_key
from app.api.presenters import item_stock
from app.api.schemas import (
    BundleOut,
    ComponentsIn,
    ItemCreateIn,
    ItemOut,
    ItemUpdateIn,
    OptionValueIn,
)
from app.permissions import CATALOG, Actor
from app.services import bundles, catalog, items, queries
from app.services.errors import PermissionDenied, ValidationError
from app.services.idempotency import Outcome, once

bp = api_blueprint(
    "store_catalog", "/api/v1/store",
    "Items with options and their variants, and bundles, in the stores the token's user "
    "belongs to. Changes need catalog:manage and are recorded in the store's activity. An "
    "item's stock is read at /api/v1/store/inventory/item/{item_id}.",
)
MUTATION = {"parameters": [IDEMPOTENCY_HEADER]}
ITEM_ID = "<int(min=1, max=2147483647):item_id>"
PRODUCT_ID = "<int(min=1, max=2147483647):product_id>"
ITEM_OUT = ItemOut()
BUNDLE_OUT = BundleOut()


@bp.route("/items", methods=["POST"])
@bp.arguments(ItemCreateIn)
@bp.response(201, ItemOut)
@bp.doc(**MUTATION)
def create_item(args: dict[str, Any]) -> Any:
    """Create an item with its options and a variant (a product with its own SKU) for
    each combination of their values: SKUs made from `sku_prefix` as the New item form
    makes them, or given per variant in `variants`. All variants or none."""
    actor = api_actor()
    store_id = queries.resolve_store(actor, args.get("store_id"))
    options = [items.Option(o["name"].strip(), tuple(v.strip() for v in o["values"]))
               for o in args["options"]]

    def work() -> dict[str, Any]:
        if "variants" in args:
            specs, names = _given_variants(options, args), {"sku": "variants", "gtin": "variants"}
        else:
            names = {"sku": "sku_prefix"}
            with fields_named(names):
                specs = items.generate(options, args["sku_prefix"],
                                       reorder_point=args["reorder_point"],
                                       reorder_quantity=args["reorder_quantity"],
                                       reorder_up_to=args["reorder_up_to"])
        with fields_named(names):
            made = items.create_item(
                actor=actor, store_id=store_id, title=args["title"], options=options,
                variants_to_make=specs, product_type=args["product_type"],
                allow_backorder=args["allow_backorder"], description=args.get("description"),
                status=args["status"],
            )
        return _item(actor, made.id)

    return _answer(once("item.create", actor, idempotency_key(),
                        {**args, "store_id": store_id}, work), 201)


@bp.route(f"/items/{ITEM_ID}", methods=["PATCH"])
@bp.arguments(ItemUpdateIn)
@bp.response(200, ItemOut)
@bp.doc(**MUTATION)
def update_item(args: dict[str, Any], item_id: int) -> Any:
    """Change an item's title (each variant's title follows), description or status
    (active, or draft to leave it out of the public read)."""
    actor = api_actor()

    def work() -> dict[str, Any]:
        items.update_item(actor=actor, item_id=item_id, **args)
        return _item(actor, item_id)

    return _answer(once("item.update", actor, idempotency_key(),
                        {**args, "item_id": item_id}, work), 200)


@bp.route(f"/items/{ITEM_ID}/option-values", methods=["POST"])
@bp.arguments(OptionValueIn)
@bp.response(201, ItemOut)
@bp.doc(**MUTATION)
def add_option_value(args: dict[str, Any], item_id: int) -> Any:
    """Add a value to one of the item's options, and with it a variant for every
    combination with the other options' values, with the settings of the item's first
    variant."""
    actor = api_actor()

    def work() -> dict[str, Any]:
        view = items.get_item(actor, item_id)
        if not actor.can(CATALOG, view.store_id):
            raise PermissionDenied(CATALOG)
        names = [o.name.casefold() for o in view.options]
        wanted = args["option"].strip().casefold()
        if wanted not in names:
            raise ValidationError({"option": (
                f"{view.title} has no option {args['option'].strip()}; its options are "
                f"{', '.join(o.name for o in view.options)}." if names
                else f"{view.title} has no options to add a value to.")})
        items.add_option_value(actor=actor, item_id=item_id, option=names.index(wanted) + 1,
                               value=args["value"],
                               sku_prefix=args.get("sku_prefix") or items.sku_prefix_of(view))
        return _item(actor, item_id)

    return _answer(once("item.add_value", actor, idempotency_key(),
                        {**args, "item_id": item_id}, work), 201)


@bp.route(f"/items/{ITEM_ID}/archive", methods=["POST"])
@bp.response(200, ItemOut)
@bp.doc(**MUTATION)
def archive_item(item_id: int) -> Any:
    """Archive an item and all its variants, as archiving a product does: they leave the
    product list, the reorder report and the public reads; their entries, stock,
    reservations and history stay."""
    return _archived(item_id, archived=True)


@bp.route(f"/items/{ITEM_ID}/unarchive", methods=["POST"])
@bp.response(200, ItemOut)
@bp.doc(**MUTATION)
def unarchive_item(item_id: int) -> Any:
    """Restore an archived item, active, with all its variants."""
    return _archived(item_id, archived=False)


@bp.route(f"/products/{PRODUCT_ID}/components", methods=["PUT"])
@bp.arguments(ComponentsIn)
@bp.response(200, BundleOut)
@bp.doc(**MUTATION)
def set_components(args: dict[str, Any], product_id: int) -> Any:
    """Make a product a bundle of these components (physical products of its store), or
    change them; an empty list makes it an ordinary product again. A bundle holds no
    stock of its own: a product with entries cannot become one."""
    actor = api_actor()
    parts = [(c["product_id"], c["quantity"]) for c in args["components"]]

    def work() -> dict[str, Any]:
        made = bundles.set_components(actor=actor, bundle_id=product_id, parts=parts)
        return BUNDLE_OUT.dump({  # type: ignore[no-any-return]
            "product_id": product_id, "sku": catalog.get_product(actor, product_id).sku,
            "components": [{"product_id": c.product_id, "sku": c.sku, "title": c.title,
                            "quantity": c.quantity} for c in made],
        })

    return _answer(once("product.components", actor, idempotency_key(),
                        {**args, "product_id": product_id}, work), 200)


# --------------------------------------------------------------------------- helpers


def _archived(item_id: int, *, archived: bool) -> Any:
    actor = api_actor()
    service = items.archive_item if archived else items.unarchive_item

    def work() -> dict[str, Any]:
        service(actor=actor, item_id=item_id)
        return _item(actor, item_id)

    return _answer(once("item.archive" if archived else "item.unarchive", actor,
                        idempotency_key(), {"item_id": item_id}, work), 200)


def _item(actor: Actor, item_id: int) -> dict[str, Any]:
    """The item as its read answers it, as it stands inside the change's transaction."""
    return ITEM_OUT.dump(item_stock(items.get_item(actor, item_id)))  # type: ignore[no-any-return]


def _answer(outcome: Outcome, status: int) -> tuple[Response, int, dict[str, str]]:
    """A change's answer; a replay says so in a header, so the body is the first one's."""
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return jsonify(outcome.body), status, headers


def _given_variants(options: Sequence[items.Option],
                    args: Mapping[str, Any]) -> list[items.VariantSpec]:
    """The request's variants in the options' order; a variant naming an option the item
    lacks, or missing one, is refused naming `variants`."""
    by_name = {o.name.casefold(): n for n, o in enumerate(options)}
    if len(by_name) != len(options):
        raise ValidationError({"options": "Two options have one name; name each once."})
    specs = []
    for number, variant in enumerate(args["variants"]):
        values: list[str | None] = [None] * len(options)
        for name, value in variant["options"].items():
            index = by_name.get(name.strip().casefold())
            if index is None:
                raise ValidationError({f"variants[{number}].options": (
                    f"There is no option {name.strip()}; the options are "
                    f"{', '.join(o.name for o in options)}." if options
                    else "The item has no options: give {}.")})
            values[index] = value.strip()
        missing = [o.name for o, v in zip(options, values, strict=True) if v is None]
        if missing:
            raise ValidationError({f"variants[{number}].options": (
                f"Give a value of {', '.join(missing)}.")})
        specs.append(items.VariantSpec(
            values=tuple(v for v in values if v is not None), sku=variant["sku"],
            gtin=variant.get("gtin"), reorder_point=args["reorder_point"],
            reorder_quantity=args["reorder_quantity"], reorder_up_to=args["reorder_up_to"]))
    return specs


@contextmanager
def fields_named(names: Mapping[str, str]) -> Iterator[None]:
    """A refusal naming the service's fields as the request names them (the SKUs a
    request gives as `sku_prefix` or in `variants`)."""
    try:
        yield
    except ValidationError as exc:
        raise ValidationError({names.get(k, k): v for k, v in exc.fields.items()}) from exc
