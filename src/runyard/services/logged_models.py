"""LoggedModel use cases (MLflow 3): create, get, finalize, delete, tags, params, search.

As in MLflow, only get hides a deleted model: finalize, delete, tags and params work on any
model that exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from runyard.domain import search, validation
from runyard.domain.entities import (
    ACTIVE,
    DELETED,
    LOGGED_MODEL_PENDING,
    LoggedModel,
    Page,
    Param,
    Tag,
)
from runyard.domain.names import random_run_name
from runyard.errors import BadRequest, InvalidParameterValue, ResourceDoesNotExist
from runyard.services.context import Ctx, append_uri_path
from runyard.store import experiments as experiment_store
from runyard.store import logged_models as store
from runyard.store.engine import Connection


def _not_found(model_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")


def _experiment_of(conn: Connection, model_id: str) -> int:
    experiment_id = store.experiment_of(conn, model_id)
    if experiment_id is None:
        raise _not_found(model_id)
    return experiment_id


def _duplicate(items: Sequence[Param] | Sequence[Tag]) -> str | None:
    seen: set[str] = set()
    for item in items:
        if item.key in seen:
            return item.key
        seen.add(item.key)
    return None


def create(
    ctx: Ctx,
    experiment_id: str,
    name: str | None,
    model_type: str,
    source_run_id: str,
    params: Sequence[Param],
    tags: Sequence[Tag],
) -> LoggedModel:
    validation.validate_logged_model_name(name)
    eid = validation.parse_experiment_id(experiment_id)

    def tx(conn: Connection) -> LoggedModel:
        stage, location = experiment_store.stage_and_location(conn, eid)
        if stage != ACTIVE:
            raise InvalidParameterValue(
                f"The experiment {eid} must be in the 'active' state. Current state is {stage}."
            )
        for kind, items in (("param", params), ("tag", tags)):
            if (key := _duplicate(items)) is not None:
                # MLflow fails on the table's primary key, with the same code.
                raise BadRequest(f"Duplicate {kind} key '{key}' for one logged model.")
        model_id = f"m-{uuid.uuid4().hex}"
        now = ctx.clock()
        model = LoggedModel(
            model_id=model_id,
            experiment_id=eid,
            name=name or random_run_name(),
            artifact_location=append_uri_path(location, "models", model_id, "artifacts"),
            creation_timestamp=now,
            last_updated_timestamp=now,
            status=LOGGED_MODEL_PENDING,
            lifecycle_stage=ACTIVE,
            model_type=model_type,
            source_run_id=source_run_id,
            tags=sorted({t.key: t for t in tags}.values(), key=lambda t: t.key),
            params=sorted(params, key=lambda p: p.key),
        )
        store.insert(conn, model)
        return model

    return ctx.db.write(tx)


def get(ctx: Ctx, model_id: str, allow_deleted: bool = False) -> LoggedModel:
    model = ctx.db.read(lambda conn: store.get(conn, model_id))
    if model is None or (model.lifecycle_stage == DELETED and not allow_deleted):
        raise _not_found(model_id)
    return model


def finalize(ctx: Ctx, model_id: str, status: int) -> LoggedModel:
    def tx(conn: Connection) -> LoggedModel:
        if not store.update(conn, model_id, status=status, last_updated_timestamp_ms=ctx.clock()):
            raise _not_found(model_id)
        model = store.get(conn, model_id)
        assert model is not None
        return model

    return ctx.db.write(tx)


def delete(ctx: Ctx, model_id: str) -> None:
    """Soft delete, as MLflow's SqlAlchemyStore does: the row stays, marked deleted."""

    def tx(conn: Connection) -> None:
        now = ctx.clock()
        if not store.update(conn, model_id, lifecycle_stage=DELETED, last_updated_timestamp_ms=now):
            raise _not_found(model_id)

    ctx.db.write(tx)


def set_tags(ctx: Ctx, model_id: str, tags: Sequence[Tag]) -> None:
    def tx(conn: Connection) -> None:
        store.set_tags(conn, model_id, _experiment_of(conn, model_id), tags)

    ctx.db.write(tx)


def delete_tag(ctx: Ctx, model_id: str, key: str) -> None:
    def tx(conn: Connection) -> None:
        _experiment_of(conn, model_id)
        if not store.delete_tag(conn, model_id, key):
            raise ResourceDoesNotExist(
                f"No tag with key {key!r} found for model with ID {model_id!r}."
            )

    ctx.db.write(tx)


def log_params(ctx: Ctx, model_id: str, params: Sequence[Param]) -> None:
    """Add params. Re-logging a param with its value is a no-op (so a retried request is
    harmless); a new value for a logged key is refused, as MLflow refuses any logged key."""
    if (key := _duplicate(params)) is not None:
        raise BadRequest(f"Duplicate param key '{key}' for one logged model.")

    def tx(conn: Connection) -> None:
        experiment_id = _experiment_of(conn, model_id)
        stored = store.stored_params(conn, model_id, [p.key for p in params])
        for p in params:
            if p.key in stored and stored[p.key] != p.value:
                raise BadRequest(
                    f"Changing param values is not allowed. Param with key='{p.key}' was "
                    f"already logged with value='{stored[p.key]}' for logged model "
                    f"'{model_id}'. Attempted logging new value '{p.value}'."
                )
        fresh = [p for p in params if p.key not in stored]
        store.insert_params(conn, model_id, experiment_id, fresh)

    ctx.db.write(tx)


def search_logged_models(
    ctx: Ctx,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    datasets: Sequence[search.ModelDatasetFilter],
    max_results: int | None,
    order_by: Sequence[search.ModelOrderBy],
    page_token: str | None,
) -> Page[LoggedModel]:
    """One page of models, checked in MLflow's order: datasets, page token, filter, order
    (after runyard's bounds on the number of order_by entries and datasets)."""
    validation.check_order_by(len(order_by))
    validation.check_count("datasets", len(datasets), validation.MAX_DATASET_FILTERS)
    validation.validate_dataset_filter_names(d.name for d in datasets)
    offset = search.decode_logged_model_token(page_token, experiment_ids, filter_string, order_by)
    limit = validation.logged_model_page_size(max_results)
    filters = search.parse_logged_model_filter(filter_string)
    eids = [validation.parse_experiment_id(e) for e in experiment_ids]
    ordering = search.parse_logged_model_order_by(order_by)
    eids = [e for e in eids if experiment_store.can_exist(e)]
    if not eids:
        return Page([])

    def tx(conn: Connection) -> list[LoggedModel]:
        ids = store.search_ids(conn, eids, filters, datasets, ordering, offset, limit + 1)
        return store.load(conn, ids)

    found = ctx.db.read(tx)
    if len(found) <= limit:
        return Page(found)
    token = search.encode_logged_model_token(
        experiment_ids, filter_string, order_by, offset + limit
    )
    return Page(found[:limit], token)
