"""scan preference: what a scan that names exactly one entry opens, per user

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

CHECK = "scan_opens IN ('entry', 'adjust')"


def upgrade():
    # Every existing user keeps today's behaviour: a scan opens the entry's page.
    if op.get_bind().dialect.name == "sqlite":
        # Not a batch copy: other tables' foreign keys name users, and SQLite refuses to
        # drop a table they reference. ADD COLUMN keeps the table and its rows in place.
        op.execute(
            "ALTER TABLE users ADD COLUMN scan_opens VARCHAR(8) DEFAULT 'entry' NOT NULL "
            f"CONSTRAINT ck_users_scan_opens CHECK ({CHECK})"
        )
        return
    op.add_column('users', sa.Column('scan_opens', sa.String(length=8), nullable=False,
                                     server_default='entry'))
    op.create_check_constraint(op.f('ck_users_scan_opens'), 'users', CHECK)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        # The column's own CHECK goes with it.
        op.execute("ALTER TABLE users DROP COLUMN scan_opens")
        return
    op.drop_constraint(op.f('ck_users_scan_opens'), 'users', type_='check')
    op.drop_column('users', 'scan_opens')
