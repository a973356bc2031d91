"""Is the server able to serve? The checks behind ``/ready`` and the pool gauges of ``/metrics``."""

from __future__ import annotations

from runyard.services.context import Ctx
from runyard.store import probe
from runyard.store.probe import PoolUsage

__all__ = ["PoolUsage", "check_artifacts", "check_database", "pool_usage"]

# A name no client writes: looking it up costs one stat (one request on SFTP and S3) and
# fails only when the store itself cannot be reached.
_PROBE_PATH = "runyard-readiness-probe"


def check_database(ctx: Ctx) -> None:
    """Raises when the metadata database does not answer a trivial query."""
    probe.ping(ctx.db)


async def check_artifacts(ctx: Ctx) -> bool:
    """Raises when the proxied artifact store cannot be reached; False when there is none."""
    if ctx.artifacts is None:
        return False
    await ctx.artifacts.stat(_PROBE_PATH)
    return True


def pool_usage(ctx: Ctx) -> PoolUsage:
    return probe.pool_usage(ctx.db)
