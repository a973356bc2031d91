"""Registered models, their tags and aliases, in MLflow's tables of the model registry.

Renaming leans on the schema's ``ON UPDATE CASCADE`` foreign keys (versions, their tags and
the aliases follow the new name in the same statement, on SQLite with ``foreign_keys=ON`` as
on PostgreSQL). A page of models is loaded in five statements whatever its size: the models,
their tags, their aliases, their latest versions and those versions' tags.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from runyard.domain.entities import PROMPT_TAG, ModelAlias, RegisteredModel, Tag
from runyard.domain.permissions import ReadableModels
from runyard.domain.search import Comparison, OrderKey
from runyard.store import model_versions, registry_search
from runyard.store.engine import in_list, upsert
from runyard.store.model_versions import WORKSPACE
from runyard.store.schema import registered_model_aliases, registered_model_tags, registered_models

_RM = registered_models
_TAGS = registered_model_tags
_ALIASES = registered_model_aliases


def _named(name: str) -> list[ColumnElement[bool]]:
    return [_RM.c.workspace == WORKSPACE, _RM.c.name == name]


def insert(
    conn: Connection, name: str, now: int, description: str | None, tags: Sequence[Tag]
) -> bool:
    """A new model with its tags (a key given twice keeps its last value); False, and nothing
    written, when the name is taken (checked by the primary key: no race)."""
    row = {
        "workspace": WORKSPACE,
        "name": name,
        "creation_time": now,
        "last_updated_time": now,
        "description": description,
    }
    # RETURNING says whether the row went in (psycopg's rowcount is -1 for a skipped one).
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(_RM).values(**row).on_conflict_do_nothing()
        added = conn.execute(pg.returning(_RM.c.name)).first()
    else:
        lite = sqlite.insert(_RM).values(**row).on_conflict_do_nothing()
        added = conn.execute(lite.returning(_RM.c.name)).first()
    if added is None:
        return False
    last = {t.key: t for t in tags}
    if last:
        conn.execute(_TAGS.insert(), [_tag_row(name, t) for t in last.values()])
    return True


def _tag_row(name: str, tag: Tag) -> dict[str, Any]:
    return {"workspace": WORKSPACE, "name": name, "key": tag.key, "value": tag.value}


def exists(conn: Connection, name: str) -> bool:
    return conn.execute(sa.select(sa.literal(1)).where(*_named(name))).first() is not None


def is_prompt(conn: Connection, name: str) -> bool:
    """Whether the model carries the prompt tag (whatever its value, as MLflow asks)."""
    return prompt_tag(conn, name) is not None


def prompt_tag(conn: Connection, name: str) -> str | None:
    """The value of the model's prompt tag; None when it has none."""
    t = _TAGS.c
    found = conn.execute(
        sa.select(t.value).where(t.workspace == WORKSPACE, t.name == name, t.key == PROMPT_TAG)
    )
    row = found.first()
    return None if row is None else str(row[0])


def touch(conn: Connection, name: str, now: int) -> bool:
    """Set the model's last update to ``now``; False if there is no such model.

    The UPDATE also holds the model's row lock until commit (PostgreSQL; SQLite has one writer
    at a time), which is what keeps concurrent version numbering apart.
    """
    result = conn.execute(_RM.update().where(*_named(name)).values(last_updated_time=now))
    return bool(result.rowcount)


def update_description(conn: Connection, name: str, description: str | None, now: int) -> bool:
    result = conn.execute(
        _RM.update().where(*_named(name)).values(description=description, last_updated_time=now)
    )
    return bool(result.rowcount)


def rename(conn: Connection, name: str, new_name: str, now: int) -> bool:
    """Give the model (which exists) ``new_name``: its versions, their tags and its aliases
    follow by the foreign keys' cascade. False, and nothing changed, if the name is taken."""
    if new_name != name and exists(conn, new_name):
        return False
    statement = _RM.update().where(*_named(name)).values(name=new_name, last_updated_time=now)
    if conn.dialect.name == "postgresql":
        # A concurrent create or rename may take the name after the check: the primary key
        # refuses it then, in a savepoint so that the transaction survives to say so.
        try:
            with conn.begin_nested():
                conn.execute(statement)
        except IntegrityError:
            return False
    else:
        conn.execute(statement)  # SQLite: one writer at a time, the check stands
    model_versions.touch_all(conn, new_name, now)
    return True


