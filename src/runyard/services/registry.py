"""The model registry (MLflow's ModelRegistryService): registered models and their versions.

One transaction per call, checks in the order MLflow's handlers and SqlAlchemyStore make them,
with their messages. Where MLflow answers a caller's mistake with a 500 (archiving from a stage
that is not active), runyard answers 400.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from runyard.domain import model_sources, search, validation
from runyard.domain import webhooks as events
from runyard.domain.entities import (
    MODEL_VERSION_READY,
    MODEL_VERSION_STAGES,
    MODEL_VERSIONS_TAG,
    PROMPT_TAG,
    STAGE_NONE,
    ModelVersion,
    Page,
    RegisteredModel,
    Tag,
)
from runyard.domain.permissions import ReadableModels
from runyard.domain.search import Comparison
from runyard.domain.search.registry import (
    parse_model_version_filter,
    parse_model_version_order_by,
    parse_registered_model_filter,
    parse_registered_model_order_by,
)
from runyard.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from runyard.services.context import Ctx
from runyard.services.webhooks import emit_event
from runyard.store import logged_models as logged_model_store
from runyard.store import model_versions as versions
from runyard.store import registered_models as models
from runyard.store import runs as run_store
from runyard.store.engine import Connection


def _no_model(name: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


def _no_version(name: str, version: int | str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Model Version (name={name}, version={version}) not found")


def _must_exist(conn: Connection, name: str) -> None:
    if not models.exists(conn, name):
        raise _no_model(name)


def _version_number(version: str) -> int:
    return validation.parse_model_version(version)


def _live_version(conn: Connection, name: str, version: int) -> ModelVersion:
    found = versions.get(conn, name, version) if validation.version_can_exist(version) else None
    if found is None:
        raise _no_version(name, version)
    return found


# --- registered models -----------------------------------------------------------------------


def create_registered_model(
    ctx: Ctx, name: str, tags: Sequence[Tag], description: str | None
) -> RegisteredModel:
    validation.validate_model_name(name)
    for tag in tags:
        validation.validate_registered_model_tag(tag)

    def tx(conn: Connection) -> RegisteredModel:
        if not models.insert(conn, name, ctx.clock(), description, tags):
            raise _taken(name, models.is_prompt(conn, name), any(t.key == PROMPT_TAG for t in tags))
        model = models.get(conn, name)
        assert model is not None
        sent = {t.key: t.value for t in tags}
        emit_event(conn, events.registered_model_created(name, sent, description or ""))
        return model

    return ctx.db.write(tx)


def _taken(name: str, existing_is_prompt: bool, new_is_prompt: bool) -> ResourceAlreadyExists:
    old = "Prompt" if existing_is_prompt else "Registered Model"
    new = "Prompt" if new_is_prompt else "Registered Model"
    if old != new:
        return ResourceAlreadyExists(
            f"Tried to create a {new.lower()} with name {name!r}, but the name is already taken "
            f"by a {old.lower()}. MLflow does not allow creating a model and a prompt with the "
            "same name."
        )
    return ResourceAlreadyExists(f"{new} (name={name}) already exists.")


def get_registered_model(ctx: Ctx, name: str) -> RegisteredModel:
    validation.validate_model_name(name)
    model = ctx.db.read(lambda conn: models.get(conn, name))
    if model is None:
        raise _no_model(name)
    return model


def update_registered_model(ctx: Ctx, name: str, description: str | None) -> RegisteredModel:
    validation.validate_model_name(name)

    def tx(conn: Connection) -> RegisteredModel:
        if not models.update_description(conn, name, description, ctx.clock()):
            raise _no_model(name)
        model = models.get(conn, name)
        assert model is not None
        return model

    return ctx.db.write(tx)


def rename_registered_model(ctx: Ctx, name: str, new_name: str) -> RegisteredModel:
    validation.validate_new_model_name(new_name)
    validation.validate_model_name(name)

    def tx(conn: Connection) -> RegisteredModel:
        _must_exist(conn, name)
        if not models.rename(conn, name, new_name, ctx.clock()):
            raise ResourceAlreadyExists(f"Registered Model (name={new_name}) already exists.")
        model = models.get(conn, new_name)
        assert model is not None
        return model

    return ctx.db.write(tx)


def delete_registered_model(ctx: Ctx, name: str) -> None:
    """The model with its versions, tags and aliases, all in one transaction."""
    validation.validate_model_name(name)

    def tx(conn: Connection) -> None:
        if not models.delete(conn, name):
            raise _no_model(name)

    ctx.db.write(tx)


def _querying_prompts(filters: Sequence[Comparison]) -> bool:
    """MLflow hides prompts from a search unless its first filter on the prompt tag asks for
    them; a filter on that tag that does not is dropped."""
    for c in filters:
        if c.entity == "tag" and c.key == PROMPT_TAG:
            value = str(c.value).lower()
            return (c.comparator == "=" and value == "true") or (
                c.comparator == "!=" and value == "false"
            )
    return False


def _prompt_scope(filters: list[Comparison]) -> tuple[list[Comparison], bool]:
    """(the filters to apply, whether to leave prompts out)."""
    if _querying_prompts(filters):
        return filters, False
    return [c for c in filters if not (c.entity == "tag" and c.key == PROMPT_TAG)], True


def search_registered_models(
    ctx: Ctx,
    filter_string: str | None,
    max_results: int | None,
    order_by: Sequence[str],
    page_token: str | None,
    readable: ReadableModels | None = None,
) -> Page[RegisteredModel]:
    """A page of the models ``readable`` allows (None: all), filtered in the query, so pages
    are full and their offset tokens count only what the caller sees."""
    limit = validation.registered_model_page_size(max_results)
    validation.check_order_by(len(order_by))
    filters, exclude_prompts = _prompt_scope(parse_registered_model_filter(filter_string))
    ordering = parse_registered_model_order_by(order_by)
    offset = search.decode_page_token(page_token)

    def tx(conn: Connection) -> list[RegisteredModel]:
        return models.search(conn, filters, ordering, exclude_prompts, offset, limit + 1, readable)

    return search.page_of(ctx.db.read(tx), offset, limit)


def set_registered_model_tag(ctx: Ctx, name: str, tag: Tag) -> None:
    validation.validate_model_name(name)
    validation.validate_registered_model_tag(tag)

    def tx(conn: Connection) -> None:
        _must_exist(conn, name)
        models.set_tag(conn, name, tag)
        prompt = models.is_prompt(conn, name)  # after the write, as MLflow reads it
        emit_event(conn, events.registered_model_tag_set(prompt, name, tag.key, tag.value))

    ctx.db.write(tx)


def delete_registered_model_tag(ctx: Ctx, name: str, key: str) -> None:
    validation.validate_model_name(name)
    validation.validate_key_name(key, "key")

    def tx(conn: Connection) -> None:
        _must_exist(conn, name)
        models.delete_tag(conn, name, key)  # absent: nothing to do, as in MLflow
        prompt = models.is_prompt(conn, name)
        emit_event(conn, events.registered_model_tag_deleted(prompt, name, key))

    ctx.db.write(tx)


# --- aliases ---------------------------------------------------------------------------------


def set_registered_model_alias(ctx: Ctx, name: str, alias: str, version: str) -> None:
    validation.validate_model_name(name)
    validation.validate_alias_name(alias)
    validation.validate_alias_not_reserved(alias)
    number = _version_number(version)

    def tx(conn: Connection) -> None:
        _live_version(conn, name, number)
        models.set_alias(conn, name, alias, number)
        prompt = models.is_prompt(conn, name)
        emit_event(conn, events.alias_set(prompt, name, alias, str(number)))

    ctx.db.write(tx)


def delete_registered_model_alias(ctx: Ctx, name: str, alias: str) -> None:
    validation.validate_model_name(name)
    validation.validate_alias_name(alias)

    def tx(conn: Connection) -> None:
        _must_exist(conn, name)
        models.delete_alias(conn, name, alias)
        emit_event(conn, events.alias_deleted(models.is_prompt(conn, name), name, alias))

    ctx.db.write(tx)


def get_model_version_by_alias(ctx: Ctx, name: str, alias: str) -> ModelVersion:
    validation.validate_model_name(name)
    validation.validate_alias_name(alias)
    if alias.lower() == validation.LATEST_ALIAS:
        latest = get_latest_versions(ctx, name, [])
        if not latest:
            raise ResourceDoesNotExist(f"Latest version not found for model {name}.")
        return max(latest, key=lambda mv: mv.version)

    def tx(conn: Connection) -> ModelVersion:
        _must_exist(conn, name)
        number = models.alias_version(conn, name, alias)
        if number is None:
            raise InvalidParameterValue(f"Registered model alias {alias} not found.")
        return _live_version(conn, name, number)

    return ctx.db.read(tx)


# --- model versions --------------------------------------------------------------------------


def get_latest_versions(ctx: Ctx, name: str, stages: Sequence[str]) -> list[ModelVersion]:
    """The highest version of each of ``stages`` (all when empty), with their aliases."""
    validation.validate_model_name(name)

    def tx(conn: Connection) -> list[ModelVersion]:
        _must_exist(conn, name)
        wanted = {validation.canonical_stage(s) for s in stages or MODEL_VERSION_STAGES}
        found = versions.latest(conn, [name]).get(name, [])
        aliases = versions.aliases_by_version(conn, name)
        return [
            replace(mv, aliases=aliases.get(mv.version, []))
            for mv in found
            if mv.current_stage in wanted
        ]

    return ctx.db.read(tx)


def create_model_version(
    ctx: Ctx,
    name: str,
    source: str,
    run_id: str | None,
    tags: Sequence[Tag],
    run_link: str | None,
    description: str | None,
    model_id: str | None,
) -> ModelVersion:
    """A new version, numbered one past the highest the model ever had.

    The model's row is updated (its last update time) first, which holds its lock until
    commit: concurrent creations on the same model take their numbers one after the other.
    """
    validation.validate_model_name(name)
    last_tags = list({t.key: t for t in tags}.values())
    prompt = any(t.key == PROMPT_TAG and t.value.lower() == "true" for t in last_tags)
    if prompt:
        model_sources.check_prompt_source(source)

    def tx(conn: Connection) -> ModelVersion:
        nonlocal run_id
        # An unknown model is a 404 before its source is looked at (MLflow checks the source
        # first; its check of runs:/ sources needs no run, runyard's needs the run's root).
        now = ctx.clock()
        if not models.touch(conn, name, now):
            raise _no_model(name)
        storage_location = final_source = source
        if not prompt:
            final_source, run_id, storage_location = _resolve_source(conn, source, run_id, model_id)
        for tag in tags:
            validation.validate_model_version_tag(tag)
        mv = ModelVersion(
            name=name,
            version=versions.next_version(conn, name),
            creation_timestamp=now,
            last_updated_timestamp=now,
            description=description,
            current_stage=STAGE_NONE,
            source=final_source,
            run_id=run_id,
            status=MODEL_VERSION_READY,
            run_link=run_link,
            storage_location=storage_location,
            tags=sorted(last_tags, key=lambda t: t.key),
        )
        versions.insert(conn, mv)
        if model_id and not prompt:
            _record_on_logged_model(conn, model_id, name, mv.version)
        sent = {t.key: t.value for t in tags}
        emit_event(
            conn,
            events.model_version_created(name, mv.version, final_source, run_id, sent, description),
        )
        return mv

    return ctx.db.write(tx)


def _record_on_logged_model(conn: Connection, model_id: str, name: str, version: int) -> None:
    """The logged model's ``mlflow.modelVersions`` tag lists the versions made from it."""
    model = logged_model_store.get(conn, model_id)
    if model is None:
        raise ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.")
    entry = {"name": name, "version": version}
    listed: list[object] = []
    for tag in model.tags:
        if tag.key == MODEL_VERSIONS_TAG:
            listed = json.loads(tag.value)
    if entry not in listed:
        listed.append(entry)
    value = json.dumps(listed)
    logged_model_store.set_tags(
        conn, model_id, model.experiment_id, [Tag(MODEL_VERSIONS_TAG, value)]
    )


