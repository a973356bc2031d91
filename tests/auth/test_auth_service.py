"""The authenticator's login cache and the authoriser's decisions, on a real database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from runyard.domain.permissions import Permission, PermissionDenied
from runyard.services import auth, bootstrap
from runyard.services.context import Ctx
from runyard.settings import normalize_db_uri


@pytest.fixture
def ctx(db_uri: str) -> Iterator[Ctx]:
    ctx = bootstrap.open_store(normalize_db_uri(db_uri), "mlflow-artifacts:/")
    auth.prepare(ctx)
    try:
        yield ctx
    finally:
        ctx.db.dispose()


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def _count_queries(ctx: Ctx) -> list[str]:
    seen: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append(statement)

    sa.event.listen(ctx.db.engine, "before_cursor_execute", count)
    return seen


def test_successful_logins_are_cached_for_the_ttl_only(ctx: Ctx) -> None:
    auth.create_user(ctx, "ann", "ann-password")
    clock = Clock()
    authn = auth.Authenticator(ctx.db, ttl=30, clock=clock)
    assert authn.cached_login("ann", "ann-password") is None
    assert authn.login("ann", "wrong-password") is None
    assert authn.login("nobody", "ann-password") is None
    who = authn.login("ann", "ann-password")
    assert who is not None and who.username == "ann" and not who.is_admin
    assert authn.cached_login("ann", "ann-password") == who
    assert authn.cached_login("ann", "wrong-password") is None  # failures are never cached
    keys = list(authn._logins)
    assert all(b"ann-password" not in key and len(key) == 32 for key in keys)  # an HMAC
    clock.now += 31
    assert authn.cached_login("ann", "ann-password") is None


def test_tokens_are_looked_up_every_time(ctx: Ctx) -> None:
    auth.create_user(ctx, "ben", "ben-password")
    token_id, token = auth.create_token(ctx, "ben", "t")
    authn = auth.Authenticator(ctx.db)
    found = authn.token(token)
    assert found is not None and found.username == "ben"
    auth.revoke_token(ctx, token_id)
    assert authn.token(token) is None


def test_authoriser_uses_grants_then_the_default_and_caches_runs(ctx: Ctx) -> None:
    from runyard.services import experiments, runs

    auth.create_user(ctx, "cy", "cy-password")
    mine = experiments.create(ctx, "mine", None, [])
    theirs = experiments.create(ctx, "theirs", None, [])
    auth.set_permission(ctx, str(mine), "cy", "EDIT")
    run_id = runs.create(ctx, str(mine), "", None, [], None).info.run_id
    other_run = runs.create(ctx, str(theirs), "", None, [], None).info.run_id
    who = auth.Principal(auth.list_users(ctx)[0].id, "cy", False)
    authz = auth.Authoriser(ctx.db, Permission.READ)

    queries = _count_queries(ctx)
    authz.check(who, Permission.EDIT, auth.Target(runs=[run_id]))
    assert len(queries) == 1  # the run's experiment and the grant in one query
    authz.check(who, Permission.EDIT, auth.Target(runs=[run_id]))
    assert len(queries) == 2  # cached experiment: the grant alone
    authz.check(who, Permission.READ, auth.Target(runs=[other_run]))  # the default: READ
    with pytest.raises(PermissionDenied, match="needs EDIT on experiment"):
        authz.check(who, Permission.EDIT, auth.Target(runs=[other_run]))
    authz.check(who, Permission.EDIT, auth.Target(experiments=[mine], names=["mine", "nope"]))
    with pytest.raises(PermissionDenied, match=f"experiment {theirs}"):
        authz.check(who, Permission.EDIT, auth.Target(experiments=[mine, theirs]))
    authz.check(
        who, Permission.MANAGE, auth.Target(runs=["0" * 32])
    )  # no such run: the handler's 404
    admin = auth.Principal(0, "root", True)
    queries.clear()
    authz.check(admin, Permission.MANAGE, auth.Target(experiments=[theirs]))
    assert queries == []

    auth.set_permission(ctx, str(theirs), "cy", "NO_PERMISSIONS")
    can_read = authz.readable(who)
    assert can_read is not None and can_read(mine) and not can_read(theirs) and can_read(0)
    assert authz.readable(admin) is None
