"""The Python client of the Secure Platform on Cooperation: the TEK protocol core bound to the
platform's /api/v1 (PROTOCOL.md §12), for national authorities' case-management systems.

`Client` (engine.py) is the public entry point; `cooperation_client.cli` wraps it for the
terminal. Modules: api (HTTP), oauth (device flow), store (keystore), directory (verified keys,
TOFU pins), account (enrol, recover, key sync), thread_log (verified log, epoch keys),
thread_ops (create, membership), conversation (messages), files (attachments).
"""

from .conversation import HANDLING, AttachmentRef, MessageItem
from .engine import Client, Member, ThreadSummary
from .errors import ApiError, ClientError, KeyChanged, NoEpochKey, NotEnrolled
from .thread_log import ThreadView
from .thread_ops import TOPICS

__all__ = ["HANDLING", "TOPICS", "ApiError", "AttachmentRef", "Client", "ClientError", "KeyChanged", "Member",
           "MessageItem", "NoEpochKey", "NotEnrolled", "ThreadSummary", "ThreadView"]
