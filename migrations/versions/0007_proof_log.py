"""proof log format 1: payload and chain hashes, tombstones, signed checkpoints, hashed revocations

The consent log's hashes no longer cover the personal fields directly: each record keeps a
payload hash (over the personal fields) and a chain hash (over previous chain hash, seq and
payload hash), so `erase` and `purge` can empty a record and leave a verifiable tombstone.
Existing records are re-sealed in the new format (there is no production data in the old one).
Revocations name the consent by its SHA-256, so an erased consent id is not kept there either.

Downgrade is lossy: tombstones are dropped and revocations cannot get their consent ids back.

Revision ID: 0005_proof_log
Revises: 0004_idempotency_keys
"""
import datetime as dt
import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0005_proof_log"
down_revision = "0004_idempotency_keys"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PERSONAL = {
    "consent_id": sa.String(length=32),
    "created_at": sa.DateTime(timezone=True),
    "policy_version": sa.Integer(),
    "choices": sa.JSON(),
    "method": sa.String(length=16),
    "language": sa.String(length=16),
    "page_url": sa.String(length=2048),
    "gpc": sa.Boolean(),
    "country": sa.String(length=2),
    "region": sa.String(length=8),
    "city": sa.String(length=120),
    "device_type": sa.String(length=16),
    "browser_family": sa.String(length=60),
    "os_family": sa.String(length=60),
    "is_bot": sa.Boolean(),
    "banner_hash": sa.String(length=64),
}


def _reseal(bind):
    from cookiegate.proof.ledger import PAYLOAD_FIELDS, seal_many

    records = sa.table(
        "consent_records",
        sa.column("id", sa.Integer()),
        sa.column("site_id", sa.Integer()),
        sa.column("seq", sa.Integer()),
        sa.column("payload_hash", sa.String()),
        sa.column("chain_hash", sa.String()),
        *(sa.column(name, type_) for name, type_ in PERSONAL.items()),
    )
    sites = sa.table("sites", sa.column("id", sa.Integer()), sa.column("key", sa.String()), sa.column("log_head", sa.String()))
    for site_id, site_key in bind.execute(sa.select(sites.c.id, sites.c.key)).all():
        rows = bind.execute(
            sa.select(records.c.id, *(records.c[name] for name in PAYLOAD_FIELDS))
            .where(records.c.site_id == site_id)
            .order_by(records.c.seq)
        ).all()
        if not rows:
            continue
        payloads = []
        for row in rows:
            values = list(row[1:])
            created = values[1]
            if created.tzinfo is None:  # SQLite keeps naive UTC
                values[1] = created.replace(tzinfo=dt.timezone.utc)
            payloads.append(values)
        head = ""
        for row, (_, payload, head) in zip(rows, seal_many(site_key, "", 1, payloads, format=1)):
            bind.execute(records.update().where(records.c.id == row[0]).values(payload_hash=payload, chain_hash=head))
        bind.execute(sites.update().where(sites.c.id == site_id).values(log_head=head))


def upgrade():
    bind = op.get_bind()
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("chain_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("removed", sa.String(length=8), nullable=True))
        for name, type_ in PERSONAL.items():
            batch_op.alter_column(name, existing_type=type_, nullable=True)
    _reseal(bind)
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.alter_column("payload_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("chain_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("content_hash")
        batch_op.create_index("ix_consent_records_site_id_created_at", ["site_id", "created_at"], unique=False)

    with op.batch_alter_table("consent_revocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_hash", sa.String(length=64), nullable=True))
    revocations = sa.table("consent_revocations", sa.column("id", sa.Integer()), sa.column("consent_id", sa.String()), sa.column("consent_hash", sa.String()))
    for row_id, consent_id in bind.execute(sa.select(revocations.c.id, revocations.c.consent_id)).all():
        digest = hashlib.sha256(consent_id.encode("utf-8")).hexdigest()
        bind.execute(revocations.update().where(revocations.c.id == row_id).values(consent_hash=digest))
    with op.batch_alter_table("consent_revocations", schema=None) as batch_op:
        batch_op.alter_column("consent_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_index(batch_op.f("ix_consent_revocations_consent_id"))
        batch_op.drop_column("consent_id")
        batch_op.create_index(batch_op.f("ix_consent_revocations_consent_hash"), ["consent_hash"], unique=False)

    op.create_table(
        "log_checkpoints",
        sa.Column("id", BigId, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("seq", BigId, nullable=False),
        sa.Column("head", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_log_checkpoints_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_checkpoints")),
    )
    with op.batch_alter_table("log_checkpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_checkpoints_site_id"), ["site_id"], unique=False)


def downgrade():
    with op.batch_alter_table("log_checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_checkpoints_site_id"))
    op.drop_table("log_checkpoints")

    with op.batch_alter_table("consent_revocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_id", sa.String(length=32), nullable=True))
    op.execute("UPDATE consent_revocations SET consent_id = substr(consent_hash, 1, 32)")
    with op.batch_alter_table("consent_revocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_revocations_consent_hash"))
        batch_op.drop_column("consent_hash")
        batch_op.alter_column("consent_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_index(batch_op.f("ix_consent_revocations_consent_id"), ["consent_id"], unique=False)

    op.execute("DELETE FROM consent_records WHERE consent_id IS NULL")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_records_site_id_created_at")
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=False, server_default=""))
    op.execute("UPDATE consent_records SET content_hash = chain_hash")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), server_default=None)
        batch_op.alter_column("content_hash", existing_type=sa.String(length=64), server_default=None)
        batch_op.drop_column("removed")
        batch_op.drop_column("chain_hash")
        batch_op.drop_column("payload_hash")
        for name, type_ in PERSONAL.items():
            batch_op.alter_column(name, existing_type=type_, nullable=False)
