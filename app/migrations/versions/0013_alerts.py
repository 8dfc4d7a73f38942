"""alerts: who hears about low and out-of-stock crossings, and how far each has got

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Owners hear about their stores' crossings unless they say otherwise: each owner already
there gets a subscription that starts at the store's current event, so nothing from
before the upgrade is sent.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ALERTS_ONLY = "type IN ('stock.low', 'stock.out')"


def upgrade():
    op.create_table(
        'alert_subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('mode', sa.String(length=10), nullable=False),
        sa.Column('mailed_through', sa.BigInteger(), nullable=False),
        sa.Column('read_through', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("mode IN ('immediate', 'digest', 'off')",
                           name=op.f('ck_alert_subscriptions_mode')),
        sa.CheckConstraint('mailed_through >= 0 AND read_through >= 0',
                           name=op.f('ck_alert_subscriptions_cursors')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_alert_subscriptions_store_id_stores')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_alert_subscriptions_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_subscriptions')),
        sa.UniqueConstraint('user_id', 'store_id',
                            name=op.f('uq_alert_subscriptions_user_id_store_id')),
    )
    op.create_index(op.f('ix_alert_subscriptions_store_id'), 'alert_subscriptions',
                    ['store_id'], unique=False)
    op.create_index('ix_events_alerts', 'events', ['store_id', 'sequence'], unique=False,
                    sqlite_where=sa.text(ALERTS_ONLY), postgresql_where=sa.text(ALERTS_ONLY))
    op.execute(
        "INSERT INTO alert_subscriptions (user_id, store_id, mode, mailed_through, "
        "read_through, created_at, updated_at) "
        "SELECT m.user_id, m.store_id, 'immediate', COALESCE(q.last_sequence, 0), "
        "COALESCE(q.last_sequence, 0), CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
        "FROM memberships m LEFT JOIN event_sequences q ON q.store_id = m.store_id "
        "WHERE m.role = 'owner'"
    )


def downgrade():
    op.drop_index('ix_events_alerts', table_name='events')
    op.drop_index(op.f('ix_alert_subscriptions_store_id'), table_name='alert_subscriptions')
    op.drop_table('alert_subscriptions')
