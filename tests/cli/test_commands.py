"""The `flask` commands: seed-demo, create-user, inventory verify / expire-reservations /
fold-tallies / rebuild-tallies."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select, text

from app.clock import utcnow
from app.demo import DEMO_PASSWORD
from app.extensions import db
from app.models import (
    InventoryEntry,
    Membership,
    Product,
    Reservation,
    StockMovement,
    Store,
    User,
)
from app.permissions import ADJUST, PURCHASING, READ, RECEIVE, RESERVE, actor_for_user
from app.services import catalog, queries
from app.services.people import credentials


def run(app: Flask, *args: str, **kwargs):
    result = app.test_cli_runner().invoke(args=list(args), **kwargs)
    db.session.rollback()  # see what the command committed, not a stale snapshot
    return result


# --------------------------------------------------------------------------- seed-demo


def test_seed_demo_reports_what_it_built_and_how_to_sign_in(seeded):
    output = seeded.result.output
    assert seeded.result.exit_code == 0, output
    assert "stores        3" in output
    for email in ("admin@stockroom.test", "owner@stockroom.test", "manager@stockroom.test",
                  "staff@stockroom.test", "viewer@stockroom.test"):
        assert email in output
    assert DEMO_PASSWORD in output


def test_seeded_ledger_verifies_with_no_mismatches(seeded_app):
    entries = db.session.scalar(select(func.count()).select_from(InventoryEntry))
    result = run(seeded_app, "inventory", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"Checked {entries} entries: 0 mismatches"
    assert entries > 300


def test_seed_has_entries_in_every_status(seeded_app):
    counts = {
        status: count
        for status, count in db.session.execute(
            select(queries.status_expression(), func.count())
            .select_from(queries.entries)
            .join(queries.products, queries.products.c.id == queries.entries.c.product_id)
            .group_by(queries.status_expression())
        )
    }
    assert set(counts) == set(queries.STATUSES)
    assert all(n >= 5 for n in counts.values()), counts


def test_seed_builds_three_stores_and_uppercase_locations(seeded_app):
    stores = db.session.scalars(select(Store.name).order_by(Store.id)).all()
    assert stores == ["Northwind Outfitters", "Harbor Coffee Roasters", "Pixel & Parcel"]
    codes = db.session.scalars(text("SELECT code FROM locations")).all()
    assert len(codes) == 8
    assert all(code == code.upper() for code in codes)


def test_seeded_products_have_valid_gtins_and_unlimited_ones_have_no_entries(seeded_app):
    products = db.session.execute(select(Product.type, Product.gtin, Product.id)).all()
    assert len(products) >= 250
    assert {p.type for p in products} == {"physical", "digital", "service", "subscription"}
    gtins = [p.gtin for p in products if p.gtin]
    assert len(gtins) == len(set(gtins))
    assert all(len(g) == 13 and catalog.is_valid_gtin(g) for g in gtins)
    unlimited = {p.id for p in products if p.type != "physical"}
    with_entries = set(db.session.scalars(select(InventoryEntry.product_id).distinct()))
    assert unlimited and not unlimited & with_entries


def test_seed_leaves_open_holds_some_already_past_expiry(seeded_app):
    now = utcnow()
    active = db.session.execute(
        select(Reservation.expires_at).where(Reservation.status == "active")
    ).scalars().all()
    assert any(e is not None and e > now for e in active)
    assert any(e is not None and e <= now for e in active)
    assert any(e is None for e in active)
    closed = set(db.session.scalars(select(Reservation.status).distinct()))
    assert closed == {"active", "released", "fulfilled", "expired"}


def test_seeded_history_is_three_weeks_long_and_in_time_order(seeded_app):
    stamps = db.session.scalars(select(StockMovement.created_at).order_by(StockMovement.id)).all()
    assert stamps == sorted(stamps)
    assert stamps[-1] - stamps[0] >= timedelta(days=20)
    assert stamps[-1] < utcnow()
    types = set(db.session.scalars(select(StockMovement.type).distinct()))
    assert types >= {"received", "adjustment", "set", "count", "transfer_out", "transfer_in",
                     "reserved", "released", "fulfilled", "returned"}


def test_seed_leaves_an_activity_trail_for_the_owner_to_read(seeded_app):
    from app.services import activity

    owner = db.session.scalar(select(User.id).where(User.email == "owner@stockroom.test"))
    reader = actor_for_user(owner)
    for kind in ("entry.threshold_set", "member.added", "product.updated", "entry.created"):
        page = activity.list_activity(reader, activity.ActivityFilters(kind=kind))
        assert page.rows, f"no {kind} in the demo's trail"
        assert all(row.object_label != "—" for row in page.rows)
        assert page.rows[0].created_at < utcnow()


def test_seed_buys_in_every_store_with_orders_in_every_state(seeded_app):
    """Two suppliers a store, every stocked variant sold by one of them, and purchase orders
    a buyer would have: a draft, two or more awaited, one partly received, received ones
    whose receipts set average costs, one cancelled; incoming is what they still bring."""
    from app.models import PurchaseOrder, Supplier, SupplierItem

    for store_id, name in db.session.execute(select(Store.id, Store.name)).all():
        suppliers = db.session.scalar(select(func.count()).where(Supplier.store_id == store_id))
        assert suppliers == 2, name
        statuses = dict(db.session.execute(
            select(PurchaseOrder.status, func.count()).where(PurchaseOrder.store_id == store_id)
            .group_by(PurchaseOrder.status)).all())
        assert statuses.get("draft", 0) >= 1 and statuses.get("ordered", 0) >= 2, statuses
        assert statuses.get("partially_received", 0) >= 1, statuses
        assert statuses.get("received", 0) >= 1 and statuses.get("cancelled", 0) >= 1, statuses
        stocked = set(db.session.scalars(
            select(InventoryEntry.product_id).where(InventoryEntry.store_id == store_id)))
        sold = set(db.session.scalars(
            select(SupplierItem.product_id).where(SupplierItem.store_id == store_id,
                                                  SupplierItem.preferred)))
        assert stocked <= sold, name
    costed = db.session.scalar(select(func.count()).where(
        InventoryEntry.average_cost.is_not(None)))
    awaited = db.session.scalar(select(func.count()).where(
        InventoryEntry.incoming_quantity > 0))
    received = db.session.scalar(select(func.count()).where(
        StockMovement.type == "received", StockMovement.purchase_order_line_id.is_not(None)))
    assert costed >= 30 and awaited >= 6 and received >= 40, (costed, awaited, received)


def test_seed_creates_a_user_for_every_role(seeded_app):
    users = {u.email: u for u in db.session.scalars(select(User))}
    assert users["admin@stockroom.test"].is_platform_admin
    roles = {
        (email, role, tuple(grants))
        for email, role, grants in db.session.execute(
            select(User.email, Membership.role, Membership.grants).join(Membership.user)
        )
    }
    assert {r for _, r, _ in roles} == {"owner", "admin", "staff"}
    staff = actor_for_user(users["staff@stockroom.test"].id)
    viewer = actor_for_user(users["viewer@stockroom.test"].id)
    (store_id,) = staff.store_permissions
    assert staff.can(ADJUST, store_id) and staff.can(RESERVE, store_id)
    assert staff.can(RECEIVE, store_id) and not staff.can(PURCHASING, store_id)
    assert viewer.can(READ, store_id) and not viewer.can(ADJUST, store_id)
    for email in users:
        assert credentials.authenticate(email, DEMO_PASSWORD) is not None


def test_seed_refuses_a_database_that_has_data(seeded_app):
    stores = db.session.scalar(select(func.count()).select_from(Store))
    result = run(seeded_app, "seed-demo")
    assert result.exit_code == 1
    assert "already has data" in result.output and "--reset" in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(select(func.count()).select_from(Store)) == stores


def test_seed_if_empty_leaves_a_database_with_data_alone(seeded_app):
    result = run(seeded_app, "seed-demo", "--if-empty")
    assert result.exit_code == 0
    assert "leaving it as it is" in result.output


def test_reset_refuses_a_database_outside_instance(seeded_app):
    result = run(seeded_app, "seed-demo", "--reset")
    assert result.exit_code == 1
    assert "only empties a SQLite database inside" in result.output
    assert db.session.scalar(select(func.count()).select_from(Store)) == 3


def test_seed_on_a_database_without_tables_says_to_migrate(cli_app, tmp_path):
    bare = cli_app(tmp_path / "bare.sqlite")
    result = bare.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert "flask db upgrade" in result.output


# --------------------------------------------------------------------------- create-user


def test_create_user_with_a_store_role_and_grants(app, make_store):
    store = make_store("Corner Shop")
    result = run(
        app, "create-user", "Pat@Example.test", "--name", "Pat Picker",
        "--password", "long enough password", "--store", store.slug, "--role", "staff",
        "--grant", "inventory:adjust", "--grant", "inventory:reserve",
    )
    assert result.exit_code == 0, result.output
    assert "Created pat@example.test" in result.output
    user = db.session.scalar(select(User).where(User.email == "pat@example.test"))
    actor = actor_for_user(user.id)
    assert actor.can(ADJUST, store.id) and actor.can(RESERVE, store.id)
    assert credentials.authenticate("pat@example.test", "long enough password") is not None


def test_create_user_asks_for_the_password_when_left_out(app):
    result = run(app, "create-user", "root@example.test", "--name", "Root",
                 "--platform-admin", input="a long passphrase\na long passphrase\n")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User.is_platform_admin)
                             .where(User.email == "root@example.test"))


def test_create_user_validation_error_is_a_message_and_exit_1(app):
    result = run(app, "create-user", "not-an-email", "--name", "X", "--password", "short")
    assert result.exit_code == 1
    assert "email: Enter an email address." in result.output
    assert "password: Use at least 12 characters." in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_create_user_twice_is_a_conflict(app):
    args = ("create-user", "sam@example.test", "--name", "Sam", "--password", "x" * 12)
    assert run(app, *args).exit_code == 0
    again = run(app, *args)
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_create_user_in_an_unknown_store(app):
    result = run(app, "create-user", "a@example.test", "--name", "A", "--password", "x" * 12,
                 "--store", "nowhere", "--role", "admin")
    assert result.exit_code == 1
    assert "No store with the slug nowhere." in result.output


# --------------------------------------------------------------------------- inventory


def test_expire_reservations_twice_second_run_finds_nothing(seeded_app):
    overdue = db.session.scalar(
        select(func.count()).where(Reservation.status == "active",
                                   Reservation.expires_at <= utcnow())
    )
    first = run(seeded_app, "inventory", "expire-reservations")
    assert first.exit_code == 0, first.output
    assert overdue > 0
    assert first.output.strip() == f"Expired {overdue} reservations."
    second = run(seeded_app, "inventory", "expire-reservations")
    assert second.output.strip() == "Expired 0 reservations."
    assert run(seeded_app, "inventory", "verify").exit_code == 0


def test_verify_reports_a_tampered_entry_and_exits_1(seeded_app):
    entry_id = db.session.scalar(select(func.min(InventoryEntry.id)))
    db.session.execute(
        text("UPDATE inventory_entries SET quantity = quantity + 7 WHERE id = :id"),
        {"id": entry_id},
    )
    db.session.commit()
    result = run(seeded_app, "inventory", "verify")
    assert result.exit_code == 1
    assert f"entry {entry_id}: quantity is" in result.output
    assert "1 mismatch" in result.output


def test_verify_reports_incoming_that_no_open_order_explains_and_exits_1(seeded_app):
    """Incoming is derived from open purchase orders: a figure written behind the stock
    engine's back is a mismatch, named with what the orders say."""
    entry_id = db.session.scalar(select(func.max(InventoryEntry.id)))
    db.session.execute(
        text("UPDATE inventory_entries SET incoming_quantity = incoming_quantity + 5 "
             "WHERE id = :id"), {"id": entry_id},
    )
    db.session.commit()
    result = run(seeded_app, "inventory", "verify")
    assert result.exit_code == 1
    assert f"entry {entry_id}: incoming is" in result.output
    assert "open purchase orders say 0" in result.output
    assert "1 mismatch" in result.output


