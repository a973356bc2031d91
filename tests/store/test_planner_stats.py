"""Stale planner statistics on the search tables are refreshed, and only when stale."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from runyard.domain.entities import Param, Tag
from runyard.services import experiments, runs, upkeep
from runyard.services.bootstrap import open_store
from runyard.services.context import Ctx
from runyard.store.engine import Connection

pytestmark = pytest.mark.postgres
TABLES = ("runs", "tags", "params")


def test_refresh_analyses_changed_tables_once(make_pg_db: Callable[[], str]) -> None:
    url = make_pg_db().replace("postgresql://", "postgresql+psycopg://", 1)
    ctx = open_store(url, "mlflow-artifacts:/")
    try:
        eid = experiments.create(ctx, "stats", None, [])
        for i in range(520):
            run = runs.create(ctx, str(eid), "u", None, [Tag("t", "x")], f"r{i}")
            runs.log_batch(ctx, run.info.run_id, [], [Param("p", "1"), Param("q", "2")], [])
        # Backends report their row counts to pg_stat_* lazily (idle ones within ~10 s).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and min(_changed(ctx, t) for t in TABLES) < 500:
            time.sleep(0.5)
        analysed = upkeep.refresh_planner_stats(ctx)
        assert {"runs", "tags", "params"} <= set(analysed)
        assert "metrics" not in analysed
        assert _changed(ctx, "runs") == _changed(ctx, "params") == 0
        assert upkeep.refresh_planner_stats(ctx) == []
    finally:
        ctx.db.dispose()


def _changed(ctx: Ctx, table: str) -> int:
    def read(conn: Connection) -> int:
        found = conn.exec_driver_sql(
            "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = %s", (table,)
        ).scalar()
        return int(found or 0)

    return ctx.db.read(read)
