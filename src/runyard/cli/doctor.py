"""``runyard doctor``: check the server's configuration, database, artifacts and exposure."""

from __future__ import annotations

import sys
from typing import Any

import click

from runyard.cli.server import server
from runyard.settings import SettingsError, load_settings

_MARKS = {"ok": "[ ok ]", "fail": "[FAIL]", "unknown": "[ ?? ]"}


def _doctor(config_file: str | None, **flags: Any) -> None:
    from runyard.app import open_artifact_store
    from runyard.deploy.doctor import run_checks

    try:
        settings = load_settings(flags, config_file=config_file)
    except SettingsError as exc:
        click.echo(f"{_MARKS['fail']} config: {exc}")
        sys.exit(1)
    source = f"from {config_file}, " if config_file else ""
    click.echo(f"{_MARKS['ok']} config: loaded ({source}environment and flags)")
    checks = run_checks(settings, open_artifact_store)
    for check in checks:
        click.echo(f"{_MARKS[check.status]} {check.name}: {check.detail}")
    sys.exit(1 if any(check.status == "fail" for check in checks) else 0)


# The same options as `runyard server`, so the check sees exactly what the server would.
doctor = click.Command(
    "doctor",
    callback=_doctor,
    params=list(server.params),
    help="Check the settings `runyard server` would use: configuration, database and schema, "
    "artifact store (writes and deletes a probe object), auth and listen address. "
    "Exits 1 if any check fails.",
)