# --- sources ---------------------------------------------------------------------------------


def _version_reference(source: str) -> tuple[str, str | None, str | None] | None:
    """(name, version or stage suffix, alias) of a ``models:/<name>/<suffix>`` or
    ``models:/<name>@<alias>`` source; None for any other source (``models:/<model_id>``
    included), which domain/model_sources decides."""
    if not source.startswith("models:/") or source.startswith("models://"):
        return None
    parts = source.removeprefix("models:/").split("/")
    if len(parts) == 2 and parts[0].strip() and parts[1].strip():
        return parts[0], parts[1], None
    if len(parts) == 1 and "@" in parts[0]:
        name, _, alias = parts[0].rpartition("@")
        if name.strip() and alias.strip():
            return name, None, alias
    return None


def _resolve_source(
    conn: Connection, source: str, run_id: str | None, model_id: str | None
) -> tuple[str, str | None, str]:
    """(source, run_id, storage location) of a new version, its source checked.

    A source naming another registered version copies that version's lineage, as MLflow
    does: its files were checked when it was made. Any other source is checked by the one
    rule for sources, against the logged model or run the request names. The storage location
    is MLflow's: the logged model's artifacts for ``models:/<model_id>``, else the source.
    """
    reference = _version_reference(source)
    if reference is not None:
        if (models.prompt_tag(conn, reference[0]) or "").lower() == "true":
            # A prompt version has no files to copy (its source is a placeholder). An unknown
            # model has no tag: _referenced_version answers 404 for it.
            raise InvalidParameterValue(
                f"Invalid model version source: '{source}'. Prompt versions cannot be used as "
                "model version sources."
            )
        ref = _referenced_version(conn, *reference)
        canonical = f"models:/{reference[0]}/{ref.version}"
        return canonical, run_id or ref.run_id, ref.storage_location or ref.source or canonical
    owner: model_sources.SourceOwner | None = None
    logged = None
    if model_id:
        logged = logged_model_store.get(conn, model_id)
        location = logged.artifact_location if logged is not None else None
        owner = model_sources.SourceOwner("model", model_id, location)
    elif run_id:
        owner = model_sources.SourceOwner("run", run_id, _run_artifact_uri(conn, run_id))
    model_sources.resolve_version_source(source, owner)
    storage = source
    if logged is not None:
        run_id = run_id or logged.source_run_id
        if source.startswith("models:"):
            storage = logged.artifact_location
    return source, run_id, storage


