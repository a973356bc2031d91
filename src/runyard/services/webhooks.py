"""Webhook use cases (MLflow 3's WebhookService) and ``emit``, which queues a delivery.

Secrets at rest: MLflow keeps a webhook's secret in ``webhooks.secret`` (VARCHAR 1000) as a
Fernet token under ``MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY``; runyard does the same, so with
the same key an MLflow server on the same database reads runyard's secrets and runyard reads
MLflow's. The key comes from a file (``webhook_secret_key_file``; DESIGN: secrets come from
files or systemd credentials, never from a command line), created with a fresh key (mode 0600)
when a secret is first stored and the file does not exist yet (so a server that stores none
never writes it: its directory may be read-only under the systemd unit). The file may hold
several keys, one a line: the first encrypts, all decrypt, which is how a key is rotated.
Replicas on several hosts must be given the same file: each host would otherwise generate its
own and could not read the others'.
A secret is never returned (``domain.webhooks.Webhook`` has no field for it) nor logged.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from runyard.domain import webhooks as rules
from runyard.domain.entities import Page
from runyard.domain.search.tokens import decode_page_token, page_of
from runyard.domain.webhooks import Emission, Event, TestResult, Webhook
from runyard.errors import ResourceDoesNotExist
from runyard.services.context import Ctx
from runyard.services.webhook_delivery import Network, iso_now
from runyard.store import webhook_outbox as outbox
from runyard.store import webhooks as store
from runyard.store.engine import Connection

log = logging.getLogger("runyard.webhooks")

DEFAULT_KEY_FILE = "runyard-data/webhook-secret.key"


# --- the secret key ------------------------------------------------------------------------------


class SecretBox:
    """Encrypts secrets for the ``webhooks.secret`` column and decrypts them for a delivery."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("no webhook secret key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        """The secret; ValueError when no configured key opens it."""
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise ValueError(
                "the webhook secret cannot be decrypted with the configured key"
            ) from exc

    def __repr__(self) -> str:
        return "SecretBox(<keys hidden>)"


