"""MLflow's ModelRegistryService handlers (registered models, versions, tags, aliases).

Each handler gets the registered model's name as the route table parsed it (and checked its
permission on), and reads the rest of the message as MLflow's handlers do: a field MLflow leaves
unset in the proto is the empty string where MLflow stores that, None where it stores NULL.
"""

from __future__ import annotations

from typing import Any

from runyard.api import render
from runyard.api.request import Message, out_of_range
from runyard.api.resources import VersionSource
from runyard.domain import validation
from runyard.domain.entities import Tag
from runyard.domain.permissions import ReadableModels
from runyard.errors import InvalidParameterValue
from runyard.services import registry
from runyard.services.context import Ctx

Json = dict[str, Any]


def _tags(msg: Message) -> list[Tag]:
    return [Tag(t.text("key") or "", t.text("value") or "") for t in msg.messages("tags")]


def _model(ctx: Ctx, name: str) -> Json:
    return {"registered_model": render.registered_model(registry.get_registered_model(ctx, name))}


# --- registered models -----------------------------------------------------------------------


def create_registered_model(ctx: Ctx, msg: Message, name: str) -> Json:
    model = registry.create_registered_model(ctx, name, _tags(msg), msg.text("description") or "")
    return {"registered_model": render.registered_model(model)}


def get_registered_model(ctx: Ctx, msg: Message, name: str) -> Json:
    return _model(ctx, name)


def update_registered_model(ctx: Ctx, msg: Message, name: str) -> Json:
    model = registry.update_registered_model(ctx, name, msg.text("description") or "")
    return {"registered_model": render.registered_model(model)}


def rename_registered_model(ctx: Ctx, msg: Message, name: str) -> Json:
    model = registry.rename_registered_model(ctx, name, msg.req_text("new_name"))
    return {"registered_model": render.registered_model(model)}


def delete_registered_model(ctx: Ctx, msg: Message, name: str) -> Json:
    registry.delete_registered_model(ctx, name)
    return {}


def _max_results(msg: Message, limit: int) -> int | None:
    value = msg.integer("max_results")
    if value is not None and value > limit:
        # The handler's check, before the store's; it shows the value as sent (the searches
        # are GET routes: the query string's text).
        raise out_of_range("max_results", msg.text("max_results"))
    return value


def _json_bool(msg: Message, name: str) -> bool:
    """A JSON true or false; MLflow answers anything else (``"true"`` too) with its type
    error."""
    if not msg.has(name):
        return False
    try:
        text = msg.text(name)
    except InvalidParameterValue as not_text:  # a bool, or something MLflow refuses as such
        try:
            flag = msg.flag(name)
        except InvalidParameterValue:
            raise not_text from None
        return bool(flag)
    raise out_of_range(name, text)


def search_registered_models(ctx: Ctx, msg: Message, readable: ReadableModels | None) -> Json:
    page = registry.search_registered_models(
        ctx,
        filter_string=msg.text("filter") or None,
        max_results=_max_results(msg, validation.SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD),
        order_by=msg.texts("order_by"),
        page_token=msg.text("page_token") or None,
        readable=readable,
    )
    found = [render.registered_model(m) for m in page.items]
    return render.page("registered_models", found, page.next_page_token)


def get_latest_versions(ctx: Ctx, msg: Message, name: str) -> Json:
    found = registry.get_latest_versions(ctx, name, msg.texts("stages"))
    return render.page("model_versions", [render.model_version(v) for v in found], None)


def set_registered_model_tag(ctx: Ctx, msg: Message, name: str) -> Json:
    tag = Tag(msg.req_text("key"), msg.text("value") or "")
    registry.set_registered_model_tag(ctx, name, tag)
    return {}


def delete_registered_model_tag(ctx: Ctx, msg: Message, name: str) -> Json:
    registry.delete_registered_model_tag(ctx, name, msg.req_text("key"))
    return {}


def set_registered_model_alias(ctx: Ctx, msg: Message, name: str) -> Json:
    alias = msg.req_text("alias")
    registry.set_registered_model_alias(ctx, name, alias, msg.req_text("version"))
    return {}


def delete_registered_model_alias(ctx: Ctx, msg: Message, name: str) -> Json:
    registry.delete_registered_model_alias(ctx, name, msg.req_text("alias"))
    return {}


def get_model_version_by_alias(ctx: Ctx, msg: Message, name: str) -> Json:
    found = registry.get_model_version_by_alias(ctx, name, msg.req_text("alias"))
    return {"model_version": render.model_version(found)}


# --- model versions --------------------------------------------------------------------------


def create_model_version(ctx: Ctx, msg: Message, new: VersionSource) -> Json:
    # the model and sources as the route parsed them (and checked READ on the sources)
    created = registry.create_model_version(
        ctx,
        new.name,
        source=new.source,
        run_id=new.run_id,
        tags=_tags(msg),
        run_link=msg.text("run_link") or "",
        description=msg.text("description") or "",
        model_id=new.model_id,
    )
    return {"model_version": render.model_version(created)}


def get_model_version(ctx: Ctx, msg: Message, name: str) -> Json:
    found = registry.get_model_version(ctx, name, msg.req_text("version"))
    return {"model_version": render.model_version(found)}


def update_model_version(ctx: Ctx, msg: Message, name: str) -> Json:
    # Unlike the registered model's, an absent description is stored as NULL (MLflow asks
    # whether the field was sent).
    description = msg.text("description") if msg.has("description") else None
    updated = registry.update_model_version(ctx, name, msg.req_text("version"), description)
    return {"model_version": render.model_version(updated)}


def transition_model_version_stage(ctx: Ctx, msg: Message, name: str) -> Json:
    moved = registry.transition_model_version_stage(
        ctx,
        name,
        msg.req_text("version"),
        msg.req_text("stage"),
        _json_bool(msg, "archive_existing_versions"),
    )
    return {"model_version": render.model_version(moved)}


def delete_model_version(ctx: Ctx, msg: Message, name: str) -> Json:
    registry.delete_model_version(ctx, name, msg.req_text("version"))
    return {}


def get_model_version_download_uri(ctx: Ctx, msg: Message, name: str) -> Json:
    uri = registry.get_model_version_download_uri(ctx, name, msg.text("version") or "")
    return {"artifact_uri": uri}


def search_model_versions(ctx: Ctx, msg: Message, readable: ReadableModels | None) -> Json:
    page = registry.search_model_versions(
        ctx,
        filter_string=msg.text("filter") or None,
        max_results=_max_results(msg, validation.SEARCH_MODEL_VERSION_MAX_RESULTS_THRESHOLD),
        order_by=msg.texts("order_by"),
        page_token=msg.text("page_token") or None,
        readable=readable,
    )
    found = [render.model_version(v) for v in page.items]
    return render.page("model_versions", found, page.next_page_token)


def set_model_version_tag(ctx: Ctx, msg: Message, name: str) -> Json:
    version = msg.req_text("version")
    tag = Tag(msg.req_text("key"), msg.text("value") or "")
    registry.set_model_version_tag(ctx, name, version, tag)
    return {}


def delete_model_version_tag(ctx: Ctx, msg: Message, name: str) -> Json:
    version = msg.req_text("version")
    registry.delete_model_version_tag(ctx, name, version, msg.req_text("key"))
    return {}
