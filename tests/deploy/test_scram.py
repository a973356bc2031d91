"""SCRAM-SHA-256 verifiers, checked against the worked exchange in RFC 7677 section 3."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from runyard.deploy import scram

# RFC 7677: user "user", password "pencil".
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_FIRST_BARE = "n=user,r=rOprNGfwEbeRWgbNEkqO"
NONCE = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SERVER_FIRST = f"r={NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
CLIENT_FINAL_NO_PROOF = f"c=biws,r={NONCE}"
PROOF = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SERVER_SIGNATURE = base64.b64decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


def _keys(stored: str) -> tuple[bytes, bytes]:
    stored_key, server_key = stored.rsplit("$", 1)[1].split(":")
    return base64.b64decode(stored_key), base64.b64decode(server_key)


def test_verifier_authenticates_the_rfc_7677_exchange() -> None:
    """What a server holding only our verifier does: check the client's proof, sign back."""
    stored = scram.verifier("pencil", SALT)
    assert stored.startswith("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$")
    stored_key, server_key = _keys(stored)
    auth_message = f"{CLIENT_FIRST_BARE},{SERVER_FIRST},{CLIENT_FINAL_NO_PROOF}".encode()
    client_signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    client_key = bytes(a ^ b for a, b in zip(PROOF, client_signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key
    assert hmac.new(server_key, auth_message, hashlib.sha256).digest() == SERVER_SIGNATURE


def test_a_wrong_password_gives_other_keys() -> None:
    assert _keys(scram.verifier("pencil", SALT)) != _keys(scram.verifier("pencil2", SALT))


def test_fresh_salt_each_time_and_matches() -> None:
    one, two = scram.verifier("s3cret-pw"), scram.verifier("s3cret-pw")
    assert one != two
    salt = base64.b64decode(one.split("$")[1].split(":")[1])
    assert len(salt) == scram.SALT_BYTES
    assert scram.matches("s3cret-pw", one) and scram.matches("s3cret-pw", two)
    assert not scram.matches("s3cret-px", one)
    assert not scram.matches("s3cret-pw", "md5abcdef")


@pytest.mark.parametrize("password", ["", "pässword", "tab\there"])
def test_passwords_saslprep_might_change_are_refused(password: str) -> None:
    with pytest.raises(ValueError):
        scram.verifier(password)
