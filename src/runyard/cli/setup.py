"""``runyard setup postgres``: a role, a database and a 0600 secret file, idempotently."""

from __future__ import annotations

import contextlib
import os
import pwd
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from runyard.settings import SettingsError, named_secret

if TYPE_CHECKING:
    import psycopg

    from runyard.deploy.postgres import Outcome, Plan

DEFAULT_SECRET_FILE = "/etc/runyard/runyard.env"
ADMIN_USER = "postgres"
_CONFIG = "/etc/runyard/runyard.toml"  # only for the printed next steps


@click.group()
def setup() -> None:
    """Prepare what the server needs before its first start."""


@setup.command()
@click.option(
    "--admin-url-file",
    type=click.Path(dir_okay=False, exists=True),
    help="File holding the admin connection URL (default: local socket as user postgres).",
)
@click.option(
    "--admin-url-env",
    metavar="NAME",
    help="Environment variable holding the admin connection URL.",
)
@click.option("--role", default="runyard", show_default=True, help="Login role to create.")
@click.option("--database", default="runyard", show_default=True, help="Database to create.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Host runyard connects to (written into the URI).",
)
@click.option(
    "--port", default=5432, show_default=True, help="Port runyard connects to (in the URI)."
)
@click.option(
    "--secret-file",
    type=click.Path(dir_okay=False),
    default=DEFAULT_SECRET_FILE,
    show_default=True,
    help="Where the connection URI with its password is written (mode 0600).",
)
@click.option(
    "--secret-format",
    type=click.Choice(["env", "uri"]),
    default="env",
    show_default=True,
    help="env: RUNYARD_BACKEND_STORE_URI=... for EnvironmentFile=; uri: the URI alone, for "
    "RUNYARD_BACKEND_STORE_URI_FILE or a systemd credential.",
)
@click.option(
    "--rotate-password", is_flag=True, help="Give the role a new password and rewrite the file."
)
def postgres(
    admin_url_file: str | None,
    admin_url_env: str | None,
    role: str,
    database: str,
    host: str,
    port: int,
    secret_file: str,
    secret_format: str,
    rotate_password: bool,
) -> None:
    """Create the role and database runyard uses on PostgreSQL, and its secret file.

    The password is generated here and reaches the server only as a SCRAM-SHA-256 verifier.
    Re-running changes nothing; an existing secret file is kept.
    """
    from runyard.deploy import postgres as pg  # psycopg loads only for this command

    if admin_url_file and admin_url_env:
        raise click.UsageError("give --admin-url-file or --admin-url-env, not both")
    try:
        admin_url = _admin_url(admin_url_file, admin_url_env)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    plan = pg.Plan(
        secret_file=Path(secret_file).absolute(),
        role=role,
        database=database,
        host=host,
        port=port,
        secret_format="uri" if secret_format == "uri" else "env",
        rotate_password=rotate_password,
    )
    try:
        outcome = pg.provision(lambda dbname: _connect_admin(admin_url, dbname), plan)
    except pg.ProvisionError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    _report(plan, outcome)


def _admin_url(url_file: str | None, url_env: str | None) -> str | None:
    if url_file:
        url = Path(url_file).read_text().strip()
        if not url:
            raise SettingsError(f"{url_file} is empty")
        return url
    return named_secret(url_env) if url_env else None


def _connect_admin(admin_url: str | None, dbname: str) -> psycopg.Connection[Any]:
    import psycopg
    from psycopg.conninfo import make_conninfo

    from runyard.deploy.postgres import ProvisionError

    try:
        if admin_url is not None:
            return psycopg.connect(make_conninfo(admin_url, dbname=dbname), autocommit=True)
        with _peer_identity(ADMIN_USER):
            return psycopg.connect(dbname=dbname, user=ADMIN_USER, autocommit=True)
    except psycopg.OperationalError as exc:
        where = "the given admin URL" if admin_url else f"the local socket as {ADMIN_USER}"
        raise ProvisionError(
            f"cannot connect to PostgreSQL through {where}: {str(exc).strip()}"
        ) from exc


@contextlib.contextmanager
def _peer_identity(user: str) -> Iterator[None]:
    """Connect as ``user`` for peer authentication when running as root (``sudo runyard ...``).

    The server learns the client's effective uid from the socket at connect time, so the
    connection is opened with that uid and root's is restored straight after; the secret
    file is still written as root.
    """
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        uid = None
    if os.geteuid() != 0 or uid is None:
        yield
        return
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)


def _report(plan: Plan, outcome: Outcome) -> None:
    role_state = (
        "created"
        if outcome.role_created
        else ("password rotated" if outcome.password_set else "exists, kept")
    )
    db_state = "created" if outcome.database_created else "exists, kept"
    secret_state = "written" if outcome.secret_written else "exists, kept"
    secret = plan.secret_file
    click.echo(f"Role {plan.role}: {role_state}.")
    click.echo(f"Database {plan.database} (owner {plan.role}): {db_state}.")
    click.echo(f"Only {plan.role} (and superusers) may connect; PUBLIC's CONNECT/TEMP revoked.")
    click.echo(f"Secret file {secret} (mode 0600): {secret_state}.")
    click.echo(f"{plan.display_uri()} connects.")
    click.echo("\nNext steps:")
    if plan.secret_format == "env":
        click.echo(
            f"  1. Create the schema:\n"
            f"       sudo sh -c 'set -a; . {secret}; exec runyard db upgrade'\n"
            f"  2. Install the service:\n"
            f"       sudo runyard deploy systemd --env-file {secret} "
            f"--config {_CONFIG} --install"
        )
    else:
        click.echo(
            f"  1. Create the schema:\n"
            f"       sudo RUNYARD_BACKEND_STORE_URI_FILE={secret} runyard db upgrade\n"
            f"  2. Install the service:\n"
            f"       sudo runyard deploy systemd --credential backend_store_uri={secret} "
            f"--config {_CONFIG} --install"
        )
    if plan.secret_format == "env":
        doctor = f"sudo sh -c 'set -a; . {secret}; exec runyard doctor --config {_CONFIG}'"
    else:
        doctor = f"sudo RUNYARD_BACKEND_STORE_URI_FILE={secret} runyard doctor --config {_CONFIG}"
    click.echo(f"  3. Check everything:\n       {doctor}")
