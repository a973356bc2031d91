"""All SQL for webhooks, on MLflow's ``webhooks`` and ``webhook_events`` tables.

As MLflow's store: a delete is soft (``deleted_timestamp``), every read skips deleted rows,
lists are newest first. The ``secret`` column holds the secret encrypted (the services encrypt
and decrypt); it is read by one function only, for a delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runyard.domain.webhooks import ACTIVE, Event, Webhook
from runyard.store.schema import webhook_events, webhooks

WORKSPACE = "default"  # runyard serves MLflow's default workspace only

_COLUMNS = (
    webhooks.c.webhook_id,
    webhooks.c.name,
    webhooks.c.description,
    webhooks.c.url,
    webhooks.c.status,
    webhooks.c.creation_timestamp,
    webhooks.c.last_updated_timestamp,
)  # never the secret


def _live() -> sa.ColumnElement[bool]:
    return sa.and_(webhooks.c.deleted_timestamp.is_(None), webhooks.c.workspace == WORKSPACE)


def _events(conn: Connection, ids: Sequence[str]) -> dict[str, list[Event]]:
    """Every listed webhook's events in one query."""
    found: dict[str, list[Event]] = {i: [] for i in ids}
    if not ids:
        return found
    query = (
        sa.select(webhook_events.c.webhook_id, webhook_events.c.entity, webhook_events.c.action)
        .where(webhook_events.c.webhook_id.in_(list(ids)))
        .order_by(webhook_events.c.entity, webhook_events.c.action)
    )
    for row in conn.execute(query):
        found[row.webhook_id].append(Event(row.entity, row.action))
    return found


def _webhook(row: Any, events: list[Event]) -> Webhook:
    return Webhook(
        webhook_id=row.webhook_id,
        name=row.name,
        url=row.url,
        events=tuple(events),
        status=row.status,
        creation_timestamp=row.creation_timestamp or 0,
        last_updated_timestamp=row.last_updated_timestamp or 0,
        description=row.description,
    )


def insert(
    conn: Connection,
    webhook: Webhook,
    secret_ciphertext: str | None,
) -> None:
    conn.execute(
        webhooks.insert().values(
            webhook_id=webhook.webhook_id,
            name=webhook.name,
            description=webhook.description,
            url=webhook.url,
            status=webhook.status,
            secret=secret_ciphertext,
            creation_timestamp=webhook.creation_timestamp,
            last_updated_timestamp=webhook.last_updated_timestamp,
            workspace=WORKSPACE,
        )
    )
    _insert_events(conn, webhook.webhook_id, webhook.events)


def _insert_events(conn: Connection, webhook_id: str, events: Sequence[Event]) -> None:
    conn.execute(
        webhook_events.insert(),
        [{"webhook_id": webhook_id, "entity": e.entity, "action": e.action} for e in events],
    )


def get(conn: Connection, webhook_id: str) -> Webhook | None:
    row = conn.execute(
        sa.select(*_COLUMNS).where(webhooks.c.webhook_id == webhook_id, _live())
    ).first()
    if row is None:
        return None
    return _webhook(row, _events(conn, [webhook_id])[webhook_id])


def exists(conn: Connection, webhook_id: str) -> bool:
    query = sa.select(webhooks.c.webhook_id).where(webhooks.c.webhook_id == webhook_id, _live())
    return conn.execute(query).first() is not None


def list_page(conn: Connection, offset: int, limit: int) -> list[Webhook]:
    """Up to ``limit`` webhooks from ``offset``, newest first (the id breaks ties, so pages
    neither repeat nor skip a webhook made in the same millisecond)."""
    query = (
        sa.select(*_COLUMNS)
        .where(_live())
        .order_by(webhooks.c.creation_timestamp.desc(), webhooks.c.webhook_id)
        .offset(offset)
        .limit(limit)
    )
    rows = conn.execute(query).all()
    events = _events(conn, [r.webhook_id for r in rows])
    return [_webhook(r, events[r.webhook_id]) for r in rows]


def update(
    conn: Connection,
    webhook_id: str,
    values: dict[str, Any],
    events: Sequence[Event] | None,
) -> bool:
    """Set ``values`` (column -> value; ``secret`` already encrypted) and, if given, replace the
    events. False when there is no such live webhook."""
    result = conn.execute(
        webhooks.update().where(webhooks.c.webhook_id == webhook_id, _live()).values(**values)
    )
    if not result.rowcount:
        return False
    if events is not None:
        conn.execute(webhook_events.delete().where(webhook_events.c.webhook_id == webhook_id))
        _insert_events(conn, webhook_id, events)
    return True


def soft_delete(conn: Connection, webhook_id: str, now: int) -> bool:
    result = conn.execute(
        webhooks.update()
        .where(webhooks.c.webhook_id == webhook_id, _live())
        .values(deleted_timestamp=now, last_updated_timestamp=now)
    )
    return bool(result.rowcount)


def subscribers(conn: Connection, entity: str, action: str) -> list[str]:
    """The active webhooks that listen for this event (idx_webhook_events_entity_action)."""
    query = (
        sa.select(webhooks.c.webhook_id)
        .join(webhook_events, webhook_events.c.webhook_id == webhooks.c.webhook_id)
        .where(
            webhook_events.c.entity == entity,
            webhook_events.c.action == action,
            webhooks.c.status == ACTIVE,
            _live(),
        )
        .order_by(webhooks.c.webhook_id)
    )
    return [row.webhook_id for row in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class DeliveryTarget:
    url: str
    status: str
    secret_ciphertext: str | None


def delivery_target(conn: Connection, webhook_id: str) -> DeliveryTarget | None:
    """Where a delivery goes now and how it is signed; None once the webhook is deleted."""
    query = sa.select(webhooks.c.url, webhooks.c.status, webhooks.c.secret).where(
        webhooks.c.webhook_id == webhook_id, _live()
    )
    row = conn.execute(query).first()
    return None if row is None else DeliveryTarget(row.url, row.status, row.secret)
