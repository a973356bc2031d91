"""A hardened systemd unit for ``runyard server``, and its installation.

The unit lets the server see as little of the machine as it needs: a read-only file system
except its data directories, no devices, no home directories, no capabilities, no new
privileges, a system-call allow-list and only the socket families a TCP server and PostgreSQL's
local socket use. ``systemd-analyze security`` rates it (docs/deploying.md has the score).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runyard import __version__
from runyard.settings import ENV_PREFIX, setting_names

UNIT_DIR = Path("/etc/systemd/system")
STATE_DIR = Path("/var/lib/runyard")  # the data directory when none is given (StateDirectory=)
STOP_MARGIN_S = 15  # beyond the server's own shutdown timeout, before systemd kills
# Paths systemd cannot show the service behind ProtectHome=yes.
_HOME_TREES = (Path("/home"), Path("/root"), Path("/run/user"))
_UNSAFE_IN_PATH = re.compile(r"[\s\"'\\;%$]")


class UnitError(Exception):
    """The unit cannot be rendered or installed; the message says why."""


@dataclass(frozen=True)
class UnitSpec:
    exec_path: Path
    user: str = "runyard"
    config: Path | None = None
    data_dirs: tuple[Path, ...] = ()
    env_files: tuple[Path, ...] = ()
    credentials: tuple[tuple[str, Path], ...] = ()  # (setting name, file)
    shutdown_timeout: int = 30


def parse_credential(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` for ``--credential``; NAME is a setting (``backend_store_uri``)."""
    name, sep, path = text.partition("=")
    name = name.strip().lower()
    if not sep or not path:
        raise UnitError(f"--credential {text!r}: expected NAME=PATH, e.g. backend_store_uri=PATH")
    if name not in setting_names():
        raise UnitError(f"--credential {text!r}: {name} is not a runyard setting")
    return name, Path(path)


def render(spec: UnitSpec) -> str:
    """The unit file's text."""
    for path in _all_paths(spec):
        _check_path(path)
    data_dirs = spec.data_dirs or (STATE_DIR,)
    service = [
        "Type=notify",  # the server says READY=1 once it listens
        "NotifyAccess=main",
        f"ExecStart={_command(spec)}",
        f"User={spec.user}",
        f"Group={spec.user}",
        f"WorkingDirectory={data_dirs[0]}",
    ]
    if not spec.data_dirs:  # systemd creates it, owned by the user, and makes it writable
        service += [f"StateDirectory={STATE_DIR.name}", "StateDirectoryMode=0700"]
    service.append(f"Environment={ENV_PREFIX}LOG_FORMAT=json")
    service += [f"EnvironmentFile={path}" for path in spec.env_files]
    for name, path in spec.credentials:
        # The file is copied to a private directory only the service can read; the setting
        # is read from there (RUNYARD_<NAME>_FILE), so the secret is in no environment.
        service.append(f"LoadCredential={name}:{path}")
        service.append(f"Environment={ENV_PREFIX}{name.upper()}_FILE=%d/{name}")
    service += [
        "Restart=on-failure",
        "RestartSec=5s",
        "TimeoutStartSec=120s",
        f"TimeoutStopSec={spec.shutdown_timeout + STOP_MARGIN_S}s",
        # SIGTERM to the main process only: it drains and stops its workers itself; whatever
        # is left when TimeoutStopSec runs out gets SIGKILL.
        "KillMode=mixed",
        "KillSignal=SIGTERM",
        "StandardOutput=journal",
        "StandardError=journal",
        "SyslogIdentifier=runyard",
        # File descriptors, per process (each worker is one): far more than the default
        # max_connections (1000, two descriptors each) plus the database pool need, so the
        # connection limit answers 503s before accept() could fail for want of one.
        "LimitNOFILE=65536",
    ]
    return "\n".join(
        [
            f"# Written by `runyard deploy systemd` (runyard {__version__}).",
            "[Unit]",
            "Description=runyard experiment-tracking server",
            "Wants=network-online.target",
            "After=network-online.target postgresql.service",
            "",
            "[Service]",
            *service,
            "",
            "# Sandbox: what the server may see and do (systemd.exec(5)).",
            *_hardening(spec, data_dirs),
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ]
    )


def _hardening(spec: UnitSpec, data_dirs: Sequence[Path]) -> list[str]:
    writable = [] if not spec.data_dirs else [f"ReadWritePaths={' '.join(map(str, data_dirs))}"]
    # A venv, config or data directory under /home stays reachable, read-only.
    in_home = any(_is_under(p, _HOME_TREES) for p in _all_paths(spec))
    return [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        *writable,
        "PrivateTmp=yes",
        f"ProtectHome={'read-only' if in_home else 'yes'}",
        "PrivateDevices=yes",
        "DevicePolicy=closed",
        "PrivateMounts=yes",
        "PrivateUsers=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "ProtectProc=invisible",
        "ProcSubset=pid",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "RestrictNamespaces=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "MemoryDenyWriteExecute=yes",  # CPython, uvloop and psycopg map no W+X pages
        "RemoveIPC=yes",
        "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service",
        "SystemCallFilter=~@privileged @resources",
        "SystemCallErrorNumber=EPERM",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "UMask=0077",
    ]


def _command(spec: UnitSpec) -> str:
    words = [str(spec.exec_path), "server"]
    if spec.config is not None:
        words += ["--config", str(spec.config)]
    return " ".join(words)


def _all_paths(spec: UnitSpec) -> list[Path]:
    paths = [spec.exec_path, *spec.data_dirs, *spec.env_files]
    paths += [path for _, path in spec.credentials]
    return paths + ([spec.config] if spec.config is not None else [])


def _check_path(path: Path) -> None:
    if not path.is_absolute():
        raise UnitError(f"{path}: the unit needs absolute paths")
    if _UNSAFE_IN_PATH.search(str(path)):
        # systemd would split, unquote or expand these; refuse rather than mis-render.
        raise UnitError(
            f"{path}: a path with spaces, quotes, '\\', ';', '%' or '$' is not supported"
        )


def _is_under(path: Path, trees: Sequence[Path]) -> bool:
    return any(path == tree or tree in path.parents for tree in trees)


def systemd_is_running() -> bool:
    """True where systemd is PID 1 (sd_booted(3): it creates this directory at boot)."""
    return Path("/run/systemd/system").is_dir()


def install(unit_text: str, name: str = "runyard") -> Path:
    """Write the unit to /etc/systemd/system, reload systemd and enable it (not start it)."""
    if not systemd_is_running():
        raise UnitError(
            "systemd is not running as PID 1 here (no /run/systemd/system), so there is "
            "nothing to install into; write the unit with --output and copy it to a host "
            "that runs systemd"
        )
    target = UNIT_DIR / f"{name}.service"
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        temporary.write_text(unit_text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except OSError as exc:
        raise UnitError(f"cannot write {target}: {exc.strerror or exc} (run as root)") from exc
    for command in (["systemctl", "daemon-reload"], ["systemctl", "enable", target.name]):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise UnitError(f"`{' '.join(command)}` failed: {done.stderr.strip()}")
    return target
