"""questionnaires: national procedures for executing the Court's requests

Revision ID: 0001_questionnaires
Revises:
Depends on: 0001_core (references party and user_account)
Create Date: 2026-11-23 13:31:35
"""
from alembic import op
import sqlalchemy as sa
import cooperation.db


revision = '0001_questionnaires'
down_revision = None
branch_labels = ('questionnaires',)
depends_on = '0001_core'


def upgrade() -> None:
    op.create_table('questionnaire_form',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.String(length=32), nullable=False),
    sa.Column('edition', sa.Integer(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('title_en', sa.String(length=300), nullable=False),
    sa.Column('title_fr', sa.String(length=300), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=False),
    sa.Column('description_fr', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', name='questionnaire_status', native_enum=False, length=32), nullable=False),
    sa.Column('opens_on', sa.Date(), nullable=True),
    sa.Column('closes_on', sa.Date(), nullable=True),
    sa.Column('reminder_interval_days', sa.Integer(), nullable=True),
    sa.Column('share_responses', sa.Boolean(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_questionnaire_form_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['previous_id'], ['questionnaire_form.id'], name=op.f('fk_questionnaire_form_previous_id_questionnaire_form'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_form')),
    sa.UniqueConstraint('series_id', 'edition', name=op.f('uq_questionnaire_form_series_id'))
    )
    with op.batch_alter_table('questionnaire_form', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_form_series_id'), ['series_id'], unique=False)

    op.create_table('questionnaire_state_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('share_profile', sa.Boolean(), nullable=False),
    sa.Column('updated_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], name=op.f('fk_questionnaire_state_setting_party_id_party')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_questionnaire_state_setting_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_state_setting')),
    sa.UniqueConstraint('party_id', name=op.f('uq_questionnaire_state_setting_party_id'))
    )
    op.create_table('questionnaire_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=64), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], name=op.f('fk_questionnaire_file_party_id_party')),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['questionnaire_form.id'], name=op.f('fk_questionnaire_file_questionnaire_id_questionnaire_form'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user_account.id'], name=op.f('fk_questionnaire_file_uploaded_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_file')),
    sa.UniqueConstraint('stored_name', name=op.f('uq_questionnaire_file_stored_name'))
    )
    with op.batch_alter_table('questionnaire_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_file_party_id'), ['party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_file_questionnaire_id'), ['questionnaire_id'], unique=False)

    op.create_table('questionnaire_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('in_progress', 'submitted', name='questionnaire_response_status', native_enum=False, length=32), nullable=False),
    sa.Column('created_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], name=op.f('fk_questionnaire_response_party_id_party')),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['questionnaire_form.id'], name=op.f('fk_questionnaire_response_questionnaire_id_questionnaire_form'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['user_account.id'], name=op.f('fk_questionnaire_response_submitted_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_response')),
    sa.UniqueConstraint('questionnaire_id', 'party_id', name=op.f('uq_questionnaire_response_questionnaire_id'))
    )
    with op.batch_alter_table('questionnaire_response', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_response_party_id'), ['party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_response_questionnaire_id'), ['questionnaire_id'], unique=False)

    op.create_table('questionnaire_section',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title_en', sa.String(length=300), nullable=False),
    sa.Column('title_fr', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['questionnaire_form.id'], name=op.f('fk_questionnaire_section_questionnaire_id_questionnaire_form'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_section'))
    )
    with op.batch_alter_table('questionnaire_section', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_section_questionnaire_id'), ['questionnaire_id'], unique=False)

    op.create_table('questionnaire_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.Column('party_id', sa.Integer(), nullable=False),
    sa.Column('last_reminded_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['party_id'], ['party.id'], name=op.f('fk_questionnaire_target_party_id_party')),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['questionnaire_form.id'], name=op.f('fk_questionnaire_target_questionnaire_id_questionnaire_form'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_target')),
    sa.UniqueConstraint('questionnaire_id', 'party_id', name=op.f('uq_questionnaire_target_questionnaire_id'))
    )
    with op.batch_alter_table('questionnaire_target', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_target_party_id'), ['party_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_target_questionnaire_id'), ['questionnaire_id'], unique=False)

    op.create_table('questionnaire_question',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('questionnaire_id', sa.Integer(), nullable=False),
    sa.Column('section_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('qtype', sa.Enum('text', 'long_text', 'yes_no', 'single_choice', 'multiple_choice', 'number', 'date', 'file', 'legal_reference', name='questionnaire_question_type', native_enum=False, length=32), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('text_fr', sa.Text(), nullable=False),
    sa.Column('guidance_en', sa.Text(), nullable=False),
    sa.Column('guidance_fr', sa.Text(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('condition_question_id', sa.Integer(), nullable=True),
    sa.Column('condition_value', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['condition_question_id'], ['questionnaire_question.id'], name=op.f('fk_questionnaire_question_condition_question_id_questionnaire_question'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['questionnaire_id'], ['questionnaire_form.id'], name=op.f('fk_questionnaire_question_questionnaire_id_questionnaire_form'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['section_id'], ['questionnaire_section.id'], name=op.f('fk_questionnaire_question_section_id_questionnaire_section'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_question')),
    sa.UniqueConstraint('questionnaire_id', 'code', name=op.f('uq_questionnaire_question_questionnaire_id'))
    )
    with op.batch_alter_table('questionnaire_question', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_question_questionnaire_id'), ['questionnaire_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_question_section_id'), ['section_id'], unique=False)

    op.create_table('questionnaire_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('submitted_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['questionnaire_response.id'], name=op.f('fk_questionnaire_revision_response_id_questionnaire_response'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['user_account.id'], name=op.f('fk_questionnaire_revision_submitted_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_revision')),
    sa.UniqueConstraint('response_id', 'number', name=op.f('uq_questionnaire_revision_response_id'))
    )
    with op.batch_alter_table('questionnaire_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_revision_response_id'), ['response_id'], unique=False)

    op.create_table('questionnaire_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['question_id'], ['questionnaire_question.id'], name=op.f('fk_questionnaire_answer_question_id_questionnaire_question'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['response_id'], ['questionnaire_response.id'], name=op.f('fk_questionnaire_answer_response_id_questionnaire_response'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_questionnaire_answer_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_answer')),
    sa.UniqueConstraint('response_id', 'question_id', name=op.f('uq_questionnaire_answer_response_id'))
    )
    with op.batch_alter_table('questionnaire_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_answer_question_id'), ['question_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_questionnaire_answer_response_id'), ['response_id'], unique=False)

    op.create_table('questionnaire_option',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('label_en', sa.String(length=300), nullable=False),
    sa.Column('label_fr', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['questionnaire_question.id'], name=op.f('fk_questionnaire_option_question_id_questionnaire_question'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_option')),
    sa.UniqueConstraint('question_id', 'value', name=op.f('uq_questionnaire_option_question_id'))
    )
    with op.batch_alter_table('questionnaire_option', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_option_question_id'), ['question_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('questionnaire_option', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_option_question_id'))

    op.drop_table('questionnaire_option')
    with op.batch_alter_table('questionnaire_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_answer_response_id'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_answer_question_id'))

    op.drop_table('questionnaire_answer')
    with op.batch_alter_table('questionnaire_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_revision_response_id'))

    op.drop_table('questionnaire_revision')
    with op.batch_alter_table('questionnaire_question', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_question_section_id'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_question_questionnaire_id'))

    op.drop_table('questionnaire_question')
    with op.batch_alter_table('questionnaire_target', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_target_questionnaire_id'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_target_party_id'))

    op.drop_table('questionnaire_target')
    with op.batch_alter_table('questionnaire_section', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_section_questionnaire_id'))

    op.drop_table('questionnaire_section')
    with op.batch_alter_table('questionnaire_response', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_response_questionnaire_id'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_response_party_id'))

    op.drop_table('questionnaire_response')
    with op.batch_alter_table('questionnaire_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_file_questionnaire_id'))
        batch_op.drop_index(batch_op.f('ix_questionnaire_file_party_id'))

    op.drop_table('questionnaire_file')
    op.drop_table('questionnaire_state_setting')
    with op.batch_alter_table('questionnaire_form', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_form_series_id'))

    op.drop_table('questionnaire_form')
