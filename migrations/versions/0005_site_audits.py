"""site_audits: the history of pre-consent audits per site

Revision ID: 0006_site_audits
Revises: 0003_stats_rollups
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_site_audits'
down_revision = '0003_stats_rollups'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('site_audits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('verdict', sa.String(length=8), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_audits_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_site_audits'))
    )
    with op.batch_alter_table('site_audits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_audits_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_site_audits_site_id'), ['site_id'], unique=False)


def downgrade():
    with op.batch_alter_table('site_audits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_site_audits_site_id'))
        batch_op.drop_index(batch_op.f('ix_site_audits_created_at'))
    op.drop_table('site_audits')
