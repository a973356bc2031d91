"""Metric history and the per-run "latest" value that search and get-run read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runyard.domain.entities import Metric
from runyard.store.engine import insert_ignore, upsert
from runyard.store.schema import latest_metrics, metrics

_HISTORY_ORDER = (metrics.c.timestamp, metrics.c.step, metrics.c.value)


def insert(conn: Connection, run_id: str, new: Sequence[Metric]) -> None:
    """Append metrics (exact duplicates are ignored) and advance ``latest_metrics``.

    Portable Core statements; PostgreSQL logs to runs through ``run_writes`` in one statement.

    ``new`` carries already-sanitised values (NaN stored as 0 with is_nan, inf clamped).
    """
    if not new:
        return
    best = best_per_key(new)
    rows = [_row(run_id, m) for m in new]
    insert_ignore(conn, metrics, list({_pk(r): r for r in rows}.values()))
    lm = latest_metrics

    def newer(excluded: Any) -> Any:
        return sa.tuple_(excluded.step, excluded.timestamp, excluded.value) > sa.tuple_(
            lm.c.step, lm.c.timestamp, lm.c.value
        )

    upsert(conn, lm, [_row(run_id, m) for m in best], keys=("key", "run_uuid"), where=newer)


def columns(items: Sequence[Metric]) -> tuple[list[Any], ...]:
    return (
        [m.key for m in items],
        [m.value for m in items],
        [m.timestamp for m in items],
        [m.step for m in items],
        [m.is_nan for m in items],
    )


def _row(run_id: str, m: Metric) -> dict[str, Any]:
    return {
        "key": m.key,
        "value": m.value,
        "timestamp": m.timestamp,
        "step": m.step,
        "is_nan": m.is_nan,
        "run_uuid": run_id,
    }


def _pk(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["key"], row["timestamp"], row["step"], row["value"], row["is_nan"])


def best_per_key(new: Sequence[Metric]) -> list[Metric]:
    """Per key, the greatest (step, timestamp, value): MLflow's "latest", not the last written.

    Sorted by key so concurrent batches lock latest_metrics rows in one order (no deadlocks).
    """
    best: dict[str, Metric] = {}
    for m in new:
        cur = best.get(m.key)
        if cur is None or (m.step, m.timestamp, m.value) > (cur.step, cur.timestamp, cur.value):
            best[m.key] = m
    return sorted(best.values(), key=lambda m: m.key)


def history(
    conn: Connection, run_id: str, key: str, offset: int, limit: int | None
) -> list[Metric]:
    query = (
        sa.select(metrics.c.value, metrics.c.timestamp, metrics.c.step, metrics.c.is_nan)
        .where(metrics.c.run_uuid == run_id, metrics.c.key == key)
        .order_by(*_HISTORY_ORDER)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    # fetchall + positional construction: this is the 100k-point hot path.
    rows = conn.execute(query).all()
    return [Metric(key, value, ts, step, bool(nan)) for value, ts, step, nan in rows]


def history_bulk(conn: Connection, run_ids: Sequence[str], key: str, limit: int) -> list[Metric]:
    query = (
        sa.select(
            metrics.c.run_uuid,
            metrics.c.value,
            metrics.c.timestamp,
            metrics.c.step,
            metrics.c.is_nan,
        )
        .where(metrics.c.run_uuid.in_(list(run_ids)), metrics.c.key == key)
        .order_by(metrics.c.run_uuid, *_HISTORY_ORDER)
        .limit(limit)
    )
    return [
        Metric(key, value, ts, step, bool(nan), run_id)
        for run_id, value, ts, step, nan in conn.execute(query).all()
    ]


def sampled(
    conn: Connection,
    run_id: str,
    key: str,
    max_results: int,
    step_range: tuple[int, int] | None,
) -> list[Metric]:
    """An even sample of at most ``max_results`` points, always ending at the last point.

    Rows are split into ``max_results`` equal buckets (NTILE) and the first row of each is kept,
    so the database returns O(max_results) rows however long the history is.
    """
    m = metrics.c
    where = [m.run_uuid == run_id, m.key == key]
    if step_range is not None:
        where += [m.step >= step_range[0], m.step <= step_range[1]]
    order = (m.step, m.timestamp, m.value, m.is_nan)
    bucketed = (
        sa.select(
            m.value,
            m.timestamp,
            m.step,
            m.is_nan,
            sa.func.ntile(max_results).over(order_by=order).label("bucket"),
        )
        .where(*where)
        .subquery()
    )
    b = bucketed.c
    ranked = sa.select(
        b.value,
        b.timestamp,
        b.step,
        b.is_nan,
        sa.func.row_number()
        .over(partition_by=b.bucket, order_by=(b.step, b.timestamp, b.value, b.is_nan))
        .label("rn"),
    ).subquery()
    r = ranked.c
    rows = list(
        conn.execute(
            sa.select(r.value, r.timestamp, r.step, r.is_nan)
            .where(r.rn == 1)
            .order_by(r.step, r.timestamp, r.value, r.is_nan)
        )
    )
    last = conn.execute(
        sa.select(m.value, m.timestamp, m.step, m.is_nan)
        .where(*where)
        .order_by(*(c.desc() for c in order))
        .limit(1)
    ).first()
    if last is not None and (not rows or _point(rows[-1]) != _point(last)):
        if len(rows) >= max_results:
            rows[-1] = last
        else:
            rows.append(last)
    return [
        Metric(key, row.value, row.timestamp, row.step, bool(row.is_nan), run_id=run_id)
        for row in rows
    ]


def _point(row: Any) -> tuple[Any, ...]:
    return (row.step, row.timestamp, None if row.is_nan else row.value, bool(row.is_nan))
