"""``runyard doctor``: check a configuration the way the server would use it, and say what to fix.

Each check returns one :class:`Check`; none of them changes anything but a probe object in the
artifact store, which it deletes again. A missing SQLite file is reported, not created.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa

from runyard.artifacts.base import ArtifactStore
from runyard.errors import MlflowError, SchemaMismatch
from runyard.services import auth
from runyard.services.context import Ctx
from runyard.settings import Settings, SettingsError, check_exposure, is_loopback, normalize_db_uri
from runyard.store import migrate
from runyard.store.engine import Database, make_engine

Status = Literal["ok", "fail", "unknown"]
PROBE_PREFIX = ".runyard-doctor-"  # hidden, and unique per run: never a user's artifact


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str  # what was found and, for a failure, what to do


def run_checks(
    settings: Settings, open_artifacts: Callable[[Settings], ArtifactStore]
) -> list[Check]:
    database = check_database(settings)
    return [
        database,
        check_artifacts(settings, open_artifacts),
        *check_auth(settings, database_ok=database.status == "ok"),
        check_listen(settings),
    ]


def check_database(settings: Settings) -> Check:
    uri = normalize_db_uri(settings.backend_store_uri)
    try:
        shown = sa.engine.make_url(uri).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return Check("database", "fail", "backend_store_uri is not a database URI")
    missing = _missing_sqlite_file(uri)
    if missing is not None:
        return Check(
            "database",
            "fail",
            f"SQLite file {missing} does not exist; run `runyard db upgrade` (or check "
            "backend_store_uri and the working directory)",
        )
    engine: sa.Engine | None = None
    try:
        engine = make_engine(uri, pool_size=1, max_overflow=0)
        migrate.check(engine)
    except SchemaMismatch as exc:
        return Check("database", "fail", str(exc))
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Check(
            "database",
            "fail",
            f"cannot connect to {shown}: {reason}; check backend_store_uri, that the server "
            "is up, and the user and password (pg_hba.conf for PostgreSQL)",
        )
    finally:
        if engine is not None:
            engine.dispose()
    return Check("database", "ok", f"{shown} answers; schema at revision {migrate.HEAD}")


def _missing_sqlite_file(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///") or ":memory:" in uri:
        return None
    path = Path(uri.removeprefix("sqlite:///").split("?", 1)[0])
    return None if path.is_file() else path.absolute()


def check_artifacts(
    settings: Settings, open_artifacts: Callable[[Settings], ArtifactStore]
) -> Check:
    if not settings.serve_artifacts:
        return Check(
            "artifacts",
            "ok",
            "not proxied (serve_artifacts off): clients write to default_artifact_root "
            f"{settings.default_artifact_root} themselves",
        )
    try:
        store = open_artifacts(settings)
    except (SettingsError, MlflowError) as exc:
        return Check("artifacts", "fail", f"{_message(exc)}; fix artifacts_destination")
    return asyncio.run(_probe(store))


async def _probe(store: ArtifactStore) -> Check:
    """Write, read back and delete a small hidden object, as an upload and download would."""
    path = PROBE_PREFIX + uuid.uuid4().hex
    payload = f"runyard doctor probe {path}\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield payload

    step = "prepare"
    try:
        await store.start()
        step = "write"
        await store.put(path, body())
        step = "read back"
        echoed = b"".join([chunk async for chunk in store.read(path)])
        step = "delete"
        await store.delete(path)
        gone = await store.stat(path) is None
    except MlflowError as exc:
        return Check(
            "artifacts",
            "fail",
            f"cannot {step} a probe object in {store.uri}: {exc.message}; make the destination "
            "exist and be writable by the server's user (or fix its credentials)",
        )
    finally:
        await _forget(store, path)
    if echoed != payload:
        return Check("artifacts", "fail", f"{store.uri} returned other bytes than were written")
    if not gone:
        return Check("artifacts", "fail", f"{store.uri} still lists a deleted probe object")
    return Check("artifacts", "ok", f"{store.uri}: a probe object was written, read and deleted")


async def _forget(store: ArtifactStore, path: str) -> None:
    with contextlib.suppress(MlflowError):
        await store.delete(path)  # a no-op when the probe went away as planned
    with contextlib.suppress(MlflowError):
        await store.aclose()


def check_auth(settings: Settings, database_ok: bool = True) -> list[Check]:
    if not settings.auth:
        where = "loopback" if is_loopback(settings.host) else settings.host
        return [Check("auth", "ok", f"off (listening on {where}; see the listen check)")]
    checks = [Check("auth", "ok", "on: every request needs a user or token")]
    if not database_ok:
        return [*checks, Check("auth admins", "unknown", "not counted: fix the database first")]
    try:
        admins = _count_admins(settings)
    except (MlflowError, sa.exc.SQLAlchemyError) as exc:
        return [*checks, Check("auth admins", "fail", f"cannot count them: {_message(exc)}")]
    if admins == 0:
        return [
            *checks,
            Check(
                "auth admins",
                "fail",
                "no administrator yet, so every request will be refused; create one with "
                "`runyard users create NAME --admin` (same backend_store_uri)",
            ),
        ]
    return [*checks, Check("auth admins", "ok", f"{admins} administrator(s)")]


def _count_admins(settings: Settings) -> int:
    """What the server does when it starts with auth on: make sure the auth tables exist
    (only on a database already at runyard's schema) and count the administrators."""
    db = Database(normalize_db_uri(settings.backend_store_uri), pool_size=1, max_overflow=0)
    try:
        return auth.prepare(Ctx(db=db, default_artifact_root=settings.default_artifact_root))
    finally:
        db.dispose()


def check_listen(settings: Settings) -> Check:
    where = f"{settings.host}:{settings.port}"
    try:
        check_exposure(settings)
    except SettingsError as exc:
        return Check("listen", "fail", f"{where}: {exc} (settings.check_exposure)")
    if settings.auth:
        return Check("listen", "ok", f"{where}, with auth on")
    if is_loopback(settings.host):
        return Check("listen", "ok", f"{where}, loopback only")
    return Check(
        "listen", "ok", f"{where} without auth (insecure_no_auth: something else must protect it)"
    )


def _message(exc: Exception) -> str:
    return exc.message if isinstance(exc, MlflowError) else str(exc)
