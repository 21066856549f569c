"""login: users' page language; sites' time zone for statistics

Revision ID: 0002_login_and_site_timezone
Revises: 0007_banner_colours
"""
from alembic import op
import sqlalchemy as sa

revision = "0002_login_and_site_timezone"
down_revision = "0007_banner_colours"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), server_default="Europe/Copenhagen", nullable=False))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("timezone")
