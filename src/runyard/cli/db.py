"""``runyard db``: create, upgrade and inspect the metadata schema."""

from __future__ import annotations

import click

from runyard.settings import load_settings, normalize_db_uri


def _engine(uri: str | None):  # type: ignore[no-untyped-def]
    from runyard.store.engine import make_engine

    target = uri or load_settings().backend_store_uri
    return make_engine(normalize_db_uri(target))


@click.group()
def db() -> None:
    """Manage the metadata database schema."""


@db.command()
@click.argument("uri", required=False)
def upgrade(uri: str | None) -> None:
    """Create the schema on an empty database or upgrade it to runyard's head."""
    from runyard.store import migrate

    engine = _engine(uri)
    try:
        revision = migrate.upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"Database is at revision {revision}.")


@db.command()
@click.argument("uri", required=False)
def current(uri: str | None) -> None:
    """Print the database's schema revision."""
    from runyard.store import migrate

    engine = _engine(uri)
    try:
        revision = migrate.current(engine)
    finally:
        engine.dispose()
    click.echo(revision or "(not initialised)")
