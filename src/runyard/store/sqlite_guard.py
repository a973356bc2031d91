"""One host per SQLite database: the host serving it is recorded next to it, others refuse.

SQLite's locks are only as good as the file system's; over NFS or from two machines sharing a
disk they fail silently and the database corrupts. Several workers and restarts on one host
are fine, so the first start records its hostname in ``<database>.host`` and every later start
compares. The file is created with a link, which is atomic and fails if the name exists (also
on NFS), so two hosts starting at once cannot both claim it.
"""

from __future__ import annotations

import os
import secrets
import socket
from pathlib import Path

from sqlalchemy.engine import make_url

from runyard.settings import SettingsError

HOST_FILE_SUFFIX = ".host"


class SqliteServedElsewhere(SettingsError):
    """The SQLite database is recorded as served by another host."""


def this_host() -> str:
    """The name this machine records and compares (tests substitute it)."""
    return socket.gethostname()


def host_file(database: Path) -> Path:
    return database.with_name(database.name + HOST_FILE_SUFFIX)


def claim(uri: str) -> None:
    """Record this host as the one serving the SQLite database at ``uri``, or refuse.

    Does nothing for other databases and for in-memory SQLite.
    """
    database = sqlite_path(uri)
    if database is None:
        return
    me = this_host()
    path = host_file(database)
    try:
        owner = _read_owner(path)
        if owner is None:
            owner = _create(path, me)
    except OSError as exc:
        raise SettingsError(
            f"cannot record which host serves the SQLite database {database} in {path}: "
            f"{exc.strerror or exc}"
        ) from exc
    if _same(owner, me):
        return
    raise SqliteServedElsewhere(
        f"refusing to serve the SQLite database {database}: {path} says host {owner!r} serves "
        f"it, and this is host {me!r}. SQLite's locking is only safe on one host (not over "
        "NFS, not from two machines), and two hosts writing one file can corrupt it. To serve "
        "from several hosts, use PostgreSQL (--backend-store-uri postgresql://...). If the "
        f"database was moved here on purpose and {owner!r} no longer serves it, delete {path}."
    )


def sqlite_path(uri: str) -> Path | None:
    """The file behind a ``sqlite:`` URI; None for other databases and in-memory ones."""
    url = make_url(uri)
    if url.get_backend_name() != "sqlite":
        return None
    name = url.database or ""
    if name in ("", ":memory:") or name.startswith("file:") or url.query.get("mode") == "memory":
        return None  # nothing shared on disk (or a URI filename SQLite resolves itself)
    return Path(name)


def _read_owner(path: Path) -> str | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return text.strip() or None  # an empty file claims nothing


def _create(path: Path, me: str) -> str:
    """Write the file under a unique name, then link it into place: the name either appears
    whole with our host, or already exists and another start's host is returned."""
    staged = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    staged.write_text(me + "\n")
    try:
        os.link(staged, path)
    except FileExistsError:
        return _read_owner(path) or _replace(staged, path, me)
    finally:
        staged.unlink(missing_ok=True)
    return me


def _replace(staged: Path, path: Path, me: str) -> str:
    """An empty file was there (written by hand): take it over."""
    os.replace(staged, path)
    return me


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()  # host names are case-insensitive