def _run_artifact_uri(conn: Connection, run_id: str) -> str | None:
    try:
        return run_store.get_info(conn, run_id).artifact_uri
    except ResourceDoesNotExist:
        return None


def _referenced_version(
    conn: Connection, name: str, suffix: str | None, alias: str | None
) -> ModelVersion:
    _must_exist(conn, name)
    if alias is not None:
        number = models.alias_version(conn, name, alias)
        if number is None:
            raise InvalidParameterValue(f"Registered model alias {alias} not found.")
        return _live_version(conn, name, number)
    # isdecimal, not isdigit: int() refuses "²" and "⑦", which isdigit accepts
    if suffix is not None and suffix.isdecimal():
        return _live_version(conn, name, int(suffix))
    latest = versions.latest(conn, [name]).get(name, [])
    if suffix is not None and suffix.lower() != validation.LATEST_ALIAS:
        stage = validation.canonical_stage(suffix)
        latest = [mv for mv in latest if mv.current_stage == stage]
    if not latest:
        raise ResourceDoesNotExist(f"No versions of model with name '{name}' found")
    return max(latest, key=lambda mv: mv.version)


# --- versions, continued ---------------------------------------------------------------------


def get_model_version(ctx: Ctx, name: str, version: str) -> ModelVersion:
    validation.validate_model_name(name)
    number = _version_number(version)
    return ctx.db.read(lambda conn: _live_version(conn, name, number))


