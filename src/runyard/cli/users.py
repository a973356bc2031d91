"""``runyard users``: the accounts ``--auth`` checks (passwords never on the command line)."""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from runyard.cli.common import opened_database, settings_or_usage_error
from runyard.services.context import Ctx

F = TypeVar("F", bound=Callable[..., Any])


def store_options(fn: F) -> F:
    """Where the metadata database is: the same flags, environment and config as the server."""
    fn = click.option(
        "--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file."
    )(fn)
    fn = click.option(
        "--backend-store-uri", help="Metadata database URI (default: the server's setting)."
    )(fn)
    return fn


@contextmanager
def admin_context(backend_store_uri: str | None, config_file: str | None) -> Iterator[Ctx]:
    """The server's database, with the auth tables created if missing; errors become messages."""
    from runyard.services import auth

    settings = settings_or_usage_error({"backend_store_uri": backend_store_uri}, config_file)
    with opened_database(settings) as ctx:
        auth.prepare(ctx)
        yield ctx


def read_password(password_file: str | None) -> str:
    """From a file ('-': standard input), first line, or else from a hidden prompt."""
    if password_file is None:
        password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    try:
        text = sys.stdin.read() if password_file == "-" else Path(password_file).read_text()
    except OSError as exc:
        raise click.UsageError(f"cannot read {password_file}: {exc.strerror or exc}") from exc
    return text.splitlines()[0] if text else ""


def when(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


password_file_option = click.option(
    "--password-file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Read the password from this file's first line ('-' for stdin) instead of a prompt.",
)


@click.group()
def users() -> None:
    """Manage the users that `runyard server --auth` accepts."""


@users.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Administrator: every permission, manages users.")
@password_file_option
@store_options
def create(
    username: str,
    admin: bool,
    password_file: str | None,
    backend_store_uri: str | None,
    config_file: str | None,
) -> None:
    """Create a user (the password is prompted for, or read from --password-file)."""
    from runyard.services import auth

    password = read_password(password_file)
    with admin_context(backend_store_uri, config_file) as ctx:
        auth.create_user(ctx, username, password, is_admin=admin)
    click.echo(f"Created {'administrator' if admin else 'user'} {username}.")


@users.command("list")
@store_options
def list_(backend_store_uri: str | None, config_file: str | None) -> None:
    """List users."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        found = auth.list_users(ctx)
    for user in found:
        role = "admin" if user.is_admin else "user"
        click.echo(f"{user.username}\t{role}\tcreated {when(user.created_at)}")


@users.command("delete")
@click.argument("username")
@store_options
def delete(username: str, backend_store_uri: str | None, config_file: str | None) -> None:
    """Delete a user with their tokens and permissions."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        auth.delete_user(ctx, username)
    click.echo(f"Deleted user {username} (a running server may accept a cached login briefly).")


@users.command("set-password")
@click.argument("username")
@password_file_option
@store_options
def set_password(
    username: str, password_file: str | None, backend_store_uri: str | None, config_file: str | None
) -> None:
    """Change a user's password."""
    from runyard.services import auth

    password = read_password(password_file)
    with admin_context(backend_store_uri, config_file) as ctx:
        auth.set_password(ctx, username, password)
    click.echo(f"Changed the password of {username}.")
