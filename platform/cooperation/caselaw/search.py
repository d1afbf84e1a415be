"""Full-text search over published items: one interface, two backends.

- SQLite: an FTS5 virtual table `fts_caselaw` (rowid = item id), ranked with bm25 and column
  weights title 10, holding 5, body 1; snippets from FTS5's snippet().
- PostgreSQL: a table `fts_caselaw` holding a tsvector weighted A (title), B (holding and
  practice), C (body), with a GIN index; ranked with ts_rank, snippets from ts_headline, with
  the text-search configuration of the item's language (english / french).

Only the *published* version of an item is indexed; the service layer (re)indexes an item when a
version is approved and removes it when the item is withdrawn. Whether a reader may see it yet
(scheduled publication) is decided at query time. The `fts_` tables are not models: Alembic's
comparison skips them (migrations/alembic_config.py) and `ensure_search_structures` creates them
both from the migration and after `create_all` (tests).

Highlighting is safe by construction: the backends wrap matches in two private-use characters
(stripped from the indexed text beforehand), the snippet is HTML-escaped, and only then are the
markers replaced by <mark> and </mark>.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from markupsafe import Markup, escape
from sqlalchemy import Connection, and_, case, column, exists, extract, func, literal_column, or_, select, text
from sqlalchemy import table as sa_table
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from cooperation.caselaw.models import (
    CaselawItem,
    CaselawVersion,
    CaselawVersionArticle,
    CaselawVersionTopic,
)

FTS_TABLE = "fts_caselaw"
MARK_START = "\ue000"
MARK_STOP = "\ue001"
MAX_TERMS = 12
MAX_TERM_LENGTH = 64
SNIPPET_WORDS = 24
PG_CONFIGS = {"en": "english", "fr": "french"}
_WORD = re.compile(r"\w+", re.UNICODE)


# -- the interface ------------------------------------------------------------------------------

@dataclass(frozen=True)
class IndexDocument:
    item_id: int
    language: str
    title: str
    holding: str
    body: str


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    topic: str = ""
    article: str = ""
    chamber: str = ""
    year: int | None = None
    kind: str = ""
    language: str = ""
    limit: int = 50
    offset: int = 0

    @property
    def terms(self) -> list[str]:
        """Words only: the user's text never reaches the MATCH / tsquery syntax as such."""
        words = [w.lower() for w in _WORD.findall(self.text)]
        return [w[:MAX_TERM_LENGTH] for w in words if w.strip("_")][:MAX_TERMS]


@dataclass(frozen=True)
class SearchHit:
    item: CaselawItem
    version: CaselawVersion
    score: float
    snippet: Markup


@dataclass(frozen=True)
class SearchResults:
    hits: list[SearchHit]
    total: int
    query: SearchQuery


class SearchBackend(Protocol):
    name: str

    def index(self, session: Session, doc: IndexDocument) -> None: ...

    def remove(self, session: Session, item_id: int) -> None: ...

    def ranked(self, terms: list[str]) -> tuple[Any, ColumnElement[Any], ColumnElement[Any], ColumnElement[Any],
                                                 ColumnElement[Any]]:
        """(fts selectable, item-id column, match condition, score (higher is better), snippet)."""
        ...

    def snippets(self, session: Session, terms: list[str], item_ids: list[int]) -> dict[int, str]:
        """Highlighted fragments for a page of results only (they are the costly part)."""
        ...


def _clean(value: str) -> str:
    return value.replace(MARK_START, "").replace(MARK_STOP, "")


# -- SQLite FTS5 --------------------------------------------------------------------------------

class SqliteBackend:
    name = "sqlite-fts5"

    def index(self, session: Session, doc: IndexDocument) -> None:
        self.remove(session, doc.item_id)
        session.execute(
            text(f"INSERT INTO {FTS_TABLE}(rowid, title, holding, body) VALUES (:id, :t, :h, :b)"),
            {"id": doc.item_id, "t": _clean(doc.title), "h": _clean(doc.holding), "b": _clean(doc.body)})

    def remove(self, session: Session, item_id: int) -> None:
        session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": item_id})

    def ranked(self, terms: list[str]) -> tuple[Any, ColumnElement[Any], ColumnElement[Any],
                                                  ColumnElement[Any], ColumnElement[Any]]:
        fts = literal_column(FTS_TABLE)
        # Each word quoted (a phrase of one token) and prefix-matched, all required (AND).
        expression = " ".join(f'"{t}"*' for t in terms)
        table = sa_table(FTS_TABLE, column("rowid"))
        rowid = table.c.rowid
        match = fts.op("MATCH")(expression)
        score = -func.bm25(fts, 10.0, 5.0, 1.0)  # bm25: lower is better
        snippet = func.snippet(fts, -1, MARK_START, MARK_STOP, "…", SNIPPET_WORDS)
        return table, rowid, match, score, snippet

    def snippets(self, session: Session, terms: list[str], item_ids: list[int]) -> dict[int, str]:
        table, rowid, match, _, snippet = self.ranked(terms)
        rows = session.execute(select(rowid, snippet).select_from(table).where(match, rowid.in_(item_ids)))
        return {int(i): s for i, s in rows}


