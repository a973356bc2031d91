"""memory.give_back returns freed heap pages to the system (glibc), and limit_arenas is safe."""

from __future__ import annotations

from pathlib import Path

import pytest

from runyard import memory


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(memory._malloc_trim is None, reason="not glibc")
def test_give_back_returns_freed_memory_inside_the_heap() -> None:
    memory.limit_arenas()
    blocks = [bytes(4000) for _ in range(50_000)]  # ~200 MB of small heap allocations
    keep = blocks[::200]  # survivors pin the heap's top, so malloc cannot trim it by itself
    del blocks
    before = _rss_mib()
    memory.give_back()
    after = _rss_mib()
    assert keep  # still alive during the measurement
    assert before - after > 100, (before, after)
