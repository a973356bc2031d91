"""Users, API tokens, experiment and registered model permissions: managing them, and deciding
requests.

Passwords are argon2id hashes; a token is shown once and only its SHA-256 is stored. Deciding a
request costs at most one small query: a successful password check is cached in-process for
``LOGIN_TTL_S`` (keyed by an HMAC of the credentials, never the plaintext), a run's or logged
model's experiment is cached for good (it never changes), and the user's grant is read in the
same query that finds an uncached experiment (or the registered model a request names).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runyard.domain import validation
from runyard.domain.permissions import (
    TOKEN_PREFIX,
    Permission,
    ReadableModels,
    denied,
    denied_on_model,
    effective,
    parse_permission,
    validate_password,
    validate_username,
)
from runyard.errors import ResourceAlreadyExists, ResourceDoesNotExist
from runyard.services import bootstrap
from runyard.services.context import Ctx
from runyard.store import auth as store
from runyard.store.auth import GrantRow as GrantRow  # re-exported for the API
from runyard.store.auth import ModelGrantRow as ModelGrantRow
from runyard.store.auth import TokenRow as TokenRow
from runyard.store.engine import Connection, Database

if TYPE_CHECKING:
    from argon2 import PasswordHasher

LOGIN_TTL_S = 30.0  # how long a changed password or deleted user may still be accepted
_LOGIN_CACHE_MAX = 10_000
_EXPERIMENT_CACHE_MAX = 100_000


@functools.cache
def _hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's RFC 9106 low-memory defaults, imported on first use: a
    server without auth (and each of its workers) does not carry argon2 and cffi."""
    from argon2 import PasswordHasher

    return PasswordHasher()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request comes from."""

    user_id: int
    username: str
    is_admin: bool


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    is_admin: bool
    created_at: int


# --- set-up ------------------------------------------------------------------------------------


def open_for_admin(uri: str, artifact_root: str) -> Ctx:
    """The metadata store for the admin commands: schema checked (an empty database is created
    as the server would), auth tables created if missing."""
    ctx = bootstrap.open_store(uri, artifact_root, pool_size=1, max_overflow=1)
    try:
        prepare(ctx)
    except BaseException:
        ctx.db.dispose()
        raise
    return ctx


def prepare(ctx: Ctx) -> int:
    """Create the auth tables unless they exist; return how many administrators there are."""

    def tx(conn: Connection) -> int:
        store.ensure_tables(conn)
        return store.count_admins(conn)

    return ctx.db.write(tx)


# --- users -------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    validate_password(password)
    return _hasher().hash(password)


def create_user(ctx: Ctx, username: str, password: str, is_admin: bool = False) -> int:
    validate_username(username)
    hashed = hash_password(password)
    return ctx.db.write(
        lambda conn: store.insert_user(conn, username, hashed, is_admin, ctx.clock())
    )


def list_users(ctx: Ctx) -> list[User]:
    rows = ctx.db.read(store.list_users)
    return [User(r.id, r.username, r.is_admin, r.created_at) for r in rows]


def _no_user(username: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"User with username={username} not found")


def _user_id(conn: Connection, username: str) -> int:
    row = store.get_user(conn, username)
    if row is None:
        raise _no_user(username)
    return row.id


def delete_user(ctx: Ctx, username: str) -> None:
    ctx.db.write(lambda conn: store.delete_user(conn, _user_id(conn, username)))


def set_password(ctx: Ctx, username: str, password: str) -> None:
    hashed = hash_password(password)
    if not ctx.db.write(lambda conn: store.update_user(conn, username, password_hash=hashed)):
        raise _no_user(username)


# --- tokens ------------------------------------------------------------------------------------


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(ctx: Ctx, username: str, name: str) -> tuple[int, str]:
    """A new token for ``username``: (its id, the token). The token is not kept anywhere."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    digest = token_digest(token)

    def tx(conn: Connection) -> int:
        return store.insert_token(conn, _user_id(conn, username), name, digest, ctx.clock())

    return ctx.db.write(tx), token


def list_tokens(ctx: Ctx, username: str | None = None) -> list[TokenRow]:
    return ctx.db.read(lambda conn: store.list_tokens(conn, username))


def revoke_token(ctx: Ctx, token_id: int) -> None:
    if not ctx.db.write(lambda conn: store.delete_token(conn, token_id)):
        raise ResourceDoesNotExist(f"No token with id {token_id}")


