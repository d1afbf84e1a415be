"""What the client reports to its user. Every expected failure is a ClientError with a message
fit for one line on a terminal; anything else is a bug and may show a traceback."""

from __future__ import annotations


class ClientError(Exception):
    """A failure the user can act on; str(error) is the whole explanation."""


class ApiError(ClientError):
    """The server refused a request; carries its status and its own message (never a token)."""

    def __init__(self, status: int, message: str, body: dict[str, object] | None = None) -> None:
        super().__init__(f"{message} (HTTP {status})")
        self.status = status
        self.message = message
        self.body = body or {}


class NotEnrolled(ClientError):
    """This install holds no keys yet (run enrol, or recover on a new install)."""


class KeyChanged(ClientError):
    """A user's identity key differs from the one pinned on first use: blocking until the user
    compares the safety number and runs `trust`."""

    def __init__(self, user_id: int, name: str = "") -> None:
        who = f"{name} (user {user_id})" if name else f"user {user_id}"
        super().__init__(
            f"The identity key of {who} has changed since this install first saw it. Their messages "
            f"cannot be trusted until you compare the safety number with them "
            f"(cooperation-client safety-number {user_id}) and run: cooperation-client trust {user_id}")
        self.user_id = user_id


class NoEpochKey(ClientError):
    """No key for an epoch: this user was not a member then and no history link leads there."""

    def __init__(self, epoch: int) -> None:
        super().__init__(f"No key for epoch {epoch} of this thread: you were not a member then.")
        self.epoch = epoch
