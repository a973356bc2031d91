"""What every use case needs: the database, the artifact root and the proxied artifact store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runyard.artifacts.base import ArtifactStore
from runyard.store.engine import Database

if TYPE_CHECKING:  # services.webhooks imports this module
    from runyard.services.webhooks import WebhookConfig


def now_ms() -> int:
    return int(time.time() * 1000)


def append_uri_path(base: str, *parts: str) -> str:
    """Join path segments onto a URI with single slashes, keeping ``scheme:/`` intact."""
    out = base
    for part in parts:
        out = out.rstrip("/") + "/" + part.lstrip("/") if not out.endswith(":/") else out + part
    return out


@dataclass(frozen=True)
class Ctx:
    db: Database
    default_artifact_root: str
    clock: Callable[[], int] = field(default=now_ms)
    artifacts: ArtifactStore | None = None  # None: the server does not proxy artifacts
    webhooks: WebhookConfig | None = None  # None: webhook routes answer "not configured"
