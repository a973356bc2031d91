"""Database fixtures for store tests: a fresh SQLite file or PostgreSQL database per test, and
reference databases created once per session by mlflow's own ``mlflow db upgrade``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tests.servers import pg_database


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
