"""Tracking RPC handlers: message fields in, service call, MLflow JSON out.

Each handler is a plain function ``(ctx, msg) -> dict`` that the router runs in a worker thread,
so the event loop never waits on the database.
"""

from __future__ import annotations

from typing import Any

from runyard.api import render
from runyard.api.request import Message, missing, out_of_range
from runyard.domain.entities import (
    RUN_STATUSES,
    VIEW_TYPES,
    Dataset,
    DatasetInput,
    Metric,
    ModelIO,
    Param,
    Tag,
)
from runyard.domain.validation import SEARCH_MAX_RESULTS_THRESHOLD
from runyard.errors import InvalidParameterValue
from runyard.services import experiments, metrics, runs
from runyard.services.context import Ctx

Json = dict[str, Any]


def _tags(msg: Message, name: str = "tags") -> list[Tag]:
    out = []
    for i, t in enumerate(msg.messages(name)):
        key = t.text("key")
        if not key:
            raise missing(f"{name}[{i}].key")
        out.append(Tag(key, t.text("value") or ""))
    return out


# --- experiments -------------------------------------------------------------------------------


def create_experiment(ctx: Ctx, msg: Message, _: None) -> Json:
    experiment_id = experiments.create(
        ctx, msg.req_text("name"), msg.text("artifact_location"), _tags(msg)
    )
    return {"experiment_id": str(experiment_id)}


