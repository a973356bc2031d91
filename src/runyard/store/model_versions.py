"""Model versions and their tags, in MLflow's ``model_versions`` and ``model_version_tags``.

Every statement names the workspace (MLflow's single-tenant one, the schema's default), so the
(workspace, name, version) primary key serves it. A deleted version keeps its row in the
internal stage, redacted, as MLflow's store does: reads here skip it, numbering does not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from runyard.domain.entities import (
    STAGE_DELETED_INTERNAL,
    ModelVersion,
    Tag,
)
from runyard.domain.permissions import ReadableModels
from runyard.domain.search import Comparison, OrderKey
from runyard.store import registry_search
from runyard.store.engine import in_list, in_pairs, upsert
from runyard.store.schema import model_version_tags, model_versions, registered_model_aliases

_MV = model_versions
_TAGS = model_version_tags
_ALIASES = registered_model_aliases


def _schema_default(column: sa.Column[Any]) -> str:
    default = column.server_default
    assert isinstance(default, sa.DefaultClause)
    return str(default.arg)


# MLflow's single-tenant workspace: the value the schema gives the column by default.
WORKSPACE = _schema_default(_MV.c.workspace)

# What MLflow writes over a deleted version's columns.
_REDACTED = {
    "description": None,
    "user_id": None,
    "source": "REDACTED-SOURCE-PATH",
    "run_id": "REDACTED-RUN-ID",
    "run_link": "REDACTED-RUN-LINK",
    "status_message": None,
}


def _key(name: str, version: int) -> list[ColumnElement[bool]]:
    return [_MV.c.workspace == WORKSPACE, _MV.c.name == name, _MV.c.version == version]


def _live() -> ColumnElement[bool]:
    return _MV.c.current_stage != STAGE_DELETED_INTERNAL


def next_version(conn: Connection, name: str) -> int:
    """One more than the highest version ever made (deleted ones included). The caller holds
    the registered model's row lock, so no concurrent creation can take the same number."""
    found = conn.execute(
        sa.select(sa.func.max(_MV.c.version)).where(
            _MV.c.workspace == WORKSPACE, _MV.c.name == name
        )
    ).scalar()
    return int(found or 0) + 1


def insert(conn: Connection, mv: ModelVersion) -> None:
    conn.execute(
        _MV.insert().values(
            workspace=WORKSPACE,
            name=mv.name,
            version=mv.version,
            creation_time=mv.creation_timestamp,
            last_updated_time=mv.last_updated_timestamp,
            description=mv.description,
            user_id=mv.user_id,
            current_stage=mv.current_stage,
            source=mv.source,
            run_id=mv.run_id,
            status=mv.status,
            status_message=mv.status_message,
            run_link=mv.run_link,
            storage_location=mv.storage_location,
        )
    )
    if mv.tags:
        conn.execute(_TAGS.insert(), [_tag_row(mv.name, mv.version, t) for t in mv.tags])


def _tag_row(name: str, version: int, tag: Tag) -> dict[str, Any]:
    return {
        "workspace": WORKSPACE,
        "name": name,
        "version": version,
        "key": tag.key,
        "value": tag.value,
    }


def exists(conn: Connection, name: str, version: int) -> bool:
    found = conn.execute(sa.select(sa.literal(1)).where(*_key(name, version), _live()))
    return found.first() is not None


def get(
    conn: Connection, name: str, version: int, with_aliases: bool = True
) -> ModelVersion | None:
    """A version that is not deleted, with its tags (and aliases)."""
    row = conn.execute(sa.select(_MV).where(*_key(name, version), _live())).first()
    if row is None:
        return None
    tags = conn.execute(
        sa.select(_TAGS.c.key, _TAGS.c.value)
        .where(_TAGS.c.workspace == WORKSPACE, _TAGS.c.name == name, _TAGS.c.version == version)
        .order_by(_TAGS.c.key)
    )
    aliases = aliases_of(conn, name, version) if with_aliases else []
    return _entity(row, [Tag(k, v or "") for k, v in tags], aliases)


def aliases_of(conn: Connection, name: str, version: int) -> list[str]:
    a = _ALIASES.c
    found = conn.execute(
        sa.select(a.alias)
        .where(a.workspace == WORKSPACE, a.name == name, a.version == version)
        .order_by(a.alias)
    )
    return list(found.scalars())


def aliases_by_version(conn: Connection, name: str) -> dict[int, list[str]]:
    """The model's aliases, by the version each names: one statement."""
    a = _ALIASES.c
    out: dict[int, list[str]] = defaultdict(list)
    for alias, version in conn.execute(
        sa.select(a.alias, a.version)
        .where(a.workspace == WORKSPACE, a.name == name)
        .order_by(a.alias)
    ):
        out[int(version)].append(alias)
    return out


def update(conn: Connection, name: str, version: int, **values: object) -> bool:
    """Change columns of a version that is not deleted; False if there is none."""
    result = conn.execute(_MV.update().where(*_key(name, version), _live()).values(**values))
    return bool(result.rowcount)


def archive_others(conn: Connection, name: str, version: int, stage: str, now: int) -> None:
    """Move the model's other versions in ``stage`` to Archived."""
    conn.execute(
        _MV.update()
        .where(
            _MV.c.workspace == WORKSPACE,
            _MV.c.name == name,
            _MV.c.version != version,
            _MV.c.current_stage == stage,
        )
        .values(current_stage="Archived", last_updated_time=now)
    )


