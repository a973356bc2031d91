"""search_sql against MLflow's own SqlAlchemyStore, on SQLite and PostgreSQL.

The oracle: a few dozen runs and experiments are written through MLflow's SqlAlchemyStore
into a database of the same dialect; their rows are copied into a database created from
``runyard.store.schema`` (same tables, so a plain row copy); then every search is run both
ways and the ordered run / experiment lists must be equal. Run ids are shared, so even the
run_uuid tie-break is compared. Hand-written tests below pin the semantics on small data.
"""

from __future__ import annotations

import logging
import math
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from runyard.domain import search
from runyard.store import schema
from runyard.store.search_sql import select_experiment_ids, select_run_ids
from tests.servers import PG_ADMIN_URL, REQUIRE_SERVICES

mlflow_store_module = pytest.importorskip("mlflow.store.tracking.sqlalchemy_store")
logging.getLogger("alembic").setLevel(logging.WARNING)
logging.getLogger("mlflow").setLevel(logging.WARNING)

from mlflow.entities import (  # noqa: E402
    Dataset,
    DatasetInput,
    ExperimentTag,
    InputTag,
    Metric,
    Param,
    RunStatus,
    RunTag,
    ViewType,
)

DIALECTS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
VIEW_TYPES = {
    "ACTIVE_ONLY": ViewType.ACTIVE_ONLY,
    "DELETED_ONLY": ViewType.DELETED_ONLY,
    "ALL": ViewType.ALL,
}
COPIED_TABLES = [
    schema.experiments,
    schema.experiment_tags,
    schema.runs,
    schema.tags,
    schema.params,
    schema.latest_metrics,
    schema.datasets,
    schema.inputs,
    schema.input_tags,
]


# ------------------------------------------------------------------------------------------
# Databases


class _Postgres:
    """Creates uniquely named databases and drops them all at close()."""

    def __init__(self) -> None:
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.names: list[str] = []
        try:
            with self.admin.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            self.admin.dispose()
            message = f"PostgreSQL at {PG_ADMIN_URL} unreachable ({exc})"
            if REQUIRE_SERVICES:
                pytest.fail(message)
            pytest.skip(message)

    def create(self) -> str:
        name = f"runyard_search_{uuid.uuid4().hex[:16]}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def close(self) -> None:
        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@dataclass
class World:
    """The same data in MLflow's store and in a runyard-schema database."""

    dialect: str
    mlflow: Any  # mlflow's SqlAlchemyStore
    engine: Engine
    experiment_ids: list[str]
    run_ids: dict[str, str]  # run name -> run id

    def names(self, run_ids: Sequence[str]) -> list[str]:
        by_id = {v: k for k, v in self.run_ids.items()}
        return [by_id[r] for r in run_ids]

    def ours(
        self,
        filter_string: str,
        order_by: list[str],
        view_type: str,
        offset: int = 0,
        limit: int = 1000,
    ) -> list[str]:
        filters, ordering = search.parse_run_search(filter_string, order_by)
        ids = [int(e) for e in self.experiment_ids]
        query = select_run_ids(ids, filters, ordering, view_type, offset, limit)
        with self.engine.connect() as conn:
            return self.names(list(conn.execute(query).scalars()))

    def theirs(self, filter_string: str, order_by: list[str], view_type: str) -> list[str]:
        found = self.mlflow.search_runs(
            self.experiment_ids, filter_string, VIEW_TYPES[view_type], 1000, order_by
        )
        return self.names([r.info.run_id for r in found])


