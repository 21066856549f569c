"""drop impression_counts: banner impressions are counted in stats_impressions alone

The per-day counter was written with every impression and read by nothing since the statistics
(0003_stats_rollups, which carried its rows over) count impressions themselves.

Revision ID: 0010_drop_impression_counts
Revises: 0009_login_sessions
"""
from alembic import op
import sqlalchemy as sa

revision = "0010_drop_impression_counts"
down_revision = "0009_login_sessions"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("impression_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_impression_counts_site_id"))
    op.drop_table("impression_counts")


def downgrade():
    # The table comes back empty: what it counted lives on in stats_impressions.
    op.create_table(
        "impression_counts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("device_type", sa.String(length=16), nullable=False),
        sa.Column("count", BigId, nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_impression_counts_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impression_counts")),
        sa.UniqueConstraint("site_id", "day", "country", "device_type", name=op.f("uq_impression_counts_site_id_day_country_device_type")),
    )
    with op.batch_alter_table("impression_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_impression_counts_site_id"), ["site_id"], unique=False)
