"""The deadline rules of the Assembly procedures relating to non-cooperation, on concrete dates
(2026: 15 May is a Friday, 7 December a Monday, 12 December a Saturday)."""

from __future__ import annotations

from datetime import date

import pytest

from cooperation_noncooperation import deadlines as d
from cooperation_noncooperation.deadlines import Flag, Reason, Scenario, StepKind, StepRecord


def day(text: str) -> date:
    return date.fromisoformat(text)


# -- working days and months -----------------------------------------------------------------------

@pytest.mark.parametrize(("decision", "due"), [
    ("2026-05-14", "2026-05-15"),  # Thursday -> Friday
    ("2026-05-15", "2026-05-18"),  # Friday -> Monday
    ("2026-05-16", "2026-05-18"),  # Saturday -> Monday
    ("2026-05-17", "2026-05-18"),  # Sunday -> Monday
])
def test_forwarding_without_delay_is_due_the_first_working_day_after(decision, due):
    assert d.forwarding_due(day(decision)) == day(due)


@pytest.mark.parametrize(("start", "months", "expected"), [
    ("2026-09-07", 3, "2026-12-07"),
    ("2026-11-30", 3, "2027-02-28"),  # clamped to the end of February
    ("2027-11-30", 3, "2028-02-29"),  # leap year
    ("2026-10-31", 1, "2026-11-30"),
    ("2026-01-15", 12, "2027-01-15"),
])
def test_calendar_months(start, months, expected):
    assert d.add_months(day(start), months) == day(expected)


def test_working_day_helpers():
    assert d.next_working_day(day("2026-05-16")) == day("2026-05-18")
    assert d.next_working_day(day("2026-05-15")) == day("2026-05-15")
    assert d.previous_working_day(day("2026-05-17")) == day("2026-05-15")
    assert d.add_working_days(day("2026-05-15"), 2) == day("2026-05-19")


# -- the open letter's time limit ------------------------------------------------------------------

@pytest.mark.parametrize(("letter", "latest"), [
    ("2026-05-15", "2026-05-29"),  # Friday + 14 = Friday
    ("2026-03-02", "2026-03-16"),  # Monday + 14 = Monday
    # 14 days after a Saturday or Sunday letter is a weekend day: the deadline moves BACK to the
    # Friday, since moving it forward would exceed the two weeks of para. 14(b).
    ("2026-05-16", "2026-05-29"),
    ("2026-05-17", "2026-05-29"),
])
def test_response_deadline_is_at_most_two_weeks_and_never_more(letter, latest):
    result = d.latest_response_deadline(day(letter))
    assert result == day(latest)
    assert (result - day(letter)).days <= 14 and d.is_working_day(result)


def test_a_response_deadline_set_in_the_letter_is_checked():
    d.check_response_deadline(day("2026-05-15"), day("2026-05-29"))  # exactly two weeks: allowed
    d.check_response_deadline(day("2026-05-15"), day("2026-05-22"))
    with pytest.raises(d.DeadlineError) as late:
        d.check_response_deadline(day("2026-05-15"), day("2026-05-30"))
    assert late.value.code == "over_two_weeks"
    with pytest.raises(d.DeadlineError) as early:
        d.check_response_deadline(day("2026-05-15"), day("2026-05-15"))
    assert early.value.code == "before_letter"


# -- the three-month rule (para. 14(d)) ------------------------------------------------------------

ASP_DEC = d.Session(day("2026-12-07"), day("2026-12-12"))


@pytest.mark.parametrize(("bureau", "opens", "applies"), [
    ("2026-09-07", "2026-12-07", False),  # exactly three months: not MORE than three months
    ("2026-09-07", "2026-12-08", True),
    ("2026-09-08", "2026-12-07", False),
    ("2026-09-06", "2026-12-07", True),
    ("2026-11-30", "2027-02-28", False),  # 30 Nov + 3 months = 28 Feb
    ("2026-11-30", "2027-03-01", True),
])
def test_working_group_meeting_only_when_the_next_session_is_more_than_three_months_away(bureau, opens, applies):
    session = d.Session(day(opens), day(opens))
    assert d.working_group_meeting_applies(day(bureau), [session]) is applies


