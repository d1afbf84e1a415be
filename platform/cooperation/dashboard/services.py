"""What each role's dashboard shows, computed from the database (no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperation.accounts.models import Invitation, User, UserStatus
from cooperation.audit.models import AuditEvent
from cooperation.db import utcnow
from cooperation.membership.models import Party, PartyKind, PartyStatus
from cooperation.permissions import Role
from cooperation.security.models import WebSession


@dataclass
class DashboardSummary:
    role: Role
    party_name_en: str
    party_name_fr: str
    counts: dict[str, int] = field(default_factory=dict)
    recent_logins_failed: int = 0


def summary_for(session: Session, user: User) -> DashboardSummary:
    summary = DashboardSummary(role=user.role, party_name_en=user.party.name_en,
                               party_name_fr=user.party.name_fr)
    summary.counts["my_sessions"] = session.scalar(
        select(func.count()).select_from(WebSession).where(WebSession.user_id == user.id)) or 0
    if user.role == Role.STATE_FOCAL_POINT:
        summary.counts["state_users_active"] = _count_users(session, user.party_id, UserStatus.ACTIVE)
        summary.counts["state_users_suspended"] = _count_users(session, user.party_id, UserStatus.SUSPENDED)
        summary.counts["state_invitations_open"] = _open_invitations(session, user.party_id)
    if user.role == Role.SECRETARIAT_ADMIN:
        summary.counts["states_active"] = session.scalar(
            select(func.count()).select_from(Party).where(
                Party.kind == PartyKind.STATE, Party.status == PartyStatus.ACTIVE)) or 0
        summary.counts["users_active"] = session.scalar(
            select(func.count()).select_from(User).where(User.status == UserStatus.ACTIVE)) or 0
        summary.counts["invitations_open"] = _open_invitations(session, None)
        summary.recent_logins_failed = session.scalar(
            select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "auth.login", AuditEvent.outcome == "failure",
                AuditEvent.created_at >= utcnow() - timedelta(days=1))) or 0
    return summary


def _count_users(session: Session, party_id: int, status: UserStatus) -> int:
    return session.scalar(select(func.count()).select_from(User).where(
        User.party_id == party_id, User.status == status)) or 0


def _open_invitations(session: Session, party_id: int | None) -> int:
    stmt = select(func.count()).select_from(Invitation).where(
        Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
        Invitation.expires_at > utcnow())
    if party_id is not None:
        stmt = stmt.where(Invitation.party_id == party_id)
    return session.scalar(stmt) or 0
