"""Real servers for the artifact contract suite: OpenSSH's sshd and an S3-compatible server.

Each listens on a free 127.0.0.1 port with its own config, keys and data under a temporary
directory, and is stopped when the test session ends.
"""

from __future__ import annotations

import contextlib
import getpass
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TypeVar

import httpx

from tests.servers import free_port, skip_or_fail

T = TypeVar("T")

SSHD = Path("/usr/sbin/sshd")  # sshd must be started by absolute path (it re-executes itself)


def _wait_for_port(
    port: int, proc: subprocess.Popen[bytes], log: Path, banner: bytes = b""
) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                if not banner or conn.recv(64).startswith(banner):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server did not come up on port {port}:\n{log.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc (sshd forks one process per connection)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "runyard-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path.with_suffix(".pub").read_text().strip()


class Sshd:
    """``sshd -D -e`` with a generated host key, client key and known_hosts file."""

    @staticmethod
    def missing() -> str | None:
        if not SSHD.exists():
            return "OpenSSH sshd is not installed (/usr/sbin/sshd; scripts/services installs it)"
        if shutil.which("ssh-keygen") is None:
            return "ssh-keygen is not installed"
        return None

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.port = free_port()
        self.user = getpass.getuser()
        self.root = workdir / "files"
        self.root.mkdir()
        host_pub = _keygen(workdir / "host_ed25519")
        self.key_file = workdir / "client_ed25519"
        (workdir / "authorized_keys").write_text(_keygen(self.key_file) + "\n")
        self.known_hosts = workdir / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_pub}\n")
        self.config = workdir / "sshd_config"
        self.config.write_text(
            f"ListenAddress 127.0.0.1\n"
            f"Port {self.port}\n"
            f"HostKey {workdir / 'host_ed25519'}\n"
            f"PidFile {workdir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {workdir / 'authorized_keys'}\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "PermitRootLogin prohibit-password\n"
            f"AllowUsers {self.user}\n"
            "MaxSessions 20\n"
            "MaxStartups 50\n"
            "Subsystem sftp internal-sftp\n"
        )
        self.log = workdir / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def uri(self, subdir: str) -> str:
        return f"sftp://{self.user}@127.0.0.1:{self.port}{self.root / subdir}"

    def start(self) -> None:
        if not Path("/run/sshd").is_dir() and os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755)  # sshd's privilege-separation directory
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        _wait_for_port(self.port, self.proc, self.log, banner=b"SSH-")

    def stop(self) -> None:
        """Stop the listener and every connection it serves (clients see them drop)."""
        if self.proc is None:
            return
        for child in _children(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        _stop(self.proc)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class MotoS3:
    """moto's S3 server, in its own process: S3's semantics, offline, nothing to configure.

    (``rclone serve s3`` was tried first; it maps keys onto directories, so an aborted upload
    or deleted tree leaves an empty "directory" listed and a part cannot be sent twice.)
    """

    BUCKET = "runyard-test"

    @staticmethod
    def missing() -> str | None:
        if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
            return "moto[server] is not installed (the dev extra provides it)"
        return None

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "moto.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
            )
        _wait_for_port(self.port, self.proc, self.log)
        # Any bucket request creates it (moto checks no signatures).
        httpx.put(f"{self.endpoint_url}/{self.BUCKET}", timeout=30).raise_for_status()

    def options(self) -> dict[str, str]:
        return {
            "endpoint_url": self.endpoint_url,
            "region": "us-east-1",
            "access_key_id": "runyard-test",
            "secret_access_key": "runyard-test-secret",
        }

    def stop(self) -> None:
        _stop(self.proc)


def need(server: T | str) -> T:
    """The server a session fixture started, or skip (fail in CI) with why there is none."""
    if isinstance(server, str):
        skip_or_fail(server)
    assert not isinstance(server, str)
    return server


def destination_args(
    dest: str, sshd: Sshd | str, s3: MotoS3 | str, name: str
) -> tuple[tuple[str, ...], dict[str, str]]:
    """``runyard server`` arguments and environment that put artifacts on ``dest`` ("local",
    "sftp" or "s3"), under ``name`` on the remote ones."""
    if dest == "sftp":
        server = need(sshd)
        args = (
            "--artifacts-destination", server.uri(name),
            "--artifacts-sftp-key-file", str(server.key_file),
            "--artifacts-sftp-known-hosts", str(server.known_hosts),
        )  # fmt: skip
        return args, {}
    if dest == "s3":
        options = need(s3).options()
        args = (
            "--artifacts-destination", f"s3://{MotoS3.BUCKET}/{name}",
            "--artifacts-s3-endpoint-url", options["endpoint_url"],
            "--artifacts-s3-region", options["region"],
        )  # fmt: skip
        env = {
            "AWS_ACCESS_KEY_ID": options["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": options["secret_access_key"],
        }
        return args, env
    return (), {}
