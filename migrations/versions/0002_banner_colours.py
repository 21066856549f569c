"""banner colours per site; GA4's declared cookies as GA4 sets them

Revision ID: 0007_banner_colours
Revises: 0001_initial
"""
import json

from alembic import op
import sqlalchemy as sa


revision = "0007_banner_colours"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sites") as batch:
        batch.add_column(sa.Column("banner_colours", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("sites") as batch:
        batch.alter_column("banner_colours", server_default=None)
    # Google Analytics 4 sets _ga and _ga_<container-id>, not Universal Analytics' _gid: the built-in
    # service's declaration says so (the container id is the measurement id without "G-").
    bind = op.get_bind()
    services = bind.execute(sa.text("SELECT id, settings FROM services WHERE kind = 'google_analytics'")).fetchall()
    for service_id, settings in services:
        if isinstance(settings, str):
            settings = json.loads(settings)
        container = str((settings or {}).get("measurement_id", "")).removeprefix("G-")
        bind.execute(sa.text("DELETE FROM service_cookies WHERE service_id = :id AND name = '_gid'"), {"id": service_id})
        if container:
            bind.execute(
                sa.text("UPDATE service_cookies SET name = :name WHERE service_id = :id AND name = '_ga_*'"),
                {"id": service_id, "name": "_ga_" + container},
            )


def downgrade():
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("banner_colours")
