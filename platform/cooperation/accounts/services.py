"""Account lifecycle: invitations, acceptance, MFA enrolment, suspension, roles.

Services take a Session, record audit entries in the same transaction and never commit; the
view (or CLI) commits once, so a failed step leaves the database as it was.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperation.accounts.models import Invitation, User, UserStatus
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.i18n import current_locale
from cooperation.mail import send_mail
from cooperation.membership.models import OrganisationType, Party, PartyKind, PartyStatus
from cooperation.permissions import Role
from cooperation.security import passwords, recovery, totp
from cooperation.security.sessions import end_sessions_of


class AccountError(ValueError):
    """A refused account operation; the message is safe to show to the user."""


# Which roles a user of each kind of Party may hold (least privilege by affiliation).
ROLES_FOR_STATE = (Role.STATE_MEMBER, Role.STATE_FOCAL_POINT)
ROLES_FOR_ORGANISATION: dict[OrganisationType, tuple[Role, ...]] = {
    OrganisationType.SECRETARIAT: (Role.SECRETARIAT_ADMIN,),
    OrganisationType.REGISTRY: (Role.COURT_MEMBER, Role.REGISTRY_EDITOR),
    OrganisationType.PROSECUTOR: (Role.COURT_MEMBER,),
}

ROLE_LABELS = {
    Role.STATE_MEMBER: _l("State member"),
    Role.STATE_FOCAL_POINT: _l("State focal point"),
    Role.SECRETARIAT_ADMIN: _l("Secretariat administrator"),
    Role.REGISTRY_EDITOR: _l("Registry editor"),
    Role.COURT_MEMBER: _l("Court member"),
}

STATUS_LABELS = {
    UserStatus.PENDING: _l("Enrolment not finished"),
    UserStatus.ACTIVE: _l("Active"),
    UserStatus.SUSPENDED: _l("Suspended"),
    UserStatus.DEACTIVATED: _l("Deactivated"),
}


def allowed_roles(party: Party) -> tuple[Role, ...]:
    if party.kind == PartyKind.STATE:
        return ROLES_FOR_STATE
    if party.organisation_type is None:
        return ()
    return ROLES_FOR_ORGANISATION[party.organisation_type]


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


# -- invitations --------------------------------------------------------------------------------

def can_invite(inviter: User, party: Party, role: Role) -> bool:
    """Secretariat: anyone anywhere. Focal point: members and focal points of their own State."""
    if inviter.role == Role.SECRETARIAT_ADMIN:
        return True
    return (inviter.role == Role.STATE_FOCAL_POINT and party.id == inviter.party_id
            and role in ROLES_FOR_STATE)


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    link: str


def create_invitation(session: Session, *, email: str, full_name: str, party: Party, role: Role,
                      inviter: User | None, actor: Actor, send: bool = True) -> IssuedInvitation:
    email = normalise_email(email)
    if inviter is not None and not can_invite(inviter, party, role):
        raise AccountError(_("You may not invite this person with this role."))
    if role not in allowed_roles(party):
        raise AccountError(_("This role cannot be given to a user of %(party)s.", party=party.name(current_locale())))
    if party.status != PartyStatus.ACTIVE:
        raise AccountError(_("%(party)s is not active; its users cannot be invited.", party=party.name(current_locale())))
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(_("An account with this e-mail address already exists."))
    now = utcnow()
    # One live invitation per address: a new one replaces the old.
    for old in session.scalars(select(Invitation).where(
            Invitation.email == email, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))):
        old.revoked_at = now
    token = secrets.token_urlsafe(32)
    hours = current_app.config["COOPERATION_SETTINGS"].invitation_valid_hours
    invitation = Invitation(email=email, full_name=full_name.strip(), party_id=party.id, role=role,
                            token_hash=_token_hash(token), invited_by_id=inviter.id if inviter else None,
                            created_at=now, expires_at=now + timedelta(hours=hours))
    session.add(invitation)
    session.flush()
    record(session, "invitation.create", actor, target_type="invitation", target_id=invitation.id,
           details={"email": email, "party": party.code, "role": role.value})
    link = url_for("accounts.accept_invitation", token=token, _external=True)
    if send:
        _send_invitation_mail(invitation, party, link, hours)
    return IssuedInvitation(invitation, link)


def _send_invitation_mail(invitation: Invitation, party: Party, link: str, hours: int) -> None:
    # Bilingual: the recipient has not chosen a language yet.
    parts = []
    for locale in ("en", "fr"):
        with force_locale(locale):
            parts.append(_(
                "Hello %(name)s,\n\nYou are invited to join the Secure Platform on Cooperation for "
                "%(party)s as %(role)s.\n\nOpen this link to choose your password and set up your "
                "second factor. It works once and expires in %(hours)d hours:\n\n%(link)s\n\n"
                "If you did not expect this invitation, ignore this message.",
                name=invitation.full_name, party=party.name(locale),
                role=str(ROLE_LABELS[invitation.role]), hours=hours, link=link))
    send_mail(invitation.email, "Invitation: Secure Platform on Cooperation / Invitation : "
              "Plateforme sécurisée de coopération", "\n\n----------\n\n".join(parts))


def revoke_invitation(session: Session, invitation: Invitation, actor: Actor) -> None:
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise AccountError(_("This invitation is no longer open."))
    invitation.revoked_at = utcnow()
    record(session, "invitation.revoke", actor, target_type="invitation", target_id=invitation.id,
           details={"email": invitation.email})


def find_invitation(session: Session, token: str, now: datetime | None = None) -> Invitation | None:
    if not token or len(token) > 100:
        return None
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == _token_hash(token)))
    if invitation is None or not invitation.is_usable(now or utcnow()):
        return None
    return invitation


def accept_invitation(session: Session, invitation: Invitation, *, full_name: str, password: str,
                      locale: str, actor_ip: str) -> User:
    """Create the account (pending until MFA is enrolled). The invitation is spent at once."""
    problems = passwords.policy_problems(
        password, personal=passwords.personal_words(invitation.email, full_name))
    if problems:
        raise AccountError(problems[0])
    if session.scalar(select(User.id).where(User.email == invitation.email)) is not None:
        raise AccountError(_("An account with this e-mail address already exists."))
    now = utcnow()
    user = User(email=invitation.email, full_name=full_name.strip(), party_id=invitation.party_id,
                role=invitation.role, status=UserStatus.PENDING,
                password_hash=passwords.hash_password(password), password_changed_at=now,
                locale=locale, created_at=now, status_changed_at=now)
    session.add(user)
    invitation.accepted_at = now
    session.flush()
    record(session, "invitation.accept", Actor(user.id, user.email, invitation.party.code, actor_ip),
           target_type="user", target_id=user.id, details={"invitation": invitation.id})
    return user


def confirm_totp_enrolment(session: Session, user: User, secret: str, code: str, actor: Actor) -> list[str]:
    """Check the first code, store the secret, activate the account, return recovery codes."""
    step = totp.matching_step(secret, code, None)
    if step is None:
        raise AccountError(_("That code is not valid. Check the time on your device and try again."))
    first_enrolment = user.status == UserStatus.PENDING
    user.totp_secret = secret
    user.totp_last_step = step
    if first_enrolment:
        user.status = UserStatus.ACTIVE
        user.status_changed_at = utcnow()
    codes = recovery.replace_codes(session, user.id)
    record(session, "mfa.totp.enrol" if first_enrolment else "mfa.totp.replace", actor,
           target_type="user", target_id=user.id)
    return codes


def bootstrap_admin(session: Session, *, email: str, full_name: str, actor: Actor) -> str:
    """First Secretariat administrator, from the command line of the server."""
    secretariat = session.scalar(select(Party).where(
        Party.kind == PartyKind.ORGANISATION, Party.organisation_type == OrganisationType.SECRETARIAT))
    if secretariat is None:
        from cooperation.membership.services import ensure_organisations

        ensure_organisations(session)
        secretariat = session.scalar(select(Party).where(
            Party.organisation_type == OrganisationType.SECRETARIAT))
    assert secretariat is not None
    issued = create_invitation(session, email=email, full_name=full_name, party=secretariat,
                               role=Role.SECRETARIAT_ADMIN, inviter=None, actor=actor)
    return issued.link


# -- lifecycle ------------------------------------------------------------------------------------

def can_manage(manager: User, user: User) -> bool:
    """Secretariat manages everyone but themselves; a focal point manages their own State."""
    if manager.id == user.id:
        return False
    if manager.role == Role.SECRETARIAT_ADMIN:
        return True
    return (manager.role == Role.STATE_FOCAL_POINT and user.party_id == manager.party_id
            and user.role in ROLES_FOR_STATE)


def set_status(session: Session, manager: User, user: User, status: UserStatus, actor: Actor,
               reason: str = "") -> None:
    if not can_manage(manager, user):
        raise AccountError(_("You may not change this account."))
    if status not in (UserStatus.ACTIVE, UserStatus.SUSPENDED, UserStatus.DEACTIVATED):
        raise AccountError(_("Unknown status."))
    if user.status == UserStatus.DEACTIVATED and status != UserStatus.DEACTIVATED:
        raise AccountError(_("A deactivated account cannot be reopened; invite the person again."))
    if status == UserStatus.ACTIVE and user.totp_secret is None:
        raise AccountError(_("This person has not finished enrolment yet."))
    previous = user.status
    user.status = status
    user.status_changed_at = utcnow()
    if status != UserStatus.ACTIVE:
        # Suspension ends every open session and API token at once (ASVS 7.4.2).
        from cooperation.oauth.services import revoke_all_for_user

        end_sessions_of(session, user.id)
        revoke_all_for_user(session, user.id, actor, f"user_{status.value}")
    record(session, f"user.{status.value}", actor, target_type="user", target_id=user.id,
           details={"email": user.email, "from": previous.value, "reason": reason[:500]})


def change_role(session: Session, manager: User, user: User, role: Role, actor: Actor) -> None:
    if not can_manage(manager, user):
        raise AccountError(_("You may not change this account."))
    if role not in allowed_roles(user.party):
        raise AccountError(_("This role cannot be given to a user of %(party)s.", party=user.party.name(current_locale())))
    if manager.role == Role.STATE_FOCAL_POINT and role not in ROLES_FOR_STATE:
        raise AccountError(_("You may not give this role."))
    previous = user.role
    user.role = role
    # Permissions are read from the database on each request; sessions stay valid.
    record(session, "user.role", actor, target_type="user", target_id=user.id,
           details={"email": user.email, "from": previous.value, "to": role.value})


def change_password(session: Session, user: User, current: str, new: str, actor: Actor) -> None:
    if not passwords.verify_password(user.password_hash, current):
        raise AccountError(_("Your current password is not correct."))
    problems = passwords.policy_problems(new, personal=passwords.personal_words(user.email, user.full_name))
    if problems:
        raise AccountError(problems[0])
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = utcnow()
    record(session, "account.password.change", actor, target_type="user", target_id=user.id)
