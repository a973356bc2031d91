"""runyard's schema is MLflow 3.17.2's, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from runyard.store import migrate, schema

CORE_TABLES = [
    "experiments",
    "experiment_tags",
    "runs",
    "tags",
    "params",
    "metrics",
    "latest_metrics",
    "datasets",
    "inputs",
    "input_tags",
    "logged_models",
    "registered_models",
    "model_versions",
]


def snapshot(url: str) -> dict[str, Any]:
    """Everything the inspector reports about a database's schema, in comparable form."""
    engine = sa.create_engine(url)
    try:
        insp = sa.inspect(engine)
        tables: dict[str, Any] = {}
        for name in sorted(insp.get_table_names()):
            columns = []
            for col in insp.get_columns(name):
                col = dict(col)
                col["type"] = str(col["type"].compile(dialect=engine.dialect))
                columns.append(col)
            tables[name] = {
                "columns": columns,  # order matters: MLflow's ``SELECT *`` users see it
                "pk": insp.get_pk_constraint(name),
                "fks": sorted(insp.get_foreign_keys(name), key=repr),
                "uniques": sorted(insp.get_unique_constraints(name), key=repr),
                "checks": sorted(insp.get_check_constraints(name), key=repr),
                "indexes": sorted(insp.get_indexes(name), key=repr),
            }
        result: dict[str, Any] = {"tables": tables}
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                result["sequences"] = sorted(
                    tuple(row)
                    for row in conn.execute(
                        sa.text(
                            "SELECT sequencename, data_type::text, start_value, increment_by "
                            "FROM pg_sequences"
                        )
                    )
                )
        return result
    finally:
        engine.dispose()


def describe_differences(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    out = []
    only_ours = sorted(set(ours["tables"]) - set(theirs["tables"]))
    only_theirs = sorted(set(theirs["tables"]) - set(ours["tables"]))
    if only_ours:
        out.append(f"tables only in runyard's DB: {only_ours}")
    if only_theirs:
        out.append(f"tables only in MLflow's DB: {only_theirs}")
    for name in sorted(set(ours["tables"]) & set(theirs["tables"])):
        for aspect, mine in ours["tables"][name].items():
            other = theirs["tables"][name][aspect]
            if mine != other:
                out.append(f"{name}.{aspect}:\n  runyard: {mine}\n  mlflow:  {other}")
    if ours.get("sequences") != theirs.get("sequences"):
        out.append(f"sequences: runyard {ours.get('sequences')} mlflow {theirs.get('sequences')}")
    return out


def test_every_table_is_a_module_attribute_named_after_it() -> None:
    assert len(schema.metadata.tables) == 64  # MLflow 3.17.2's tables, alembic_version aside
    for name, table in schema.metadata.tables.items():
        assert getattr(schema, name) is table
    for name in CORE_TABLES:
        assert name in schema.metadata.tables


def test_upgraded_database_matches_mlflows(db_url: str, engine: Engine, mlflow_url: str) -> None:
    migrate.upgrade(engine)
    engine.dispose()
    differences = describe_differences(snapshot(db_url), snapshot(mlflow_url))
    assert not differences, "\n".join(differences)


def test_seed_rows_match_mlflows(engine: Engine, mlflow_url: str) -> None:
    ours = engine
    theirs = sa.create_engine(mlflow_url)
    try:
        migrate.upgrade(ours)
        for table in schema.metadata.sorted_tables:
            query = sa.select(table).order_by(*table.primary_key.columns)
            with ours.connect() as a, theirs.connect() as b:
                assert a.execute(query).all() == b.execute(query).all(), table.name
        # MLflow's migrations seed exactly one row; the Default experiment comes later.
        with ours.connect() as conn:
            assert conn.execute(sa.select(schema.workspaces.c.name)).scalars().all() == ["default"]
    finally:
        theirs.dispose()


def test_metadata_autogenerates_no_changes_against_mlflow_db(dialect: str, mlflow_url: str) -> None:
    engine = sa.create_engine(mlflow_url)
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            warnings.simplefilter("error")
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            diffs = compare_metadata(context, schema.metadata)
    finally:
        engine.dispose()
    if dialect == "sqlite":
        # SQLite has no identity columns (an INTEGER PRIMARY KEY is one implicitly), so alembic
        # always sees the rollup tables' Identity() as a default to add; MLflow's models too.
        diffs = [d for d in diffs if not _is_identity_default(d)]
    assert diffs == []


def _is_identity_default(diff: Any) -> bool:
    return (
        isinstance(diff, list)
        and len(diff) == 1
        and diff[0][0] == "modify_default"
        and diff[0][5] is None
        and isinstance(diff[0][6], sa.Identity)
    )


def test_migration_is_frozen() -> None:
    # The base revision must spell out its DDL: importing the live metadata would make it
    # create later columns too, breaking every revision that adds them afterwards.
    versions = Path(migrate.__file__).parent / "migrations" / "versions"
    files = sorted(versions.glob("*.py"))
    assert [f.name.split("_")[0] for f in files] == [migrate.HEAD]
    tree = ast.parse(files[0].read_text())
    imported = {
        alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not [name for name in imported if name.startswith("runyard")]
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert "create_all" not in calls
