"""Webhooks end to end: a live server driven by the official client, a receiver on 127.0.0.1.

CRUD (the secret never comes back), the registry's events delivered once each and signed as
MLflow signs them (checked with MLflow's own signing function), a receiver that is down at
first, a server restarted with a delivery still queued, the SSRF refusal, admins only under
auth.

``RUNYARD_TEST_REFERENCE=mlflow`` runs the CRUD, event, down-receiver and SSRF tests against
``mlflow server`` (given MLflow's equivalents of the webhook settings in its environment);
the restart and auth tests are runyard's own (MLflow keeps no queue across a restart, and its
auth app is another server), so they skip there.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import mlflow
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from mlflow.entities.webhook import WebhookStatus
from mlflow.exceptions import MlflowException
from mlflow.webhooks.delivery import _generate_hmac_signature

from runyard.store import webhook_outbox
from tests.auth.conftest import PASSWORDS, backend_uri, cli, ok
from tests.integration.livesrv import REFERENCE, client_environment, environment, live_server
from tests.servers import ServerProcess, free_port, runyard_server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
API = "/api/2.0/mlflow/webhooks"

# runyard's settings for these tests: loopback receivers over http, retries a second apart.
RUNYARD_ENV = {
    "RUNYARD_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
    "RUNYARD_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "RUNYARD_WEBHOOK_BACKOFF_BASE": "1",
    "RUNYARD_WEBHOOK_POLL_INTERVAL": "1",
}
STRICT_ENV = {**RUNYARD_ENV, "RUNYARD_WEBHOOK_ALLOW_PRIVATE_TARGETS": "false"}
# The same for `mlflow server` (read from its environment when it starts); its webhook list
# cache is shortened so a webhook made by a test is seen by the next write.
MLFLOW_ENV = {
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": Fernet.generate_key().decode(),
}
MLFLOW_STRICT_ENV = {**MLFLOW_ENV, "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "false"}

REGISTRY_EVENTS = [
    "registered_model.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
    "model_version_alias.created",
    "model_version_alias.deleted",
]
DELIVERY_WAIT_S = 30.0  # a bounded wait for what must arrive
QUIET_S = 2.5  # how long nothing more may arrive (over two sender polls)


# --- the receiver ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: str
    received_at: float

    @property
    def json(self) -> dict[str, Any]:
        parsed = json.loads(self.body)
        assert isinstance(parsed, dict)
        return parsed


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST and answers 200; it can go down and
    come back up on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("utf-8")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.deliveries.append(Delivery(self.path, headers, body, time.time()))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def at(self, path: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.path == f"/{path}"]

    def wait_for(self, path: str, count: int, timeout: float = DELIVERY_WAIT_S) -> list[Delivery]:
        """The deliveries to ``path`` once ``count`` have come (or what came in ``timeout``),
        after a quiet period in which any extra one would have shown up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.at(path)) < count:
            time.sleep(0.1)
        time.sleep(QUIET_S)
        return self.at(path)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.up()
    try:
        yield r
    finally:
        r.down()


# --- servers ---------------------------------------------------------------------------------


@contextmanager
def webhook_server(backend: str, workdir: Path, *, strict: bool) -> Iterator[ServerProcess]:
    """A server on an empty database: private targets allowed unless ``strict``."""
    with ExitStack() as stack:
        with environment(MLFLOW_STRICT_ENV if strict else MLFLOW_ENV):  # read at start only
            server = stack.enter_context(
                live_server(backend, workdir, env=STRICT_ENV if strict else RUNYARD_ENV)
            )
        yield server


@pytest.fixture(scope="module", params=BACKENDS)
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp(f"webhooks-{request.param}")
    with client_environment(), webhook_server(request.param, workdir, strict=False) as server:
        yield server


@pytest.fixture(autouse=True)
def tracking_uri() -> Iterator[None]:
    """The integration conftest's autouse fixture would start its own server for every test;
    these tests name their server explicitly."""
    yield


