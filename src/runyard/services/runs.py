"""Run use cases: lifecycle, params, tags, metrics, batches, inputs, search."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from runyard.domain import search, validation
from runyard.domain.entities import (
    ACTIVE,
    DELETED,
    RUN_NAME_TAG,
    DatasetInput,
    Metric,
    ModelIO,
    Page,
    Param,
    Run,
    RunInfo,
    Tag,
)
from runyard.domain.names import random_run_name
from runyard.errors import BadRequest, InvalidParameterValue, ResourceDoesNotExist
from runyard.services.context import Ctx, append_uri_path
from runyard.store import experiments as experiment_store
from runyard.store import inputs as input_store
from runyard.store import logged_models as logged_model_store
from runyard.store import run_pages, run_writes
from runyard.store import runs as store
from runyard.store.engine import Connection


def _not_active(run_id: str, stage: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"The run {run_id} must be in the 'active' state. Current state is {stage}."
    )


def _active_run(conn: Connection, run_id: str) -> RunInfo:
    info = store.get_info(conn, run_id, lock=True)
    if info.lifecycle_stage != ACTIVE:
        raise _not_active(run_id, info.lifecycle_stage)
    return info


def create(
    ctx: Ctx,
    experiment_id: str | None,
    user_id: str | None,
    start_time: int | None,
    tags: Sequence[Tag],
    run_name: str | None,
) -> Run:
    eid = validation.parse_experiment_id(experiment_id or "0")
    # MLflow does not check tag keys at run creation (only on set-tag and log-batch).
    checked = [validation.truncate_tag(t) for t in tags]
    name_tag = next((t.value for t in reversed(checked) if t.key == RUN_NAME_TAG), None)
    if run_name and name_tag and run_name != name_tag:
        raise InvalidParameterValue(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
            f"different values (run_name='{run_name}', mlflow.runName='{name_tag}')."
        )
    name = run_name or name_tag or random_run_name()
    if name_tag is None:
        checked.append(Tag(RUN_NAME_TAG, name))

    def tx(conn: Connection) -> Run:
        stage, location = experiment_store.stage_and_location(conn, eid)
        if stage != ACTIVE:
            raise InvalidParameterValue(
                f"The experiment {eid} must be in the 'active' state. Current state is {stage}."
            )
        run_id = uuid.uuid4().hex
        info = RunInfo(
            run_id=run_id,
            run_name=name,
            experiment_id=eid,
            user_id=user_id,
            status="RUNNING",
            start_time=start_time if start_time is not None else ctx.clock(),
            end_time=None,
            artifact_uri=append_uri_path(location, run_id, "artifacts"),
            lifecycle_stage=ACTIVE,
        )
        if not store.insert(conn, info, checked):  # deleted since it was read
            stage = experiment_store.lifecycle_stage(conn, eid)
            raise InvalidParameterValue(
                f"The experiment {eid} must be in the 'active' state. Current state is {stage}."
            )
        last = {t.key: t for t in checked}  # what the tags table now holds
        return Run(info, tags=sorted(last.values(), key=lambda t: t.key))

    # The read and the guarded insert are each safe alone: no transaction needed.
    return ctx.db.write_statements(tx)


def get(ctx: Ctx, run_id: str) -> Run:
    def tx(conn: Connection) -> Run:
        found = run_pages.load(conn, [run_id])
        if not found:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return found[0]

    return ctx.db.read(tx)


def update(
    ctx: Ctx, run_id: str, status: str | None, end_time: int | None, run_name: str | None
) -> RunInfo:
    def tx(conn: Connection) -> RunInfo:
        info = store.update_active(conn, run_id, status, end_time, run_name or None)
        if info is None:
            raise _not_active(run_id, store.get_info(conn, run_id).lifecycle_stage)
        return info

    return ctx.db.write_statements(tx)


def delete(ctx: Ctx, run_id: str) -> None:
    def tx(conn: Connection) -> None:
        store.get_info(conn, run_id)
        store.update(conn, run_id, lifecycle_stage=DELETED, deleted_time=ctx.clock())

    ctx.db.write(tx)


def restore(ctx: Ctx, run_id: str) -> None:
    def tx(conn: Connection) -> None:
        store.get_info(conn, run_id)
        store.update(conn, run_id, lifecycle_stage=ACTIVE, deleted_time=None)

    ctx.db.write(tx)


def _log(
    ctx: Ctx,
    run_id: str,
    params: Sequence[Param] = (),
    metrics: Sequence[Metric] = (),
    tags: Sequence[Tag] = (),
    *,
    single_param: bool = False,
) -> None:
    """Write to an active run, all or nothing, and raise MLflow's error if it was refused."""
    name = next((t.value for t in reversed(tags) if t.key == RUN_NAME_TAG), None)
    model_ids = [m.model_id for m in metrics if m.model_id]

    def tx(conn: Connection) -> run_writes.Guard:
        if model_ids and (unknown := logged_model_store.missing(conn, model_ids)):
            # MLflow answers 400 BAD_REQUEST here too (its foreign key fails).
            raise BadRequest(f"Logged model with ID '{unknown[0]}' not found.")
        return run_writes.log(conn, run_id, params, metrics, tags, name)

    guard = ctx.db.write_statements(tx)
    if guard.lifecycle_stage is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found")
    if guard.lifecycle_stage != ACTIVE:
        raise _not_active(run_id, guard.lifecycle_stage)
    if guard.stored_params:
        raise _param_changed(run_id, params, guard.stored_params, single_param)


