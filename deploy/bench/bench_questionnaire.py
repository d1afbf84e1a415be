"""Benchmark (not a test): 125 States answering a 150-question questionnaire.

Measures the server time of the analysis dashboard, the comparison table of one question and
the XLSX export, through the real views (signed in as a Secretariat administrator), and prints
percentiles. Targets: dashboard and comparison < 300 ms, XLSX < 3 s.

    .venv/bin/python deploy/bench/bench_questionnaire.py                       # fresh SQLite
    .venv/bin/python deploy/bench/bench_questionnaire.py --database-url postgresql://...  # EMPTY database
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "platform"))

import pyotp  # noqa: E402
from flask_babel import force_locale  # noqa: E402
from sqlalchemy import select  # noqa: E402

from cooperation import create_app  # noqa: E402
from cooperation.accounts.models import User, UserStatus  # noqa: E402
from cooperation.audit.service import Actor, ensure_head  # noqa: E402
from cooperation.config import Settings  # noqa: E402
from cooperation.db import utcnow  # noqa: E402
from cooperation.extensions import db  # noqa: E402
from cooperation.membership import services as membership  # noqa: E402
from cooperation.membership.models import Party, PartyKind  # noqa: E402
from cooperation.permissions import Role  # noqa: E402
from cooperation.questionnaires import services  # noqa: E402
from cooperation.questionnaires.models import (  # noqa: E402
    Answer,
    QuestionType,
    Response,
    ResponseStatus,
    Revision,
)
from cooperation.questionnaires.services import Bilingual, OptionData, QuestionData  # noqa: E402
from cooperation.security import passwords, totp  # noqa: E402

PASSWORD = "benchmark passphrase for questionnaires"
TYPES = [QuestionType.YES_NO, QuestionType.SINGLE, QuestionType.MULTIPLE, QuestionType.TEXT,
         QuestionType.LONG_TEXT, QuestionType.NUMBER, QuestionType.DATE, QuestionType.LEGAL_REFERENCE]


def build(questions: int) -> int:
    actor = Actor.system("bench")
    with force_locale("en"):
        q = services.create_questionnaire(db.session, title=Bilingual("Benchmark questionnaire", "Questionnaire de test"),
                                          description=Bilingual(), user=None, actor=actor)
        sections = [services.add_section(db.session, q, title=Bilingual(f"Section {i}", f"Section {i} FR"), actor=actor)
                    for i in range(1, 11)]
        for n in range(questions):
            kind = TYPES[n % len(TYPES)]
            options = [OptionData(f"o{i}", f"Option {i}", f"Option {i} FR") for i in range(1, 6)] \
                if kind.has_options else []
            services.add_question(db.session, q, QuestionData(
                section_id=sections[n % 10].id, qtype=kind, text=Bilingual(f"Question {n + 1}?", f"Question {n + 1} ?"),
                required=False, options=options), actor)
        today = utcnow().date()
        services.publish(db.session, q, everyone=True, state_codes=(), groups=(), opens_on=today - timedelta(days=60),
                         closes_on=today + timedelta(days=30), actor=actor)
    db.session.commit()
    return q.id


def value_for(kind: QuestionType, rng: random.Random) -> object:
    if kind == QuestionType.YES_NO:
        return rng.choice(["yes", "no", "unknown"])
    if kind == QuestionType.SINGLE:
        return f"o{rng.randint(1, 5)}"
    if kind == QuestionType.MULTIPLE:
        return sorted({f"o{rng.randint(1, 5)}" for _ in range(3)})
    if kind == QuestionType.NUMBER:
        return str(rng.randint(1, 400))
    if kind == QuestionType.DATE:
        return f"20{rng.randint(0, 25):02d}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
    if kind == QuestionType.LEGAL_REFERENCE:
        return {"kind": "statute", "article": "93(1)(k)"} if rng.random() < .5 else \
            {"kind": "national", "title": "Act on cooperation with the ICC", "provision": "s. 12"}
    return "A typical answer of a few sentences describing the national procedure. " * (4 if kind ==
                                                                                          QuestionType.LONG_TEXT else 1)


def answer_all(questionnaire_id: int) -> int:
    """Every State answers every question and submits (inserted directly: the write path is
    not what this benchmark measures)."""
    from cooperation.questionnaires.models import Questionnaire

    rng = random.Random(2020)
    q = db.session.get(Questionnaire, questionnaire_id)
    ordered = q.ordered_questions()
    states = db.session.scalars(select(Party).where(Party.kind == PartyKind.STATE)).all()
    now = utcnow()
    for index, party in enumerate(states):
        response = Response(questionnaire_id=q.id, party_id=party.id, status=ResponseStatus.SUBMITTED,
                            submitted_at=now - timedelta(days=index % 40), updated_at=now)
        db.session.add(response)
        db.session.flush()
        snapshot = {}
        for question in ordered:
            value = value_for(question.qtype, rng)
            db.session.add(Answer(response_id=response.id, question_id=question.id, value=value, version=1,
                                  updated_at=now))
            snapshot[str(question.id)] = value
        db.session.add(Revision(response_id=response.id, number=1, submitted_at=now - timedelta(days=index % 40),
                                answers=snapshot))
    db.session.commit()
    return len(states)


def sign_in(app, email: str, secret: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    page = client.get("/login/verify").get_data(as_text=True)
    token = re.search(r'name="totp-csrf_token" (?:type="hidden" )?value="([^"]+)"', page) or \
        re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    reply = client.post("/login/verify", data={"method": "totp", "totp-code": pyotp.TOTP(secret).now(),
                                               "totp-csrf_token": token.group(1)})
    assert reply.status_code == 302, "sign-in failed"
    return client


def measure(client, path: str, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        response.get_data()
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return timings


def report(label: str, timings: list[float], target_ms: float) -> None:
    ordered = sorted(timings)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    verdict = "OK" if pct(95) < target_ms else "OVER TARGET"
    print(f"{label:28} n={len(ordered):3}  p50={pct(50):8.1f} ms  p90={pct(90):8.1f} ms  p95={pct(95):8.1f} ms  "
          f"max={ordered[-1]:8.1f} ms  mean={statistics.mean(ordered):8.1f} ms  target<{target_ms:.0f} ms  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="", help="an EMPTY PostgreSQL database (default: fresh SQLite)")
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-questionnaire-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    app = create_app(Settings(env="testing", secret_key="bench-" + "x" * 40, database_url=url,
                              instance_path=str(tmp / "instance"), mail_backend="console"))
    import logging

    logging.getLogger("cooperation").setLevel(logging.WARNING)
    logging.getLogger("cooperation.request").setLevel(logging.WARNING)
    with app.app_context():
        db.create_all()
        ensure_head(db.session)
        membership.ensure_organisations(db.session)
        membership.import_states(db.session)
        secret = totp.new_secret()
        sec = db.session.scalar(select(Party).where(Party.code == "ASP-SEC"))
        now = utcnow()
        db.session.add(User(email="bench-admin@example.org", full_name="Bench", party_id=sec.id,
                            role=Role.SECRETARIAT_ADMIN, status=UserStatus.ACTIVE,
                            password_hash=passwords.hash_password(PASSWORD), password_changed_at=now,
                            totp_secret=secret, locale="en", created_at=now, status_changed_at=now))
        db.session.commit()
        started = time.perf_counter()
        qid = build(args.questions)
        states = answer_all(qid)
        print(f"Database: {url.split('@')[-1]}")
        print(f"Data: {states} States x {args.questions} questions, all submitted "
              f"(built in {time.perf_counter() - started:.1f} s)")
        from cooperation.questionnaires.models import Questionnaire

        q = db.session.get(Questionnaire, qid)
        single = next(x for x in q.ordered_questions() if x.qtype == QuestionType.SINGLE)
        db.session.remove()
    client = sign_in(app, "bench-admin@example.org", secret)
    client.get(f"/questionnaires/analysis/{qid}")  # warm-up (templates, caches)
    report("dashboard", measure(client, f"/questionnaires/analysis/{qid}", args.runs), 300)
    report("dashboard ?group=african", measure(client, f"/questionnaires/analysis/{qid}?group=african", args.runs), 300)
    report("comparison table", measure(client, f"/questionnaires/analysis/questions/{single.id}", args.runs), 300)
    report("XLSX export", measure(client, f"/questionnaires/{qid}/export.xlsx", max(3, args.runs // 4)), 3000)
    report("CSV export", measure(client, f"/questionnaires/{qid}/export.csv", max(3, args.runs // 4)), 3000)
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
