"""proof log format 2: accountable tombstones, removal records, scheduled checkpoints

Records written from now on carry `kind` (consent, withdraw or removal) and `day` (the UTC day
it was written) in their chain hash, so a tombstone still shows that a withdrawal was there and
when. Erase and purge append a removal record (`note`: which seqs, why, by whom as a keyed hash).
`checkpoint_schedule` lets one server process claim each scheduled checkpoint.
Existing records stay format 1 (kind NULL) and verify as before.

Revision ID: 0008_proof_format_2
Revises: 0005_proof_log
"""
import sqlalchemy as sa
from alembic import op

revision = "0008_proof_format_2"
down_revision = "0005_proof_log"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("day", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("note", sa.JSON(), nullable=True))
    op.create_table(
        "checkpoint_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint_schedule")),
    )


def downgrade():
    op.drop_table("checkpoint_schedule")
    # Removal records have no format-1 form; format-2 records keep their payload and would no
    # longer verify as format 1 (lossy, like 0005's downgrade).
    op.execute("DELETE FROM consent_records WHERE kind = 'removal'")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("day")
        batch_op.drop_column("kind")
