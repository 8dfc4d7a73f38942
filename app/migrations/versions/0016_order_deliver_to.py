"""where a purchase order arrives: the location chosen when it was started

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    # Existing orders have none: their lines already say where each arrives.
    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN keeps the table in place (a batch copy would have to rebuild the
        # foreign keys that name purchase_orders).
        op.execute("ALTER TABLE purchase_orders ADD COLUMN deliver_to_id INTEGER "
                   "CONSTRAINT fk_purchase_orders_deliver_to_id_locations "
                   "REFERENCES locations (id)")
        return
    op.add_column('purchase_orders', sa.Column('deliver_to_id', sa.Integer(), nullable=True))
    op.create_foreign_key('fk_purchase_orders_deliver_to_id_locations', 'purchase_orders',
                          'locations', ['deliver_to_id'], ['id'])


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE purchase_orders DROP COLUMN deliver_to_id")
        return
    op.drop_constraint('fk_purchase_orders_deliver_to_id_locations', 'purchase_orders',
                       type_='foreignkey')
    op.drop_column('purchase_orders', 'deliver_to_id')
