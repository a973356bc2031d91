"""``runyard tokens``: API tokens, for ``MLFLOW_TRACKING_TOKEN`` (or as a Basic password)."""

from __future__ import annotations

import click

from runyard.cli.users import admin_context, store_options, when


@click.group()
def tokens() -> None:
    """Manage API tokens (only their SHA-256 is stored)."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", default="", help="A label to tell tokens apart in `tokens list`.")
@store_options
def create(
    username: str, name: str, backend_store_uri: str | None, config_file: str | None
) -> None:
    """Create a token for USERNAME and print it: it is shown this once."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        token_id, token = auth.create_token(ctx, username, name)
    click.echo(f"Token {token_id} for {username}; it is not stored, copy it now:", err=True)
    click.echo(token)


@tokens.command("list")
@click.argument("username", required=False)
@store_options
def list_(username: str | None, backend_store_uri: str | None, config_file: str | None) -> None:
    """List tokens (of USERNAME, or of everyone): id, user, name, creation time."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        found = auth.list_tokens(ctx, username)
    for token in found:
        click.echo(f"{token.id}\t{token.username}\t{token.name}\tcreated {when(token.created_at)}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
@store_options
def revoke(token_id: int, backend_store_uri: str | None, config_file: str | None) -> None:
    """Revoke a token by its id; it stops working at once."""
    from runyard.services import auth

    with admin_context(backend_store_uri, config_file) as ctx:
        auth.revoke_token(ctx, token_id)
    click.echo(f"Revoked token {token_id}.")
