"""The SQLite writer lock excludes writers in other processes, not just other threads."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import time
from pathlib import Path

from runyard.store.sqlite_writer import WriterLock


def _hold(url: str, seconds: float, started: multiprocessing.synchronize.Event) -> None:
    lock = WriterLock(url)
    with lock.held():
        started.set()
        time.sleep(seconds)
    lock.close()


def test_a_writer_in_another_process_waits_until_the_lock_is_released(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    started = multiprocessing.get_context("fork").Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold, args=(url, 0.5, started))
    holder.start()
    assert started.wait(10)
    lock = WriterLock(url)
    t0 = time.monotonic()
    with lock.held():
        waited = time.monotonic() - t0
    lock.close()
    holder.join(10)
    assert 0.3 < waited < 5, waited  # blocked while the other process held it, woken after
    assert (tmp_path / "x.db.writer-lock").stat().st_mode & 0o777 == 0o600


def test_an_in_memory_database_needs_no_lock_file(tmp_path: Path) -> None:
    lock = WriterLock("sqlite://")
    with lock.held():
        pass
    lock.close()
    assert not list(tmp_path.iterdir())
