"""``runyard permissions``: who may read, edit or manage an experiment or a registered model."""

from __future__ import annotations

import click

from runyard.cli.users import admin_context, store_options

_LEVELS = click.Choice(["NO_PERMISSIONS", "READ", "EDIT", "MANAGE"], case_sensitive=False)
_ON_MODEL = click.option(
    "--registered-model",
    "on_model",
    is_flag=True,
    help="RESOURCE is a registered model's (or prompt's) name, not an experiment id.",
)
MODEL_PREFIX = "registered-model:"  # how `list` tells a model's grant from an experiment's


@click.group()
def permissions() -> None:
    """Manage experiment and registered model permissions (users without one get
    auth_default_permission)."""


@permissions.command("grant")
@click.argument("resource")
@click.argument("username")
@click.argument("permission", type=_LEVELS)
@_ON_MODEL
@store_options
def grant(
    resource: str,
    username: str,
    permission: str,
    on_model: bool,
    backend_store_uri: str | None,
    config_file: str | None,
) -> None:
    """Give USERNAME PERMISSION on RESOURCE, an experiment id or (--registered-model) a
    registered model's name, replacing what they had there."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        if on_model:
            row = auth.set_model_permission(ctx, resource, username, permission.upper())
            click.echo(f"{row.username} has {row.permission} on registered model {row.name}.")
            return
        granted = auth.set_permission(ctx, resource, username, permission.upper())
    click.echo(
        f"{granted.username} has {granted.permission} on experiment {granted.experiment_id}."
    )


@permissions.command("revoke")
@click.argument("resource")
@click.argument("username")
@_ON_MODEL
@store_options
def revoke(
    resource: str,
    username: str,
    on_model: bool,
    backend_store_uri: str | None,
    config_file: str | None,
) -> None:
    """Remove USERNAME's permission on RESOURCE (the default applies again)."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        if on_model:
            auth.delete_model_permission(ctx, resource, username)
        else:
            auth.delete_permission(ctx, resource, username)
    kind = "registered model" if on_model else "experiment"
    click.echo(f"Revoked {username}'s permission on {kind} {resource}.")


@permissions.command("list")
@click.option("--experiment-id", help="Only this experiment.")
@click.option("--registered-model", "model_name", help="Only this registered model.")
@click.option("--username", help="Only this user.")
@store_options
def list_(
    experiment_id: str | None,
    model_name: str | None,
    username: str | None,
    backend_store_uri: str | None,
    config_file: str | None,
) -> None:
    """List permissions: experiment id (or registered-model:NAME), user, permission;
    experiments first."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        on_experiments = (
            auth.list_permissions(ctx, experiment_id, username) if model_name is None else []
        )
        on_models = (
            auth.list_model_permissions(ctx, model_name, username) if experiment_id is None else []
        )
    for row in on_experiments:
        click.echo(f"{row.experiment_id}\t{row.username}\t{row.permission}")
    for m in on_models:
        click.echo(f"{MODEL_PREFIX}{m.name}\t{m.username}\t{m.permission}")