def test_verify_on_an_empty_database(app):
    result = run(app, "inventory", "verify")
    assert result.exit_code == 0
    assert result.output.strip() == "Checked 0 entries: 0 mismatches"


def test_verify_reports_drifted_tallies_and_rebuild_repairs_them(seeded_app):
    """A tally row that no change explains (written behind the triggers' back) is named by
    verify; fold keeps the sums as they are, rebuild recounts them from the entries."""
    store_id, location_id = db.session.execute(
        select(InventoryEntry.store_id, InventoryEntry.location_id).limit(1)
    ).one()
    db.session.execute(
        text("INSERT INTO stock_tallies (store_id, location_id, entries, quantity, reserved, "
             "low_stock, out_of_stock, on_backorder) VALUES (:s, :l, 0, 0, 3, 0, 0, 0)"),
        {"s": store_id, "l": location_id},
    )
    db.session.commit()

    result = run(seeded_app, "inventory", "verify")
    assert result.exit_code == 1
    assert f"store {store_id}, location {location_id}: tallies reserved" in result.output
    assert "1 mismatch" in result.output

    folded = run(seeded_app, "inventory", "fold-tallies")
    assert folded.exit_code == 0 and folded.output.startswith("Folded ")
    assert run(seeded_app, "inventory", "verify").exit_code == 1  # folding keeps the sums

    rebuilt = run(seeded_app, "inventory", "rebuild-tallies")
    assert rebuilt.output.strip() == "Stock tallies recounted from every entry."
    assert run(seeded_app, "inventory", "verify").exit_code == 0