def test_three_month_rule_takes_the_next_or_ongoing_session():
    past = d.Session(day("2025-12-01"), day("2025-12-06"))
    resumed = d.Session(day("2026-06-01"), day("2026-06-02"))
    # The session that closed before the Bureau meeting does not count; the resumed session
    # in June is the next one, less than three months after 15 April.
    assert d.session_after([past, ASP_DEC, resumed], day("2026-04-15")) == resumed
    assert d.working_group_meeting_applies(day("2026-04-15"), [past, ASP_DEC, resumed]) is False
    # During a session, that session is the "ongoing" one: no public meeting.
    assert d.working_group_meeting_applies(day("2026-12-09"), [ASP_DEC]) is False
    assert d.working_group_meeting_applies(day("2026-04-15"), [past]) is None


# -- a whole case file -----------------------------------------------------------------------------

def facts(**changes: object) -> d.Facts:
    steps = {
        StepKind.FORWARD_DECISION: StepRecord(done=day("2026-01-12")),
        StepKind.OPEN_LETTER: StepRecord(done=day("2026-01-10")),  # a Saturday
        StepKind.BUREAU_MEETING: StepRecord(done=day("2026-01-27")),
    }
    values: dict[str, object] = {"scenario": Scenario.REFERRAL, "decision": day("2026-01-09"), "steps": steps,
                                 "sessions": (ASP_DEC,)}
    values.update(changes)
    return d.Facts(**values)  # type: ignore[arg-type]


def test_full_schedule_of_a_referral():
    timings = d.schedule(facts(), today=day("2026-02-02"))
    forward = timings[StepKind.FORWARD_DECISION]
    assert (forward.flag, forward.due, forward.reason) == (Flag.DONE, day("2026-01-12"), Reason.DONE)
    # Letter on Saturday 10 January: 24 January is a Saturday, the time limit ends Friday 23.
    assert facts().effective_response_deadline() == day("2026-01-23")
    meeting = timings[StepKind.BUREAU_MEETING]
    assert (meeting.flag, meeting.due) == (Flag.DONE, day("2026-01-23"))
    # Bureau meeting on 27 January, next session on 7 December: more than three months.
    group = timings[StepKind.WORKING_GROUP_MEETING]
    assert (group.flag, group.reason) == (Flag.UPCOMING, Reason.BEFORE_REPORT)
    assert group.due == day("2026-12-04")  # the last working day before the report is due
    report = timings[StepKind.BUREAU_REPORT]
    assert (report.due, report.reason, report.session) == (day("2026-12-07"), Reason.SESSION_OPENS, ASP_DEC)
    # The session closes on Saturday 12 December: a sitting day, not moved to Monday.
    assert timings[StepKind.PLENARY].due == day("2026-12-12")
    assert timings[StepKind.EMERGENCY_BUREAU].flag == Flag.TO_SCHEDULE


def test_bureau_meeting_is_due_on_the_response_or_the_expiry_whichever_first():
    waiting = facts(steps={StepKind.OPEN_LETTER: StepRecord(done=day("2026-01-10"))})
    assert d.schedule(waiting, today=day("2026-01-20"))[StepKind.BUREAU_MEETING].due == day("2026-01-23")
    # A response received on Saturday 17 January: due on Monday 19.
    answered = facts(steps=waiting.steps, response_received=day("2026-01-17"))
    assert d.schedule(answered, today=day("2026-01-20"))[StepKind.BUREAU_MEETING].due == day("2026-01-19")
    # A shorter time limit written in the letter.
    shorter = facts(steps=waiting.steps, response_deadline=day("2026-01-16"))
    timing = d.schedule(shorter, today=day("2026-01-20"))[StepKind.BUREAU_MEETING]
    assert (timing.due, timing.flag) == (day("2026-01-16"), Flag.OVERDUE)


def test_session_within_three_months_drops_the_working_group_meeting():
    timings = d.schedule(facts(sessions=(d.Session(day("2026-04-27"), day("2026-04-30")),)), today=day("2026-02-02"))
    group = timings[StepKind.WORKING_GROUP_MEETING]
    assert (group.flag, group.reason) == (Flag.NOT_APPLICABLE, Reason.SESSION_TOO_SOON)
    assert timings[StepKind.BUREAU_REPORT].due == day("2026-04-27")


