"""travel initial

Revision ID: 0001_travel
Revises:
Depends on: 0004_threads (references thread, party and user_account)
Create Date: 2026-11-24 09:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import cooperation.db


revision = '0001_travel'
down_revision = None
branch_labels = ('travel',)
depends_on = '0004_threads'


def upgrade() -> None:
    op.create_table('travel_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.String(length=32), nullable=False),
    sa.Column('reporting_party_id', sa.Integer(), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('urgent_channels', sa.Integer(), nullable=False),
    sa.Column('acknowledged_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Enum('arrested_surrendered', 'arrested', 'did_not_travel', 'travelled_not_arrested', 'other', name='travel_outcome', native_enum=False, length=32), nullable=True),
    sa.Column('outcome_recorded_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome_recorded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['user_account.id'], name=op.f('fk_travel_report_acknowledged_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['outcome_recorded_by_id'], ['user_account.id'], name=op.f('fk_travel_report_outcome_recorded_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reported_by_id'], ['user_account.id'], name=op.f('fk_travel_report_reported_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reporting_party_id'], ['party.id'], name=op.f('fk_travel_report_reporting_party_id_party')),
    sa.ForeignKeyConstraint(['thread_id'], ['thread.id'], name=op.f('fk_travel_report_thread_id_thread'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_report')),
    sa.UniqueConstraint('thread_id', name=op.f('uq_travel_report_thread_id'))
    )
    with op.batch_alter_table('travel_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_travel_report_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_report_reporting_party_id'), ['reporting_party_id'], unique=False)

    op.create_table('travel_recipient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('court', 'focal_point', name='travel_recipient_kind', native_enum=False, length=32), nullable=False),
    sa.Column('alerted_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_read_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['report_id'], ['travel_report.id'], name=op.f('fk_travel_recipient_report_id_travel_report'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_travel_recipient_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_travel_recipient')),
    sa.UniqueConstraint('report_id', 'user_id', name=op.f('uq_travel_recipient_report_id'))
    )
    with op.batch_alter_table('travel_recipient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_travel_recipient_report_id'), ['report_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_travel_recipient_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('travel_recipient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_travel_recipient_user_id'))
        batch_op.drop_index(batch_op.f('ix_travel_recipient_report_id'))

    op.drop_table('travel_recipient')
    with op.batch_alter_table('travel_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_travel_report_reporting_party_id'))
        batch_op.drop_index(batch_op.f('ix_travel_report_created_at'))

    op.drop_table('travel_report')
