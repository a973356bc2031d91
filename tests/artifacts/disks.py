"""A small file system of its own (tmpfs), for tests of a store that runs out of space."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.servers import skip_or_fail


@contextmanager
def small_disk(where: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``where`` (made if missing), unmounted afterwards.

    Needs root (or CAP_SYS_ADMIN); without it the test skips, or fails under
    RUNYARD_REQUIRE_SERVICES.
    """
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        skip_or_fail(f"cannot mount a tmpfs on {where}: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False, capture_output=True)


def fill(disk: Path, leave: int = 0, name: str = "filler") -> Path:
    """Write a file on ``disk`` until at most ``leave`` bytes are free; returns the file
    (delete it to free the space)."""
    path = disk / name
    vfs = os.statvfs(disk)
    todo = vfs.f_bavail * vfs.f_frsize - leave
    block = b"\0" * 65536
    with path.open("wb", buffering=0) as out, suppress(OSError):  # OSError: full before todo
        while todo > 0:
            todo -= out.write(block[: min(todo, len(block))])
    return path


def everything_under(root: Path) -> list[str]:
    """Every file and directory below ``root``, hidden ones included, relative to it."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))