def update_model_version(
    ctx: Ctx, name: str, version: str, description: str | None
) -> ModelVersion:
    validation.validate_model_name(name)
    number = _version_number(version)

    def tx(conn: Connection) -> ModelVersion:
        now = ctx.clock()
        if not validation.version_can_exist(number) or not versions.update(
            conn, name, number, description=description, last_updated_time=now
        ):
            raise _no_version(name, number)
        return _live_version(conn, name, number)

    return ctx.db.write(tx)


def transition_model_version_stage(
    ctx: Ctx, name: str, version: str, stage: str, archive_existing_versions: bool
) -> ModelVersion:
    validation.check_archive_existing(stage, archive_existing_versions)
    target = validation.canonical_stage(stage)
    validation.validate_model_name(name)
    number = _version_number(version)

    def tx(conn: Connection) -> ModelVersion:
        now = ctx.clock()
        _live_version(conn, name, number)
        if archive_existing_versions:
            versions.archive_others(conn, name, number, target, now)
        versions.update(conn, name, number, current_stage=target, last_updated_time=now)
        models.touch(conn, name, now)
        return _live_version(conn, name, number)

    return ctx.db.write(tx)


def delete_model_version(ctx: Ctx, name: str, version: str) -> None:
    """As MLflow: the row stays, redacted and out of sight, so its number is never reused;
    its aliases go, its tags stay."""
    number = _version_number(version)
    validation.validate_model_name(name)

    def tx(conn: Connection) -> None:
        now = ctx.clock()
        if not validation.version_can_exist(number) or not versions.soft_delete(
            conn, name, number, now
        ):
            raise _no_version(name, number)
        models.touch(conn, name, now)
        models.delete_aliases_of(conn, name, number)

    ctx.db.write(tx)


