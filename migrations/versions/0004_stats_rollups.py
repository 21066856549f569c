"""statistics rollups: consents and impressions per site, time bucket and attribute

Revision ID: 0003_stats_rollups
Revises: 0002_login_and_site_timezone
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa

revision = "0003_stats_rollups"
down_revision = "0002_login_and_site_timezone"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "stats_rollups",
        sa.Column("id", BigId, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("granted", sa.String(length=200), nullable=False),
        sa.Column("consents", sa.BigInteger(), nullable=False),
        sa.Column("accept_all", sa.BigInteger(), nullable=False),
        sa.Column("reject_all", sa.BigInteger(), nullable=False),
        sa.Column("custom", sa.BigInteger(), nullable=False),
        sa.Column("withdraw", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_stats_rollups_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_rollups")),
        sa.UniqueConstraint("site_id", "dim", "grain", "bucket", "value", "granted",
                            name=op.f("uq_stats_rollups_site_id_dim_grain_bucket_value_granted")),
    )
    op.create_table(
        "stats_impressions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("dim", sa.String(length=16), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_stats_impressions_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_impressions")),
        sa.UniqueConstraint("site_id", "dim", "grain", "bucket", "value",
                            name=op.f("uq_stats_impressions_site_id_dim_grain_bucket_value")),
    )
    op.create_table(
        "stats_watermarks",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("seq", BigId, nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_stats_watermarks_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_stats_watermarks")),
    )
    # Impressions counted before this migration are per UTC day, so they go into the day's first bucket.
    bind = op.get_bind()
    old = sa.table("impression_counts", sa.column("site_id"), sa.column("day"), sa.column("country"),
                   sa.column("device_type"), sa.column("count"))
    sums: dict = {}
    for site_id, day, country, device, count in bind.execute(sa.select(old.c.site_id, old.c.day, old.c.country, old.c.device_type, old.c.count)):
        if isinstance(day, str):
            day = dt.date.fromisoformat(day)
        start = dt.datetime(day.year, day.month, day.day)
        if bind.dialect.name != "sqlite":
            start = start.replace(tzinfo=dt.timezone.utc)
        for grain in ("q", "d"):
            for dim, value in (("all", ""), ("country", country or ""), ("device", device or "")):
                key = (site_id, dim, grain, start, value)
                sums[key] = sums.get(key, 0) + count
    if sums:
        new = sa.table("stats_impressions", sa.column("site_id"), sa.column("dim"), sa.column("grain"),
                       sa.column("bucket"), sa.column("value"), sa.column("count"))
        op.bulk_insert(new, [dict(zip(("site_id", "dim", "grain", "bucket", "value"), key), count=n) for key, n in sums.items()])


def downgrade():
    op.drop_table("stats_watermarks")
    op.drop_table("stats_impressions")
    op.drop_table("stats_rollups")
