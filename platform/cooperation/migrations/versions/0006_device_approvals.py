"""device approvals: a new browser approved from an existing one

Revision ID: 0006_device_approvals
Revises: 0005_caselaw_search
Create Date: 2026-11-24 10:00:00

One row per browser waiting for approval (PROTOCOL.md §8a): its public keys, then the account
secrets sealed to it (ciphertext only) and the approving device's signature. Rows are deleted
when the device registers, when refused and once expired (ten minutes).
"""
from alembic import op
import sqlalchemy as sa
import cooperation.db


revision = '0006_device_approvals'
down_revision = '0005_caselaw_search'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('key_device_approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.String(length=32), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('dh_public', sa.LargeBinary(length=32), nullable=False),
    sa.Column('sig_public', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approver_device_id', sa.String(length=32), nullable=True),
    sa.Column('sealed', sa.LargeBinary(length=65600), nullable=True),
    sa.Column('signature', sa.LargeBinary(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_key_device_approval_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_device_approval')),
    sa.UniqueConstraint('request_id', name=op.f('uq_key_device_approval_request_id'))
    )
    with op.batch_alter_table('key_device_approval', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_key_device_approval_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_key_device_approval_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('key_device_approval', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_key_device_approval_user_id'))
        batch_op.drop_index(batch_op.f('ix_key_device_approval_expires_at'))

    op.drop_table('key_device_approval')
