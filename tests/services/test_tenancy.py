"""A member of store A reaching for any id of store B gets NotFound, exactly as if the id
did not exist, and nothing changes. Every call differs from one that succeeds only in
that one id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.extensions import db
from app.models import Store
from app.permissions import GRANTABLE_TO_STAFF, ROLE_PERMISSIONS
from app.services import stock
from app.services.errors import NotFound

MISSING = 987_654


@pytest.fixture
def world(make_store, make_location, make_product, make_entry, admin_actor):
    """Stores "a" (the actor's) and "b" (foreign), each with stock, two holds, an entry
    without holds and a product without entries."""
    w: dict[str, dict[str, int]] = {}
    for name in ("a", "b"):
        store = make_store()
        here, there = make_location(store), make_location(store)
        product, spare = make_product(store), make_product(store)
        entry = make_entry(quantity=20, location=here, product=product)
        loose = make_entry(quantity=5, location=there)
        hold, hold2 = (
            stock.reserve_stock(
                actor=admin_actor, entry_id=entry.id, quantity=3, order_ref=ref
            ).reservation_ids[0]
            for ref in ("HELD-1", "HELD-2")
        )
        w[name] = {"store": store.id, "here": here.id, "there": there.id,
                   "product": product.id, "spare": spare.id, "entry": entry.id,
                   "loose": loose.id, "hold": hold, "hold2": hold2}
    return w


# Builds the call's kwargs: `a` is the actor's own world, `pick(key)` the id under test.
Build = Callable[[dict[str, int], Callable[[str], int]], dict[str, Any]]

CASES: list[tuple[str, Callable[..., Any], Build, str]] = [
    ("adjust entry", stock.adjust_stock,
     lambda a, pick: {"entry_id": pick("entry"), "delta": -1, "reason": "x"},
     "Inventory entry not found."),
    ("set entry", stock.set_stock,
     lambda a, pick: {"entry_id": pick("entry"), "quantity": 15},
     "Inventory entry not found."),
    ("count entry", stock.count_stock,
     lambda a, pick: {"entry_id": pick("entry"), "counted_quantity": 15},
     "Inventory entry not found."),
    ("return to entry", stock.return_stock,
     lambda a, pick: {"entry_id": pick("entry"), "quantity": 1, "reason": "x"},
     "Inventory entry not found."),
    ("reserve entry", stock.reserve_stock,
     lambda a, pick: {"entry_id": pick("entry"), "quantity": 1, "order_ref": "O"},
     "Inventory entry not found."),
    ("release on entry", stock.release_stock,
     lambda a, pick: {"entry_id": pick("entry"), "quantity": 1},
     "Inventory entry not found."),
    ("fulfill on entry", stock.fulfill_stock,
     lambda a, pick: {"entry_id": pick("entry"), "quantity": 1},
     "Inventory entry not found."),
    ("threshold of entry", stock.set_threshold,
     lambda a, pick: {"entry_id": pick("entry"), "low_stock_threshold": 2},
     "Inventory entry not found."),
    ("release reservation", stock.release_stock,
     lambda a, pick: {"reservation_id": pick("hold")},
     "Reservation not found."),
    ("fulfill reservation", stock.fulfill_stock,
     lambda a, pick: {"reservation_id": pick("hold2"), "quantity": 1},
     "Reservation not found."),
    ("create entry for product", stock.create_entry,
     lambda a, pick: {"product_id": pick("spare"), "location_id": a["here"]},
     "Product not found."),
    ("create entry at location", stock.create_entry,
     lambda a, pick: {"product_id": a["spare"], "location_id": pick("there")},
     "Location not found."),
    ("transfer product", stock.transfer_stock,
     lambda a, pick: {"product_id": pick("product"), "from_location_id": a["here"],
                      "to_location_id": a["there"], "quantity": 1},
     "This product has no stock at the source location."),
    ("transfer from location", stock.transfer_stock,
     lambda a, pick: {"product_id": a["product"], "from_location_id": pick("here"),
                      "to_location_id": a["there"], "quantity": 1},
     "This product has no stock at the source location."),
    ("transfer to location", stock.transfer_stock,
     lambda a, pick: {"product_id": a["product"], "from_location_id": a["here"],
                      "to_location_id": pick("there"), "quantity": 1},
     "Target location not found."),
    ("order in store", stock.reserve_order,
     lambda a, pick: {"store_id": pick("store"), "order_ref": "O",
                      "lines": [{"product_id": a["product"], "location_id": a["here"],
                                 "quantity": 1}]},
     "Store not found."),
    ("order line product", stock.reserve_order,
     lambda a, pick: {"store_id": a["store"], "order_ref": "O",
                      "lines": [{"product_id": pick("product"), "location_id": a["here"],
                                 "quantity": 1}]},
     "Product {id} not found."),
    ("order line location", stock.reserve_order,
     lambda a, pick: {"store_id": a["store"], "order_ref": "O",
                      "lines": [{"product_id": a["product"], "location_id": pick("here"),
                                 "quantity": 1}]},
     "Location {id} not found."),
    ("delete entry", stock.delete_entry,
     lambda a, pick: {"entry_id": pick("loose")},
     "Inventory entry not found."),
]

MEMBERSHIPS = [(role, tuple(sorted(GRANTABLE_TO_STAFF)) if role == "staff" else ())
               for role in ROLE_PERMISSIONS]


def _refuse_every_case(actor, world, refused, subtests, *, exact: bool = True) -> None:
    for what, operation, build, message in CASES:
        for label, pick in (("foreign", lambda key: world["b"][key]),
                            ("missing", lambda _key: MISSING)):
            with subtests.test(what, id=label):
                picked: list[int] = []

                def record(key: str, pick=pick, picked=picked) -> int:
                    picked.append(pick(key))
                    return picked[-1]

                kwargs = build(world["a"], record)
                expected = message.format(id=picked[0]) if exact else None
                with refused(NotFound, expected):
                    operation(actor=actor, **kwargs)


@pytest.mark.parametrize(("role", "grants"), MEMBERSHIPS, ids=[r for r, _ in MEMBERSHIPS])
def test_a_member_of_one_store_finds_nothing_of_another(
    role, grants, world, make_user, actor_of, refused, subtests
):
    store_a = db.session.get(Store, world["a"]["store"])
    actor = actor_of(make_user(role=role, store=store_a, grants=grants))

    _refuse_every_case(actor, world, refused, subtests)


def test_a_user_without_memberships_finds_nothing(world, make_user, actor_of, refused,
                                                  subtests):
    _refuse_every_case(actor_of(make_user()), world, refused, subtests, exact=False)


def test_the_same_calls_on_the_actors_own_ids_succeed(world, member, subtests):
    actor = member(db.session.get(Store, world["a"]["store"]), "owner")

    for what, operation, build, _message in CASES:
        with subtests.test(what):
            change = operation(actor=actor, **build(world["a"], lambda key: world["a"][key]))
            assert {e.store_id for e in change.entries} <= {world["a"]["store"]}