# --- experiment permissions ----------------------------------------------------------------


def _grant_target(conn: Connection, experiment_id: str, username: str) -> tuple[int, int]:
    eid = validation.parse_experiment_id(experiment_id)
    if not store.experiment_exists(conn, eid):
        raise ResourceDoesNotExist(f"No Experiment with id={eid} exists")
    return _user_id(conn, username), eid


def create_permission(ctx: Ctx, experiment_id: str, username: str, permission: str) -> GrantRow:
    level = parse_permission(permission)

    def tx(conn: Connection) -> GrantRow:
        user_id, eid = _grant_target(conn, experiment_id, username)
        if not store.insert_grant(conn, user_id, eid, level.name):
            raise ResourceAlreadyExists(
                f"Experiment permission (experiment_id={eid}, username={username}) already exists."
            )
        return GrantRow(eid, username, user_id, level.name)

    return ctx.db.write(tx)


def set_permission(ctx: Ctx, experiment_id: str, username: str, permission: str) -> GrantRow:
    """Grant or change (the CLI's ``permissions grant``)."""
    level = parse_permission(permission)

    def tx(conn: Connection) -> GrantRow:
        user_id, eid = _grant_target(conn, experiment_id, username)
        store.set_grant(conn, user_id, eid, level.name)
        return GrantRow(eid, username, user_id, level.name)

    return ctx.db.write(tx)


