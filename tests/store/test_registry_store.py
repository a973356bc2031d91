"""The model registry's services and SQL on SQLite and PostgreSQL: version numbering under
concurrent creation, what a rename and a delete carry with them, and the statement count of a
search page."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa

from runyard.domain.entities import Tag
from runyard.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from runyard.services import experiments, registry, runs
from runyard.services.bootstrap import open_store
from runyard.services.context import Ctx
from runyard.store.schema import (
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
)

REGISTRY_TABLES = (
    registered_models,
    registered_model_tags,
    registered_model_aliases,
    model_versions,
    model_version_tags,
)


@pytest.fixture
def ctx(db_url: str) -> Iterator[Ctx]:
    url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    context = open_store(url, "mlflow-artifacts:/", pool_size=20, max_overflow=5)
    yield context
    context.db.dispose()


@pytest.fixture
def run_id(ctx: Ctx) -> str:
    eid = experiments.create(ctx, "registry", None, [])
    return runs.create(ctx, str(eid), "u", 1, [], "r").info.run_id


def _version(ctx: Ctx, name: str, run_id: str, tags: list[Tag] | None = None) -> int:
    mv = registry.create_model_version(
        ctx, name, f"runs:/{run_id}/model", run_id, tags or [], "", "", None
    )
    return mv.version


def _rows(ctx: Ctx, table: sa.Table, name: str) -> list[Any]:
    return ctx.db.read(
        lambda conn: conn.execute(sa.select(table).where(table.c.name == name)).all()
    )


def test_concurrent_creations_number_versions_one_to_n(ctx: Ctx, run_id: str) -> None:
    registry.create_registered_model(ctx, "busy", [], "")
    start = threading.Barrier(16)

    def create(_: int) -> int:
        start.wait()
        return _version(ctx, "busy", run_id)

    with ThreadPoolExecutor(16) as pool:
        made = list(pool.map(create, range(16)))
    assert sorted(made) == list(range(1, 17))
    stored = sorted(int(r.version) for r in _rows(ctx, model_versions, "busy"))
    assert stored == list(range(1, 17))
    model = registry.get_registered_model(ctx, "busy")
    assert [mv.version for mv in model.latest_versions] == [16]


def test_a_taken_name_is_refused_by_create_whoever_wins(ctx: Ctx) -> None:
    start = threading.Barrier(8)

    def create(_: int) -> str:
        start.wait()
        try:
            registry.create_registered_model(ctx, "once", [Tag("t", "1")], "")
        except ResourceAlreadyExists as exc:
            return exc.message
        return "created"

    with ThreadPoolExecutor(8) as pool:
        answers = sorted(pool.map(create, range(8)))
    assert answers == ["Registered Model (name=once) already exists."] * 7 + ["created"]
    assert len(_rows(ctx, registered_model_tags, "once")) == 1


def test_a_deleted_version_number_is_not_reused(ctx: Ctx, run_id: str) -> None:
    registry.create_registered_model(ctx, "m", [], "")
    assert [_version(ctx, "m", run_id) for _ in range(3)] == [1, 2, 3]
    registry.delete_model_version(ctx, "m", "3")
    with pytest.raises(ResourceDoesNotExist, match=r"Model Version \(name=m, version=3\)"):
        registry.get_model_version(ctx, "m", "3")
    assert _version(ctx, "m", run_id) == 4
    deleted = [r for r in _rows(ctx, model_versions, "m") if int(r.version) == 3][0]
    assert (deleted.current_stage, deleted.source) == ("Deleted_Internal", "REDACTED-SOURCE-PATH")


def test_rename_carries_versions_tags_and_aliases(ctx: Ctx, run_id: str) -> None:
    registry.create_registered_model(ctx, "old", [Tag("team", "a")], "d")
    _version(ctx, "old", run_id, [Tag("k", "v1")])
    _version(ctx, "old", run_id, [Tag("k", "v2")])
    registry.set_registered_model_alias(ctx, "old", "champion", "2")
    registry.create_registered_model(ctx, "taken", [], "")

    with pytest.raises(ResourceAlreadyExists, match=r"Registered Model \(name=taken\)"):
        registry.rename_registered_model(ctx, "old", "taken")
    renamed = registry.rename_registered_model(ctx, "old", "new")

    assert renamed.name == "new"
    assert [(a.alias, a.version) for a in renamed.aliases] == [("champion", 2)]
    assert [mv.name for mv in renamed.latest_versions] == ["new"]
    assert registry.get_model_version(ctx, "new", "1").tags == [Tag("k", "v1")]
    assert registry.get_model_version_by_alias(ctx, "new", "champion").version == 2
    for table in REGISTRY_TABLES:
        assert _rows(ctx, table, "old") == [], table.name
    assert len(_rows(ctx, model_version_tags, "new")) == 2
    with pytest.raises(ResourceDoesNotExist, match="Registered Model with name=old not found"):
        registry.get_registered_model(ctx, "old")


def test_delete_takes_versions_tags_and_aliases_with_it(ctx: Ctx, run_id: str) -> None:
    registry.create_registered_model(ctx, "gone", [Tag("t", "1")], "")
    registry.create_registered_model(ctx, "kept", [Tag("t", "1")], "")
    for name in ("gone", "kept"):
        _version(ctx, name, run_id, [Tag("k", "v")])
        _version(ctx, name, run_id)
        registry.delete_model_version(ctx, name, "2")  # a deleted version's row stays
        registry.set_registered_model_alias(ctx, name, "a", "1")

    registry.delete_registered_model(ctx, "gone")

    for table in REGISTRY_TABLES:
        assert _rows(ctx, table, "gone") == [], table.name
        assert _rows(ctx, table, "kept") != [], table.name
    with pytest.raises(ResourceDoesNotExist):
        registry.delete_registered_model(ctx, "gone")
    registry.create_registered_model(ctx, "gone", [], "")  # the name is free again
    assert _version(ctx, "gone", run_id) == 1


def _count_statements(ctx: Ctx) -> Callable[[], int]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(ctx.db.engine, "before_cursor_execute", count)
    return lambda: len([s for s in seen if not s.lstrip().upper().startswith(("BEGIN", "ROLL"))])


def test_a_search_page_costs_the_same_statements_whatever_its_size(ctx: Ctx, run_id: str) -> None:
    for i in range(30):
        name = f"page-{i:02d}"
        registry.create_registered_model(ctx, name, [Tag("i", str(i)), Tag("t", "x")], "")
        for _ in range(i % 3):
            _version(ctx, name, run_id, [Tag("k", str(i))])
        if i % 3:
            registry.set_registered_model_alias(ctx, name, "best", "1")
            registry.transition_model_version_stage(ctx, name, "1", "Staging", False)
    counted = _count_statements(ctx)
    costs = {}
    for size in (2, 10, 30):
        before = counted()
        page = registry.search_registered_models(ctx, "name LIKE 'page-%'", size, [], None)
        costs[size] = counted() - before
        assert len(page.items) == size
        with_versions = [m for m in page.items if m.latest_versions]
        assert all(m.tags == [Tag("i", str(int(m.name[-2:]))), Tag("t", "x")] for m in page.items)
        assert all(
            {v.current_stage for v in m.latest_versions} <= {"None", "Staging"}
            for m in with_versions
        )
    assert costs[2] == costs[10] == costs[30], costs
    assert costs[30] <= 6, costs

    version_costs = {}
    for size in (2, 20):
        before = counted()
        found = registry.search_model_versions(ctx, "name LIKE 'page-%'", size, [], None)
        version_costs[size] = counted() - before
        assert len(found.items) == size
        assert all(mv.tags == [Tag("k", str(int(mv.name[-2:])))] for mv in found.items)
    assert version_costs[2] == version_costs[20] <= 3, version_costs


def test_search_pages_and_prompts(ctx: Ctx, run_id: str) -> None:
    for name in ("b", "a", "c"):
        registry.create_registered_model(ctx, name, [], "")
    registry.create_registered_model(ctx, "p", [Tag("mlflow.prompt.is_prompt", "true")], "")
    first = registry.search_registered_models(ctx, None, 2, [], None)
    assert [m.name for m in first.items] == ["a", "b"]
    rest = registry.search_registered_models(ctx, None, 2, [], first.next_page_token)
    assert ([m.name for m in rest.items], rest.next_page_token) == (["c"], None)
    prompts = registry.search_registered_models(
        ctx, "tags.`mlflow.prompt.is_prompt` = 'true'", None, [], None
    )
    assert [m.name for m in prompts.items] == ["p"]
    ordered = registry.search_registered_models(ctx, None, None, ["name DESC"], None)
    assert [m.name for m in ordered.items] == ["c", "b", "a"]
    with pytest.raises(InvalidParameterValue):
        registry.search_registered_models(ctx, None, -1, [], None)
