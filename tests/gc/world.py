"""A database and artifact tree with something of everything, for ``runyard gc`` tests.

Experiments (deleted ones were deleted OLD = 40 days or NEW = 10 days ago):

* ``A`` active, proxied root: ``a_live`` (active), ``a_old`` (deleted OLD), ``a_new`` (deleted
  NEW); logged model ``m_a`` (its source run is ``a_old``); trace ``t-A``; every extra table.
* ``B`` deleted OLD, proxied root: ``b1``, and ``b2`` forced back to ``active`` (a deleted
  experiment's runs go with it whatever their stage); logged model ``m_b`` (``a_old`` used it
  as an input); dataset, trace ``t-B`` and every extra table.
* ``C`` deleted NEW: ``c1``; every extra table. Too young for ``--older-than 30d``.
* ``E`` active, ``file:`` root: ``e_live``, ``e_old`` (deleted OLD), ``e_plain`` (deleted OLD,
  its artifact URI a plain absolute path).
* ``F`` active, ``s3:`` root: ``f_old`` (deleted OLD): its artifacts cannot be reached.
* ``G`` deleted OLD, ``file:`` root not named after its id: ``g1``.

With ``--older-than 30d`` gc purges runs ``a_old e_old e_plain f_old`` on their own and
experiments ``B`` and ``G`` with their runs.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runyard.domain.entities import Dataset, DatasetInput, Metric, ModelIO, Param, Tag
from runyard.services import experiments, logged_models, runs
from runyard.services.artifacts import proxied_path
from runyard.services.context import Ctx, now_ms
from runyard.store import auth, schema
from runyard.store.engine import Connection

DAY_MS = 24 * 3600 * 1000


class Clock:
    """A settable clock for Ctx: deletions are stamped with whatever time it shows."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@dataclass
class World:
    ctx: Ctx
    clock: Clock
    destination: Path  # the proxied artifact store's root
    direct: Path  # where the file: roots live
    now: int
    eids: dict[str, int] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)  # label -> run id
    models: dict[str, str] = field(default_factory=dict)
    artifact_dirs: dict[str, Path] = field(default_factory=dict)  # label -> a directory
    files: list[Path] = field(default_factory=list)  # every artifact file written

    @property
    def old(self) -> int:
        return self.now - 40 * DAY_MS

    @property
    def new(self) -> int:
        return self.now - 10 * DAY_MS

    def at(self, when: int) -> Ctx:
        self.clock.now = when
        return self.ctx

    # -- what gc with --older-than 30d must remove ------------------------------------------

    @property
    def purged_experiments(self) -> set[int]:
        return {self.eids["B"], self.eids["G"]}

    @property
    def purged_runs(self) -> set[str]:
        return {self.runs[k] for k in ("a_old", "e_old", "e_plain", "f_old", "b1", "b2", "g1")}

    @property
    def purged_dirs(self) -> set[Path]:
        return {self.artifact_dirs[k] for k in ("a_old", "e_old", "e_plain", "exp_B", "g1")}


def build(ctx: Ctx, destination: Path, direct: Path) -> World:
    clock = Clock(now_ms())
    world = World(dataclasses.replace(ctx, clock=clock), clock, destination, direct, clock.now)
    _experiment_a(world)
    _experiment_b(world)
    _delete_run(world, "a_old", world.old)
    _delete_run(world, "a_new", world.new)
    _experiment_c(world)
    _direct_roots(world)
    world.ctx.db.write(lambda conn: _extras_for_all(world, conn))
    world.clock.now = world.now
    return world


def _new_experiment(world: World, label: str, location: str | None = None) -> int:
    eid = experiments.create(world.at(world.now - 60 * DAY_MS), f"exp-{label}", location, [])
    world.eids[label] = eid
    return eid


