"""The model-version CVEs of reference/peers.md §4.3 replayed end to end, as their exploits ran.

Each exploit registers a version whose source (or whose run's artifact root) points outside
the store, then reads ``/model-versions/get-artifact`` for ``/etc/passwd``. The unit tests
(tests/unit/test_model_sources.py) check every payload's refusal reason; these send the whole
chain to a live server and check what an attacker would look at: the file never comes back,
no step answers a 5xx, and on runyard the malicious version is refused at creation.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api.httpapi import Api
from tests.integration.livesrv import REFERENCE

PASSWD = "root:x:0:0"  # the first line of any /etc/passwd
TO_ETC = "/".join([".."] * 14) + "/etc/"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _run_in(api: Api, artifact_location: str | None) -> str | None:
    """A run in a new experiment with that artifact_location; None when it is refused."""
    body: dict[str, Any] = {"name": _name("cve")}
    if artifact_location is not None:
        body["artifact_location"] = artifact_location
    created = api.post("/experiments/create", body)
    assert created.status_code < 500, created.text
    if created.status_code != 200:
        return None
    return api.run(created.json()["experiment_id"])


def _files(api: Api, name: str, version: str, path: str) -> httpx.Response:
    url = f"{api.url}/model-versions/get-artifact"
    return api.request("GET", url, params={"name": name, "version": version, "path": path})


# (id, the experiment's artifact_location or None, source with {run} for the run id, whether
# the version names the run, the path asked for afterwards)
CHAINS = [
    ("CVE-2023-1177", None, "file:///etc", False, "passwd"),
    ("CVE-2023-1177-root", None, "file:///", False, "etc/passwd"),
    ("CVE-2023-6977", None, "//proc/self/root", False, "etc/passwd"),
    ("CVE-2023-2356", None, "runs:/{run}/../../../../../../../../etc", True, "passwd"),
    ("CVE-2023-2780", None, "runs:/{run}/..\\..\\..\\..\\..\\..\\etc", True, "passwd"),
    ("CVE-2024-1483", "http:///#/" + TO_ETC, "file:///etc/", True, "passwd"),
    ("CVE-2023-6909", "http:///?/" + TO_ETC, "runs:/{run}", True, "passwd"),
    ("CVE-2024-1594", "mlflow-artifacts:/#/" + TO_ETC, "runs:/{run}", True, "passwd"),
    ("CVE-2024-3848", None, "runs:/{run}#/../../../../../../../../etc", True, "passwd"),
    ("CVE-2024-1558", None, "runs:/{run}/a%3f/../../../../../../../../etc", True, "passwd"),
]


@pytest.mark.parametrize(
    ("location", "source", "names_run", "path"),
    [pytest.param(*chain[1:], id=chain[0]) for chain in CHAINS],
)
def test_cve_chain_never_serves_the_file(
    api: Api, location: str | None, source: str, names_run: bool, path: str
) -> None:
    run_id = _run_in(api, location)
    if run_id is None:  # the server refused the hostile artifact_location: the chain stops
        assert location is not None, "a plain experiment must be accepted"
        return
    name = _name("cve-model")
    api.ok(api.post("/registered-models/create", {"name": name}))
    body = {"name": name, "source": source.format(run=run_id)}
    if names_run:
        body["run_id"] = run_id
    created = api.post("/model-versions/create", body)
    assert created.status_code < 500, created.text
    if not REFERENCE:
        api.error(created, "INVALID_PARAMETER_VALUE")
    for asked in (path, "../" * 8 + "etc/passwd"):
        answer = _files(api, name, "1", asked)
        assert answer.status_code < 500 or REFERENCE, answer.text
        assert PASSWD not in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "../../../../../../../../etc/passwd",
        "/etc/passwd",
        "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "sub/..\\..\\..\\..\\..\\..\\etc\\passwd",
        "//proc/self/root/etc/passwd",
        "MLmodel#/../../../../../../etc/passwd",
    ],
)
def test_get_artifact_path_stays_inside_the_version(api: Api, path: str) -> None:
    """A legitimate version, and a path that tries to leave it."""
    run_id = api.run()
    root = api.get_run(run_id)["info"]["artifact_uri"]  # mlflow-artifacts:/<exp>/<run>/artifacts
    proxied = root.split("mlflow-artifacts:", 1)[1].lstrip("/")
    uploaded = api.request(
        "PUT",
        f"{api.url}/api/2.0/mlflow-artifacts/artifacts/{proxied}/model/MLmodel",
        content=b"flavors: {}\n",
    )
    assert uploaded.status_code == 200, uploaded.text
    name = _name("cve-path")
    api.ok(api.post("/registered-models/create", {"name": name}))
    body = {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id}
    api.ok(api.post("/model-versions/create", body))
    if not REFERENCE:
        assert _files(api, name, "1", "MLmodel").text == "flavors: {}\n"
    answer = _files(api, name, "1", path)
    assert answer.status_code < 500 or REFERENCE, answer.text
    assert PASSWD not in answer.text
    if not REFERENCE:
        assert answer.status_code in (400, 404), (answer.status_code, answer.text)