@pytest.fixture
def client(srv: ServerProcess) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(srv.url)


@pytest.fixture
def hooks(client: mlflow.MlflowClient) -> Iterator[list[str]]:
    """Ids of the webhooks a test made: deleted afterwards, so no later test's events reach
    them and listings start empty."""
    made: list[str] = []
    yield made
    for webhook_id in made:
        with contextlib.suppress(MlflowException):  # the test may have deleted it itself
            client.delete_webhook(webhook_id)


def unique() -> str:
    return uuid.uuid4().hex[:10]


def make_version(client: mlflow.MlflowClient, name: str, **kwargs: Any) -> Any:
    experiment_id = client.create_experiment(f"wh-{unique()}")
    run_id = client.create_run(experiment_id).info.run_id
    return client.create_model_version(name, f"runs:/{run_id}/model", run_id, **kwargs)


def events_of(webhook: Any) -> list[str]:
    return sorted(f"{e.entity.value}.{e.action.value}" for e in webhook.events)


def verify_signature(delivery: Delivery, secret: str) -> None:
    """The signature as MLflow's own delivery code computes it, compared in constant time."""
    delivery_id = delivery.headers["x-mlflow-delivery-id"]
    timestamp = delivery.headers["x-mlflow-timestamp"]
    expected = _generate_hmac_signature(secret, delivery_id, timestamp, delivery.body)
    got = delivery.headers["x-mlflow-signature"]
    assert got.startswith("v1,")
    assert hmac.compare_digest(got, expected)
    wrong = _generate_hmac_signature(secret + "x", delivery_id, timestamp, delivery.body)
    assert not hmac.compare_digest(got, wrong)


def check_envelope(delivery: Delivery, since: float) -> dict[str, Any]:
    """MLflow's headers and envelope; the envelope's ``data``."""
    assert delivery.headers["content-type"] == "application/json"
    uuid.UUID(delivery.headers["x-mlflow-delivery-id"])
    sent_at = int(delivery.headers["x-mlflow-timestamp"])
    assert since - 5 <= sent_at <= delivery.received_at + 5
    doc = delivery.json
    assert sorted(doc) == ["action", "data", "entity", "timestamp"]
    stamped = datetime.fromisoformat(doc["timestamp"])
    assert stamped.utcoffset() is not None and stamped.utcoffset().total_seconds() == 0
    assert since - 5 <= stamped.timestamp() <= delivery.received_at + 5
    data = doc["data"]
    assert isinstance(data, dict)
    return data


def raw_webhooks(srv: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=srv.url, timeout=60)


# --- CRUD ------------------------------------------------------------------------------------