@pytest.fixture(scope="module", params=DIALECTS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp(f"search-{request.param}")
    server = _Postgres() if request.param == "postgres" else None
    if server is None:
        mlflow_url, runyard_url = f"sqlite:///{tmp / 'mlflow.db'}", f"sqlite:///{tmp / 'ry.db'}"
    else:
        mlflow_url, runyard_url = server.create(), server.create()
    store = mlflow_store_module.SqlAlchemyStore(mlflow_url, str(tmp / "artifacts"))
    engine = sa.create_engine(runyard_url)
    try:
        experiment_ids, run_ids = _seed_mlflow(store)
        schema.metadata.create_all(engine)
        with store.engine.connect() as source, engine.begin() as target:
            for table in COPIED_TABLES:
                rows = [dict(r._mapping) for r in source.execute(sa.select(table))]
                if rows:
                    target.execute(table.insert(), rows)
        yield World(request.param, store, engine, experiment_ids, run_ids)
    finally:
        engine.dispose()
        store.engine.dispose()
        if server is not None:
            server.close()


# ------------------------------------------------------------------------------------------
# The shared data set: 40 runs in two experiments, built through MLflow.

RUN_NAMES = [
    "alpha", "Alpha", "ALPHA-2", "beta", "beta_1", "beta%1", "gamma", "Gamma*", "delta[x]",
    "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron",
    "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega", "ünï", "Ω-run",
    "a b", "a.b", "run/1", "r_1", "r%1", "r1", "R1", "r?1", "quote'd",
]  # fmt: skip


def _acc(i: int) -> float | None:
    if i % 7 == 0:
        return math.nan
    if i % 11 == 5:
        return math.inf
    if i == 13:
        return -math.inf
    if i % 6 == 3:
        return None
    return ((i * 37) % 20) / 20  # repeats, so ties occur


def _seed_mlflow(store: Any) -> tuple[list[str], dict[str, str]]:
    exp_a = store.create_experiment("search-a", tags=[ExperimentTag("owner", "alice")])
    exp_b = store.create_experiment("search-b")
    run_ids: dict[str, str] = {}
    for i, name in enumerate(RUN_NAMES):
        experiment = exp_b if i % 4 == 3 else exp_a
        start = 1_000 * (i // 3)  # three runs share each start time
        run = store.create_run(
            experiment, ["alice", "Alice", "bob", "carol"][i % 4], start, [], name
        )
        run_id = run.info.run_id
        run_ids[name] = run_id
        status = [RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED, RunStatus.RUNNING][i % 4]
        end = None if i % 5 == 0 else start + 100 * (i % 7)
        store.update_run_info(run_id, status, end, None)
        params = [Param("layers", str(i % 12))]
        if i % 6 != 0:
            params.append(Param("lr", ["0.1", "0.01", "0.001", "1"][i % 4]))
        if i % 5 != 1:
            params.append(Param("opt", ["adam", "Adam", "SGD", "sgd", "adam_w", "50%"][i % 6]))
        tags = [RunTag("mlflow.user", "x")]
        if i % 5 != 4:
            tags.append(RunTag("team", ["red", "Red", "blue", "green"][i % 5]))
        if i % 3 != 2:
            tags.append(RunTag("note", ["has_under", "has%pct", "star*", "plain", "MiXeD"][i % 5]))
        metrics = []
        acc = _acc(i)
        if acc is not None:
            # a higher value at an earlier step: only the latest one counts
            metrics.append(Metric("acc", 0.99, 10, 0))
            metrics.append(Metric("acc", acc, 20, 1))
        if i % 4 != 2:
            metrics.append(Metric("loss", math.nan if i % 9 == 4 else (i % 4) * 0.5, 5, 0))
        store.log_batch(run_id, metrics, params, tags)
        inputs = []
        if i % 3 == 0:
            context = [InputTag("mlflow.data.context", "training")]
            inputs.append(DatasetInput(Dataset("ds-train", "d1", "local", "{}"), context))
        if i % 4 == 1:
            context = [InputTag("mlflow.data.context", "eval")]
            inputs.append(DatasetInput(Dataset("ds-eval", "d2", "local", "{}"), context))
        if i % 7 == 2:
            inputs.append(DatasetInput(Dataset("DS-Other", "d3", "local", "{}"), []))
        if inputs:
            store.log_inputs(run_id, inputs)
        if i % 9 == 8:
            store.delete_run(run_id)
    _seed_experiments(store)
    return [exp_a, exp_b], run_ids


# name, tags, deleted, creation_time, last_update_time (forced so that ties occur)
EXTRA_EXPERIMENTS = [
    ("Exp-C", {"owner": "bob"}, True, 300, 900),
    ("exp-d", {"owner": "Alice", "team": "red"}, False, 300, 300),
    ("exp_e", {}, False, 100, 900),
    ("Ünïcode", {"owner": "ünï"}, False, 300, 100),
    ("exp%f", {"team": "blue"}, False, 200, 900),
]


def _seed_experiments(store: Any) -> None:
    table = schema.experiments
    for name, tags, deleted, created, updated in EXTRA_EXPERIMENTS:
        experiment_id = store.create_experiment(
            name, tags=[ExperimentTag(k, v) for k, v in tags.items()]
        )
        if deleted:
            store.delete_experiment(experiment_id)
        with store.engine.begin() as conn:
            conn.execute(
                table.update()
                .where(table.c.experiment_id == int(experiment_id))
                .values(creation_time=created, last_update_time=updated)
            )


# ------------------------------------------------------------------------------------------
# Runs: the battery

FILTERS = [
    "",
    "metrics.acc > 0.5",
    "metrics.acc >= 0.5",
    "metrics.acc = 0.85",
    "metrics.acc != 0.85",
    "metrics.acc < 0.2",
    "metrics.acc <= 0",
    "metrics.acc > 1e300",
    "metrics.acc < -1e300",
    "metrics.acc > 0.98",
    "metrics.loss != 1",
    "metrics.loss = 0",
    "metrics.`loss` >= 0.5",
    "params.lr = '0.1'",
    "params.lr != '0.1'",
    "params.opt LIKE 'adam%'",
    "params.opt ILIKE 'adam%'",
    "params.opt LIKE '50%'",
    "params.opt LIKE '_dam'",
    "params.opt = 'Adam'",
    "params.layers = '10'",
    "params.lr IS NULL",
    "params.opt IS NOT NULL",
    "tags.team = 'red'",
    "tags.team != 'red'",
    "tags.team ILIKE 'RED'",
    "tags.note LIKE '%*%'",
    "tags.note LIKE 'has_%'",
    "tags.note LIKE '%i%'",
    "tags.team IS NULL",
    "tags.`mlflow.runName` LIKE 'r%'",
    "attributes.status = 'FINISHED'",
    "status != 'RUNNING'",
    "attributes.user_id LIKE 'a%'",
    "user_id ILIKE 'A%'",
    "run_name = 'alpha'",
    "run_name LIKE 'a%'",
    "run_name ILIKE 'ALPHA%'",
    "`run name` LIKE '%[x]%'",
    "run_name LIKE '%*'",
    "run_name LIKE 'r?1'",
    "run_name LIKE 'r_1'",
    "run_name != 'alpha'",
    "run_id IN (<alpha>, <beta>, <pi>)",
    "run_id NOT IN (<alpha>, <beta>)",
    "run_id = <gamma>",
    "start_time >= 5000",
    "created < 3000",
    "end_time > 1000",
    "end_time != 1100",
    "artifact_uri LIKE '%'",
    "datasets.name = 'ds-train'",
    "datasets.name != 'ds-train'",
    "datasets.digest IN ('d2', 'd3')",
    "datasets.context = 'training'",
    "datasets.context NOT IN ('eval')",
    "datasets.context ILIKE 'TRAIN%'",
    "dataset.name LIKE 'ds-%'",
    "datasets.name ILIKE 'ds-%'",
    "metrics.acc > 0.2 AND params.opt = 'adam' AND tags.team != 'blue'",
    "metrics.loss < 1 and datasets.context = 'eval' and status = 'FAILED'",
    "params.lr = '0.01' AND tags.note IS NOT NULL AND params.opt IS NULL",
]
ORDERS = [
    [],
    ["metrics.acc DESC"],
    ["metrics.acc"],
    ["params.lr DESC", "metrics.loss"],
    ["tags.team", "attributes.run_name DESC"],
    ["start_time"],
    ["created DESC"],
    ["status", "end_time DESC"],
    ["run_id"],
    ["user_id DESC"],
    ["artifact_uri"],
    ["metrics.missing"],
    ["tags.note DESC", "metrics.acc"],
    ["params.opt", "metrics.loss DESC"],
    ["end_time"],
]
CASES = (
    [(f, [], "ACTIVE_ONLY") for f in FILTERS]
    + [("", o, "ACTIVE_ONLY") for o in ORDERS]
    + [(FILTERS[(i * 7) % len(FILTERS)], ORDERS[i % len(ORDERS)], "ACTIVE_ONLY") for i in range(30)]
    + [(f, o, v) for f, o in [("", []), ("metrics.acc > 0", ["metrics.acc DESC"]),
                              ("`run name` LIKE '%[x]%'", [])]
       for v in ("DELETED_ONLY", "ALL")]
)  # fmt: skip


def _with_ids(world: World, text: str) -> str:
    for name, run_id in world.run_ids.items():
        text = text.replace(f"<{name}>", f"'{run_id}'")
    return text


@pytest.mark.parametrize(("filter_string", "order_by", "view_type"), CASES)
def test_search_runs_matches_mlflow(
    world: World, filter_string: str, order_by: list[str], view_type: str
) -> None:
    text = _with_ids(world, filter_string)
    assert world.ours(text, order_by, view_type) == world.theirs(text, order_by, view_type)


@pytest.mark.parametrize(
    ("filter_string", "order_by"),
    [("", []), ("metrics.acc >= 0", ["metrics.acc", "params.opt DESC"])],
)
def test_pages_match_mlflow(world: World, filter_string: str, order_by: list[str]) -> None:
    theirs: list[list[str]] = []
    token = None
    while True:
        page = world.mlflow.search_runs(
            world.experiment_ids, filter_string, ViewType.ACTIVE_ONLY, 7, order_by, token
        )
        theirs.append(world.names([r.info.run_id for r in page]))
        token = page.token
        if not token:
            break
        offset = search.decode_page_token(token.decode() if isinstance(token, bytes) else token)
        assert offset == 7 * len(theirs)
    mine = [
        world.ours(filter_string, order_by, "ACTIVE_ONLY", offset, 7)
        for offset in range(0, 7 * len(theirs), 7)
    ]
    assert mine == theirs
    assert world.ours(filter_string, order_by, "ACTIVE_ONLY", 7 * len(theirs), 7) == []


def test_backslash_escapes_in_like(world: World) -> None:
    # PostgreSQL's rule on both dialects; MLflow on SQLite takes "\\" as a plain character.
    assert world.ours("run_name LIKE 'beta\\%1'", [], "ACTIVE_ONLY") == ["beta%1"]
    assert world.ours("run_name LIKE 'r\\_1'", [], "ACTIVE_ONLY") == ["r_1"]
    experiments = {
        "name LIKE 'exp\\_%'": ["exp_e"],
        "name LIKE '%\\%%'": ["exp%f"],
        "name ILIKE 'EXP\\%F'": ["exp%f"],
    }
    for text, expected in experiments.items():
        query = select_experiment_ids(search.parse_experiment_filter(text), [], "ALL", 0, 100)
        with world.engine.connect() as conn:
            ids = [str(i) for i in conn.execute(query).scalars()]
        if world.dialect == "postgres":
            found = world.mlflow.search_experiments(ViewType.ALL, 100, text)
            assert ids == [e.experiment_id for e in found]
        names = {e.experiment_id: e.name for e in world.mlflow.search_experiments(ViewType.ALL)}
        assert [names[i] for i in ids] == expected
    if world.dialect == "postgres":
        text = "run_name LIKE 'r\\%1'"
        assert world.ours(text, [], "ACTIVE_ONLY") == world.theirs(text, [], "ACTIVE_ONLY")


# ------------------------------------------------------------------------------------------
# Experiments

EXPERIMENT_FILTERS = [
    "",
    "name LIKE 'search-%'",
    "name ILIKE 'SEARCH%'",
    "name = 'search-b'",
    "name != 'Default'",
    "tags.owner = 'alice'",
    "tags.owner != 'bob'",
    "tags.owner IS NULL",
    "tags.owner IS NOT NULL",
    "tags.owner LIKE 'a%'",
    "experiment_id IN ('0', <b>)",
    "experiment_id != '0'",
    "experiment_id = <a>",
    "creation_time > 0",
    "creation_time <= 300",
    "last_update_time >= 900",
    "last_update_time != 300",
    "name LIKE 'exp_%'",
    "name ILIKE 'exp-%'",
    "tags.team = 'red' AND tags.owner LIKE 'A%'",
    "tags.owner ILIKE 'A%'",
]
EXPERIMENT_ORDERS = [
    [],
    ["name"],
    ["name DESC"],
    ["creation_time"],
    ["creation_time DESC"],
    ["last_update_time DESC", "name"],
    ["last_update_time", "creation_time DESC"],
    ["experiment_id DESC"],
    ["experiment_id"],
]
EXPERIMENT_CASES = (
    [(f, [], "ACTIVE_ONLY") for f in EXPERIMENT_FILTERS]
    + [("", o, v) for o in EXPERIMENT_ORDERS for v in ("ACTIVE_ONLY", "ALL")]
    + [("name LIKE 'search%'", ["name DESC"], "DELETED_ONLY")]
)


@pytest.mark.parametrize(("filter_string", "order_by", "view_type"), EXPERIMENT_CASES)
def test_search_experiments_matches_mlflow(
    world: World, filter_string: str, order_by: list[str], view_type: str
) -> None:
    a, b = world.experiment_ids
    text = filter_string.replace("<a>", f"'{a}'").replace("<b>", f"'{b}'")
    theirs = world.mlflow.search_experiments(VIEW_TYPES[view_type], 1000, text, order_by)
    filters = search.parse_experiment_filter(text)
    ordering = search.parse_experiment_order_by(order_by)
    with world.engine.connect() as conn:
        ids = conn.execute(select_experiment_ids(filters, ordering, view_type, 0, 1000)).scalars()
        mine = [str(i) for i in ids]
    assert mine == [e.experiment_id for e in theirs]


# ------------------------------------------------------------------------------------------
# Semantics on small, hand-made data (fresh database per test)


class Runs:
    """Insert runs straight into runyard's tables and search them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        schema.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                schema.experiments.insert(),
                [{"experiment_id": 1, "name": "e", "lifecycle_stage": "active"}],
            )
        self.n = 0

    def add(
        self,
        name: str,
        start: int | None = 0,
        *,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        metrics: dict[str, float] | None = None,
        column_name: str | None = None,
    ) -> str:
        self.n += 1
        run_id = f"{self.n:032x}"
        tags = {"mlflow.runName": name, **(tags or {})}
        with self.engine.begin() as conn:
            conn.execute(
                schema.runs.insert().values(
                    run_uuid=run_id,
                    name=column_name if column_name is not None else name,
                    experiment_id=1,
                    start_time=start,
                    lifecycle_stage="active",
                    status="RUNNING",
                )
            )
            for table, values in ((schema.params, params), (schema.tags, tags)):
                for key, value in (values or {}).items():
                    conn.execute(table.insert().values(key=key, value=value, run_uuid=run_id))
            for key, value in (metrics or {}).items():
                nan = math.isnan(value)
                conn.execute(
                    schema.latest_metrics.insert().values(
                        key=key,
                        value=0.0
                        if nan
                        else max(min(value, 1.7976931348623157e308), -1.7976931348623157e308),
                        timestamp=0,
                        step=0,
                        is_nan=nan,
                        run_uuid=run_id,
                    )
                )
        return run_id

    def search(self, filter_string: str = "", order_by: Sequence[str] = ()) -> list[str]:
        """Names (the mlflow.runName tags) of the matching runs, in order."""
        filters, ordering = search.parse_run_search(filter_string, list(order_by))
        query = select_run_ids([1], filters, ordering, "ALL", 0, 1000)
        names = sa.select(schema.tags.c.run_uuid, schema.tags.c.value).where(
            schema.tags.c.key == "mlflow.runName"
        )
        with self.engine.connect() as conn:
            by_id = {row.run_uuid: row.value for row in conn.execute(names)}
            return [by_id[i] for i in conn.execute(query).scalars()]


@pytest.fixture
def runs(engine: Engine) -> Runs:
    return Runs(engine)


def test_metric_order_puts_nan_after_numbers_and_missing_last(runs: Runs) -> None:
    for name, value in [("one", 1.0), ("nan", math.nan), ("zero", 0.0), ("inf", math.inf)]:
        runs.add(name, metrics={"m": value})
    runs.add("missing")
    assert runs.search(order_by=["metrics.m"]) == ["zero", "one", "inf", "nan", "missing"]
    assert runs.search(order_by=["metrics.m DESC"]) == ["inf", "one", "zero", "nan", "missing"]
    assert runs.search("metrics.m != 1") == ["nan", "zero", "inf"]  # insertion = id order
    assert runs.search("metrics.m <= 0") == ["zero"]  # NaN's stored 0 never matches
    assert runs.search("metrics.m > 1e308") == ["inf"]


def test_not_equal_needs_the_key(runs: Runs) -> None:
    runs.add("x", params={"p": "x"}, tags={"t": "x"})
    runs.add("y", params={"p": "y"}, tags={"t": "y"})
    runs.add("none")
    assert runs.search("params.p != 'x'") == ["y"]
    assert runs.search("tags.t != 'x'") == ["y"]
    assert runs.search("params.p IS NULL") == ["none"]
    assert runs.search("params.p IS NOT NULL", ["params.p DESC"]) == ["y", "x"]


def test_like_is_case_sensitive_and_ilike_is_not(runs: Runs) -> None:
    for value in ["Adam", "adam", "ADAM_w", "a*m", "a?m", "a[m", "50%", "a\\m"]:
        runs.add(value, params={"opt": value})
    assert runs.search("params.opt LIKE 'adam%'", ["run_name"]) == ["adam"]
    assert runs.search("params.opt ILIKE 'adam%'", ["run_name"]) == ["ADAM_w", "Adam", "adam"]
    assert runs.search("params.opt = 'ADAM_w'") == ["ADAM_w"]
    assert runs.search("params.opt LIKE 'a_m'", ["run_name"]) == ["a*m", "a?m", "a[m", "a\\m"]
    assert runs.search("params.opt LIKE 'a*m'") == ["a*m"]
    assert runs.search("params.opt LIKE 'a?m'") == ["a?m"]
    assert runs.search("params.opt LIKE 'a[m'") == ["a[m"]
    assert runs.search("params.opt LIKE '%\\%'") == ["50%"]
    assert runs.search("params.opt LIKE 'a\\\\m'") == ["a\\m"]
    assert runs.search("params.opt LIKE 'ADAM\\_%'") == ["ADAM_w"]
    assert runs.search("params.opt LIKE 'ADAM\\_W'") == []
    # ILIKE folds non-ASCII letters on both dialects (PostgreSQL's behaviour)
    runs.add("umlaut", params={"opt": "Ünï-ß"})
    assert runs.search("params.opt ILIKE 'üNÏ-%'") == ["umlaut"]
    assert runs.search("params.opt ILIKE '%-SS'") == []
    assert runs.search("params.opt LIKE 'ünï%'") == []


def test_strings_sort_by_code_point(runs: Runs) -> None:
    for value in ["b", "B", "a", "_", "é", "Z"]:
        runs.add(value, params={"p": value})
    assert runs.search(order_by=["params.p"]) == ["B", "Z", "_", "a", "b", "é"]
    assert runs.search(order_by=["run_name DESC"]) == ["é", "b", "a", "_", "Z", "B"]


def test_run_name_filter_reads_the_tag_and_order_reads_the_column(runs: Runs) -> None:
    runs.add("tagged-b", column_name="a")
    runs.add("tagged-a", column_name="b")
    assert runs.search("run_name LIKE 'tagged-a'") == ["tagged-a"]
    assert runs.search(order_by=["run_name"]) == ["tagged-b", "tagged-a"]


def test_default_order_and_ties(runs: Runs) -> None:
    runs.add("late", 10)
    runs.add("early", 5)
    runs.add("tie-1", 7)
    runs.add("tie-2", 7)
    runs.add("no-start", None)
    assert runs.search() == ["late", "tie-1", "tie-2", "early", "no-start"]
    assert runs.search(order_by=["start_time"]) == ["early", "tie-1", "tie-2", "late", "no-start"]
    assert runs.search(order_by=["start_time DESC"]) == [
        "late",
        "tie-1",
        "tie-2",
        "early",
        "no-start",
    ]


def test_experiment_order_puts_missing_creation_time_first_ascending(engine: Engine) -> None:
    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            schema.experiments.insert(),
            [
                {
                    "experiment_id": i,
                    "name": f"e{i}",
                    "lifecycle_stage": "active",
                    "creation_time": t,
                }
                for i, t in [(1, 5), (2, None), (3, 5), (4, 9)]
            ],
        )

    def ids(order_by: list[str]) -> list[int]:
        query = select_experiment_ids([], search.parse_experiment_order_by(order_by), "ALL", 0, 10)
        with engine.connect() as conn:
            return list(conn.execute(query).scalars())

    assert ids([]) == [4, 1, 3, 2]
    assert ids(["creation_time"]) == [2, 3, 1, 4]
    assert ids(["name DESC"]) == [4, 3, 2, 1]


def test_dialect_switched_sql_is_cached_per_column(runs: Runs) -> None:
    # The LIKE construct picks its SQL per dialect; cached statements must still tell
    # columns and patterns apart.
    runs.add("r")
    assert runs.search("status LIKE 'R%'") == ["r"]
    assert runs.search("artifact_uri LIKE 'R%'") == []
    assert runs.search("status LIKE 'X%'") == []
    assert runs.search("status ILIKE 'r%'") == ["r"]


def test_huge_integers_compare_without_overflow(runs: Runs) -> None:
    runs.add("r", 5)
    assert runs.search("start_time < 99999999999999999999999") == ["r"]
    assert runs.search("start_time > -99999999999999999999999") == ["r"]
    assert runs.search("start_time < 9223372036854775807") == ["r"]
    assert runs.search("metrics.m < 1e400") == []
    query = select_run_ids([1, 2**40, 2**70], [], [], "ALL", 0, 10)
    with runs.engine.connect() as conn:
        assert len(conn.execute(query).all()) == 1
    for text, expected in [
        ("experiment_id = '99999999999'", []),
        ("experiment_id != '99999999999'", [1]),
        ("experiment_id IN ('1', '99999999999999999999999')", [1]),
        ("experiment_id NOT IN ('99999999999')", [1]),
        ("creation_time < 99999999999999999999", []),
    ]:
        query = select_experiment_ids(search.parse_experiment_filter(text), [], "ALL", 0, 10)
        with runs.engine.connect() as conn:
            assert list(conn.execute(query).scalars()) == expected, text


# ------------------------------------------------------------------------------------------
# Performance: the benchmark's W4b search (a filtered, ordered 1000-row page of 10k runs)


def _w4_rows(n: int) -> dict[sa.Table, list[dict[str, Any]]]:
    """10k runs shaped like the side-by-side benchmark's: 5 params, 3 tags, 5 metrics."""
    rng = random.Random(42)
    rows: dict[sa.Table, list[dict[str, Any]]] = {
        schema.runs: [],
        schema.params: [],
        schema.tags: [],
        schema.latest_metrics: [],
    }
    for i in range(n):
        run_id = uuid.UUID(int=rng.getrandbits(128)).hex
        rows[schema.runs].append(
            {"run_uuid": run_id, "name": f"run-{i}", "experiment_id": 1,
             "start_time": 1_700_000_000_000 + i, "lifecycle_stage": "active",
             "status": "FINISHED", "user_id": "u"}
        )  # fmt: skip
        params = {
            "p0": f"v{rng.randint(0, 99)}",
            "p1": rng.choice(["x", "y"]),
            "p2": f"v{rng.randint(0, 9)}",
            "p3": f"v{rng.randint(0, 999)}",
            "p4": "const",
        }
        tags = {"idx": str(i), "t1": rng.choice("abc"), "t2": "w4", "mlflow.runName": f"run-{i}"}
        for table, values in ((schema.params, params), (schema.tags, tags)):
            rows[table] += [{"key": k, "value": v, "run_uuid": run_id} for k, v in values.items()]
        rows[schema.latest_metrics] += [
            {"key": f"m{j}", "value": rng.random(), "timestamp": 1, "step": 1, "is_nan": False,
             "run_uuid": run_id}
            for j in range(5)
        ]  # fmt: skip
    return rows


@pytest.mark.postgres
@pytest.mark.slow
def test_search_10k_runs_is_fast_on_postgres() -> None:
    server = _Postgres()
    try:
        engine = sa.create_engine(server.create())
        schema.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                schema.experiments.insert().values(
                    experiment_id=1, name="e", lifecycle_stage="active"
                )
            )
            for table, rows in _w4_rows(10_000).items():
                conn.execute(table.insert(), rows)
            conn.execute(sa.text("ANALYZE"))
        filters, ordering = search.parse_run_search(
            "metrics.m1 > 0.5 and params.p1 = 'x'", ["metrics.m2 DESC"]
        )
        query = select_run_ids([1], filters, ordering, "ACTIVE_ONLY", 0, 1001)
        with engine.connect() as conn:
            assert len(conn.execute(query).all()) == 1001  # also warms the cache
            best = math.inf
            for _ in range(5):
                started = time.perf_counter()
                conn.execute(query).all()
                best = min(best, time.perf_counter() - started)
        engine.dispose()
        assert best < 0.1, f"search took {best * 1000:.1f} ms"
    finally:
        server.close()
