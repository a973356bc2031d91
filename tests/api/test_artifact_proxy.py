"""The artifact proxy over raw HTTP: headers, ranges, listings, errors, and path safety.

The path-safety cases replay the artifact path-traversal attacks from MLflow's CVE history
(``../`` in URL paths and query arguments, ``%2e%2e``, double encoding, backslashes, NUL, ``#``,
absolute paths, traversal through multipart file names and ``/get-artifact``). Each must be
answered 4xx in MLflow's error JSON, and nothing may be read or written outside the root.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.livesrv import REFERENCE, live_server
from tests.servers import ServerProcess

SECRET = b"top secret, outside the artifact root"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("proxy")
    (workdir / "secret.txt").write_bytes(SECRET)
    with live_server("sqlite", workdir) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def raw(server: ServerProcess, method: str, target: str, body: bytes | None = None) -> Any:
    """Send ``target`` byte for byte: no client-side normalisation of ``..`` or encodings."""
    conn = HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def outside_files(server: ServerProcess) -> set[str]:
    workdir = server.log.parent
    return {
        str(p.relative_to(workdir))
        for p in workdir.rglob("*")
        if p.is_file() and "artifacts" not in p.relative_to(workdir).parts[:1]
    }


# --- round trips and headers ------------------------------------------------------------


def test_put_get_list_delete(http: httpx.Client) -> None:
    assert http.put(f"{PROXY}/rt/dir/a.bin", content=b"\x00\x01data").status_code == 200
    assert http.put(f"{PROXY}/rt/b.txt", content=b"hello").status_code == 200
    got = http.get(f"{PROXY}/rt/dir/a.bin")
    assert got.status_code == 200
    assert got.content == b"\x00\x01data"
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment; filename=")
    assert "a.bin" in got.headers["content-disposition"]

    listed = http.get(PROXY, params={"path": "rt"}).json()
    assert listed == {
        "files": [
            {"path": "b.txt", "is_dir": False, "file_size": 5},
            {"path": "dir", "is_dir": True},
        ]
    }
    assert http.get(PROXY, params={"path": "rt/missing"}).json() == {}

    assert http.delete(f"{PROXY}/rt/dir").status_code == 200
    assert http.get(PROXY, params={"path": "rt"}).json()["files"] == [
        {"path": "b.txt", "is_dir": False, "file_size": 5}
    ]


@pytest.mark.parametrize(
    "name, expected",
    [
        ("MLmodel", "text/plain"),
        ("conda.yaml", "text/plain"),
        ("metrics.json", "text/plain"),
        ("MLproject", "text/plain"),
        ("plot.png", "image/png"),
        ("model.pkl", "application/octet-stream"),
    ],
)
def test_content_type_as_mlflow_chooses(http: httpx.Client, name: str, expected: str) -> None:
    http.put(f"{PROXY}/types/{name}", content=b"x")
    assert http.get(f"{PROXY}/types/{name}").headers["content-type"].startswith(expected)


def test_range_requests(http: httpx.Client) -> None:
    data = bytes(range(256)) * 40
    http.put(f"{PROXY}/range/data.bin", content=data)
    part = http.get(f"{PROXY}/range/data.bin", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = http.get(f"{PROXY}/range/data.bin", headers={"Range": "bytes=-5"})
    assert tail.content == data[-5:]
    beyond = http.get(f"{PROXY}/range/data.bin", headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_missing_file_and_directory_reads(http: httpx.Client) -> None:
    missing = http.get(f"{PROXY}/nothing/here.txt")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    http.put(f"{PROXY}/adir/f.txt", content=b"x")
    directory = http.get(f"{PROXY}/adir")
    assert directory.status_code == 400
    assert "directory" in directory.json()["message"]


def test_server_info(http: httpx.Client) -> None:
    info = http.get("/api/3.0/mlflow/server-info").json()
    assert info["artifact_serving_enabled"] is True
    assert info["multipart_uploads_enabled"] is True
    assert info["store_type"] == "SqlStore"


# --- path safety ----------------------------------------------------------------------------

TRAVERSALS = [
    "../secret.txt",
    "../../secret.txt",
    "a/../../secret.txt",
    "%2e%2e/secret.txt",
    "%2E%2E%2Fsecret.txt",
    "..%2fsecret.txt",
    "%252e%252e/secret.txt",
    "%252e%252e%252fsecret.txt",
    "a/..%5c..%5csecret.txt",
    "..\\secret.txt",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "a%00b.txt",
    "a%23/../../secret.txt",
    "a%3f/../secret.txt",
    "C:%5cWindows%5cwin.ini",
]


@pytest.mark.skipif(REFERENCE, reason="runyard's stricter path rules")
@pytest.mark.parametrize("path", TRAVERSALS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_traversal_in_the_url_path_is_refused(
    server: ServerProcess, method: str, path: str
) -> None:
    before = outside_files(server)
    status, body = raw(server, method, f"{PROXY}/{path}", b"pwned" if method == "PUT" else None)
    assert 400 <= status < 500, (status, body)
    assert SECRET not in body
    if status != 404:  # a path the router cannot match at all is a plain 404
        assert json.loads(body)["error_code"] in ("INVALID_PARAMETER_VALUE", "ENDPOINT_NOT_FOUND")
    assert outside_files(server) == before
    assert (server.log.parent / "secret.txt").read_bytes() == SECRET


@pytest.mark.parametrize("path", ["..", "../..", "a/../..", "%2e%2e", "/", "/etc", "..\\.."])
def test_traversal_in_list_path_is_refused(http: httpx.Client, path: str) -> None:
    response = http.get(PROXY, params={"path": path})
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize(
    "directory, local_file",
    [("../..", "x.bin"), ("ok", "../../x.bin"), ("ok", ".."), ("%2e%2e", "x.bin")],
)
def test_traversal_through_multipart_is_refused(
    server: ServerProcess, http: httpx.Client, directory: str, local_file: str
) -> None:
    before = outside_files(server)
    response = http.post(
        f"/api/2.0/mlflow-artifacts/mpu/create/{directory}",
        json={"path": local_file, "num_parts": 1},
    )
    if local_file == "../../x.bin":
        # only the base name of the client's local file counts: this lands in ok/x.bin
        assert response.status_code == 200
        assert outside_files(server) == before
        return
    assert response.status_code in (400, 404)
    assert outside_files(server) == before


def test_multipart_part_paths_are_checked(server: ServerProcess, http: httpx.Client) -> None:
    created = http.post(
        "/api/2.0/mlflow-artifacts/mpu/create/mp", json={"path": "/local/f.bin", "num_parts": 2}
    ).json()
    upload_id = created["upload_id"]
    assert [c["part_number"] for c in created["credentials"]] == [1, 2]
    evil = f"/api/2.0/mlflow-artifacts/mpu/part/{upload_id}/1?path=../../secret.txt"
    status, _ = raw(server, "PUT", evil, b"pwned")
    assert status == 400
    assert (server.log.parent / "secret.txt").read_bytes() == SECRET
    parts = []
    for credential in reversed(created["credentials"]):  # any order
        sent = httpx.put(credential["url"], content=b"p" * credential["part_number"])
        assert sent.is_success
        parts.append({"part_number": credential["part_number"], "etag": sent.headers["etag"]})
    done = http.post(
        "/api/2.0/mlflow-artifacts/mpu/complete/mp",
        json={"path": "/local/f.bin", "upload_id": upload_id, "parts": parts},
    )
    assert done.status_code == 200, done.text
    assert http.get(f"{PROXY}/mp/f.bin").content == b"ppp"


def test_unknown_upload_id(http: httpx.Client) -> None:
    response = http.post(
        "/api/2.0/mlflow-artifacts/mpu/complete/x",
        json={"path": "f.bin", "upload_id": "nope", "parts": [{"part_number": 1, "etag": ""}]},
    )
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_run_artifact_routes_refuse_traversal(server: ServerProcess, http: httpx.Client) -> None:
    eid = http.post("/api/2.0/mlflow/experiments/create", json={"name": "paths"}).json()
    run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": eid["experiment_id"]})
    run_id = run.json()["run"]["info"]["run_id"]
    for path in ["../../../../secret.txt", "..%2f..%2fsecret.txt", "/etc/passwd"]:
        got = http.get("/get-artifact", params={"run_id": run_id, "path": path})
        assert got.status_code == 400
        assert SECRET not in got.content
        listed = http.get(
            "/ajax-api/2.0/mlflow/artifacts/list", params={"run_id": run_id, "path": path}
        )
        assert listed.status_code == 400


def test_run_artifact_listing_and_download(http: httpx.Client) -> None:
    eid = http.post("/api/2.0/mlflow/experiments/create", json={"name": "listing"}).json()
    run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": eid["experiment_id"]})
    info = run.json()["run"]["info"]
    base = info["artifact_uri"].removeprefix("mlflow-artifacts:/")
    http.put(f"{PROXY}/{base}/model/MLmodel", content=b"flavors: {}\n")
    http.put(f"{PROXY}/{base}/notes.txt", content=b"n")
    listed = http.get("/api/2.0/mlflow/artifacts/list", params={"run_id": info["run_id"]}).json()
    assert listed == {
        "root_uri": info["artifact_uri"],
        "files": [
            {"path": "model", "is_dir": True},
            {"path": "notes.txt", "is_dir": False, "file_size": 1},
        ],
    }
    inner = http.get(
        "/ajax-api/2.0/mlflow/artifacts/list", params={"run_id": info["run_id"], "path": "model"}
    ).json()
    assert inner["files"] == [{"path": "model/MLmodel", "is_dir": False, "file_size": 12}]
    got = http.get("/get-artifact", params={"run_id": info["run_id"], "path": "model/MLmodel"})
    assert got.content == b"flavors: {}\n"
    assert got.headers["content-type"].startswith("text/plain")


def test_disabled_serving_answers_503(tmp_path: Path) -> None:
    from tests.servers import runyard_server

    server = runyard_server(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, "--no-serve-artifacts")
    try:
        response = httpx.get(f"{server.url}{PROXY}/x.txt")
        assert response.status_code == 503
        assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        info = httpx.get(f"{server.url}/api/3.0/mlflow/server-info").json()
        assert info["artifact_serving_enabled"] is False
    finally:
        server.stop()


def test_direct_artifact_root_without_the_proxy(tmp_path: Path) -> None:
    """``--no-serve-artifacts`` with a direct root: the client writes to storage itself, the
    server only records locations and never reads them."""
    import mlflow

    from tests.integration.livesrv import client_environment
    from tests.servers import runyard_server

    root = tmp_path / "shared-storage"
    server = runyard_server(
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        tmp_path,
        "--no-serve-artifacts",
        "--default-artifact-root",
        root.as_uri(),
    )
    try:
        with client_environment():
            client = mlflow.MlflowClient(server.url)
            eid = client.create_experiment("direct")
            assert client.get_experiment(eid).artifact_location == f"{root.as_uri()}/{eid}"
            run = client.create_run(eid)
            expected = f"{root.as_uri()}/{eid}/{run.info.run_id}/artifacts"
            assert run.info.artifact_uri == expected
            src = tmp_path / "note.txt"
            src.write_text("written by the client itself")
            client.log_artifact(run.info.run_id, str(src))
        stored = root / eid / run.info.run_id / "artifacts" / "note.txt"
        assert stored.read_text() == "written by the client itself"
        refused = httpx.get(
            f"{server.url}/get-artifact", params={"run_id": run.info.run_id, "path": "note.txt"}
        )
        assert refused.status_code == 400
        assert "not served by this server" in refused.json()["message"]
    finally:
        server.stop()