def test_create_get_update_delete_read_back(
    srv: ServerProcess, client: mlflow.MlflowClient, receiver: Receiver, hooks: list[str]
) -> None:
    name = f"hook-{unique()}"
    before = int(time.time() * 1000)
    made = client.create_webhook(
        name,
        receiver.url("crud"),
        ["model_version.created", "registered_model.created"],
        description="first",
        secret="s3cr3t-crud",
    )
    hooks.append(made.webhook_id)
    assert made.name == name
    assert made.url == receiver.url("crud")
    assert made.description == "first"
    assert made.status == WebhookStatus.ACTIVE
    assert events_of(made) == ["model_version.created", "registered_model.created"]
    assert made.secret is None
    assert before - 1000 <= made.creation_timestamp == made.last_updated_timestamp
    assert made.creation_timestamp <= time.time() * 1000 + 1000

    got = client.get_webhook(made.webhook_id)
    assert (got.webhook_id, got.name, got.url, got.description, got.status) == (
        made.webhook_id,
        name,
        receiver.url("crud"),
        "first",
        WebhookStatus.ACTIVE,
    )
    assert events_of(got) == events_of(made)
    assert got.creation_timestamp == made.creation_timestamp
    assert got.secret is None

    updated = client.update_webhook(
        made.webhook_id,
        name=f"{name}-2",
        description="second",
        url=receiver.url("crud2"),
        events=["model_version_tag.set"],
        status="DISABLED",
    )
    assert updated.name == f"{name}-2"
    assert updated.description == "second"
    assert updated.url == receiver.url("crud2")
    assert events_of(updated) == ["model_version_tag.set"]
    assert updated.status == WebhookStatus.DISABLED
    assert updated.creation_timestamp == made.creation_timestamp
    assert updated.last_updated_timestamp >= made.last_updated_timestamp
    again = client.get_webhook(made.webhook_id)
    assert (again.name, again.description, again.url, again.status) == (
        f"{name}-2",
        "second",
        receiver.url("crud2"),
        WebhookStatus.DISABLED,
    )
    assert events_of(again) == ["model_version_tag.set"]

    # Fields not given keep their values.
    renamed = client.update_webhook(made.webhook_id, name=f"{name}-3")
    assert (renamed.name, renamed.description, renamed.url) == (
        f"{name}-3",
        "second",
        receiver.url("crud2"),
    )
    assert events_of(renamed) == ["model_version_tag.set"]

    client.delete_webhook(made.webhook_id)
    with pytest.raises(MlflowException) as gone:
        client.get_webhook(made.webhook_id)
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert made.webhook_id not in [w.webhook_id for w in client.list_webhooks()]
    with pytest.raises(MlflowException) as twice:
        client.delete_webhook(made.webhook_id)
    assert twice.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_the_secret_is_never_returned(
    srv: ServerProcess, client: mlflow.MlflowClient, receiver: Receiver, hooks: list[str]
) -> None:
    secret = f"never-shown-{unique()}"
    with raw_webhooks(srv) as http:
        created = http.post(
            API,
            json={
                "name": f"secret-{unique()}",
                "url": receiver.url("secret"),
                "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}],
                "secret": secret,
            },
        )
        assert created.status_code == 200, created.text
        webhook = created.json()["webhook"]
        hooks.append(webhook["webhook_id"])
        assert webhook["events"] == [{"entity": "REGISTERED_MODEL", "action": "CREATED"}]
        assert webhook["status"] == "ACTIVE"
        changed = http.patch(f"{API}/{webhook['webhook_id']}", json={"secret": secret + "-new"})
        assert changed.status_code == 200, changed.text
        got = http.get(f"{API}/{webhook['webhook_id']}")
        listed = http.get(API)
        assert got.status_code == listed.status_code == 200
        assert webhook["webhook_id"] in [w["webhook_id"] for w in listed.json()["webhooks"]]
        for answer in (created, changed, got, listed):
            assert secret not in answer.text
            assert '"secret"' not in answer.text

    # The secret is there all the same: a test delivery is signed with the one set last.
    result = client.test_webhook(webhook["webhook_id"])
    assert result.success is True, result.error_message
    assert result.response_status == 200
    assert result.response_body == "ok"
    (delivery,) = receiver.wait_for("secret", 1)
    verify_signature(delivery, secret + "-new")
    assert delivery.json["entity"] == "registered_model"
    assert delivery.json["action"] == "created"
    assert delivery.json["data"] == {
        "name": "example_model",
        "tags": {"example_key": "example_value"},
        "description": "An example registered model",
    }


def test_test_webhook_sends_the_chosen_event_unsigned_without_secret(
    client: mlflow.MlflowClient, receiver: Receiver, hooks: list[str]
) -> None:
    made = client.create_webhook(
        f"tw-{unique()}",
        receiver.url("tw"),
        ["registered_model.created", "model_version_alias.deleted"],
    )
    hooks.append(made.webhook_id)
    result = client.test_webhook(made.webhook_id, "model_version_alias.deleted")
    assert (result.success, result.response_status) == (True, 200)
    (delivery,) = receiver.wait_for("tw", 1)
    assert "x-mlflow-signature" not in delivery.headers
    assert delivery.json["entity"] == "model_version_alias"
    assert delivery.json["action"] == "deleted"
    assert delivery.json["data"] == {"name": "example_model", "alias": "example_alias"}


