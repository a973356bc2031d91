"""Finding 1 of the security probe: no request may delete or overwrite the artifact store's root,
an experiment's directory or anything outside one run or model, whichever way it spells the
path, with auth on (as a user who manages one experiment of their own) and with auth off.

On the code before the route table (ee67f97), ``DELETE /mlflow-artifacts/artifacts?path=<own
experiment>`` was authorised on the query's path and deleted the URL's (empty: the root), and the
multipart routes issued uploads for files at the root.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.auth.conftest import BACKENDS, auth_server, backend_uri, cli, ok
from tests.servers import runyard_server

API = "/api/2.0/mlflow"
PROXY_PREFIXES = ["/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts"]


@dataclass
class World:
    admin: httpx.Client  # uploads the files that must survive
    attacker: httpx.Client  # manages experiment `own` (auth on: bob; auth off: anyone)
    files: dict[str, bytes]  # proxied path -> content, in experiments 1 and 2 and `own`
    own: str  # the attacker's experiment
    own_run_dir: str  # <own>/<run_id>/artifacts


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json() if response.content else None


def _experiment_with_file(client: httpx.Client, name: str) -> tuple[str, str, bytes]:
    eid = _ok(client.post(f"{API}/experiments/create", json={"name": name}))["experiment_id"]
    run = _ok(client.post(f"{API}/runs/create", json={"experiment_id": eid}))["run"]
    path = f"{eid}/{run['info']['run_id']}/artifacts/data.txt"
    content = f"kept: {name}".encode()
    response = client.put(f"{PROXY_PREFIXES[0]}/artifacts/{path}", content=content)
    assert response.status_code == 200, response.text
    return eid, path, content


@pytest.fixture(scope="module", params=[(b, a) for b in BACKENDS for a in ("auth", "no-auth")])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    backend, mode = request.param
    backend = getattr(backend, "values", [backend])[0]
    workdir = tmp_path_factory.mktemp(f"root-{backend}-{mode}")
    with ExitStack() as stack:
        if mode == "auth":
            srv = stack.enter_context(auth_server(backend, workdir))
            admin, attacker = srv.client("admin"), srv.client("bob")
        else:
            uri = stack.enter_context(backend_uri(backend, workdir))
            server = runyard_server(uri, workdir)
            stack.callback(server.stop)
            admin = attacker = httpx.Client(base_url=server.url, timeout=60)
        for client in {id(admin): admin, id(attacker): attacker}.values():
            stack.enter_context(client)
        files: dict[str, bytes] = {}
        first, path, content = _experiment_with_file(admin, "first")
        files[path] = content
        _, path, content = _experiment_with_file(admin, "second")
        files[path] = content
        if mode == "auth":  # the reproduction's grant: bob may read the first experiment
            ok(cli(srv.uri, "permissions", "grant", first, "bob", "READ"))
        own, path, content = _experiment_with_file(attacker, "attacker's own")
        files[path] = content
        yield World(admin, attacker, files, own, path.rsplit("/", 1)[0])


def _all_files_intact(w: World) -> None:
    for path, content in w.files.items():
        response = w.admin.get(f"{PROXY_PREFIXES[0]}/artifacts/{path}")
        assert response.status_code == 200, (path, response.text)
        assert response.content == content, path


def _refused(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if response.status_code != 405:  # 405 is Starlette's own answer for a path without DELETE
        assert response.json()["error_code"] in (
            "INVALID_PARAMETER_VALUE",
            "PERMISSION_DENIED",
            "ENDPOINT_NOT_FOUND",
        ), response.text


def _deletes(own: str) -> list[tuple[str, dict[str, str]]]:
    """(path under the proxy prefix, query): the root and the experiment spelled every way."""
    return [
        ("/artifacts", {"path": own}),  # the reproduction
        ("/artifacts", {"path": ""}),
        ("/artifacts/", {"path": own}),
        ("/artifacts/", {}),
        (f"/artifacts/{own}", {}),
        (f"/artifacts/{own}/", {}),
        (f"/artifacts/{own}/.", {}),
        (f"/artifacts/{own}/models", {}),
        (f"/artifacts/{own}/traces", {}),
        (f"/artifacts/{own}", {"path": f"{own}/x"}),
    ]


@pytest.mark.parametrize("prefix", PROXY_PREFIXES)
def test_no_delete_reaches_the_root_or_an_experiment(world: World, prefix: str) -> None:
    for path, query in _deletes(world.own):
        _refused(world.attacker.delete(prefix + path, params=query, follow_redirects=True))
        _all_files_intact(world)


@pytest.mark.parametrize("prefix", PROXY_PREFIXES)
def test_no_upload_lands_at_the_root_or_on_an_experiment(world: World, prefix: str) -> None:
    own = world.own
    for path, query in [
        (f"/artifacts/{own}", {}),
        (f"/artifacts/{own}/models", {}),
        ("/artifacts/x.txt", {"path": f"{own}/{own}/x.txt"}),
    ]:
        _refused(
            world.attacker.put(
                prefix + path, params=query, content=b"clobber", follow_redirects=True
            )
        )
    _all_files_intact(world)


@pytest.mark.parametrize("prefix", PROXY_PREFIXES)
def test_no_multipart_upload_is_issued_for_the_root(world: World, prefix: str) -> None:
    own = world.own
    for action in ("create", "complete", "abort"):
        body = {"path": "big.bin", "num_parts": 1, "upload_id": "0" * 32, "parts": []}
        for path, query in [
            (f"/mpu/{action}", {"path": own}),  # no such route (redirected to the next one)
            (f"/mpu/{action}/", {"path": own}),  # the URL's directory is the root
            (f"/mpu/{action}/{own}", {}),  # the experiment's directory
        ]:
            _refused(
                world.attacker.post(prefix + path, params=query, json=body, follow_redirects=True)
            )
    _all_files_intact(world)


def test_the_attacker_may_still_delete_inside_its_own_run(world: World) -> None:
    """The control: refusals above are about the place, not a broken delete."""
    target = f"{world.own_run_dir}/scratch.txt"
    url = f"{PROXY_PREFIXES[0]}/artifacts/{target}"
    assert world.attacker.put(url, content=b"scratch").status_code == 200
    assert world.attacker.delete(url).status_code == 200
    assert world.admin.get(url).status_code == 404
    _all_files_intact(world)
