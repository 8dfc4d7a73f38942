"""bundles: a product made of component products; holds on components name their bundle

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'bundle_components',
        sa.Column('bundle_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('component_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_bundle_components_quantity_positive')),
        sa.CheckConstraint('bundle_id <> component_id',
                           name=op.f('ck_bundle_components_not_itself')),
        sa.ForeignKeyConstraint(['store_id', 'bundle_id'], ['products.store_id', 'products.id'],
                                name=op.f('fk_bundle_components_store_id_bundle_id_products')),
        sa.ForeignKeyConstraint(
            ['store_id', 'component_id'], ['products.store_id', 'products.id'],
            name=op.f('fk_bundle_components_store_id_component_id_products')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_bundle_components_store_id_stores')),
        sa.PrimaryKeyConstraint('bundle_id', 'component_id', name=op.f('pk_bundle_components')),
    )
    op.create_index('ix_bundle_components_component', 'bundle_components', ['component_id'],
                    unique=False)
    if op.get_bind().dialect.name == "sqlite":
        # Not a batch copy: the ledger and other tables name reservations' rows, and ADD
        # COLUMN keeps the table and its rows in place.
        op.execute("ALTER TABLE reservations ADD COLUMN bundle_id INTEGER "
                   "CONSTRAINT fk_reservations_bundle_id_products REFERENCES products (id)")
        op.execute("ALTER TABLE reservations ADD COLUMN bundle_units INTEGER")
        return
    op.add_column('reservations', sa.Column('bundle_id', sa.Integer(), nullable=True))
    op.add_column('reservations', sa.Column('bundle_units', sa.Integer(), nullable=True))
    op.create_foreign_key(op.f('fk_reservations_bundle_id_products'), 'reservations',
                          'products', ['bundle_id'], ['id'])


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE reservations DROP COLUMN bundle_units")
        op.execute("ALTER TABLE reservations DROP COLUMN bundle_id")
    else:
        op.drop_constraint(op.f('fk_reservations_bundle_id_products'), 'reservations',
                           type_='foreignkey')
        op.drop_column('reservations', 'bundle_units')
        op.drop_column('reservations', 'bundle_id')
    op.drop_index('ix_bundle_components_component', table_name='bundle_components')
    op.drop_table('bundle_components')
