"""Stock tallies: the overview's totals and status counts, kept per store and location.

Counting statuses over every entry joined to its product costs a full pass (about 300 ms
for a million entries). Instead, triggers add one row of differences to `stock_tallies`
for every change to an entry or to a product's type or backorder setting, in the same
transaction as the change. The totals of a store are the sums of its rows, exact at any
snapshot: a change and its tally row commit together or not at all.

Rows are only ever inserted by the triggers, so concurrent stock changes never wait for
one another here (a single counter row per location would serialize them, and two
transfers between the same locations in opposite directions would deadlock on it).
`app.services.tallies.compact` folds a store's rows into one per location.

The status rules are those of `app.services.queries.status_condition`:
- low stock: physical, available above 0, a threshold set, available at or below it;
- out of stock: physical, available 0 or less, no backorders;
- on backorder: physical, available 0 or less, backorders allowed.

Migration 0003 carries the same SQL; tests/test_migrations.py compares the two.
A batch (copy-and-move) migration of products or inventory_entries on SQLite drops these
triggers with the old table: such a migration must create them again.
"""

from __future__ import annotations

from sqlalchemy import DDL, BigInteger, Index, event
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

COUNTS = ("entries", "quantity", "reserved", "low_stock", "out_of_stock", "on_backorder")


class StockTally(db.Model):
    """Differences to the stock totals of one store and location; sum them for totals."""

    __tablename__ = "stock_tallies"
    __table_args__ = (Index("ix_stock_tallies_store_location", "store_id", "location_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"),
                                    primary_key=True)
    store_id: Mapped[int]
    location_id: Mapped[int]
    entries: Mapped[int] = mapped_column(default=0)
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    low_stock: Mapped[int] = mapped_column(default=0)
    out_of_stock: Mapped[int] = mapped_column(default=0)
    on_backorder: Mapped[int] = mapped_column(default=0)


def status_flags(e: str, p: str) -> tuple[str, str, str]:
    """SQL for 1 or 0: entry `e` (a table alias, NEW or OLD) of product `p` is low, out,
    on backorder."""
    available = f"({e}.quantity - {e}.reserved_quantity)"
    physical = f"{p}.type = 'physical'"
    return (
        f"CASE WHEN {physical} AND {available} > 0 AND {e}.low_stock_threshold > 0 "
        f"AND {available} <= {e}.low_stock_threshold THEN 1 ELSE 0 END",
        f"CASE WHEN {physical} AND {available} <= 0 AND NOT {p}.allow_backorder "
        "THEN 1 ELSE 0 END",
        f"CASE WHEN {physical} AND {available} <= 0 AND {p}.allow_backorder "
        "THEN 1 ELSE 0 END",
    )


def _contribution(e: str, p: str, sign: str = "") -> str:
    """The select list of one entry's share of the tallies, negated with sign='-'."""
    low, out, back = status_flags(e, p)
    return (
        f"{e}.store_id AS store_id, {e}.location_id AS location_id, {sign}1 AS entries, "
        f"{sign}{e}.quantity AS quantity, {sign}{e}.reserved_quantity AS reserved, "
        f"{sign}({low}) AS low_stock, {sign}({out}) AS out_of_stock, "
        f"{sign}({back}) AS on_backorder"
    )


# SQL pieces: the columns a tally row is written with, their sums, and "some sum is not 0".
COLUMNS = "store_id, location_id, " + ", ".join(COUNTS)
SUMS = ", ".join(f"sum({c})" for c in COUNTS)
NONZERO = " OR ".join(f"sum({c}) <> 0" for c in COUNTS)


def _insert_grouped(selects: list[str]) -> str:
    """INSERT the per-location sums of the UNION ALL of `selects`, leaving out nothing-rows."""
    union = " UNION ALL ".join(selects)
    return (
        f"INSERT INTO stock_tallies ({COLUMNS}) SELECT store_id, location_id, {SUMS} "
        f"FROM ({union}) AS c GROUP BY store_id, location_id HAVING {NONZERO}"
    )


def _product_change(new: str, old: str) -> str:
    """INSERT the status differences of product `old` becoming `new` over its entries."""
    flags = list(zip(status_flags("e", new), status_flags("e", old), strict=True))
    differences = ", ".join(f"sum({after}) - sum({before})" for after, before in flags)
    nonzero = " OR ".join(f"sum({after}) <> sum({before})" for after, before in flags)
    return (
        f"INSERT INTO stock_tallies ({COLUMNS}) SELECT e.store_id, e.location_id, 0, 0, 0, "
        f"{differences} FROM inventory_entries e WHERE e.product_id = {new}.id "
        f"GROUP BY e.store_id, e.location_id HAVING {nonzero}"
    )


