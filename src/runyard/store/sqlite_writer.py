"""One writer at a time on a SQLite database, across threads and worker processes.

SQLite lets one transaction write at a time. Between threads of one process a lock is
enough; between the pre-forked workers SQLite's own answer is its busy handler, which sleeps
and retries (1, 2, 5, 10 ... 100 ms), so under contention a writer often sleeps long after the
lock came free. A blocking ``flock`` on a file beside the database wakes the next writer as
soon as the previous one commits. ``BEGIN IMMEDIATE`` and the busy timeout stay, for other
programs that open the same database.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runyard.store.sqlite_guard import sqlite_path


class WriterLock:
    def __init__(self, url: str) -> None:
        self._threads = threading.Lock()
        path = sqlite_path(url)
        self._fd: int | None = None
        if path is not None and path.parent.is_dir():
            lock_file = Path(f"{path}.writer-lock")
            self._fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            if self._fd is None:  # in-memory: only this process can see it
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
