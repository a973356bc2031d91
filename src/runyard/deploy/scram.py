"""SCRAM-SHA-256 password verifiers (RFC 5802, RFC 7677) in PostgreSQL's storage format.

Hashing on the client means ``CREATE ROLE ... PASSWORD '<verifier>'`` carries no plaintext:
nothing in ``pg_stat_activity``, the statement log or a network capture can be replayed as the
password. PostgreSQL stores a value that already has this format as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import string

ITERATIONS = 4096  # PostgreSQL's default scram_iterations
SALT_BYTES = 16
_PRINTABLE_ASCII = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    """Hi(Normalize(password), salt, i) of RFC 5802: PBKDF2 with HMAC-SHA-256.

    Normalize is SASLprep, which leaves printable ASCII unchanged; other passwords are refused
    rather than hashed in a way the server might normalise differently.
    """
    if not password or not set(password) <= _PRINTABLE_ASCII:
        raise ValueError("SCRAM passwords here must be non-empty printable ASCII")
    return hashlib.pbkdf2_hmac("sha256", password.encode("ascii"), salt, iterations)


def verifier(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` for ``password``."""
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    salted = salted_password(password, salt, iterations)
    stored_key = hashlib.sha256(_hmac(salted, b"Client Key")).digest()
    server_key = _hmac(salted, b"Server Key")
    return f"SCRAM-SHA-256${iterations}:{_b64(salt)}${_b64(stored_key)}:{_b64(server_key)}"


def matches(password: str, stored: str) -> bool:
    """Whether ``stored`` (as in ``pg_authid.rolpassword``) was made from ``password``."""
    try:
        scheme, params, keys = stored.split("$")
        iterations, salt = params.split(":")
    except ValueError:
        return False
    if scheme != "SCRAM-SHA-256":
        return False
    expected = verifier(password, base64.b64decode(salt), int(iterations))
    return hmac.compare_digest(expected.rsplit("$", 1)[1], keys)