def _no_grant(experiment_id: int, username: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(
        f"Experiment permission with experiment_id={experiment_id} and username={username} "
        "not found"
    )


def get_permission(ctx: Ctx, experiment_id: str, username: str) -> GrantRow:
    eid = validation.parse_experiment_id(experiment_id)
    found = ctx.db.read(lambda conn: store.list_grants(conn, eid, username))
    if not found:
        raise _no_grant(eid, username)
    return found[0]


def update_permission(ctx: Ctx, experiment_id: str, username: str, permission: str) -> None:
    level = parse_permission(permission)
    eid = validation.parse_experiment_id(experiment_id)

    def tx(conn: Connection) -> None:
        if not store.update_grant(conn, _user_id(conn, username), eid, level.name):
            raise _no_grant(eid, username)

    ctx.db.write(tx)


def delete_permission(ctx: Ctx, experiment_id: str, username: str) -> None:
    eid = validation.parse_experiment_id(experiment_id)

    def tx(conn: Connection) -> None:
        if not store.delete_grant(conn, _user_id(conn, username), eid):
            raise _no_grant(eid, username)

    ctx.db.write(tx)


def list_permissions(
    ctx: Ctx, experiment_id: str | None = None, username: str | None = None
) -> list[GrantRow]:
    eid = None if experiment_id is None else validation.parse_experiment_id(experiment_id)
    return ctx.db.read(lambda conn: store.list_grants(conn, eid, username))


# --- registered model permissions ------------------------------------------------------------
# By the model's name, which may be a prompt's: prompts are registered models.


def _no_registered_model(name: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Registered Model with name={name} not found")


def _model_grant_target(conn: Connection, name: str, username: str) -> int:
    validation.validate_model_name(name)
    if not store.registered_model_exists(conn, name):
        raise _no_registered_model(name)
    return _user_id(conn, username)


def _model_grant_exists(name: str, username: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(
        f"Registered model permission with name={name} and username={username} already exists."
    )


def _no_model_grant(name: str, username: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(
        f"Registered model permission with name={name} and username={username} not found"
    )


def create_model_permission(ctx: Ctx, name: str, username: str, permission: str) -> ModelGrantRow:
    level = parse_permission(permission)

    def tx(conn: Connection) -> ModelGrantRow:
        user_id = _model_grant_target(conn, name, username)
        if not store.insert_model_grant(conn, user_id, name, level.name):
            raise _model_grant_exists(name, username)
        return ModelGrantRow(name, username, user_id, level.name)

    return ctx.db.write(tx)


def set_model_permission(ctx: Ctx, name: str, username: str, permission: str) -> ModelGrantRow:
    """Grant or change (the CLI's ``permissions grant --registered-model``)."""
    level = parse_permission(permission)

    def tx(conn: Connection) -> ModelGrantRow:
        user_id = _model_grant_target(conn, name, username)
        store.set_model_grant(conn, user_id, name, level.name)
        return ModelGrantRow(name, username, user_id, level.name)

    return ctx.db.write(tx)


def get_model_permission(ctx: Ctx, name: str, username: str) -> ModelGrantRow:
    found = ctx.db.read(lambda conn: store.list_model_grants(conn, name, username))
    if not found:
        raise _no_model_grant(name, username)
    return found[0]


def update_model_permission(ctx: Ctx, name: str, username: str, permission: str) -> None:
    level = parse_permission(permission)

    def tx(conn: Connection) -> None:
        if not store.update_model_grant(conn, _user_id(conn, username), name, level.name):
            raise _no_model_grant(name, username)

    ctx.db.write(tx)


def delete_model_permission(ctx: Ctx, name: str, username: str) -> None:
    def tx(conn: Connection) -> None:
        if not store.delete_model_grant(conn, _user_id(conn, username), name):
            raise _no_model_grant(name, username)

    ctx.db.write(tx)


def list_model_permissions(
    ctx: Ctx, name: str | None = None, username: str | None = None
) -> list[ModelGrantRow]:
    return ctx.db.read(lambda conn: store.list_model_grants(conn, name, username))


# --- authentication ----------------------------------------------------------------------------


@functools.cache
def _decoy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Authenticator:
    """Turns credentials into a :class:`Principal`; one per server process."""

    def __init__(
        self, db: Database, ttl: float = LOGIN_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._key = secrets.token_bytes(32)  # per process: cache keys mean nothing elsewhere
        self._logins: dict[bytes, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def _cache_key(self, username: str, password: str) -> bytes:
        secret = username.encode() + b"\0" + password.encode()
        return hmac.new(self._key, secret, hashlib.sha256).digest()

    def cached_login(self, username: str, password: str) -> Principal | None:
        """A recent successful login with exactly these credentials (no IO, no slow hash)."""
        key = self._cache_key(username, password)
        with self._lock:
            hit = self._logins.get(key)
        if hit is None or hit[1] < self._clock():
            return None
        return hit[0]

    def login(self, username: str, password: str) -> Principal | None:
        """Check a password (slow by design: run it off the event loop)."""
        row = self._db.read(lambda conn: store.get_user(conn, username))
        if row is None:
            _verify(_decoy_hash(), password)  # as slow as a real check: names stay secret
            return None
        if not _verify(row.password_hash, password):
            return None
        principal = Principal(row.id, row.username, row.is_admin)
        with self._lock:
            if len(self._logins) >= _LOGIN_CACHE_MAX:
                now = self._clock()
                self._logins = {k: v for k, v in self._logins.items() if v[1] >= now}
                if len(self._logins) >= _LOGIN_CACHE_MAX:
                    self._logins.clear()
            self._logins[self._cache_key(username, password)] = (
                principal,
                self._clock() + self._ttl,
            )
        return principal

    def token(self, token: str) -> Principal | None:
        """Look a token up by its digest: not cached, so a revoked token stops at once."""
        row = self._db.read(lambda conn: store.user_by_token(conn, token_digest(token)))
        return None if row is None else Principal(row.id, row.username, row.is_admin)


# --- authorisation -----------------------------------------------------------------------------


def _level(name: str | None) -> Permission | None:
    if name is None:
        return None
    try:
        return Permission[name]
    except KeyError:  # a value written by hand: the least it could mean
        return Permission.NO_PERMISSIONS


class _ExperimentCache:
    """run or logged model id -> experiment id; entries never go stale, so only size matters."""

    def __init__(self, limit: int = _EXPERIMENT_CACHE_MAX) -> None:
        self._limit = limit
        self._map: dict[str, int] = {}
        self._lock = threading.Lock()

    def split(self, keys: Sequence[str]) -> tuple[list[int], list[str]]:
        """(experiments of the cached keys, keys not cached)."""
        with self._lock:
            hits = [self._map.get(k) for k in keys]
        known = [e for e in hits if e is not None]
        return known, [k for k, e in zip(keys, hits, strict=True) if e is None]

    def add(self, pairs: Sequence[tuple[str, int]]) -> None:
        with self._lock:
            for key, eid in pairs:
                if len(self._map) >= self._limit:
                    del self._map[next(iter(self._map))]  # oldest first
                self._map[key] = eid


@dataclass(frozen=True, slots=True)
class Target:
    """What a request acts on, as ids taken from it (already shape-checked)."""

    experiments: Sequence[int] = ()
    runs: Sequence[str] = ()
    models: Sequence[str] = ()
    names: Sequence[str] = ()
    registered_models: Sequence[str] = ()


class Authoriser:
    """Decides whether a principal may act on a target; one per server process."""

    def __init__(self, db: Database, default: Permission) -> None:
        self._db = db
        self.default = default
        self._runs = _ExperimentCache()
        self._models = _ExperimentCache()

    def check(self, who: Principal, needs: Permission, target: Target) -> None:
        """Raise PermissionDenied unless ``who`` holds ``needs`` on every experiment the target
        resolves to and on every registered model it names: their grant there, else the
        server default; administrators hold everything. Ids and names that name nothing are
        left to the handler (its 404 says no more)."""
        if who.is_admin:
            return

        def tx(
            conn: Connection,
        ) -> tuple[list[tuple[int, str | None]], list[tuple[str, str | None]]]:
            on_models = target.registered_models
            held = store.model_grants_via_names(conn, on_models, who.user_id) if on_models else []
            return self._resolve(conn, who.user_id, target), held

        on_experiments, on_models = self._db.read(tx)
        for eid, granted in on_experiments:
            if effective(_level(granted), self.default) < needs:
                raise denied(who.username, needs, eid)
        for name, granted in on_models:
            if effective(_level(granted), self.default) < needs:
                raise denied_on_model(who.username, needs, name)

    def _resolve(self, conn: Connection, user_id: int, t: Target) -> list[tuple[int, str | None]]:
        eids = list(t.experiments)
        found: list[tuple[int, str | None]] = []
        for cache, keys, via in (
            (self._runs, t.runs, store.grants_via_runs),
            (self._models, t.models, store.grants_via_models),
        ):
            if not keys:
                continue
            known, unknown = cache.split(keys)
            eids += known
            if unknown:
                rows = via(conn, unknown, user_id)
                cache.add([(key, eid) for key, eid, _ in rows])
                found += [(eid, perm) for _, eid, perm in rows]
        if t.names:
            found += [
                (eid, perm) for _, eid, perm in store.grants_via_names(conn, t.names, user_id)
            ]
        if len(eids) == 1:
            found.append((eids[0], store.grant(conn, user_id, eids[0])))
        elif eids:
            held = store.grants(conn, user_id, eids)
            found += [(eid, held.get(eid)) for eid in eids]
        return found

    def readable(self, who: Principal) -> Callable[[int], bool] | None:
        """A test for experiments ``who`` may read, or None when every experiment is readable."""
        if who.is_admin:
            return None
        held = self._db.read(lambda conn: store.grants(conn, who.user_id, None))
        levels = {eid: _level(name) or Permission.NO_PERMISSIONS for eid, name in held.items()}
        if self.default >= Permission.READ:
            hidden = {eid for eid, level in levels.items() if level < Permission.READ}
            return None if not hidden else (lambda eid: eid not in hidden)
        visible = {eid for eid, level in levels.items() if level >= Permission.READ}
        return lambda eid: eid in visible

    def make_owner(self, who: Principal, experiment_id: int) -> None:
        """The creator of an experiment gets MANAGE on it, as in MLflow."""
        self._db.write(
            lambda conn: store.set_grant(conn, who.user_id, experiment_id, Permission.MANAGE.name)
        )

    # Registered models are known by name, and a name can be used again: a grant must not
    # outlive its model. Each step runs right after the registry's own transaction, as MLflow
    # runs them; grants still on a free name (the server stopped in between, or the model
    # was deleted while auth was off) are dropped when a model of that name is created.

    def readable_models(self, who: Principal) -> ReadableModels | None:
        """What a registry search may show ``who``; None: everything (administrators)."""
        if who.is_admin:
            return None
        return ReadableModels(who.user_id, ungranted=self.default >= Permission.READ)

    def make_model_owner(self, who: Principal, name: str) -> None:
        """The creator of a registered model (or prompt) gets MANAGE on it, as in MLflow."""

        def tx(conn: Connection) -> None:
            store.drop_model_grants(conn, name)
            store.set_model_grant(conn, who.user_id, name, Permission.MANAGE.name)

        self._db.write(tx)

    def model_renamed(self, name: str, new_name: str) -> None:
        self._db.write(lambda conn: store.move_model_grants(conn, name, new_name))

    def model_deleted(self, name: str) -> None:
        self._db.write(lambda conn: store.drop_model_grants(conn, name))
