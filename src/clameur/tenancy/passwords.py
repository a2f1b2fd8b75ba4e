"""Passwords: argon2id hashes (OWASP parameters), a length floor, a common-password list.

Hashes made before argon2 (``scrypt$salt$hash``) still verify and are re-hashed with
argon2id at the next successful sign-in (:func:`verify` says so).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from clameur.errors import InvalidInputError

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""Longer inputs are refused before hashing (no hashing of megabytes on a sign-in form)."""

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, type=Type.ID)


@lru_cache(maxsize=1)
def _dummy() -> str:
    """Verified against when the account is unknown, so both answers take as long. Hashed
    on first use, not at import: every command and worker would pay for it."""
    return _HASHER.hash("clameur dummy password for unknown accounts")


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    ours = resources.files("clameur.tenancy").joinpath("data/common_passwords.txt")
    lines = ours.read_text(encoding="utf-8").splitlines()
    words = {line.strip().lower() for line in lines if line.strip() and not line.startswith("#")}
    words.update(FREQUENCY_LISTS["passwords"])
    return frozenset(words)


_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def _stems(password: str) -> set[str]:
    lowered = password.lower()
    stripped = _EDGES.sub("", lowered)
    return {lowered, stripped, stripped.replace(" ", "")} - {""}


def check_new_password(password: str) -> str:
    """The password if it may be used; otherwise :class:`InvalidInputError` saying why."""
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(f"at least {MIN_LENGTH} characters", where="password")
    if len(password) > MAX_LENGTH:
        raise InvalidInputError(f"at most {MAX_LENGTH} characters", where="password")
    if len(set(password)) < 4:
        raise InvalidInputError("too few different characters", where="password")
    if _stems(password) & _common():
        raise InvalidInputError(
            "this password is on a list of common passwords; choose another", where="password"
        )
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def _scrypt_matches(password: str, stored: str) -> bool:
    try:
        _, salt_hex, digest_hex = stored.split("$", 2)
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return hmac.compare_digest(digest.hex(), digest_hex)


def verify(password: str, stored: str | None) -> tuple[bool, bool]:
    """``(matches, needs_rehash)``. An absent hash is checked against a dummy one so that
    an unknown or password-less account answers as slowly as a wrong password."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH]
    if stored and stored.startswith("scrypt$"):
        return _scrypt_matches(password, stored), True
    try:
        _HASHER.verify(stored or _dummy(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    if not stored:
        return False, False
    return True, _HASHER.check_needs_rehash(stored)


def legacy_scrypt_hash(password: str, salt: bytes) -> str:
    """The pre-argon2 format (tests of the upgrade path only)."""
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"
