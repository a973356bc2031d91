"""``runyard server``: flags modelled on ``mlflow server``."""

from __future__ import annotations

import sys
from typing import Any

import click

from runyard.cli.common import settings_or_usage_error
from runyard.errors import SchemaMismatch
from runyard.settings import SettingsError


@click.command()
@click.option(
    "--backend-store-uri", help="Metadata database URI (sqlite:///... or postgresql://...)."
)
@click.option("--default-artifact-root", help="Artifact root for new experiments.")
@click.option("--artifacts-destination", help="Where proxied artifacts are stored.")
@click.option(
    "--serve-artifacts/--no-serve-artifacts",
    default=None,
    help="Proxy artifact uploads and downloads (default on).",
)
@click.option("--artifacts-sftp-key-file", help="Private key for an sftp:// destination.")
@click.option(
    "--artifacts-sftp-known-hosts", help="known_hosts file that vouches for the SFTP server."
)
@click.option("--artifacts-s3-endpoint-url", help="Endpoint of an S3-compatible server.")
@click.option("--artifacts-s3-region", help="Region of the s3:// destination.")
@click.option("-h", "--host", help="Address to listen on (default 127.0.0.1).")
@click.option("-p", "--port", type=int, help="Port to listen on (default 5000).")
@click.option("-w", "--workers", type=int, help="Worker processes (default 1).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file.")
@click.option("--log-level", help="Log level for the server (default info).")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Log lines (default text).")
@click.option(
    "--auth/--no-auth", default=None, help="Require a user or token on every request (default off)."
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    default=None,
    help="Allow a non-loopback address without auth (something else must protect it).",
)
@click.option("--allowed-hosts", help="Comma-separated Host header patterns to accept.")
@click.option("--cors-allowed-origins", help="Comma-separated origins allowed to write.")
@click.option("--x-frame-options", help="X-Frame-Options header (default SAMEORIGIN).")
@click.option(
    "--disable-security-middleware",
    is_flag=True,
    default=None,
    help="DANGEROUS: no Host, Origin, content-type or body-size checks.",
)
@click.option(
    "--request-head-timeout",
    type=int,
    help="Seconds a connection has to send a complete request head (default 30).",
)
@click.option(
    "--max-connections",
    type=int,
    help="Open connections per worker; beyond them a 503 (default 1000).",
)
def server(config_file: str | None, **flags: Any) -> None:
    """Serve the tracking API."""
    from runyard.serve import serve  # imported late: keeps `runyard --help` fast

    settings = settings_or_usage_error(flags, config_file)
    try:
        serve(settings)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    except SchemaMismatch as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
