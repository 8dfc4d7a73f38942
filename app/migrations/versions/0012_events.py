"""events: the outbox every stock change writes in its own transaction, numbered per store

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

Every ledger row already written becomes its `stock.changed` event, numbered per store in
ledger order, so that a consumer reading the feed from the start sees the whole history and
`flask inventory verify` finds one event per ledger row.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

EVENT_TYPES = (
    "stock.changed", "stock.low", "stock.out", "stock.back_in_stock", "reservation.expired",
    "purchase_order.ordered", "purchase_order.received", "purchase_order.cancelled",
)


def upgrade():
    op.create_table(
        'events',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('sequence', sa.BigInteger(), nullable=False),
        sa.Column('type', sa.String(length=40), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=True),
        sa.Column('movement_id', sa.Integer(), nullable=True),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('data', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "type IN (" + ", ".join(f"'{t}'" for t in EVENT_TYPES) + ")",
            name=op.f('ck_events_type'),
        ),
        sa.CheckConstraint('sequence > 0', name=op.f('ck_events_sequence_positive')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_events_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ux_events_store_sequence', ['store_id', 'sequence'], unique=True)
        batch_op.create_index('ix_events_movement', ['movement_id'], unique=False)
    op.create_table(
        'event_sequences',
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('last_sequence', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ['store_id'], ['stores.id'], name=op.f('fk_event_sequences_store_id_stores')
        ),
        sa.PrimaryKeyConstraint('store_id', name=op.f('pk_event_sequences')),
    )

    # The ledger so far, one stock.changed per row, numbered per store in ledger order.
    op.execute(
        "INSERT INTO events (store_id, sequence, type, entry_id, movement_id, product_id, "
        "location_id, created_at) "
        "SELECT store_id, ROW_NUMBER() OVER (PARTITION BY store_id ORDER BY id), "
        "'stock.changed', entry_id, id, product_id, location_id, created_at "
        "FROM stock_movements"
    )
    op.execute(
        "INSERT INTO event_sequences (store_id, last_sequence) "
        "SELECT s.id, (SELECT COUNT(*) FROM events e WHERE e.store_id = s.id) FROM stores s"
    )

    # Append-only, enforced by the database itself, as for the ledger.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'events is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE "
            "ON events FOR EACH ROW EXECUTE FUNCTION events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
            "BEGIN SELECT RAISE(ABORT, 'events is append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
            "BEGIN SELECT RAISE(ABORT, 'events is append-only'); END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS events_append_only() CASCADE")
    else:
        op.execute("DROP TRIGGER IF EXISTS events_no_update")
        op.execute("DROP TRIGGER IF EXISTS events_no_delete")
    op.drop_table('event_sequences')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_movement')
        batch_op.drop_index('ux_events_store_sequence')
    op.drop_table('events')