def get_model_version_download_uri(ctx: Ctx, name: str, version: str) -> str:
    validation.validate_model_name(name)
    number = _version_number(version)

    def tx(conn: Connection) -> str:
        found = None
        if validation.version_can_exist(number):
            found = versions.download_location(conn, name, number)
        if found is None:
            raise _no_version(name, number)
        return found

    return ctx.db.read(tx)


def search_model_versions(
    ctx: Ctx,
    filter_string: str | None,
    max_results: int | None,
    order_by: Sequence[str],
    page_token: str | None,
    readable: ReadableModels | None = None,
) -> Page[ModelVersion]:
    """A page of the versions of the models ``readable`` allows (None: all), as
    :func:`search_registered_models` filters them."""
    limit = validation.model_version_page_size(max_results)
    validation.check_order_by(len(order_by))
    filters, exclude_prompts = _prompt_scope(parse_model_version_filter(filter_string))
    ordering = parse_model_version_order_by(order_by)
    offset = search.decode_page_token(page_token)

    def tx(conn: Connection) -> list[ModelVersion]:
        return versions.search(
            conn, filters, ordering, exclude_prompts, offset, limit + 1, readable
        )

    return search.page_of(ctx.db.read(tx), offset, limit)


def set_model_version_tag(ctx: Ctx, name: str, version: str, tag: Tag) -> None:
    validation.validate_model_name(name)
    number = _version_number(version)
    validation.validate_model_version_tag(tag)

    def tx(conn: Connection) -> None:
        _live_version(conn, name, number)
        versions.set_tag(conn, name, number, tag)
        prompt = models.is_prompt(conn, name)
        emit_event(
            conn, events.model_version_tag_set(prompt, name, str(number), tag.key, tag.value)
        )

    ctx.db.write(tx)


def delete_model_version_tag(ctx: Ctx, name: str, version: str, key: str) -> None:
    validation.validate_model_name(name)
    number = _version_number(version)
    validation.validate_key_name(key, "key")

    def tx(conn: Connection) -> None:
        _live_version(conn, name, number)
        versions.delete_tag(conn, name, number, key)
        prompt = models.is_prompt(conn, name)
        emit_event(conn, events.model_version_tag_deleted(prompt, name, str(number), key))

    ctx.db.write(tx)


def referenced_model(source: str) -> str | None:
    """The registered model a ``models:/<name>/...`` or ``models:/<name>@alias`` source
    copies a version of (None for any other source): creating such a version reads it."""
    reference = _version_reference(source)
    return None if reference is None else reference[0]
