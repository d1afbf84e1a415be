"""Benchmark of the case-law search (not a test): 2,000 published items in a fresh database,
then search latency percentiles measured around the search service call and through the Flask
test client (a signed-in reader, the full request: session, CSRF-free GET, template).

    .venv/bin/python deploy/bench/bench_search.py                      # fresh SQLite (FTS5)
    .venv/bin/python deploy/bench/bench_search.py --database-url postgresql+psycopg://u:p@host/empty_db

The PostgreSQL database must be empty (the script creates and drops the schema). Target: the
95th percentile under 50 ms on the server side.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT / "plugins"), str(ROOT)]

from cooperation import create_app  # noqa: E402
from cooperation.config import Settings  # noqa: E402
from cooperation.extensions import db  # noqa: E402

TARGET_MS = 50.0
WORDS_EN = ("freezing assets request court state authority bank account tracing identification seizure "
            "forfeiture reparations victims legal aid indigent contribution order arrest surrender travel "
            "suspect warrant cooperation chamber appeals decision national procedure registry property "
            "proceeds instrumentalities third parties bona fide execution consultation costs confidential "
            "channel focal point information urgent weekend transfer enforcement fine penalty").split()
WORDS_FR = ("gel avoirs demande cour état autorité banque compte localisation identification saisie "
            "confiscation réparations victimes aide juridictionnelle indigent contribution ordonnance "
            "arrestation remise déplacement suspect mandat coopération chambre appel décision procédure "
            "greffe biens produit instruments tiers exécution consultation dépenses").split()
QUERIES: list[tuple[str, dict[str, object]]] = [
    ("freezing", {}),
    ("freezing assets bank", {}),
    ("legal aid contribution", {}),
    ("arrest surrender travel", {"kind": "explainer"}),
    ("gel avoirs", {"language": "fr"}),
    ("tracing", {"topic": "tracing", "year": 2016}),
    ("court", {}),  # matches almost everything: the worst case for ranking
    ("", {"article": "93(1)(k)"}),
    ("", {}),
    ("nomatchwordxyz", {}),
]


def _text(rng: random.Random, words: tuple[str, ...] | list[str], n: int) -> str:
    return " ".join(rng.choice(words) for _ in range(n)).capitalize() + "."


def populate(count: int, seed: int = 7) -> None:
    from cooperation.audit.service import Actor, ensure_head
    from cooperation.caselaw.seed import publish_imported
    from cooperation.caselaw.services import Content
    from cooperation.caselaw.taxonomy import CHAMBER_LABELS, TOPIC_LABELS, ItemKind, Language, articles

    rng = random.Random(seed)
    actor = Actor.system("bench")
    ensure_head(db.session)
    chambers = list(CHAMBER_LABELS)
    topics = list(TOPIC_LABELS)
    codes = [a.code for a in articles()]
    for n in range(count):
        french = n % 10 == 0
        words = WORDS_FR if french else WORDS_EN
        kind = ItemKind.GUIDANCE if n % 4 == 0 else ItemKind.EXPLAINER
        body = "\n\n".join(_text(rng, words, 60) for _ in range(4))
        content = Content(
            title=_text(rng, words, 8), holding=_text(rng, words, 40), practice=_text(rng, words, 40),
            body=body, chamber=rng.choice(chambers) if kind == ItemKind.EXPLAINER else "",
            decision_date=(date(2012, 1, 1) + timedelta(days=rng.randrange(4000))) if kind == ItemKind.EXPLAINER else None,
            guidance_kind="how_to" if kind == ItemKind.GUIDANCE else "",
            document_number=f"ICC-0{rng.randrange(1, 9)}/{rng.randrange(4, 20):02d}-{rng.randrange(1, 400)}",
            topics=tuple(rng.sample(topics, 2)), articles=tuple(rng.sample(codes, 3)),
        )
        publish_imported(db.session, kind=kind, language=Language.FR if french else Language.EN,
                         slug=f"bench-item-{n}", content=content, actor=actor)
        if n % 200 == 199:
            db.session.commit()
    db.session.commit()


def _reader(app) -> object:  # type: ignore[no-untyped-def]
    """A signed-in test client (password, then the authenticator code)."""
    import pyotp

    from cooperation.accounts.models import User, UserStatus
    from cooperation.db import utcnow
    from cooperation.membership import services as membership
    from cooperation.membership.models import Party
    from cooperation.permissions import Role
    from cooperation.security import passwords, totp

    password = "bench passphrase for the search"  # noqa: S105 - throwaway benchmark account
    membership.ensure_organisations(db.session)
    membership.import_states(db.session)
    party = db.session.scalar(db.select(Party).where(Party.code == "NLD"))
    secret = totp.new_secret()
    now = utcnow()
    user = User(email="reader@bench.test", full_name="Bench Reader", party_id=party.id, role=Role.STATE_MEMBER,
                status=UserStatus.ACTIVE, password_hash=passwords.hash_password(password),
                password_changed_at=now, totp_secret=secret, locale="en", created_at=now, status_changed_at=now)
    db.session.add(user)
    db.session.commit()
    client = app.test_client()
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": user.email, "password": password, "csrf_token": token.group(1)})
    page = client.get("/login/verify").get_data(as_text=True)
    token = re.search(r'name="totp-csrf_token" (?:type="hidden" )?value="([^"]+)"', page) or \
        re.search(r'value="([^"]+)"[^>]*name="totp-csrf_token"', page)
    response = client.post("/login/verify", data={"method": "totp", "totp-code": pyotp.TOTP(secret).now(),
                                                  "totp-csrf_token": token.group(1)})
    if response.status_code != 302:
        raise SystemExit("could not sign the benchmark reader in")
    return client


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": q[49], "p95": q[94], "p99": q[98], "max": ordered[-1]}


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()  # warm-up (statement cache, page cache)
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def run(database_url: str, count: int, repeat: int) -> list[tuple[str, str, int, dict[str, float]]]:
    from cooperation.caselaw import search
    from cooperation.db import utcnow

    tmp = Path(tempfile.mkdtemp(prefix="bench-search-"))
    settings = Settings(env="testing", secret_key="bench-" + "x" * 40, database_url=database_url,
                        instance_path=str(tmp), enabled_plugins=(), mail_backend="console")
    app = create_app(settings)
    rows: list[tuple[str, str, int, dict[str, float]]] = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        populate(count)
        print(f"  {count} items created in {time.perf_counter() - started:.1f} s", flush=True)
        if db.engine.dialect.name == "postgresql":
            # Fresh tables have no statistics yet; autovacuum would gather them in production.
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        client = _reader(app)
        backend = search.backend_for(db.session).name
        for text, filters in QUERIES:
            query = search.SearchQuery(text=text, limit=20, **filters)  # type: ignore[arg-type]
            first = search.search(db.session, query, utcnow())
            total = f"{first.total}{'+' if first.more else ''}"  # the count stops at a cap
            service = _time(lambda q=query: search.search(db.session, q, utcnow()), repeat)
            db.session.rollback()
            params = {"q": text, **{k: str(v) for k, v in filters.items()}}

            def through_client(p: dict[str, str] = params) -> None:
                response = client.get("/caselaw", query_string=p)
                if response.status_code != 200:
                    raise SystemExit(f"/caselaw {p} answered {response.status_code}")

            http = _time(through_client, repeat)
            label = (text or "(no text)") + "".join(f" {k}={v}" for k, v in filters.items())
            rows.append((backend, f"{label} [{total} hits]", 0, _percentiles(service)))
            rows.append((backend, f"{label} [{total} hits]", 1, _percentiles(http)))
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    return rows


def print_table(rows: list[tuple[str, str, int, dict[str, float]]]) -> bool:
    header = f"{'backend':22} {'query':52} {'measured':9} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}"
    print(header)
    print("-" * len(header))
    ok = True
    for backend, label, where, stats in rows:
        kind = "service" if where == 0 else "HTTP"
        if kind == "service" and stats["p95"] >= TARGET_MS:
            ok = False
        print(f"{backend:22} {label[:52]:52} {kind:9} " + " ".join(f"{stats[k]:8.2f}" for k in ("p50", "p95", "p99", "max")))
    print(f"\n(milliseconds; target: service p95 < {TARGET_MS:.0f} ms) -> {'met' if ok else 'NOT met'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--database-url", default="", help="an EMPTY PostgreSQL database to benchmark as well")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        print("SQLite (FTS5):", flush=True)
        rows += run(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.items, args.repeat)
    if args.database_url:
        print("PostgreSQL:", flush=True)
        rows += run(args.database_url, args.items, args.repeat)
    print()
    return 0 if print_table(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
