"""`runyard setup postgres` on real PostgreSQL: role, database and grants; a 0600 secret whose
URI logs in (with SCRAM where the server demands it); re-runs change nothing; clear errors; and
no plaintext password in the server's statement log."""

from __future__ import annotations

import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest
from click.testing import CliRunner, Result

from runyard.cli import main
from runyard.deploy import scram
from tests.deploy.pgcluster import ScramCluster, ServerLog
from tests.servers import PG_ADMIN_URL, free_port, pg_admin, pg_available, skip_or_fail


@pytest.fixture
def names() -> Iterator[str]:
    """A unique name for the role and database; both are dropped afterwards."""
    if not pg_available():
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"ry_setup_{uuid.uuid4().hex[:10]}"
    yield name
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    pg_admin(f'DROP ROLE IF EXISTS "{name}"')


def _admin_file(tmp_path: Path, url: str = PG_ADMIN_URL) -> Path:
    path = tmp_path / "admin-url"
    path.write_text(url + "\n")
    path.chmod(0o600)
    return path


def _setup(tmp_path: Path, name: str, *extra: str, admin: str = PG_ADMIN_URL) -> Result:
    return CliRunner().invoke(
        main,
        [
            "setup",
            "postgres",
            "--admin-url-file",
            str(_admin_file(tmp_path, admin)),
            "--role",
            name,
            "--database",
            name,
            "--secret-file",
            str(tmp_path / "runyard.env"),
            *extra,
        ],  # fmt: skip
    )


def _secret_uri(path: Path) -> str:
    text = path.read_text()
    assert text.startswith("RUNYARD_BACKEND_STORE_URI=postgresql://")
    assert text.count("\n") == 1
    return text.strip().split("=", 1)[1]


def _password(uri: str) -> str:
    password = urlsplit(uri).password
    assert password
    return unquote(password)


def _stored_verifier(role: str) -> str:
    with psycopg.connect(PG_ADMIN_URL) as conn:
        row = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", [role]
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_creates_role_database_grants_and_a_private_secret(tmp_path: Path, names: str) -> None:
    result = _setup(tmp_path, names)
    assert result.exit_code == 0, result.output
    assert f"Role {names}: created." in result.output
    assert "runyard db upgrade" in result.output and "runyard deploy systemd" in result.output

    secret = tmp_path / "runyard.env"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    uri = _secret_uri(secret)
    assert uri.endswith(f"@127.0.0.1:5432/{names}")
    password = _password(uri)
    assert password not in result.output
    stored = _stored_verifier(names)
    assert stored.startswith("SCRAM-SHA-256$4096:")
    assert scram.matches(password, stored)

    with psycopg.connect(uri, autocommit=True) as conn:  # the role owns what it creates
        assert conn.execute("SELECT current_user").fetchone() == (names,)
        conn.execute("CREATE TABLE probe (id int)")
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'probe'")
        assert owner.fetchone() == (names,)
    with psycopg.connect(PG_ADMIN_URL) as conn:
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [names]
        ).fetchone()
        assert owner == (names,)
        attributes = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles"
            " WHERE rolname = %s",
            [names],
        ).fetchone()
        assert attributes == (True, False, False, False)
        public = conn.execute(
            "SELECT has_database_privilege('public', %s, 'CONNECT'),"
            " has_database_privilege('public', %s, 'TEMPORARY')",
            [names, names],
        ).fetchone()
        assert public == (False, False)


def test_other_roles_cannot_connect(tmp_path: Path, names: str) -> None:
    assert _setup(tmp_path, names).exit_code == 0
    outsider = names + "_x"
    pg_admin(f'CREATE ROLE "{outsider}" LOGIN')
    try:
        url = PG_ADMIN_URL.replace("postgres@", f"{outsider}@").rsplit("/", 1)[0] + "/" + names
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(url).close()
    finally:
        pg_admin(f'DROP ROLE "{outsider}"')


def test_rerun_changes_nothing_and_rotation_changes_the_password(
    tmp_path: Path, names: str
) -> None:
    assert _setup(tmp_path, names).exit_code == 0
    secret = tmp_path / "runyard.env"
    before = (secret.read_text(), secret.stat().st_ino, _stored_verifier(names))

    again = _setup(tmp_path, names)
    assert again.exit_code == 0, again.output
    assert f"Role {names}: exists, kept." in again.output
    assert f"Database {names} (owner {names}): exists, kept." in again.output
    assert "(mode 0600): exists, kept." in again.output
    assert (secret.read_text(), secret.stat().st_ino, _stored_verifier(names)) == before

    rotated = _setup(tmp_path, names, "--rotate-password")
    assert rotated.exit_code == 0, rotated.output
    assert f"Role {names}: password rotated." in rotated.output
    new_password = _password(_secret_uri(secret))
    assert new_password != _password(_secret_uri_from(before[0]))
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert scram.matches(new_password, _stored_verifier(names))
    assert not scram.matches(_password(_secret_uri_from(before[0])), _stored_verifier(names))


