"""Entities to MLflow's proto-JSON: snake_case, unset fields omitted, int64 as numbers."""

from __future__ import annotations

import math
from typing import Any

from runyard.domain.entities import (
    LOGGED_MODEL_STATUSES,
    DatasetInput,
    Experiment,
    LoggedModel,
    Metric,
    ModelVersion,
    Param,
    RegisteredModel,
    Run,
    RunInfo,
    Tag,
)

WORKSPACE = "default"


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def tags(items: list[Tag]) -> list[Tag]:
    return items  # msgspec encodes a Tag as {"key": ..., "value": ...}


def params(items: list[Param]) -> list[Param]:
    return items


def metric_value(m: Metric) -> float | str:
    # NaN is not JSON: proto-JSON spells it as a string, and so does MLflow.
    if m.is_nan or math.isnan(m.value):
        return "NaN"
    if math.isinf(m.value):
        return "Infinity" if m.value > 0 else "-Infinity"
    return m.value


def metric(m: Metric, with_run: bool = False) -> dict[str, Any]:
    value: float | str = m.value
    if m.is_nan or value in _NON_FINITE:
        value = metric_value(m)
    out: dict[str, Any] = {"key": m.key, "value": value, "timestamp": m.timestamp, "step": m.step}
    if with_run and m.run_id is not None:
        out["run_id"] = m.run_id
    return out


_NON_FINITE = (math.inf, -math.inf)


def experiment(e: Experiment) -> dict[str, Any]:
    out = _compact(
        {
            "experiment_id": str(e.experiment_id),
            "name": e.name,
            "artifact_location": e.artifact_location,
            "lifecycle_stage": e.lifecycle_stage,
            "last_update_time": e.last_update_time,
            "creation_time": e.creation_time,
        }
    )
    if e.tags:
        out["tags"] = tags(e.tags)
    out["workspace"] = WORKSPACE
    return out


def run_info(i: RunInfo) -> dict[str, Any]:
    return _compact(
        {
            "run_uuid": i.run_id,
            "experiment_id": str(i.experiment_id),
            "run_name": i.run_name,
            "user_id": i.user_id,
            "status": i.status,
            "start_time": i.start_time,
            "end_time": i.end_time,
            "artifact_uri": i.artifact_uri,
            "lifecycle_stage": i.lifecycle_stage,
            "run_id": i.run_id,
        }
    )


def _dataset_input(d: DatasetInput) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if d.tags:
        out["tags"] = tags(d.tags)
    ds = d.dataset
    out["dataset"] = _compact(
        {
            "name": ds.name,
            "digest": ds.digest,
            "source_type": ds.source_type,
            "source": ds.source,
            "schema": ds.schema,
            "profile": ds.profile,
        }
    )
    return out


def run(r: Run) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if r.metrics:
        data["metrics"] = [metric(m) for m in r.metrics]
    if r.params:
        data["params"] = params(r.params)
    if r.tags:
        data["tags"] = tags(r.tags)
    inputs: dict[str, Any] = {}
    if r.dataset_inputs:
        inputs["dataset_inputs"] = [_dataset_input(d) for d in r.dataset_inputs]
    if r.model_inputs:
        inputs["model_inputs"] = [{"model_id": m.model_id} for m in r.model_inputs]
    outputs: dict[str, Any] = {}
    if r.model_outputs:
        outputs["model_outputs"] = [
            _compact({"model_id": m.model_id, "step": m.step}) for m in r.model_outputs
        ]
    return {"info": run_info(r.info), "data": data, "inputs": inputs, "outputs": outputs}


def _model_metric(m: Metric) -> dict[str, Any]:
    return _compact(
        {
            "key": m.key,
            "value": metric_value(m),
            "timestamp": m.timestamp,
            "step": m.step,
            "dataset_name": m.dataset_name,
            "dataset_digest": m.dataset_digest,
            "model_id": m.model_id,
            "run_id": m.run_id,
        }
    )


def logged_model(m: LoggedModel) -> dict[str, Any]:
    """A LoggedModel {info, data}; unset (NULL) columns and empty lists are omitted."""
    statuses = LOGGED_MODEL_STATUSES
    info = _compact(
        {
            "model_id": m.model_id,
            "experiment_id": str(m.experiment_id),
            "name": m.name,
            "creation_timestamp_ms": m.creation_timestamp,
            "last_updated_timestamp_ms": m.last_updated_timestamp,
            "artifact_uri": m.artifact_location,
            "status": statuses[m.status] if 0 <= m.status < len(statuses) else statuses[0],
            "model_type": m.model_type,
            "source_run_id": m.source_run_id,
            "status_message": m.status_message,
        }
    )
    if m.tags:
        info["tags"] = tags(m.tags)
    data: dict[str, Any] = {}
    if m.params:
        data["params"] = params(m.params)
    if m.metrics:
        data["metrics"] = [_model_metric(x) for x in m.metrics]
    return {"info": info, "data": data}


def model_version(v: ModelVersion) -> dict[str, Any]:
    """A ModelVersion as MLflow's entity renders it: NULL columns omitted, an empty
    description or run link kept (MLflow stores them), an empty status message dropped."""
    out: dict[str, Any] = _compact(
        {
            "name": v.name,
            "version": str(v.version),
            "creation_timestamp": v.creation_timestamp,
            "last_updated_timestamp": v.last_updated_timestamp,
            "user_id": v.user_id,
            "current_stage": v.current_stage,
            "description": v.description,
            "source": v.source,
            "run_id": v.run_id,
            "status": v.status,
            "status_message": v.status_message or None,
        }
    )
    if v.tags:
        out["tags"] = tags(v.tags)
    if v.run_link is not None:
        out["run_link"] = v.run_link
    if v.aliases:
        out["aliases"] = list(v.aliases)
    return out


def registered_model(m: RegisteredModel) -> dict[str, Any]:
    """A RegisteredModel: an empty description and a zero last-update time are omitted, as
    MLflow's entity omits falsy ones."""
    out: dict[str, Any] = {"name": m.name}
    if m.creation_timestamp is not None:
        out["creation_timestamp"] = m.creation_timestamp
    if m.last_updated_timestamp:
        out["last_updated_timestamp"] = m.last_updated_timestamp
    if m.description:
        out["description"] = m.description
    if m.latest_versions:
        out["latest_versions"] = [model_version(v) for v in m.latest_versions]
    if m.tags:
        out["tags"] = tags(m.tags)
    if m.aliases:
        out["aliases"] = [{"alias": a.alias, "version": str(a.version)} for a in m.aliases]
    return out


def page(field: str, items: list[Any], token: str | None) -> dict[str, Any]:
    """A search response: empty lists and a missing token are omitted, as in proto-JSON."""
    out: dict[str, Any] = {}
    if items:
        out[field] = items
    if token:
        out["next_page_token"] = token
    return out
