"""Demo States, organisations and accounts. Every demo account shares one passphrase and has a
known authenticator secret, so `demo-code EMAIL` can print its current code for someone
without an authenticator app. Production refuses to run this."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from flask import current_app
from sqlalchemy import select

from cooperation.accounts.models import User, UserStatus
from cooperation.audit.service import Actor, ensure_head, record
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.membership import services as membership
from cooperation.membership.models import Party
from cooperation.permissions import Role
from cooperation.security import passwords, recovery, totp

DEMO_PASSWORD = "demo passphrase for the cooperation platform"  # noqa: S105 - demo only, printed

DEMO_ACCOUNTS: tuple[tuple[str, str, str, Role], ...] = (
    ("admin@asp.demo", "Ana Secretariat", "ASP-SEC", Role.SECRETARIAT_ADMIN),
    ("editor@registry.demo", "Rui Registry", "ICC-REG", Role.REGISTRY_EDITOR),
    ("analyst@otp.demo", "Olga Prosecutor", "ICC-OTP", Role.COURT_MEMBER),
    ("focal@nl.demo", "Noor Focal-Point", "NLD", Role.STATE_FOCAL_POINT),
    ("member@nl.demo", "Nils Member", "NLD", Role.STATE_MEMBER),
    ("focal@sn.demo", "Saly Focal-Point", "SEN", Role.STATE_FOCAL_POINT),
    ("member@sn.demo", "Seydou Member", "SEN", Role.STATE_MEMBER),
    ("focal@ar.demo", "Amalia Focal-Point", "ARG", Role.STATE_FOCAL_POINT),
)


def demo_totp_secret(email: str) -> str:
    """Deterministic per checkout (derived from the instance secret key), base32."""
    import base64

    digest = hashlib.sha256((current_app.config["SECRET_KEY"] + "|demo-totp|" + email).encode()).digest()
    return base64.b32encode(digest[:20]).decode("ascii")


def run(echo: Callable[[str], None] = print) -> None:
    session = db.session
    ensure_head(session)
    membership.ensure_organisations(session)
    added = membership.import_states(session)
    actor = Actor.system("seed-demo")
    created = 0
    for email, name, code, role in DEMO_ACCOUNTS:
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        party = session.scalar(select(Party).where(Party.code == code))
        if party is None:
            raise RuntimeError(f"demo party {code} missing from the States data file")
        now = utcnow()
        user = User(email=email, full_name=name, party_id=party.id, role=role, status=UserStatus.ACTIVE,
                    password_hash=passwords.hash_password(DEMO_PASSWORD), password_changed_at=now,
                    totp_secret=demo_totp_secret(email), locale="en", created_at=now, status_changed_at=now)
        session.add(user)
        session.flush()
        recovery.replace_codes(session, user.id)
        record(session, "demo.account.create", actor, target_type="user", target_id=user.id,
               details={"email": email, "role": role.value})
        created += 1
    from cooperation.caselaw import seed as caselaw_seed

    caselaw_added = caselaw_seed.run(session)
    from cooperation.questionnaires.seed import seed_demo as seed_questionnaires

    seed_questionnaires(session, echo)
    # Enabled plugins add theirs through the plugin contract (Plugin.seed_demo).
    for plugin in current_app.extensions["cooperation.plugins"].plugins.values():
        plugin.seed_demo(session, echo)
    session.commit()
    echo(f"Demo data ready: {added} States added, {created} demo accounts created.")
    echo(f"Case law and guidance: {caselaw_added} demo items published.")
    echo("")
    echo(f"Every demo account signs in with the passphrase:  {DEMO_PASSWORD}")
    echo("Second factor: the current 6-digit code is printed by")
    echo("    flask --app cooperation demo-code EMAIL        (or: cooperation demo-code EMAIL)")
    echo("or add the account to an authenticator app with the key shown below.")
    echo("")
    for email, name, code, role in DEMO_ACCOUNTS:
        echo(f"  {email:24} {role.value:20} {code:8} key {demo_totp_secret(email)}")


def current_code(email: str) -> str | None:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.totp_secret:
        return None
    return totp.current_code(user.totp_secret)
