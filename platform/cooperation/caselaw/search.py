"""Full-text search over published items: one interface, two backends.

- SQLite: an FTS5 virtual table `fts_caselaw` (rowid = item id), ranked with bm25 and column
  weights title 10, holding 5, body 1; snippets from FTS5's snippet().
- PostgreSQL: a table `fts_caselaw` holding a tsvector weighted A (title), B (holding and
  practice), C (body), with a GIN index; ranked with ts_rank, snippets from ts_headline, with
  the text-search configuration of the item's language (english / french). The tsvector is
  stored in the row (STORAGE MAIN, lz4 where the server has it) and the texts for ts_headline
  go to TOAST: ranking reads every matching tsvector, ts_headline only the shown page's texts.

One search is one SQL statement: the matches are ranked (every match: a wrong top 20 is not an
option) and counted in one pass, the page is cut, and only then are the page's rows joined and
its snippets computed (a correlated subquery, so 20 snippets, not one per match). The count
shown stops at COUNT_CAP ("1,000+"); pagination uses the exact count where it is known.

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
from datetime import date, datetime
from typing import Any, Protocol

from markupsafe import Markup, escape
from sqlalchemy import Connection, and_, case, column, exists, func, literal_column, or_, select, text
from sqlalchemy import table as sa_table
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.sql import ColumnElement, FromClause, Select

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
COUNT_CAP = 1000  # more matches than this are shown as "1,000+"; a separate count stops there
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
    total: int  # matches, counted up to COUNT_CAP
    query: SearchQuery
    more: bool = False  # there are more than `total` (= COUNT_CAP) matches: show "1,000+"
    has_next: bool = False  # another page follows this one


class SearchBackend(Protocol):
    name: str

    def index(self, session: Session, doc: IndexDocument) -> None: ...

    def remove(self, session: Session, item_id: int) -> None: ...

    def ranked(self, terms: list[str]) -> FromClause:
        """The matches of every term, as a selectable of (item_id, score (higher is better))."""
        ...

    def snippet(self, terms: list[str], item_id: ColumnElement[Any]) -> ColumnElement[Any]:
        """The highlighted fragment of the item `item_id` (a column of the enclosing query): a
        correlated subquery, computed for the rows of the page only (it is the costly part)."""
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

    @staticmethod
    def _match(terms: list[str]) -> tuple[Any, ColumnElement[Any], ColumnElement[bool]]:
        fts = literal_column(FTS_TABLE)
        # Each word quoted (a phrase of one token) and prefix-matched, all required (AND).
        expression = " ".join(f'"{t}"*' for t in terms)
        return sa_table(FTS_TABLE, column("rowid")), fts, fts.op("MATCH")(expression)

    def ranked(self, terms: list[str]) -> FromClause:
        table, fts, match = self._match(terms)
        score = -func.bm25(fts, 10.0, 5.0, 1.0)  # bm25: lower is better
        return (select(table.c.rowid.label("item_id"), score.label("score")).select_from(table)
                .where(match).subquery("fts_ranked"))

    def snippet(self, terms: list[str], item_id: ColumnElement[Any]) -> ColumnElement[Any]:
        # snippet() needs the MATCH in its own query; the rowid makes it one row.
        table, fts, match = self._match(terms)
        return (select(func.snippet(fts, -1, MARK_START, MARK_STOP, "…", SNIPPET_WORDS))
                .select_from(table).where(match, table.c.rowid == item_id).scalar_subquery())


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

    @staticmethod
    def _table() -> Any:
        return sa_table(FTS_TABLE, column("item_id"), column("config"), column("document"),
                        column("holding"), column("body"))

    @staticmethod
    def _row_query(config: ColumnElement[Any], terms: list[str]) -> ColumnElement[Any]:
        # Every term prefix-matched and required; the words are \w+ only, so quoting is exact.
        query_text = " & ".join(f"'{t}':*" for t in terms)
        # The row's configuration picks one of the constant queries (folded once at planning),
        # rather than parsing the query again for every matching row.
        return case(*((config == literal_column(f"'{cfg}'::regconfig"),
                       func.to_tsquery(literal_column(f"'{cfg}'::regconfig"), query_text))
                      for cfg in sorted(set(PG_CONFIGS.values()))),
                    else_=func.to_tsquery(literal_column("'simple'::regconfig"), query_text))

    def ranked(self, terms: list[str]) -> FromClause:
        query_text = " & ".join(f"'{t}':*" for t in terms)
        table = self._table()
        config, document = table.c.config, table.c.document
        # One branch per configuration with a constant tsquery, so the GIN index can serve it.
        match = or_(*(
            and_(config == literal_column(f"'{cfg}'::regconfig"),
                 document.op("@@")(func.to_tsquery(literal_column(f"'{cfg}'::regconfig"), query_text)))
            for cfg in sorted(set(PG_CONFIGS.values()) | {"simple"})
        ))
        score = func.ts_rank(document, self._row_query(config, terms))
        # Ranked on its own, before any join: each matching tsvector is read once, by ts_rank,
        # and the joins carry (id, score). Left to itself the planner, whose estimates for
        # prefix queries are far too low, hashes the matching rows with their whole tsvectors.
        return (select(table.c.item_id.label("item_id"), score.label("score")).where(match)
                .cte("fts_ranked").prefix_with("MATERIALIZED"))

    def snippet(self, terms: list[str], item_id: ColumnElement[Any]) -> ColumnElement[Any]:
        table = self._table()
        source = func.concat_ws(" … ", table.c.holding, table.c.body)
        options = (f"StartSel={MARK_START}, StopSel={MARK_STOP}, MaxWords={SNIPPET_WORDS}, "
                   "MinWords=8, MaxFragments=2, FragmentDelimiter=\" … \"")
        headline = func.ts_headline(table.c.config, source, self._row_query(table.c.config, terms), options)
        return select(headline).where(table.c.item_id == item_id).scalar_subquery()


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
        connection.exec_driver_sql(PG_DOCUMENT_STORAGE)
        return
    connection.exec_driver_sql(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
        "title, holding, body, tokenize = 'porter unicode61 remove_diacritics 2')")
    # Rows of deleted items go with them (ids are reused by SQLite after a delete).
    connection.exec_driver_sql(f"""
        CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_item_deleted AFTER DELETE ON caselaw_item
        BEGIN DELETE FROM {FTS_TABLE} WHERE rowid = old.id; END""")


# Ranking reads the tsvector of every match: keep it in the table's row (STORAGE MAIN: compressed
# if need be, moved out of line only as a last resort) rather than in TOAST, where the default
# (EXTENDED) puts it beside the long texts, each read then costing TOAST index and heap lookups.
# lz4 decompresses several times faster than the default pglz (servers built without lz4 keep
# pglz). Revision 0005_caselaw_search applies the same to existing databases.
PG_DOCUMENT_STORAGE = f"""
    DO $$ BEGIN
        ALTER TABLE {FTS_TABLE} ALTER COLUMN document SET STORAGE MAIN;
        BEGIN
            ALTER TABLE {FTS_TABLE} ALTER COLUMN document SET COMPRESSION lz4;
        EXCEPTION WHEN feature_not_supported THEN NULL;
        END;
    END $$"""


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


def _published_version() -> ColumnElement[bool]:
    return and_(CaselawVersion.item_id == CaselawItem.id,
                CaselawVersion.number == CaselawItem.published_version_number)


def _candidates(query: SearchQuery, now: datetime, *, with_version: bool) -> Select[Any]:
    """Ids of the visible items the filters keep. The published version is joined only when a
    filter or the order needs it (every visible item has it: it is what made it visible)."""
    with_version = with_version or bool(query.chamber or query.year or query.topic or query.article)
    stmt = select(CaselawItem.id).where(visible(now))
    if with_version:
        stmt = stmt.join(CaselawVersion, _published_version())
    if query.kind:
        stmt = stmt.where(CaselawItem.kind == query.kind)
    if query.language:
        stmt = stmt.where(CaselawItem.language == query.language)
    if query.chamber:
        stmt = stmt.where(CaselawVersion.chamber == query.chamber)
    if query.year:  # a range, which the index on the date serves (extract() would read every row)
        stmt = stmt.where(CaselawVersion.decision_date >= date(query.year, 1, 1),
                          CaselawVersion.decision_date < date(query.year + 1, 1, 1))
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


# The page is shown as summaries: the versions' topics, articles and links (eager by default) are
# not loaded for it; should something read them, they load then.
_PAGE_OPTIONS = (lazyload(CaselawVersion.topic_rows), lazyload(CaselawVersion.article_rows),
                 lazyload(CaselawVersion.related_rows))


def search(session: Session, query: SearchQuery, now: datetime) -> SearchResults:
    """One statement: rank (or order) and count the candidates, cut the page, then join the
    page's rows and compute their snippets."""
    terms = query.terms
    backend = backend_for(session) if terms else None
    if backend is not None:
        # Ranking reads every match anyway: the exact count rides along as a window count.
        ranked = backend.ranked(terms)
        candidates = _candidates(query, now, with_version=False).join(ranked, ranked.c.item_id == CaselawItem.id)
        cut = (candidates.with_only_columns(CaselawItem.id.label("id"), ranked.c.score.label("score"),
                                            func.count().over().label("matched"))
               .order_by(ranked.c.score.desc(), CaselawItem.id.desc())
               .limit(query.limit).offset(query.offset).subquery("page"))
        extra = [cut.c.matched, cut.c.score, backend.snippet(terms, cut.c.id).label("snippet")]
        order = [cut.c.score.desc(), cut.c.id.desc()]
    else:
        # Ordered by date: a sort that keeps the page only, one row more to tell whether a page
        # follows, and a count that stops at the cap (a window count would sort every item).
        candidates = _candidates(query, now, with_version=True)
        cut = (candidates.with_only_columns(CaselawItem.id.label("id"),
                                            CaselawVersion.decision_date.label("decision_date"),
                                            CaselawItem.publish_at.label("publish_at"))
               .order_by(CaselawVersion.decision_date.desc().nulls_last(), CaselawItem.publish_at.desc(),
                         CaselawItem.id.desc())
               .limit(query.limit + 1).offset(query.offset).subquery("page"))
        extra = [_capped_count(candidates).label("matched")]
        order = [cut.c.decision_date.desc().nulls_last(), cut.c.publish_at.desc(), cut.c.id.desc()]
    rows = session.execute(
        select(CaselawItem, CaselawVersion, *extra).select_from(cut)
        .join(CaselawItem, CaselawItem.id == cut.c.id).join(CaselawVersion, _published_version())
        .order_by(*order).options(*_PAGE_OPTIONS)).all()
    if rows:
        matched = int(rows[0].matched)
    elif query.offset == 0:
        matched = 0
    else:  # a page past the end: count (up to the cap) to say how many there are
        matched = session.scalar(select(_capped_count(candidates))) or 0
    page = rows[:query.limit]
    # Either sign is sound: the extra row (by date), or the exact count (ranked).
    has_next = len(rows) > query.limit or query.offset + len(page) < matched
    hits = [SearchHit(row[0], row[1], float(row.score or 0.0), highlight(row.snippet)) if backend is not None
            else SearchHit(row[0], row[1], 0.0, Markup("")) for row in page]
    return SearchResults(hits, min(matched, COUNT_CAP), query, more=matched > COUNT_CAP, has_next=has_next)


def _capped_count(candidates: Select[Any]) -> Any:
    """How many candidates, counting no further than COUNT_CAP + 1 (enough to say "1,000+")."""
    return select(func.count()).select_from(
        candidates.with_only_columns(CaselawItem.id).limit(COUNT_CAP + 1).subquery()).scalar_subquery()