def _secret_uri_from(text: str) -> str:
    return text.strip().split("=", 1)[1]


def test_existing_role_without_its_secret_needs_rotation(tmp_path: Path, names: str) -> None:
    assert _setup(tmp_path, names).exit_code == 0
    (tmp_path / "runyard.env").unlink()
    result = _setup(tmp_path, names)
    assert result.exit_code == 1
    assert f"role {names} exists but" in result.output
    assert "--rotate-password" in result.output
    assert "Traceback" not in result.output


def test_a_secret_that_is_not_the_roles_password_is_caught(tmp_path: Path, names: str) -> None:
    assert _setup(tmp_path, names).exit_code == 0
    secret = tmp_path / "runyard.env"
    uri = _secret_uri(secret)
    secret.write_text(f"RUNYARD_BACKEND_STORE_URI={uri.replace(_password(uri), 'other-pw')}\n")
    result = _setup(tmp_path, names)
    assert result.exit_code == 1, result.output
    assert "is not role" in result.output and "--rotate-password" in result.output


def test_admin_without_privileges_gets_a_clear_message(tmp_path: Path, names: str) -> None:
    weak = names + "_weak"
    pg_admin(f'CREATE ROLE "{weak}" LOGIN')  # neither CREATEROLE nor CREATEDB
    try:
        admin = PG_ADMIN_URL.replace("postgres@", f"{weak}@")
        result = _setup(tmp_path, names, admin=admin)
    finally:
        pg_admin(f'DROP ROLE "{weak}"')
    assert result.exit_code == 1
    assert "may not create or alter the role: it needs SUPERUSER or CREATEROLE" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "runyard.env").exists()


def test_unreachable_admin_connection_is_reported(tmp_path: Path, names: str) -> None:
    result = _setup(
        tmp_path, names, admin=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    )
    assert result.exit_code == 1
    assert "cannot connect to PostgreSQL through the given admin URL" in result.output
    assert "Traceback" not in result.output


def test_admin_url_from_a_named_environment_variable(tmp_path: Path, names: str) -> None:
    result = CliRunner(env={"RY_ADMIN": PG_ADMIN_URL}).invoke(
        main,
        [
            "setup",
            "postgres",
            "--admin-url-env",
            "RY_ADMIN",
            "--role",
            names,
            "--database",
            names,
            "--secret-file",
            str(tmp_path / "uri"),
            "--secret-format",
            "uri",
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    uri = (tmp_path / "uri").read_text().strip()
    assert uri.startswith(f"postgresql://{names}:")
    assert "RUNYARD_BACKEND_STORE_URI_FILE=" in result.output
    missing = CliRunner(env={"RY_ADMIN": None}).invoke(
        main, ["setup", "postgres", "--admin-url-env", "RY_ADMIN"]
    )
    assert missing.exit_code == 2
    assert "RY_ADMIN is not set" in missing.output


def test_no_plaintext_password_in_the_statement_log(tmp_path: Path, names: str) -> None:
    log = ServerLog(PG_ADMIN_URL)
    # The admin session logs every statement it runs, as a careful DBA's server might.
    admin = PG_ADMIN_URL + "?options=-c%20log_statement%3Dall"
    result = _setup(tmp_path, names, admin=admin)
    assert result.exit_code == 0, result.output
    password = _password(_secret_uri(tmp_path / "runyard.env"))
    logged = log.appended()
    assert f'CREATE ROLE "{names}" LOGIN PASSWORD \'SCRAM-SHA-256$4096:' in logged
    assert f'CREATE DATABASE "{names}"' in logged
    assert password not in logged


@pytest.fixture(scope="module")
def scram_cluster() -> Iterator[ScramCluster]:
    cluster = ScramCluster()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_the_secret_logs_in_with_scram(tmp_path: Path, scram_cluster: ScramCluster) -> None:
    result = _setup(
        tmp_path, "runyard", "--port", str(scram_cluster.port), admin=scram_cluster.admin_url
    )
    assert result.exit_code == 0, result.output  # setup itself logs in with the new URI
    uri = _secret_uri(tmp_path / "runyard.env")
    with psycopg.connect(uri) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("runyard",)
    wrong = uri.replace(_password(uri), "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong).close()