def _new_run(world: World, label: str, eid: int, rich: bool = True) -> str:
    ctx = world.at(world.now - 50 * DAY_MS)
    run_id = runs.create(ctx, str(eid), "ann", None, [Tag("kind", label)], label).info.run_id
    world.runs[label] = run_id
    if rich:
        metrics = [Metric("loss", 1.0 / (s + 1), 1000 + s, s) for s in range(3)]
        runs.log_batch(ctx, run_id, metrics, [Param("lr", "0.1")], [Tag("note", label)])
    uri = runs.get(ctx, run_id).info.artifact_uri
    world.artifact_dirs[label] = _write_artifacts(world, uri, label)
    return run_id


def _write_artifacts(world: World, uri: str, label: str) -> Path:
    """A file under the artifact URI; returns the directory gc would delete (its parent)."""
    if uri.startswith("mlflow-artifacts:"):
        root = world.destination / proxied_path(uri)
    elif uri.startswith("file:"):
        root = Path(uri.removeprefix("file://"))
    elif uri.startswith("/"):
        root = Path(uri)
    else:
        return Path("/nonexistent") / label  # not reachable (s3:): nothing written
    target = root / "model" / f"{label}.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(label)
    world.files.append(target)
    return root.parent


def _delete_run(world: World, label: str, when: int) -> None:
    runs.delete(world.at(when), world.runs[label])


def _dataset(name: str) -> DatasetInput:
    return DatasetInput(Dataset(name, "d1g3st", "local", '{"uri": "x"}'), [Tag("ctx", "train")])


def _experiment_a(world: World) -> None:
    eid = _new_experiment(world, "A")
    for label in ("a_live", "a_old", "a_new"):
        _new_run(world, label, eid)
    ctx = world.at(world.now - 45 * DAY_MS)
    experiments.set_tag(ctx, str(eid), Tag("team", "a"))
    model = logged_models.create(
        ctx, str(eid), "m-a", "sk", world.runs["a_old"], [Param("p", "1")], [Tag("t", "1")]
    )
    world.models["m_a"] = model.model_id
    world.artifact_dirs["m_a"] = _write_artifacts(world, model.artifact_location, "m_a")
    for label in ("a_live", "a_old"):
        runs.log_inputs(ctx, world.runs[label], [_dataset("data-a")], [])
        runs.log_outputs(ctx, world.runs[label], [ModelIO(model.model_id, 2)])
        metric = Metric("acc", 0.5, 1000, 0, model_id=model.model_id)
        runs.log_batch(ctx, world.runs[label], [metric], [], [])


def _experiment_b(world: World) -> None:
    eid = _new_experiment(world, "B")
    world.artifact_dirs["exp_B"] = world.destination / str(eid)
    for label in ("b1", "b2"):
        _new_run(world, label, eid)
    ctx = world.at(world.now - 45 * DAY_MS)
    model = logged_models.create(
        ctx, str(eid), "m-b", "sk", world.runs["b1"], [Param("p", "2")], [Tag("t", "2")]
    )
    world.models["m_b"] = model.model_id
    _write_artifacts(world, model.artifact_location, "m_b")
    runs.log_inputs(ctx, world.runs["b1"], [_dataset("data-b")], [])
    runs.log_batch(
        ctx, world.runs["b1"], [Metric("acc", 0.7, 1, 0, model_id=model.model_id)], [], []
    )
    runs.log_inputs(ctx, world.runs["a_old"], [], [ModelIO(model.model_id)])
    runs.log_inputs(ctx, world.runs["a_live"], [], [ModelIO(model.model_id)])
    experiments.set_tag(ctx, str(eid), Tag("team", "b"))
    experiments.delete(world.at(world.old), str(eid))
    # A deleted experiment's runs go with it even when one of them is (somehow) active.
    b2 = world.runs["b2"]
    world.ctx.db.write(
        lambda conn: conn.execute(
            schema.runs.update()
            .where(schema.runs.c.run_uuid == b2)
            .values(lifecycle_stage="active", deleted_time=None)
        )
    )


