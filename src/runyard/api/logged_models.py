"""MLflow 3 LoggedModel handlers and their routes (under /api/2.0/mlflow and /ajax-api/...).

Like MLflow, finalize and log-params require ``model_id`` in the body as well as in the path;
finalize acts on the body's, log-params on the path's (``api/resources.Model``), and the route
table hands each handler the id its permission was checked on. Params and
tags are taken as sent (MLflow checks neither keys nor values of a LoggedModel's params and tags).
"""

from __future__ import annotations

from typing import Any

from runyard.api import render
from runyard.api.request import Message, missing
from runyard.domain.entities import LOGGED_MODEL_STATUSES, Param, Tag
from runyard.domain.search import ModelDatasetFilter, ModelOrderBy
from runyard.services import logged_models
from runyard.services.context import Ctx

Json = dict[str, Any]


def _params(msg: Message) -> list[Param]:
    return [Param(p.text("key") or "", p.text("value") or "") for p in msg.messages("params")]


def _tags(msg: Message) -> list[Tag]:
    return [Tag(t.text("key") or "", t.text("value") or "") for t in msg.messages("tags")]


def create_logged_model(ctx: Ctx, msg: Message, experiment_id: str) -> Json:
    model = logged_models.create(
        ctx,
        experiment_id=experiment_id,
        name=msg.text("name") or None,
        model_type=msg.text("model_type") or "",
        source_run_id=msg.text("source_run_id") or "",
        params=_params(msg),
        tags=_tags(msg),
    )
    return {"model": render.logged_model(model)}


def get_logged_model(ctx: Ctx, msg: Message, model_id: str) -> Json:
    allow_deleted = (msg.text("allow_deleted") or "").lower() == "true"
    model = logged_models.get(ctx, model_id, allow_deleted)
    return {"model": render.logged_model(model)}


def finalize_logged_model(ctx: Ctx, msg: Message, model_id: str) -> Json:
    if not msg.has("status"):
        raise missing("status")
    # Statuses are numbered from 0 (UNSPECIFIED), which is also what MLflow makes of a value
    # it does not know; enum() numbers its choices from 1.
    status = msg.enum("status", LOGGED_MODEL_STATUSES[1:], LOGGED_MODEL_STATUSES[0])
    model = logged_models.finalize(ctx, model_id, LOGGED_MODEL_STATUSES.index(status))
    return {"model": render.logged_model(model)}


def delete_logged_model(ctx: Ctx, msg: Message, model_id: str) -> Json:
    logged_models.delete(ctx, model_id)
    return {}


def set_logged_model_tags(ctx: Ctx, msg: Message, model_id: str) -> Json:
    logged_models.set_tags(ctx, model_id, _tags(msg))
    return {}  # MLflow answers an empty message here, not the model


def delete_logged_model_tag(ctx: Ctx, msg: Message, model_id: str) -> Json:
    logged_models.delete_tag(ctx, model_id, msg.path("tag_key"))
    return {}


def log_logged_model_params(ctx: Ctx, msg: Message, model_id: str) -> Json:
    logged_models.log_params(ctx, model_id, _params(msg))
    return {}


def _order_by(m: Message) -> ModelOrderBy:
    return ModelOrderBy(
        field_name=m.text("field_name") or "",
        ascending=m.flag("ascending") is not False,
        dataset_name=m.text("dataset_name") or None,
        dataset_digest=m.text("dataset_digest") or None,
    )


def search_logged_models(ctx: Ctx, msg: Message, experiment_ids: list[str]) -> Json:
    if not msg.has("experiment_ids"):
        raise missing("experiment_ids")
    filter_string = msg.text("filter") or None
    datasets = [
        ModelDatasetFilter(d.text("dataset_name") or "", d.text("dataset_digest") or None)
        for d in msg.messages("datasets")
    ]
    max_results = msg.integer("max_results")
    order_by = [_order_by(o) for o in msg.messages("order_by")]
    page = logged_models.search_logged_models(
        ctx,
        experiment_ids=experiment_ids,
        filter_string=filter_string,
        datasets=datasets,
        max_results=max_results,
        order_by=order_by,
        page_token=msg.text("page_token") or None,
    )
    models = [render.logged_model(m) for m in page.items]
    return render.page("models", models, page.next_page_token)
