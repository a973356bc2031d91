"""The command line: db upgrade/current, and the server refusing a schema it does not serve."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from runyard.cli import main
from runyard.store.migrate import HEAD
from tests.servers import free_port, server_once


def test_db_upgrade_then_current(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["db", "current", uri]).output.strip() == "(not initialised)"
    result = runner.invoke(main, ["db", "upgrade", uri])
    assert result.exit_code == 0, result.output
    assert HEAD in result.output
    assert runner.invoke(main, ["db", "current", uri]).output.strip() == HEAD


def test_server_refuses_unknown_schema_and_says_what_to_run(tmp_path: Path) -> None:
    db = tmp_path / "odd.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('0123456789ab')")
        conn.execute("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY)")
    proc = server_once(db, tmp_path)
    assert proc.returncode == 1
    assert "unknown schema revision 0123456789ab" in proc.stderr
    assert "db upgrade" in proc.stderr


def test_bad_setting_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["server", "--port", "0"])
    assert result.exit_code == 2
    assert "port" in result.output


def test_server_starts_on_default_sqlite_quickly(tmp_path: Path) -> None:
    """A fresh directory: the embedded default database is created and served in under 2 s."""
    port = free_port()
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "runyard", "server", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        import httpx

        while time.monotonic() - start < 30:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).text == "OK":
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        elapsed = time.monotonic() - start
        assert (tmp_path / "runyard-data" / "runyard.db").exists()
        version = httpx.get(f"http://127.0.0.1:{port}/version").text
        assert version.count(".") == 2
    finally:
        proc.terminate()
        proc.wait(15)
    # Timings are reported, not asserted (the machine is shared); see docs/benchmarks.md.
    print(f"startup to healthy: {elapsed:.2f}s")


def test_server_refuses_a_public_address_without_auth(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'x.db'}"
    args = ["server", "--backend-store-uri", uri, "--host", "0.0.0.0", "--port", "1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert "without authentication" in result.output
    assert "--insecure-no-auth" in result.output
    assert not (tmp_path / "x.db").exists()  # refused before touching anything
