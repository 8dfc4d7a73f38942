"""items and variants: a product becomes the variant of an item with up to three options

Every existing product becomes the single variant of an item of its own, with the product's
title, in the product's store; entries, ledger rows, reservations, tallies and search are
not touched (they name the product, which is still the unit stock is kept in).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('option1', sa.String(length=40), nullable=True),
        sa.Column('option2', sa.String(length=40), nullable=True),
        sa.Column('option3', sa.String(length=40), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('active', 'draft', 'archived')",
                           name=op.f('ck_items_status')),
        sa.CheckConstraint(
            "(option2 IS NULL OR option1 IS NOT NULL) AND (option3 IS NULL OR option2 IS NOT NULL)",
            name=op.f('ck_items_options_in_order'),
        ),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_items_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_items')),
        sa.UniqueConstraint('store_id', 'id', name=op.f('uq_items_store_id_id')),
    )
    op.create_index('ix_items_store_title', 'items', ['store_id', 'title'], unique=False)
    op.create_table(
        'item_variants',
        sa.Column('product_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('value1', sa.String(length=60), nullable=False),
        sa.Column('value2', sa.String(length=60), nullable=False),
        sa.Column('value3', sa.String(length=60), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['store_id', 'item_id'], ['items.store_id', 'items.id'],
                                name=op.f('fk_item_variants_store_id_item_id_items')),
        sa.ForeignKeyConstraint(['store_id', 'product_id'],
                                ['products.store_id', 'products.id'],
                                name=op.f('fk_item_variants_store_id_product_id_products')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_item_variants_store_id_stores')),
        sa.PrimaryKeyConstraint('product_id', name=op.f('pk_item_variants')),
        sa.UniqueConstraint('item_id', 'value1', 'value2', 'value3',
                            name=op.f('uq_item_variants_item_id_value1_value2_value3')),
    )
    op.create_index('ix_item_variants_item', 'item_variants', ['item_id', 'position'],
                    unique=False)

    # One item per product, numbered as its product, so the first items' ids say which
    # product they came from; new items continue after the highest.
    op.execute(
        "INSERT INTO items (id, store_id, title, status, created_at, updated_at) "
        "SELECT id, store_id, title, "
        "CASE WHEN archived_at IS NULL THEN 'active' ELSE 'archived' END, "
        "created_at, updated_at FROM products"
    )
    op.execute(
        "INSERT INTO item_variants (product_id, store_id, item_id, value1, value2, value3, "
        "position) SELECT id, store_id, id, '', '', '', 0 FROM products"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('items', 'id'), "
            "COALESCE((SELECT max(id) FROM items), 0) + 1, false)"
        )


def downgrade():
    op.drop_index('ix_item_variants_item', table_name='item_variants')
    op.drop_table('item_variants')
    op.drop_index('ix_items_store_title', table_name='items')
    op.drop_table('items')
