"""What ``runyard gc`` selects and refuses: --older-than, named ids, things restored meanwhile,
guardrails in the way; batches of set-based statements; settings sources like the server's."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from runyard.artifacts.base import StorageUnavailable
from runyard.artifacts.local import LocalArtifactStore
from runyard.cli import main
from runyard.domain.entities import Metric, Param, Tag
from runyard.errors import InvalidParameterValue, InvalidState
from runyard.services import experiments, gc, runs
from runyard.services.context import Ctx
from runyard.store import schema
from tests.gc.world import DAY_MS, World, snapshot


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("30d", 30 * DAY_MS),
        ("12h", 12 * 3600_000),
        ("90m", 90 * 60_000),
        ("0s", 0),
        ("1d12h", 36 * 3600_000),
        ("1.5h", 90 * 60_000),
        ("2d3h4m5s", ((2 * 24 + 3) * 60 + 4) * 60_000 + 5000),
    ],
)
def test_older_than_durations(text: str, ms: int) -> None:
    assert gc.parse_older_than(text) == ms


@pytest.mark.parametrize("text", ["", "3w", "10", "d", "1h1d", "-1d", "1 d", "30 days", "1.2.3h"])
def test_older_than_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(InvalidParameterValue) as err:
        gc.parse_older_than(text)
    assert err.value.message.startswith(f"{text!r} is not a duration: give a number with a unit")
    assert "30d, 12h, 90m, 0s" in err.value.message


def test_cli_says_which_option_is_wrong(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["gc", "--older-than", "3 weeks"])
    assert result.exit_code == 2
    assert "Invalid value for '--older-than': '3 weeks' is not a duration" in result.output


def test_cli_refuses_a_database_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    result = CliRunner().invoke(main, ["gc", "--backend-store-uri", f"sqlite:///{missing}"])
    assert result.exit_code == 2
    assert f"no database at {missing}" in result.output
    assert not missing.exists()


def test_named_ids_must_exist_be_deleted_and_be_old_enough(
    world: World, run_gc: Callable[..., Result]
) -> None:
    before = snapshot(world.ctx)
    r = world.runs
    result = run_gc(
        "--older-than",
        "30d",
        "--run-ids",
        f"{r['a_live']},{r['a_new']},{r['a_old']},nope",
        "--experiment-ids",
        f"{world.eids['A']},{world.eids['C']},424242,{world.eids['B']}",
    )
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Error: Nothing was purged:",
        f"  Experiment {world.eids['A']} is not deleted (it is active); only deleted "
        "experiments can be purged.",
        f"  Experiment {world.eids['C']} was deleted less than 30d ago.",
        "  Experiment 424242 does not exist.",
        f"  Run {r['a_live']} is not deleted (it is active); only deleted runs can be purged.",
        f"  Run {r['a_new']} was deleted less than 30d ago.",
        "  Run 'nope' does not exist.",
    ]
    assert snapshot(world.ctx) == before


def test_named_ids_are_all_that_goes(world: World, run_gc: Callable[..., Result]) -> None:
    r = world.runs
    result = run_gc(
        "--run-ids", f"{r['a_old']},{r['b1']}", "--experiment-ids", str(world.eids["G"])
    )
    assert result.exit_code == 0, result.output
    # b1 goes alone (its experiment B was not named); g1 goes with G.
    assert "Purged 1 experiment and 3 runs." in result.stdout
    left = {row["run_uuid"] for row in snapshot(world.ctx)["runs"]}
    assert left.isdisjoint({r["a_old"], r["b1"], r["g1"]})
    assert {r["a_new"], r["e_old"], r["f_old"], r["b2"], r["c1"]} <= left
    assert not world.artifact_dirs["b1"].exists()
    assert world.artifact_dirs["b2"].exists() and world.artifact_dirs["e_old"].exists()


def _proxied(world: World) -> Ctx:
    return dataclasses.replace(world.ctx, artifacts=LocalArtifactStore(world.destination))


def test_what_was_restored_after_planning_is_left_alone(world: World) -> None:
    ctx = _proxied(world)
    plan = gc.plan(ctx, "30d")
    runs.restore(ctx, world.runs["a_old"])
    experiments.restore(ctx, str(world.eids["G"]))

    report = anyio.run(gc.collect, ctx, plan)

    assert report.error is None
    assert world.runs["a_old"] not in report.runs
    assert report.experiments == [world.eids["B"]]
    assert sorted(report.skipped) == sorted(
        [
            f"run {world.runs['a_old']}: restored or deleted again since gc started; left alone",
            f"experiment {world.eids['G']}: restored or deleted again since gc started; left alone",
        ]
    )
    assert runs.get(ctx, world.runs["a_old"]).info.lifecycle_stage == "active"
    assert world.artifact_dirs["a_old"].exists() and world.artifact_dirs["g1"].exists()


def test_progress_counts_every_run_and_experiment(world: World) -> None:
    ctx = _proxied(world)
    plan = gc.plan(ctx, "30d")
    steps: list[int] = []

    report = anyio.run(gc.collect, ctx, plan, steps.append)

    assert plan.steps == 7 + 2 and sum(steps) == plan.steps
    assert sorted(report.runs) == sorted(world.purged_runs)
    assert sorted(report.experiments) == sorted(world.purged_experiments)


def _deleted_runs(ctx: Ctx, eid: int, n: int) -> list[str]:
    ids = []
    for i in range(n):
        run_id = runs.create(ctx, str(eid), "u", None, [], f"r{i}").info.run_id
        metrics = [Metric("m", float(s), 1, s) for s in range(3)]
        runs.log_batch(ctx, run_id, metrics, [Param("p", "1")], [Tag("t", "1")])
        runs.delete(ctx, run_id)
        ids.append(run_id)
    return ids


def _statements_to_collect(ctx: Ctx) -> tuple[int, gc.Report]:
    plan = gc.plan(ctx)
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(ctx.db.engine, "before_cursor_execute", count)
    try:
        report = anyio.run(gc.collect, ctx, plan)
    finally:
        sa.event.remove(ctx.db.engine, "before_cursor_execute", count)
    return len(seen), report


def test_statements_per_batch_do_not_grow_with_its_runs(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Set-based: purging 4 runs or 40 in one batch takes the same statements; 40 runs in
    batches of 10 take four batches' worth."""
    eid = experiments.create(ctx, "many", None, [])
    _deleted_runs(ctx, eid, 4)
    few, report = _statements_to_collect(ctx)
    assert len(report.runs) == 4
    _deleted_runs(ctx, eid, 40)
    many, report = _statements_to_collect(ctx)
    assert len(report.runs) == 40
    assert many == few > 10, (few, many)
    monkeypatch.setattr(gc, "BATCH_SIZE", 10)
    ids = _deleted_runs(ctx, eid, 40)
    batched, report = _statements_to_collect(ctx)
    assert report.runs == sorted(ids) and batched == 4 * few


