"""All SQL for users, API tokens and experiment and registered model permissions (tables in
``auth_schema``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from runyard.errors import ResourceAlreadyExists
from runyard.store.auth_schema import (
    experiment_permissions,
    metadata,
    registered_model_permissions,
    tokens,
    users,
)
from runyard.store.engine import upsert
from runyard.store.model_versions import WORKSPACE
from runyard.store.schema import experiments, logged_models, registered_models, runs

# Any constant: serialises concurrent table creation by several workers on PostgreSQL.
_CREATE_LOCK_KEY = 0x72756E79  # "runy"


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    password_hash: str
    is_admin: bool
    created_at: int


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    username: str
    name: str
    created_at: int


@dataclass(frozen=True, slots=True)
class GrantRow:
    experiment_id: int
    username: str
    user_id: int
    permission: str


@dataclass(frozen=True, slots=True)
class ModelGrantRow:
    name: str  # the registered model's
    username: str
    user_id: int
    permission: str


def ensure_tables(conn: Connection) -> None:
    """Create the ``runyard_`` tables unless they exist (in the caller's write transaction)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CREATE_LOCK_KEY})
    metadata.create_all(conn, checkfirst=True)


def tables_exist(conn: Connection) -> bool:
    return sa.inspect(conn).has_table(users.name)


# --- users -------------------------------------------------------------------------------------


def _user(row: Any) -> UserRow:
    return UserRow(row.id, row.username, row.password_hash, bool(row.is_admin), row.created_at)


def insert_user(
    conn: Connection, username: str, password_hash: str, is_admin: bool, now: int
) -> int:
    try:
        with conn.begin_nested():
            result = conn.execute(
                users.insert().values(
                    username=username,
                    password_hash=password_hash,
                    is_admin=is_admin,
                    created_at=now,
                )
            )
    except IntegrityError as exc:
        raise ResourceAlreadyExists(f"User '{username}' already exists.") from exc
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def get_user(conn: Connection, username: str) -> UserRow | None:
    row = conn.execute(sa.select(users).where(users.c.username == username)).first()
    return None if row is None else _user(row)


def list_users(conn: Connection) -> list[UserRow]:
    return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.username))]


def count_admins(conn: Connection) -> int:
    query = sa.select(sa.func.count()).select_from(users).where(users.c.is_admin.is_(True))
    return int(conn.execute(query).scalar_one())


def update_user(conn: Connection, username: str, **values: object) -> bool:
    result = conn.execute(users.update().where(users.c.username == username).values(**values))
    return bool(result.rowcount)


def delete_user(conn: Connection, user_id: int) -> None:
    # Explicit rather than ON DELETE CASCADE: SQLite enforces foreign keys only when asked to.
    conn.execute(tokens.delete().where(tokens.c.user_id == user_id))
    conn.execute(experiment_permissions.delete().where(experiment_permissions.c.user_id == user_id))
    conn.execute(_model_perm.delete().where(_model_perm.c.user_id == user_id))
    conn.execute(users.delete().where(users.c.id == user_id))


# --- tokens ------------------------------------------------------------------------------------


def insert_token(conn: Connection, user_id: int, name: str, sha256: str, now: int) -> int:
    result = conn.execute(
        tokens.insert().values(user_id=user_id, name=name, sha256=sha256, created_at=now)
    )
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def user_by_token(conn: Connection, sha256: str) -> UserRow | None:
    query = sa.select(users).join(tokens, tokens.c.user_id == users.c.id)
    row = conn.execute(query.where(tokens.c.sha256 == sha256)).first()
    return None if row is None else _user(row)


def list_tokens(conn: Connection, username: str | None) -> list[TokenRow]:
    query = sa.select(tokens.c.id, users.c.username, tokens.c.name, tokens.c.created_at).join(
        users, tokens.c.user_id == users.c.id
    )
    if username is not None:
        query = query.where(users.c.username == username)
    rows = conn.execute(query.order_by(tokens.c.id))
    return [TokenRow(r.id, r.username, r.name, r.created_at) for r in rows]


