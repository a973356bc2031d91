"""Schema revisions: create or upgrade a database, read and check its revision, seed it.

runyard's alembic head is MLflow 3.17.2's head, ``dc11669786a5``, so a database either tool
created is current for both. The alembic environment ships inside the package; no alembic.ini.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from runyard.errors import SchemaMismatch
from runyard.store.schema import experiments

HEAD = "dc11669786a5"
_MIGRATIONS = Path(__file__).parent / "migrations"
_MLFLOW_VERSION = "3.17.2"

# MLflow's earlier revisions (from 451aebb31d03, its first, to just before dc11669786a5): a
# database at one of them was made by an older MLflow, which mlflow==3.17.2 can upgrade to ours.
_MLFLOW_OLDER = frozenset(
    {
        "0584bdc529eb",
        "0a8213491aaa",
        "0c779009ac13",
        "17e22815139b",
        "181f10493468",
        "1971f2d9a75b",
        "1a0cddfcaa16",
        "1b5f0d9ad7c1",
        "1bd49d398cd23",
        "27a6a02d2cf1",
        "2b4d017a5e9b",
        "2c33131f4dae",
        "2d6e25af4d3e",
        "3500859a5d39",
        "39d1c3be5f05",
        "3da73c924c2f",
        "400f98739977",
        "4465047574b1",
        "451aebb31d03",
        "534353b11cbc",
        "5b0e9adcef9c",
        "5d2d30f0abce",
        "6953534de441",
        "6f8d9c3b2a1e",
        "71994744cf8e",
        "728d730b5ebd",
        "75868b020152",
        "76601a5f987d",
        "770bee3ae1dd",
        "7ac759974ad8",
        "7d34483879f0",
        "7f2a7d5fae7d",
        "84291f40a231",
        "867495a8f9d4",
        "89d3d66ed43f",
        "89d4b8295536",
        "90e64c465722",
        "97727af70f4d",
        "a1b2c3d4e5f6",
        "a5b4c3d2e1f0",
        "a8b9c0d1e2f3",
        "a8c4a736bde6",
        "acf3f17fdcc7",
        "ae8bbe7743c9",
        "b7c8d9e0f1a2",
        "b7e2c1a4d9f3",
        "b7e4c1a90f23",
        "bd07f7e963c5",
        "bda7b8c39065",
        "bf29a5ff90ea",
        "c1d2e3f4a5b6",
        "c3d6457b6d8a",
        "c3d9e7f1a2b4",
        "c48cb773bb87",
        "c8d9e0f1a2b3",
        "c9d4e5f6a7b8",
        "cbc13b556ace",
        "cc1f77228345",
        "cfd24bdc0731",
        "d0e1f2a3b4c5",
        "d3e4f5a6b7c8",
        "da6fb0208061",
        "de4033877273",
        "df50e92ffc5e",
        "e1f2a3b4c5d6",
        "f5a4f2784254",
    }
)
# MLflow 3.18.0's head: a newer MLflow already migrated this database past what we serve.
_MLFLOW_NEWER = frozenset({"f4a9b2c7d1e6"})

# alembic keeps the running environment in module globals (``alembic.context``), so two threads
# migrating at once would clobber each other. Across processes, upgrade() is serialised by
# env.py's advisory lock on PostgreSQL and by the write transaction it holds on SQLite.
_ALEMBIC_LOCK = threading.Lock()

DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"
DEFAULT_WORKSPACE = "default"


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config for runyard's packaged migrations, optionally bound to ``connection``.

    With a connection that is already inside a transaction, migrations run in it and the caller
    commits; otherwise each ``alembic.command`` call commits its own work.
    """
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    # Quiet alembic's fallback warning; we never prepend anything to sys.path.
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _known_revisions() -> set[str]:
    return {rev.revision for rev in _script().walk_revisions()}


