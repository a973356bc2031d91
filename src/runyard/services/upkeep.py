"""Upkeep the server does on its own, between requests."""

from __future__ import annotations

from runyard.services.context import Ctx
from runyard.store import planner_stats


def refresh_planner_stats(ctx: Ctx) -> list[str]:
    """Analyse the search tables whose statistics went stale (PostgreSQL; a no-op on SQLite,
    whose planner needs no statistics for these queries)."""
    if ctx.db.dialect != "postgresql":
        return []
    return ctx.db.write(planner_stats.refresh)
