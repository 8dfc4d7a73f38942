"""audit events: the append-only trail of every change that is not stock

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('object_type', sa.String(length=16), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=True),
        sa.Column('object_label', sa.String(length=254), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('batch_ref', sa.String(length=64), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_name', sa.String(length=254), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "object_type IN ('store', 'location', 'product', 'entry', 'member', 'user', "
            "'token')",
            name=op.f('ck_audit_events_object_type'),
        ),
        sa.CheckConstraint('length(actor_name) > 0', name=op.f('ck_audit_events_actor_named')),
        sa.CheckConstraint('length(action) > 0', name=op.f('ck_audit_events_action_named')),
        sa.ForeignKeyConstraint(
            ['actor_id'], ['users.id'], name=op.f('fk_audit_events_actor_id_users')
        ),
        sa.ForeignKeyConstraint(
            ['store_id'], ['stores.id'], name=op.f('fk_audit_events_store_id_stores')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_store', ['store_id', 'id'], unique=False)
        batch_op.create_index(
            'ix_audit_events_object', ['object_type', 'object_id', 'id'], unique=False
        )
        batch_op.create_index('ix_audit_events_product', ['product_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_actor', ['actor_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_created', ['created_at', 'id'], unique=False)

    # Append-only, enforced by the database itself, as for the ledger.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE "
            "ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only() CASCADE")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_created')
        batch_op.drop_index('ix_audit_events_actor')
        batch_op.drop_index('ix_audit_events_product')
        batch_op.drop_index('ix_audit_events_object')
        batch_op.drop_index('ix_audit_events_store')
    op.drop_table('audit_events')