def _display(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _user_tables(bind: Engine | Connection) -> list[str]:
    # alembic_version alone (left by an interrupted first upgrade) still counts as empty.
    return [t for t in sa.inspect(bind).get_table_names() if t != "alembic_version"]


def is_empty(engine: Engine) -> bool:
    """True for a database with no tables yet: safe to create the schema on."""
    return not _user_tables(engine)


def _revision(conn: Connection) -> str | None:
    rev: str | None = MigrationContext.configure(conn).get_current_revision()
    return rev


def current(engine: Engine) -> str | None:
    """The revision recorded in ``alembic_version``; None when the table is missing or empty."""
    with engine.connect() as conn:
        return _revision(conn)


def upgrade(engine: Engine) -> str:
    """Bring an empty or older runyard-known database to head and return the head revision.

    All of it happens in one transaction, so a failure leaves the database as it was. Raises
    SchemaMismatch for a database this runyard cannot upgrade: one with tables but no revision,
    or at a revision that is not in runyard's history (see :func:`check`).
    """
    with _ALEMBIC_LOCK, engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite would commit each DDL statement on its own; an explicit write transaction
            # makes the upgrade atomic and makes other processes' upgrades wait for it.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        # On PostgreSQL these reads may precede env.py's advisory lock; that is safe because a
        # concurrent upgrade's tables stay invisible until it commits, and alembic reads the
        # revision again once it holds the lock.
        rev = _revision(conn)
        if rev is None and _user_tables(conn):
            raise SchemaMismatch(_not_initialised_message(engine, has_tables=True))
        if rev is not None and rev not in _known_revisions():
            raise SchemaMismatch(_unknown_message(engine, rev))
        try:
            # conn is inside a transaction now, so env.py runs in it and leaves the commit to us.
            command.upgrade(alembic_config(conn), "head")
        except CommandError as exc:
            raise SchemaMismatch(f"cannot upgrade {_display(engine)}: {exc}") from exc
        done = _revision(conn)
        if done != HEAD:
            raise SchemaMismatch(f"upgrade of {_display(engine)} ended at {done!r}, not {HEAD}")
        conn.commit()
    return done


def check(engine: Engine) -> None:
    """Raise SchemaMismatch, saying what the operator should run, unless the DB is at head."""
    rev = current(engine)
    if rev == HEAD:
        return
    if rev is None:
        raise SchemaMismatch(
            _not_initialised_message(engine, has_tables=bool(_user_tables(engine)))
        )
    if rev in _known_revisions():
        raise SchemaMismatch(
            f"database {_display(engine)} is at schema revision {rev}, behind runyard's {HEAD}; "
            f"run `runyard db upgrade {_display(engine)}`"
        )
    raise SchemaMismatch(_unknown_message(engine, rev))


def _not_initialised_message(engine: Engine, has_tables: bool) -> str:
    url = _display(engine)
    if has_tables:
        return (
            f"database {url} has tables but no alembic_version revision, so it is neither an "
            "MLflow nor a runyard database (or its creation was interrupted); point runyard at "
            "an empty database or at one created by `mlflow db upgrade` "
            f"(mlflow=={_MLFLOW_VERSION})"
        )
    return f"database {url} is not initialised; run `runyard db upgrade {url}`"


def _unknown_message(engine: Engine, rev: str) -> str:
    url = _display(engine)
    expected = f"runyard serves schema revision {HEAD} (MLflow {_MLFLOW_VERSION})"
    if rev in _MLFLOW_OLDER:
        return (
            f"database {url} is at MLflow schema revision {rev}, from an MLflow older than "
            f"{_MLFLOW_VERSION}; {expected}. Back it up, then run `mlflow db upgrade {url}` "
            f"with mlflow=={_MLFLOW_VERSION} installed"
        )
    if rev in _MLFLOW_NEWER:
        return (
            f"database {url} is at MLflow schema revision {rev}, written by an MLflow newer than "
            f"{_MLFLOW_VERSION}; {expected} and cannot downgrade it. Use a runyard release that "
            "supports this MLflow version"
        )
    return (
        f"database {url} is at unknown schema revision {rev}; {expected}. If another MLflow "
        f"version created it, run `mlflow db upgrade {url}` with mlflow=={_MLFLOW_VERSION} "
        "installed; if a newer runyard did, run that runyard (its `runyard db upgrade` moved "
        "the database past this one's schema)"
    )


def ensure_default_experiment(conn: Connection, artifact_root: str) -> None:
    """Create experiment 0, "Default", as MLflow does at first start, unless it exists.

    Runs in the caller's transaction; the caller commits. Its artifact location is
    ``<artifact_root>/0``, so it is written by the app, which knows the root, not by a migration.
    """
    exists = conn.execute(
        sa.select(experiments.c.experiment_id).where(
            experiments.c.experiment_id == DEFAULT_EXPERIMENT_ID
        )
    ).first()
    if exists is not None:
        return
    now_ms = int(time.time() * 1000)
    sep = "" if artifact_root.endswith("/") else "/"
    row = {
        "experiment_id": DEFAULT_EXPERIMENT_ID,
        "name": DEFAULT_EXPERIMENT_NAME,
        "artifact_location": f"{artifact_root}{sep}{DEFAULT_EXPERIMENT_ID}",
        "lifecycle_stage": "active",
        "creation_time": now_ms,
        "last_update_time": now_ms,
        "workspace": DEFAULT_WORKSPACE,
    }
    dialect = conn.dialect.name
    if dialect == "postgresql":
        # A concurrent starter may have inserted it since our SELECT; that is fine. A clash on
        # the (workspace, name) key is not, and still raises.
        pg_stmt = postgresql.insert(experiments).values(row)
        conn.execute(pg_stmt.on_conflict_do_nothing(index_elements=["experiment_id"]))
        _advance_pg_sequence(conn)
    elif dialect == "sqlite":
        # No sequence to fix: a new INTEGER PRIMARY KEY is max(rowid) + 1, so 1 after the 0.
        lite_stmt = sqlite.insert(experiments).values(row)
        conn.execute(lite_stmt.on_conflict_do_nothing(index_elements=["experiment_id"]))
    else:
        conn.execute(experiments.insert().values(row))


def _advance_pg_sequence(conn: Connection) -> None:
    # An explicit id does not advance the SERIAL sequence. On a fresh database (the case MLflow
    # handles, by doing nothing) the next nextval() is 1 anyway; only if existing rows already
    # reach the sequence's next value do we move it past them, never backwards.
    seq = conn.execute(
        sa.text("SELECT pg_get_serial_sequence('experiments', 'experiment_id')")
    ).scalar_one()
    last = conn.execute(
        sa.text("SELECT pg_sequence_last_value(CAST(:seq AS regclass))"), {"seq": seq}
    ).scalar()
    next_id = 1 if last is None else int(last) + 1
    max_id = conn.execute(sa.select(sa.func.max(experiments.c.experiment_id))).scalar()
    if max_id is not None and max_id >= next_id:
        conn.execute(
            sa.text("SELECT setval(CAST(:seq AS regclass), :v)"), {"seq": seq, "v": max_id}
        )
