"""Experiment use cases: create, read, search, rename, delete/restore (cascading to runs), tags."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from runyard.domain import search, validation
from runyard.domain.entities import ACTIVE, DELETED, Experiment, Page, Tag
from runyard.errors import InvalidParameterValue, InvalidState, ResourceDoesNotExist
from runyard.services.context import Ctx, append_uri_path
from runyard.store import experiments as store
from runyard.store import runs as run_store
from runyard.store.engine import Connection


def _resolve_location(location: str) -> str:
    # Like MLflow, a relative or scheme-less location is taken against the server's directory.
    if "://" in location or location.startswith(("mlflow-artifacts:", "file:")):
        return location
    if ":" in location.split("/", 1)[0]:
        return location
    return Path(location).resolve().as_uri()


def create(ctx: Ctx, name: str, artifact_location: str | None, tags: Sequence[Tag]) -> int:
    validation.validate_experiment_name(name)
    location = None
    if artifact_location:
        validation.validate_artifact_location_text(artifact_location)
        location = _resolve_location(artifact_location)
        validation.validate_artifact_location(location)
    for tag in tags:
        validation.validate_experiment_tag(tag)

    def tx(conn: Connection) -> int:
        experiment_id = store.insert(conn, name, location, tags, ctx.clock())
        if not location:
            default = append_uri_path(ctx.default_artifact_root, str(experiment_id))
            store.set_artifact_location(conn, experiment_id, default)
        return experiment_id

    return ctx.db.write(tx)


def get(ctx: Ctx, experiment_id: str) -> Experiment:
    eid = validation.parse_experiment_id(experiment_id)
    return ctx.db.read(lambda conn: store.get(conn, eid))


def get_by_name(ctx: Ctx, name: str) -> Experiment:
    found = ctx.db.read(lambda conn: store.get_by_name(conn, name))
    if found is None:
        raise ResourceDoesNotExist(f"Could not find experiment with name '{name}'")
    return found


def _active(conn: Connection, eid: int) -> None:
    if store.lifecycle_stage(conn, eid) != ACTIVE:
        raise ResourceDoesNotExist(f"No Experiment with id={eid} exists")


def delete(ctx: Ctx, experiment_id: str) -> None:
    eid = validation.parse_experiment_id(experiment_id)

    def tx(conn: Connection) -> None:
        _active(conn, eid)
        now = ctx.clock()
        store.update(conn, eid, now, lifecycle_stage=DELETED)
        run_store.set_lifecycle_for_experiment(conn, eid, DELETED, now)

    ctx.db.write(tx)


def restore(ctx: Ctx, experiment_id: str) -> None:
    eid = validation.parse_experiment_id(experiment_id)

    def tx(conn: Connection) -> None:
        if store.lifecycle_stage(conn, eid) != DELETED:
            raise ResourceDoesNotExist(f"No Experiment with id={eid} exists")
        store.update(conn, eid, ctx.clock(), lifecycle_stage=ACTIVE)
        run_store.set_lifecycle_for_experiment(conn, eid, ACTIVE, None)

    ctx.db.write(tx)


def rename(ctx: Ctx, experiment_id: str, new_name: str) -> None:
    eid = validation.parse_experiment_id(experiment_id)
    validation.validate_experiment_name(new_name)

    def tx(conn: Connection) -> None:
        if store.lifecycle_stage(conn, eid) != ACTIVE:
            raise InvalidState("Cannot rename a non-active experiment.")
        store.update(conn, eid, ctx.clock(), name=new_name)

    ctx.db.write(tx)


def _require_active(conn: Connection, eid: int) -> None:
    stage = store.lifecycle_stage(conn, eid)
    if stage != ACTIVE:
        raise InvalidParameterValue(
            f"The experiment {eid} must be in the 'active' state. Current state is {stage}."
        )


def set_tag(ctx: Ctx, experiment_id: str, tag: Tag) -> None:
    eid = validation.parse_experiment_id(experiment_id)
    validation.validate_experiment_tag(tag)

    def tx(conn: Connection) -> None:
        _require_active(conn, eid)
        store.set_tags(conn, eid, [tag])

    ctx.db.write(tx)


def delete_tag(ctx: Ctx, experiment_id: str, key: str) -> None:
    eid = validation.parse_experiment_id(experiment_id)

    def tx(conn: Connection) -> None:
        _require_active(conn, eid)
        if not store.delete_tag(conn, eid, key):
            raise ResourceDoesNotExist(f"No tag with name: {key} in experiment with id {eid}")

    ctx.db.write(tx)


def search_experiments(
    ctx: Ctx,
    view_type: str,
    max_results: int,
    filter_string: str | None,
    order_by: Sequence[str],
    page_token: str | None,
) -> Page[Experiment]:
    validation.check_order_by(len(order_by))
    validation.validate_max_results(max_results, validation.MAX_EXPERIMENTS_LISTED_PER_PAGE)
    filters = search.parse_experiment_filter(filter_string)
    ordering = search.parse_experiment_order_by(list(order_by))
    offset = search.decode_page_token(page_token)

    def tx(conn: Connection) -> list[Experiment]:
        return store.search(conn, filters, ordering, view_type, offset, max_results + 1)

    return search.page_of(ctx.db.read(tx), offset, max_results)