def test_list_webhooks_pages(
    client: mlflow.MlflowClient, receiver: Receiver, hooks: list[str]
) -> None:
    for i in range(5):
        made = client.create_webhook(
            f"page-{i}-{unique()}", receiver.url(f"page{i}"), ["registered_model.created"]
        )
        hooks.append(made.webhook_id)
    pages = []
    token = None
    for _ in range(5):
        page = client.list_webhooks(max_results=2, page_token=token)
        pages.append(list(page))
        token = page.token
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    seen = [w.webhook_id for p in pages for w in p]
    assert sorted(seen) == sorted(hooks)  # each once: none repeated, none skipped
    stamps = [w.creation_timestamp for p in pages for w in p]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    everything = client.list_webhooks()
    assert not everything.token  # the client reads an absent token as ""
    assert [w.webhook_id for w in everything] == seen
    with pytest.raises(MlflowException) as too_many:
        client.list_webhooks(max_results=1001)
    assert too_many.value.error_code == "INVALID_PARAMETER_VALUE"


# --- the registry's events -------------------------------------------------------------------


def test_registry_events_reach_the_receiver_once_signed(
    client: mlflow.MlflowClient, receiver: Receiver, hooks: list[str]
) -> None:
    secret = f"registry-{unique()}"
    everything = client.create_webhook(
        f"all-{unique()}", receiver.url("all"), REGISTRY_EVENTS, secret=secret
    )
    only_models = client.create_webhook(
        f"models-{unique()}", receiver.url("models"), ["registered_model.created"]
    )
    disabled = client.create_webhook(
        f"off-{unique()}", receiver.url("off"), REGISTRY_EVENTS, status="DISABLED"
    )
    hooks.extend([everything.webhook_id, only_models.webhook_id, disabled.webhook_id])
    since = time.time()

    name = f"wh-model-{unique()}"
    client.create_registered_model(name, tags={"team": "a"}, description="a model")
    client.set_registered_model_tag(name, "stage", "x")  # emits nothing for a model
    version = make_version(client, name, tags={"k": "v"})
    client.set_model_version_tag(name, version.version, "quality", "good")
    client.delete_model_version_tag(name, version.version, "quality")
    client.set_registered_model_alias(name, "champion", version.version)
    client.delete_registered_model_alias(name, "champion")

    got = receiver.wait_for("all", len(REGISTRY_EVENTS))
    by_event = {f"{d.json['entity']}.{d.json['action']}": d for d in got}
    assert sorted(by_event) == sorted(REGISTRY_EVENTS)
    assert len(got) == len(REGISTRY_EVENTS)  # each once
    assert len({d.headers["x-mlflow-delivery-id"] for d in got}) == len(got)
    for delivery in got:
        verify_signature(delivery, secret)
    data = {event: check_envelope(d, since) for event, d in by_event.items()}
    assert data["registered_model.created"] == {
        "name": name,
        "tags": {"team": "a"},
        "description": "a model",
    }
    assert data["model_version.created"] == {
        "name": name,
        "version": version.version,
        "source": version.source,
        "run_id": version.run_id,
        "tags": {"k": "v"},
        "description": None,
    }
    assert data["model_version_tag.set"] == {
        "name": name,
        "version": version.version,
        "key": "quality",
        "value": "good",
    }
    assert data["model_version_tag.deleted"] == {
        "name": name,
        "version": version.version,
        "key": "quality",
    }
    assert data["model_version_alias.created"] == {
        "name": name,
        "alias": "champion",
        "version": version.version,
    }
    assert data["model_version_alias.deleted"] == {"name": name, "alias": "champion"}

    # Only what a webhook subscribed to, unsigned without a secret; nothing while disabled.
    (model_only,) = receiver.at("models")
    assert model_only.json["data"] == data["registered_model.created"]
    assert "x-mlflow-signature" not in model_only.headers
    assert receiver.at("off") == []