def delete_token(conn: Connection, token_id: int) -> bool:
    return bool(conn.execute(tokens.delete().where(tokens.c.id == token_id)).rowcount)


# --- experiment permissions --------------------------------------------------------------------

_perm = experiment_permissions


def experiment_exists(conn: Connection, experiment_id: int) -> bool:
    query = sa.select(experiments.c.experiment_id).where(
        experiments.c.experiment_id == experiment_id
    )
    return conn.execute(query).first() is not None


def grant(conn: Connection, user_id: int, experiment_id: int) -> str | None:
    """The user's permission name on one experiment, or None without a grant."""
    query = sa.select(_perm.c.permission).where(
        _perm.c.user_id == user_id, _perm.c.experiment_id == experiment_id
    )
    value: str | None = conn.execute(query).scalar()
    return value


def grants(conn: Connection, user_id: int, experiment_ids: Sequence[int] | None) -> dict[int, str]:
    """The user's grants, on the given experiments or (None) on all of them."""
    query = sa.select(_perm.c.experiment_id, _perm.c.permission).where(_perm.c.user_id == user_id)
    if experiment_ids is not None:
        query = query.where(_perm.c.experiment_id.in_(list(set(experiment_ids))))
    return {int(r.experiment_id): r.permission for r in conn.execute(query)}


def _through(
    conn: Connection, table: sa.Table, key: sa.Column[Any], values: Sequence[str], user_id: int
) -> list[tuple[str, int, str | None]]:
    """(key, experiment_id, the user's permission or None) of each existing row of ``table``
    whose ``key`` is in ``values``: the resource's experiment and the grant in one query."""
    query = (
        sa.select(key, table.c.experiment_id, _perm.c.permission)
        .select_from(table)
        .outerjoin(
            _perm,
            sa.and_(_perm.c.experiment_id == table.c.experiment_id, _perm.c.user_id == user_id),
        )
        .where(key.in_(list(set(values))))
    )
    return [(r[0], int(r[1]), r[2]) for r in conn.execute(query)]


def grants_via_runs(
    conn: Connection, run_ids: Sequence[str], user_id: int
) -> list[tuple[str, int, str | None]]:
    return _through(conn, runs, runs.c.run_uuid, run_ids, user_id)


def grants_via_models(
    conn: Connection, model_ids: Sequence[str], user_id: int
) -> list[tuple[str, int, str | None]]:
    return _through(conn, logged_models, logged_models.c.model_id, model_ids, user_id)


def grants_via_names(
    conn: Connection, names: Sequence[str], user_id: int
) -> list[tuple[str, int, str | None]]:
    return _through(conn, experiments, experiments.c.name, names, user_id)


def list_grants(
    conn: Connection, experiment_id: int | None = None, username: str | None = None
) -> list[GrantRow]:
    query = sa.select(_perm.c.experiment_id, users.c.username, users.c.id, _perm.c.permission).join(
        users, users.c.id == _perm.c.user_id
    )
    if experiment_id is not None:
        query = query.where(_perm.c.experiment_id == experiment_id)
    if username is not None:
        query = query.where(users.c.username == username)
    rows = conn.execute(query.order_by(_perm.c.experiment_id, users.c.username))
    return [GrantRow(int(r[0]), r[1], int(r[2]), r[3]) for r in rows]


def insert_grant(conn: Connection, user_id: int, experiment_id: int, permission: str) -> bool:
    """Add a grant; False if the user already has one on that experiment."""
    try:
        with conn.begin_nested():
            conn.execute(
                _perm.insert().values(
                    user_id=user_id, experiment_id=experiment_id, permission=permission
                )
            )
    except IntegrityError:
        return False
    return True


def set_grant(conn: Connection, user_id: int, experiment_id: int, permission: str) -> None:
    """Add a grant or overwrite the existing one."""
    row = {"user_id": user_id, "experiment_id": experiment_id, "permission": permission}
    upsert(conn, _perm, [row], keys=["user_id", "experiment_id"])


