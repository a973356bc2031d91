"""Run use cases: lifecycle, params, tags, metrics, batches, inputs, search."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from runyard.domain import search, validation
from runyard.domain.entities import (
    ACTIVE,
    DELETED,
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
from runyard.errors import InvalidParameterValue, ResourceDoesNotExist
from runyard.services.context import Ctx, append_uri_path
from runyard.store import experiments as experiment_store
from runyard.store import inputs as input_store
from runyard.store import metrics as metric_store
from runyard.store import runs as store
from runyard.store.engine import Connection

RUN_NAME_TAG = "mlflow.runName"


def _active_run(conn: Connection, run_id: str) -> RunInfo:
    info = store.get_info(conn, run_id, lock=True)
    if info.lifecycle_stage != ACTIVE:
        raise InvalidParameterValue(
            f"The run {run_id} must be in the 'active' state. "
            f"Current state is {info.lifecycle_stage}."
        )
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
        experiment = experiment_store.get(conn, eid)
        if experiment.lifecycle_stage != ACTIVE:
            raise InvalidParameterValue(
                f"The experiment {eid} must be in the 'active' state. "
                f"Current state is {experiment.lifecycle_stage}."
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
            artifact_uri=append_uri_path(experiment.artifact_location or "", run_id, "artifacts"),
            lifecycle_stage=ACTIVE,
        )
        store.insert(conn, info, checked)
        last = {t.key: t for t in checked}  # what the tags table now holds
        return Run(info, tags=sorted(last.values(), key=lambda t: t.key))

    return ctx.db.write(tx)


def get(ctx: Ctx, run_id: str) -> Run:
    def tx(conn: Connection) -> Run:
        found = store.load(conn, [run_id])
        if not found:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return found[0]

    return ctx.db.read(tx)


def update(
    ctx: Ctx, run_id: str, status: str | None, end_time: int | None, run_name: str | None
) -> RunInfo:
    def tx(conn: Connection) -> RunInfo:
        _active_run(conn, run_id)
        values: dict[str, object] = {}
        if status is not None:
            values["status"] = status
        if end_time is not None:
            values["end_time"] = end_time
        if run_name:
            values["name"] = run_name
            store.set_tags(conn, run_id, [Tag(RUN_NAME_TAG, run_name)])
        if values:
            store.update(conn, run_id, **values)
        return store.get_info(conn, run_id)

    return ctx.db.write(tx)


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


def _write_params(conn: Connection, run_id: str, params: Sequence[Param], *, single: bool) -> None:
    existing = store.get_params(conn, run_id, [p.key for p in params])
    changed = [p for p in params if p.key in existing and existing[p.key] != p.value]
    if changed and single:
        p = changed[0]
        raise InvalidParameterValue(
            f"Changing param values is not allowed. Param with key='{p.key}' was already"
            f" logged with value='{existing[p.key]}' for run ID='{run_id}'. Attempted logging"
            f" new value '{p.value}'."
        )
    if changed:
        detail = [
            {"key": p.key, "old_value": existing[p.key], "new_value": p.value} for p in changed
        ]
        raise InvalidParameterValue(
            "Changing param values is not allowed. Params were already"
            f" logged='{detail}' for run ID='{run_id}'."
        )
    store.insert_params(conn, run_id, [p for p in params if p.key not in existing])


def _write_tags(conn: Connection, run_id: str, tags: Sequence[Tag]) -> None:
    store.set_tags(conn, run_id, tags)
    name = next((t.value for t in reversed(tags) if t.key == RUN_NAME_TAG), None)
    if name is not None:
        store.update(conn, run_id, name=name)


def _sanitize(metric: Metric) -> Metric:
    value, is_nan = validation.sanitize_metric_value(metric.value)
    return Metric(metric.key, value, metric.timestamp, metric.step, is_nan)


def log_param(ctx: Ctx, run_id: str, param: Param) -> None:
    checked = validation.validate_param(param)

    def tx(conn: Connection) -> None:
        _active_run(conn, run_id)
        _write_params(conn, run_id, [checked], single=True)

    ctx.db.write(tx)


def set_tag(ctx: Ctx, run_id: str, tag: Tag) -> None:
    checked = validation.validate_tag(tag)

    def tx(conn: Connection) -> None:
        _active_run(conn, run_id)
        _write_tags(conn, run_id, [checked])

    ctx.db.write(tx)


def delete_tag(ctx: Ctx, run_id: str, key: str) -> None:
    def tx(conn: Connection) -> None:
        _active_run(conn, run_id)
        if not store.delete_tag(conn, run_id, key):
            raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}")

    ctx.db.write(tx)


def log_metric(ctx: Ctx, run_id: str, metric: Metric) -> None:
    validation.validate_metric(metric)
    clean = _sanitize(metric)

    def tx(conn: Connection) -> None:
        _active_run(conn, run_id)
        metric_store.insert(conn, run_id, [clean])

    ctx.db.write(tx)


def log_batch(
    ctx: Ctx,
    run_id: str,
    metrics: Sequence[Metric],
    params: Sequence[Param],
    tags: Sequence[Tag],
) -> None:
    """All of a batch or none of it: one transaction."""
    validation.validate_run_id(run_id)
    validation.validate_batch_limits(len(metrics), len(params), len(tags))
    for i, m in enumerate(metrics):
        validation.validate_metric(m, f"metrics[{i}]")
    checked_params = [validation.validate_param(p, f"params[{i}]") for i, p in enumerate(params)]
    checked_tags = [validation.validate_tag(t, f"tags[{i}]") for i, t in enumerate(tags)]
    validation.validate_param_keys_unique(checked_params)
    clean = [_sanitize(m) for m in metrics]

    def tx(conn: Connection) -> None:
        _active_run(conn, run_id)
        if checked_params:
            _write_params(conn, run_id, checked_params, single=False)
        metric_store.insert(conn, run_id, clean)
        if checked_tags:
            _write_tags(conn, run_id, checked_tags)

    ctx.db.write(tx)


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
    validation.validate_max_results(max_results, validation.SEARCH_MAX_RESULTS_THRESHOLD)
    eids = [validation.parse_experiment_id(e) for e in experiment_ids]
    filters, ordering = search.parse_run_search(filter_string, list(order_by))
    offset = search.decode_page_token(page_token)
    if not eids:
        return Page([])

    def tx(conn: Connection) -> list[Run]:
        return store.search(conn, eids, filters, ordering, view_type, offset, max_results + 1)

    return search.page_of(ctx.db.read(tx), offset, max_results)