def _param_changed(
    run_id: str, params: Sequence[Param], stored: dict[str, str], single: bool
) -> InvalidParameterValue:
    changed = [p for p in params if p.key in stored]
    if single:
        p = changed[0]
        return InvalidParameterValue(
            f"Changing param values is not allowed. Param with key='{p.key}' was already"
            f" logged with value='{stored[p.key]}' for run ID='{run_id}'. Attempted logging"
            f" new value '{p.value}'."
        )
    detail = [{"key": p.key, "old_value": stored[p.key], "new_value": p.value} for p in changed]
    return InvalidParameterValue(
        "Changing param values is not allowed. Params were already"
        f" logged='{detail}' for run ID='{run_id}'."
    )


def _sanitize(metric: Metric) -> Metric:
    value, is_nan = validation.sanitize_metric_value(metric.value)
    if metric.model_id is None:
        return Metric(metric.key, value, metric.timestamp, metric.step, is_nan)
    return metric._replace(value=value, is_nan=is_nan)  # keeps its model and dataset


def log_param(ctx: Ctx, run_id: str, param: Param) -> None:
    _log(ctx, run_id, params=[validation.validate_param(param)], single_param=True)


def set_tag(ctx: Ctx, run_id: str, tag: Tag) -> None:
    _log(ctx, run_id, tags=[validation.validate_tag(tag)])


def delete_tag(ctx: Ctx, run_id: str, key: str) -> None:
    def tx(conn: Connection) -> None:
        _active_run(conn, run_id)
        if not store.delete_tag(conn, run_id, key):
            raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}")

    ctx.db.write(tx)


def log_metric(ctx: Ctx, run_id: str, metric: Metric) -> None:
    validation.validate_metric(metric)
    _log(ctx, run_id, metrics=[_sanitize(metric)])


def log_batch(
    ctx: Ctx,
    run_id: str,
    metrics: Sequence[Metric],
    params: Sequence[Param],
    tags: Sequence[Tag],
) -> None:
    """All of a batch or none of it."""
    validation.validate_run_id(run_id)
    validation.validate_batch_limits(len(metrics), len(params), len(tags))
    for i, m in enumerate(metrics):
        validation.validate_metric(m, f"metrics[{i}]")
    checked_params = [validation.validate_param(p, f"params[{i}]") for i, p in enumerate(params)]
    checked_tags = [validation.validate_tag(t, f"tags[{i}]") for i, t in enumerate(tags)]
    validation.validate_param_keys_unique(checked_params)
    _log(ctx, run_id, checked_params, [_sanitize(m) for m in metrics], checked_tags)


def log_inputs(
    ctx: Ctx, run_id: str, datasets: Sequence[DatasetInput], models: Sequence[ModelIO]
) -> None:
    validation.validate_dataset_inputs(datasets)

    def tx(conn: Connection) -> None:
        info = _active_run(conn, run_id)
        input_store.log_datasets(conn, info.experiment_id, run_id, datasets)
        input_store.log_models(conn, run_id, models, output=False)

    ctx.db.write(tx)


def log_outputs(ctx: Ctx, run_id: str, models: Sequence[ModelIO]) -> None:
    def tx(conn: Connection) -> None:
        _active_run(conn, run_id)
        input_store.log_models(conn, run_id, models, output=True)

    ctx.db.write(tx)


def search_runs(
    ctx: Ctx,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view_type: str,
    max_results: int,
    order_by: Sequence[str],
    page_token: str | None,
) -> Page[Run]:
    validation.check_order_by(len(order_by))
    validation.validate_max_results(max_results, validation.SEARCH_MAX_RESULTS_THRESHOLD)
    eids = [validation.parse_experiment_id(e) for e in experiment_ids]
    filters, ordering = search.parse_run_search(filter_string, list(order_by))
    offset = search.decode_page_token(page_token)
    if not eids:
        return Page([])

    def tx(conn: Connection) -> list[Run]:
        return run_pages.search(conn, eids, filters, ordering, view_type, offset, max_results + 1)

    return search.page_of(ctx.db.read(tx), offset, max_results)
