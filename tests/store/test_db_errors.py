"""Honest database errors (issue 9, finding 3), provoked for real on SQLite and PostgreSQL.

Only transient failures are 503 TEMPORARILY_UNAVAILABLE (logged as a warning with their cause);
a statement the request made too large, or a value a column cannot hold, is 400
INVALID_PARAMETER_VALUE saying what to change; anything else reaches the one error boundary
unchanged, which answers 500 and logs it with the request id.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from runyard.errors import InvalidParameterValue, MlflowError, TemporarilyUnavailable
from runyard.store.engine import Database
from tests.servers import pg_database

ENGINE_LOG = "runyard.store.engine"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'errors.db'}")
        yield database
        database.dispose()
        return
    with pg_database("runyard_errors") as url:
        database = Database(url)
        yield database
        database.dispose()


def _select(db: Database, sql: str) -> object:
    return db.read(lambda conn: conn.exec_driver_sql(sql).fetchall())


def test_a_statement_too_large_for_the_database_is_a_400(db, caplog):
    # "too many terms in ORDER BY" (SQLite), "target lists can have at most 1664 entries" (PG)
    sql = "SELECT 1 ORDER BY " + ", ".join(["1"] * 70_000)
    if db.dialect == "postgresql":
        sql = "SELECT " + ", ".join(["1"] * 2000)
    with caplog.at_level(logging.WARNING, ENGINE_LOG), pytest.raises(InvalidParameterValue) as err:
        _select(db, sql)
    assert "too large for the database" in err.value.message
    assert "fewer order_by entries" in err.value.message
    assert ("too many terms" if db.dialect == "sqlite" else "1664") in err.value.message
    assert err.value.status == 400
    assert not caplog.records  # the client's mistake: nothing for the operator


def test_too_many_bound_values_is_a_400(db):
    count = 40_000 if db.dialect == "sqlite" else 70_000
    marker = "?" if db.dialect == "sqlite" else "%s"
    sql = "SELECT " + ", ".join([marker] * count)
    with pytest.raises(InvalidParameterValue, match="too large for the database"):
        db.read(lambda conn: conn.exec_driver_sql(sql, tuple(range(count))).fetchall())


def test_a_value_the_column_cannot_hold_is_a_400(db):
    if db.dialect == "sqlite":
        sql = "SELECT ?"

        def fn(conn: sa.Connection) -> object:
            return conn.exec_driver_sql(sql, (2**70,)).fetchall()
    else:

        def fn(conn: sa.Connection) -> object:
            return conn.exec_driver_sql("SELECT 99999999999::bigint::int").fetchall()

    with pytest.raises(InvalidParameterValue, match="rejected a value"):
        db.read(fn)


def test_a_fault_of_our_own_is_raised_unchanged_for_the_500_boundary(db, caplog):
    with caplog.at_level(logging.WARNING, ENGINE_LOG), pytest.raises(DBAPIError) as err:
        _select(db, "SELECT no_such_column FROM no_such_table")
    assert not isinstance(err.value, MlflowError)
    assert not caplog.records  # the boundary logs it once, with the request id


def test_a_write_lock_held_elsewhere_is_a_logged_503(db, caplog, tmp_path: Path):
    db.write(lambda conn: conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v INT)"))
    db.write(lambda conn: conn.exec_driver_sql("INSERT INTO t VALUES (1, 0)"))
    if db.dialect == "sqlite":
        other = sqlite3.connect(tmp_path / "errors.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock

        def fn(conn: sa.Connection) -> object:
            conn.exec_driver_sql("PRAGMA busy_timeout = 20")
            return conn.exec_driver_sql("UPDATE t SET v = 1").rowcount

        release = other.rollback
    else:
        other = psycopg.connect(db.url)
        other.execute("SELECT * FROM t WHERE id = 1 FOR UPDATE")  # in its open transaction

        def fn(conn: sa.Connection) -> object:
            conn.exec_driver_sql("SET lock_timeout = '50ms'")
            return conn.exec_driver_sql("UPDATE t SET v = 1 WHERE id = 1").rowcount

        release = other.rollback
    try:
        with caplog.at_level(logging.WARNING, ENGINE_LOG), pytest.raises(TemporarilyUnavailable):
            db.read(fn)
    finally:
        release()
        other.close()
    cause = "database is locked" if db.dialect == "sqlite" else "lock timeout"
    assert any(cause in r.getMessage() for r in caplog.records), caplog.text
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    assert db.read(fn) == 1  # and once the lock is gone, the same request succeeds


@pytest.mark.postgres
def test_a_connection_killed_by_the_server_is_retried_on_a_fresh_one(tmp_path: Path):
    with pg_database("runyard_errors") as url:
        db = Database(url)
        try:
            attempts: list[int] = []

            def fn(conn: sa.Connection) -> object:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                attempts.append(int(pid))  # type: ignore[arg-type]
                if len(attempts) == 1:
                    with psycopg.connect(url, autocommit=True) as admin:
                        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    conn.exec_driver_sql("SELECT 1")  # fails: the server closed it
                return conn.exec_driver_sql("SELECT 42").scalar()

            assert db.read(fn) == 42
            assert len(attempts) == 2 and attempts[0] != attempts[1]
        finally:
            db.dispose()


@pytest.mark.postgres
def test_an_unreachable_server_is_a_logged_503(caplog):
    db = Database("postgresql://postgres@127.0.0.1:1/none")  # nothing listens on port 1
    try:
        with caplog.at_level(logging.WARNING, ENGINE_LOG), pytest.raises(TemporarilyUnavailable):
            _select(db, "SELECT 1")
    finally:
        db.dispose()
    assert any("unreachable" in r.getMessage() for r in caplog.records), caplog.text


@pytest.mark.postgres
def test_an_exhausted_pool_is_a_logged_503(caplog):
    with pg_database("runyard_errors") as url:
        _exhaust_pool(url, caplog)


def _exhaust_pool(url: str, caplog: pytest.LogCaptureFixture) -> None:
    small = Database(url, pool_size=1, max_overflow=0)  # (SQLite's pool is SQLAlchemy's own)
    small.engine.pool._timeout = 0.2  # type: ignore[attr-defined]  # (30 s by default)
    held = threading.Event()
    done = threading.Event()

    def hold(conn: sa.Connection) -> None:
        held.set()
        done.wait(10)

    holder = threading.Thread(target=small.read, args=(hold,))
    holder.start()
    try:
        assert held.wait(10)
        with caplog.at_level(logging.WARNING, ENGINE_LOG), pytest.raises(TemporarilyUnavailable):
            _select(small, "SELECT 1")
    finally:
        done.set()
        holder.join()
        small.dispose()
    assert any("TimeoutError" in r.getMessage() for r in caplog.records), caplog.text
