"""idempotency keys in their own table; revocations ordered by the site's sequence

Keys move out of consent_records into idempotency_keys, scoped to site, endpoint, consent
(withdrawals) and a fingerprint of the body, and kept 24 hours. Keys stored the old way carry no
body fingerprint and are not carried over: a retry older than this migration is recorded anew.
Revocations gain up_to_seq, the site's log position up to which a consent's tokens stop counting;
for rows written before, it is the withdrawal record's own seq.

Revision ID: 0004_idempotency_keys
Revises: 0006_site_audits
"""
from alembic import op
import sqlalchemy as sa

revision = "0004_idempotency_keys"
down_revision = "0006_site_audits"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "idempotency_keys",
        sa.Column("id", BigId, nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_idempotency_keys_site_id_sites"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("site_id", "key_hash", name=op.f("uq_idempotency_keys_site_id_key_hash")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_idempotency_keys_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_idempotency_keys_consent_id"), ["consent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False)

    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_constraint("uq_consent_records_site_id_idempotency_hash", type_="unique")
        batch_op.drop_column("idempotency_hash")

    with op.batch_alter_table("consent_revocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("up_to_seq", BigId, nullable=True))
    # Existing withdrawals revoke up to their own record; erasures (no record of their own) keep NULL
    # and are compared by time, as before.
    op.execute(
        """
        UPDATE consent_revocations SET up_to_seq = (
            SELECT MAX(r.seq) FROM consent_records r
            WHERE r.site_id = consent_revocations.site_id AND r.consent_id = consent_revocations.consent_id
              AND r.method = 'withdraw' AND r.created_at = consent_revocations.revoked_at)
        WHERE reason = 'withdraw'
        """
    )


def downgrade():
    with op.batch_alter_table("consent_revocations", schema=None) as batch_op:
        batch_op.drop_column("up_to_seq")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint("uq_consent_records_site_id_idempotency_hash", ["site_id", "idempotency_hash"])
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_consent_id"))
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_site_id"))
    op.drop_table("idempotency_keys")
