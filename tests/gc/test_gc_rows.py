"""``runyard gc`` end to end through the CLI: exactly the right rows of every table and exactly the
right artifact directories go, on SQLite and PostgreSQL; ``--dry-run`` changes nothing; a purged
experiment's name can be used again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import Result

from runyard.services import experiments, runs
from runyard.services.context import Ctx
from runyard.store import auth, auth_schema, schema
from runyard.store.engine import Connection
from tests.gc.world import Predicate, Snapshot, World, snapshot

RUN_REFERENCES = {"run_uuid", "run_id", "source_run_id"}
# Columns that name a run without a foreign key and belong to something that is not purged.
LEFT_ALONE = {
    ("model_versions", "run_id"),  # the registry keeps its version's provenance
    ("logged_models", "source_run_id"),  # a model outlives the run that logged it
    ("assessments", "run_id"),  # an assessment belongs to its trace
}


def expected_after(before: Snapshot, world: World) -> Snapshot:
    """``before`` minus what belongs to the purged runs and experiments, with the two
    ``ON DELETE SET NULL`` references cleared."""
    gone_runs, gone_exps = world.purged_runs, world.purged_experiments

    def of_gone_experiment(table: str, key: str) -> set[Any]:
        return {r[key] for r in before[table] if r["experiment_id"] in gone_exps}

    models = of_gone_experiment("logged_models", "model_id")
    traces = of_gone_experiment("trace_info", "request_id")
    datasets = of_gone_experiment("datasets", "dataset_uuid")
    scorers = of_gone_experiment("scorers", "scorer_id")
    queues = of_gone_experiment("review_queues", "queue_id")

    def link_goes(r: dict[str, Any]) -> bool:
        return (
            (r["destination_type"] == "RUN" and r["destination_id"] in gone_runs)
            or (r["source_type"] in ("RUN_INPUT", "RUN_OUTPUT") and r["source_id"] in gone_runs)
            or (r["source_type"] == "DATASET" and r["source_id"] in datasets)
            or (
                r["destination_type"] in ("MODEL_INPUT", "MODEL_OUTPUT")
                and r["destination_id"] in models
            )
        )

    gone_inputs = {r["input_uuid"] for r in before["inputs"] if link_goes(r)}
    gone_ends = (
        {("run", r) for r in gone_runs}
        | {("experiment", str(e)) for e in gone_exps}
        | {("model", m) for m in models}
        | {("trace", t) for t in traces}
    )

    def by(key: str, values: set[Any]) -> Predicate:
        return lambda r: r[key] in values

    in_gone_exp = by("experiment_id", gone_exps)
    goes: dict[str, Predicate] = {
        "runs": by("run_uuid", gone_runs),
        **{t: by("run_uuid", gone_runs) for t in ("metrics", "latest_metrics", "params", "tags")},
        "inputs": link_goes,
        "input_tags": by("input_uuid", gone_inputs),
        "entity_associations": lambda r: (
            (r["source_type"], r["source_id"]) in gone_ends
            or (r["destination_type"], r["destination_id"]) in gone_ends
        ),
        "logged_model_metrics": lambda r: r["model_id"] in models or r["run_id"] in gone_runs,
        "logged_model_params": by("model_id", models),
        "logged_model_tags": by("model_id", models),
        "span_metrics": by("trace_id", traces),
        "spans": by("trace_id", traces),
        "assessments": by("trace_id", traces),
        "trace_tags": by("request_id", traces),
        "trace_request_metadata": by("request_id", traces),
        "trace_metrics": by("request_id", traces),
        "scorer_versions": by("scorer_id", scorers),
        "online_scoring_configs": by("scorer_id", scorers),
        "review_queue_items": by("queue_id", queues),
        "review_queue_label_schemas": by("queue_id", queues),
        "review_queue_users": by("queue_id", queues),
    }
    for table in (
        "experiments",
        "experiment_tags",
        "datasets",
        "logged_models",
        "trace_info",
        "scorers",
        "review_queues",
        "label_schemas",
        "issues",
        "sql_assessment_daily_rollups",
        "sql_span_cost_daily_rollups",
        "sql_trace_metric_daily_rollups",
        "sql_trace_rollup_rebuild_queue",
        "runyard_experiment_permissions",
    ):
        goes[table] = in_gone_exp
    cleared: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "issues": lambda r: {**r, "source_run_id": None} if r["source_run_id"] in gone_runs else r,
        "endpoints": lambda r: (
            {**r, "experiment_id": None} if r["experiment_id"] in gone_exps else r
        ),
    }
    after: Snapshot = {}
    for table, rows in before.items():
        doomed = goes.get(table, lambda _r: False)
        fix = cleared.get(table, lambda r: r)
        after[table] = sorted((fix(r) for r in rows if not doomed(r)), key=repr)
        if table in goes:  # the world exercises every rule: something goes, something stays
            assert len(after[table]) < len(rows), f"{table}: nothing to purge in the test data"
            assert after[table], f"{table}: nothing survives in the test data"
    return after


def test_gc_removes_exactly_the_old_deleted_rows_and_artifacts(
    world: World, run_gc: Callable[..., Result]
) -> None:
    before = snapshot(world.ctx)
    want = expected_after(before, world)

    result = run_gc("--older-than", "30d")

    assert result.exit_code == 0, result.output
    assert "Purged 2 experiments and 7 runs." in result.output
    for run_id in world.purged_runs:
        assert f"  run {run_id}\n" in result.stdout
    after = snapshot(world.ctx)
    assert after.keys() == want.keys()
    for table in want:
        assert after[table] == want[table], table
    issue = next(r for r in after["issues"] if r["issue_id"] == "iss-run")
    assert issue["source_run_id"] is None  # the rule above did apply somewhere

    for directory in world.purged_dirs:
        assert not directory.exists(), directory
    kept = [f for f in world.files if not any(f.is_relative_to(d) for d in world.purged_dirs)]
    assert len(kept) < len(world.files)
    for path in kept:
        assert path.read_text(), path
    # What gc could not or would not delete is said, with why.
    f_uri = f"s3://bucket/f-root/{world.runs['f_old']}/artifacts"
    assert f"  {f_uri}: a direct s3: location" in result.stderr
    g_root = (world.direct / "g-root").as_uri()
    assert f"  {g_root}: it does not end in '{world.eids['G']}'" in result.stderr

    again = run_gc("--older-than", "30d")
    assert again.exit_code == 0 and again.stdout == "Nothing to purge.\n"


def test_without_older_than_every_deleted_thing_goes(
    world: World, run_gc: Callable[..., Result]
) -> None:
    result = run_gc()
    assert result.exit_code == 0, result.output
    assert "Purged 3 experiments and 9 runs." in result.stdout  # plus C (c1) and a_new
    after = snapshot(world.ctx)
    assert {r["lifecycle_stage"] for r in after["runs"]} == {"active"}
    assert {r["lifecycle_stage"] for r in after["experiments"]} == {"active"}


def test_dry_run_prints_what_would_go_and_changes_nothing(
    world: World, run_gc: Callable[..., Result]
) -> None:
    before = snapshot(world.ctx)

    result = run_gc("--older-than", "30d", "--dry-run")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Would purge 2 experiments (with 3 runs) and 4 other deleted runs:"
    assert f"  experiment {world.eids['B']} 'exp-B' (2 runs)" in lines
    assert f"  experiment {world.eids['G']} 'exp-G' (1 run)" in lines
    for label in ("a_old", "e_old", "e_plain", "f_old"):
        assert f"  run {world.runs[label]}" in lines
    assert lines[-1] == "Dry run: nothing was deleted."
    assert snapshot(world.ctx) == before
    for path in world.files:
        assert path.exists(), path


def test_purged_experiment_name_can_be_used_again(
    world: World, run_gc: Callable[..., Result]
) -> None:
    ctx = world.ctx
    assert run_gc("--experiment-ids", str(world.eids["B"])).exit_code == 0

    eid = experiments.create(ctx, "exp-B", None, [])

    assert experiments.get_by_name(ctx, "exp-B").experiment_id == eid
    assert not (world.destination / str(eid)).exists()  # a reused id would start empty
    run = runs.create(ctx, str(eid), "ann", None, [], "fresh")
    assert runs.get(ctx, run.info.run_id).info.experiment_id == eid


def test_every_table_that_names_a_run_or_experiment_is_covered() -> None:
    """A new MLflow table pointing at runs or experiments must get a gc rule (or a reason)."""
    ruled = {
        "runs", "metrics", "latest_metrics", "params", "tags", "inputs", "input_tags",
        "entity_associations", "logged_model_metrics", "logged_model_params",
        "logged_model_tags", "span_metrics", "spans", "assessments", "trace_tags",
        "trace_request_metadata", "trace_metrics", "scorer_versions", "online_scoring_configs",
        "review_queue_items", "review_queue_label_schemas", "review_queue_users", "experiments",
        "experiment_tags", "datasets", "logged_models", "trace_info", "scorers", "review_queues",
        "label_schemas", "issues", "sql_assessment_daily_rollups", "sql_span_cost_daily_rollups",
        "sql_trace_metric_daily_rollups", "sql_trace_rollup_rebuild_queue", "endpoints",
        "runyard_experiment_permissions",
    }  # fmt: skip
    tables = {**schema.metadata.tables, **auth_schema.metadata.tables}
    for name, table in tables.items():
        columns = set(table.c.keys())
        names_one = "experiment_id" in columns or any(
            (name, c) not in LEFT_ALONE for c in columns & RUN_REFERENCES
        )
        if names_one:
            assert name in ruled, f"{name} points at runs or experiments but gc has no rule for it"


def test_a_reused_experiment_id_inherits_nothing(
    ctx: Ctx, tmp_path: Path, run_gc: Callable[..., Result]
) -> None:
    """SQLite hands the highest id out again: the next experiment must not find the purged
    one's permission grants or artifacts under it."""
    eid = experiments.create(ctx, "last", None, [])
    run_id = runs.create(ctx, str(eid), "ann", None, [], "r").info.run_id
    leftover = tmp_path / "artifacts" / str(eid) / run_id / "artifacts" / "weights.bin"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"\0" * 10)

    def grant(conn: Connection) -> None:
        auth.ensure_tables(conn)
        auth.insert_grant(conn, auth.insert_user(conn, "bob", "h", False, 1), eid, "MANAGE")

    ctx.db.write(grant)
    experiments.delete(ctx, str(eid))
    assert run_gc().exit_code == 0

    new = experiments.create(ctx, "next", None, [])
    if ctx.db.dialect == "sqlite":
        assert new == eid  # what makes this matter
    assert ctx.db.read(lambda conn: auth.list_grants(conn, experiment_id=new)) == []
    assert not (tmp_path / "artifacts" / str(new)).exists()
