"""``runyard deploy systemd``: render, write or install the server's systemd unit."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runyard.settings import SettingsError, load_settings


@click.group()
def deploy() -> None:
    """Run runyard as a service."""


@deploy.command()
@click.option("--user", default="runyard", show_default=True, help="System user to run as.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, exists=True),
    help="TOML config file the server reads (its shutdown_timeout sets TimeoutStopSec).",
)
@click.option(
    "--data-dir",
    "data_dirs",
    multiple=True,
    type=click.Path(file_okay=False),
    help="Directory the server may write (database file, artifacts); repeatable. "
    "Default: /var/lib/runyard, created by systemd.",
)
@click.option(
    "--env-file",
    "env_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="EnvironmentFile= for the unit, e.g. the 0600 file from `runyard setup postgres`.",
)
@click.option(
    "--credential",
    "credentials",
    multiple=True,
    metavar="NAME=PATH",
    help="Pass a setting through a systemd credential: LoadCredential=NAME:PATH and "
    "RUNYARD_<NAME>_FILE=%d/NAME (e.g. backend_store_uri=/etc/runyard/uri); repeatable.",
)
@click.option(
    "--exec",
    "exec_path",
    type=click.Path(dir_okay=False),
    help="The runyard executable (default: the one beside the running Python).",
)
@click.option("--name", default="runyard", show_default=True, help="Unit name.")
@click.option("--output", type=click.Path(dir_okay=False), help="Write the unit to this file.")
@click.option(
    "--install",
    is_flag=True,
    help="Write /etc/systemd/system/<name>.service, daemon-reload and enable it.",
)
def systemd(
    user: str,
    config_file: str | None,
    data_dirs: tuple[str, ...],
    env_files: tuple[str, ...],
    credentials: tuple[str, ...],
    exec_path: str | None,
    name: str,
    output: str | None,
    install: bool,
) -> None:
    """Render a hardened systemd unit for `runyard server` (printed unless --output/--install)."""
    from runyard.deploy import systemd as unit

    if output and install:
        raise click.UsageError("give --output or --install, not both")
    try:
        # Only the file: the unit must not depend on the environment of whoever renders it.
        settings = load_settings(environ={}, config_file=config_file)
        spec = unit.UnitSpec(
            exec_path=_absolute(exec_path)
            if exec_path
            else Path(sys.executable).parent / "runyard",
            user=user,
            config=_absolute(config_file) if config_file else None,
            data_dirs=tuple(_absolute(d) for d in data_dirs),
            env_files=tuple(_absolute(f) for f in env_files),
            credentials=tuple(
                (cred, _absolute(str(path)))
                for cred, path in (unit.parse_credential(c) for c in credentials)
            ),
            shutdown_timeout=settings.shutdown_timeout,
        )
        text = unit.render(spec)
        if install:
            target = unit.install(text, name)
            click.echo(f"Installed and enabled {target}; start it with: systemctl start {name}")
            return
    except (unit.UnitError, SettingsError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    if output:
        Path(output).write_text(text)
        click.echo(f"Wrote {output}")
    else:
        click.echo(text, nl=False)


def _absolute(path: str) -> Path:
    return Path(path).absolute()
