"""PostgreSQL's one-statement page loader against the portable one-query-per-table loader.

Both must return the same runs, in the same order, with the same children: params, tags
(a NULL value reads as ""), latest metrics (NaN included), dataset inputs with their tags, and
model inputs and outputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytest

from runyard.domain import search
from runyard.domain.entities import Dataset, DatasetInput, Metric, ModelIO, Param, Tag
from runyard.services import experiments, runs
from runyard.services.bootstrap import open_store
from runyard.services.context import Ctx
from runyard.store import run_pages
from runyard.store.engine import Connection
from runyard.store.search_sql import select_run_ids

pytestmark = pytest.mark.postgres


@pytest.fixture
def ctx(make_pg_db: Callable[[], str]) -> Iterator[Ctx]:
    url = make_pg_db().replace("postgresql://", "postgresql+psycopg://", 1)
    context = open_store(url, "mlflow-artifacts:/")
    yield context
    context.db.dispose()


def _seed(ctx: Ctx) -> tuple[int, list[str]]:
    eid = experiments.create(ctx, "pages", None, [])
    ids = []
    for i in range(12):
        run = runs.create(ctx, str(eid), "u", 1000 + i % 4, [Tag("t", str(i % 3))], f"r{i}")
        rid = run.info.run_id
        ids.append(rid)
        metrics = [Metric("m", float(i), 5, 1), Metric("z", math.nan, 5, 0)] if i % 2 else []
        params = [Param(f"p{j}", f"{i}-{j}") for j in range(i % 3)]
        runs.log_batch(ctx, rid, metrics, params, [Tag("b", "x"), Tag("a", "y")])
        if i % 3 == 0:
            data = Dataset(f"d{i % 2}", "abc", "local", "{}", '{"s":1}', None)
            runs.log_inputs(ctx, rid, [DatasetInput(data, [Tag("mlflow.data.context", "t")])], [])
            runs.log_inputs(ctx, rid, [DatasetInput(Dataset("a", "zz", "local", "{}"))], [])
        if i % 4 == 1:
            runs.log_inputs(ctx, rid, [], [ModelIO(f"m-{i}")])
            runs.log_outputs(ctx, rid, [ModelIO(f"out-{i}", 3)])
    runs.update(ctx, ids[5], "FINISHED", 2000, None)
    ctx.db.write(
        lambda conn: conn.exec_driver_sql(
            "INSERT INTO tags (key, value, run_uuid) VALUES ('null', NULL, %s)", (ids[2],)
        )
    )
    return eid, ids


@pytest.mark.parametrize(
    "filter_string, order_by",
    [
        (None, []),
        ("metrics.m >= 3", ["metrics.m DESC"]),
        ("tags.t != '1'", ["params.p0", "attributes.start_time DESC"]),
        ("datasets.name = 'd0'", []),
    ],
)
def test_search_page_matches_the_portable_loader(
    ctx: Ctx, filter_string: str | None, order_by: list[str]
) -> None:
    eid, _ = _seed(ctx)
    filters, ordering = search.parse_run_search(filter_string, order_by)

    def both(conn: Connection) -> tuple[list[object], list[object]]:
        one_statement = run_pages.search(conn, [eid], filters, ordering, "ACTIVE_ONLY", 1, 8)
        query = select_run_ids([eid], filters, ordering, "ACTIVE_ONLY", 1, 8)
        ids = [str(i) for i in conn.execute(query).scalars()]
        return list(one_statement), list(run_pages._load_generic(conn, ids))

    got, expected = ctx.db.read(both)
    assert got, "the filter should match some runs"
    assert got == expected


def test_load_keeps_the_given_order_and_skips_unknown_ids(ctx: Ctx) -> None:
    _, ids = _seed(ctx)
    wanted = [ids[7], "0" * 32, ids[0], ids[7], ids[5]]
    got = ctx.db.read(lambda conn: run_pages.load(conn, wanted))
    expected = ctx.db.read(lambda conn: run_pages._load_generic(conn, wanted))
    assert [r.info.run_id for r in got] == [ids[7], ids[0], ids[7], ids[5]]
    assert got == expected
    first = got[1]
    assert [p.key for p in first.params] == []
    assert [t.key for t in first.tags] == ["a", "b", "mlflow.runName", "t"]
    assert [d.dataset.name for d in first.dataset_inputs] == ["a", "d0"]
    assert first.dataset_inputs[1].tags == [Tag("mlflow.data.context", "t")]
    nan_run = got[0]
    assert [(m.key, m.is_nan) for m in nan_run.metrics] == [("m", False), ("z", True)]
    with_models = got[3]
    assert with_models.info.status == "FINISHED"
    assert with_models.model_inputs == [ModelIO("m-5")]
    assert with_models.model_outputs == [ModelIO("out-5", 3)]