def get_experiment(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    return {"experiment": render.experiment(experiments.get(ctx, experiment_id))}


def get_experiment_by_name(ctx: Ctx, msg: Message, name: str) -> Json:
    found = experiments.get_by_name(ctx, name)
    return {"experiment": render.experiment(found)}


def search_experiments(ctx: Ctx, msg: Message, _: None) -> Json:
    page = experiments.search_experiments(
        ctx,
        view_type=msg.enum("view_type", VIEW_TYPES, "ACTIVE_ONLY"),
        max_results=msg.integer("max_results") or 0,
        filter_string=msg.text("filter"),
        order_by=msg.texts("order_by"),
        page_token=msg.text("page_token") or None,
    )
    return render.page(
        "experiments", [render.experiment(e) for e in page.items], page.next_page_token
    )


def update_experiment(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    experiments.rename(ctx, experiment_id, msg.req_text("new_name"))
    return {}


def delete_experiment(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    experiments.delete(ctx, experiment_id)
    return {}


def restore_experiment(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    experiments.restore(ctx, experiment_id)
    return {}


def set_experiment_tag(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    tag = Tag(msg.req_text("key"), msg.text("value") or "")
    experiments.set_tag(ctx, experiment_id, tag)
    return {}


def delete_experiment_tag(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    experiments.delete_tag(ctx, experiment_id, msg.req_text("key"))
    return {}


# --- runs ----------------------------------------------------------------------------------------


def create_run(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    run = runs.create(
        ctx,
        experiment_id=experiment_id,
        user_id=msg.text("user_id") or "",
        start_time=msg.integer("start_time"),
        tags=_tags(msg),
        run_name=msg.text("run_name"),
    )
    out = render.run(run)
    del out["outputs"]  # MLflow's create-run response carries no outputs message
    return {"run": out}


def get_run(ctx: Ctx, msg: Message, run_id: str) -> Json:
    return {"run": render.run(runs.get(ctx, run_id))}


def update_run(ctx: Ctx, msg: Message, run_id: str) -> Json:
    status = msg.enum("status", RUN_STATUSES, "") or None
    info = runs.update(ctx, run_id, status, msg.integer("end_time"), msg.text("run_name"))
    return {"run_info": render.run_info(info)}


def delete_run(ctx: Ctx, msg: Message, run_id: str) -> Json:
    runs.delete(ctx, run_id)
    return {}


def restore_run(ctx: Ctx, msg: Message, run_id: str) -> Json:
    runs.restore(ctx, run_id)
    return {}


def _metric(m: Message, path: str = "") -> Metric:
    p = f"{path}." if path else ""
    key = m.text("key")
    value = m.number("value")
    timestamp = m.integer("timestamp")
    if not key:
        raise missing(f"{p}key")
    if value is None:
        raise missing(f"{p}value")
    if timestamp is None:
        raise missing(f"{p}timestamp")
    return Metric(
        key=key,
        value=value,
        timestamp=timestamp,
        step=m.integer("step") or 0,
        model_id=m.text("model_id") or None,
        dataset_name=m.text("dataset_name") or None,
        dataset_digest=m.text("dataset_digest") or None,
    )


def log_metric(ctx: Ctx, msg: Message, run_id: str) -> Json:
    runs.log_metric(ctx, run_id, _metric(msg))
    return {}


def log_param(ctx: Ctx, msg: Message, run_id: str) -> Json:
    runs.log_param(ctx, run_id, Param(msg.req_text("key"), msg.text("value") or ""))
    return {}


def set_tag(ctx: Ctx, msg: Message, run_id: str) -> Json:
    runs.set_tag(ctx, run_id, Tag(msg.req_text("key"), msg.text("value") or ""))
    return {}


def delete_tag(ctx: Ctx, msg: Message, run_id: str) -> Json:
    runs.delete_tag(ctx, run_id, msg.req_text("key"))
    return {}


def _params(msg: Message) -> list[Param]:
    out = []
    for i, p in enumerate(msg.messages("params")):
        key = p.text("key")
        if not key:
            raise missing(f"params[{i}].key")
        out.append(Param(key, p.text("value") or ""))
    return out


_PLAIN_METRIC_FIELDS = frozenset({"key", "value", "timestamp", "step"})
_INT64_LIMIT = 2**63
_EXACT_INT = 2**53


def _batch_metrics(msg: Message) -> list[Metric]:
    out = []
    for i, raw in enumerate(msg.raw_objects("metrics")):
        # Fast path for what the official client sends: snake_case fields with native JSON
        # types. Anything else (strings for numbers, NaN, camelCase, extra fields) goes through
        # the general decoder, which also produces MLflow's error messages.
        if raw.keys() <= _PLAIN_METRIC_FIELDS:
            key, value, ts = raw.get("key"), raw.get("value"), raw.get("timestamp")
            step = raw.get("step", 0)
            if (
                type(key) is str
                and key
                and (type(value) is float or (type(value) is int and abs(value) < _EXACT_INT))
                and type(ts) is int
                and type(step) is int
                and abs(ts) < _INT64_LIMIT
                and abs(step) < _INT64_LIMIT
            ):
                out.append(Metric(key, float(value), ts, step))
                continue
        out.append(_metric(Message(raw), f"metrics[{i}]"))
    return out


def log_batch(ctx: Ctx, msg: Message, run_id: str) -> Json:
    batch_metrics = _batch_metrics(msg)
    runs.log_batch(ctx, run_id, batch_metrics, _params(msg), _tags(msg))
    return {}


def _dataset_input(m: Message) -> DatasetInput:
    d = m.message("dataset")
    if d is None:
        raise InvalidParameterValue("Dataset input must have a dataset associated with it.")
    dataset = Dataset(
        name=d.req_text("name"),
        digest=d.req_text("digest"),
        source_type=d.req_text("source_type"),
        source=d.req_text("source"),
        schema=d.text("schema"),
        profile=d.text("profile"),
    )
    return DatasetInput(dataset, _tags(m))


def log_inputs(ctx: Ctx, msg: Message, run_id: str) -> Json:
    datasets = [_dataset_input(m) for m in msg.messages("datasets")]
    models = [ModelIO(m.req_text("model_id")) for m in msg.messages("models")]
    runs.log_inputs(ctx, run_id, datasets, models)
    return {}


def log_outputs(ctx: Ctx, msg: Message, run_id: str) -> Json:
    models = [
        ModelIO(m.req_text("model_id"), m.integer("step") or 0) for m in msg.messages("models")
    ]
    runs.log_outputs(ctx, run_id, models)
    return {}


def search_runs(ctx: Ctx, msg: Message, experiment_ids: list[str]) -> Json:
    max_results = msg.integer("max_results")
    if max_results is not None and max_results > SEARCH_MAX_RESULTS_THRESHOLD:
        raise out_of_range("max_results", max_results)
    page = runs.search_runs(
        ctx,
        experiment_ids=experiment_ids,
        filter_string=msg.text("filter"),
        view_type=msg.enum("run_view_type", VIEW_TYPES, "ACTIVE_ONLY"),
        max_results=1000 if max_results is None else max_results,
        order_by=msg.texts("order_by"),
        page_token=msg.text("page_token") or None,
    )
    return render.page("runs", [render.run(r) for r in page.items], page.next_page_token)


# --- metrics -------------------------------------------------------------------------------------


def get_metric_history(ctx: Ctx, msg: Message, run_id: str) -> Json:
    max_results = msg.integer("max_results")
    if max_results is not None and max_results <= 0:
        raise InvalidParameterValue(
            f"Invalid value {max_results} for parameter 'max_results' supplied. "
            "It must be a positive integer."
        )
    page = metrics.get_history(
        ctx, run_id, msg.req_text("metric_key"), max_results, msg.text("page_token") or None
    )
    return render.page("metrics", [render.metric(m) for m in page.items], page.next_page_token)


def get_metric_history_bulk_interval(ctx: Ctx, msg: Message, run_ids: list[str]) -> Json:
    if not run_ids:
        raise missing("run_ids")
    if len(run_ids) > 100:
        raise InvalidParameterValue(
            "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. "
            f"Received {len(run_ids)} run_ids. See the API docs for more information about "
            "request parameters."
        )
    found = metrics.get_history_bulk_interval(
        ctx,
        run_ids,
        msg.req_text("metric_key"),
        msg.integer("start_step"),
        msg.integer("end_step"),
        msg.integer("max_results"),
    )
    out: Json = {}
    if found:
        out["metrics"] = [render.metric(m, with_run=True) for m in found]
    return out


def get_metric_history_bulk(ctx: Ctx, msg: Message, run_ids: list[str]) -> Json:
    """The UI's ajax-only bulk history: a plain dict, not a proto message."""
    key = msg.text("metric_key")
    if key is None and run_ids:
        raise InvalidParameterValue("GetMetricHistoryBulk request must specify a metric_key.")
    found = metrics.get_history_bulk(ctx, run_ids, key or "", msg.integer("max_results") or 25000)
    return {"metrics": [render.metric(m, with_run=True) for m in found]}
