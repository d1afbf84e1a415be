"""TOTP (RFC 6238): 160-bit secrets from the CSPRNG, 30-second steps, one step of drift either
way, and no code accepted twice (the last accepted step is stored per user, ASVS 6.5.1)."""

from __future__ import annotations

import time

import pyotp
import segno

ISSUER = "Secure Platform on Cooperation"
DIGITS = 6
INTERVAL = 30


def new_secret() -> str:
    return pyotp.random_base32(length=32)  # 32 base32 chars = 160 bits


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    return segno.make(uri, error="m").svg_data_uri(scale=6, border=2)


def current_code(secret: str, at: float | None = None) -> str:
    return pyotp.TOTP(secret).at(at if at is not None else time.time())


def matching_step(secret: str, code: str, last_step: int | None, at: float | None = None) -> int | None:
    """The time step the code belongs to if valid and newer than last_step, else None."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    now = at if at is not None else time.time()
    totp = pyotp.TOTP(secret)
    current = int(now // INTERVAL)
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None
