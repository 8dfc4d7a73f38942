"""sales channels: where a store sells, from an ordered list of its locations

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sales_channels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('allow_split', sa.Boolean(), nullable=False),
        sa.Column('archived_at', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_sales_channels_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_channels')),
        sa.UniqueConstraint('store_id', 'code', name=op.f('uq_sales_channels_store_id_code')),
        sa.UniqueConstraint('store_id', 'id', name=op.f('uq_sales_channels_store_id_id')),
    )
    op.create_table(
        'channel_locations',
        sa.Column('channel_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('location_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['store_id', 'channel_id'], ['sales_channels.store_id', 'sales_channels.id'],
            name=op.f('fk_channel_locations_store_id_channel_id_sales_channels'),
            ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['store_id', 'location_id'], ['locations.store_id', 'locations.id'],
            name=op.f('fk_channel_locations_store_id_location_id_locations')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_channel_locations_store_id_stores')),
        sa.PrimaryKeyConstraint('channel_id', 'location_id', name=op.f('pk_channel_locations')),
        sa.UniqueConstraint('channel_id', 'position',
                            name=op.f('uq_channel_locations_channel_id_position')),
    )


def downgrade():
    op.drop_table('channel_locations')
    op.drop_table('sales_channels')
