"""`runyard doctor`: a healthy setup passes; each broken piece fails with what to fix."""

from __future__ import annotations

import ctypes
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runyard.cli import main
from runyard.store.migrate import HEAD
from tests.servers import free_port


def _doctor(*args: str) -> Result:
    # An empty environment for the settings, as a clean service would have.
    env = {k: None for k in os.environ if k.startswith("RUNYARD_")}
    return CliRunner(env=env).invoke(main, ["doctor", *args])


def _lines(result: Result) -> dict[str, str]:
    """check name -> its line."""
    found = {}
    for line in result.output.splitlines():
        name = line[7:].split(":", 1)[0]
        found[name] = line
    return found


def _upgraded_sqlite(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path / 'runyard.db'}"
    assert CliRunner().invoke(main, ["db", "upgrade", uri]).exit_code == 0
    return uri


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_healthy_setup_passes(tmp_path: Path, backend: str, make_pg_db: Callable[[], str]) -> None:
    if backend == "postgresql":
        uri = make_pg_db()
        assert CliRunner().invoke(main, ["db", "upgrade", uri]).exit_code == 0
    else:
        uri = _upgraded_sqlite(tmp_path)
    artifacts = tmp_path / "artifacts"
    config = tmp_path / "runyard.toml"
    config.write_text(f'[server]\nartifacts_destination = "{artifacts}"\n')
    result = _doctor("--config", str(config), "--backend-store-uri", uri)
    assert result.exit_code == 0, result.output
    lines = _lines(result)
    assert set(lines) == {"config", "database", "artifacts", "auth", "listen"}
    assert all(line.startswith("[ ok ]") for line in lines.values()), result.output
    assert f"schema at revision {HEAD}" in lines["database"]
    assert artifacts.as_uri() in lines["artifacts"]
    assert list(artifacts.iterdir()) == []  # the probe object is gone


def test_unreachable_database_fails(tmp_path: Path) -> None:
    uri = f"postgresql://runyard:secret-pw@127.0.0.1:{free_port()}/runyard"
    result = _doctor("--backend-store-uri", uri, "--artifacts-destination", str(tmp_path))
    assert result.exit_code == 1
    line = _lines(result)["database"]
    assert line.startswith("[FAIL] database: cannot connect to postgresql+psycopg://runyard:***@")
    assert "secret-pw" not in result.output
    assert "check backend_store_uri" in line


def test_missing_sqlite_file_fails_and_is_not_created(tmp_path: Path) -> None:
    db = tmp_path / "nothing.db"
    result = _doctor(
        "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", str(tmp_path)
    )
    assert result.exit_code == 1
    assert "does not exist; run `runyard db upgrade`" in _lines(result)["database"]
    assert not db.exists()


@pytest.mark.parametrize(
    ("revision", "message"),
    [
        (None, "is not initialised; run `runyard db upgrade"),
        ("c48cb773bb87", "from an MLflow older than 3.17.2"),
        ("0123456789ab", "unknown schema revision 0123456789ab"),
    ],
    ids=["empty", "older-mlflow", "foreign"],
)
def test_schema_not_at_head_fails(tmp_path: Path, revision: str | None, message: str) -> None:
    db = tmp_path / "odd.db"
    with sqlite3.connect(db) as conn:
        if revision is not None:
            conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            conn.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
            conn.execute("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY)")
    result = _doctor(
        "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", str(tmp_path)
    )
    assert result.exit_code == 1
    line = _lines(result)["database"]
    assert line.startswith("[FAIL] database:")
    assert message in line


CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, PR_CAPBSET_DROP = 1, 2, 3, 24


def _without_dac_override() -> None:
    """Root writes anywhere through CAP_DAC_OVERRIDE; drop it (for the exec'd child) so the
    directory's mode applies to root as to the service user."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")


def test_unwritable_artifact_directory_fails(tmp_path: Path) -> None:
    uri = _upgraded_sqlite(tmp_path)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir(mode=0o555)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNYARD_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "runyard",
            "doctor",
            "--backend-store-uri",
            uri,
            "--artifacts-destination",
            str(artifacts),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        preexec_fn=_without_dac_override if os.geteuid() == 0 else None,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if " artifacts:" in x)
    assert line.startswith(f"[FAIL] artifacts: cannot write a probe object in {artifacts.as_uri()}")
    assert "Permission denied" in line
    assert "writable by the server's user" in line
    assert "[ ok ] database:" in done.stdout  # the other checks still ran


def test_public_address_without_auth_fails(tmp_path: Path) -> None:
    uri = _upgraded_sqlite(tmp_path)
    common = ["--backend-store-uri", uri, "--artifacts-destination", str(tmp_path / "a")]
    result = _doctor(*common, "--host", "0.0.0.0")
    assert result.exit_code == 1
    line = _lines(result)["listen"]
    assert line.startswith("[FAIL] listen: 0.0.0.0:5000: refusing to listen on 0.0.0.0")
    assert "settings.check_exposure" in line
    allowed = _doctor(*common, "--host", "0.0.0.0", "--insecure-no-auth")
    assert allowed.exit_code == 0, allowed.output
    assert "something else must protect it" in _lines(allowed)["listen"]


def test_auth_on_needs_an_administrator(tmp_path: Path) -> None:
    uri = _upgraded_sqlite(tmp_path)
    common = ["--backend-store-uri", uri, "--artifacts-destination", str(tmp_path / "a")]
    result = _doctor(*common, "--auth")
    assert result.exit_code == 1, result.output
    line = _lines(result)["auth admins"]
    assert line.startswith("[FAIL] auth admins: no administrator yet")
    assert "runyard users create NAME --admin" in line
    assert _lines(result)["listen"] == "[ ok ] listen: 127.0.0.1:5000, with auth on"

    password = tmp_path / "pw"
    password.write_text("a-long-enough-password-1\n")
    created = CliRunner().invoke(
        main,
        ["users", "create", "alice", "--admin", "--password-file", str(password),
         "--backend-store-uri", uri],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    result = _doctor(*common, "--auth")
    assert result.exit_code == 0, result.output
    assert _lines(result)["auth admins"] == "[ ok ] auth admins: 1 administrator(s)"


def test_auth_admins_are_not_counted_on_a_broken_database(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    result = _doctor(
        "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", str(tmp_path), "--auth"
    )
    assert result.exit_code == 1
    assert _lines(result)["auth admins"].startswith("[ ?? ] auth admins: not counted")
    with sqlite3.connect(db) as conn:  # doctor created nothing in it
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_unreadable_configuration_fails_first(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("colour = 'red'\n")
    result = _doctor("--config", str(config))
    assert result.exit_code == 1
    assert result.output.startswith("[FAIL] config: unknown settings in")
    assert "database" not in result.output
