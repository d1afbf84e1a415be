"""case-law search: the PostgreSQL tsvector stays in the row

Revision ID: 0005_caselaw_search
Revises: 0004_threads
Create Date: 2026-11-23 16:05:00

Ranking reads the tsvector of every match. With the column's default storage (EXTENDED) the
vectors went to TOAST beside the long texts kept for ts_headline, and each one cost TOAST
index and heap lookups; STORAGE MAIN keeps them in the row (compressed if need be, with lz4
where the server has it). Existing rows are rewritten so that their vectors move in. The
`fts_` table is not a model (see 0002_caselaw): fresh databases get the same settings from
cooperation.caselaw.search.ensure_search_structures. Nothing changes on SQLite (FTS5).
"""
from alembic import op


revision = '0005_caselaw_search'
down_revision = '0004_threads'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("""
        DO $$ BEGIN
            ALTER TABLE fts_caselaw ALTER COLUMN document SET STORAGE MAIN;
            BEGIN
                ALTER TABLE fts_caselaw ALTER COLUMN document SET COMPRESSION lz4;
            EXCEPTION WHEN feature_not_supported THEN NULL;
            END;
        END $$""")
    # A new value (not the stored one) is stored again under the new settings.
    op.execute("UPDATE fts_caselaw SET document = document || ''::tsvector")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE fts_caselaw ALTER COLUMN document SET STORAGE EXTENDED")
    op.execute("ALTER TABLE fts_caselaw ALTER COLUMN document SET COMPRESSION DEFAULT")
