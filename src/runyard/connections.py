"""Bounding what connections may hold: a deadline for each request head, and a per-worker limit.

uvicorn closes a connection only when it stays silent for ``timeout_keep_alive`` after a
response: one that never sends a byte is kept for ever, and any byte restarts the timer, so a
head sent a byte a second is kept too. Enough of those use up the process's file descriptors
and every other client is refused. Here a connection gets ``head_timeout`` seconds, not
restarted by data, to deliver a complete request head: from the moment it opens and again from
the end of each response. A body is not timed: artifact uploads may stream for minutes.

The limit is per worker (each is a process with its own file descriptors). A connection
accepted beyond it is answered 503 in MLflow's error JSON, which the MLflow client retries,
rather than dropped unanswered as happens when ``accept()`` runs out of descriptors.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from runyard.api.errors import error_response
from runyard.errors import TemporarilyUnavailable

log = logging.getLogger("runyard.connections")

# A client over the limit has its request ready at once; an idle one must not keep its
# descriptor for the whole head timeout.
OVER_LIMIT_HEAD_TIMEOUT_S = 1.0
_REFUSAL_LOG_INTERVAL_S = 10.0  # one warning per interval, not one per refused connection

# File descriptors a worker needs besides its connections: the listening socket, the event
# loop, log and metric files, signal pipes, SFTP or S3 sockets. Each database connection may
# take three (SQLite: the database, its WAL and its shared-memory file); each client
# connection two (its socket, and a file while it uploads or downloads an artifact).
FDS_RESERVED = 64
FDS_PER_DB_CONNECTION = 3
FDS_PER_CONNECTION = 2


def fit_to_fd_limit(wanted: int, db_connections: int) -> int:
    """The per-worker connection limit this process's ``RLIMIT_NOFILE`` can hold.

    Raises the soft limit as far as needed when the hard limit allows it (an unprivileged
    call; 1024 is a common soft default under a far higher hard one), and otherwise lowers the
    connection limit, saying so, so that refusals are 503s rather than failed ``accept()``s.
    """
    reserved = FDS_RESERVED + FDS_PER_DB_CONNECTION * db_connections
    needed = reserved + FDS_PER_CONNECTION * wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        if raised > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    fitted = max(1, (soft - reserved) // FDS_PER_CONNECTION)
    log.warning(
        "max_connections %d lowered to %d per worker: the file-descriptor limit is %d "
        "(raise it with LimitNOFILE= or ulimit -n)",
        wanted,
        fitted,
        soft,
    )
    return fitted


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (what its ``http="auto"`` picks: httptools is a dependency
    through ``uvicorn[standard]``) with a request-head deadline and a connection limit.

    Configure a subclass with :func:`protocol_class`; uvicorn builds one instance per
    connection.
    """

    head_timeout: float = 30.0
    max_connections: int = 1000
    _last_refusal_log = float("-inf")  # shared by the worker's connections, on the configured class

    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        over_limit = len(self.connections) >= self.max_connections  # before counting this one
        super().connection_made(transport)
        timeout = self.head_timeout
        if over_limit:
            self.app = _REFUSAL  # answers the request head, whatever it asks for
            timeout = min(timeout, OVER_LIMIT_HEAD_TIMEOUT_S)
            self._log_refusal()
        self._arm_head_deadline(timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()  # a head in time: its body may take as long as it takes
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Waiting for the next head, unless one arrived already (a pipelined request).
        if not self.transport.is_closing() and self.cycle.response_complete:
            self._arm_head_deadline(self.head_timeout)

    def _arm_head_deadline(self, timeout: float) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(timeout, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            log.debug("closing a connection that sent no complete request head in time")
            self.transport.close()

    def _log_refusal(self) -> None:
        cls = type(self)
        now = time.monotonic()
        if now - cls._last_refusal_log >= _REFUSAL_LOG_INTERVAL_S:
            cls._last_refusal_log = now
            log.warning(
                "connection limit reached (%d open, max_connections %d): answering 503",
                len(self.connections) - 1,
                self.max_connections,
            )


class _AtConnectionLimit(TemporarilyUnavailable):
    headers = {"Connection": "close"}  # its descriptor is what the worker is short of


# A Starlette response is an ASGI app: the same one answers every refused connection.
_REFUSAL = error_response(
    _AtConnectionLimit("The server is at its connection limit; retry shortly.")
)


def protocol_class(head_timeout: float, max_connections: int) -> type[LimitedHttpProtocol]:
    """A protocol class for ``uvicorn.Config(http=...)`` with these limits."""
    attributes = {"head_timeout": head_timeout, "max_connections": max_connections}
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), attributes)
