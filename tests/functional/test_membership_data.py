"""The shipped list of States Parties to the Rome Statute."""

from __future__ import annotations

import re
from collections import Counter

from sqlalchemy import func, select

from cooperation.extensions import db
from cooperation.membership.models import Party, PartyKind, PartyStatus, RegionalGroup
from cooperation.membership.services import states_data


def test_every_state_party_is_listed_once_with_a_valid_code_and_group():
    states = states_data()
    codes = [s["code"] for s in states]
    assert len(states) == 125
    assert len(set(codes)) == len(codes), [c for c, n in Counter(codes).items() if n > 1]
    assert all(re.fullmatch(r"[A-Z]{3}", c) for c in codes)
    groups = {g.value for g in RegionalGroup}
    assert all(s["regional_group"] in groups for s in states)
    assert all(s["name_en"].strip() and s["name_fr"].strip() for s in states)
    assert all(s.get("status", "active") in {st.value for st in PartyStatus} for s in states)
    # The UN regional groups of the Assembly of States Parties.
    assert Counter(s["regional_group"] for s in states) == {
        "african": 33,
        "asia_pacific": 19,
        "eastern_european": 20,
        "grulac": 28,
        "weog": 25,
    }


def test_known_members_and_statuses():
    by_code = {s["code"]: s for s in states_data()}
    for code in ("NLD", "SEN", "ARG", "UKR", "PSE", "ARM", "HUN"):
        assert code in by_code, code
    assert by_code["HUN"]["status"] == "withdrawn"
    assert by_code["UKR"].get("status", "active") == "active"
    assert by_code["UKR"]["regional_group"] == "eastern_european"
    # Former States Parties that withdrew before 2025 are not listed.
    assert "BDI" not in by_code and "PHL" not in by_code


def test_source_is_documented():
    import json
    from importlib import resources

    data = json.loads(
        resources.files("cooperation.membership")
        .joinpath("data/states_parties.json")
        .read_text("utf-8")
    )
    assert "Rome Statute" in data["source"] and "Ukraine" in data["source"]


def test_seeding_loads_them_all(app):
    assert (
        db.session.scalar(
            select(func.count()).select_from(Party).where(Party.kind == PartyKind.STATE)
        )
        == 125
    )
    hungary = db.session.scalar(select(Party).where(Party.code == "HUN"))
    assert hungary.status == PartyStatus.WITHDRAWN
