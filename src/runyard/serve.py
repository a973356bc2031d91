"""Running the app under uvicorn, in one process or a small pre-fork pool of workers."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket

import uvicorn

from runyard.app import create_app, open_artifact_store, open_context
from runyard.errors import MlflowError
from runyard.settings import Settings, SettingsError, check_exposure


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
        log_level=settings.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )


def _tune_gc() -> None:
    """Fewer, cheaper garbage collections for a server that builds large short-lived pages.

    A 1000-run search page allocates ~100k small objects that die with the response; at the
    default gen-0 threshold (700) that triggers dozens of collections, some of them full ones
    over everything imported at start-up. Freezing moves the start-up objects out of the
    collector's view (and keeps forked workers' pages shared); the higher threshold makes
    collections rarer. Reference cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def serve(settings: Settings) -> None:
    check_exposure(settings)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    # Check (and on an empty database create) the schema once, before any worker starts,
    # so that a bad database stops the command with a clear message and a non-zero exit.
    open_context(settings).db.dispose()
    if settings.serve_artifacts:  # a misconfigured destination stops the command here too
        try:
            asyncio.run(open_artifact_store(settings).aclose())
        except MlflowError as exc:
            raise SettingsError(f"artifacts destination: {exc.message}") from exc
    _tune_gc()
    sock = _bind(settings.host, settings.port)
    if settings.workers == 1:
        uvicorn.Server(_config(settings)).run(sockets=[sock])
        return
    _prefork(settings, sock)


def _prefork(settings: Settings, sock: socket.socket) -> None:
    children: list[int] = []
    for _ in range(settings.workers):
        pid = os.fork()
        if pid == 0:
            uvicorn.Server(_config(settings)).run(sockets=[sock])
            os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        while True:
            try:
                os.waitpid(child, 0)
                break
            except ChildProcessError:
                break
            except InterruptedError:
                continue
