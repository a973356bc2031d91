"""Provision PostgreSQL for runyard: a login role, its database, tight grants, a 0600 secret.

Every step is idempotent. The role's password is generated here and sent to the server only as
a SCRAM-SHA-256 verifier (see :mod:`runyard.deploy.scram`), so no statement log, no
``pg_stat_activity`` row and no error report on the server ever holds the plaintext; the one
copy is the secret file, created with mode 0600 before it has any content.

This is administration, not the metadata store, so it talks to psycopg directly: ``CREATE
DATABASE`` must run outside a transaction and identifiers are quoted by ``psycopg.sql``.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, unquote, urlsplit

import psycopg
from psycopg import sql

from runyard.deploy import scram

URI_VARIABLE = "RUNYARD_BACKEND_STORE_URI"
SecretFormat = Literal["env", "uri"]
# Plain lowercase identifiers: they need no quoting in a URI, a unit file or psql.
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_PASSWORD_BYTES = 32  # token_urlsafe: 43 characters from [A-Za-z0-9_-], URI-safe as they are

Connect = Callable[[str], "psycopg.Connection[Any]"]  # database name -> autocommit admin session


class ProvisionError(Exception):
    """Setup cannot continue; the message says why and what to do."""


@dataclass(frozen=True)
class Plan:
    secret_file: Path
    role: str = "runyard"
    database: str = "runyard"
    host: str = "127.0.0.1"  # where runyard will reach the server (written into the URI)
    port: int = 5432
    secret_format: SecretFormat = "env"
    rotate_password: bool = False

    def uri(self, password: str) -> str:
        secret = quote(password, safe="")
        return f"postgresql://{self.role}:{secret}@{self.host}:{self.port}/{self.database}"

    def display_uri(self) -> str:
        return f"postgresql://{self.role}:***@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class Outcome:
    role_created: bool
    password_set: bool  # a new password (created role or rotation) went to the server
    database_created: bool
    secret_written: bool


def provision(connect: Connect, plan: Plan, verify: bool = True) -> Outcome:
    """Make the role, database, grants and secret file exist as ``plan`` says."""
    for kind, name in (("role", plan.role), ("database", plan.database)):
        if not _NAME.fullmatch(name):
            raise ProvisionError(f"{kind} name {name!r}: use lowercase letters, digits and _")
    try:
        with connect("postgres") as admin:
            outcome = _provision_cluster(admin, plan)
        with connect(plan.database) as admin_in_db:
            _grant_schema(admin_in_db, plan.role)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise ProvisionError(
            f"the admin connection lacks a privilege: {exc.diag.message_primary}. Connect as "
            "the PostgreSQL superuser (the default: local socket as user postgres) or as a "
            "role with CREATEROLE and CREATEDB"
        ) from exc
    except psycopg.Error as exc:
        raise ProvisionError(f"PostgreSQL refused: {str(exc).strip()}") from exc
    if verify:
        check_secret(plan)
    return outcome


def _provision_cluster(admin: psycopg.Connection[Any], plan: Plan) -> Outcome:
    superuser, can_create_role, can_create_db = _admin_rights(admin)
    role_exists, stored = _role(admin, plan.role)
    db_owner = _database_owner(admin, plan.database)
    if not role_exists or plan.rotate_password:
        _require(superuser or can_create_role, "CREATEROLE", "create or alter the role")
    if db_owner is None:
        _require(superuser or can_create_db, "CREATEDB", "create the database")
    elif db_owner != plan.role:
        raise ProvisionError(
            f"database {plan.database} exists and belongs to {db_owner}, not {plan.role}; "
            "choose another --database or --role, or change its owner"
        )

    password, write_secret = _choose_password(plan, role_exists, stored if superuser else None)
    if write_secret:  # before the server learns it: the file is the one copy of the password
        write_secret_file(plan.secret_file, secret_content(plan, password))
    password_set = not role_exists or plan.rotate_password
    if password_set:
        verb = "ALTER" if role_exists else "CREATE"
        admin.execute(
            sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(plan.role), sql.Literal(scram.verifier(password))
            )
        )
    if db_owner is None:
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(plan.database), sql.Identifier(plan.role)
            )
        )
    database, role = sql.Identifier(plan.database), sql.Identifier(plan.role)
    admin.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(database))
    admin.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(database, role))
    return Outcome(
        role_created=not role_exists,
        password_set=password_set,
        database_created=db_owner is None,
        secret_written=write_secret,
    )


def _grant_schema(admin_in_db: psycopg.Connection[Any], role: str) -> None:
    # PostgreSQL 15 already keeps others out of schema public and lets the database owner in;
    # on older servers PUBLIC may create there. Either way the role creates, and so owns, the
    # tables runyard makes, and nobody else can add any.
    admin_in_db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    admin_in_db.execute(
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(sql.Identifier(role))
    )


def _admin_rights(admin: psycopg.Connection[Any]) -> tuple[bool, bool, bool]:
    row = admin.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row is not None
    return bool(row[0]), bool(row[1]), bool(row[2])


def _require(granted: bool, privilege: str, what: str) -> None:
    if not granted:
        raise ProvisionError(
            f"the admin connection may not {what}: it needs SUPERUSER or {privilege}. Connect "
            "as the PostgreSQL superuser (the default: local socket as user postgres, e.g. run "
            "with sudo) or pass --admin-url-file/--admin-url-env for a role that has it"
        )


def _role(admin: psycopg.Connection[Any], name: str) -> tuple[bool, str | None]:
    """Whether the role exists, and its stored password when the admin may read it."""
    row = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
    if row is None:
        return False, None
    try:
        found = admin.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", [name]
        ).fetchone()
    except psycopg.errors.InsufficientPrivilege:  # only superusers read pg_authid
        return True, None
    return True, None if found is None else found[0]


def _database_owner(admin: psycopg.Connection[Any], name: str) -> str | None:
    row = admin.execute(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [name]
    ).fetchone()
    return None if row is None else str(row[0])


def _choose_password(plan: Plan, role_exists: bool, stored: str | None) -> tuple[str, bool]:
    """The password to use and whether the secret file must be (re)written."""
    if plan.rotate_password:
        return secrets.token_urlsafe(_PASSWORD_BYTES), True
    existing = read_secret_password(plan.secret_file)
    if existing is None:
        if role_exists:
            raise ProvisionError(
                f"role {plan.role} exists but {plan.secret_file} does not, and its password "
                "cannot be recovered; pass --rotate-password to set a new one and write the "
                "file (anything still using the old password stops working)"
            )
        return secrets.token_urlsafe(_PASSWORD_BYTES), True
    if role_exists and stored is not None and not scram.matches(existing, stored):
        raise ProvisionError(
            f"the password in {plan.secret_file} is not role {plan.role}'s; pass "
            "--rotate-password to give the role a new one and rewrite the file"
        )
    return existing, False


def secret_content(plan: Plan, password: str) -> str:
    uri = plan.uri(password)
    return f"{URI_VARIABLE}={uri}\n" if plan.secret_format == "env" else uri + "\n"


def read_secret_password(path: Path) -> str | None:
    """The password in a secret file written by :func:`write_secret_file`; None if missing."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProvisionError(f"cannot read {path}: {exc.strerror or exc}") from exc
    uri = _uri_in(text)
    password = urlsplit(uri).password if uri else None
    if not password:
        raise ProvisionError(
            f"{path} exists but holds no postgresql:// URI with a password; move it away or "
            "pass --rotate-password to replace it"
        )
    return unquote(password)


