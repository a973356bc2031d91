"""Fixtures for ``runyard gc``: a populated database of each dialect and the CLI to run on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from runyard.cli import main
from runyard.services.bootstrap import open_store
from runyard.services.context import Ctx
from runyard.settings import normalize_db_uri
from tests.gc.world import World, build
from tests.servers import pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database of each dialect, as a user would pass it to --backend-store-uri."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runyard.db'}"
        return
    with pg_database() as url:
        yield url


@pytest.fixture
def ctx(db_url: str) -> Iterator[Ctx]:
    context = open_store(normalize_db_uri(db_url), "mlflow-artifacts:/")
    yield context
    context.db.dispose()


@pytest.fixture
def world(ctx: Ctx, tmp_path: Path) -> World:
    return build(ctx, tmp_path / "artifacts", tmp_path / "direct")


@pytest.fixture
def run_gc(db_url: str, tmp_path: Path) -> Callable[..., Result]:
    """``runyard gc ARGS`` on the test database and artifact destination, in-process."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(
            main,
            [
                "gc",
                "--backend-store-uri",
                db_url,
                "--artifacts-destination",
                str(tmp_path / "artifacts"),
                *args,
            ],
            catch_exceptions=False,
        )

    return run