# -- PostgreSQL ---------------------------------------------------------------------------------

class PostgresBackend:
    name = "postgresql-tsvector"

    def index(self, session: Session, doc: IndexDocument) -> None:
        config = PG_CONFIGS.get(doc.language, "simple")
        session.execute(text(f"""
            INSERT INTO {FTS_TABLE} (item_id, config, title, holding, body, document)
            VALUES (:id, CAST(:cfg AS regconfig), :t, :h, :b,
                    setweight(to_tsvector(CAST(:cfg AS regconfig), :t), 'A')
                    || setweight(to_tsvector(CAST(:cfg AS regconfig), :h), 'B')
                    || setweight(to_tsvector(CAST(:cfg AS regconfig), :b), 'C'))
            ON CONFLICT (item_id) DO UPDATE SET config = EXCLUDED.config, title = EXCLUDED.title,
                holding = EXCLUDED.holding, body = EXCLUDED.body, document = EXCLUDED.document
        """), {"id": doc.item_id, "cfg": config, "t": _clean(doc.title), "h": _clean(doc.holding),
               "b": _clean(doc.body)})

    def remove(self, session: Session, item_id: int) -> None:
        session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE item_id = :id"), {"id": item_id})

    def ranked(self, terms: list[str]) -> tuple[Any, ColumnElement[Any], ColumnElement[Any],
                                                  ColumnElement[Any], ColumnElement[Any]]:
        # Every term prefix-matched and required; the words are \w+ only, so quoting is exact.
        query_text = " & ".join(f"'{t}':*" for t in terms)
        table = sa_table(FTS_TABLE, column("item_id"), column("config"), column("document"),
                         column("holding"), column("body"))
        config, document, item_id = table.c.config, table.c.document, table.c.item_id
        # One branch per configuration with a constant tsquery, so the GIN index can serve it.
        match = or_(*(
            and_(config == literal_column(f"'{cfg}'::regconfig"),
                 document.op("@@")(func.to_tsquery(literal_column(f"'{cfg}'::regconfig"), query_text)))
            for cfg in sorted(set(PG_CONFIGS.values()) | {"simple"})
        ))
        # The row's configuration picks one of the constant queries (folded once at planning),
        # rather than parsing the query again for every matching row.
        row_query = case(*((config == literal_column(f"'{cfg}'::regconfig"),
                            func.to_tsquery(literal_column(f"'{cfg}'::regconfig"), query_text))
                           for cfg in sorted(set(PG_CONFIGS.values()))),
                         else_=func.to_tsquery(literal_column("'simple'::regconfig"), query_text))
        score = func.ts_rank(document, row_query)
        source = func.concat_ws(" … ", table.c.holding, table.c.body)
        options = (f"StartSel={MARK_START}, StopSel={MARK_STOP}, MaxWords={SNIPPET_WORDS}, "
                   "MinWords=8, MaxFragments=2, FragmentDelimiter=\" … \"")
        snippet = func.ts_headline(config, source, row_query, options)
        return table, item_id, match, score, snippet

    def snippets(self, session: Session, terms: list[str], item_ids: list[int]) -> dict[int, str]:
        table, item_id, _, _, snippet = self.ranked(terms)
        rows = session.execute(select(item_id, snippet).select_from(table).where(item_id.in_(item_ids)))
        return {int(i): s for i, s in rows}


def backend_for(session_or_connection: Session | Connection) -> SearchBackend:
    # A Session (or Flask-SQLAlchemy's scoped session) has get_bind(); a Connection is the bind.
    get_bind = getattr(session_or_connection, "get_bind", None)
    bind = get_bind() if get_bind is not None else session_or_connection
    return PostgresBackend() if bind.dialect.name == "postgresql" else SqliteBackend()


# -- structures -----------------------------------------------------------------------------------

