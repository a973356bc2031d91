"""The webhook outbox: deliveries not yet made, in a runyard-own table beside MLflow's.

A registry write inserts its rows in its own transaction (so an event exists exactly when
the change that caused it committed); senders in any worker process or replica claim due rows,
POST them, and delete them once delivered.

Like the auth tables (``store/auth_schema.py``), the table is created with ``checkfirst``
rather than by an alembic revision: MLflow refuses a database whose revision it does not know,
and it ignores tables it does not know. No foreign key points at MLflow's ``webhooks`` table,
so MLflow can still delete webhooks in a database runyard also serves.

Claims are leases: claiming sets ``next_attempt_at`` to the end of the lease and a fresh
``claim_token``, so a sender that dies mid-delivery leaves its rows due again once the lease
runs out, and every later update names the token it claimed with. PostgreSQL: the due rows are
picked ``FOR UPDATE SKIP LOCKED`` (concurrent senders claim disjoint rows); SQLite: the
claim runs in a write transaction, which is one at a time across processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

metadata = sa.MetaData()

# A BIGINT key on PostgreSQL, SQLite's rowid alias there (only INTEGER PRIMARY KEY is one).
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

outbox = sa.Table(
    "runyard_webhook_outbox",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("webhook_id", sa.String(256), nullable=False),  # webhooks.webhook_id
    sa.Column("delivery_id", sa.String(36), nullable=False),  # the same on every retry
    sa.Column("entity", sa.String(50), nullable=False),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),  # the JSON sent, made once at emit time
    sa.Column("attempts", sa.Integer(), nullable=False, default=0),
    sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),  # ms; or a lease's end
    sa.Column("claim_token", sa.String(36)),
    sa.Column("last_error", sa.String(500)),
    sa.Column("created_at", sa.BigInteger(), nullable=False),  # ms
    sa.Index("runyard_webhook_outbox_due", "next_attempt_at"),
)

# Any constant: serialises concurrent creation by several workers on PostgreSQL.
_CREATE_LOCK_KEY = 0x72797768  # "rywh"


@dataclass(frozen=True, slots=True)
class Pending:
    """A new delivery: one row per subscribed webhook."""

    webhook_id: str
    delivery_id: str
    entity: str
    action: str
    body: str


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    webhook_id: str
    delivery_id: str
    entity: str
    action: str
    body: str
    attempts: int  # before this one
    claim_token: str


def ensure_table(conn: Connection) -> None:
    """Create the outbox unless it exists (in the caller's write transaction)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CREATE_LOCK_KEY})
    metadata.create_all(conn, checkfirst=True)


def table_exists(conn: Connection) -> bool:
    return sa.inspect(conn).has_table(outbox.name)


def insert(conn: Connection, rows: Sequence[Pending], now_ms: int) -> None:
    if not rows:
        return
    conn.execute(
        outbox.insert(),
        [
            {
                "webhook_id": r.webhook_id,
                "delivery_id": r.delivery_id,
                "entity": r.entity,
                "action": r.action,
                "body": r.body,
                "attempts": 0,
                "next_attempt_at": now_ms,
                "created_at": now_ms,
            }
            for r in rows
        ],
    )


def has_due(conn: Connection, now_ms: int) -> bool:
    """A cheap look (a read, no lock) before a sender asks for a write transaction."""
    query = sa.select(outbox.c.id).where(outbox.c.next_attempt_at <= now_ms).limit(1)
    return conn.execute(query).first() is not None


def claim(conn: Connection, now_ms: int, lease_ms: int, limit: int, token: str) -> list[Claimed]:
    """Take up to ``limit`` due rows for ``lease_ms`` (call in a write transaction)."""
    due = (
        sa.select(outbox.c.id)
        .where(outbox.c.next_attempt_at <= now_ms)
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = [row.id for row in conn.execute(due)]
    if not ids:
        return []
    conn.execute(
        outbox.update()
        .where(outbox.c.id.in_(ids))
        .values(next_attempt_at=now_ms + lease_ms, claim_token=token)
    )
    rows = conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)).all()
    return [
        Claimed(r.id, r.webhook_id, r.delivery_id, r.entity, r.action, r.body, r.attempts, token)
        for r in rows
    ]


def delete(conn: Connection, row_id: int, token: str) -> bool:
    """Done with (delivered, or given up): gone unless another sender has claimed it since."""
    result = conn.execute(
        outbox.delete().where(outbox.c.id == row_id, outbox.c.claim_token == token)
    )
    return bool(result.rowcount)


def reschedule(
    conn: Connection, row_id: int, token: str, attempts: int, at_ms: int, error: str
) -> bool:
    """A failed attempt: due again at ``at_ms``, released for any sender."""
    result = conn.execute(
        outbox.update()
        .where(outbox.c.id == row_id, outbox.c.claim_token == token)
        .values(attempts=attempts, next_attempt_at=at_ms, claim_token=None, last_error=error[:500])
    )
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class Row:
    """A row as it stands, for operators and tests."""

    id: int
    webhook_id: str
    delivery_id: str
    entity: str
    action: str
    body: str
    attempts: int
    next_attempt_at: int
    claim_token: str | None
    last_error: str | None


def pending(conn: Connection, webhook_id: str | None = None) -> list[Row]:
    query = sa.select(outbox).order_by(outbox.c.id)
    if webhook_id is not None:
        query = query.where(outbox.c.webhook_id == webhook_id)
    return [
        Row(
            r.id,
            r.webhook_id,
            r.delivery_id,
            r.entity,
            r.action,
            r.body,
            r.attempts,
            r.next_attempt_at,
            r.claim_token,
            r.last_error,
        )
        for r in conn.execute(query)
    ]


def delete_for_webhook(conn: Connection, webhook_id: str) -> None:
    """A deleted webhook's pending deliveries are dropped with it."""
    conn.execute(outbox.delete().where(outbox.c.webhook_id == webhook_id))