def delete(conn: Connection, name: str) -> bool:
    """The model, its tags, aliases, versions and their tags; False if there is none."""
    if not exists(conn, name):
        return False
    model_versions.delete_all(conn, name)
    for table in (_TAGS, _ALIASES):
        conn.execute(table.delete().where(table.c.workspace == WORKSPACE, table.c.name == name))
    conn.execute(_RM.delete().where(*_named(name)))
    return True


def set_tag(conn: Connection, name: str, tag: Tag) -> None:
    upsert(conn, _TAGS, [_tag_row(name, tag)], keys=("workspace", "key", "name"))


def delete_tag(conn: Connection, name: str, key: str) -> None:
    t = _TAGS.c
    conn.execute(_TAGS.delete().where(t.workspace == WORKSPACE, t.name == name, t.key == key))


def set_alias(conn: Connection, name: str, alias: str, version: int) -> None:
    row = {"workspace": WORKSPACE, "name": name, "alias": alias, "version": version}
    upsert(conn, _ALIASES, [row], keys=("workspace", "name", "alias"))


def delete_alias(conn: Connection, name: str, alias: str) -> None:
    a = _ALIASES.c
    conn.execute(
        _ALIASES.delete().where(a.workspace == WORKSPACE, a.name == name, a.alias == alias)
    )


def delete_aliases_of(conn: Connection, name: str, version: int) -> None:
    a = _ALIASES.c
    conn.execute(
        _ALIASES.delete().where(a.workspace == WORKSPACE, a.name == name, a.version == version)
    )


def alias_version(conn: Connection, name: str, alias: str) -> int | None:
    a = _ALIASES.c
    found = conn.execute(
        sa.select(a.version).where(a.workspace == WORKSPACE, a.name == name, a.alias == alias)
    ).scalar()
    return None if found is None else int(found)


# --- loading ---------------------------------------------------------------------------------


def get(conn: Connection, name: str) -> RegisteredModel | None:
    rows = conn.execute(sa.select(_RM).where(*_named(name))).all()
    found = _load(conn, rows)
    return found[0] if found else None


def _load(conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
    """Whole models for ``rows`` of registered_models, in their order: four more statements."""
    if not rows:
        return []
    names = [r.name for r in rows]
    tags: dict[str, list[Tag]] = defaultdict(list)
    for name, key, value in conn.execute(
        sa.select(_TAGS.c.name, _TAGS.c.key, _TAGS.c.value)
        .where(_TAGS.c.workspace == WORKSPACE, in_list(conn, _TAGS.c.name, names))
        .order_by(_TAGS.c.key)
    ):
        tags[name].append(Tag(key, value or ""))
    aliases: dict[str, list[ModelAlias]] = defaultdict(list)
    a = _ALIASES.c
    for name, alias, version in conn.execute(
        sa.select(a.name, a.alias, a.version)
        .where(a.workspace == WORKSPACE, in_list(conn, a.name, names))
        .order_by(a.alias)
    ):
        aliases[name].append(ModelAlias(alias, int(version)))
    latest = model_versions.latest(conn, names)
    return [
        RegisteredModel(
            name=r.name,
            creation_timestamp=r.creation_time,
            last_updated_timestamp=r.last_updated_time,
            description=r.description,
            latest_versions=latest.get(r.name, []),
            tags=tags[r.name],
            aliases=aliases[r.name],
        )
        for r in rows
    ]


# --- search ----------------------------------------------------------------------------------


def search(
    conn: Connection,
    filters: Sequence[Comparison],
    order_by: Sequence[OrderKey],
    exclude_prompts: bool,
    offset: int,
    limit: int,
    readable: ReadableModels | None = None,
) -> list[RegisteredModel]:
    """One page of a search_registered_models, whole: five statements whatever its size."""
    query = registry_search.page_query(
        _RM,
        _TAGS,
        ("workspace", "name"),
        [_RM.c.workspace == WORKSPACE],
        filters,
        order_by,
        exclude_prompts,
        offset,
        limit,
        readable,
    )
    return _load(conn, conn.execute(query).all())
