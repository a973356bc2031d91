"""Sending webhook deliveries: the outbox sender and the one HTTP POST it (and testWebhook) use.

Reliability: a registry write leaves its deliveries in the outbox (``store/webhook_outbox``) in
its own transaction; a :class:`Sender` in every worker process claims due rows (a lease, so
several workers and replicas share the work and a crashed sender's rows come back), POSTs
them, deletes them once the receiver answers 2xx, and otherwise retries with exponential
back-off until ``max_attempts``, then gives up (logged). Delivery is at least once: a
receiver that must not act twice dedupes on ``X-MLflow-Delivery-Id``, the same on every retry.

What is retried: no answer (connect, DNS, TLS, timeout), 408, 425, 429 and 5xx, as MLflow's
session retries. Other answers (3xx, 4xx) are final: the receiver refused it. Redirects are not
followed (a redirect could point anywhere, past the SSRF check).

SSRF: the host is resolved once, every address checked (``domain.webhooks.check_target``), and
the connection made to a checked address (TLS still verifies the host name), so a DNS answer
that changes between the check and the connect (rebinding) has nothing to exploit. No proxy
from the environment is used (the checked peer would be the proxy).

The HTTP client is the standard library's ``http.client``: runyard's dependencies have none,
and pinning the connection to a checked address is a small override there.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import http.client
import logging
import random
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import anyio.to_thread

from runyard.domain import webhooks as rules
from runyard.store import webhook_outbox as outbox
from runyard.store import webhooks as store
from runyard.store.engine import Database

log = logging.getLogger("runyard.webhooks")

RESPONSE_BODY_LIMIT = 64 * 1024  # of a receiver's answer, kept for testWebhook
DNS_TIMEOUT_S = 5.0
USER_AGENT = "runyard-webhooks"


# --- one POST ------------------------------------------------------------------------------------


def resolve(host: str, port: int, timeout_s: float = DNS_TIMEOUT_S) -> list[str]:
    """The host's addresses (getaddrinfo in a daemon thread: a hung resolver cannot hold the
    caller past ``timeout_s``)."""
    found: list[str] = []
    failure: list[BaseException] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found.extend(str(info[4][0]) for info in infos)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            failure.append(exc)

    thread = threading.Thread(target=lookup, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise OSError(f"timed out after {timeout_s:g} s")
    if failure:
        raise failure[0]
    return found


def _connect(addresses: Sequence[str], port: int, timeout: float | None) -> socket.socket:
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the checked addresses, never to what the host name resolves to now."""

    def __init__(self, target: rules.Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._addresses = target.addresses

    def connect(self) -> None:
        self.sock = _connect(self._addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: rules.Target, timeout: float, tls: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=tls)
        self._addresses = target.addresses
        self._tls = tls

    def connect(self) -> None:
        raw = _connect(self._addresses, self.port, self.timeout)
        try:
            self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status in (408, 425, 429) or self.status >= 500


def post(
    target: rules.Target,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
    tls: ssl.SSLContext | None = None,
) -> Reply:
    """POST ``body`` to a checked target; raises OSError (and http.client errors) when no
    answer comes."""
    if target.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPS(
            target, timeout_s, tls or ssl.create_default_context()
        )
    else:
        conn = _PinnedHTTP(target, timeout_s)
    sent = dict(headers)
    if target.username is not None:
        pair = f"{target.username}:{target.password or ''}".encode()
        sent["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    try:
        conn.request("POST", target.path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read(RESPONSE_BODY_LIMIT)
        return Reply(response.status, data.decode("utf-8", errors="replace"))
    finally:
        conn.close()


def signed_headers(delivery_id: str, body: str, secret: str | None, now_s: float) -> dict[str, str]:
    timestamp = str(int(now_s))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        rules.DELIVERY_ID_HEADER: delivery_id,
        rules.TIMESTAMP_HEADER: timestamp,
    }
    if secret:
        headers[rules.SIGNATURE_HEADER] = rules.signature(secret, delivery_id, timestamp, body)
    return headers


@dataclass(frozen=True)
class Network:
    """How deliveries reach receivers: the SSRF policy and the limits of one request."""

    allowed_schemes: tuple[str, ...] = ("https",)
    allow_private_targets: bool = False
    timeout_s: float = 30.0
    resolver: rules.Resolver = resolve
    tls: ssl.SSLContext | None = None  # None: the system's trust store

    def check(self, url: str) -> rules.Target:
        return rules.check_target(
            url,
            self.resolver,
            allowed_schemes=self.allowed_schemes,
            allow_private=self.allow_private_targets,
        )

    def validate(self, url: str) -> None:
        """The check when a webhook is saved: as MLflow, the host is resolved (and its
        addresses judged) only when private targets are refused; a delivery always does."""
        if self.allow_private_targets:
            rules.parse_url(url, self.allowed_schemes)
        else:
            self.check(url)

    def send(
        self, url: str, body: str, delivery_id: str, secret: str | None, now_s: float
    ) -> Reply:
        target = self.check(url)  # resolved now, for this attempt
        headers = signed_headers(delivery_id, body, secret, now_s)
        return post(target, body.encode("utf-8"), headers, self.timeout_s, self.tls)


def iso_now(now_s: float | None = None) -> str:
    """MLflow's envelope timestamp: ISO 8601 in UTC with its offset."""
    moment = datetime.now(UTC) if now_s is None else datetime.fromtimestamp(now_s, UTC)
    return moment.isoformat()


# --- the outbox sender ---------------------------------------------------------------------------


class SecretReader(Protocol):
    """What the sender needs of the secret store: a stored secret back in clear (ValueError
    when it cannot be read)."""

    def decrypt(self, ciphertext: str) -> str: ...


@dataclass(frozen=True)
class Policy:
    """Retries: attempt n (1-based) failing waits ``base * 2**(n-1)`` s (at most ``max_s``,
    plus up to ``jitter`` of it at random) before the next; ``max_attempts`` in all."""

    max_attempts: int = 10
    backoff_base_s: float = 5.0
    backoff_max_s: float = 3600.0
    jitter: float = 0.2

    def delay_s(self, attempts_made: int, rand: float) -> float:
        delay = min(self.backoff_base_s * 2.0 ** (attempts_made - 1), self.backoff_max_s)
        return delay * (1 + self.jitter * rand)


class Sender:
    """Claims due outbox rows and delivers them; one per worker process (more are safe)."""

    def __init__(
        self,
        db: Database,
        network: Network,
        secrets: SecretReader,
        policy: Policy | None = None,
        *,
        batch: int = 8,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.network = network
        self.secrets = secrets
        self.policy = policy or Policy()
        self.batch = batch
        self.clock = clock
        self.rand = rand
        # A claim holds its rows for longer than one attempt can take (connect, send and read
        # each have the timeout), so no other sender takes a row that is still in flight.
        self.lease_ms = int((4 * network.timeout_s + 10) * 1000)
        self._pool = concurrent.futures.ThreadPoolExecutor(batch, "webhook-send")
        self._limiter = anyio.CapacityLimiter(1)

    def prepare(self) -> None:
        """Create the outbox unless it exists (blocking)."""
        self.db.write(outbox.ensure_table)

    def run_once(self) -> int:
        """Claim the due rows (up to ``batch``) and deliver them; how many were claimed."""
        now_ms = int(self.clock() * 1000)
        if not self.db.read(lambda conn: outbox.has_due(conn, now_ms)):
            return 0
        token = str(uuid.uuid4())
        claimed = self.db.write(
            lambda conn: outbox.claim(conn, now_ms, self.lease_ms, self.batch, token)
        )
        for future in [self._pool.submit(self._deliver, row) for row in claimed]:
            future.result()
        return len(claimed)

    def _deliver(self, row: outbox.Claimed) -> None:
        try:
            self._attempt(row)
        except Exception:  # noqa: BLE001 - one row's failure must not stop the others
            log.exception("webhook delivery %s failed unexpectedly", row.delivery_id)

    def _attempt(self, row: outbox.Claimed) -> None:
        target = self.db.read(lambda conn: store.delivery_target(conn, row.webhook_id))
        if target is None or target.status != rules.ACTIVE:
            self._finish(row)  # deleted or disabled since: nothing to deliver to
            return
        secret = None
        if target.secret_ciphertext:
            try:
                secret = self.secrets.decrypt(target.secret_ciphertext)
            except ValueError:
                log.error(
                    "webhook %s: its secret cannot be decrypted with the configured key; "
                    "dropping delivery %s",
                    row.webhook_id,
                    row.delivery_id,
                )
                self._finish(row)
                return
        try:
            reply = self.network.send(target.url, row.body, row.delivery_id, secret, self.clock())
        except Exception as exc:  # noqa: BLE001 - no answer: DNS, SSRF refusal, connect, TLS
            self._failed(row, f"{type(exc).__name__}: {exc}", retry=True)
            return
        if reply.ok:
            self._finish(row)
            log.debug("webhook delivery %s: %s", row.delivery_id, reply.status)
            return
        self._failed(row, f"HTTP {reply.status}", retry=reply.retryable)

    def _finish(self, row: outbox.Claimed) -> None:
        self.db.write(lambda conn: outbox.delete(conn, row.id, row.claim_token))

    def _failed(self, row: outbox.Claimed, error: str, retry: bool) -> None:
        attempts = row.attempts + 1
        if not retry or attempts >= self.policy.max_attempts:
            log.warning(
                "webhook %s: giving up on delivery %s (%s %s) after %d attempt(s): %s",
                row.webhook_id,
                row.delivery_id,
                row.entity,
                row.action,
                attempts,
                error,
            )
            self._finish(row)
            return
        at_ms = int((self.clock() + self.policy.delay_s(attempts, self.rand())) * 1000)
        log.info(
            "webhook %s: delivery %s failed (%s), attempt %d of %d; retrying",
            row.webhook_id,
            row.delivery_id,
            error,
            attempts,
            self.policy.max_attempts,
        )
        self.db.write(
            lambda conn: outbox.reschedule(conn, row.id, row.claim_token, attempts, at_ms, error)
        )

    async def run(self, poll_interval_s: float = 1.0) -> None:
        """Deliver until cancelled: a batch at a time, resting when nothing is due."""
        while True:
            try:
                claimed = await anyio.to_thread.run_sync(
                    self.run_once, limiter=self._limiter, abandon_on_cancel=True
                )
            except Exception:  # noqa: BLE001 - the sender must never take the server down
                log.warning("webhook sender: a round failed", exc_info=True)
                claimed = 0
            if claimed < self.batch:
                await asyncio.sleep(poll_interval_s)

    def close(self) -> None:
        """Stop taking work; a delivery in flight finishes (or its lease runs out)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def start(sender: Sender, poll_interval_s: float = 1.0) -> asyncio.Task[None]:
    """The sender as a task on the running loop (the app's lifespan), outbox made first."""

    async def main() -> None:
        while True:
            try:
                await anyio.to_thread.run_sync(sender.prepare, abandon_on_cancel=True)
                break
            except Exception:  # noqa: BLE001 - a database that is down now may be up later
                log.warning("webhook sender: cannot create the outbox yet", exc_info=True)
                await asyncio.sleep(max(poll_interval_s, 5.0))
        await sender.run(poll_interval_s)

    return asyncio.create_task(main(), name="webhook-sender")


async def stop(sender: Sender, task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    sender.close()
