"""Running the app under uvicorn, in one process or a small pre-fork pool of workers.

Stopping: SIGTERM (or SIGINT) makes every worker stop accepting connections, let the
requests in flight finish for up to ``shutdown_timeout`` seconds, and exit 0; the parent of a
pool forwards the signal and exits 0 once all its workers did. Under systemd
(``Type=notify``) the serving process says ``READY=1`` once every worker serves and
``STOPPING=1`` when the stop begins.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn

from runyard import connections, logs, memory, sd_notify
from runyard.api import observe
from runyard.app import create_app, open_artifact_store, open_context
from runyard.errors import MlflowError
from runyard.settings import (
    Settings,
    SettingsError,
    check_exposure,
    normalize_db_uri,
    systemd_notify_socket,
)

log = logging.getLogger("runyard.serve")
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings),
        http=connections.protocol_class(settings.request_head_timeout, settings.max_connections),
        log_level=settings.log_level,
        log_config=None,  # logging is set up by logs.configure, in the chosen format
        access_log=False,  # api/observe.py writes the access log, with request ids
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )


class _Server(uvicorn.Server):
    """uvicorn's server with two changes: a stop by signal ends in exit status 0 (uvicorn
    re-raises the signal after draining, which kills the process with 143), and it reports
    when it starts serving and when a stop begins."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[], None] = lambda: None,
        on_stopping: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._on_stopping = on_stopping

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # A forked worker starts with stop signals blocked (see _prefork); one that arrived
        # meanwhile is delivered now, to uvicorn's handler, and starts a clean stop.
        with super().capture_signals():
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
            yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_ready()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop waiting for requests
        if not self.should_exit:
            self._on_stopping()
        self.should_exit = True


def _tune_gc() -> None:
    """Fewer, cheaper garbage collections for a server that builds large short-lived pages.

    A 1000-run search page allocates ~100k small objects that die with the response; at the
    default gen-0 threshold (700) that triggers dozens of collections, some of them full ones
    over everything imported at start-up. Freezing moves the start-up objects out of the
    collector's view (and keeps forked workers' pages shared); the higher threshold makes
    collections rarer. Cycles that reach the oldest generation could then wait long for a
    full collection, so none may hold a request: the endpoint drops an answered error's
    tracebacks, and the upkeep loop collects when the worker grew (runyard.memory; a full
    collection of a warmed-up worker takes 1-8 ms).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def _memory_backed_dir() -> str | None:
    """``/dev/shm`` where there is one: the metric files are memory-mapped and rewritten on
    every request, so a tmpfs keeps them off the disk. None: the usual temporary directory."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


@contextlib.contextmanager
def _shared_metrics(settings: Settings) -> Iterator[str | None]:
    """A fresh directory where the workers keep their metrics, removed when serving ends."""
    if not settings.metrics:
        yield None
        return
    directory = tempfile.mkdtemp(prefix="runyard-metrics-", dir=_memory_backed_dir())
    observe.share_between_processes(directory)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def serve(settings: Settings) -> None:
    check_exposure(settings)
    logs.configure(settings.log_level, settings.log_format)
    # Check (and on an empty database create) the schema once, before any worker starts,
    # so that a bad database stops the command with a clear message and a non-zero exit.
    open_context(settings).db.dispose()
    if settings.serve_artifacts:  # a misconfigured destination stops the command here too
        try:
            asyncio.run(open_artifact_store(settings).aclose())
        except MlflowError as exc:
            raise SettingsError(f"artifacts destination: {exc.message}") from exc
    _tune_gc()
    memory.limit_arenas()
    # Once, before forking: the workers inherit a raised file-descriptor limit.
    fitted = connections.fit_to_fd_limit(
        settings.max_connections, settings.db_pool_size + settings.db_max_overflow
    )
    settings = dataclasses.replace(settings, max_connections=fitted)
    sock = _bind(settings.host, settings.port)
    log.info(
        "serving http://%s:%s with %d worker(s): database %s, artifacts %s",
        settings.host,
        settings.port,
        settings.workers,
        logs.mask_secrets(normalize_db_uri(settings.backend_store_uri)),
        settings.artifacts_destination if settings.serve_artifacts else "not served",
    )
    notify_socket = systemd_notify_socket()
    with _shared_metrics(settings) as metrics_dir:
        if settings.workers == 1:
            _Server(
                _config(settings),
                on_ready=lambda: _ready(notify_socket, 1),
                on_stopping=lambda: _stopping(notify_socket),
            ).run(sockets=[sock])
            return
        code = _prefork(settings, sock, notify_socket, metrics_dir)
    if code:
        raise SystemExit(code)


def _ready(notify_socket: str | None, workers: int) -> None:
    log.info("ready: %d worker(s) serving", workers)
    sd_notify.notify(notify_socket, "READY=1")


def _stopping(notify_socket: str | None) -> None:
    log.info("stopping: finishing the requests in flight")
    sd_notify.notify(notify_socket, "STOPPING=1")


def _prefork(
    settings: Settings, sock: socket.socket, notify_socket: str | None, metrics_dir: str | None
) -> int:
    """Fork the workers, say READY=1 once all serve, forward stop signals, and wait for them.

    Returns the exit status: 0 after a requested stop, 1 if a worker died on its own (the
    others are stopped then too, so that the service manager restarts the whole server).
    """
    ready_r, ready_w = os.pipe()
    # Signals wait until the handlers below are in place in the parent and, in each worker,
    # until uvicorn's are: a worker must never run the parent's handler.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    children: set[int] = set()
    for _ in range(settings.workers):
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            _worker(settings, sock, ready_w)  # never returns
        children.add(pid)
    os.close(ready_w)
    sock.close()  # the workers hold it; once they close theirs, new connections are refused

    stopping = False

    def stop(signum: int) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            _stopping(notify_socket)
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    for signum in _STOP_SIGNALS:
        signal.signal(signum, lambda signum, _frame: stop(signum))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)

    started = 0
    while started < settings.workers and (chunk := os.read(ready_r, settings.workers)):
        started += len(chunk)  # a worker writes one byte once it serves; EOF: all wrote or died
    os.close(ready_r)
    if started == settings.workers and not stopping:
        _ready(notify_socket, settings.workers)

    code = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        if metrics_dir is not None:
            observe.forget_process(pid, metrics_dir)
        if not stopping:
            log.error("worker %d exited on its own (%s): stopping the server", pid, status)
            code = 1
            stop(signal.SIGTERM)
        elif os.waitstatus_to_exitcode(status) != 0:
            code = 1
    return code


def _worker(settings: Settings, sock: socket.socket, ready_w: int) -> None:
    """A forked worker: serve until told to stop, then leave without running the parent's
    clean-ups (``os._exit``)."""
    code = 1
    try:
        for signum in _STOP_SIGNALS:  # not the parent's handlers; still blocked until uvicorn's
            signal.signal(signum, signal.SIG_DFL)

        def ready() -> None:
            os.write(ready_w, b".")
            os.close(ready_w)

        _Server(_config(settings), on_ready=ready).run(sockets=[sock])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("worker %d failed", os.getpid())
    finally:
        os._exit(code)
