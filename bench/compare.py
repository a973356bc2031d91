"""runyard against an earlier runyard: the same workload, rows side by side with the change.

``run_bench.py`` compares runyard with MLflow's server. To show that a change cost no speed, run
it twice in one session with ``--servers runyard`` (the earlier tree through ``PYTHONPATH``, see
docs/benchmarks.md), then::

    .bench-venv/bin/python bench/compare.py --before B1/manifest.json [B2/...] \
        --after A1/manifest.json [A2/...] [--write]

It prints a table per backend (every row of the report, the median over the runs given for each
side: alternate them, B A B A, so that drift in the machine falls on both) with the change and
whether it is more than ``--tolerance`` worse; ``--write`` puts the tables into
docs/benchmarks.md between ``<!-- change:begin -->`` and ``<!-- change:end -->``, a section
that a rerun of run_bench.py keeps.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run_bench as rb  # noqa: E402 - the report's rows, read the same way

BEGIN, END = "<!-- change:begin -->", "<!-- change:end -->"
SECTION = re.compile(re.escape(BEGIN) + ".*" + re.escape(END) + "\n?", re.S)


Runs = list[tuple[dict[str, Any], Any]]  # (workload result, slot) of each runyard run


def _results(manifests: list[dict[str, Any]], backend: str) -> Runs:
    out = []
    for manifest in manifests:
        for slot in manifest["slots"]:
            if slot["server"] != "runyard" or slot["backend"] != backend:
                continue
            if not slot.get("result"):
                continue
            # beside its manifest: the earlier tree's run may have been made in another checkout
            result = manifest["dir"] / Path(slot["result"]).name
            out.append((json.loads(result.read_text()), slot))
    return out


def _median(row: rb.Row, runs: Runs) -> float | None:
    values = [v for r, s in runs if (v := row.value(r, s)) is not None]
    return statistics.median(values) if values else None


def table(before: list[dict[str, Any]], after: list[dict[str, Any]], tolerance: float) -> list[str]:
    lines: list[str] = []
    for backend in rb.BACKENDS:
        old, new = _results(before, backend), _results(after, backend)
        if not old or not new:
            continue
        targets, more = rb.rows_for(new[0][0].get("args", {}))
        lines += [
            f"### {rb.NAMES[backend]}",
            "",
            f"| metric | before (median of {len(old)}) | after (median of {len(new)}) | change "
            f"| worse by more than {tolerance:.0%}? |",
            "|---|---:|---:|---:|---|",
        ]
        for row in targets + more:
            a, b = _median(row, old), _median(row, new)
            if a is None or b is None or a == 0:
                continue
            gain = (b / a - 1) if row.higher_is_better else (a / b - 1)
            worse = "**yes**" if gain < -tolerance else "no"
            lines.append(
                f"| {row.label} | {row.fmt.format(a)} | {row.fmt.format(b)} | "
                f"{gain:+.1%} | {worse} |"
            )
        lines.append("")
    return lines


def _load(path: Path) -> dict[str, Any]:
    return {**json.loads(path.read_text()), "dir": path.parent}


def _run_row(side: str, manifest: dict[str, Any]) -> str:
    commit = manifest["versions"].get("runyard_commit")
    return f"| {side} | `{commit}` | {manifest['started']} | `{manifest['command']}` |"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--before", type=Path, nargs="+", required=True, help="manifest.json files")
    p.add_argument("--after", type=Path, nargs="+", required=True, help="manifest.json files")
    p.add_argument("--tolerance", type=float, default=0.05)
    p.add_argument("--title", default="runyard before and after the change")
    p.add_argument("--note", action="append", default=[])
    p.add_argument("--write", action="store_true", help="into docs/benchmarks.md")
    a = p.parse_args(argv)
    before, after = ([_load(m) for m in paths] for paths in (a.before, a.after))
    head = [
        BEGIN,
        f"## {a.title}",
        "",
        "| run | runyard commit | started | command |",
        "|---|---|---|---|",
        *(_run_row("before", m) for m in before),
        *(_run_row("after", m) for m in after),
        "",
        "Change: positive is better, whichever way the row counts. Rendered by `bench/compare.py`.",
        "",
        *(f"* {n}" for n in a.note),
        *([""] if a.note else []),
    ]
    text = "\n".join([*head, *table(before, after, a.tolerance), END]) + "\n"
    print(text)
    if a.write:
        doc = rb.ROOT / "docs/benchmarks.md"
        current = doc.read_text()
        kept = SECTION.sub("", current).rstrip("\n")
        doc.write_text(kept + "\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
