"""Deadlines of the Assembly procedures relating to non-cooperation: pure date arithmetic, no
database and no Flask, so every rule is tested on concrete dates (tests/unit).

Source: the Bureau's report proposing the procedures, adopted by the Assembly in
ICC-ASP/10/Res.5 (annex) and revised in ICC-ASP/17/Res.5 (annex II); paragraph numbers below are
those of the 2011 report.

The formal procedure (scenario 7(a): the Court referred a finding of non-cooperation) has seven
steps. Where the procedures set a time rule, the due date is computed from the dates entered:

- forward the Court's decision to all States Parties "without delay" (para. 13): due on the
  first working day after the decision;
- emergency Bureau meeting (para. 14(a), "at short notice") and the President's open letter
  (para. 14(b)): the procedures set no deadline, so the date the Secretariat plans is the
  deadline;
- the open letter asks for the requested State's views "within a specified time limit of no
  more than two weeks" (para. 14(b)): the response deadline is at most 14 calendar days after
  the letter (see latest_response_deadline for weekends);
- the Bureau meeting with the requested State is held "upon expiration of the time limit or upon
  receipt of a written response" (para. 14(c)): due on whichever comes first;
- the public meeting of the New York Working Group (para. 14(d)) applies only "provided the next
  session of the Assembly is scheduled to take place more than three months after the Bureau
  meeting"; when it applies it is due on the last working day before the Bureau report is due;
- the Bureau report goes to "the next (or ongoing) session" (para. 14(e)): due on the session's
  opening day (its closing day if the session is already under way at the Bureau meeting);
- the plenary discusses it at that session (para. 14(f)): due on the session's closing day.

The informal procedure (good offices of the President with the regional focal points) has one
time rule: the President reports orally to the Bureau "immediately after such interaction takes
place" (para. 20): due on the first working day after the interaction.

Working days and weekends. The procedures say nothing about weekends, so the platform applies
one rule: a computed deadline that falls on a Saturday or Sunday moves FORWARD to the next
Monday. Two exceptions, both forced by the text:
1. the response deadline may not exceed two weeks (para. 14(b)), so when the 14th day is a
   weekend the deadline moves BACK to the preceding Friday (moving it forward would give the
   State more than the maximum);
2. deadlines that are the dates of an Assembly session are not moved: the Assembly sits on
   those days, weekend or not.
Public holidays are not modelled (the Bureau meets in New York and The Hague, with different
holidays); the Secretariat enters a planned date instead where that matters.

"Three months" are calendar months: 30 November + 3 months is the last day of February. "More
than three months" is strict: a session opening exactly three months after the Bureau meeting
does not qualify.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

RESPONSE_TIME_LIMIT = timedelta(days=14)  # "no more than two weeks", para. 14(b)
MONTHS_BEFORE_NEXT_SESSION = 3  # para. 14(d)
DUE_SOON_WORKING_DAYS = 2  # a deadline within this many working days is "due soon" (reminders)


class DeadlineError(ValueError):
    """A date entered breaks a rule of the procedures; `code` says which (the forms show a
    translated message for it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Scenario(enum.StrEnum):
    REFERRAL = "referral"  # 7(a): the Court referred a finding of non-cooperation
    URGENT = "urgent"  # 7(b): an arrest and surrender request is about to fail (informal only)


class StepKind(enum.StrEnum):
    FORWARD_DECISION = "forward_decision"
    EMERGENCY_BUREAU = "emergency_bureau"
    OPEN_LETTER = "open_letter"
    BUREAU_MEETING = "bureau_meeting"
    WORKING_GROUP_MEETING = "working_group_meeting"
    BUREAU_REPORT = "bureau_report"
    PLENARY = "plenary"


STEP_ORDER: tuple[StepKind, ...] = tuple(StepKind)


class Flag(enum.StrEnum):
    DONE = "done"
    NOT_APPLICABLE = "not_applicable"
    OVERDUE = "overdue"
    DUE_SOON = "due_soon"
    UPCOMING = "upcoming"
    TO_SCHEDULE = "to_schedule"  # may take place now; no date planned yet
    WAITING = "waiting"  # an earlier date is missing
    UNDETERMINED = "undetermined"  # the dates of the next Assembly session are missing


class Reason(enum.StrEnum):
    """Where a deadline (or its absence) comes from, for the explanation shown next to it."""

    WITHOUT_DELAY = "without_delay"
    UPON_RESPONSE = "upon_response"
    BEFORE_REPORT = "before_report"
    SESSION_OPENS = "session_opens"
    SESSION_CLOSES = "session_closes"
    PLANNED = "planned"
    NOT_PLANNED = "not_planned"
    DONE = "done"
    INFORMAL_ONLY = "informal_only"
    MARKED_NOT_APPLICABLE = "marked_not_applicable"
    SESSION_TOO_SOON = "session_too_soon"
    WAIT_DECISION = "wait_decision"
    WAIT_LETTER = "wait_letter"
    WAIT_BUREAU_MEETING = "wait_bureau_meeting"
    NEED_SESSION = "need_session"


# -- working days and months -----------------------------------------------------------------------

def is_working_day(day: date) -> bool:
    return day.weekday() < 5  # Monday..Friday


def next_working_day(day: date) -> date:
    """`day` itself if it is a working day, else the following Monday."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def previous_working_day(day: date) -> date:
    """`day` itself if it is a working day, else the preceding Friday."""
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def working_day_after(day: date) -> date:
    """The first working day strictly after `day` (Friday -> Monday)."""
    return next_working_day(day + timedelta(days=1))


def add_working_days(day: date, count: int) -> date:
    for _ in range(count):
        day = working_day_after(day)
    return day


def add_months(day: date, months: int) -> date:
    """Calendar months; the day is clamped to the end of a shorter month (30 Nov + 3 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# -- the rules -------------------------------------------------------------------------------------

def latest_response_deadline(letter_sent: date) -> date:
    """The latest response deadline the open letter may set: two weeks after it, or, when that
    day is a weekend, the preceding Friday (the cap of para. 14(b) may not be exceeded)."""
    return previous_working_day(letter_sent + RESPONSE_TIME_LIMIT)


def check_response_deadline(letter_sent: date, deadline: date) -> None:
    if deadline <= letter_sent:
        raise DeadlineError("before_letter", "the response deadline is not after the open letter")
    if deadline > letter_sent + RESPONSE_TIME_LIMIT:
        raise DeadlineError("over_two_weeks", "the response deadline is more than two weeks after "
                            "the open letter")


def forwarding_due(decision: date) -> date:
    """"Without delay" (para. 13): the first working day after the decision."""
    return working_day_after(decision)


def oral_report_due(interaction: date) -> date:
    """The President reports orally to the Bureau "immediately after" an interaction (para. 20)."""
    return working_day_after(interaction)


def oral_report_overdue(interaction: date, reported: date | None, today: date) -> bool:
    return reported is None and oral_report_due(interaction) < today


@dataclass(frozen=True)
class Session:
    """A session of the Assembly (resumed sessions count as sessions)."""

    opens: date
    closes: date


def session_after(sessions: Iterable[Session], day: date) -> Session | None:
    """The next (or ongoing) session on `day`: the earliest one that has not closed yet."""
    candidates = [s for s in sessions if s.closes >= day]
    return min(candidates, key=lambda s: (s.opens, s.closes)) if candidates else None


def working_group_meeting_applies(bureau_meeting: date, sessions: Iterable[Session]) -> bool | None:
    """Para. 14(d): only when the next session opens MORE than three months after the Bureau
    meeting. None when no next session is known."""
    following = session_after(sessions, bureau_meeting)
    if following is None:
        return None
    return following.opens > add_months(bureau_meeting, MONTHS_BEFORE_NEXT_SESSION)


# -- one case file's schedule ----------------------------------------------------------------------

@dataclass(frozen=True)
class StepRecord:
    """What was entered for a step."""

    planned: date | None = None
    done: date | None = None
    not_applicable: bool = False


@dataclass(frozen=True)
class Facts:
    scenario: Scenario
    decision: date | None = None  # the Court's decision (scenario 7(a))
    steps: Mapping[StepKind, StepRecord] = field(default_factory=dict)
    response_deadline: date | None = None  # as set in the open letter; None: the latest allowed
    response_received: date | None = None
    sessions: tuple[Session, ...] = ()

    def record(self, kind: StepKind) -> StepRecord:
        return self.steps.get(kind, StepRecord())

    @property
    def letter_sent(self) -> date | None:
        return self.record(StepKind.OPEN_LETTER).done

    def effective_response_deadline(self) -> date | None:
        if self.letter_sent is None:
            return None
        return self.response_deadline or latest_response_deadline(self.letter_sent)


@dataclass(frozen=True)
class Timing:
    kind: StepKind
    flag: Flag
    reason: Reason
    due: date | None = None  # from a rule of the procedures
    planned: date | None = None
    done: date | None = None
    session: Session | None = None  # the session the later steps aim at

    @property
    def deadline(self) -> date | None:
        """The computed due date, or else the planned date."""
        return self.due or self.planned


def _flag(deadline: date | None, today: date) -> Flag:
    assert deadline is not None
    if deadline < today:
        return Flag.OVERDUE
    if deadline <= add_working_days(today, DUE_SOON_WORKING_DAYS):
        return Flag.DUE_SOON
    return Flag.UPCOMING


def _timing(kind: StepKind, record: StepRecord, today: date, *, due: date | None = None,
            reason: Reason, session: Session | None = None, blocked: Flag | None = None) -> Timing:
    base = {"kind": kind, "planned": record.planned, "done": record.done, "session": session}
    if record.done is not None:
        return Timing(flag=Flag.DONE, reason=Reason.DONE, due=due, **base)
    if due is None and blocked is not None:
        if record.planned is not None:  # planned anyway: that date is the deadline
            return Timing(flag=_flag(record.planned, today), reason=Reason.PLANNED, **base)
        return Timing(flag=blocked, reason=reason, **base)
    deadline = due or record.planned
    if deadline is None:
        return Timing(flag=Flag.TO_SCHEDULE, reason=Reason.NOT_PLANNED, **base)
    return Timing(flag=_flag(deadline, today), reason=reason if due else Reason.PLANNED, due=due,
                  **base)


def bureau_meeting_date(facts: Facts, timing: Timing) -> date | None:
    """The date the later rules count from: held, else planned, else due."""
    return timing.done or timing.planned or timing.due


def schedule(facts: Facts, today: date) -> dict[StepKind, Timing]:
    """Due date, flag and reason of every step of the formal procedure."""
    out: dict[StepKind, Timing] = {}
    for kind in STEP_ORDER:
        record = facts.record(kind)
        if facts.scenario == Scenario.URGENT:
            # Scenario 7(b) calls for an entirely informal response (para. 11).
            out[kind] = Timing(kind, Flag.NOT_APPLICABLE, Reason.INFORMAL_ONLY, planned=record.planned,
                               done=record.done)
        elif record.not_applicable and record.done is None:
            out[kind] = Timing(kind, Flag.NOT_APPLICABLE, Reason.MARKED_NOT_APPLICABLE,
                               planned=record.planned)
    if facts.scenario == Scenario.URGENT:
        return out

    def put(kind: StepKind, **kwargs: object) -> Timing:
        if kind not in out:
            out[kind] = _timing(kind, facts.record(kind), today, **kwargs)  # type: ignore[arg-type]
        return out[kind]

    if facts.decision is None:
        put(StepKind.FORWARD_DECISION, reason=Reason.WAIT_DECISION, blocked=Flag.WAITING)
    else:
        put(StepKind.FORWARD_DECISION, due=forwarding_due(facts.decision), reason=Reason.WITHOUT_DELAY)
    put(StepKind.EMERGENCY_BUREAU, reason=Reason.NOT_PLANNED)
    put(StepKind.OPEN_LETTER, reason=Reason.NOT_PLANNED)

    response_deadline = facts.effective_response_deadline()
    if response_deadline is None:
        letter_skipped = out[StepKind.OPEN_LETTER].flag == Flag.NOT_APPLICABLE
        meeting = put(StepKind.BUREAU_MEETING, reason=Reason.NOT_PLANNED if letter_skipped else Reason.WAIT_LETTER,
                      blocked=Flag.TO_SCHEDULE if letter_skipped else Flag.WAITING)
    else:
        trigger = min(response_deadline, facts.response_received or response_deadline)
        # A response received on a weekend: the meeting is due on the next working day.
        meeting = put(StepKind.BUREAU_MEETING, due=next_working_day(trigger), reason=Reason.UPON_RESPONSE)

    held = None if meeting.flag == Flag.NOT_APPLICABLE else bureau_meeting_date(facts, meeting)
    later = (StepKind.WORKING_GROUP_MEETING, StepKind.BUREAU_REPORT, StepKind.PLENARY)
    if held is None:
        for kind in later:
            put(kind, reason=Reason.WAIT_BUREAU_MEETING, blocked=Flag.WAITING)
        return out
    following = session_after(facts.sessions, held)
    if following is None:
        for kind in later:
            put(kind, reason=Reason.NEED_SESSION, blocked=Flag.UNDETERMINED)
        return out
    # Session dates are sitting days of the Assembly: they are not moved off weekends.
    ongoing = following.opens <= held
    report_due = following.closes if ongoing else following.opens
    if StepKind.WORKING_GROUP_MEETING not in out:
        record = facts.record(StepKind.WORKING_GROUP_MEETING)
        if working_group_meeting_applies(held, facts.sessions):
            put(StepKind.WORKING_GROUP_MEETING,
                due=previous_working_day(report_due - timedelta(days=1)),
                reason=Reason.BEFORE_REPORT, session=following)
        elif record.done is not None:  # held although the rule did not call for it
            put(StepKind.WORKING_GROUP_MEETING, reason=Reason.DONE, session=following)
        else:
            out[StepKind.WORKING_GROUP_MEETING] = Timing(
                StepKind.WORKING_GROUP_MEETING, Flag.NOT_APPLICABLE, Reason.SESSION_TOO_SOON,
                planned=record.planned, session=following)
    put(StepKind.BUREAU_REPORT, due=report_due,
        reason=Reason.SESSION_CLOSES if ongoing else Reason.SESSION_OPENS, session=following)
    put(StepKind.PLENARY, due=following.closes, reason=Reason.SESSION_CLOSES, session=following)
    return out


def needs_reminder(timing: Timing) -> bool:
    return timing.flag in (Flag.OVERDUE, Flag.DUE_SOON)
