"""``runyard gc``: permanently delete runs and experiments that were deleted long enough ago.

Two steps. :func:`plan` reads what would go (and refuses ids that are not deleted, not old
enough or do not exist). :func:`collect` removes it, in batches of :data:`BATCH_SIZE` runs per
transaction; a deleted experiment's runs (in any lifecycle stage) go with it, then the
experiment itself in one last transaction. Each transaction first locks and re-checks its rows,
so a run or experiment restored since the plan was made is left alone, then deletes their
artifact directories, then their rows; a failure rolls the rows back (the entity stays deleted
and a later gc finishes the job).

Artifacts: a run's directory is the ``<run_id>`` directory its ``.../<run_id>/artifacts`` URI
names, a logged model's is ``.../models/<model_id>``, and a purged experiment's artifact
location goes too when its last segment is the experiment id (the default layout: it then
holds only that experiment's runs, models and traces, and SQLite may hand the same id to the
next new experiment). Proxied locations (``mlflow-artifacts:``) are deleted through the
server's artifact store, local paths and ``file:`` URIs directly; any other location is left
in place with the reason in the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlsplit

import anyio.from_thread
import anyio.to_thread

from runyard.artifacts.base import ArtifactStore
from runyard.artifacts.registry import open_store
from runyard.domain import validation
from runyard.domain.entities import DELETED
from runyard.errors import InvalidParameterValue, InvalidState, MlflowError
from runyard.services.artifacts import PROXY_SCHEME, proxied_path
from runyard.services.context import Ctx
from runyard.store import purge
from runyard.store.engine import Connection
from runyard.store.experiments import can_exist
from runyard.store.purge import ExperimentState, RunState

BATCH_SIZE = 100  # runs per transaction: bounded lock time and statement size
_RUN_ID_MAX = 32

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_DURATION = re.compile(rf"^(?:{_NUMBER}d)?(?:{_NUMBER}h)?(?:{_NUMBER}m)?(?:{_NUMBER}s)?$")


def parse_older_than(text: str) -> int:
    """``30d``, ``12h``, ``90m``, ``0s`` or a combination in that order (``1d12h``) → ms."""
    found = _DURATION.match(text.strip())
    if not text.strip() or found is None:
        raise InvalidParameterValue(
            f"{text!r} is not a duration: give a number with a unit "
            "d (days), h (hours), m (minutes) or s (seconds), e.g. 30d, 12h, 90m, 0s, "
            "or combine them in that order, e.g. 1d12h."
        )
    days, hours, minutes, seconds = (float(part or 0) for part in found.groups())
    span = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return int(span.total_seconds() * 1000)


# --- planning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    cutoff: int | None  # deleted at or before this time (ms); None: whenever
    experiments: list[ExperimentState]  # to purge, each with all its runs
    experiment_runs: dict[int, int]  # how many runs go with each of them
    runs: list[str]  # deleted runs purged on their own (not in a purged experiment)

    @property
    def run_count(self) -> int:
        return len(self.runs) + sum(self.experiment_runs.values())

    @property
    def steps(self) -> int:
        """Units of progress: one per run and one per experiment."""
        return self.run_count + len(self.experiments)

    @property
    def empty(self) -> bool:
        return not self.runs and not self.experiments


def plan(
    ctx: Ctx,
    older_than: str | None = None,
    experiment_ids: Sequence[str] | None = None,
    run_ids: Sequence[str] | None = None,
) -> Plan:
    """What gc would remove: every deleted experiment and run old enough, or only those named
    (``experiment_ids``/``run_ids``), each of which must then be deleted and old enough."""
    age = None if older_than is None else parse_older_than(older_than)
    cutoff = None if age is None else ctx.clock() - age
    chosen_experiments = None if experiment_ids is None else _parse_ids(experiment_ids)

    def tx(conn: Connection) -> Plan:
        if chosen_experiments is None and run_ids is None:
            experiments = purge.deleted_experiments(conn, cutoff)
            ids = [e.experiment_id for e in experiments]
            runs = purge.deleted_runs(conn, cutoff, ids)
        else:
            problems: list[str] = []
            experiments = _chosen_experiments(
                conn, chosen_experiments or [], cutoff, older_than, problems
            )
            chosen = _chosen_runs(conn, run_ids or [], cutoff, older_than, problems)
            if problems:
                raise InvalidParameterValue("Nothing was purged:\n  " + "\n  ".join(problems))
            ids = [e.experiment_id for e in experiments]
            runs = [r.run_id for r in chosen if r.experiment_id not in ids]  # going anyway
        _refuse_guarded(conn, ids)
        return Plan(cutoff, experiments, purge.run_counts(conn, ids), runs)

    return ctx.db.read(tx)


def _parse_ids(raw: Sequence[str]) -> list[int]:
    return list(dict.fromkeys(validation.parse_experiment_id(i) for i in raw))


def _not_purgeable(
    stage: str | None, deleted: int | None, kind: str, cutoff: int | None, older_than: str | None
) -> str | None:
    """Why a named run or experiment (``stage`` None: not found) may not be purged, or None."""
    if stage is None:
        return "does not exist"
    if stage != DELETED:
        return f"is not deleted (it is {stage}); only deleted {kind} can be purged"
    if cutoff is None:
        return None
    if deleted is None:
        return (
            "has no deletion time recorded, so its age is unknown (purge it without --older-than)"
        )
    if deleted > cutoff:
        return f"was deleted less than {older_than} ago"
    return None


def _chosen_experiments(
    conn: Connection,
    ids: list[int],
    cutoff: int | None,
    older_than: str | None,
    problems: list[str],
) -> list[ExperimentState]:
    found = {
        e.experiment_id: e for e in purge.experiments_by_id(conn, [i for i in ids if can_exist(i)])
    }
    for eid in ids:
        exp = found.get(eid)
        stage, deleted = (exp.lifecycle_stage, exp.last_update_time) if exp else (None, None)
        if why := _not_purgeable(stage, deleted, "experiments", cutoff, older_than):
            problems.append(f"Experiment {eid} {why}.")
    return [found[eid] for eid in ids if eid in found]


def _chosen_runs(
    conn: Connection,
    ids: Sequence[str],
    cutoff: int | None,
    older_than: str | None,
    problems: list[str],
) -> list[RunState]:
    unique = list(dict.fromkeys(ids))
    # run_uuid is VARCHAR(32): a longer id cannot exist (and PostgreSQL would cut it to fit).
    storable = [i for i in unique if len(i) <= _RUN_ID_MAX and "\x00" not in i]
    found = {r.run_id: r for r in purge.runs_by_id(conn, storable)}
    for run_id in unique:
        run = found.get(run_id)
        stage, deleted = (run.lifecycle_stage, run.deleted_time) if run else (None, None)
        if why := _not_purgeable(stage, deleted, "runs", cutoff, older_than):
            problems.append(f"Run {run_id!r} {why}." if run is None else f"Run {run_id} {why}.")
    return [found[run_id] for run_id in unique if run_id in found]


def _refuse_guarded(conn: Connection, experiment_ids: list[int]) -> None:
    blocking = purge.guardrails_using_scorers_of(conn, experiment_ids)
    if blocking:
        raise InvalidState(
            f"Gateway guardrails {', '.join(blocking)} use scorers of experiments that would be "
            "purged; delete those guardrails (or restore the experiments) first. Nothing was "
            "purged."
        )


# --- collecting -------------------------------------------------------------------------------


@dataclass
class Report:
    runs: list[str] = field(default_factory=list)
    experiments: list[int] = field(default_factory=list)
    artifacts_deleted: dict[str, None] = field(default_factory=dict)  # an ordered set of URIs
    artifacts_left: dict[str, str] = field(default_factory=dict)  # URI → why it stayed
    skipped: list[str] = field(default_factory=list)  # what changed while gc ran
    error: str | None = None  # why gc stopped early (what is listed was done)


Progress = Callable[[int], None]


async def collect(ctx: Ctx, plan: Plan, progress: Progress | None = None) -> Report:
    """Remove what ``plan`` lists; ``ctx.artifacts`` is the proxied store (None: leave proxied
    artifacts). Blocking database work runs in worker threads, which call back into this
    event loop for the (async) artifact stores."""
    report = Report()
    advance = progress or (lambda _n: None)
    remover = _Remover(ctx.artifacts, report)
    try:
        for batch in _chunks(plan.runs, BATCH_SIZE):
            step = partial(_purge_run_batch, batch, plan.cutoff, remover)
            purged, skipped = await anyio.to_thread.run_sync(ctx.db.write, step)
            report.runs += purged
            report.skipped += skipped
            advance(len(batch))
        for experiment in plan.experiments:
            await _collect_experiment(ctx, experiment, plan.cutoff, remover, report, advance)
    except MlflowError as exc:
        report.error = exc.message
    return report


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _old_enough(time: int | None, cutoff: int | None) -> bool:
    return cutoff is None or (time is not None and time <= cutoff)


def _purge_run_batch(
    batch: list[str], cutoff: int | None, remover: _Remover, conn: Connection
) -> tuple[list[str], list[str]]:
    states = {s.run_id: s for s in purge.lock_runs(conn, batch)}
    doomed, skipped = [], []
    for run_id in batch:
        state = states.get(run_id)
        if state is None:
            skipped.append(f"run {run_id}: already gone")
        elif state.lifecycle_stage != DELETED or not _old_enough(state.deleted_time, cutoff):
            skipped.append(f"run {run_id}: restored or deleted again since gc started; left alone")
        else:
            doomed.append(state)
    for state in doomed:
        remover.run(state)
    purge.purge_runs(conn, [s.run_id for s in doomed])
    return [s.run_id for s in doomed], skipped


async def _collect_experiment(
    ctx: Ctx,
    experiment: ExperimentState,
    cutoff: int | None,
    remover: _Remover,
    report: Report,
    advance: Progress,
) -> None:
    eid = experiment.experiment_id
    purged = 0
    while True:
        step = partial(_purge_experiment_step, eid, cutoff, remover)
        outcome = await anyio.to_thread.run_sync(ctx.db.write, step)
        if outcome is None:
            report.skipped.append(
                f"experiment {eid}: restored or deleted again since gc started; left alone"
                + (f" ({purged} of its runs were already purged)" if purged else "")
            )
            return
        if not outcome:  # the experiment itself went
            report.experiments.append(eid)
            advance(1)
            return
        report.runs += outcome
        purged += len(outcome)
        advance(len(outcome))


def _purge_experiment_step(
    eid: int, cutoff: int | None, remover: _Remover, conn: Connection
) -> list[str] | None:
    """Purge the experiment's next batch of runs, or, when none is left, the experiment.
    Returns the runs purged ([] when the experiment went), None if it is no longer eligible."""
    state = purge.lock_experiment(conn, eid)
    if (
        state is None
        or state.lifecycle_stage != DELETED
        or not _old_enough(state.last_update_time, cutoff)
    ):
        return None
    runs = purge.next_runs_of_experiment(conn, eid, BATCH_SIZE)
    if runs:
        for run in runs:
            remover.run(run)
        purge.purge_runs(conn, [r.run_id for r in runs])
        return [r.run_id for r in runs]
    for model_id, location in purge.models_of_experiment(conn, eid):
        remover.model(model_id, location)
    remover.experiment(state)
    purge.purge_experiment(conn, eid)
    return []


# --- artifacts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Proxied:
    path: str  # under the artifacts destination


@dataclass(frozen=True)
class _Local:
    directory: Path


class _Remover:
    """Deletes the artifact directories of what is purged; called from worker threads."""

    def __init__(self, proxied: ArtifactStore | None, report: Report) -> None:
        self.proxied = proxied
        self.report = report

    def run(self, run: RunState) -> None:
        self._remove(run.artifact_uri, (run.run_id,), "artifacts")

    def model(self, model_id: str, location: str) -> None:
        self._remove(location, ("models", model_id), "artifacts")

    def experiment(self, experiment: ExperimentState) -> None:
        self._remove(experiment.artifact_location, (str(experiment.experiment_id),), None)

    def _remove(self, uri: str | None, own: tuple[str, ...], inner: str | None) -> None:
        if not uri:
            return
        target = self._locate(uri, own, inner)
        if isinstance(target, str):
            self.report.artifacts_left[uri] = target
            return
        anyio.from_thread.run(self._delete, target)
        self.report.artifacts_deleted[uri] = None

    def _locate(self, uri: str, own: tuple[str, ...], inner: str | None) -> _Proxied | _Local | str:
        """The directory to delete, or why the location is left in place."""
        tail = "/" + "/".join((*own, inner) if inner else own)
        trimmed = uri.rstrip("/")
        if not trimmed.endswith(tail):
            return (
                f"it does not end in {tail[1:]!r}, so it may hold more than what is purged; "
                "left in place"
            )
        directory = trimmed[: len(trimmed) - len(tail)] + "/" + "/".join(own)
        if directory.startswith(PROXY_SCHEME):
            if self.proxied is None:
                return "proxied, but no artifacts destination is configured"
            try:
                return _Proxied(proxied_path(directory))
            except InvalidParameterValue as exc:
                return exc.message
        parts = urlsplit(directory)
        if parts.scheme == "file" and parts.netloc in ("", "localhost"):
            return _Local(Path(unquote(parts.path)))
        if not parts.scheme and directory.startswith("/"):
            return _Local(Path(directory))
        if not parts.scheme:
            return "a relative path, which gc cannot resolve safely; delete it by hand"
        return (
            f"a direct {parts.scheme}: location that clients write to themselves; runyard gc "
            "deletes only proxied (mlflow-artifacts:) and local-disk artifacts, so delete it "
            "with that storage's own tools"
        )

    async def _delete(self, target: _Proxied | _Local) -> None:
        if isinstance(target, _Proxied):
            assert self.proxied is not None
            await self.proxied.delete(target.path)
            return
        # Open the parent, so the store's path checks keep the delete inside it.
        store = open_store(str(target.directory.parent))
        try:
            await store.delete(target.directory.name)
        finally:
            await store.aclose()
