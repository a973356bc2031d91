"""Cheap looks at the metadata database for readiness checks and metrics."""

from __future__ import annotations

from dataclasses import dataclass

from runyard.store.engine import Database


@dataclass(frozen=True)
class PoolUsage:
    checked_out: int  # connections lent out right now
    size: int  # connections the pool keeps at most, overflow aside


def ping(db: Database) -> None:
    """One round trip; raises (TemporarilyUnavailable) when the database does not answer."""
    db.read(lambda conn: conn.exec_driver_sql("SELECT 1").scalar())


def pool_usage(db: Database) -> PoolUsage:
    pool = db.engine.pool
    # Every pool SQLAlchemy gives runyard (QueuePool) has both; others count as empty.
    checked_out = getattr(pool, "checkedout", None)
    size = getattr(pool, "size", None)
    return PoolUsage(
        checked_out=int(checked_out()) if callable(checked_out) else 0,
        size=int(size()) if callable(size) else 0,
    )
