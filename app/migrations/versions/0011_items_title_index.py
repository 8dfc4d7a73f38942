"""items title index: the overview grouped by item, across several stores, walks items in
title order instead of sorting them all

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_items_title_id', 'items', ['title', 'id'])


def downgrade():
    op.drop_index('ix_items_title_id', table_name='items')
