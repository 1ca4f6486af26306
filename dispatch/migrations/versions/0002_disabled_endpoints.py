"""Webhook endpoints switched off after 410 Gone.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('disabled_endpoints',
    sa.Column('department_id', sa.String(length=100), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('department_id')
    )


def downgrade() -> None:
    op.drop_table('disabled_endpoints')
