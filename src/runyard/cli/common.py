"""What the admin commands share: settings as the server reads them, and its database opened.

Errors become messages (and exit codes) here, once: a bad setting is a usage error; a schema
runyard does not serve, or an MlflowError raised while the block runs, is a plain error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from runyard.errors import MlflowError, SchemaMismatch
from runyard.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:  # imported late: keeps `runyard --help` fast
    from runyard.services.context import Ctx


def settings_or_usage_error(flags: Mapping[str, Any], config_file: str | None) -> Settings:
    try:
        return load_settings(flags, config_file=config_file)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


@contextmanager
def opened_database(settings: Settings) -> Iterator[Ctx]:
    """The metadata database of ``settings`` for as long as the block runs."""
    from runyard.app import open_context

    try:
        ctx = open_context(settings)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    except SchemaMismatch as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield ctx
    except MlflowError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        ctx.db.dispose()