def update_grant(conn: Connection, user_id: int, experiment_id: int, permission: str) -> bool:
    result = conn.execute(
        _perm.update()
        .where(_perm.c.user_id == user_id, _perm.c.experiment_id == experiment_id)
        .values(permission=permission)
    )
    return bool(result.rowcount)


def delete_grant(conn: Connection, user_id: int, experiment_id: int) -> bool:
    result = conn.execute(
        _perm.delete().where(_perm.c.user_id == user_id, _perm.c.experiment_id == experiment_id)
    )
    return bool(result.rowcount)


# --- registered model permissions --------------------------------------------------------------

_model_perm = registered_model_permissions
_RM = registered_models


def registered_model_exists(conn: Connection, name: str) -> bool:
    query = sa.select(sa.literal(1)).where(_RM.c.workspace == WORKSPACE, _RM.c.name == name)
    return conn.execute(query).first() is not None


def model_grants_via_names(
    conn: Connection, names: Sequence[str], user_id: int
) -> list[tuple[str, str | None]]:
    """(name, the user's permission or None) of each of ``names`` that is a registered model:
    whether it exists and the grant, in one query."""
    query = (
        sa.select(_RM.c.name, _model_perm.c.permission)
        .select_from(_RM)
        .outerjoin(
            _model_perm,
            sa.and_(_model_perm.c.name == _RM.c.name, _model_perm.c.user_id == user_id),
        )
        .where(_RM.c.workspace == WORKSPACE, _RM.c.name.in_(list(set(names))))
    )
    return [(r[0], r[1]) for r in conn.execute(query)]


def list_model_grants(
    conn: Connection, name: str | None = None, username: str | None = None
) -> list[ModelGrantRow]:
    p = _model_perm.c
    query = sa.select(p.name, users.c.username, users.c.id, p.permission).join(
        users, users.c.id == p.user_id
    )
    if name is not None:
        query = query.where(p.name == name)
    if username is not None:
        query = query.where(users.c.username == username)
    rows = conn.execute(query.order_by(p.name, users.c.username))
    return [ModelGrantRow(r[0], r[1], int(r[2]), r[3]) for r in rows]


def insert_model_grant(conn: Connection, user_id: int, name: str, permission: str) -> bool:
    """Add a grant; False if the user already has one on that model."""
    try:
        with conn.begin_nested():
            conn.execute(
                _model_perm.insert().values(user_id=user_id, name=name, permission=permission)
            )
    except IntegrityError:
        return False
    return True


def set_model_grant(conn: Connection, user_id: int, name: str, permission: str) -> None:
    """Add a grant or overwrite the existing one."""
    row = {"user_id": user_id, "name": name, "permission": permission}
    upsert(conn, _model_perm, [row], keys=["user_id", "name"])


def update_model_grant(conn: Connection, user_id: int, name: str, permission: str) -> bool:
    p = _model_perm.c
    result = conn.execute(
        _model_perm.update()
        .where(p.user_id == user_id, p.name == name)
        .values(permission=permission)
    )
    return bool(result.rowcount)


def delete_model_grant(conn: Connection, user_id: int, name: str) -> bool:
    p = _model_perm.c
    result = conn.execute(_model_perm.delete().where(p.user_id == user_id, p.name == name))
    return bool(result.rowcount)


def drop_model_grants(conn: Connection, name: str) -> None:
    """Every grant on ``name`` (the model is gone, or the name was free and any grant on it
    left over)."""
    conn.execute(_model_perm.delete().where(_model_perm.c.name == name))


def move_model_grants(conn: Connection, name: str, new_name: str) -> None:
    """The model ``name`` is now ``new_name``: its grants follow (any left on the new name,
    which was free, go first)."""
    if new_name == name:
        return
    drop_model_grants(conn, new_name)
    conn.execute(_model_perm.update().where(_model_perm.c.name == name).values(name=new_name))