def test_a_receiver_down_at_first_gets_the_event_once_it_is_up(
    client: mlflow.MlflowClient, hooks: list[str]
) -> None:
    later = Receiver()  # its port is chosen, nothing listens yet
    secret = f"later-{unique()}"
    made = client.create_webhook(
        f"later-{unique()}", later.url("later"), ["registered_model.created"], secret=secret
    )
    hooks.append(made.webhook_id)
    name = f"wh-later-{unique()}"
    since = time.time()
    client.create_registered_model(name)
    time.sleep(2)  # an attempt or two find nobody listening
    later.up()
    try:
        got = later.wait_for("later", 1)
    finally:
        later.down()
    assert len(got) == 1, [d.body for d in got]
    verify_signature(got[0], secret)
    data = check_envelope(got[0], since)
    assert got[0].json["entity"] == "registered_model"
    assert data == {"name": name, "tags": {}, "description": ""}  # proto's unset string


# --- a restart with a delivery still queued --------------------------------------------------


def queued(uri: str) -> list[webhook_outbox.Row]:
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    engine = sa.create_engine(uri)
    try:
        with engine.connect() as conn:
            return webhook_outbox.pending(conn)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


@pytest.mark.skipif(REFERENCE, reason="runyard's outbox: MLflow keeps no queue across restarts")
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_queued_delivery_survives_a_restart_and_arrives_once(
    backend: str, tmp_path: Path
) -> None:
    later = Receiver()
    secret = f"restart-{unique()}"
    name = f"wh-restart-{unique()}"
    with client_environment(), backend_uri(backend, tmp_path) as uri:
        first = runyard_server(uri, tmp_path, env=RUNYARD_ENV)
        try:
            client = mlflow.MlflowClient(first.url)
            made = client.create_webhook(
                f"restart-{unique()}",
                later.url("restart"),
                ["registered_model.created"],
                secret=secret,
            )
            since = time.time()
            client.create_registered_model(name)
            assert wait_until(lambda: len(queued(uri)) == 1, 10), "the event was not queued"
        finally:
            first.stop()  # SIGTERM, as systemd stops it
        assert first.proc.returncode is not None
        (row,) = queued(uri)  # still there: the receiver never answered
        assert (row.webhook_id, row.entity, row.action) == (
            made.webhook_id,
            "registered_model",
            "created",
        )

        second = runyard_server(uri, tmp_path, env=RUNYARD_ENV)  # same key file (workdir)
        later.up()
        try:
            got = later.wait_for("restart", 1)
            assert wait_until(lambda: queued(uri) == [], 10)
        finally:
            later.down()
            second.stop()
    assert len(got) == 1, [d.body for d in got]
    assert got[0].headers["x-mlflow-delivery-id"] == row.delivery_id
    verify_signature(got[0], secret)
    data = check_envelope(got[0], since)
    assert data == {"name": name, "tags": {}, "description": ""}


