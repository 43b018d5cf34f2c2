"""Engines tuned for one writer and many readers, and the write transaction they use.

SQLite (the default) runs in WAL mode so that readers in other processes never block the
writer nor get blocked by it. The sqlite3 driver's own transaction handling is switched
off (``isolation_level=None``) so that swf decides how each transaction begins: writes
take the write lock up front with ``BEGIN IMMEDIATE`` (no deadlock-prone lock upgrade
midway, the busy timeout applies at the start), reads use a plain deferred ``BEGIN``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext

from swf_domain.errors import CorruptStoreError

#: How long a SQLite connection waits for a lock before failing (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 60_000

#: Execution option that marks a connection's transaction as a write transaction.
_WRITE_OPTION = "swf_write"

_SQLITE_PRAGMAS = (
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    # 64 MiB of page cache: bulk inserts of a million jobs keep their index pages in memory.
    "PRAGMA cache_size=-65536",
    # The WAL grows by the size of the largest transaction (a million-job submission is
    # hundreds of MiB); truncate it back to 64 MiB once checkpointed.
    f"PRAGMA journal_size_limit={64 * 1024 * 1024}",
)


def url_of(url_or_path: str | Path) -> str:
    """A SQLAlchemy URL from a URL or a plain file path (which means a SQLite file)."""
    text = str(url_or_path)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


#: The backends and drivers whose raw cursors ``bulk`` drives (COPY, binary arrays).
SUPPORTED_DRIVERS = {"sqlite": "pysqlite", "postgresql": "psycopg"}


def supported_url(url: str) -> sa.URL:
    """``url`` parsed, with PostgreSQL's driver defaulting to psycopg (3).

    Raises ValueError for another backend or driver: the bulk paths use driver features
    (sqlite3's executemany, psycopg's COPY and binary arrays)."""
    parsed = sa.make_url(url)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in SUPPORTED_DRIVERS:
        raise ValueError(f"swf stores workflows in SQLite or PostgreSQL, not {backend!r}")
    if backend == "postgresql" and "+" not in parsed.drivername:
        return parsed.set(drivername="postgresql+psycopg")
    if driver != SUPPORTED_DRIVERS[backend]:
        raise ValueError(
            f"the {backend} driver must be {SUPPORTED_DRIVERS[backend]!r}, not {driver!r}"
        )
    return parsed


def make_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file gets WAL and swf's transaction handling."""
    parsed = supported_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True, json_serializer=_compact_json)
    database = parsed.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # One pooled connection per concurrent thread; a connection moves between threads
    # only when checked in and out again, which sqlite3 allows with this flag.
    engine = sa.create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        json_serializer=_compact_json,
    )
    file = str(database or ":memory:")
    event.listen(engine, "connect", lambda dbapi, record: _on_sqlite_connect(dbapi, file))
    event.listen(engine, "begin", _on_sqlite_begin)
    event.listen(engine, "handle_error", lambda context: _corruption(context, file))
    return engine


#: The prefix of every table of swf's schema.
SWF_TABLE_PREFIX = "swf_"

#: SQLite's result codes for a damaged file and for a file that is not a database.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def is_corruption(error: BaseException) -> bool:
    """True for SQLite's "database disk image is malformed" / "file is not a database"."""
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.DatabaseError)
        and code is not None
        and (code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB))
    )


def corrupt_store(file: str, reason: object) -> CorruptStoreError:
    """The error for a damaged store: which file, and what the user can do about it."""
    return CorruptStoreError(
        f"{file}: the swf database is damaged or is not an swf database ({reason}); swf "
        f"left it as it is. Move it aside to start afresh (mv {file} {file}.damaged: the "
        "workflows it held are forgotten) or restore it from a backup; "
        f"'sqlite3 {file} .recover' may save part of it"
    )


def _corruption(context: ExceptionContext, file: str) -> None:
    """SQLAlchemy's error hook: a damaged file is reported as such, wherever it shows."""
    if is_corruption(context.original_exception):
        raise corrupt_store(file, context.original_exception) from context.original_exception


def _compact_json(value: object) -> str:
    """JSON without the default ", " / ": " padding: a million-job document is 10% smaller."""
    return json.dumps(value, separators=(",", ":"))


def _on_sqlite_connect(dbapi_connection: Any, file: str) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _refuse_foreign(cursor, file)
        _enable_wal(cursor)
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    except sqlite3.DatabaseError as error:
        if is_corruption(error):
            raise corrupt_store(file, error) from error
        raise
    finally:
        cursor.close()


def _refuse_foreign(cursor: Any, file: str) -> None:
    """A SQLite file with tables but none of swf's (``swf_*``) is some other program's
    database: swf must neither add its tables to it nor switch it to WAL (checked first)."""
    tables = [row[0] for row in cursor.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    if tables and not any(name.startswith(SWF_TABLE_PREFIX) for name in tables):
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise CorruptStoreError(
            f"{file}: this SQLite file is not an swf database (it holds the tables "
            f"{shown}); swf left it as it is. Point DATABASE_URL or the state directory "
            "elsewhere, or move the file aside"
        )


def _enable_wal(cursor: Any) -> None:
    """Switch the database to WAL (a persistent setting: usually already done).

    Switching needs an exclusive lock, and SQLite answers "database is locked" at once,
    without its busy timeout, when another process holds the file at that moment, which
    happens when several processes open a brand-new database together: retry then.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def _on_sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(_WRITE_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed on success, rolled back on any error."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE_OPTION: True})
        with connection.begin():
            yield connection


@contextmanager
def driver_write_transaction(engine: Engine) -> Iterator[Any]:
    """One write transaction on the driver's own connection: yields its raw cursor.

    For the engine's group commit (a few times a second, every second of a run): the same
    transaction through SQLAlchemy's ``Connection`` (checkout events, the ``begin`` hook,
    compiled-statement cache lookups, result objects) cost about 1 ms of Python per
    commit, more than the SQL itself. Here it is ``BEGIN IMMEDIATE`` on SQLite (the write
    lock up front, as ``write_transaction``) or psycopg's implicit transaction, then
    ``commit``. Committed on success, rolled back on any error; a damaged SQLite file is
    reported as ``write_transaction`` would (``corrupt_store``).
    """
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            if is_sqlite(engine):
                cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            cursor.close()
    except sqlite3.DatabaseError as error:
        if is_corruption(error):
            raise corrupt_store(str(engine.url.database), error) from error
        raise
    finally:
        connection.close()


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A short read-only transaction (one consistent snapshot), never holding a write lock."""
    with engine.connect() as connection, connection.begin():
        yield connection
