"""The thread log's client-side rules: hash chaining, signatures by certified devices, who may
change membership, epochs and the exact wrap set."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from cooperation_client.protocol import events
from cooperation_client.protocol.errors import ProtocolError, VerificationError
from cooperation_client.protocol.statements import Signed, sign_statement
from cooperation_client.vectors import VECTORS_PATH, generate

V = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["log"]
h = bytes.fromhex
IDS = generate._ids()
THREAD = IDS["thread"]


def _directory() -> events.Directory:
    return events.Directory(
        {h(u["user"]): events.UserInfo(u["state"], u["admin"]) for u in V["directory"]["users"]},
        {(h(d["user"]), h(d["device"])): h(d["sig_public"]) for d in V["directory"]["devices"]})


LOG = [Signed.from_json(e) for e in V["events"]]


def _state(upto: int) -> events.ThreadState:
    return events.replay(LOG[:upto], _directory(), THREAD)


def _event(state: events.ThreadState, actor: str, event_type: str, body: dict, **overrides) -> Signed:
    device = generate._device(IDS, actor)
    return events.next_event(state, event_type, body, actor=IDS[actor], device_id=device.device_id,
                             device_key=overrides.pop("key", device.sig), ts_ms=1)


def _record(state: events.ThreadState, members: list[str], epoch: int | None = None) -> dict:
    epoch = epoch or state.epoch + 1
    return events.keys_record(epoch_key=bytes(32), thread_id=THREAD, epoch=epoch,
                              recipients={IDS[m]: (1, generate._puk(IDS, m).dh_pub) for m in members},
                              previous_key=bytes(32) if state.policy["share_history"] else None)


def test_full_log_verifies():
    assert _state(len(LOG)).seq == len(LOG) - 1


def test_events_out_of_order_or_missing_are_rejected():
    with pytest.raises(VerificationError):
        events.replay([LOG[0], LOG[2]], _directory(), THREAD)
    with pytest.raises(VerificationError):
        events.replay(LOG[1:], _directory(), THREAD)
    with pytest.raises(VerificationError):
        events.replay(LOG, _directory(), b"\x01" * 16)


def test_tampered_event_payload_is_rejected():
    forged = Signed("event", LOG[2].payload.replace(b'"add_user"', b'"rotate"'), LOG[2].signature)
    with pytest.raises(VerificationError):
        events.replay([LOG[0], LOG[1], forged], _directory(), THREAD)


def test_event_by_uncertified_device_is_rejected():
    state = _state(3)
    stranger = generate._device(IDS, "sn_member").sig
    event = _event(state, "nl_admin", "rotate", {"reason": "x", "keys": _record(state, ["nl_admin", "sn_admin", "nl_member"])},
                   key=stranger)
    with pytest.raises(VerificationError):
        events.apply(state, event, _directory())


def test_non_admin_cannot_add_a_state_and_non_member_cannot_act():
    state = _state(3)  # members: nl_admin, sn_admin, nl_member
    body = {"state": "DEU", "members": [{"user": IDS["nl_member"].hex(), "state": "NLD"}],
            "keys": _record(state, ["nl_admin", "sn_admin", "nl_member"])}
    with pytest.raises(VerificationError):
        events.apply(state, _event(state, "nl_member", "add_state", body), _directory())
    outsider = _event(state, "sn_member", "rotate", {"keys": _record(state, ["nl_admin", "sn_admin", "nl_member"])})
    with pytest.raises(VerificationError):
        events.apply(state, outsider, _directory())


def test_a_state_admin_cannot_remove_another_states_user_but_the_owner_admin_can():
    state = _state(3)
    body = {"user": IDS["nl_member"].hex(), "keys": _record(state, ["nl_admin", "sn_admin"])}
    with pytest.raises(VerificationError):
        events.apply(state, _event(state, "sn_admin", "remove_user", body), _directory())
    after = events.apply(state, _event(state, "nl_admin", "remove_user", body), _directory())
    assert IDS["nl_member"] not in after.members and after.epoch == state.epoch + 1


def test_removal_must_not_wrap_the_new_key_to_the_removed_member():
    state = _state(3)
    body = {"user": IDS["nl_member"].hex(), "keys": _record(state, ["nl_admin", "sn_admin", "nl_member"])}
    with pytest.raises(VerificationError, match="wrapped"):
        events.apply(state, _event(state, "nl_admin", "remove_user", body), _directory())


def test_epoch_must_advance_exactly_on_membership_change():
    state = _state(3)
    device = generate._device(IDS, "nl_admin")
    skipped = events.make_event("rotate", {"keys": _record(state, ["nl_admin", "sn_admin", "nl_member"], state.epoch + 2)},
                                thread_id=THREAD, seq=state.seq + 1, prev_hash=state.head_hash, actor=IDS["nl_admin"],
                                device_id=device.device_id, device_key=device.sig, epoch=state.epoch + 2, ts_ms=1)
    with pytest.raises(VerificationError):
        events.apply(state, skipped, _directory())


def test_history_link_follows_the_policy():
    state = _state(3)  # shares history
    record = _record(replace(state, policy={**state.policy, "share_history": False}), ["nl_admin", "sn_admin", "nl_member"])
    with pytest.raises(VerificationError, match="history"):
        events.apply(state, _event(state, "nl_admin", "rotate", {"keys": record}), _directory())


def test_only_owner_admin_sets_policy_and_members_cannot_add_other_states_users():
    state = _state(3)
    policy = {"policy": {"share_history": False, "members_add_colleagues": True}}
    with pytest.raises(VerificationError):
        events.apply(state, _event(state, "sn_admin", "set_policy", policy), _directory())
    add = {"user": IDS["sn_member"].hex(), "state": "SEN", "keys": _record(state, ["nl_admin", "sn_admin", "nl_member", "sn_member"])}
    with pytest.raises(VerificationError):
        events.apply(state, _event(state, "nl_member", "add_user", add), _directory())
    with pytest.raises(ProtocolError):
        events.apply(state, _event(state, "nl_admin", "set_policy", {"policy": {"share_history": 1}}), _directory())


def test_deactivated_member_blocks_sending_until_rotation():
    state = _state(3)
    directory = _directory()
    assert events.can_send(state, IDS["nl_admin"], directory)
    del directory.users[IDS["sn_admin"]]
    assert events.members_needing_rotation(state, directory) == {IDS["sn_admin"]}
    assert not events.can_send(state, IDS["nl_admin"], directory)


def test_statement_kinds_do_not_cross():
    device = generate._device(IDS, "nl_admin")
    cert_shaped = sign_statement("device-cert", json.loads(LOG[1].payload), device.sig)
    with pytest.raises(ProtocolError):
        events.apply(_state(1), cert_shaped, _directory())
    relabelled = Signed("event", cert_shaped.payload, cert_shaped.signature)
    with pytest.raises(VerificationError):
        events.apply(_state(1), relabelled, _directory())