def load_secret_box(key_file: str = DEFAULT_KEY_FILE) -> SecretBox:
    """The keys in ``key_file`` (one a line, ``#`` comments), generating one if it is missing.

    Several workers may start at once: the new key is written to a private temporary file and
    linked into place, so every worker ends up reading the one key that won.
    """
    path = Path(key_file)
    if not path.exists():
        _create_key_file(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read the webhook secret key file {path}: {exc}") from exc
    lines = [line.strip() for line in text.splitlines()]
    keys = [line.encode("ascii") for line in lines if line and not line.startswith("#")]
    try:
        return SecretBox(keys)
    except ValueError as exc:
        raise ValueError(
            f"the webhook secret key file {path} must hold Fernet keys (32 url-safe base64 "
            "bytes, as `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'` prints), one a line"
        ) from exc


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(Fernet.generate_key().decode("ascii") + "\n")
        try:
            os.link(temporary, path)  # fails if another worker got there first: use theirs
            log.info("generated a webhook secret key in %s", path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


class KeyFile:
    """The secret box of a key file, opened when first needed; an existing file is read at
    once, so a broken one fails the server's start rather than its first webhook."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._box = load_secret_box(path) if Path(path).exists() else None

    def _open(self) -> SecretBox:
        with self._lock:
            if self._box is None:
                self._box = load_secret_box(self.path)
            return self._box

    def encrypt(self, secret: str) -> str:
        return self._open().encrypt(secret)

    def decrypt(self, ciphertext: str) -> str:
        return self._open().decrypt(ciphertext)

    def __repr__(self) -> str:
        return f"KeyFile({self.path!r})"


@dataclass(frozen=True)
class WebhookConfig:
    """What the webhook use cases need beyond the database: the key and the network policy."""

    secrets: SecretBox | KeyFile
    network: Network = field(default_factory=Network)


def configure(
    secret_key_file: str = DEFAULT_KEY_FILE,
    allowed_schemes: str = "https",
    allow_private_targets: bool = False,
    request_timeout: float = 30.0,
) -> WebhookConfig:
    """The config from settings' values (blocking: reads the key file if there is one)."""
    schemes = tuple(s.strip().lower() for s in allowed_schemes.split(",") if s.strip())
    unknown = [s for s in schemes if s not in ("http", "https")]
    if unknown or not schemes:
        raise ValueError(f"webhook URL schemes must be http and/or https, got {allowed_schemes!r}")
    network = Network(
        allowed_schemes=schemes,
        allow_private_targets=allow_private_targets,
        timeout_s=request_timeout,
    )
    return WebhookConfig(KeyFile(secret_key_file), network)


def prepare(ctx: Ctx) -> None:
    """Create the outbox unless it exists, so that emit() can always write to it."""
    ctx.db.write(outbox.ensure_table)


# --- emit ----------------------------------------------------------------------------------------


def emit(
    conn: Connection,
    entity: str,
    action: str,
    payload: Mapping[str, Any],
    *,
    now_s: float | None = None,
) -> int:
    """Queue the event for every active webhook subscribed to it, in the caller's transaction
    (it commits, or rolls back, with the change it reports). How many deliveries were queued.

    Without a subscriber this is one indexed read and touches no runyard table.
    """
    ev = rules.event(entity, action)
    subscribed = store.subscribers(conn, ev.entity, ev.action)
    if not subscribed:
        return 0
    now = time.time() if now_s is None else now_s
    body = json.dumps(rules.envelope(ev, payload, iso_now(now)))
    rows = [
        outbox.Pending(webhook_id, str(uuid.uuid4()), ev.entity, ev.action, body)
        for webhook_id in subscribed
    ]
    outbox.insert(conn, rows, int(now * 1000))
    return len(rows)


def emit_event(conn: Connection, emission: Emission | None) -> int:
    """``emit`` for what a ``domain.webhooks`` builder made (None: the write emits nothing)."""
    if emission is None:
        return 0
    return emit(conn, emission.entity, emission.action, emission.payload)


# --- the WebhookService --------------------------------------------------------------------------


def _not_found(webhook_id: str) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"Webhook with ID {webhook_id} not found.")


def create(
    ctx: Ctx,
    config: WebhookConfig,
    name: str,
    url: str,
    events: Sequence[Event],
    description: str | None = None,
    secret: str | None = None,
    status: str = rules.ACTIVE,
) -> Webhook:
    """As MLflow checks it: the name, the URL (resolved: SSRF), then the events."""
    rules.validate_name(name)
    config.network.validate(url)
    unique = rules.validate_events(events)
    rules.validate_description(description)
    rules.validate_secret(secret)
    ciphertext = config.secrets.encrypt(secret) if secret else None
    now = ctx.clock()
    webhook = Webhook(
        webhook_id=str(uuid.uuid4()),
        name=name,
        url=url,
        events=unique,
        status=status,
        creation_timestamp=now,
        last_updated_timestamp=now,
        description=description,
    )

    def tx(conn: Connection) -> None:
        outbox.ensure_table(conn)  # a webhook exists only where its deliveries can be queued
        store.insert(conn, webhook, ciphertext)

    ctx.db.write(tx)
    return webhook


def get(ctx: Ctx, webhook_id: str) -> Webhook:
    webhook = ctx.db.read(lambda conn: store.get(conn, webhook_id))
    if webhook is None:
        raise _not_found(webhook_id)
    return webhook


def list_webhooks(ctx: Ctx, max_results: int | None, page_token: str | None) -> Page[Webhook]:
    size = rules.page_size(max_results)
    offset = decode_page_token(page_token)
    found = ctx.db.read(lambda conn: store.list_page(conn, offset, size + 1))
    return page_of(found, offset, size)


def update(
    ctx: Ctx,
    config: WebhookConfig,
    webhook_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    url: str | None = None,
    events: Sequence[Event] | None = None,
    secret: str | None = None,
    status: str | None = None,
) -> Webhook:
    """None leaves a field as it is; ``secret=""`` removes the secret (deliveries go unsigned)."""
    if not ctx.db.read(lambda conn: store.exists(conn, webhook_id)):
        raise _not_found(webhook_id)  # MLflow looks the webhook up before checking the input
    values: dict[str, Any] = {}
    if name is not None:
        rules.validate_name(name)
        values["name"] = name
    if url is not None:
        config.network.validate(url)
        values["url"] = url
    unique = rules.validate_events(events) if events is not None else None
    if description is not None:
        rules.validate_description(description)
        values["description"] = description
    if secret is not None:
        rules.validate_secret(secret)
        values["secret"] = config.secrets.encrypt(secret) if secret else None
    if status is not None:
        values["status"] = status
    values["last_updated_timestamp"] = ctx.clock()

    def tx(conn: Connection) -> Webhook:
        if not store.update(conn, webhook_id, values, unique):
            raise _not_found(webhook_id)  # deleted meanwhile
        webhook = store.get(conn, webhook_id)
        assert webhook is not None
        return webhook

    return ctx.db.write(tx)


def delete(ctx: Ctx, webhook_id: str) -> None:
    """Soft, as MLflow's; its deliveries not yet made are dropped with it."""

    def tx(conn: Connection) -> None:
        if not store.soft_delete(conn, webhook_id, ctx.clock()):
            raise _not_found(webhook_id)
        if outbox.table_exists(conn):
            outbox.delete_for_webhook(conn, webhook_id)

    ctx.db.write(tx)


def send_test(
    ctx: Ctx, config: WebhookConfig, webhook_id: str, event: Event | None = None
) -> TestResult:
    """Send ``event``'s example payload (default: the webhook's first event) once, now, and
    say what came back. Unlike a delivery it is not retried: the caller is waiting."""
    webhook = get(ctx, webhook_id)
    chosen = event or webhook.events[0]
    target = ctx.db.read(lambda conn: store.delivery_target(conn, webhook_id))
    secret = None
    try:
        if target is not None and target.secret_ciphertext:
            secret = config.secrets.decrypt(target.secret_ciphertext)
        now = time.time()
        body = json.dumps(rules.envelope(chosen, rules.EXAMPLE_PAYLOADS[chosen], iso_now(now)))
        reply = config.network.send(webhook.url, body, str(uuid.uuid4()), secret, now)
    except Exception as exc:  # noqa: BLE001 - every failure is the test's answer
        return TestResult(success=False, error_message=f"Failed to test webhook: {exc!r}")
    return TestResult(
        success=reply.status < 400, response_status=reply.status, response_body=reply.body
    )
