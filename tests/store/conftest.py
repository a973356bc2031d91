"""Database fixtures for store tests: a fresh SQLite file or PostgreSQL database per test, and
reference databases created once per session by mlflow's own ``mlflow db upgrade``."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

# Maintenance database on the local server (same variable as tests/conftest.py); test databases
# are created beside it.
PG_ADMIN_URL = os.environ.get("RUNYARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@functools.cache
def _pg_unreachable() -> str | None:
    """Why PostgreSQL can't be used, or None when it can (asked once per process)."""
    engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure means "no usable server"
        return f"{type(exc).__name__}: {exc}"
    finally:
        engine.dispose()
    return None


def require_postgres() -> None:
    reason = _pg_unreachable()
    if reason is None:
        return
    message = f"PostgreSQL at {PG_ADMIN_URL} unreachable ({reason})"
    if os.environ.get("RUNYARD_REQUIRE_SERVICES", "") not in ("", "0"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped (with its connections) afterwards."""
    require_postgres()
    name = f"runyard_test_{uuid.uuid4().hex}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database of each dialect."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "runyard.db")
        return
    with pg_database() as url:
        yield url


@pytest.fixture
def dialect(db_url: str) -> str:
    return "sqlite" if db_url.startswith("sqlite") else "postgres"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = sa.create_engine(db_url)
    yield eng
    eng.dispose()


def mlflow_db_upgrade(url: str) -> None:
    """Create MLflow's schema at ``url`` with the installed mlflow, as an operator would."""
    proc = subprocess.run(
        [sys.executable, "-m", "mlflow", "db", "upgrade", url],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise AssertionError(f"mlflow db upgrade failed:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def mlflow_reference(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], str]]:
    """``get(dialect) -> url`` of a database made by ``mlflow db upgrade``, built on first use.

    Shared by the whole session (mlflow's upgrade takes seconds), so tests must not modify it.
    """
    urls: dict[str, str] = {}
    with ExitStack() as stack:

        def get(dialect: str) -> str:
            if dialect not in urls:
                if dialect == "sqlite":
                    url = sqlite_url(tmp_path_factory.mktemp("mlflow-ref") / "mlflow.db")
                else:
                    url = stack.enter_context(pg_database())
                mlflow_db_upgrade(url)
                urls[dialect] = url
            return urls[dialect]

        yield get


@pytest.fixture
def mlflow_url(dialect: str, mlflow_reference: Callable[[str], str]) -> str:
    """The session's MLflow-made database of the same dialect as ``db_url`` (read-only)."""
    return mlflow_reference(dialect)