def _entry_rows(rows: str, sign: str = "") -> str:
    return (
        f"SELECT {_contribution('e', 'p', sign)} "
        f"FROM {rows} e JOIN products p ON p.id = e.product_id"
    )


def _sqlite_entry_row(e: str, sign: str = "") -> str:
    return f"SELECT {_contribution(e, 'p', sign)} FROM products p WHERE p.id = {e}.product_id"


# What decides an entry's share: a change to any other column leaves the tallies alone.
_ENTRY_COLUMNS = (
    "store_id, location_id, product_id, quantity, reserved_quantity, low_stock_threshold"
)
_PRODUCT_CHANGED_SQLITE = (
    "OLD.type IS NOT NEW.type OR OLD.allow_backorder IS NOT NEW.allow_backorder"
)
_PRODUCT_CHANGED_POSTGRESQL = (
    "OLD.type IS DISTINCT FROM NEW.type "
    "OR OLD.allow_backorder IS DISTINCT FROM NEW.allow_backorder"
)

TALLIES_SQLITE = (
    "CREATE TRIGGER stock_tallies_entry_insert AFTER INSERT ON inventory_entries BEGIN "
    f"{_insert_grouped([_sqlite_entry_row('NEW')])}; END",
    "CREATE TRIGGER stock_tallies_entry_delete AFTER DELETE ON inventory_entries BEGIN "
    f"{_insert_grouped([_sqlite_entry_row('OLD', '-')])}; END",
    f"CREATE TRIGGER stock_tallies_entry_update AFTER UPDATE OF {_ENTRY_COLUMNS} "
    "ON inventory_entries BEGIN "
    f"{_insert_grouped([_sqlite_entry_row('NEW'), _sqlite_entry_row('OLD', '-')])}; END",
    "CREATE TRIGGER stock_tallies_product_update AFTER UPDATE OF type, allow_backorder "
    f"ON products WHEN {_PRODUCT_CHANGED_SQLITE} BEGIN {_product_change('NEW', 'OLD')}; END",
)

# PostgreSQL: statement-level triggers with transition tables, so a statement that changes
# many entries (an import, a bulk adjust) adds one row per location, not one per entry.
TALLIES_POSTGRESQL = (
    "CREATE OR REPLACE FUNCTION stock_tallies_entries() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    f"IF TG_OP = 'INSERT' THEN {_insert_grouped([_entry_rows('new_rows')])}; "
    f"ELSIF TG_OP = 'DELETE' THEN {_insert_grouped([_entry_rows('old_rows', '-')])}; "
    "ELSE "
    f"{_insert_grouped([_entry_rows('new_rows'), _entry_rows('old_rows', '-')])}; "
    "END IF; RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION stock_tallies_product() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN {_product_change('NEW', 'OLD')}; RETURN NULL; END $$",
    "CREATE TRIGGER stock_tallies_entry_insert AFTER INSERT ON inventory_entries "
    "REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION stock_tallies_entries()",
    "CREATE TRIGGER stock_tallies_entry_delete AFTER DELETE ON inventory_entries "
    "REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION stock_tallies_entries()",
    "CREATE TRIGGER stock_tallies_entry_update AFTER UPDATE ON inventory_entries "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION stock_tallies_entries()",
    "CREATE TRIGGER stock_tallies_product_update AFTER UPDATE OF type, allow_backorder "
    f"ON products FOR EACH ROW WHEN ({_PRODUCT_CHANGED_POSTGRESQL}) "
    "EXECUTE FUNCTION stock_tallies_product()",
)
TALLIES_POSTGRESQL_DROP = (
    "DROP FUNCTION IF EXISTS stock_tallies_entries() CASCADE",
    "DROP FUNCTION IF EXISTS stock_tallies_product() CASCADE",
)
TALLY_TRIGGERS = frozenset({
    "stock_tallies_entry_insert", "stock_tallies_entry_delete", "stock_tallies_entry_update",
    "stock_tallies_product_update",
})

# Every entry's share, summed per location: what the tallies must add up to.
RECOUNT = (
    "SELECT e.store_id, e.location_id, count(*), sum(e.quantity), sum(e.reserved_quantity), "
    + ", ".join(f"sum({flag})" for flag in status_flags("e", "p"))
    + " FROM inventory_entries e JOIN products p ON p.id = e.product_id"
)
REBUILD = (
    "DELETE FROM stock_tallies",
    f"INSERT INTO stock_tallies ({COLUMNS}) {RECOUNT} GROUP BY e.store_id, e.location_id",
)

# After every table exists: the triggers name products, entries and the tallies.
for _statement in TALLIES_SQLITE:
    event.listen(db.metadata, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in TALLIES_POSTGRESQL:
    event.listen(db.metadata, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
for _statement in TALLIES_POSTGRESQL_DROP:
    event.listen(db.metadata, "before_drop", DDL(_statement).execute_if(dialect="postgresql"))
