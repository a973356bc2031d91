"""Webhooks on SQLite and PostgreSQL: CRUD on MLflow's tables, the secret at rest, emit() in
the caller's transaction, and the outbox sender against a receiver on 127.0.0.1 (signature,
retries with back-off, giving up, a receiver down at first, a restarted sender, two senders)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from mlflow.webhooks.delivery import _generate_hmac_signature

from runyard.api.webhooks import render_webhook
from runyard.domain.webhooks import Event
from runyard.errors import InvalidParameterValue, ResourceDoesNotExist
from runyard.services import webhooks
from runyard.services.bootstrap import open_store
from runyard.services.context import Ctx
from runyard.services.webhook_delivery import Network, Policy, Sender
from runyard.services.webhooks import SecretBox, WebhookConfig
from runyard.store import webhook_outbox as outbox
from runyard.store.schema import webhook_events
from runyard.store.schema import webhooks as webhooks_table
from tests.servers import free_port

MV_CREATED = Event("model_version", "created")
RM_CREATED = Event("registered_model", "created")
KEY = Fernet.generate_key()
T0 = 1_800_000_000.0


def _url(db_url: str) -> str:
    return db_url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def ctx(db_url: str) -> Iterator[Ctx]:
    context = open_store(_url(db_url), "mlflow-artifacts:/", pool_size=10, max_overflow=5)
    yield context
    context.db.dispose()


LOCAL = Network(allowed_schemes=("http", "https"), allow_private_targets=True, timeout_s=5.0)


@pytest.fixture
def config() -> WebhookConfig:
    return WebhookConfig(SecretBox([KEY]), LOCAL)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


# --- a receiver on 127.0.0.1 -------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    """Answers each POST with the next status of ``statuses`` (200 once they run out)."""

    statuses: list[int] = field(default_factory=list)
    got: list[Received] = field(default_factory=list)
    port: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook?x=1"

    def start(self, port: int = 0) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                receiver.got.append(Received(dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                answer = f"answer {status} to {self.path}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def make_sender(ctx: Ctx, clock: Clock, **policy: Any) -> Sender:
    settings = {"max_attempts": 4, "backoff_base_s": 2.0, "jitter": 0.0, **policy}
    return Sender(ctx.db, LOCAL, SecretBox([KEY]), Policy(**settings), clock=clock, rand=lambda: 0)


def emit(ctx: Ctx, entity: str = "model_version", action: str = "created") -> int:
    payload = {"name": "m", "version": "1", "source": "s", "run_id": None, "tags": {}}
    return ctx.db.write(lambda conn: webhooks.emit(conn, entity, action, {**payload}, now_s=T0))


def rows(ctx: Ctx) -> list[outbox.Row]:
    return ctx.db.read(outbox.pending)


def drain(sender: Sender, rounds: int = 10) -> int:
    total = 0
    for _ in range(rounds):
        n = sender.run_once()
        if n == 0:
            break
        total += n
    return total


# --- CRUD --------------------------------------------------------------------------------------


def test_create_get_list_update_delete(ctx: Ctx, config: WebhookConfig) -> None:
    made = [
        webhooks.create(ctx, config, f"hook-{i}", f"https://127.0.0.1/{i}", [MV_CREATED])
        for i in range(3)
    ]
    got = webhooks.get(ctx, made[0].webhook_id)
    assert got == made[0]
    assert got.status == "ACTIVE" and got.events == (MV_CREATED,)

    first = webhooks.list_webhooks(ctx, 2, None)
    assert len(first.items) == 2 and first.next_page_token
    second = webhooks.list_webhooks(ctx, 2, first.next_page_token)
    assert second.next_page_token is None
    listed = [w.webhook_id for w in first.items + second.items]
    assert sorted(listed) == sorted(w.webhook_id for w in made)  # each once
    assert len(webhooks.list_webhooks(ctx, None, None).items) == 3

    ctx_later = Ctx(ctx.db, ctx.default_artifact_root, clock=lambda: made[0].creation_timestamp + 5)
    updated = webhooks.update(
        ctx_later,
        config,
        made[0].webhook_id,
        name="renamed",
        description="about it",
        events=[RM_CREATED, Event("model_version_alias", "deleted"), RM_CREATED],
        status="DISABLED",
    )
    assert updated.name == "renamed" and updated.description == "about it"
    assert updated.events == (Event("model_version_alias", "deleted"), RM_CREATED)
    assert updated.status == "DISABLED"
    assert updated.last_updated_timestamp == made[0].creation_timestamp + 5
    assert updated.url == made[0].url and webhooks.get(ctx, made[0].webhook_id) == updated

    webhooks.delete(ctx, made[0].webhook_id)
    with pytest.raises(ResourceDoesNotExist, match=f"Webhook with ID {made[0].webhook_id} not"):
        webhooks.get(ctx, made[0].webhook_id)
    with pytest.raises(ResourceDoesNotExist):
        webhooks.delete(ctx, made[0].webhook_id)
    with pytest.raises(ResourceDoesNotExist):
        webhooks.update(ctx, config, made[0].webhook_id, name="x")
    assert len(webhooks.list_webhooks(ctx, None, None).items) == 2
    # soft, as MLflow's: the row and its events stay
    kept = ctx.db.read(
        lambda conn: conn.execute(
            sa.select(sa.func.count())
            .select_from(webhook_events)
            .where(webhook_events.c.webhook_id == made[0].webhook_id)
        ).scalar_one()
    )
    assert kept == 2


def test_input_is_checked_before_anything_is_written(ctx: Ctx, config: WebhookConfig) -> None:
    strict = WebhookConfig(config.secrets, Network())
    with pytest.raises(InvalidParameterValue, match="non-public IP address"):
        webhooks.create(ctx, strict, "h", "https://127.0.0.1/x", [MV_CREATED])
    with pytest.raises(InvalidParameterValue, match="scheme"):
        webhooks.create(ctx, strict, "h", "http://8.8.8.8/x", [MV_CREATED])
    with pytest.raises(InvalidParameterValue, match="is invalid"):
        webhooks.create(ctx, config, "-h", "https://127.0.0.1/x", [MV_CREATED])
    with pytest.raises(InvalidParameterValue, match="non-empty list"):
        webhooks.create(ctx, config, "h", "https://127.0.0.1/x", [])
    with pytest.raises(InvalidParameterValue, match="description"):
        webhooks.create(ctx, config, "h", "https://127.0.0.1/x", [MV_CREATED], "d" * 1001)
    assert webhooks.list_webhooks(ctx, None, None).items == []
    hook = webhooks.create(ctx, config, "h", "https://127.0.0.1/x", [MV_CREATED])
    with pytest.raises(InvalidParameterValue, match="non-public"):
        webhooks.update(ctx, strict, hook.webhook_id, url="https://10.0.0.1/")
    assert webhooks.get(ctx, hook.webhook_id).url == "https://127.0.0.1/x"


def _stored_secret(ctx: Ctx, webhook_id: str) -> str | None:
    return ctx.db.read(
        lambda conn: conn.execute(
            sa.select(webhooks_table.c.secret).where(webhooks_table.c.webhook_id == webhook_id)
        ).scalar_one()
    )


def test_the_secret_is_encrypted_at_rest_and_never_rendered(
    ctx: Ctx, config: WebhookConfig
) -> None:
    hook = webhooks.create(
        ctx, config, "h", "https://127.0.0.1/x", [MV_CREATED], secret="top-secret-value"
    )
    stored = _stored_secret(ctx, hook.webhook_id)
    assert stored is not None and "top-secret-value" not in stored
    # MLflow's EncryptedString is Fernet under MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY: the same
    # key reads it there.
    assert Fernet(KEY).decrypt(stored.encode()).decode() == "top-secret-value"
    rendered = json.dumps(render_webhook(webhooks.get(ctx, hook.webhook_id)))
    assert "secret" not in rendered and "top-secret" not in rendered
    assert "top-secret" not in repr(webhooks.get(ctx, hook.webhook_id))

    webhooks.update(ctx, config, hook.webhook_id, secret="other")
    stored = _stored_secret(ctx, hook.webhook_id)
    assert stored is not None and Fernet(KEY).decrypt(stored.encode()) == b"other"
    webhooks.update(ctx, config, hook.webhook_id, secret="")
    assert _stored_secret(ctx, hook.webhook_id) is None


def test_key_file_generated_once_and_rotation(tmp_path: Any) -> None:
    path = tmp_path / "keys" / "webhook.key"
    box = webhooks.load_secret_box(str(path))
    assert path.stat().st_mode & 0o777 == 0o600
    token = box.encrypt("s")
    assert webhooks.load_secret_box(str(path)).decrypt(token) == "s"  # the same key again
    old, new = path.read_text().strip(), Fernet.generate_key().decode()
    path.write_text(f"# rotated\n{new}\n{old}\n")  # the new key first: it encrypts
    rotated = webhooks.load_secret_box(str(path))
    assert rotated.decrypt(token) == "s"  # the old key still decrypts
    fresh = rotated.encrypt("t").encode()
    assert Fernet(new.encode()).decrypt(fresh) == b"t"
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(fresh)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox([Fernet.generate_key()]).decrypt(token)
    path.write_text("not a key\n")
    with pytest.raises(ValueError, match="Fernet keys"):
        webhooks.load_secret_box(str(path))


# --- emit ------------------------------------------------------------------------------------


def test_emit_queues_one_row_per_active_subscriber(ctx: Ctx, config: WebhookConfig) -> None:
    assert emit(ctx) == 0  # no webhook: nothing, not even the outbox is needed
    a = webhooks.create(ctx, config, "a", "https://127.0.0.1/a", [MV_CREATED, RM_CREATED])
    b = webhooks.create(ctx, config, "b", "https://127.0.0.1/b", [MV_CREATED])
    webhooks.create(ctx, config, "c", "https://127.0.0.1/c", [MV_CREATED], status="DISABLED")
    webhooks.create(ctx, config, "d", "https://127.0.0.1/d", [RM_CREATED])
    assert emit(ctx) == 2
    queued = rows(ctx)
    assert sorted(r.webhook_id for r in queued) == sorted([a.webhook_id, b.webhook_id])
    assert len({r.delivery_id for r in queued}) == 2
    body = json.loads(queued[0].body)
    assert body["entity"] == "model_version" and body["action"] == "created"
    assert body["data"]["name"] == "m" and body["timestamp"].startswith("2027-01-15T08:00:00")
    with pytest.raises(InvalidParameterValue):
        emit(ctx, "registered_model", "deleted")


def test_an_event_commits_with_its_change_or_not_at_all(ctx: Ctx, config: WebhookConfig) -> None:
    webhooks.create(ctx, config, "a", "https://127.0.0.1/a", [MV_CREATED])

    def failing(conn: Any) -> None:
        webhooks.emit(conn, "model_version", "created", {"name": "m"})
        raise RuntimeError("the registry write failed after emitting")

    with pytest.raises(RuntimeError):
        ctx.db.write(failing)
    assert rows(ctx) == []


# --- delivery ----------------------------------------------------------------------------------


def test_delivered_signed_and_removed(ctx: Ctx, config: WebhookConfig, receiver: Receiver) -> None:
    hook = webhooks.create(ctx, config, "a", receiver.url, [MV_CREATED], secret="s3cret")
    emit(ctx)
    sender = make_sender(ctx, Clock())
    try:
        assert sender.run_once() == 1
    finally:
        sender.close()
    assert rows(ctx) == []
    assert len(receiver.got) == 1
    got = receiver.got[0]
    body = json.loads(got.body)
    assert (body["entity"], body["action"], body["data"]["version"]) == (
        "model_version",
        "created",
        "1",
    )
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-MLflow-Timestamp"] == str(int(T0))
    expected = _generate_hmac_signature(
        "s3cret", got.headers["X-MLflow-Delivery-Id"], got.headers["X-MLflow-Timestamp"], got.body
    )
    assert got.headers["X-MLflow-Signature"] == expected
    assert hook.webhook_id  # delivered to the webhook that subscribed


def test_without_a_secret_no_signature(ctx: Ctx, config: WebhookConfig, receiver: Receiver) -> None:
    webhooks.create(ctx, config, "a", receiver.url, [MV_CREATED])
    emit(ctx)
    sender = make_sender(ctx, Clock())
    try:
        sender.run_once()
    finally:
        sender.close()
    assert len(receiver.got) == 1 and "X-MLflow-Signature" not in receiver.got[0].headers


def test_retried_with_back_off_then_delivered(
    ctx: Ctx, config: WebhookConfig, receiver: Receiver
) -> None:
    webhooks.create(ctx, config, "a", receiver.url, [MV_CREATED], secret="k")
    receiver.statuses = [503, 500]
    emit(ctx)
    clock = Clock()
    sender = make_sender(ctx, clock, backoff_base_s=2.0)
    try:
        assert sender.run_once() == 1
        [row] = rows(ctx)
        assert (row.attempts, row.next_attempt_at, row.claim_token) == (
            1,
            int((T0 + 2) * 1000),
            None,
        )
        assert row.last_error == "HTTP 503"
        clock.now = T0 + 1.9
        assert sender.run_once() == 0  # not due yet
        clock.now = T0 + 2
        assert sender.run_once() == 1
        [row] = rows(ctx)
        assert (row.attempts, row.next_attempt_at) == (2, int((T0 + 2 + 4) * 1000))  # doubled
        clock.now = T0 + 6
        assert sender.run_once() == 1
    finally:
        sender.close()
    assert rows(ctx) == []
    assert len(receiver.got) == 3
    assert len({r.headers["X-MLflow-Delivery-Id"] for r in receiver.got}) == 1  # one delivery


def test_gives_up_after_max_attempts(ctx: Ctx, config: WebhookConfig, receiver: Receiver) -> None:
    webhooks.create(ctx, config, "a", receiver.url, [MV_CREATED])
    receiver.statuses = [500] * 10
    emit(ctx)
    clock = Clock()
    sender = make_sender(ctx, clock, max_attempts=3, backoff_base_s=1.0)
    try:
        for _ in range(6):
            sender.run_once()
            clock.now += 100
    finally:
        sender.close()
    assert rows(ctx) == []
    assert len(receiver.got) == 3


def test_a_refusal_is_final(ctx: Ctx, config: WebhookConfig, receiver: Receiver) -> None:
    webhooks.create(ctx, config, "a", receiver.url, [MV_CREATED])
    receiver.statuses = [401]
    emit(ctx)
    sender = make_sender(ctx, Clock())
    try:
        assert sender.run_once() == 1
    finally:
        sender.close()
    assert rows(ctx) == [] and len(receiver.got) == 1


def test_a_receiver_down_at_first_gets_the_event_once_up(ctx: Ctx, config: WebhookConfig) -> None:
    port = free_port()
    webhooks.create(ctx, config, "a", f"http://127.0.0.1:{port}/hook", [MV_CREATED])
    emit(ctx)
    clock = Clock()
    sender = make_sender(ctx, clock)
    late = Receiver()
    try:
        assert sender.run_once() == 1
        [row] = rows(ctx)
        assert row.attempts == 1 and row.last_error and "Connection refused" in row.last_error
        late.start(port)
        clock.now += 2
        assert sender.run_once() == 1
    finally:
        sender.close()
        late.stop()
    assert rows(ctx) == [] and len(late.got) == 1


def test_a_restarted_sender_delivers_what_was_left(
    db_url: str, ctx: Ctx, config: WebhookConfig, receiver: Receiver
) -> None:
    webhooks.create(ctx, config, "a", receiver.url, [MV_CREATED])
    emit(ctx)
    emit(ctx)
    # The old sender claimed one row and died before delivering it; the other is still due.
    taken = ctx.db.write(lambda conn: outbox.claim(conn, int(T0 * 1000), 60_000, 1, "dead"))
    assert len(taken) == 1
    ctx.db.dispose()

    fresh = open_store(_url(db_url), "mlflow-artifacts:/")
    clock = Clock()
    sender = make_sender(fresh, clock)
    try:
        assert sender.run_once() == 1  # the unclaimed row at once
        assert len(receiver.got) == 1
        assert sender.run_once() == 0  # the dead sender's lease still holds
        clock.now += 61
        assert sender.run_once() == 1  # and then it is due again
        assert len(fresh.db.read(outbox.pending)) == 0
    finally:
        sender.close()
        fresh.db.dispose()
    assert len(receiver.got) == 2
    assert receiver.got[1].headers["X-MLflow-Delivery-Id"] == taken[0].delivery_id


def test_two_senders_deliver_each_event_once(
    db_url: str, ctx: Ctx, config: WebhookConfig, receiver: Receiver
) -> None:
    for i in range(4):
        webhooks.create(ctx, config, f"h{i}", receiver.url, [MV_CREATED])
    for _ in range(5):
        assert emit(ctx) == 4
    other = open_store(_url(db_url), "mlflow-artifacts:/")  # as another process would
    senders = [make_sender(ctx, Clock()), make_sender(other, Clock())]
    for s in senders:
        s.batch = 3
    try:
        with ThreadPoolExecutor(2) as pool:
            done = list(pool.map(lambda s: drain(s, rounds=20), senders))
    finally:
        for s in senders:
            s.close()
        other.db.dispose()
    assert sum(done) == 20
    ids = [r.headers["X-MLflow-Delivery-Id"] for r in receiver.got]
    assert len(ids) == 20 and len(set(ids)) == 20
    assert rows(ctx) == []


def test_ssrf_rule_holds_at_delivery(ctx: Ctx, config: WebhookConfig, receiver: Receiver) -> None:
    webhooks.create(ctx, config, "a", receiver.url, [MV_CREATED])  # allowed when created
    emit(ctx)
    strict = Sender(
        ctx.db,
        Network(allowed_schemes=("http",), timeout_s=5.0),
        SecretBox([KEY]),
        Policy(max_attempts=2, jitter=0),
        clock=Clock(),
    )
    try:
        assert strict.run_once() == 1
        [row] = rows(ctx)
        assert row.last_error and "non-public IP address" in row.last_error
    finally:
        strict.close()
    assert receiver.got == []


def test_a_disabled_or_deleted_webhook_gets_nothing(
    ctx: Ctx, config: WebhookConfig, receiver: Receiver
) -> None:
    a = webhooks.create(ctx, config, "a", receiver.url, [MV_CREATED])
    b = webhooks.create(ctx, config, "b", receiver.url, [MV_CREATED])
    emit(ctx)
    webhooks.update(ctx, config, a.webhook_id, status="DISABLED")
    webhooks.delete(ctx, b.webhook_id)
    assert [r.webhook_id for r in rows(ctx)] == [a.webhook_id]  # b's went with it
    sender = make_sender(ctx, Clock())
    try:
        assert sender.run_once() == 1
    finally:
        sender.close()
    assert rows(ctx) == [] and receiver.got == []


# --- testWebhook -------------------------------------------------------------------------------


def test_send_test(ctx: Ctx, config: WebhookConfig, receiver: Receiver) -> None:
    hook = webhooks.create(ctx, config, "a", receiver.url, [RM_CREATED, MV_CREATED], secret="k")
    result = webhooks.send_test(ctx, config, hook.webhook_id)
    assert (result.success, result.response_status) == (True, 200)
    assert result.response_body == "answer 200 to /hook?x=1"
    got = receiver.got[-1]
    body = json.loads(got.body)
    assert (body["entity"], body["action"]) == ("model_version", "created")  # the first event
    assert body["data"]["source"] == "models:/123"
    assert got.headers["X-MLflow-Signature"] == _generate_hmac_signature(
        "k", got.headers["X-MLflow-Delivery-Id"], got.headers["X-MLflow-Timestamp"], got.body
    )
    receiver.statuses = [500]
    failed = webhooks.send_test(ctx, config, hook.webhook_id, Event("prompt_alias", "deleted"))
    assert (failed.success, failed.response_status) == (False, 500)
    assert json.loads(receiver.got[-1].body)["data"] == {
        "name": "example_prompt",
        "alias": "example_alias",
    }
    webhooks.update(ctx, config, hook.webhook_id, url=f"http://127.0.0.1:{free_port()}/")
    down = webhooks.send_test(ctx, config, hook.webhook_id)
    assert not down.success and down.response_status is None
    assert down.error_message and down.error_message.startswith("Failed to test webhook: ")
    with pytest.raises(ResourceDoesNotExist):
        webhooks.send_test(ctx, config, "nope")


def test_the_lifespan_task_delivers_and_stops(
    ctx: Ctx, config: WebhookConfig, receiver: Receiver
) -> None:
    import asyncio

    from runyard.services import webhook_delivery

    webhooks.create(ctx, config, "a", receiver.url, [MV_CREATED])
    sender = Sender(ctx.db, LOCAL, SecretBox([KEY]), Policy(jitter=0))

    async def main() -> int:
        task = webhook_delivery.start(sender, poll_interval_s=0.05)
        ctx.db.write(lambda conn: webhooks.emit(conn, "model_version", "created", {"name": "m"}))
        for _ in range(200):  # at most 10 s
            if receiver.got:
                break
            await asyncio.sleep(0.05)
        await webhook_delivery.stop(sender, task)
        return len(receiver.got)

    assert asyncio.run(main()) == 1
    assert rows(ctx) == []
