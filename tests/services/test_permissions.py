"""The permission matrix, generated from the one role → permission table.

Every role (and every staff grant) tries every stock operation: allowed ones succeed and
name the acting user in the ledger, denied ones raise PermissionDenied and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.extensions import db
from app.models import Membership
from app.permissions import (
    ADJUST,
    ALL_PERMISSIONS,
    CATALOG,
    DELETE,
    GRANTABLE_TO_STAFF,
    RESERVE,
    ROLE_PERMISSIONS,
    THRESHOLD,
)
from app.services import stock
from app.services.errors import NotFound, PermissionDenied


@dataclass
class Kit:
    """Builds fresh stock in one store for each operation, so they never interfere."""

    store: Any
    location: Any
    other_location: Any
    admin: Any
    make_entry: Callable[..., Any]
    make_product: Callable[..., Any]

    def entry(self, quantity: int = 10, reserved: int = 0) -> Any:
        return self.make_entry(quantity=quantity, reserved=reserved, location=self.location)

    def hold(self, quantity: int = 3) -> int:
        entry = self.entry(10)
        return stock.reserve_stock(
            actor=self.admin, entry_id=entry.id, quantity=quantity, order_ref="HELD"
        ).reservation_ids[0]


@dataclass(frozen=True)
class Operation:
    name: str
    permission: str
    call: Callable[..., stock.StockChange]
    prepare: Callable[[Kit], dict[str, Any]]


def _transfer(kit: Kit) -> dict[str, Any]:
    entry = kit.entry(10)
    return {"product_id": entry.product_id, "from_location_id": kit.location.id,
            "to_location_id": kit.other_location.id, "quantity": 3}


def _order(kit: Kit) -> dict[str, Any]:
    entry = kit.entry(10)
    return {"store_id": kit.store.id, "order_ref": "ORD",
            "lines": [{"product_id": entry.product_id, "location_id": kit.location.id,
                       "quantity": 2}]}


def _create(kit: Kit) -> dict[str, Any]:
    product = kit.make_product(kit.store)
    return {"product_id": product.id, "location_id": kit.location.id, "quantity": 5}


OPERATIONS = (
    Operation("adjust", ADJUST, stock.adjust_stock,
              lambda k: {"entry_id": k.entry().id, "delta": -1, "reason": "check"}),
    Operation("set", ADJUST, stock.set_stock,
              lambda k: {"entry_id": k.entry().id, "quantity": 7}),
    Operation("count", ADJUST, stock.count_stock,
              lambda k: {"entry_id": k.entry().id, "counted_quantity": 9}),
    Operation("return", ADJUST, stock.return_stock,
              lambda k: {"entry_id": k.entry().id, "quantity": 2, "reason": "back"}),
    Operation("transfer", ADJUST, stock.transfer_stock, _transfer),
    Operation("reserve", RESERVE, stock.reserve_stock,
              lambda k: {"entry_id": k.entry().id, "quantity": 2, "order_ref": "ORD"}),
    Operation("release by reservation", RESERVE, stock.release_stock,
              lambda k: {"reservation_id": k.hold()}),
    Operation("release by quantity", RESERVE, stock.release_stock,
              lambda k: {"entry_id": k.entry(10, reserved=4).id, "quantity": 3}),
    Operation("fulfill by reservation", RESERVE, stock.fulfill_stock,
              lambda k: {"reservation_id": k.hold()}),
    Operation("fulfill by quantity", RESERVE, stock.fulfill_stock,
              lambda k: {"entry_id": k.entry(10, reserved=4).id, "quantity": 3}),
    Operation("reserve order", RESERVE, stock.reserve_order, _order),
    Operation("threshold", THRESHOLD, stock.set_threshold,
              lambda k: {"entry_id": k.entry().id, "low_stock_threshold": 3}),
    Operation("delete", DELETE, stock.delete_entry,
              lambda k: {"entry_id": k.entry().id}),
    Operation("create entry", CATALOG, stock.create_entry, _create),
)


def _memberships() -> list[tuple[str, tuple[str, ...], frozenset[str]]]:
    """(role, grants, what the SPEC says they may do), generated from the table."""
    rows = [(role, (), perms) for role, perms in ROLE_PERMISSIONS.items()]
    staff = ROLE_PERMISSIONS["staff"]
    rows += [("staff", (group,), staff | {group}) for group in sorted(GRANTABLE_TO_STAFF)]
    rows.append(("staff", tuple(sorted(GRANTABLE_TO_STAFF)), staff | GRANTABLE_TO_STAFF))
    # Groups that are never delegated are ignored even when stored on a membership.
    rows.append(("staff", tuple(sorted(ALL_PERMISSIONS - GRANTABLE_TO_STAFF)), staff))
    return rows


MEMBERSHIPS = _memberships()


@pytest.fixture
def kit(store, make_location, make_entry, make_product, admin_actor) -> Kit:
    return Kit(store, make_location(store), make_location(store), admin_actor, make_entry,
               make_product)


def _check_matrix(actor, allowed, kit, refused, ledger, stored, subtests):
    for op in OPERATIONS:
        with subtests.test(op.name, permission=op.permission):
            kwargs = op.prepare(kit)
            if op.permission in allowed:
                change = op.call(actor=actor, **kwargs)
                assert change.replayed is False
                touched = {e.id for e in change.entries}
                rows = [r for entry_id in touched for r in ledger(entry_id)
                        if r["id"] in change.movement_ids]
                assert len(rows) == len(change.movement_ids)
                assert all(
                    (r["actor_id"], r["actor_name"], r["store_id"]) ==
                    (actor.user_id, actor.name, kit.store.id)
                    for r in rows
                )
                if op.name == "threshold":
                    assert stored(kwargs["entry_id"])["low_stock_threshold"] == 3
                else:
                    assert rows, "an allowed stock change wrote no ledger row"
            else:
                message = f"You do not have permission to do this ({op.permission})."
                with refused(PermissionDenied, message) as info:
                    op.call(actor=actor, **kwargs)
                assert info.value.permission == op.permission


@pytest.mark.parametrize(
    ("role", "grants", "allowed"), MEMBERSHIPS,
    ids=[f"{role}+{'+'.join(grants) or 'none'}" for role, grants, _ in MEMBERSHIPS],
)
def test_each_membership_may_do_exactly_what_the_table_grants(
    role, grants, allowed, kit, member, refused, ledger, stored, subtests
):
    actor = member(kit.store, role, grants)

    _check_matrix(actor, allowed, kit, refused, ledger, stored, subtests)


def test_a_platform_admin_may_do_everything_in_any_store(
    kit, make_user, actor_of, refused, ledger, stored, subtests
):
    actor = actor_of(make_user(platform_admin=True))
    assert actor.user_id is not None and not actor.store_permissions

    _check_matrix(actor, ALL_PERMISSIONS, kit, refused, ledger, stored, subtests)


def test_the_matrix_covers_every_stock_permission_and_every_operation():
    assert {op.permission for op in OPERATIONS} == {ADJUST, RESERVE, THRESHOLD, DELETE, CATALOG}
    assert {op.call for op in OPERATIONS} >= {
        getattr(stock, name)
        for module in (stock.entries, stock.holds, stock.transfers)
        for name in module.__all__ if not name.startswith("expire_")
    } | {stock.reserve_order
    }


def test_permissions_are_those_of_the_entrys_store_not_of_another(
    store, make_store, make_entry, make_user, actor_of, refused
):
    other = make_store()
    user = make_user(role="staff", store=store)
    db.session.add(Membership(user_id=user.id, store_id=other.id, role="owner", grants=[]))
    db.session.commit()
    actor = actor_of(user)
    mine = make_entry(quantity=10, store=other)
    theirs = make_entry(quantity=10, store=store)

    stock.adjust_stock(actor=actor, entry_id=mine.id, delta=1, reason="owner here")
    with refused(PermissionDenied, f"You do not have permission to do this ({ADJUST})."):
        stock.adjust_stock(actor=actor, entry_id=theirs.id, delta=1, reason="staff here")


def test_an_inactive_owner_may_do_nothing(store, make_entry, make_user, actor_of, refused):
    user = make_user(role="owner", store=store)
    user.active = False
    db.session.commit()
    entry = make_entry(quantity=10, store=store)

    with refused(NotFound, "Inventory entry not found."):
        stock.adjust_stock(actor=actor_of(user), entry_id=entry.id, delta=1, reason="x")
