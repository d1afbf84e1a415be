"""The local keystore: one private directory per server, holding the OAuth tokens, this
install's device keys, the user's identity seed and PUK secrets, and the identity keys pinned
on first use (TOFU) for everyone else.

Default location ~/.config/cooperation-client/<host> ($XDG_CONFIG_HOME respected); --home or
COOPERATION_CLIENT_HOME names the directory instead. The directory is 0700 and every file 0600,
written atomically (temporary file, fsync, rename), so a crash never leaves half a key file.
Nothing here prints or logs what it stores.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cooperation_client.protocol import primitives as P
from cooperation_client.protocol.encoding import b64d, b64e
from cooperation_client.protocol.errors import ProtocolError
from cooperation_client.protocol.keys import DeviceKeys, PerUserKey, UserIdentity
from cooperation_client.protocol.recovery import AccountSecrets, RecoveryInfo

from .api import normalise_server
from .errors import ClientError, NotEnrolled

HOME_ENV = "COOPERATION_CLIENT_HOME"
SERVER_FILE, TOKENS_FILE, KEYS_FILE, PINS_FILE = "server", "tokens", "keys", "pins"


def default_base() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "cooperation-client"


def host_dirname(server: str) -> str:
    """'platform.example.org' or 'localhost_5000' (one keystore per server)."""
    parts = urlsplit(normalise_server(server))
    name = (parts.netloc + parts.path).lower()
    return re.sub(r"[^a-z0-9.-]+", "_", name).strip("_.") or "server"


def locate(home: str | None = None, server: str | None = None) -> Path:
    """Where this invocation's keystore lives (see the module docstring for the order)."""
    if home:
        return Path(home).expanduser()
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    base = default_base()
    if server:
        return base / host_dirname(server)
    known = sorted(d for d in base.iterdir() if (d / f"{SERVER_FILE}.json").is_file()) if base.is_dir() else []
    if len(known) == 1:
        return known[0]
    if not known:
        raise ClientError("No server configured yet: run cooperation-client login SERVER.")
    raise ClientError("Several servers are configured here: say which one with --server URL.")


@dataclass
class LocalKeys:
    """This install's secrets: its device keys, and the user's UIK and PUK generations, with the
    recovery public key that re-seals the recovery blob (None on installs set up before the
    recovery blob's format 2, until the Recovery Key is entered once: PROTOCOL.md §8)."""

    user_id: int
    device: DeviceKeys
    device_label: str
    uik: UserIdentity
    puks: dict[int, PerUserKey]
    recovery: RecoveryInfo | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"v": 1, "user_id": self.user_id, "device_id": self.device.device_id.hex(),
               "device_label": self.device_label, "dh_seed": b64e(P.private_bytes(self.device.dh)),
               "sig_seed": b64e(P.private_bytes(self.device.sig)), "uik_seed": b64e(self.uik.seed),
               "puks": {str(gen): b64e(puk.secret) for gen, puk in sorted(self.puks.items())}}
        if self.recovery is not None:
            out["recovery"] = self.recovery.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LocalKeys:
        try:
            user_id = int(data["user_id"])
            user = user_id.to_bytes(16, "big")
            device = DeviceKeys.from_seeds(bytes.fromhex(data["device_id"]), b64d(data["dh_seed"], 32),
                                           b64d(data["sig_seed"], 32))
            puks = {int(g): PerUserKey(user, int(g), b64d(s, 32)) for g, s in data["puks"].items()}
            uik = UserIdentity.from_seed(user, b64d(data["uik_seed"], 32))
            info = RecoveryInfo.from_json(data["recovery"]) if data.get("recovery") is not None else None
            return cls(user_id, device, str(data["device_label"]), uik, puks, info)
        except (KeyError, TypeError, ValueError, ProtocolError) as exc:
            raise ClientError("The local key file is damaged; restore it from a backup or run recover.") from exc

    @property
    def user_bytes(self) -> bytes:
        return self.user_id.to_bytes(16, "big")

    @property
    def latest_puk(self) -> PerUserKey:
        return self.puks[max(self.puks)]

    def secrets(self) -> AccountSecrets:
        """The account secrets (PROTOCOL.md §8): what the recovery blob holds and an approval hands over."""
        return AccountSecrets(self.user_bytes, self.uik.seed, tuple(self.puks[g] for g in sorted(self.puks)),
                              self.recovery)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
        if not stat.S_ISDIR(info.st_mode):
            raise ClientError(f"{path} is not a directory.")
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise ClientError(f"{path} belongs to another user; refusing to keep keys there.")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(path, 0o700)  # keys must never be readable by others

    def _file(self, name: str) -> Path:
        return self.path / f"{name}.json"

    def read(self, name: str) -> dict[str, Any] | None:
        target = self._file(name)
        try:
            fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ClientError(f"Cannot read {target}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            if stat.S_IMODE(os.fstat(handle.fileno()).st_mode) & 0o077:
                os.fchmod(handle.fileno(), 0o600)
            raw = handle.read()
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ClientError(f"{target} is damaged (not JSON).") from None
        if not isinstance(data, dict):
            raise ClientError(f"{target} is damaged.")
        return data

    def write(self, name: str, data: dict[str, Any]) -> None:
        target = self._file(name)
        tmp = self.path / f".{name}.{os.getpid()}.{P.random_bytes(4).hex()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(json.dumps(data, sort_keys=True, indent=1).encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def remove(self, name: str) -> None:
        self._file(name).unlink(missing_ok=True)

    # -- typed records -----------------------------------------------------------------------

    @property
    def server(self) -> str | None:
        data = self.read(SERVER_FILE)
        return str(data["server"]) if data and isinstance(data.get("server"), str) else None

    def set_server(self, server: str) -> None:
        current = self.server
        if current is not None and current != server:
            raise ClientError(f"This keystore belongs to {current}; use another --home for {server}.")
        self.write(SERVER_FILE, {"server": server})

    def keys(self) -> LocalKeys | None:
        data = self.read(KEYS_FILE)
        return LocalKeys.from_json(data) if data is not None else None

    def require_keys(self) -> LocalKeys:
        keys = self.keys()
        if keys is None:
            raise NotEnrolled("This install holds no keys yet: run cooperation-client enrol (first device) "
                              "or cooperation-client recover (new install).")
        return keys

    def save_keys(self, keys: LocalKeys) -> None:
        self.write(KEYS_FILE, keys.to_json())
