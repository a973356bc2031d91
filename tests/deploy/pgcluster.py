"""PostgreSQL helpers for the setup tests: the server's log, and a private cluster whose TCP
connections must authenticate with SCRAM (the shared test server trusts 127.0.0.1)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from tests.servers import free_port, skip_or_fail


class ServerLog:
    """What the server logs from now on, read through SQL (superuser: ``pg_read_binary_file``).

    The file is ``pg_current_logfile()`` (relative to ``data_directory`` when the logging
    collector writes ``log_directory``); without the collector the server logs to its standard
    error, which the postmaster's ``/proc/<pid>/fd/2`` names (Debian points it at a file).
    """

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        with psycopg.connect(admin_url, autocommit=True) as conn:
            self.path = self._locate(conn)
            self.start = self._size(conn)

    @staticmethod
    def _locate(conn: psycopg.Connection[Any]) -> str:
        current = conn.execute("SELECT pg_current_logfile()").fetchone()
        if current is not None and current[0]:
            return str(current[0])  # relative paths resolve in the data directory
        pid_file = conn.execute("SELECT pg_read_file('postmaster.pid')").fetchone()
        assert pid_file is not None
        return f"/proc/{pid_file[0].split()[0]}/fd/2"

    def _size(self, conn: psycopg.Connection[Any]) -> int:
        try:
            row = conn.execute("SELECT size FROM pg_stat_file(%s)", [self.path]).fetchone()
        except psycopg.Error as exc:
            skip_or_fail(f"cannot read PostgreSQL's log at {self.path}: {exc}")
        assert row is not None
        if row[0] == 0 and self.path.startswith("/proc/"):
            skip_or_fail(f"PostgreSQL logs to {self.path}, which is not a file (a pipe?)")
        return int(row[0])

    def appended(self) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            end = self._size(conn)
            row = conn.execute(
                "SELECT pg_read_binary_file(%s, %s, %s)", [self.path, self.start, end - self.start]
            ).fetchone()
        assert row is not None
        return bytes(row[0]).decode("utf-8", "replace")


def _pg_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl and (Path(pg_ctl).resolve().parent / name).exists():
        return str(Path(pg_ctl).resolve().parent / name)
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class ScramCluster:
    """A throwaway cluster on a free loopback port: trust on its socket (the admin), SCRAM on
    TCP (every runyard login). Run as the ``postgres`` user when the tests run as root."""

    def __init__(self) -> None:
        initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
        if initdb is None or pg_ctl is None:
            skip_or_fail("initdb/pg_ctl not found (Debian package postgresql)")
        assert initdb is not None and pg_ctl is not None
        self.pg_ctl = pg_ctl
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="runyard-scram-"))
        self.data = self.root / "data"
        self.account: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self.account = pwd.getpwnam("postgres")
            os.chown(self.root, self.account.pw_uid, self.account.pw_gid)
        self._run(
            initdb, "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
            "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "server.log")
        self._run(pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def _run(self, *command: str) -> None:
        account = self.account
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stdout}{done.stderr}")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.root}&port={self.port}"

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
