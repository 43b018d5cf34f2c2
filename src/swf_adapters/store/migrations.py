"""Schema versions: create a fresh database, migrate an old one, refuse a newer one.

Every database is built the same way: the version-1 tables of ``schema``, then each
migration step in order. A fresh database therefore runs the migration code too, so a
step cannot rot unnoticed.

Opening a store only reads the version (one statement, no lock) when the schema is
current, which is the common case for the many reader processes; creating or migrating
happens in one write transaction that re-reads the version first, so two processes
opening an old database at once migrate it once.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from swf_adapters.store import schema
from swf_adapters.store.database import is_sqlite, write_transaction
from swf_domain.errors import ConfigurationError

#: The version this code reads and writes.
LATEST_VERSION = 6

#: Key of the PostgreSQL advisory lock taken while creating or migrating the schema.
_PG_SCHEMA_LOCK_KEY = 0x5357_4600

_FIRST_IDS = {"workflow": 1, "job": 1}


def _v1_to_v2(connection: Connection) -> None:
    """v2: a covering index for ``status_counts`` (one GROUP BY per monitor refresh)."""
    connection.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_swf_jobs_workflow_status ON swf_jobs (workflow_id, status)"
    )


def _v2_to_v3(connection: Connection) -> None:
    """v3: a change feed. Each write transaction stamps the jobs it writes with the next
    ``change`` number, so a monitor re-reads only the jobs changed since its last read.
    Existing jobs get 0 (unchanged since the beginning)."""
    connection.exec_driver_sql(
        "ALTER TABLE swf_jobs ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0"
    )
    connection.exec_driver_sql(
        "CREATE INDEX IF NOT EXISTS ix_swf_jobs_workflow_change "
        "ON swf_jobs (workflow_id, change_seq)"
    )
    connection.execute(schema.counters.insert().values(name="change", next_value=1))


def _v3_to_v4(connection: Connection) -> None:
    """v4: each workflow keeps the directory its client submitted from, where its jobs
    without a working directory run (NULL for older workflows: see WorkflowRow); and a
    job's priority is 64-bit on PostgreSQL too (SQLite's INTEGER already is)."""
    connection.exec_driver_sql("ALTER TABLE swf_workflows ADD COLUMN working_directory TEXT")
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("ALTER TABLE swf_jobs ALTER COLUMN priority TYPE BIGINT")


def _v4_to_v5(connection: Connection) -> None:
    """v5: retries. A job keeps its attempt number (1 for every existing job) and the
    exit info of its earlier attempts (JSON list, NULL when it ran once)."""
    connection.exec_driver_sql("ALTER TABLE swf_jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1")
    json_type = "JSON" if connection.dialect.name == "postgresql" else "TEXT"
    connection.exec_driver_sql(f"ALTER TABLE swf_jobs ADD COLUMN past_attempts {json_type}")


def _v5_to_v6(connection: Connection) -> None:
    """v6: each workflow keeps how many file transfers its document declares, so that a
    client polling ``workflow_elements_status`` learns it has none without decoding the
    whole document (seconds for a million jobs). NULL for older workflows: their
    document is read, as before."""
    connection.exec_driver_sql("ALTER TABLE swf_workflows ADD COLUMN transfer_count INTEGER")


#: ``MIGRATIONS[n]`` upgrades a database from version n to n + 1.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
    3: _v3_to_v4,
    4: _v4_to_v5,
    5: _v5_to_v6,
}


def describe(engine: Engine) -> str:
    """The database as a user named it: the file of a SQLite store, else the URL."""
    url = engine.url
    if is_sqlite(engine):
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def read_version(connection: Connection) -> int | None:
    """The schema version of the database, None when it has no swf schema yet."""
    if not sa.inspect(connection).has_table(schema.schema_version.name):
        return None
    version = connection.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
    return None if version is None else int(version)


def ensure_schema(engine: Engine) -> int:
    """Bring the database to ``LATEST_VERSION``; return the version it had (0 if fresh)."""
    with engine.connect() as connection:
        found = read_version(connection)
        connection.rollback()
    _refuse_newer(engine, found)
    if found == LATEST_VERSION:
        return found
    with write_transaction(engine) as connection:
        _lock_schema(connection)
        found = read_version(connection)
        _refuse_newer(engine, found)
        if found is None:
            create_schema(connection, LATEST_VERSION)
            return 0
        migrate(connection, found, LATEST_VERSION)
        return found


def create_schema(connection: Connection, version: int = LATEST_VERSION) -> None:
    """Create swf's tables at ``version`` (older versions are for migration tests)."""
    schema.metadata.create_all(connection)
    connection.execute(schema.schema_version.insert().values(version=1))
    connection.execute(
        schema.counters.insert(),
        [{"name": name, "next_value": first} for name, first in _FIRST_IDS.items()],
    )
    migrate(connection, 1, version)


def migrate(connection: Connection, from_version: int, to_version: int) -> None:
    """Run each step from ``from_version`` up to ``to_version`` and record the version."""
    for version in range(from_version, to_version):
        MIGRATIONS[version](connection)
    if to_version != from_version:
        connection.execute(schema.schema_version.update().values(version=to_version))


def _refuse_newer(engine: Engine, found: int | None) -> None:
    if found is not None and found > LATEST_VERSION:
        raise ConfigurationError(
            f"{describe(engine)}: the swf database schema is version {found}, newer than "
            f"version {LATEST_VERSION} that this swf knows; upgrade swf to open it"
        )


def _lock_schema(connection: Connection) -> None:
    """Serialize schema creation between processes (SQLite's BEGIN IMMEDIATE already does)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK_KEY)))
