"""Password policy and hashing (NIST SP 800-63B-4 §3.1.1.2, ASVS 6.2).

At least 12 characters, at most 256 (to protect the hasher), no composition rules, compared
exactly as typed after Unicode NFKC normalisation; refused when common (offline list shipped
in the repository), made of one repeated character, or built on the platform's or the user's
own names. Stored with Argon2id; hashes are upgraded at sign-in when the parameters change.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import lazy_gettext as _l

MIN_LENGTH = 12
MAX_LENGTH = 256

# Context words (ASVS 6.2.11): the platform's own vocabulary is the first thing guessed.
CONTEXT_WORDS = (
    "cooperation", "coopération", "platform", "plateforme", "icc", "cpi", "rome statute",
    "romestatute", "secretariat", "assembly", "asp", "registry", "greffe", "hague", "lahaye",
    "password", "motdepasse",
)

_hasher = PasswordHasher()  # argon2-cffi defaults: Argon2id, m=64 MiB, t=3, p=4 (RFC 9106 low-mem)
_dummy_hash = _hasher.hash("timing-equaliser-not-a-real-password")


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@functools.cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("cooperation.security").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def policy_problems(password: str, *, personal: tuple[str, ...] = ()) -> list[str]:
    """Reasons the password is refused, in words a user can act on (empty when acceptable)."""
    pw = normalise(password)
    if len(pw) < MIN_LENGTH:
        return [str(_l("Use at least %(n)d characters. A few unrelated words make a good passphrase.",
                       n=MIN_LENGTH))]
    if len(pw) > MAX_LENGTH:
        return [str(_l("Use at most %(n)d characters.", n=MAX_LENGTH))]
    lowered = pw.lower()
    stripped = re.sub(r"[\d\W_]+$", "", lowered)
    if lowered in _common_passwords() or (len(stripped) >= 6 and stripped in _common_passwords()):
        return [str(_l("This password is among the most commonly used ones; choose another."))]
    if len(set(lowered)) <= 2:
        return [str(_l("This password repeats the same characters; choose another."))]
    compact = re.sub(r"[\s\W_]+", "", lowered)
    for word in (*CONTEXT_WORDS, *(w.lower() for w in personal if len(w) >= 4)):
        word_compact = re.sub(r"[\s\W_]+", "", word)
        if word_compact and word_compact in compact and len(compact) - len(word_compact) < 8:
            return [str(_l("This password is too close to the platform's name or your own details; "
                           "choose another."))]
    return []


def personal_words(email: str, full_name: str) -> tuple[str, ...]:
    local = email.split("@", 1)[0]
    return (local, *re.split(r"[\s.\-_]+", full_name), *re.split(r"[.\-_+]+", local))


def hash_password(password: str) -> str:
    return _hasher.hash(normalise(password))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (no timing enumeration)."""
    pw = normalise(password)
    if len(pw) > MAX_LENGTH:
        return False  # refused before hashing: long inputs are a denial-of-service lever
    try:
        return _hasher.verify(stored_hash or _dummy_hash, pw) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
