"""stock tallies: the overview's totals kept per store and location by triggers

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# The SQL of app/models/tallies.py, built by a copy of its functions, so this revision
# keeps meaning what it meant when later models change.
COUNTS = ("entries", "quantity", "reserved", "low_stock", "out_of_stock", "on_backorder")
COLUMNS = "store_id, location_id, " + ", ".join(COUNTS)
SUMS = ", ".join(f"sum({c})" for c in COUNTS)
NONZERO = " OR ".join(f"sum({c}) <> 0" for c in COUNTS)
ENTRY_COLUMNS = (
    "store_id, location_id, product_id, quantity, reserved_quantity, low_stock_threshold"
)


def flags(e, p):
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


def share(e, p, sign=""):
    low, out, back = flags(e, p)
    return (
        f"{e}.store_id AS store_id, {e}.location_id AS location_id, {sign}1 AS entries, "
        f"{sign}{e}.quantity AS quantity, {sign}{e}.reserved_quantity AS reserved, "
        f"{sign}({low}) AS low_stock, {sign}({out}) AS out_of_stock, "
        f"{sign}({back}) AS on_backorder"
    )


def insert_grouped(selects):
    return (
        f"INSERT INTO stock_tallies ({COLUMNS}) SELECT store_id, location_id, {SUMS} "
        f"FROM ({' UNION ALL '.join(selects)}) AS c GROUP BY store_id, location_id "
        f"HAVING {NONZERO}"
    )


def product_change(new, old):
    pairs = list(zip(flags("e", new), flags("e", old)))
    differences = ", ".join(f"sum({a}) - sum({b})" for a, b in pairs)
    nonzero = " OR ".join(f"sum({a}) <> sum({b})" for a, b in pairs)
    return (
        f"INSERT INTO stock_tallies ({COLUMNS}) SELECT e.store_id, e.location_id, 0, 0, 0, "
        f"{differences} FROM inventory_entries e WHERE e.product_id = {new}.id "
        f"GROUP BY e.store_id, e.location_id HAVING {nonzero}"
    )


def rows(table, sign=""):
    return (
        f"SELECT {share('e', 'p', sign)} "
        f"FROM {table} e JOIN products p ON p.id = e.product_id"
    )


def sqlite_row(e, sign=""):
    return f"SELECT {share(e, 'p', sign)} FROM products p WHERE p.id = {e}.product_id"


SQLITE = (
    "CREATE TRIGGER stock_tallies_entry_insert AFTER INSERT ON inventory_entries BEGIN "
    f"{insert_grouped([sqlite_row('NEW')])}; END",
    "CREATE TRIGGER stock_tallies_entry_delete AFTER DELETE ON inventory_entries BEGIN "
    f"{insert_grouped([sqlite_row('OLD', '-')])}; END",
    f"CREATE TRIGGER stock_tallies_entry_update AFTER UPDATE OF {ENTRY_COLUMNS} "
    "ON inventory_entries BEGIN "
    f"{insert_grouped([sqlite_row('NEW'), sqlite_row('OLD', '-')])}; END",
    "CREATE TRIGGER stock_tallies_product_update AFTER UPDATE OF type, allow_backorder "
    "ON products WHEN OLD.type IS NOT NEW.type OR OLD.allow_backorder IS NOT "
    f"NEW.allow_backorder BEGIN {product_change('NEW', 'OLD')}; END",
)
POSTGRESQL = (
    "CREATE OR REPLACE FUNCTION stock_tallies_entries() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    f"IF TG_OP = 'INSERT' THEN {insert_grouped([rows('new_rows')])}; "
    f"ELSIF TG_OP = 'DELETE' THEN {insert_grouped([rows('old_rows', '-')])}; "
    f"ELSE {insert_grouped([rows('new_rows'), rows('old_rows', '-')])}; "
    "END IF; RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION stock_tallies_product() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN {product_change('NEW', 'OLD')}; RETURN NULL; END $$",
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
    "ON products FOR EACH ROW WHEN (OLD.type IS DISTINCT FROM NEW.type "
    "OR OLD.allow_backorder IS DISTINCT FROM NEW.allow_backorder) "
    "EXECUTE FUNCTION stock_tallies_product()",
)
# The entries there are now, counted once.
BACKFILL = (
    f"INSERT INTO stock_tallies ({COLUMNS}) "
    "SELECT e.store_id, e.location_id, count(*), sum(e.quantity), sum(e.reserved_quantity), "
    + ", ".join(f"sum({flag})" for flag in flags("e", "p"))
    + " FROM inventory_entries e JOIN products p ON p.id = e.product_id "
    "GROUP BY e.store_id, e.location_id"
)
TRIGGERS = (
    ("stock_tallies_entry_insert", "inventory_entries"),
    ("stock_tallies_entry_delete", "inventory_entries"),
    ("stock_tallies_entry_update", "inventory_entries"),
    ("stock_tallies_product_update", "products"),
)


def upgrade():
    op.create_table(
        'stock_tallies',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('entries', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.BigInteger(), nullable=False),
        sa.Column('reserved', sa.BigInteger(), nullable=False),
        sa.Column('low_stock', sa.Integer(), nullable=False),
        sa.Column('out_of_stock', sa.Integer(), nullable=False),
        sa.Column('on_backorder', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_tallies')),
    )
    op.create_index('ix_stock_tallies_store_location', 'stock_tallies',
                    ['store_id', 'location_id'], unique=False)
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # Entries must not change between the count and the triggers taking over.
        op.execute("LOCK TABLE inventory_entries, products IN SHARE MODE")
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)
    op.execute(BACKFILL)


def downgrade():
    for name, table in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (
            f" ON {table}" if op.get_bind().dialect.name == "postgresql" else ""
        ))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS stock_tallies_entries()")
        op.execute("DROP FUNCTION IF EXISTS stock_tallies_product()")
    op.drop_index('ix_stock_tallies_store_location', table_name='stock_tallies')
    op.drop_table('stock_tallies')
