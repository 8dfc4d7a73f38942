"""product search: trigram indexes (PostgreSQL), FTS5 trigram table (SQLite)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# The same SQL as app/models/catalog.py (SEARCH_SQLITE, SEARCH_POSTGRESQL), copied so this
# revision keeps meaning what it meant when later models change.
SQLITE = (
    "CREATE INDEX ix_products_sku_ci ON products (sku COLLATE NOCASE)",
    "CREATE VIRTUAL TABLE products_search USING fts5("
    "title, sku, content='products', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN "
    "INSERT INTO products_search (rowid, title, sku) "
    "VALUES (new.id, new.title, new.sku); END",
    "CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN "
    "INSERT INTO products_search (products_search, rowid, title, sku) "
    "VALUES ('delete', old.id, old.title, old.sku); END",
    "CREATE TRIGGER products_search_update AFTER UPDATE OF title, sku ON products BEGIN "
    "INSERT INTO products_search (products_search, rowid, title, sku) "
    "VALUES ('delete', old.id, old.title, old.sku); "
    "INSERT INTO products_search (rowid, title, sku) "
    "VALUES (new.id, new.title, new.sku); END",
    # Index the products that already exist.
    "INSERT INTO products_search (products_search) VALUES ('rebuild')",
)
POSTGRESQL = (
    # A trusted extension: the database owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_products_sku_ci ON products (lower(sku) text_pattern_ops)",
    "CREATE INDEX ix_products_title_trgm ON products USING gin (title gin_trgm_ops)",
    "CREATE INDEX ix_products_sku_trgm ON products USING gin (sku gin_trgm_ops)",
)


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        # The extension stays: other objects of the database may use it.
        for name in ("ix_products_sku_trgm", "ix_products_title_trgm", "ix_products_sku_ci"):
            op.execute(f"DROP INDEX IF EXISTS {name}")
        return
    for name in ("products_search_update", "products_search_delete", "products_search_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS products_search")
    op.execute("DROP INDEX IF EXISTS ix_products_sku_ci")
