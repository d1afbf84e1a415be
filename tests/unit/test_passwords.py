"""Password policy (NIST SP 800-63B-4, ASVS 6.2) and Argon2id hashing."""

from __future__ import annotations

import unicodedata

import pytest
from argon2 import PasswordHasher

from cooperation.security import passwords

NAME_WORDS = passwords.personal_words("j.jansen@nl.test", "Jan Jansen")


def problems(password: str, personal: tuple[str, ...] = NAME_WORDS) -> list[str]:
    return passwords.policy_problems(password, personal=personal)


def test_minimum_length_is_twelve():
    assert problems("k7#vQ!zr9Lp") and "at least 12" in problems("k7#vQ!zr9Lp")[0]
    assert len("k7#vQ!zr9LpX") == 12
    assert problems("k7#vQ!zr9LpX") == []


def test_maximum_length_is_256():
    accepted = ("velvet orbit " * 20)[:256]
    refused = ("velvet orbit " * 20)[:257]
    assert len(accepted) == 256 and len(refused) == 257
    assert problems(accepted) == []
    assert "at most 256" in problems(refused)[0]


def test_long_passphrase_with_spaces_is_accepted():
    assert problems("tangerine lighthouse whispers under seventeen moons") == []


@pytest.mark.parametrize("password", ["password1234", "qwertyuiop123", "Password1234!"])
def test_common_passwords_are_refused(password):
    assert "commonly used" in problems(password)[0]


@pytest.mark.parametrize("password", ["aaaaaaaaaaaaaaaa", "ababababababab", "            "])
def test_repeated_characters_are_refused(password):
    assert problems(password), password


@pytest.mark.parametrize("password", ["cooperation2026!", "Cooperation 2026", "RomeStatute2026", "Jansen1990!!", "jjansen-2024"])
def test_context_words_and_own_name_are_refused(password):
    assert "too close" in problems(password)[0], password


def test_own_name_inside_a_long_passphrase_is_accepted():
    assert problems("jansen rides a purple bicycle to market") == []


def test_hash_is_argon2id():
    stored = passwords.hash_password("tangerine lighthouse whispers")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, "tangerine lighthouse whispers")
    assert not passwords.verify_password(stored, "tangerine lighthouse whisper")


def test_unicode_is_normalised_nfkc():
    composed = unicodedata.normalize("NFC", "café crème brûlée fort")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    stored = passwords.hash_password(composed)
    assert passwords.verify_password(stored, decomposed)
    assert passwords.verify_password(passwords.hash_password(decomposed), composed)
    # Policy counts characters after normalisation: 11 composed characters stay too short.
    assert problems(unicodedata.normalize("NFD", "éèàùâêîôûçë"))


def test_verify_without_a_hash_is_false():
    assert passwords.verify_password(None, "anything at all here") is False
    assert passwords.verify_password("", "anything at all here") is False
    assert passwords.verify_password("not-a-hash", "anything at all here") is False


def test_verify_refuses_overlong_input():
    stored = passwords.hash_password("x" * 12 + "y")
    assert passwords.verify_password(stored, "z" * 257) is False


def test_needs_rehash_when_parameters_change():
    current = passwords.hash_password("tangerine lighthouse whispers")
    assert passwords.needs_rehash(current) is False
    weaker = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("tangerine lighthouse whispers")
    assert passwords.needs_rehash(weaker) is True
    # An old hash still verifies, so it can be upgraded at the next sign-in.
    assert passwords.verify_password(weaker, "tangerine lighthouse whispers")
