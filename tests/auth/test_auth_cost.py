"""What auth costs a request: no SQL beyond one small query once credentials are cached."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from runyard.app import create_app
from runyard.settings import Settings
from tests.auth.conftest import PASSWORDS, cli, ok

with warnings.catch_warnings():  # Starlette would rather have httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


# SQLite reads run inside BEGIN ... ROLLBACK for one snapshot: not queries of their own.
_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK"}


@contextmanager
def _app(uri: str, tmp_path: Path, auth: bool) -> Iterator[tuple[TestClient, list[str]]]:
    if auth:
        ok(cli(uri, "users", "create", "alice", password=PASSWORDS["alice"]))
    settings = Settings(
        backend_store_uri=uri,
        artifacts_destination=str(tmp_path / "artifacts"),
        auth=auth,
        auth_default_permission="EDIT",
        disable_security_middleware=True,
        metrics=False,
    )
    statements: list[str] = []
    client = TestClient(create_app(settings), base_url="http://127.0.0.1")
    with client:
        engine = client.app.state.ctx.db.engine  # type: ignore[attr-defined]

        def count(conn: object, cursor: object, statement: str, *args: object) -> None:
            if statement.split()[0].upper() not in _TRANSACTION_CONTROL:
                statements.append(statement)

        sa.event.listen(engine, "before_cursor_execute", count)
        if auth:
            client.auth = ("alice", PASSWORDS["alice"])
        yield client, statements


def _statements_per_call(uri: str, tmp_path: Path, auth: bool) -> dict[str, int]:
    with _app(uri, tmp_path, auth) as (client, statements):
        run = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"}).json()
        run_id = run["run"]["info"]["run_id"]
        metric = {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}
        calls = {
            "log-metric": lambda: client.post("/api/2.0/mlflow/runs/log-metric", json=metric),
            "get-run": lambda: client.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id}),
            "get-experiment": lambda: client.get(
                "/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}
            ),
        }
        counts = {}
        for name, call in calls.items():
            assert call().status_code == 200  # warms the login and run caches
            statements.clear()
            assert call().status_code == 200
            counts[name] = len(statements)
        return counts


def test_auth_adds_at_most_one_query_per_request(db_uri: str, tmp_path: Path) -> None:
    open_counts = _statements_per_call(db_uri, tmp_path, auth=False)
    auth_counts = _statements_per_call(db_uri, tmp_path, auth=True)
    for name, count in open_counts.items():
        assert auth_counts[name] - count <= 1, (name, open_counts, auth_counts)
    assert auth_counts != open_counts  # the grant lookup is there: this test can see queries
