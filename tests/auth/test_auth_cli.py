"""`runyard users|tokens|permissions`: the lifecycle, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import sqlalchemy as sa

from runyard.settings import normalize_db_uri
from tests.auth.conftest import cli, ok


def _rows(uri: str, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(normalize_db_uri(uri))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def test_user_lifecycle(db_uri: str, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("first-password\n")
    out = ok(cli(db_uri, "users", "create", "root", "--admin", "--password-file", str(secret)))
    assert out.strip() == "Created administrator root."
    ok(cli(db_uri, "users", "create", "dana", password="dana-password"))

    listing = ok(cli(db_uri, "users", "list")).splitlines()
    assert [line.split("\t")[:2] for line in listing] == [["dana", "user"], ["root", "admin"]]

    hashes = dict(_rows(db_uri, "SELECT username, password_hash FROM runyard_users"))
    assert str(hashes["dana"]).startswith("$argon2id$")
    assert "dana-password" not in str(hashes["dana"])

    again = cli(db_uri, "users", "create", "dana", password="another-password")
    assert again.exit_code == 1
    assert "User 'dana' already exists." in again.output

    ok(cli(db_uri, "users", "set-password", "dana", password="changed-password"))
    after = dict(_rows(db_uri, "SELECT username, password_hash FROM runyard_users"))
    assert after["dana"] != hashes["dana"] and after["root"] == hashes["root"]

    ok(cli(db_uri, "users", "delete", "dana"))
    assert [r[0] for r in _rows(db_uri, "SELECT username FROM runyard_users")] == ["root"]
    missing = cli(db_uri, "users", "delete", "dana")
    assert missing.exit_code == 1 and "dana not found" in missing.output


def test_passwords_are_checked_and_never_arguments(db_uri: str) -> None:
    short = cli(db_uri, "users", "create", "eve", password="short")
    assert short.exit_code == 1 and "8 to 1024 characters" in short.output
    bad_name = cli(db_uri, "users", "create", "e:ve", password="long-enough-pw")
    assert bad_name.exit_code == 1 and "Invalid username" in bad_name.output
    positional = cli(db_uri, "users", "create", "eve", "long-enough-pw")
    assert positional.exit_code == 2  # no such argument: a password is never on the command line


def test_password_prompt(db_uri: str) -> None:
    from click.testing import CliRunner

    from runyard.cli import main

    result = CliRunner().invoke(
        main,
        ["users", "create", "fay", "--backend-store-uri", db_uri],
        input="typed-password\ntyped-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "typed-password" not in result.output


def test_token_lifecycle(db_uri: str) -> None:
    ok(cli(db_uri, "users", "create", "gus", password="gus-password"))
    result = cli(db_uri, "tokens", "create", "gus", "--name", "ci")
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert re.fullmatch(r"ryd_[A-Za-z0-9_-]{43}", token), token

    stored = _rows(db_uri, "SELECT name, sha256 FROM runyard_tokens")
    assert stored == [("ci", hashlib.sha256(token.encode()).hexdigest())]

    listing = ok(cli(db_uri, "tokens", "list")).splitlines()
    assert len(listing) == 1
    token_id, user, name = listing[0].split("\t")[:3]
    assert (user, name) == ("gus", "ci")
    assert token not in "".join(listing)

    ok(cli(db_uri, "tokens", "create", "gus"))
    assert len(ok(cli(db_uri, "tokens", "list", "gus")).splitlines()) == 2
    ok(cli(db_uri, "tokens", "revoke", token_id))
    assert len(ok(cli(db_uri, "tokens", "list")).splitlines()) == 1
    gone = cli(db_uri, "tokens", "revoke", token_id)
    assert gone.exit_code == 1 and f"No token with id {token_id}" in gone.output
    nobody = cli(db_uri, "tokens", "create", "nobody")
    assert nobody.exit_code == 1 and "nobody not found" in nobody.output

    ok(cli(db_uri, "users", "delete", "gus"))  # takes the user's tokens along
    assert _rows(db_uri, "SELECT count(*) FROM runyard_tokens") == [(0,)]


def test_permission_lifecycle(db_uri: str) -> None:
    ok(cli(db_uri, "users", "create", "hal", password="hal-password"))
    assert ok(cli(db_uri, "permissions", "grant", "0", "hal", "read")).strip() == (
        "hal has READ on experiment 0."
    )
    ok(cli(db_uri, "permissions", "grant", "0", "hal", "EDIT"))  # replaces the grant
    assert ok(cli(db_uri, "permissions", "list")).splitlines() == ["0\thal\tEDIT"]
    assert ok(cli(db_uri, "permissions", "list", "--username", "nobody")) == ""
    no_experiment = cli(db_uri, "permissions", "grant", "42", "hal", "READ")
    assert no_experiment.exit_code == 1 and "No Experiment with id=42" in no_experiment.output
    bad_level = cli(db_uri, "permissions", "grant", "0", "hal", "OWNER")
    assert bad_level.exit_code == 2
    ok(cli(db_uri, "permissions", "revoke", "0", "hal"))
    assert ok(cli(db_uri, "permissions", "list")) == ""
    twice = cli(db_uri, "permissions", "revoke", "0", "hal")
    assert twice.exit_code == 1 and "not found" in twice.output


def test_mlflow_still_opens_the_database(db_uri: str, tmp_path: Path) -> None:
    """Our tables sit beside MLflow's at its alembic head; no revision of our own."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from runyard.store.migrate import HEAD

    ok(cli(db_uri, "users", "create", "ivy", password="ivy-password"))
    assert _rows(db_uri, "SELECT version_num FROM alembic_version") == [(HEAD,)]
    engine = sa.create_engine(normalize_db_uri(db_uri))
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"runyard_users", "runyard_tokens", "runyard_experiment_permissions"} <= tables
    store = SqlAlchemyStore(normalize_db_uri(db_uri), str(tmp_path / "mlartifacts"))
    try:
        assert store.get_experiment("0").name == "Default"
    finally:
        store.engine.dispose()
