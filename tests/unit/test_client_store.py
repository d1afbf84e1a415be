"""The Python client's keystore: where it lives, private files written atomically, the local
keys round trip, and identity keys pinned on first use."""

from __future__ import annotations

import json
import os
import stat

import pytest

from cooperation_client.client.api import normalise_server
from cooperation_client.client.directory import Pins
from cooperation_client.client.errors import ClientError
from cooperation_client.client.store import HOME_ENV, LocalKeys, Store, host_dirname, locate
from cooperation_client.protocol import recovery
from cooperation_client.protocol.keys import DeviceKeys, PerUserKey, UserIdentity


def _mode(path) -> int:  # type: ignore[no-untyped-def]
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_are_private_and_written_whole(tmp_path):
    home = tmp_path / "keys"
    home.mkdir(mode=0o755)
    store = Store(home)
    assert _mode(home) == 0o700  # tightened even if it existed
    store.write("tokens", {"access_token": "secret"})
    assert _mode(home / "tokens.json") == 0o600
    assert store.read("tokens") == {"access_token": "secret"}
    assert [p.name for p in home.iterdir()] == ["tokens.json"]  # no temporary file left behind
    os.chmod(home / "tokens.json", 0o644)
    store.read("tokens")
    assert _mode(home / "tokens.json") == 0o600  # loosened by someone: tightened again
    (home / "pins.json").write_text("not json")
    with pytest.raises(ClientError, match="damaged"):
        store.read("pins")
    store.remove("tokens")
    assert store.read("tokens") is None


def test_local_keys_round_trip(tmp_path):
    user = (42).to_bytes(16, "big")
    keys = LocalKeys(42, DeviceKeys.generate(), "laptop", UserIdentity.generate(user),
                     {1: PerUserKey.generate(user, 1), 2: PerUserKey.generate(user, 2)})
    store = Store(tmp_path)
    store.save_keys(keys)
    again = store.keys()
    assert again is not None and again.to_json() == keys.to_json()
    assert again.latest_puk.gen == 2 and again.device.public() == keys.device.public()
    damaged = json.loads((tmp_path / "keys.json").read_text())
    del damaged["uik_seed"]
    store.write("keys", damaged)
    with pytest.raises(ClientError, match="damaged"):
        store.keys()


def test_local_keys_keep_the_recovery_public_key(tmp_path):
    """The recovery public key that re-seals the recovery blob survives the round trip (and an
    install enrolled before it simply has none)."""
    user = (42).to_bytes(16, "big")
    uik = UserIdentity.generate(user)
    info = recovery.recovery_info(recovery.new_recovery_key(), user, uik.public)
    keys = LocalKeys(42, DeviceKeys.generate(), "laptop", uik, {1: PerUserKey.generate(user, 1)}, info)
    store = Store(tmp_path)
    store.save_keys(keys)
    again = store.keys()
    assert again is not None and again.recovery == info and again.secrets().recovery == info
    older = json.loads((tmp_path / "keys.json").read_text())
    del older["recovery"]
    store.write("keys", older)
    assert store.require_keys().recovery is None
    older["recovery"] = {"pub": "AAAA", "bind": "AAAA"}
    store.write("keys", older)
    with pytest.raises(ClientError, match="damaged"):
        store.keys()


def test_where_the_keystore_is(tmp_path, monkeypatch):
    monkeypatch.delenv(HOME_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert host_dirname("https://Platform.Example.org:8443/") == "platform.example.org_8443"
    assert locate(home=str(tmp_path / "explicit")) == tmp_path / "explicit"
    assert locate(server="platform.example.org") == tmp_path / "config" / "cooperation-client" / "platform.example.org"
    with pytest.raises(ClientError, match="login"):
        locate()  # nothing configured yet
    first = Store(locate(server="https://a.example.org"))
    first.set_server("https://a.example.org")
    assert locate() == first.path  # the only one: no need to name it
    Store(locate(server="https://b.example.org")).set_server("https://b.example.org")
    with pytest.raises(ClientError, match="--server"):
        locate()
    with pytest.raises(ClientError, match="belongs to"):
        first.set_server("https://b.example.org")
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "from-env"))
    assert locate(server="https://a.example.org") == tmp_path / "from-env"


def test_server_addresses():
    assert normalise_server("platform.example.org/") == "https://platform.example.org"
    assert normalise_server("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert normalise_server("http://localhost") == "http://localhost"
    for bad in ("http://platform.example.org", "https://user:pw@host", "https://host/?x=1", "ftp://host"):
        with pytest.raises(ClientError):
            normalise_server(bad)


def test_identity_keys_are_pinned_on_first_use(tmp_path):
    pins = Pins(Store(tmp_path))
    first, second = os.urandom(32), os.urandom(32)
    assert pins.trusted(7, first, "Ana") == [first]
    assert pins.trusted(7, first) == [first]
    assert pins.trusted(7, second) == [first]  # the pinned key stays first: the new one is not used
    assert Pins(Store(tmp_path)).trusted(7, second)[0] == first  # and it survives a restart
    assert pins.trust(7, second) is True
    assert pins.trusted(7, second) == [second, first]  # earlier certificates stay verifiable
    assert pins.trust(7, second) is False
    assert _mode(tmp_path / "pins.json") == 0o600
