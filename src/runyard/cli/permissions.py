"""``runyard permissions``: who may read, edit or manage an experiment."""

from __future__ import annotations

import click

from runyard.cli.users import admin_context, store_options

_LEVELS = click.Choice(["NO_PERMISSIONS", "READ", "EDIT", "MANAGE"], case_sensitive=False)


@click.group()
def permissions() -> None:
    """Manage experiment permissions (users without one get auth_default_permission)."""


@permissions.command("grant")
@click.argument("experiment_id")
@click.argument("username")
@click.argument("permission", type=_LEVELS)
@store_options
def grant(
    experiment_id: str,
    username: str,
    permission: str,
    backend_store_uri: str | None,
    config_file: str | None,
) -> None:
    """Give USERNAME PERMISSION on EXPERIMENT_ID (replacing what they had there)."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        row = auth.set_permission(ctx, experiment_id, username, permission.upper())
    click.echo(f"{row.username} has {row.permission} on experiment {row.experiment_id}.")


@permissions.command("revoke")
@click.argument("experiment_id")
@click.argument("username")
@store_options
def revoke(
    experiment_id: str, username: str, backend_store_uri: str | None, config_file: str | None
) -> None:
    """Remove USERNAME's permission on EXPERIMENT_ID (the default applies again)."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        auth.delete_permission(ctx, experiment_id, username)
    click.echo(f"Revoked {username}'s permission on experiment {experiment_id}.")


@permissions.command("list")
@click.option("--experiment-id", help="Only this experiment.")
@click.option("--username", help="Only this user.")
@store_options
def list_(
    experiment_id: str | None,
    username: str | None,
    backend_store_uri: str | None,
    config_file: str | None,
) -> None:
    """List permissions: experiment id, user, permission."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        rows = auth.list_permissions(ctx, experiment_id, username)
    for row in rows:
        click.echo(f"{row.experiment_id}\t{row.username}\t{row.permission}")
