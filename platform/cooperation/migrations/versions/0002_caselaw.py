"""case law and guidance

Explainers, guidance notes, versions, reader visits, feed tokens, and the full-text index
(an SQLite FTS5 virtual table or a PostgreSQL tsvector table, `fts_caselaw`).

Revision ID: 0002_caselaw
Revises: 0001_core
Create Date: 2026-11-23 13:27:12

Tables generated with autogenerate against a fresh database at 0001_core (no plugins), then
trimmed to this feature's tables. The `fts_` structures are not models: they are created by
cooperation.caselaw.search.ensure_search_structures for the dialect at hand (the same function
the models' after_create event calls) and skipped by the schema comparison (include_object).
The demo content is loaded by `seed-demo`, never here.
"""
from alembic import op
import sqlalchemy as sa
import cooperation.db


revision = '0002_caselaw'
down_revision = '0001_core'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('caselaw_feed_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_caselaw_feed_token_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caselaw_feed_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_caselaw_feed_token_token_hash'))
    )
    with op.batch_alter_table('caselaw_feed_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caselaw_feed_token_user_id'), ['user_id'], unique=False)
    op.create_table('caselaw_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('explainer', 'guidance', name='caselaw_kind', native_enum=False, length=32), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('language', sa.Enum('en', 'fr', name='caselaw_language', native_enum=False, length=32), nullable=False),
    sa.Column('translation_group', sa.String(length=32), nullable=False),
    sa.Column('translation_of_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('draft', 'in_review', 'published', name='caselaw_status', native_enum=False, length=32), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('current_version_number', sa.Integer(), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_version_number', sa.Integer(), nullable=True),
    sa.Column('publish_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_published_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user_account.id'], name=op.f('fk_caselaw_item_approved_by_id_user_account')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_caselaw_item_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['user_account.id'], name=op.f('fk_caselaw_item_submitted_by_id_user_account')),
    sa.ForeignKeyConstraint(['translation_of_id'], ['caselaw_item.id'], name=op.f('fk_caselaw_item_translation_of_id_caselaw_item'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caselaw_item')),
    sa.UniqueConstraint('slug', name=op.f('uq_caselaw_item_slug')),
    sa.UniqueConstraint('translation_group', 'language', name='uq_caselaw_item_group_language')
    )
    with op.batch_alter_table('caselaw_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caselaw_item_translation_group'), ['translation_group'], unique=False)
        batch_op.create_index('ix_caselaw_item_visible', ['published_version_number', 'publish_at'], unique=False)
    op.create_table('caselaw_reader_state',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('last_visit_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('previous_visit_at', cooperation.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_caselaw_reader_state_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_caselaw_reader_state'))
    )
    op.create_table('caselaw_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('created_at', cooperation.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('restored_from', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('document_number', sa.String(length=120), nullable=False),
    sa.Column('chamber', sa.String(length=32), nullable=False),
    sa.Column('decision_date', sa.Date(), nullable=True),
    sa.Column('situation', sa.String(length=200), nullable=False),
    sa.Column('case_name', sa.String(length=300), nullable=False),
    sa.Column('guidance_kind', sa.String(length=32), nullable=False),
    sa.Column('holding', sa.Text(), nullable=False),
    sa.Column('practice', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('decision_url', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_caselaw_version_author_id_user_account')),
    sa.ForeignKeyConstraint(['item_id'], ['caselaw_item.id'], name=op.f('fk_caselaw_version_item_id_caselaw_item'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caselaw_version')),
    sa.UniqueConstraint('item_id', 'number', name='uq_caselaw_version_item_number')
    )
    with op.batch_alter_table('caselaw_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caselaw_version_chamber'), ['chamber'], unique=False)
        batch_op.create_index(batch_op.f('ix_caselaw_version_decision_date'), ['decision_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_caselaw_version_item_id'), ['item_id'], unique=False)
    op.create_table('caselaw_version_article',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('article', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['caselaw_version.id'], name=op.f('fk_caselaw_version_article_version_id_caselaw_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('version_id', 'article', name=op.f('pk_caselaw_version_article'))
    )
    with op.batch_alter_table('caselaw_version_article', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caselaw_version_article_article'), ['article'], unique=False)
    op.create_table('caselaw_version_related',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('related_item_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['related_item_id'], ['caselaw_item.id'], name=op.f('fk_caselaw_version_related_related_item_id_caselaw_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['caselaw_version.id'], name=op.f('fk_caselaw_version_related_version_id_caselaw_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('version_id', 'related_item_id', name=op.f('pk_caselaw_version_related'))
    )
    with op.batch_alter_table('caselaw_version_related', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caselaw_version_related_related_item_id'), ['related_item_id'], unique=False)
    op.create_table('caselaw_version_topic',
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['caselaw_version.id'], name=op.f('fk_caselaw_version_topic_version_id_caselaw_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('version_id', 'topic', name=op.f('pk_caselaw_version_topic'))
    )
    with op.batch_alter_table('caselaw_version_topic', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caselaw_version_topic_topic'), ['topic'], unique=False)

    from cooperation.caselaw.search import ensure_search_structures

    ensure_search_structures(op.get_bind())


def downgrade() -> None:
    from cooperation.caselaw.search import drop_search_structures

    drop_search_structures(op.get_bind())

    with op.batch_alter_table('caselaw_version_topic', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caselaw_version_topic_topic'))
    op.drop_table('caselaw_version_topic')
    with op.batch_alter_table('caselaw_version_related', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caselaw_version_related_related_item_id'))
    op.drop_table('caselaw_version_related')
    with op.batch_alter_table('caselaw_version_article', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caselaw_version_article_article'))
    op.drop_table('caselaw_version_article')
    with op.batch_alter_table('caselaw_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caselaw_version_item_id'))
        batch_op.drop_index(batch_op.f('ix_caselaw_version_decision_date'))
        batch_op.drop_index(batch_op.f('ix_caselaw_version_chamber'))
    op.drop_table('caselaw_version')
    op.drop_table('caselaw_reader_state')
    with op.batch_alter_table('caselaw_item', schema=None) as batch_op:
        batch_op.drop_index('ix_caselaw_item_visible')
        batch_op.drop_index(batch_op.f('ix_caselaw_item_translation_group'))
    op.drop_table('caselaw_item')
    with op.batch_alter_table('caselaw_feed_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caselaw_feed_token_user_id'))
    op.drop_table('caselaw_feed_token')
