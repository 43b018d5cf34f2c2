"""The hot paths at the driver level: bulk insert, batched update, million-row reads.

SQLAlchemy Core builds one parameter dict per row and runs type processors on each; for a
million jobs that costs several times what the database itself takes. These functions
hand plain tuples straight to the DBAPI cursor (``executemany``, PostgreSQL's ``COPY``)
and read plain tuples back, inside the caller's SQLAlchemy transaction. The SQL is
written once here from ``schema``'s column names; only identifiers that are not
reserved words in SQLite or PostgreSQL are used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any

from sqlalchemy.engine import Connection

from swf_adapters.store.schema import JOB_STATE_COLUMNS

#: Rows per executemany call: bounds the memory of parameter lists for huge workflows.
CHUNK_ROWS = 20_000

#: Columns of a new job row (change_seq defaults to 0: a monitor reads a new workflow whole).
NEW_JOB_COLUMNS = ("job_id", "workflow_id", "job_index", "name", "priority", "is_barrier", "status")
JOB_IDENTITY_COLUMNS = ("job_id", "workflow_id", "job_index", "name", "priority", "is_barrier")

#: Columns of one job row as ``read_jobs`` returns them.
JOB_ROW_COLUMNS = (*JOB_IDENTITY_COLUMNS, *JOB_STATE_COLUMNS)

#: What a monitor shows of a job: its JobState without the JSON and file columns.
SUMMARY_COLUMNS = (
    "job_id",
    "status",
    "exit_status",
    "exit_value",
    "term_signal",
    "resource_usage",
    "submission_date",
    "execution_date",
    "ending_date",
    "scheduler_job_id",
    "queue",
    "attempt",
)

#: The rows of one workflow's jobs: a primary-key range, since ids are contiguous per
#: workflow (a rowid range on SQLite: storage order, no sort). One statement.
_WORKFLOW_RANGE = (
    "job_id >= (SELECT first_job_id FROM swf_workflows WHERE workflow_id = {p}) "
    "AND job_id < (SELECT first_job_id + job_count FROM swf_workflows WHERE workflow_id = {p})"
)


def placeholder(connection: Connection) -> str:
    """The DBAPI's positional placeholder (sqlite3: ``?``; psycopg: ``%s``)."""
    return "?" if connection.dialect.paramstyle in ("qmark", "numeric") else "%s"


def is_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def _cursor(connection: Connection) -> Any:
    """A raw cursor of the driver (sqlite3 or psycopg) inside the connection's transaction."""
    return connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


#: Built once: ``json.dumps`` with any option builds a new encoder per call, and the
#: engine dumps three values per job change.
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dump_json(value: Any) -> str | None:
    return None if value is None else _ENCODER.encode(value)


def load_json(value: Any) -> Any:
    """SQLite gives JSON back as text; psycopg has already decoded it."""
    return json.loads(value) if isinstance(value, str) else value


