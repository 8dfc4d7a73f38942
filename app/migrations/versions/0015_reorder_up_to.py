"""order up to: a variant's target stock level, ordered up to instead of a fixed quantity

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

CHECK = "reorder_up_to >= 0"


def upgrade():
    # Every existing variant has none (0): its suggestions stay its reorder quantity.
    if op.get_bind().dialect.name == "sqlite":
        # Not a batch copy: other tables' foreign keys name products, and a copy would drop
        # its search triggers. ADD COLUMN keeps the table and its rows in place.
        op.execute(
            "ALTER TABLE products ADD COLUMN reorder_up_to INTEGER DEFAULT 0 NOT NULL "
            f"CONSTRAINT ck_products_reorder_up_to CHECK ({CHECK})"
        )
        return
    op.add_column('products', sa.Column('reorder_up_to', sa.Integer(), nullable=False,
                                        server_default='0'))
    op.create_check_constraint(op.f('ck_products_reorder_up_to'), 'products', CHECK)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        # The column's own CHECK goes with it.
        op.execute("ALTER TABLE products DROP COLUMN reorder_up_to")
        return
    op.drop_constraint(op.f('ck_products_reorder_up_to'), 'products', type_='check')
    op.drop_column('products', 'reorder_up_to')
