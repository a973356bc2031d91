"""Creating, upgrading and checking databases; the Default experiment."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from runyard.errors import SchemaMismatch
from runyard.store import migrate
from runyard.store.schema import experiments, metadata

HEAD = "dc11669786a5"


def _set_revision(engine: Engine, rev: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": rev})


def _create_experiment(engine: Engine, name: str) -> int:
    """Insert as MLflow's create_experiment does: no id, the database assigns it."""
    with engine.begin() as conn:
        result = conn.execute(
            experiments.insert().values(
                name=name, artifact_location="x", lifecycle_stage="active", workspace="default"
            )
        )
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])


def test_head_is_mlflow_3_17_2s() -> None:
    assert migrate.HEAD == HEAD
    assert migrate._known_revisions() == {HEAD}


def test_empty_database_has_no_revision_and_fails_check(engine: Engine) -> None:
    assert migrate.current(engine) is None
    with pytest.raises(SchemaMismatch, match="not initialised; run `runyard db upgrade "):
        migrate.check(engine)


def test_upgrade_creates_everything_and_is_idempotent(engine: Engine) -> None:
    assert migrate.upgrade(engine) == HEAD
    assert migrate.current(engine) == HEAD
    migrate.check(engine)
    tables = set(sa.inspect(engine).get_table_names())
    assert tables == set(metadata.tables) | {"alembic_version"}

    assert migrate.upgrade(engine) == HEAD
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM workspaces")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


def test_downgrade_to_base_removes_everything(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "base")
    assert sa.inspect(engine).get_table_names() == ["alembic_version"]
    assert migrate.current(engine) is None
    assert migrate.upgrade(engine) == HEAD


def test_mlflow_created_database_is_at_head(mlflow_url: str) -> None:
    engine = sa.create_engine(mlflow_url)
    try:
        assert migrate.current(engine) == HEAD
        migrate.check(engine)
        assert migrate.upgrade(engine) == HEAD  # nothing to do, and nothing done
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("revision", "advice"),
    [
        # An older MLflow's revision: mlflow 3.17.2 can bring it to our head.
        ("451aebb31d03", r"older than 3\.17\.2.*run `mlflow db upgrade .*` with mlflow==3\.17\.2"),
        # MLflow 3.18.0's head: past what this runyard serves.
        ("f4a9b2c7d1e6", r"newer than 3\.17\.2"),
        ("0123456789ab", r"unknown schema revision 0123456789ab.*`mlflow db upgrade .*`"),
    ],
)
def test_foreign_revision_fails_check_and_upgrade(
    engine: Engine, revision: str, advice: str
) -> None:
    migrate.upgrade(engine)
    _set_revision(engine, revision)
    assert migrate.current(engine) == revision
    with pytest.raises(SchemaMismatch, match=advice):
        migrate.check(engine)
    with pytest.raises(SchemaMismatch, match=advice):
        migrate.upgrade(engine)
    assert migrate.current(engine) == revision


def test_tables_without_revision_are_refused(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE something_else (id INTEGER)"))
    with pytest.raises(SchemaMismatch, match="has tables but no alembic_version"):
        migrate.check(engine)
    with pytest.raises(SchemaMismatch, match="has tables but no alembic_version"):
        migrate.upgrade(engine)


def test_migrations_run_inside_a_callers_transaction(engine: Engine) -> None:
    # The caller commits, so it can combine the upgrade with its own writes atomically.
    with engine.begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "head")
        migrate.ensure_default_experiment(conn, "mlflow-artifacts:/")
    assert migrate.current(engine) == HEAD
    with engine.connect() as conn:
        assert conn.execute(sa.select(experiments.c.name)).scalars().all() == ["Default"]


def test_alembic_command_commits_on_its_own(engine: Engine, dialect: str) -> None:
    # The `alembic` CLI way: a connection outside any transaction. env.py then commits itself
    # and, on PostgreSQL, releases its session-level advisory lock.
    with engine.connect() as conn:
        command.upgrade(migrate.alembic_config(conn), "head")
        assert not conn.in_transaction()
        if dialect == "postgres":
            held = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                )
            ).scalar_one()
            assert held == 0
    assert migrate.current(engine) == HEAD


def test_concurrent_upgrades_in_one_process(engine: Engine) -> None:
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            results.append(migrate.upgrade(engine))
        except BaseException as exc:  # reported below, from the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert results == [HEAD] * 4


_UPGRADE_SCRIPT = """
import sys, sqlalchemy
from runyard.store import migrate
print(migrate.upgrade(sqlalchemy.create_engine(sys.argv[1])))
"""


def test_concurrent_upgrades_across_processes(db_url: str) -> None:
    # Several server processes starting on one empty database: PostgreSQL's advisory lock (or
    # SQLite's write lock) makes all but one wait and then find the schema already at head.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADE_SCRIPT, db_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == HEAD


@pytest.mark.parametrize(
    ("root", "location"),
    [
        ("mlflow-artifacts:/", "mlflow-artifacts:/0"),
        ("mlflow-artifacts:", "mlflow-artifacts:/0"),
        ("s3://bucket/prefix", "s3://bucket/prefix/0"),
        ("file:///srv/artifacts/", "file:///srv/artifacts/0"),
    ],
)
def test_default_experiment(engine: Engine, root: str, location: str) -> None:
    migrate.upgrade(engine)
    with engine.begin() as conn:
        migrate.ensure_default_experiment(conn, root)
    with engine.begin() as conn:
        migrate.ensure_default_experiment(conn, "elsewhere:/")  # exists: left untouched
    with engine.connect() as conn:
        rows = conn.execute(sa.select(experiments)).mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert row["experiment_id"] == 0
    assert row["name"] == "Default"
    assert row["artifact_location"] == location
    assert row["lifecycle_stage"] == "active"
    assert row["workspace"] == "default"
    assert row["creation_time"] == row["last_update_time"] > 1_700_000_000_000

    assert _create_experiment(engine, "first") == 1
    assert _create_experiment(engine, "second") == 2


def test_default_experiment_never_reuses_existing_ids(engine: Engine) -> None:
    # A database whose experiment 0 was removed by hand while others exist: re-creating it
    # must not leave the id sequence pointing at a taken id.
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            experiments.insert(),
            [{"experiment_id": i, "name": f"e{i}", "workspace": "default"} for i in (1, 2, 3)],
        )
    with engine.begin() as conn:
        migrate.ensure_default_experiment(conn, "mlflow-artifacts:/")
    assert _create_experiment(engine, "next") == 4


def test_mlflow_opens_a_runyard_database(db_url: str, engine: Engine, tmp_path: Path) -> None:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    migrate.upgrade(engine)
    with engine.begin() as conn:
        migrate.ensure_default_experiment(conn, str(tmp_path))
    engine.dispose()

    store = SqlAlchemyStore(db_url, str(tmp_path))
    try:
        default = store.get_experiment("0")
        assert default.name == "Default"
        assert default.artifact_location == f"{tmp_path}/0"
        assert store.create_experiment("from-mlflow") == "1"
    finally:
        store.engine.dispose()