def ensure_search_structures(connection: Connection) -> None:
    """Create the index table (idempotent). Called by the migration and after create_all."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"""
            CREATE TABLE IF NOT EXISTS {FTS_TABLE} (
                item_id integer PRIMARY KEY REFERENCES caselaw_item(id) ON DELETE CASCADE,
                config regconfig NOT NULL,
                title text NOT NULL DEFAULT '',
                holding text NOT NULL DEFAULT '',
                body text NOT NULL DEFAULT '',
                document tsvector NOT NULL
            )""")
        connection.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS ix_{FTS_TABLE}_document ON {FTS_TABLE} USING gin (document)")
        return
    connection.exec_driver_sql(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
        "title, holding, body, tokenize = 'porter unicode61 remove_diacritics 2')")
    # Rows of deleted items go with them (ids are reused by SQLite after a delete).
    connection.exec_driver_sql(f"""
        CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_item_deleted AFTER DELETE ON caselaw_item
        BEGIN DELETE FROM {FTS_TABLE} WHERE rowid = old.id; END""")


def drop_search_structures(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_item_deleted")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def rebuild(session: Session, documents: list[IndexDocument]) -> None:
    backend = backend_for(session)
    session.execute(text(f"DELETE FROM {FTS_TABLE}"))
    for doc in documents:
        backend.index(session, doc)


# -- querying -----------------------------------------------------------------------------------

def visible(now: datetime) -> ColumnElement[bool]:
    """Readers' filter: an approved version exists and its publication time has come."""
    return and_(CaselawItem.published_version_number.is_not(None),
                CaselawItem.publish_at.is_not(None), CaselawItem.publish_at <= now)


def _filtered(query: SearchQuery, now: datetime) -> Select[Any]:
    stmt = (select(CaselawItem, CaselawVersion)
            .join(CaselawVersion, and_(CaselawVersion.item_id == CaselawItem.id,
                                       CaselawVersion.number == CaselawItem.published_version_number))
            .where(visible(now)))
    if query.kind:
        stmt = stmt.where(CaselawItem.kind == query.kind)
    if query.language:
        stmt = stmt.where(CaselawItem.language == query.language)
    if query.chamber:
        stmt = stmt.where(CaselawVersion.chamber == query.chamber)
    if query.year:
        stmt = stmt.where(extract("year", CaselawVersion.decision_date) == query.year)
    if query.topic:
        stmt = stmt.where(exists().where(CaselawVersionTopic.version_id == CaselawVersion.id,
                                         CaselawVersionTopic.topic == query.topic))
    if query.article:
        stmt = stmt.where(exists().where(CaselawVersionArticle.version_id == CaselawVersion.id,
                                         CaselawVersionArticle.article == query.article))
    return stmt


def highlight(snippet: str | None) -> Markup:
    """Escape the backend's snippet, then turn the private markers into <mark> elements."""
    if not snippet:
        return Markup("")
    out: list[str] = []
    open_mark = False
    for part in re.split(f"([{MARK_START}{MARK_STOP}])", snippet):
        if part == MARK_START and not open_mark:
            out.append("<mark>")
            open_mark = True
        elif part == MARK_STOP and open_mark:
            out.append("</mark>")
            open_mark = False
        elif part not in (MARK_START, MARK_STOP):
            out.append(str(escape(part)))
    if open_mark:
        out.append("</mark>")
    return Markup("".join(out))  # noqa: S704 - every text part was escaped above


def search(session: Session, query: SearchQuery, now: datetime) -> SearchResults:
    stmt = _filtered(query, now)
    terms = query.terms
    if not terms:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.execute(
            stmt.order_by(CaselawVersion.decision_date.desc().nulls_last(), CaselawItem.publish_at.desc(),
                          CaselawItem.id.desc())
            .limit(query.limit).offset(query.offset)).all()
        return SearchResults([SearchHit(item, version, 0.0, Markup("")) for item, version in rows],
                             total, query)
    backend = backend_for(session)
    table, item_id, match, score, _ = backend.ranked(terms)
    # Rank and cut the page first; full rows and snippets (the costly part) for that page only.
    # (SQLite refuses bm25() next to a window function, hence a separate count.)
    matched = stmt.join(table, item_id == CaselawItem.id).where(match)
    columns = [CaselawItem.id, score.label("score")]
    counted_in_page = backend.name.startswith("postgresql")
    if counted_in_page:
        # One pass over the matches: the total rides along as a window count (PostgreSQL).
        columns.append(func.count().over().label("total"))
    ranked = (matched.with_only_columns(*columns)
              .order_by(literal_column("score").desc(), CaselawItem.id.desc())
              .limit(query.limit).offset(query.offset))
    page = session.execute(ranked).all()
    if counted_in_page and page:
        total = int(page[0].total)
    else:
        total = session.scalar(select(func.count()).select_from(
            matched.with_only_columns(CaselawItem.id).subquery())) or 0
    ids = [int(row.id) for row in page]
    found = {item.id: (item, version) for item, version in session.execute(
        stmt.where(CaselawItem.id.in_(ids))).all()} if ids else {}
    snippets = backend.snippets(session, terms, ids) if ids else {}
    hits = [SearchHit(*found[row.id], float(row.score or 0.0), highlight(snippets.get(row.id)))
            for row in page if row.id in found]
    return SearchResults(hits, total, query)
