"""MLflow 3 LoggedModel handlers and their routes (under /api/2.0/mlflow and /ajax-api/...).

Like MLflow, finalize and log-params require ``model_id`` in the body as well as in the path;
finalize acts on the body's, log-params on the path's. Params and tags are taken as sent
(MLflow checks neither keys nor values of a LoggedModel's params and tags).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runyard.api import render
from runyard.api.request import Message, missing
from runyard.domain.entities import LOGGED_MODEL_STATUSES, Param, Tag
from runyard.domain.search import ModelDatasetFilter, ModelOrderBy
from runyard.services import logged_models
from runyard.services.context import Ctx

Json = dict[str, Any]
Handler = Callable[[Ctx, Message], Json]


def _params(msg: Message) -> list[Param]:
    return [Param(p.text("key") or "", p.text("value") or "") for p in msg.messages("params")]


def _tags(msg: Message) -> list[Tag]:
    return [Tag(t.text("key") or "", t.text("value") or "") for t in msg.messages("tags")]


def create_logged_model(ctx: Ctx, msg: Message) -> Json:
    model = logged_models.create(
        ctx,
        experiment_id=msg.req_text("experiment_id"),
        name=msg.text("name") or None,
        model_type=msg.text("model_type") or "",
        source_run_id=msg.text("source_run_id") or "",
        params=_params(msg),
        tags=_tags(msg),
    )
    return {"model": render.logged_model(model)}


def get_logged_model(ctx: Ctx, msg: Message) -> Json:
    allow_deleted = (msg.text("allow_deleted") or "").lower() == "true"
    model = logged_models.get(ctx, msg.path("model_id"), allow_deleted)
    return {"model": render.logged_model(model)}


def finalize_logged_model(ctx: Ctx, msg: Message) -> Json:
    model_id = msg.req_text("model_id")
    if not msg.has("status"):
        raise missing("status")
    # Statuses are numbered from 0 (UNSPECIFIED), which is also what MLflow makes of a value
    # it does not know; enum() numbers its choices from 1.
    status = msg.enum("status", LOGGED_MODEL_STATUSES[1:], LOGGED_MODEL_STATUSES[0])
    model = logged_models.finalize(ctx, model_id, LOGGED_MODEL_STATUSES.index(status))
    return {"model": render.logged_model(model)}


def delete_logged_model(ctx: Ctx, msg: Message) -> Json:
    logged_models.delete(ctx, msg.path("model_id"))
    return {}


def set_logged_model_tags(ctx: Ctx, msg: Message) -> Json:
    logged_models.set_tags(ctx, msg.path("model_id"), _tags(msg))
    return {}  # MLflow answers an empty message here, not the model


def delete_logged_model_tag(ctx: Ctx, msg: Message) -> Json:
    logged_models.delete_tag(ctx, msg.path("model_id"), msg.path("tag_key"))
    return {}


def log_logged_model_params(ctx: Ctx, msg: Message) -> Json:
    msg.req_text("model_id")
    logged_models.log_params(ctx, msg.path("model_id"), _params(msg))
    return {}


def _order_by(m: Message) -> ModelOrderBy:
    return ModelOrderBy(
        field_name=m.text("field_name") or "",
        ascending=m.flag("ascending") is not False,
        dataset_name=m.text("dataset_name") or None,
        dataset_digest=m.text("dataset_digest") or None,
    )


def search_logged_models(ctx: Ctx, msg: Message) -> Json:
    if not msg.has("experiment_ids"):
        raise missing("experiment_ids")
    experiment_ids = msg.texts("experiment_ids")
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


GET, POST, PATCH, DELETE = ["GET"], ["POST"], ["PATCH"], ["DELETE"]

# (path under <prefix>/2.0/mlflow, methods, handler); Starlette path parameters.
ROUTES: list[tuple[str, list[str], Handler]] = [
    ("/logged-models", POST, create_logged_model),
    ("/logged-models/search", POST, search_logged_models),
    ("/logged-models/{model_id}", GET, get_logged_model),
    ("/logged-models/{model_id}", PATCH, finalize_logged_model),
    ("/logged-models/{model_id}", DELETE, delete_logged_model),
    ("/logged-models/{model_id}/tags", PATCH, set_logged_model_tags),
    ("/logged-models/{model_id}/tags/{tag_key}", DELETE, delete_logged_model_tag),
    ("/logged-models/{model_id}/params", POST, log_logged_model_params),
]
