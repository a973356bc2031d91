"""Request hygiene on a live server: each rule's refusals and what still passes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import ServerProcess, runyard_server

REQUEST_LIMIT = 4096
ARTIFACT_LIMIT = 100_000
JSON = {"Content-Type": "application/json"}
CREATE = "/api/2.0/mlflow/experiments/create"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
NOT_JSON = "Bad Request. Content-Type must be one of ['application/json']."  # MLflow's words


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("hygiene")
    srv = runyard_server(
        f"sqlite:///{workdir / 'runyard.db'}",
        workdir,
        "--allowed-hosts", "tracking.example.com",
        "--cors-allowed-origins", "https://ui.example.com",
        env={
            "RUNYARD_MAX_REQUEST_BYTES": str(REQUEST_LIMIT),
            "RUNYARD_MAX_ARTIFACT_BYTES": str(ARTIFACT_LIMIT),
        },
    )  # fmt: skip
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def _chunks(total: int, size: int = 10_000) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        yield b"x" * piece
        sent += piece


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code
    return str(body["message"])


# --- Host -----------------------------------------------------------------------------------


def test_foreign_host_is_refused(http: httpx.Client) -> None:
    response = http.get(
        "/api/2.0/mlflow/experiments/get?experiment_id=0", headers={"Host": "evil.example"}
    )
    message = _error(response, 403, "PERMISSION_DENIED")
    assert message == "Invalid Host header - possible DNS rebinding attack detected"


def test_listed_and_loopback_hosts_are_served(http: httpx.Client, server: ServerProcess) -> None:
    path = "/api/2.0/mlflow/experiments/get?experiment_id=0"
    for host in ("tracking.example.com", "localhost:1234", f"127.0.0.1:{server.port}"):
        assert http.get(path, headers={"Host": host}).status_code == 200, host


def test_probes_answer_any_host(http: httpx.Client) -> None:
    assert http.get("/health", headers={"Host": "evil.example"}).text == "OK"
    assert http.get("/ready", headers={"Host": "evil.example"}).status_code == 200
    assert http.get("/metrics", headers={"Host": "evil.example"}).status_code == 403


# --- Origin and CORS ------------------------------------------------------------------------


def test_cross_origin_write_is_refused(http: httpx.Client) -> None:
    headers = {**JSON, "Origin": "https://evil.example"}
    response = http.post(CREATE, json={"name": "from-evil"}, headers=headers)
    assert _error(response, 403, "PERMISSION_DENIED") == "Cross-origin request blocked"
    search = http.get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=from-evil")
    assert search.status_code == 404  # nothing was created


def test_cross_origin_read_gets_no_cors_headers(http: httpx.Client) -> None:
    response = http.get(
        "/api/2.0/mlflow/experiments/get?experiment_id=0",
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_listed_origin_may_write_and_gets_cors_headers(http: httpx.Client) -> None:
    headers = {**JSON, "Origin": "https://ui.example.com"}
    response = http.post(CREATE, json={"name": "from-ui"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "https://ui.example.com"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "X-Request-Id" in response.headers["access-control-expose-headers"]


def test_loopback_origin_may_write(http: httpx.Client) -> None:
    headers = {**JSON, "Origin": "http://localhost:3000"}
    response = http.post(CREATE, json={"name": "from-localhost"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_preflight(http: httpx.Client) -> None:
    asked = {
        "Origin": "https://ui.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, authorization",
    }
    response = http.options(CREATE, headers=asked)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://ui.example.com"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type, authorization"
    refused = http.options(CREATE, headers={**asked, "Origin": "https://evil.example"})
    assert _error(refused, 403, "PERMISSION_DENIED") == "Cross-origin request blocked"


# --- content type ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("text/plain", NOT_JSON),
        ("application/x-www-form-urlencoded", NOT_JSON),
        (None, "Bad Request. Content-Type header is missing."),
    ],
)
def test_json_writes_need_json(http: httpx.Client, content_type: str | None, message: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = http.post(CREATE, content=b'{"name": "form"}', headers=headers)
    assert "content-type" not in response.request.headers or content_type
    assert _error(response, 400, "INVALID_PARAMETER_VALUE") == message


def test_json_with_charset_is_json(http: httpx.Client) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    response = http.post(CREATE, content=b'{"name": "charset"}', headers=headers)
    assert response.status_code == 200, response.text


def test_delete_and_multipart_bodies_are_checked_too(http: httpx.Client) -> None:
    form = {"Content-Type": "text/plain"}
    delete = http.request(
        "DELETE", "/api/2.0/mlflow/logged-models/m-1/tags/k", content=b"{}", headers=form
    )
    _error(delete, 400, "INVALID_PARAMETER_VALUE")
    mpu = http.post("/api/2.0/mlflow-artifacts/mpu/create/x", content=b"{}", headers=form)
    _error(mpu, 400, "INVALID_PARAMETER_VALUE")
    # A DELETE without a body (the client's artifact delete) needs no content type.
    assert http.delete(f"{ARTIFACTS}/nothing/here").status_code == 200


def test_artifact_bytes_are_not_json(http: httpx.Client) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    response = http.put(f"{ARTIFACTS}/ct/blob.bin", content=b"\x00\x01", headers=headers)
    assert response.status_code == 200
    assert http.get(f"{ARTIFACTS}/ct/blob.bin").content == b"\x00\x01"


# --- body size ------------------------------------------------------------------------------


def test_api_body_over_the_limit_by_length(http: httpx.Client) -> None:
    body = b'{"name": "' + b"x" * REQUEST_LIMIT + b'"}'
    response = http.post(CREATE, content=body, headers=JSON)
    assert "limit of 4096 bytes" in _error(response, 413, "RESOURCE_EXHAUSTED")


def test_api_body_over_the_limit_chunked(http: httpx.Client) -> None:
    def body() -> Iterator[bytes]:
        yield b'{"name": "'
        yield from _chunks(REQUEST_LIMIT, 1000)
        yield b'"}'

    response = http.post(CREATE, content=body(), headers=JSON)
    assert "transfer-encoding" in response.request.headers
    _error(response, 413, "RESOURCE_EXHAUSTED")


def test_artifact_limit_is_separate_and_applies_to_chunked_uploads(http: httpx.Client) -> None:
    # Above the API limit, below the artifact limit: fine, by length and chunked.
    assert http.put(f"{ARTIFACTS}/size/ok.bin", content=b"y" * 50_000).status_code == 200
    chunked = http.put(f"{ARTIFACTS}/size/ok-chunked.bin", content=_chunks(ARTIFACT_LIMIT))
    assert chunked.status_code == 200, chunked.text
    assert len(http.get(f"{ARTIFACTS}/size/ok-chunked.bin").content) == ARTIFACT_LIMIT

    by_length = http.put(f"{ARTIFACTS}/size/big.bin", content=b"z" * (ARTIFACT_LIMIT + 1))
    _error(by_length, 413, "RESOURCE_EXHAUSTED")
    too_big = http.put(f"{ARTIFACTS}/size/big-chunked.bin", content=_chunks(ARTIFACT_LIMIT + 10))
    _error(too_big, 413, "RESOURCE_EXHAUSTED")
    for name in ("big.bin", "big-chunked.bin"):  # nothing half-written is left
        assert http.get(f"{ARTIFACTS}/size/{name}").status_code == 404
    listing = http.get(ARTIFACTS, params={"path": "size"}).json()
    assert sorted(f["path"] for f in listing["files"]) == ["ok-chunked.bin", "ok.bin"]


def test_multipart_part_over_the_artifact_limit(http: httpx.Client) -> None:
    created = http.post(
        "/api/2.0/mlflow-artifacts/mpu/create/mp",
        json={"path": "big.bin", "num_parts": 1},
        headers=JSON,
    )
    assert created.status_code == 200, created.text
    url = created.json()["credentials"][0]["url"]
    response = http.put(url, content=_chunks(ARTIFACT_LIMIT + 10))
    _error(response, 413, "RESOURCE_EXHAUSTED")


# --- headers --------------------------------------------------------------------------------


def test_security_headers_on_every_response(http: httpx.Client) -> None:
    for response in (
        http.get("/health"),
        http.get("/api/2.0/mlflow/experiments/get?experiment_id=0"),
        http.get("/no/such/page"),
        http.get("/api/2.0/mlflow/experiments/get", headers={"Host": "evil.example"}),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "SAMEORIGIN"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    api = http.get("/api/2.0/mlflow/experiments/get?experiment_id=0")
    assert api.headers["content-security-policy"].startswith("default-src 'none'")


def test_artifact_download_headers_are_kept_not_doubled(http: httpx.Client) -> None:
    http.put(f"{ARTIFACTS}/hdr/page.html", content=b"<script>alert(1)</script>")
    response = http.get(f"{ARTIFACTS}/hdr/page.html")
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["content-type"].startswith("text/html")


def test_disabled_hygiene_checks_nothing(tmp_path: Path) -> None:
    srv = runyard_server(
        f"sqlite:///{tmp_path / 'runyard.db'}", tmp_path, "--disable-security-middleware"
    )
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            headers = {"Host": "evil.example", "Origin": "https://evil.example"}
            response = http.post(CREATE, json={"name": "anything-goes"}, headers=headers)
            assert response.status_code == 200, response.text
            assert "x-frame-options" not in response.headers
    finally:
        srv.stop()