def _experiment_c(world: World) -> None:
    eid = _new_experiment(world, "C")
    _new_run(world, "c1", eid)
    experiments.set_tag(world.ctx, str(eid), Tag("team", "c"))
    experiments.delete(world.at(world.new), str(eid))


def _direct_roots(world: World) -> None:
    e = _new_experiment(world, "E", (world.direct / "e-root").as_uri())
    for label in ("e_live", "e_old", "e_plain"):
        _new_run(world, label, e, rich=label != "e_plain")
    plain = str(world.direct / "e-root" / world.runs["e_plain"] / "artifacts")
    run_id = world.runs["e_plain"]
    world.ctx.db.write(
        lambda conn: conn.execute(
            schema.runs.update().where(schema.runs.c.run_uuid == run_id).values(artifact_uri=plain)
        )
    )
    _delete_run(world, "e_old", world.old)
    _delete_run(world, "e_plain", world.old)
    f = _new_experiment(world, "F", "s3://bucket/f-root")
    _new_run(world, "f_old", f)
    _delete_run(world, "f_old", world.old)
    g = _new_experiment(world, "G", (world.direct / "g-root").as_uri())
    _new_run(world, "g1", g)
    (world.direct / "g-root" / "keep.txt").write_text("not gc's to take")
    world.files.append(world.direct / "g-root" / "keep.txt")
    experiments.delete(world.at(world.old), str(g))


# --- rows of tables runyard has no API for (traces, scorers, queues, gateway, ...) -----------


def _insert(conn: Connection, table: sa.Table, **row: Any) -> None:
    conn.execute(table.insert().values(**row))


def _extras_for_all(world: World, conn: Connection) -> None:
    _insert(conn, schema.evaluation_datasets, dataset_id="ed-1", name="golden")
    auth.ensure_tables(conn)
    user = auth.insert_user(conn, "ann", "not-a-real-hash", False, 1)
    for label in ("A", "B", "C", "G"):
        auth.insert_grant(conn, user, world.eids[label], "MANAGE")
    _insert(conn, schema.registered_models, name="reg")
    for label in ("A", "B", "C"):
        _experiment_extras(conn, world.eids[label], label)
    # Rows of other entities that point at the purged run a_old.
    a_old, a = world.runs["a_old"], world.eids["A"]
    _insert(conn, schema.issues, **_issue("iss-run", a, a_old))
    _insert(conn, schema.entity_associations, **_assoc("trace", "t-A", "run", a_old))
    _insert(conn, schema.entity_associations, **_assoc("trace", "t-A", "run", world.runs["a_live"]))
    _insert(
        conn,
        schema.assessments,
        **_assessment("as-run", "t-A", a),
        run_id=a_old,  # no foreign key; the assessment belongs to a surviving trace
    )
    _insert(conn, schema.model_versions, name="reg", version=1, run_id=a_old, source="x")


