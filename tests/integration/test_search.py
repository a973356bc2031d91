"""Searching runs and experiments through the client: filters, ordering, view types, paging."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType

pytestmark = pytest.mark.integration

BASE_TIME = 1_600_000_000_000


@dataclass
class Fleet:
    experiment_id: str
    ids: dict[str, str]  # short label -> run id

    def labels(self, run_ids: list[str]) -> list[str]:
        by_id = {v: k for k, v in self.ids.items()}
        return [by_id[r] for r in run_ids]


# label: (status, params, metrics, tags); start times increase in this order.
FLEET: dict[str, tuple[str, dict[str, str], dict[str, float], dict[str, str]]] = {
    "r0": (
        "FINISHED",
        {"lr": "0.1", "model": "cnn"},
        {"acc": 0.5, "loss": 0.9},
        {"team": "ml-core"},
    ),
    "r1": (
        "FINISHED",
        {"lr": "0.01", "model": "rnn"},
        {"acc": 0.7, "loss": 0.4},
        {"team": "ml-vis"},
    ),
    "r2": (
        "RUNNING",
        {"lr": "0.1", "model": "CNN-XL"},
        {"acc": 0.9, "loss": 0.2},
        {"team": "infra"},
    ),
    "r3": ("KILLED", {"lr": "0.001"}, {"loss": 0.3}, {}),
}


@pytest.fixture
def fleet(client: MlflowClient, unique: str) -> Fleet:
    """Four runs with known params, metrics, tags, statuses and start times."""
    exp_id = client.create_experiment(f"search-fleet-{unique}")
    ids = {}
    for i, (label, (status, params, metrics, tags)) in enumerate(FLEET.items()):
        run = client.create_run(
            exp_id, start_time=BASE_TIME + i * 1000, run_name=f"{label}-{unique}", tags=tags
        )
        run_id = run.info.run_id
        for key, value in params.items():
            client.log_param(run_id, key, value)
        for key, value in metrics.items():
            client.log_metric(run_id, key, value, timestamp=BASE_TIME, step=0)
        if status != "RUNNING":
            client.set_terminated(run_id, status, end_time=BASE_TIME + i * 1000 + 500)
        ids[label] = run_id
    return Fleet(exp_id, ids)


def _search(fleet: Fleet, **kwargs: object) -> pd.DataFrame:
    df = mlflow.search_runs(experiment_ids=[fleet.experiment_id], **kwargs)
    assert isinstance(df, pd.DataFrame)
    return df


def test_search_runs_dataframe_shape_and_values(fleet: Fleet, unique: str) -> None:
    df = _search(fleet)
    # Default order: start_time DESC.
    assert fleet.labels(list(df["run_id"])) == ["r3", "r2", "r1", "r0"]
    row = df[df["run_id"] == fleet.ids["r1"]].iloc[0]
    assert row["status"] == "FINISHED"
    assert row["params.lr"] == "0.01"
    assert row["params.model"] == "rnn"
    assert row["metrics.acc"] == 0.7
    assert row["metrics.loss"] == 0.4
    assert row["tags.team"] == "ml-vis"
    assert row["tags.mlflow.runName"] == f"r1-{unique}"
    assert row["experiment_id"] == fleet.experiment_id
    assert row["start_time"] == pd.Timestamp(BASE_TIME + 1000, unit="ms", tz="UTC")
    assert row["end_time"] == pd.Timestamp(BASE_TIME + 1500, unit="ms", tz="UTC")
    r3 = df[df["run_id"] == fleet.ids["r3"]].iloc[0]
    assert pd.isna(r3["metrics.acc"])
    assert pd.isna(r3["params.model"])


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metrics.acc > 0.6", {"r1", "r2"}),
        ("metrics.acc >= 0.5 AND metrics.loss < 0.5", {"r1", "r2"}),
        ("metric.loss <= 0.3", {"r2", "r3"}),
        ("metrics.acc != 0.7", {"r0", "r2"}),
        ("params.lr = '0.1'", {"r0", "r2"}),
        ("params.lr != '0.1'", {"r1", "r3"}),
        ("params.model LIKE 'cnn%'", {"r0"}),
        ("params.model ILIKE 'cnn%'", {"r0", "r2"}),
        ("params.model IS NULL", {"r3"}),
        ("params.model IS NOT NULL", {"r0", "r1", "r2"}),
        ("tags.team = 'infra'", {"r2"}),
        ("tags.team LIKE 'ml-%'", {"r0", "r1"}),
        ("tags.team ILIKE 'ML-%'", {"r0", "r1"}),
        ("tags.team != 'infra'", {"r0", "r1"}),
        ("attributes.status = 'FINISHED'", {"r0", "r1"}),
        ("status != 'FINISHED'", {"r2", "r3"}),
        ("attributes.status LIKE '%ED'", {"r0", "r1", "r3"}),
        (f"attributes.start_time >= {BASE_TIME + 2000}", {"r2", "r3"}),
        (f"attributes.end_time < {BASE_TIME + 1000}", {"r0"}),
        ("attributes.run_name LIKE 'r1-%'", {"r1"}),
        ("tags.`mlflow.runName` ILIKE 'R2-%'", {"r2"}),
        ("params.lr = '0.1' AND tags.team = 'ml-core' AND metrics.loss > 0.5", {"r0"}),
        ("params.lr = 'nope'", set()),
    ],
)
def test_search_runs_filters(fleet: Fleet, filter_string: str, expected: set[str]) -> None:
    df = _search(fleet, filter_string=filter_string)
    assert set(fleet.labels(list(df.get("run_id", [])))) == expected


def test_search_runs_filter_on_run_ids(fleet: Fleet) -> None:
    wanted = [fleet.ids["r0"], fleet.ids["r3"]]
    df = _search(fleet, filter_string=f"attributes.run_id IN ('{wanted[0]}', '{wanted[1]}')")
    assert fleet.labels(list(df["run_id"])) == ["r3", "r0"]
    df = _search(fleet, filter_string=f"run_id NOT IN ('{wanted[0]}', '{wanted[1]}')")
    assert fleet.labels(list(df["run_id"])) == ["r2", "r1"]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["metrics.acc DESC"], ["r2", "r1", "r0", "r3"]),  # missing values sort last
        (["metrics.loss ASC"], ["r2", "r3", "r1", "r0"]),
        (["params.lr ASC"], ["r3", "r1", "r2", "r0"]),  # tie on '0.1' -> start_time DESC
        (["params.lr DESC", "tags.team ASC"], ["r2", "r0", "r1", "r3"]),
        (["attributes.start_time ASC"], ["r0", "r1", "r2", "r3"]),
        (["start_time DESC"], ["r3", "r2", "r1", "r0"]),
        (["attributes.run_name DESC"], ["r3", "r2", "r1", "r0"]),
    ],
)
def test_search_runs_order_by(fleet: Fleet, order_by: list[str], expected: list[str]) -> None:
    df = _search(fleet, order_by=order_by)
    assert fleet.labels(list(df["run_id"])) == expected


def test_search_runs_max_results(fleet: Fleet) -> None:
    df = _search(fleet, max_results=2, order_by=["attributes.start_time ASC"])
    assert fleet.labels(list(df["run_id"])) == ["r0", "r1"]


def test_search_runs_across_experiments_and_view_types(
    client: MlflowClient, fleet: Fleet, unique: str
) -> None:
    other = client.create_experiment(f"search-other-{unique}")
    other_run = client.create_run(other, start_time=BASE_TIME + 10_000).info.run_id
    client.delete_run(fleet.ids["r0"])

    both = client.search_runs([fleet.experiment_id, other])
    assert [r.info.run_id for r in both] == [
        other_run,
        fleet.ids["r3"],
        fleet.ids["r2"],
        fleet.ids["r1"],
    ]
    deleted = client.search_runs([fleet.experiment_id, other], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [fleet.ids["r0"]]
    assert deleted[0].info.lifecycle_stage == "deleted"
    everything = client.search_runs([fleet.experiment_id], run_view_type=ViewType.ALL)
    assert fleet.labels([r.info.run_id for r in everything]) == ["r3", "r2", "r1", "r0"]
    df = mlflow.search_runs(experiment_ids=[fleet.experiment_id], run_view_type=ViewType.ALL)
    assert len(df) == 4


def test_search_runs_by_experiment_name(fleet: Fleet, unique: str) -> None:
    df = mlflow.search_runs(
        experiment_names=[f"search-fleet-{unique}"], filter_string="metrics.acc > 0.6"
    )
    assert set(fleet.labels(list(df["run_id"]))) == {"r1", "r2"}


def _all_pages(
    client: MlflowClient, exp_id: str, page_size: int, **kwargs: object
) -> list[list[str]]:
    pages: list[list[str]] = []
    token = None
    while True:
        page = client.search_runs([exp_id], max_results=page_size, page_token=token, **kwargs)
        pages.append([r.info.run_id for r in page])
        token = page.token
        if not token:
            return pages
        assert len(pages) < 20, "pagination does not terminate"


def test_search_runs_pagination(client: MlflowClient, unique: str) -> None:
    exp_id = client.create_experiment(f"search-pages-{unique}")
    run_ids = []
    for i in range(23):
        run_id = client.create_run(exp_id, start_time=BASE_TIME + i).info.run_id
        # Scores are a permutation of 0..22 unrelated to creation order.
        client.log_metric(run_id, "score", float((i * 7) % 23), timestamp=BASE_TIME)
        client.log_param(run_id, "group", "even" if i % 2 == 0 else "odd")
        run_ids.append(run_id)

    by_score = sorted(range(23), key=lambda i: -((i * 7) % 23))
    pages = _all_pages(client, exp_id, 10, order_by=["metrics.score DESC"])
    assert [len(p) for p in pages] == [10, 10, 3]
    assert [r for p in pages for r in p] == [run_ids[i] for i in by_score]

    # Default order (start_time DESC) with a filter, in pages of 4.
    pages = _all_pages(client, exp_id, 4, filter_string="params.group = 'even'")
    assert [len(p) for p in pages] == [4, 4, 4]
    assert [r for p in pages for r in p] == [run_ids[i] for i in range(22, -1, -2)]

    # A page size that divides the total exactly: the last page has no token after it.
    pages = _all_pages(client, exp_id, 23)
    assert [len(p) for p in pages] == [23]
    assert pages[0] == run_ids[::-1]


def test_search_experiments(client: MlflowClient, unique: str) -> None:
    prefix = f"se-{unique}"
    ids = {
        s: client.create_experiment(f"{prefix}-{s}", tags={"owner": o})
        for s, o in [("a", "alice"), ("b", "bob"), ("c", "alice"), ("d", "carol")]
    }
    client.delete_experiment(ids["d"])

    found = mlflow.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name"])
    assert [e.name for e in found] == [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    assert found[0].tags == {"owner": "alice"}
    assert found[0].experiment_id == ids["a"]

    desc = mlflow.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"]
    )
    assert [e.experiment_id for e in desc] == [ids["c"], ids["b"], ids["a"]]

    alice = mlflow.search_experiments(
        filter_string=f"name LIKE '{prefix}%' AND tags.owner = 'alice'",
        order_by=["experiment_id ASC"],
    )
    assert [e.experiment_id for e in alice] == [ids["a"], ids["c"]]

    deleted = mlflow.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=f"name LIKE '{prefix}%'"
    )
    assert [(e.experiment_id, e.lifecycle_stage) for e in deleted] == [(ids["d"], "deleted")]

    every = mlflow.search_experiments(
        view_type=ViewType.ALL, filter_string=f"name ILIKE '{prefix.upper()}%'", order_by=["name"]
    )
    assert [e.experiment_id for e in every] == [ids[s] for s in "abcd"]

    exact = mlflow.search_experiments(filter_string=f"name = '{prefix}-b'")
    assert [e.experiment_id for e in exact] == [ids["b"]]

    default_order = mlflow.search_experiments(filter_string=f"name LIKE '{prefix}-%'")
    times = [e.creation_time for e in default_order]
    assert times == sorted(times, reverse=True)
    assert {e.experiment_id for e in default_order} == {ids["a"], ids["b"], ids["c"]}


def test_search_experiments_pagination(client: MlflowClient, unique: str) -> None:
    prefix = f"sep-{unique}"
    ids = [client.create_experiment(f"{prefix}-{i:02d}") for i in range(5)]
    seen: list[str] = []
    token = None
    sizes = []
    while True:
        page = client.search_experiments(
            filter_string=f"name LIKE '{prefix}-%'",
            order_by=["name ASC"],
            max_results=2,
            page_token=token,
        )
        sizes.append(len(page))
        seen.extend(e.experiment_id for e in page)
        token = page.token
        if not token:
            break
    assert sizes == [2, 2, 1]
    assert seen == ids