# --- SSRF ------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def strict(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server that refuses private targets (http allowed, so the refusal is about the
    address, not the scheme)."""
    workdir = tmp_path_factory.mktemp(f"strict-{request.param}")
    with client_environment(), webhook_server(request.param, workdir, strict=True) as server:
        yield server


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://127.0.0.1/hook", "127.0.0.1"),
        ("http://10.0.0.1/", "10.0.0.1"),
        ("http://169.254.169.254/", "169.254.169.254"),
        ("http://[::1]/", "::1"),
    ],
)
def test_private_targets_are_refused(strict: ServerProcess, url: str, address: str) -> None:
    body = {
        "name": f"ssrf-{unique()}",
        "url": url,
        "events": [{"entity": "REGISTERED_MODEL", "action": "CREATED"}],
    }
    with httpx.Client(base_url=strict.url, timeout=60) as http:
        answer = http.post(API, json=body)
        assert answer.status_code == 400, answer.text
        error = answer.json()
        assert error["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "must not resolve to a non-public IP address" in error["message"]
        assert address in error["message"]
        assert "webhooks" not in http.get(API).json()  # nothing stored
    with pytest.raises(MlflowException) as refused:
        mlflow.MlflowClient(strict.url).create_webhook(
            f"ssrf-{unique()}", url, ["registered_model.created"]
        )
    assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
    assert mlflow.MlflowClient(strict.url).list_webhooks() == []


def test_a_public_target_is_accepted_by_the_strict_server(strict: ServerProcess) -> None:
    client = mlflow.MlflowClient(strict.url)
    made = client.create_webhook(
        f"public-{unique()}", "http://93.184.215.14/hook", ["registered_model.created"]
    )
    try:
        assert client.get_webhook(made.webhook_id).url == "http://93.184.215.14/hook"
    finally:
        client.delete_webhook(made.webhook_id)


# --- admins only under auth ------------------------------------------------------------------


@pytest.mark.skipif(REFERENCE, reason="runyard's --auth server")
@pytest.mark.parametrize("backend", BACKENDS)
def test_webhook_routes_are_for_admins_only(
    backend: str, tmp_path: Path, receiver: Receiver
) -> None:
    with backend_uri(backend, tmp_path) as uri:
        for user in ("admin", "carol"):
            flags = ["--admin"] if user == "admin" else []
            ok(cli(uri, "users", "create", user, *flags, password=PASSWORDS[user]))
        server = runyard_server(uri, tmp_path, "--auth", env=RUNYARD_ENV)
        try:
            _check_admin_only(server, receiver)
        finally:
            server.stop()


def _check_admin_only(server: ServerProcess, receiver: Receiver) -> None:
    admin_env = {
        "MLFLOW_TRACKING_USERNAME": "admin",
        "MLFLOW_TRACKING_PASSWORD": PASSWORDS["admin"],
    }
    with client_environment(), environment(admin_env):
        admin = mlflow.MlflowClient(server.url)
        made = admin.create_webhook(
            f"adm-{unique()}", receiver.url("adm"), ["registered_model.created"], secret="k"
        )
        assert [w.webhook_id for w in admin.list_webhooks()] == [made.webhook_id]
        assert admin.get_webhook(made.webhook_id).name == made.name
        assert admin.update_webhook(made.webhook_id, description="d").description == "d"
        result = admin.test_webhook(made.webhook_id)
        assert (result.success, result.response_status) == (True, 200)

    one = f"{API}/{made.webhook_id}"
    model_created = {"entity": "REGISTERED_MODEL", "action": "CREATED"}
    routes = [
        ("POST", API, {"name": "x", "url": receiver.url("x"), "events": [model_created]}),
        ("GET", API, None),
        ("GET", one, None),
        ("PATCH", one, {"description": "not yours"}),
        ("DELETE", one, None),
        ("POST", f"{one}/test", {}),
    ]
    auth = ("carol", PASSWORDS["carol"])
    with httpx.Client(base_url=server.url, auth=auth, timeout=60) as carol:
        for method, path, body in routes:
            answer = carol.request(method, path, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
            assert answer.json()["error_code"] == "PERMISSION_DENIED", (method, path)

    with client_environment(), environment(admin_env):
        admin = mlflow.MlflowClient(server.url)
        still = admin.get_webhook(made.webhook_id)  # carol's PATCH and DELETE changed nothing
        assert still.description == "d"
        admin.delete_webhook(made.webhook_id)
        assert admin.list_webhooks() == []
    assert len(receiver.wait_for("adm", 1)) == 1  # carol's test sent nothing
