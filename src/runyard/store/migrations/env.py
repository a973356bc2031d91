"""Alembic environment for runyard's schema (MLflow's table layout, see ``runyard.store.schema``).

Callers normally hand over an open connection in ``config.attributes["connection"]``
(``runyard.store.migrate`` does). Without one, ``sqlalchemy.url`` from the config is used, so the
plain ``alembic`` command works for writing new revisions.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, text

from runyard.store.schema import metadata

# Arbitrary but fixed: every runyard process (and version) must contend for the same key.
# The bytes spell "runyard!" in ASCII.
_PG_LOCK_KEY = 0x72756E79_61726421


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=True,
        # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _migrate(connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    # Serialise concurrent upgrades (several server workers starting at once): the loser waits,
    # then reads the winner's committed alembic_version and has nothing left to do.
    if connection.in_transaction():
        # The caller owns the transaction and commits after us, so the lock must last until
        # that commit: a transaction-scoped lock does exactly that.
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    # Session-level lock, taken and committed before alembic starts so that alembic begins and
    # commits its own transaction while we still hold the lock.
    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
    connection.commit()
    try:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        # A failed migration leaves an aborted transaction; end it so the unlock can run.
        if connection.in_transaction():
            connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
        connection.commit()


def _run() -> None:
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        _migrate(given)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection in config.attributes and no sqlalchemy.url configured")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


_run()
