"""Engines, transactions and the seam where database errors become MLflow errors.

SQLite: WAL, one writer at a time (``sqlite_writer.WriterLock`` across threads and worker
processes, plus ``BEGIN IMMEDIATE`` and a long busy timeout for other programs), so "database
is locked" never reaches a client.
PostgreSQL: psycopg 3 with a bounded, pre-pinged pool.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from runyard.errors import InvalidParameterValue, TemporarilyUnavailable
from runyard.store.sqlite_writer import WriterLock

T = TypeVar("T")

__all__ = [
    "Connection",
    "Database",
    "Failure",
    "classify",
    "in_list",
    "in_pairs",
    "insert_ignore",
    "make_engine",
    "translate",
    "upsert",
]
log = logging.getLogger(__name__)

_SQLITE_BUSY_MS = 30_000
_RETRIES = 5


# PostgreSQL SQLSTATEs a retry can cure. At once: the transaction lost a race (serialization
# failure, deadlock) or its connection (admin shutdown, crash, class 08), so it did not commit
# and a fresh connection may well succeed. Later: a lock wait timed out, too many connections.
_PG_RETRY = frozenset({"40001", "40P01", "57P01", "57P02", "57P03"})
_PG_TRANSIENT = frozenset({"55P03", "53300"})
# ... and classes the request itself causes: a value the column cannot hold (22), a statement
# beyond the server's limits (54: too many arguments, columns, target list entries, ...).
_PG_REQUEST_CLASSES = ("22", "54")
# SQLite has no SQLSTATE (nor do psycopg's own checks); their messages say the same things.
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")
_REQUEST_TEXTS = (
    "too many terms",  # in ORDER BY, compound SELECT, ...
    "too many columns",
    "too many sql variables",
    "too many arguments",
    "expression tree is too large",
    "string or blob too big",
    "like or glob pattern too complex",
    "parser stack overflow",
    "at most 64 tables in a join",
    "number of parameters must be between",  # psycopg: more than 65535 bound values
)


class Failure(enum.Enum):
    """What a database error means for the request that met it."""

    RETRY = "retry"  # transient, and retrying the whole transaction at once is safe
    TRANSIENT = "transient"  # transient: the client may retry later (503)
    REQUEST = "request"  # the request asked for too much or for a value the column refuses (400)
    OTHER = "other"  # a fault of runyard or of the database: 500, logged with its cause


def classify(exc: BaseException) -> Failure:
    """Sort a foreign database error by who can do something about it."""
    if isinstance(exc, sa.exc.TimeoutError):  # no pooled connection came free in time
        return Failure.TRANSIENT
    if isinstance(exc, OverflowError):  # sqlite3 refuses integers beyond 64 bits itself
        return Failure.REQUEST
    if not isinstance(exc, DBAPIError):
        return Failure.OTHER
    if exc.connection_invalidated:
        return Failure.RETRY
    if isinstance(exc, DataError):
        return Failure.REQUEST
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in _PG_RETRY or sqlstate.startswith("08"):
            return Failure.RETRY
        if sqlstate in _PG_TRANSIENT:
            return Failure.TRANSIENT
        if sqlstate.startswith(_PG_REQUEST_CLASSES):
            return Failure.REQUEST
        return Failure.OTHER
    text = str(exc.orig).lower()
    if any(words in text for words in _SQLITE_BUSY):
        return Failure.RETRY
    if any(words in text for words in _REQUEST_TEXTS):
        return Failure.REQUEST
    if isinstance(exc, OperationalError) and exc.orig.__class__.__module__.startswith("psycopg"):
        return Failure.TRANSIENT  # no SQLSTATE: the connection failed or was refused
    return Failure.OTHER


def _is_value_error(exc: BaseException) -> bool:
    return isinstance(exc, DataError | OverflowError)


def _cause(exc: BaseException) -> str:
    """The driver's error class and its first line, which say what went wrong."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0]}" if lines else type(orig).__name__