def read_secret_uri(path: Path) -> str:
    uri = _uri_in(path.read_text())
    if uri is None:
        raise ProvisionError(f"{path} holds no postgresql:// URI")
    return uri


def _uri_in(text: str) -> str | None:
    for line in text.splitlines():
        value = line.strip().removeprefix(URI_VARIABLE + "=").strip().strip("\"'")
        if value.startswith(("postgresql://", "postgres://")):
            return value
    return None


def write_secret_file(path: Path, content: str) -> None:
    """Replace ``path`` with ``content``, never readable by others, even for a moment.

    The data goes to a new file created with mode 0600 (``O_EXCL``: not someone's planted
    file or symlink), is synced, then renamed over ``path``; a reader sees the old file or the
    new one, never a part.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temporary, flags, 0o600)
    except OSError as exc:
        raise ProvisionError(f"cannot create {temporary}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), 0o600)  # exactly 0600, whatever the umask
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ProvisionError(f"cannot write {path}: {exc.strerror or exc}") from exc
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)  # the rename survives a crash
    finally:
        os.close(directory)


def check_secret(plan: Plan) -> None:
    """Log in with the URI in the secret file, as runyard will."""
    uri = read_secret_uri(plan.secret_file)
    try:
        with psycopg.connect(uri, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise ProvisionError(
            f"{plan.display_uri()} (from {plan.secret_file}) does not connect: "
            f"{str(exc).strip()}. Check that pg_hba.conf lets {plan.role} reach "
            f"{plan.database} from this host (e.g. a 'host {plan.database} {plan.role} "
            "127.0.0.1/32 scram-sha-256' line)"
        ) from exc
