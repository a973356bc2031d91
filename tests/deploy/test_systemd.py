"""`runyard deploy systemd`: the unit passes `systemd-analyze verify` without a word, keeps its
hardening (exposure score), and carries the directives the server relies on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from runyard.cli import main
from runyard.deploy import systemd
from tests.servers import skip_or_fail

RUNYARD = Path(sys.executable).parent / "runyard"  # a real executable: verify checks ExecStart
MAX_EXPOSURE = 2.0  # "OK" is below 4.0; the unit scores about 1.0 (docs/deploying.md)


def _analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        skip_or_fail("systemd-analyze is not installed (Debian package systemd)")
    assert found is not None
    return found


def _render(tmp_path: Path, *args: str) -> tuple[Path, str]:
    unit = tmp_path / "runyard.service"
    result = CliRunner().invoke(
        main, ["deploy", "systemd", "--exec", str(RUNYARD), "--output", str(unit), *args]
    )
    assert result.exit_code == 0, result.output
    return unit, unit.read_text()


def _directives(text: str) -> dict[str, list[str]]:
    """Section.Key -> values in order (systemd allows a key more than once)."""
    found: dict[str, list[str]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(f"{section}.{key}", []).append(value)
    return found


def _production_files(tmp_path: Path) -> list[str]:
    data = tmp_path / "data"
    data.mkdir()
    config = tmp_path / "runyard.toml"
    config.write_text("[server]\nshutdown_timeout = 50\n")
    env_file = tmp_path / "runyard.env"
    env_file.write_text("RUNYARD_BACKEND_STORE_URI=postgresql://runyard:pw@127.0.0.1/runyard\n")
    env_file.chmod(0o600)
    credential = tmp_path / "artifacts_s3_region"
    credential.write_text("eu-west-1\n")
    return [
        "--user", "root", "--config", str(config), "--data-dir", str(data),
        "--env-file", str(env_file), "--credential", f"artifacts_s3_region={credential}",
    ]  # fmt: skip


@pytest.mark.parametrize("production", [False, True], ids=["defaults", "files"])
def test_systemd_analyze_verify_has_nothing_to_say(tmp_path: Path, production: bool) -> None:
    analyze = _analyze()
    unit, _ = _render(tmp_path, *(_production_files(tmp_path) if production else []))
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


def test_exposure_score_stays_low(tmp_path: Path) -> None:
    analyze = _analyze()
    unit, _ = _render(tmp_path)
    done = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    match = re.search(r"Overall exposure level for runyard\.service: ([\d.]+) (\w+)", done.stdout)
    assert match is not None, done.stdout + done.stderr
    assert float(match[1]) <= MAX_EXPOSURE, done.stdout


def test_unit_runs_the_server_as_a_notify_service_with_its_hardening(tmp_path: Path) -> None:
    _, text = _render(tmp_path, *_production_files(tmp_path))
    unit = _directives(text)
    config, data = tmp_path / "runyard.toml", tmp_path / "data"
    assert unit["Service.ExecStart"] == [f"{RUNYARD} server --config {config}"]
    assert unit["Service.Type"] == ["notify"]
    assert unit["Service.NotifyAccess"] == ["main"]
    assert unit["Service.Restart"] == ["on-failure"]
    assert unit["Service.KillSignal"] == ["SIGTERM"]
    assert unit["Service.TimeoutStopSec"] == ["65s"]  # the config's shutdown_timeout (50) + 15
    assert unit["Service.StandardOutput"] == ["journal"]
    assert unit["Service.User"] == ["root"]
    assert unit["Service.WorkingDirectory"] == [str(data)]
    assert unit["Service.ReadWritePaths"] == [str(data)]  # the data directory and nothing else
    assert unit["Service.EnvironmentFile"] == [str(tmp_path / "runyard.env")]
    assert unit["Service.LoadCredential"] == [
        f"artifacts_s3_region:{tmp_path / 'artifacts_s3_region'}"
    ]
    assert unit["Service.Environment"] == [
        "RUNYARD_LOG_FORMAT=json",
        "RUNYARD_ARTIFACTS_S3_REGION_FILE=%d/artifacts_s3_region",
    ]
    assert "StateDirectory" not in text
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "ProtectClock": "yes",
        "ProtectHostname": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "RestrictNamespaces": "yes",
        "RestrictRealtime": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes",
        "SystemCallArchitectures": "native",
        "CapabilityBoundingSet": "",
        "UMask": "0077",
    }.items():
        assert unit[f"Service.{key}"] == [value], key
    assert unit["Service.SystemCallFilter"][0] == "@system-service"
    assert unit["Install.WantedBy"] == ["multi-user.target"]


def test_default_unit_uses_a_state_directory_and_the_default_stop_timeout(
    tmp_path: Path,
) -> None:
    _, text = _render(tmp_path)
    unit = _directives(text)
    assert unit["Service.User"] == ["runyard"]
    assert unit["Service.StateDirectory"] == ["runyard"]
    assert unit["Service.WorkingDirectory"] == ["/var/lib/runyard"]
    assert unit["Service.TimeoutStopSec"] == ["45s"]
    assert "Service.ReadWritePaths" not in unit
    assert unit["Service.ExecStart"] == [f"{RUNYARD} server"]


def test_a_venv_under_home_stays_readable(tmp_path: Path) -> None:
    spec = systemd.UnitSpec(exec_path=Path("/home/ops/venv/bin/runyard"))
    assert "ProtectHome=read-only" in systemd.render(spec)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--credential", "password=/etc/x"], "password is not a runyard setting"),
        (["--credential", "backend_store_uri"], "expected NAME=PATH"),
        (["--data-dir", "/srv/run yard"], "spaces"),
        (["--data-dir", "/srv/100%"], "'%'"),
    ],
)
def test_bad_input_is_refused_with_a_reason(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["deploy", "systemd", "--exec", str(RUNYARD), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_install_needs_systemd_as_pid_1() -> None:
    if systemd.systemd_is_running():
        pytest.skip("systemd runs here: the test must not install a unit on this machine")
    result = CliRunner().invoke(main, ["deploy", "systemd", "--exec", str(RUNYARD), "--install"])
    assert result.exit_code == 1
    assert "systemd is not running as PID 1" in result.output
    assert not (systemd.UNIT_DIR / "runyard.service").exists()


def test_unit_is_printed_without_output_or_install() -> None:
    result = CliRunner().invoke(main, ["deploy", "systemd", "--exec", str(RUNYARD)])
    assert result.exit_code == 0
    assert result.output.startswith("# Written by `runyard deploy systemd`")
    assert "\n[Service]\nType=notify\n" in result.output
