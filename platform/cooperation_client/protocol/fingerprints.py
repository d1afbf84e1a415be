"""Human-comparable fingerprints (PROTOCOL.md §9).

* State authority key: 60 digits (12 groups of 5) from SHA-512("TEK1/fp/state" ‖ lp(code) ‖ pub),
  compared once at onboarding, out of band.
* User safety number: Signal's construction. 30 digits per user from 5,200 iterations of SHA-512
  over the identity key (slows down a search for a colliding key); the pair's 60-digit number is
  the two halves in ascending order, so both users see the same number.
* Thread safety code: 20 digits binding the log head and the members' identity keys.
"""

from __future__ import annotations

from . import primitives as P
from .encoding import check_id, label, lp

ITERATIONS = 5200


def _digits(data: bytes, groups: int) -> str:
    """5 digits per 5 bytes (a 40-bit integer mod 100,000), as Signal's NumericFingerprint."""
    if len(data) < 5 * groups:
        raise ValueError("not enough hash output")
    return "".join(f"{int.from_bytes(data[5 * i:5 * i + 5], 'big') % 100000:05d}" for i in range(groups))


def group(digits: str) -> str:
    return " ".join(digits[i:i + 5] for i in range(0, len(digits), 5))


def state_fingerprint(state_code: str, authority_pub: bytes) -> str:
    digest = P.sha512(label("TEK1/fp/state") + lp(state_code.encode("utf-8")) + authority_pub)
    return _digits(digest, 12)


def user_fingerprint(user_id: bytes, uik_pub: bytes) -> str:
    """30 digits for one user."""
    digest = P.sha512(label("TEK1/fp/user") + check_id(user_id) + uik_pub)
    for _ in range(ITERATIONS):
        digest = P.sha512(digest + uik_pub)
    return _digits(digest, 6)


def safety_number(a: tuple[bytes, bytes], b: tuple[bytes, bytes]) -> str:
    """60 digits for a pair of (user_id, uik_pub), identical on both sides."""
    return "".join(sorted((user_fingerprint(*a), user_fingerprint(*b))))


def thread_safety_code(thread_id: bytes, head_hash: bytes, members: list[tuple[bytes, bytes]]) -> str:
    """Everyone who sees the same log head and the same member keys reads the same 20 digits."""
    entries = sorted(check_id(user) + P.sha256(uik_pub) for user, uik_pub in members)
    digest = P.sha512(label("TEK1/fp/thread") + check_id(thread_id) + head_hash + b"".join(entries))
    return _digits(digest, 4)