def insert_jobs(connection: Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    """Insert new job rows (``NEW_JOB_COLUMNS`` order): ``COPY`` on PostgreSQL,
    chunked ``executemany`` elsewhere."""
    columns = ", ".join(NEW_JOB_COLUMNS)
    cursor = _cursor(connection)
    try:
        if is_postgresql(connection):
            with cursor.copy(f"COPY swf_jobs ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(placeholder(connection) for _ in NEW_JOB_COLUMNS)
        sql = f"INSERT INTO swf_jobs ({columns}) VALUES ({marks})"
        iterator = iter(rows)
        while chunk := list(islice(iterator, CHUNK_ROWS)):
            cursor.executemany(sql, chunk)
    finally:
        cursor.close()


def insert_jobs_sqlite(
    connection: Connection,
    jobs: Sequence[tuple[str, int, bool]],
    workflow_id: int,
    first_job_id: int,
    status: str,
) -> None:
    """Insert a workflow's new job rows on SQLite: ``(name, priority, is_barrier)`` per job
    in index order, ids ``first_job_id + index``.

    One statement over a JSON array (``json_each``) rather than ``executemany``: the same
    cost for SQLite, but the driver releases the GIL once for the whole insert instead of
    once per row, so the submission's checks run on the other core meanwhile (with a GIL
    round trip per row, the two threads took turns).
    """
    rows = _ROWS_ENCODER.encode(jobs)
    cursor = _cursor(connection)
    try:
        cursor.execute(_SQLITE_INSERT_JOBS, (first_job_id, workflow_id, status, rows))
    finally:
        cursor.close()


_ROWS_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)
_SQLITE_INSERT_JOBS = (
    "INSERT INTO swf_jobs (job_id, workflow_id, job_index, name, priority, is_barrier, status) "
    "SELECT ? + key, ?, key, json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
    "json_extract(value, '$[2]'), ? FROM json_each(?)"
)


def update_job_states(cursor: Any, rows: Sequence[tuple[Any, ...]], postgresql: bool) -> bool:
    """Rewrite whole JobStates, rows in ``(change_seq, *JOB_STATE_COLUMNS, job_id)`` order
    with JSON already dumped; the last row of a job wins. False when a job id was unknown.
    ``cursor``: the driver's, inside a write transaction (``driver_write_transaction``)."""
    if postgresql:
        return _update_job_states_postgresql(cursor, rows)
    cursor.executemany(_SQLITE_UPDATE_STATES, rows)
    return int(cursor.rowcount) == len(rows)


_SQLITE_UPDATE_STATES = "UPDATE swf_jobs SET {} WHERE job_id = ?".format(
    ", ".join(f"{name} = ?" for name in ("change_seq", *JOB_STATE_COLUMNS))
)


def reserve_ids(cursor: Any, postgresql: bool, name: str, count: int) -> int:
    """Reserve ``count`` consecutive ids of the counter ``name``; return the first (the
    counter row stays locked until commit: stamps are committed in order)."""
    mark = "%s" if postgresql else "?"
    cursor.execute(
        f"UPDATE swf_counters SET next_value = next_value + {mark} WHERE name = {mark} "
        f"RETURNING next_value - {mark}",
        (count, name, count),
    )
    return int(cursor.fetchone()[0])


def update_workflow_statuses(
    cursor: Any, postgresql: bool, rows: Sequence[tuple[str, int]]
) -> None:
    """Set workflow statuses, rows as ``(status, workflow_id)``."""
    mark = "%s" if postgresql else "?"
    cursor.executemany(f"UPDATE swf_workflows SET status = {mark} WHERE workflow_id = {mark}", rows)


def known_job_ids(cursor: Any, postgresql: bool, job_ids: Sequence[int]) -> set[int]:
    """Which of ``job_ids`` exist (an error path: chunks of 500 ids per statement)."""
    mark = "%s" if postgresql else "?"
    known: set[int] = set()
    for start in range(0, len(job_ids), 500):
        chunk = job_ids[start : start + 500]
        marks = ", ".join(mark for _ in chunk)
        cursor.execute(f"SELECT job_id FROM swf_jobs WHERE job_id IN ({marks})", chunk)
        known.update(int(row[0]) for row in cursor.fetchall())
    return known


#: PostgreSQL array type of each JobState column, then of job_id.
_PG_STATE_TYPES = (
    "text",  # status
    "text",  # exit_status
    "int",  # exit_value
    "int",  # term_signal
    "text",  # resource_usage
    "text",  # scheduler_job_id
    "float8",  # submission_date
    "float8",  # execution_date
    "float8",  # ending_date
    "text",  # command (JSON text)
    "text",  # stdout_file
    "text",  # stderr_file
    "text",  # output_params (JSON text)
    "text",  # queue
    "int",  # attempt
    "text",  # past_attempts (JSON text)
    "bigint",  # job_id
)
_PG_JSON_COLUMNS = frozenset({"command", "output_params", "past_attempts"})


def _update_job_states_postgresql(cursor: Any, rows: Sequence[tuple[Any, ...]]) -> bool:
    """One ``UPDATE ... FROM unnest(arrays)``: the batch travels as one array per column in
    one statement (executemany would be one statement per job, pipelined or not)."""
    latest = {row[-1]: row for row in rows}
    columns = list(zip(*latest.values(), strict=True))
    arrays = [
        [None if value is None else _PG_COERCE[kind](value) for value in column]
        for kind, column in zip(_PG_STATE_TYPES, columns[1:], strict=True)
    ]
    names = (*JOB_STATE_COLUMNS, "job_id")
    assignments = ", ".join(
        f"{name} = v.{name}::json" if name in _PG_JSON_COLUMNS else f"{name} = v.{name}"
        for name in JOB_STATE_COLUMNS
    )
    sources = ", ".join(f"%s::{kind}[]" for kind in _PG_STATE_TYPES)
    sql = (
        f"UPDATE swf_jobs AS j SET change_seq = %s::bigint, {assignments} "
        f"FROM unnest({sources}) AS v({', '.join(names)}) WHERE j.job_id = v.job_id"
    )
    cursor.execute(sql, [max(columns[0]), *arrays], binary=True)
    return int(cursor.rowcount) == len(latest)


#: Values as their PostgreSQL array type expects them (an int date in a float8 array).
_PG_COERCE: dict[str, Any] = {"text": str, "int": int, "float8": float, "bigint": int}


def read_jobs(
    connection: Connection, workflow_id: int, columns: Sequence[str]
) -> list[tuple[Any, ...]]:
    """The ``columns`` of every job of a workflow, in index order (one statement)."""
    mark = placeholder(connection)
    if is_postgresql(connection):
        # JSON as text: json.loads is several times faster than psycopg's JSON loader.
        columns = [f"{name}::text" if name in _PG_JSON_COLUMNS else name for name in columns]
    sql = (
        f"SELECT {', '.join(columns)} FROM swf_jobs "
        f"WHERE {_WORKFLOW_RANGE.format(p=mark)} ORDER BY job_id"
    )
    cursor = _cursor(connection)
    try:
        cursor.execute(sql, (workflow_id, workflow_id))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def read_changed_jobs(
    connection: Connection, workflow_id: int, columns: Sequence[str], since: int
) -> list[tuple[Any, ...]]:
    """The ``columns`` of the workflow's jobs stamped after change ``since``, in index
    order (one statement on the ``(workflow_id, change_seq)`` index)."""
    mark = placeholder(connection)
    sql = (
        f"SELECT {', '.join(columns)} FROM swf_jobs "
        f"WHERE workflow_id = {mark} AND change_seq > {mark} ORDER BY job_id"
    )
    cursor = _cursor(connection)
    try:
        cursor.execute(sql, (workflow_id, since))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def read_status_column(connection: Connection, workflow_id: int) -> tuple[int, str] | None:
    """(first job id, the statuses of the workflow's jobs joined by commas in index
    order), or None for an unknown workflow.

    One string instead of a million rows: the database concatenates, Python splits, and
    no per-row tuple is ever built (the cost that dominates reading a million rows).
    """
    mark = placeholder(connection)
    in_range = "j.job_id >= w.first_job_id AND j.job_id < w.first_job_id + w.job_count"
    if is_postgresql(connection):
        statuses = (
            f"SELECT string_agg(status, ',' ORDER BY job_id) FROM swf_jobs AS j WHERE {in_range}"
        )
    else:
        # SQLite before 3.44 has no ORDER BY inside an aggregate; it concatenates in the
        # order of an ordered subquery (here a rowid range, read in order anyway).
        statuses = (
            "SELECT group_concat(status, ',') FROM "
            f"(SELECT status FROM swf_jobs AS j WHERE {in_range} ORDER BY j.job_id)"
        )
    sql = (
        f"SELECT w.first_job_id, ({statuses}) FROM swf_workflows AS w WHERE w.workflow_id = {mark}"
    )
    cursor = _cursor(connection)
    try:
        cursor.execute(sql, (workflow_id,))
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row is None:
        return None
    return int(row[0]), row[1] or ""