def translate(exc: Exception) -> Exception:
    """The error a request should see for a database error that retries did not cure: an
    MlflowError for the transient and the request's own failures, else ``exc`` itself."""
    kind = classify(exc)
    if kind is Failure.REQUEST and _is_value_error(exc):
        return InvalidParameterValue(
            f"The database rejected a value ({_cause(exc)}); send one the field can hold."
        )
    if kind is Failure.REQUEST:
        return InvalidParameterValue(
            f"The request is too large for the database ({_cause(exc)}). Ask for less at once: "
            "fewer order_by entries, filter terms, datasets or ids, or shorter values."
        )
    if kind in (Failure.RETRY, Failure.TRANSIENT):
        log.warning("metadata database busy or unreachable, answering 503: %s", _cause(exc))
        return TemporarilyUnavailable(
            "The metadata database is busy or unreachable; retry the request."
        )
    return exc


class Database:
    """One metadata database: its engine and how transactions are opened on it."""

    def __init__(self, url: str, pool_size: int = 5, max_overflow: int = 5) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size, max_overflow)
        self.dialect = self.engine.dialect.name
        self._write_lock = WriterLock(url) if self.dialect == "sqlite" else None
        # Same pool; each statement commits on its own, so no BEGIN/COMMIT round trips.
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def _write_conn(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock.held(), self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")

    @contextmanager
    def _autocommit_conn(self) -> Iterator[Connection]:
        with self._autocommit.connect() as conn:
            yield conn

    @contextmanager
    def _read_conn(self) -> Iterator[Connection]:
        if self._write_lock is None:
            # PostgreSQL at READ COMMITTED gives each statement its own snapshot even inside
            # BEGIN, so an explicit transaction would add two round trips and no consistency.
            with self._autocommit.connect() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            if self._write_lock is not None:
                conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                if self._write_lock is not None:
                    conn.exec_driver_sql("ROLLBACK")

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction, retried on transient lock/serialization errors."""
        return self._run(self._write_conn, fn)

    def write_statements(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` whose every statement is atomic and safe on its own (one round trip each).

        PostgreSQL: autocommit, no BEGIN/COMMIT. SQLite: an ordinary write transaction.
        """
        if self._write_lock is not None:
            return self.write(fn)
        return self._run(self._autocommit_conn, fn)

    def read(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` for reading (SQLite: on one snapshot; PostgreSQL: READ COMMITTED)."""
        return self._run(self._read_conn, fn)

    def _run(self, opener: Callable[[], Any], fn: Callable[[Connection], T]) -> T:
        for attempt in range(_RETRIES):
            try:
                with opener() as conn:
                    return fn(conn)
            except (DBAPIError, sa.exc.TimeoutError, OverflowError) as exc:
                if classify(exc) is Failure.RETRY and attempt < _RETRIES - 1:
                    log.debug("retrying a transaction after: %s", _cause(exc))
                    time.sleep(0.05 * (attempt + 1))
                    continue
                translated = translate(exc)
                if translated is exc:
                    raise  # the one error boundary answers 500 and logs it with the request id
                raise translated from exc
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.engine.dispose()
        if self._write_lock is not None:
            self._write_lock.close()


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 5) -> Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
    )
    event.listen(engine, "connect", _postgres_on_connect)
    _ping_idle_connections(engine)
    return engine


def _postgres_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # The default random_page_cost (4) assumes spinning disks. With it the planner scans whole
    # params/tags/metrics tables to load a 1000-run page rather than use their run_uuid
    # indexes, at about three times the cost. Only ever lowered: a DBA's lower value stands.
    autocommit = dbapi_conn.autocommit
    dbapi_conn.autocommit = True
    dbapi_conn.execute(
        "SELECT set_config('random_page_cost', '1.1', false)"
        " WHERE current_setting('random_page_cost')::float8 > 1.1"
    )
    dbapi_conn.autocommit = autocommit


# A connection handed back less than this long ago has just proved itself alive.
_PING_AFTER_IDLE_S = 2.0


def _ping_idle_connections(engine: Engine) -> None:
    """Pre-ping a pooled connection on checkout, unless it was in use a moment ago.

    SQLAlchemy's ``pool_pre_ping`` costs a round trip on every checkout, about as much as the
    statement of a small write; a connection that sat idle (where a restarted or timed-out
    server would have dropped it) is pinged, one that is busy in a loaded server is not. A
    connection that dies while busy fails its statement, and ``Database`` retries the whole
    transaction on a fresh one.
    """

    @event.listens_for(engine, "checkin")
    def _mark_idle(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < _PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # any failure means the connection is unusable
            raise sa.exc.DisconnectionError(str(exc)) from exc
        if not alive:
            raise sa.exc.DisconnectionError("the database connection did not answer a ping")


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit at the driver level: runyard issues BEGIN/COMMIT itself, so that write
    # transactions can start with BEGIN IMMEDIATE and never deadlock on lock upgrade.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def insert_ignore(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows, silently skipping ones whose primary key already exists."""
    if not rows:
        return
    stmt = _dialect_insert(conn, table).on_conflict_do_nothing()
    conn.execute(stmt, list(rows))


def upsert(
    conn: Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    where: Callable[[Any], Any] | None = None,
) -> None:
    """Insert rows or overwrite the non-key columns of existing ones (optionally only ``where``)."""
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    cond = where(stmt.excluded) if where is not None else None
    conn.execute(
        stmt.on_conflict_do_update(index_elements=list(keys), set_=updates, where=cond),
        list(rows),
    )


def in_list(
    conn: Connection, column: sa.ColumnElement[Any], values: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """``column IN (values)`` that stays cheap for thousands of values.

    PostgreSQL gets one array parameter (``= ANY(:values)``) instead of a bind per value, which
    would dominate compile and parse time for a 1000-run page.
    """
    if conn.dialect.name == "postgresql":
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == sa.any_(array)
    return column.in_(list(values))


def in_pairs(
    conn: Connection,
    first: sa.ColumnElement[Any],
    second: sa.ColumnElement[Any],
    pairs: Sequence[tuple[Any, Any]],
) -> sa.ColumnElement[bool]:
    """``(first, second) IN (pairs)``, as :func:`in_list` does it for one column: PostgreSQL
    gets two array parameters, unnested side by side."""
    if not pairs:
        return sa.false()
    if conn.dialect.name == "postgresql":
        a = sa.bindparam(None, [p[0] for p in pairs], type_=postgresql.ARRAY(first.type))
        b = sa.bindparam(None, [p[1] for p in pairs], type_=postgresql.ARRAY(second.type))
        keys = sa.func.unnest(a, b).table_valued("a", "b").render_derived()
        return sa.tuple_(first, second).in_(sa.select(keys.c.a, keys.c.b))
    return sa.tuple_(first, second).in_(list(pairs))


def fetch_raw(conn: Connection, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """All rows of a PostgreSQL query, straight from psycopg in binary (no per-row processing
    by SQLAlchemy, which costs a fifth of the time for a 15k-row page). Driver errors are
    wrapped as SQLAlchemy's would be, so ``Database`` translates and retries them as usual."""
    import psycopg

    driver = conn.connection.driver_connection
    try:
        with driver.cursor(binary=True) as cursor:  # type: ignore[union-attr]
            rows: list[tuple[Any, ...]] = cursor.execute(sql, params).fetchall()
            return rows
    except psycopg.Error as exc:
        lost = bool(driver.closed)  # type: ignore[union-attr]
        if lost:
            conn.invalidate()
        err = DBAPIError.instance(sql, params, exc, psycopg.Error)
        err.connection_invalidated = lost
        raise err from exc


def _dialect_insert(conn: Connection, table: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect: {conn.dialect.name}")