def test_bureau_meeting_during_the_session_reports_to_the_ongoing_session():
    steps = {**facts().steps, StepKind.BUREAU_MEETING: StepRecord(done=day("2026-12-08"))}
    timings = d.schedule(facts(steps=steps), today=day("2026-12-10"))
    assert timings[StepKind.WORKING_GROUP_MEETING].flag == Flag.NOT_APPLICABLE
    report = timings[StepKind.BUREAU_REPORT]
    assert (report.due, report.reason, report.flag) == (day("2026-12-12"), Reason.SESSION_CLOSES, Flag.DUE_SOON)


def test_later_steps_wait_for_what_they_count_from():
    timings = d.schedule(facts(steps={}, sessions=()), today=day("2026-01-13"))
    assert timings[StepKind.FORWARD_DECISION].flag == Flag.OVERDUE  # due Monday 12 January
    assert timings[StepKind.BUREAU_MEETING].reason == Reason.WAIT_LETTER
    assert timings[StepKind.BUREAU_MEETING].flag == Flag.WAITING
    assert {timings[k].reason for k in (StepKind.WORKING_GROUP_MEETING, StepKind.BUREAU_REPORT,
                                        StepKind.PLENARY)} == {Reason.WAIT_BUREAU_MEETING}
    # With the Bureau meeting planned but no session entered: undetermined.
    planned = {StepKind.OPEN_LETTER: StepRecord(done=day("2026-01-10")),
               StepKind.BUREAU_MEETING: StepRecord(planned=day("2026-01-28"))}
    timings = d.schedule(facts(steps=planned, sessions=()), today=day("2026-01-13"))
    assert timings[StepKind.BUREAU_MEETING].due == day("2026-01-23")
    assert timings[StepKind.BUREAU_REPORT].flag == Flag.UNDETERMINED
    no_decision = d.schedule(facts(decision=None, steps={}), today=day("2026-01-13"))
    assert no_decision[StepKind.FORWARD_DECISION].reason == Reason.WAIT_DECISION


def test_flags_follow_today():
    record = {StepKind.EMERGENCY_BUREAU: StepRecord(planned=day("2026-05-19"))}  # a Tuesday
    on = {t: d.schedule(facts(steps=record), today=day(t))[StepKind.EMERGENCY_BUREAU].flag
          for t in ("2026-05-13", "2026-05-15", "2026-05-19", "2026-05-20")}
    # Friday 15 May + 2 working days = Tuesday 19: due soon; the day after: overdue.
    assert on == {"2026-05-13": Flag.UPCOMING, "2026-05-15": Flag.DUE_SOON, "2026-05-19": Flag.DUE_SOON,
                  "2026-05-20": Flag.OVERDUE}
    timing = d.schedule(facts(steps=record), today=day("2026-05-15"))[StepKind.EMERGENCY_BUREAU]
    assert timing.reason == Reason.PLANNED and d.needs_reminder(timing)


def test_urgent_scenario_and_marked_steps_are_not_applicable():
    urgent = d.schedule(d.Facts(scenario=Scenario.URGENT), today=day("2026-05-15"))
    assert {t.flag for t in urgent.values()} == {Flag.NOT_APPLICABLE}
    assert {t.reason for t in urgent.values()} == {Reason.INFORMAL_ONLY}
    marked = facts(steps={**facts().steps, StepKind.EMERGENCY_BUREAU: StepRecord(not_applicable=True)})
    timing = d.schedule(marked, today=day("2026-02-02"))[StepKind.EMERGENCY_BUREAU]
    assert (timing.flag, timing.reason) == (Flag.NOT_APPLICABLE, Reason.MARKED_NOT_APPLICABLE)
    assert not d.needs_reminder(timing)


def test_oral_report_to_the_bureau_is_due_the_next_working_day():
    assert d.oral_report_due(day("2026-05-15")) == day("2026-05-18")  # Friday -> Monday
    assert not d.oral_report_overdue(day("2026-05-15"), None, day("2026-05-18"))
    assert d.oral_report_overdue(day("2026-05-15"), None, day("2026-05-19"))
    assert not d.oral_report_overdue(day("2026-05-15"), day("2026-05-18"), day("2026-06-01"))