def test_a_big_deleted_experiment_goes_in_batches(
    ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gc, "BATCH_SIZE", 7)
    eid = experiments.create(ctx, "big", None, [])
    ids = _deleted_runs(ctx, eid, 30)
    experiments.delete(ctx, str(eid))
    plan = gc.plan(ctx, experiment_ids=[str(eid)])
    assert plan.experiment_runs == {eid: 30} and plan.runs == []
    steps: list[int] = []

    report = anyio.run(gc.collect, ctx, plan, steps.append)

    assert steps == [7, 7, 7, 7, 2, 1]  # five batches of runs, then the experiment
    assert sorted(report.runs) == sorted(ids) and report.experiments == [eid]
    assert (
        ctx.db.read(
            lambda c: c.execute(sa.select(sa.func.count()).select_from(schema.metrics)).scalar()
        )
        == 0
    )


def test_guardrails_on_a_purged_experiments_scorer_stop_gc(world: World) -> None:
    def add_guardrail(conn: Any) -> None:
        conn.execute(
            schema.guardrails.insert().values(
                guardrail_id="g-1",
                name="pii-check",
                scorer_id="sc-B",
                scorer_version=1,
                stage="input",
                action="block",
                created_at=1,
                last_updated_at=1,
            )
        )

    world.ctx.db.write(add_guardrail)
    with pytest.raises(InvalidState, match="Gateway guardrails pii-check use scorers"):
        gc.plan(world.ctx, "30d")


def test_settings_come_from_config_and_environment_like_the_server(
    world: World, db_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "runyard.toml"
    config.write_text(f'[server]\nbackend_store_uri = "{db_url}"\n')
    env = {"RUNYARD_ARTIFACTS_DESTINATION": str(world.destination)}
    result = CliRunner(env=env).invoke(
        main, ["gc", "--config", str(config), "--run-ids", world.runs["a_old"]]
    )
    assert result.exit_code == 0, result.output
    assert "Purged 0 experiments and 1 run." in result.stdout
    assert not world.artifact_dirs["a_old"].exists()  # found through the env's destination
    assert "Purging" not in result.output  # no progress bar when stderr is not a terminal


class _FailingStore(LocalArtifactStore):
    """The proxied store, unreachable for one path: the fault gc must survive cleanly."""

    def __init__(self, root: Path, broken: str) -> None:
        super().__init__(root)
        self.broken = broken

    async def delete(self, path: str) -> None:
        if path == self.broken:
            raise StorageUnavailable(f"cannot reach {path}")
        await super().delete(path)


def test_a_failing_artifact_store_stops_gc_and_keeps_that_batchs_rows(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gc, "BATCH_SIZE", 1)
    b1 = world.runs["b1"]
    broken = f"{world.eids['B']}/{b1}"
    ctx = dataclasses.replace(world.ctx, artifacts=_FailingStore(world.destination, broken))
    plan = gc.plan(ctx, "30d")

    report = anyio.run(gc.collect, ctx, plan)

    assert report.error == f"cannot reach {broken}"
    standalone = {world.runs[k] for k in ("a_old", "e_old", "e_plain", "f_old")}
    assert standalone <= set(report.runs) <= world.purged_runs - {b1}  # b2 may precede b1
    assert report.experiments == []
    assert runs.get(ctx, b1).info.lifecycle_stage == "deleted"  # rolled back, still deleted
    assert world.artifact_dirs["b1"].exists()
    # Once the store is back, gc finishes the job.
    healed = dataclasses.replace(ctx, artifacts=LocalArtifactStore(world.destination))
    rest = anyio.run(gc.collect, healed, gc.plan(healed, "30d"))
    assert rest.error is None and sorted(rest.experiments) == sorted(world.purged_experiments)