def _experiment_extras(conn: Connection, eid: int, label: str) -> None:
    trace, scorer, queue = f"t-{label}", f"sc-{label}", f"q-{label}"
    day = datetime.date(2026, 1, 1)
    _insert(
        conn, schema.trace_info, request_id=trace, experiment_id=eid, timestamp_ms=1, status="OK"
    )
    _insert(conn, schema.trace_tags, key="k", value="v", request_id=trace)
    _insert(conn, schema.trace_request_metadata, key="k", value="v", request_id=trace)
    _insert(conn, schema.trace_metrics, request_id=trace, key="tokens", value=3.0)
    _insert(
        conn,
        schema.spans,
        trace_id=trace,
        experiment_id=eid,
        span_id="s1",
        status="OK",
        start_time_unix_nano=1,
        end_time_unix_nano=5,
        content="{}",
    )
    _insert(conn, schema.span_metrics, trace_id=trace, span_id="s1", key="cost", value=0.1)
    _insert(conn, schema.assessments, **_assessment(f"as-{label}", trace, eid))
    _insert(conn, schema.scorers, experiment_id=eid, scorer_name="judge", scorer_id=scorer)
    _insert(
        conn, schema.scorer_versions, scorer_id=scorer, scorer_version=1, serialized_scorer="{}"
    )
    _insert(
        conn,
        schema.online_scoring_configs,
        online_scoring_config_id=f"osc-{label}",
        scorer_id=scorer,
        sample_rate=0.5,
        experiment_id=eid,
    )
    _insert(
        conn,
        schema.review_queues,
        queue_id=queue,
        experiment_id=eid,
        name="q",
        queue_type="trace",
        creation_time_ms=1,
        last_update_time_ms=1,
        name_key="q",
    )
    _insert(
        conn,
        schema.review_queue_items,
        queue_id=queue,
        item_type="trace",
        item_id=trace,
        status="PENDING",
        creation_time_ms=1,
        last_update_time_ms=1,
    )
    _insert(conn, schema.review_queue_label_schemas, queue_id=queue, schema_id=f"ls-{label}")
    _insert(conn, schema.review_queue_users, queue_id=queue, user_id="ann")
    _insert(
        conn,
        schema.label_schemas,
        schema_id=f"ls-{label}",
        experiment_id=eid,
        name="quality",
        type="feedback",
        input_type="text",
        input_config="{}",
        created_time=1,
        last_update_time=1,
    )
    _insert(conn, schema.issues, **_issue(f"iss-{label}", eid, None))
    for table in (
        schema.sql_assessment_daily_rollups,
        schema.sql_span_cost_daily_rollups,
        schema.sql_trace_metric_daily_rollups,
    ):
        _insert(
            conn,
            table,
            experiment_id=eid,
            rollup_day=day,
            metric_name="m",
            grouping_set="all",
            sample_count=1,
        )
    _insert(
        conn,
        schema.sql_trace_rollup_rebuild_queue,
        experiment_id=eid,
        rollup_day=day,
        rollup_family="trace",
    )
    _insert(
        conn,
        schema.endpoints,
        endpoint_id=f"ep-{label}",
        name=f"ep-{label}",
        created_at=1,
        last_updated_at=1,
        experiment_id=eid,
    )
    _insert(
        conn,
        schema.entity_associations,
        **_assoc("experiment", str(eid), "evaluation_dataset", "ed-1"),
    )
    _insert(conn, schema.entity_associations, **_assoc("trace", trace, "experiment", str(eid)))


def _issue(issue_id: str, eid: int, run_id: str | None) -> dict[str, Any]:
    return {
        "issue_id": issue_id,
        "experiment_id": eid,
        "name": "slow",
        "description": "d",
        "status": "open",
        "source_run_id": run_id,
        "created_timestamp": 1,
        "last_updated_timestamp": 1,
    }


def _assessment(assessment_id: str, trace: str, eid: int) -> dict[str, Any]:
    return {
        "assessment_id": assessment_id,
        "trace_id": trace,
        "name": "ok",
        "assessment_type": "feedback",
        "value": "true",
        "created_timestamp": 1,
        "last_updated_timestamp": 1,
        "source_type": "HUMAN",
        "valid": True,
        "experiment_id": eid,
    }


def _assoc(src_type: str, src: str, dst_type: str, dst: str) -> dict[str, Any]:
    return {
        "association_id": f"{src}>{dst}",
        "source_type": src_type,
        "source_id": src,
        "destination_type": dst_type,
        "destination_id": dst,
    }


# --- whole-database snapshots -----------------------------------------------------------------

Snapshot = dict[str, list[dict[str, Any]]]


def snapshot(ctx: Ctx) -> Snapshot:
    """Every row of every table the database holds (reflected, so nothing is overlooked)."""
    meta = sa.MetaData()
    meta.reflect(ctx.db.engine)

    def read(conn: Connection) -> Snapshot:
        return {
            name: sorted((dict(row._mapping) for row in conn.execute(sa.select(table))), key=repr)
            for name, table in meta.tables.items()
        }

    return ctx.db.read(read)


Predicate = Callable[[dict[str, Any]], bool]