def soft_delete(conn: Connection, name: str, version: int, now: int) -> bool:
    """Mark the version deleted and redact it, as MLflow does (its tags stay)."""
    return update(
        conn,
        name,
        version,
        current_stage=STAGE_DELETED_INTERNAL,
        last_updated_time=now,
        **_REDACTED,
    )


def touch_all(conn: Connection, name: str, now: int) -> None:
    """Every version of the model (deleted ones too) was updated now (a rename)."""
    conn.execute(
        _MV.update()
        .where(_MV.c.workspace == WORKSPACE, _MV.c.name == name)
        .values(last_updated_time=now)
    )


def delete_all(conn: Connection, name: str) -> None:
    """Every version of the model and their tags, gone (the model is being deleted)."""
    conn.execute(_TAGS.delete().where(_TAGS.c.workspace == WORKSPACE, _TAGS.c.name == name))
    conn.execute(_MV.delete().where(_MV.c.workspace == WORKSPACE, _MV.c.name == name))


def set_tag(conn: Connection, name: str, version: int, tag: Tag) -> None:
    upsert(
        conn,
        _TAGS,
        [_tag_row(name, version, tag)],
        keys=("workspace", "key", "name", "version"),
    )


def delete_tag(conn: Connection, name: str, version: int, key: str) -> None:
    conn.execute(
        _TAGS.delete().where(
            _TAGS.c.workspace == WORKSPACE,
            _TAGS.c.name == name,
            _TAGS.c.version == version,
            _TAGS.c.key == key,
        )
    )


def download_location(conn: Connection, name: str, version: int) -> str | None:
    """Where the version's files are (``storage_location``, else its source); None if there
    is no such version."""
    row = conn.execute(
        sa.select(_MV.c.storage_location, _MV.c.source).where(*_key(name, version), _live())
    ).first()
    if row is None:
        return None
    return str(row.storage_location or row.source or "")


# --- loading many ----------------------------------------------------------------------------


def _tags_of(conn: Connection, rows: Sequence[Any]) -> dict[tuple[str, int], list[Tag]]:
    """Tags of the versions ``rows`` holds, in one statement on their keys (joining to the
    query that found them instead would run it again, and PostgreSQL without statistics on
    fresh rows then reruns it for every tag row)."""
    t = _TAGS.c
    keys = [(r.name, int(r.version)) for r in rows]
    found = conn.execute(
        sa.select(t.name, t.version, t.key, t.value)
        .where(t.workspace == WORKSPACE, in_pairs(conn, t.name, t.version, keys))
        .order_by(t.key)
    )
    out: dict[tuple[str, int], list[Tag]] = defaultdict(list)
    for name, version, key, value in found:
        out[(name, version)].append(Tag(key, value or ""))
    return out


def latest(conn: Connection, names: Sequence[str]) -> dict[str, list[ModelVersion]]:
    """Per model, the highest version of each stage it has (deleted ones aside), with tags
    and no aliases, as MLflow renders a registered model's ``latest_versions``: two
    statements for any number of models.

    The stages come in the order MLflow's get builds them: by the lowest version in each.
    """
    if not names:
        return {}
    mv = _MV.c
    ranked = (
        sa.select(
            _MV,
            sa.func.row_number()
            .over(partition_by=[mv.name, mv.current_stage], order_by=mv.version.desc())
            .label("rank"),
            sa.func.min(mv.version).over(partition_by=[mv.name, mv.current_stage]).label("first"),
        )
        .where(mv.workspace == WORKSPACE, in_list(conn, mv.name, list(names)), _live())
        .subquery("ranked")
    )
    top = sa.select(ranked).where(ranked.c.rank == 1)
    rows = conn.execute(top.order_by(ranked.c.name, ranked.c.first)).all()
    tags = _tags_of(conn, rows) if rows else {}
    out: dict[str, list[ModelVersion]] = {name: [] for name in names}
    for r in rows:
        out[r.name].append(_entity(r, tags.get((r.name, r.version), []), []))
    return out


# --- search ----------------------------------------------------------------------------------


def search(
    conn: Connection,
    filters: Sequence[Comparison],
    order_by: Sequence[OrderKey],
    exclude_prompts: bool,
    offset: int,
    limit: int,
    readable: ReadableModels | None = None,
) -> list[ModelVersion]:
    """One page of a search_model_versions, with tags (and, as in MLflow, no aliases): two
    statements whatever the page size."""
    page = registry_search.page_query(
        _MV,
        _TAGS,
        ("workspace", "name", "version"),
        [_MV.c.workspace == WORKSPACE, _live()],
        filters,
        order_by,
        exclude_prompts,
        offset,
        limit,
        readable,
    )
    rows = conn.execute(page).all()
    tags = _tags_of(conn, rows) if rows else {}
    return [_entity(r, tags.get((r.name, r.version), []), []) for r in rows]


def _entity(row: Any, tags: list[Tag], aliases: list[str]) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=int(row.version),
        creation_timestamp=row.creation_time,
        last_updated_timestamp=row.last_updated_time,
        description=row.description,
        user_id=row.user_id,
        current_stage=row.current_stage,
        source=row.source,
        run_id=row.run_id,
        status=row.status,
        status_message=row.status_message,
        run_link=row.run_link,
        storage_location=row.storage_location,
        tags=tags,
        aliases=aliases,
    )
