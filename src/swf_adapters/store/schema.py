"""The store's tables, as SQLAlchemy Core metadata (the shape at schema version 1).

Later versions are reached through ``migrations`` only, so that every database, fresh or
old, is built by the same steps: read that module for what came after version 1 (the
``(workflow_id, status)`` index; the ``change_seq`` column and its index).

Design choices:
- Ids are integers handed out by ``swf_counters`` (never reused, even after a delete), and
  a workflow's jobs get a contiguous block: ``job_id = first_job_id + job_index``.
- On SQLite ``job_id`` is an ``INTEGER PRIMARY KEY`` (the rowid itself), so the rows of
  one workflow are stored together and read as one rowid range.
- Statuses are stored as soma-workflow's strings; ``command``, ``output_params`` and the
  workflow document are JSON (never pickles), NULL when absent.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

#: 64-bit ids on every backend, but the rowid alias on SQLite (only ``INTEGER`` is one).
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: JSON stored as SQL NULL for Python None (not the JSON literal ``null``).
Json = sa.JSON(none_as_null=True)

metadata = sa.MetaData()

schema_version = sa.Table(
    "swf_schema_version",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

#: One row per id sequence ("workflow", "job"): the next id to hand out.
counters = sa.Table(
    "swf_counters",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("next_value", sa.BigInteger, nullable=False),
)

workflows = sa.Table(
    "swf_workflows",
    metadata,
    sa.Column("workflow_id", Id, primary_key=True, autoincrement=False),
    sa.Column("user", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("queue", sa.Text, nullable=True),
    sa.Column("expiration_date", sa.Double, nullable=True),
    sa.Column("submission_date", sa.Double, nullable=True),
    sa.Column("job_count", sa.Integer, nullable=False),
    sa.Column("first_job_id", sa.BigInteger, nullable=False),
    sa.Column("document", Json, nullable=True),
    sa.Index("ix_swf_workflows_user", "user"),
    sa.Index("ix_swf_workflows_expiration", "expiration_date"),
    sa.Index("ix_swf_workflows_status", "status"),
)

jobs = sa.Table(
    "swf_jobs",
    metadata,
    sa.Column("job_id", Id, primary_key=True, autoincrement=False),
    sa.Column(
        "workflow_id",
        sa.BigInteger,
        sa.ForeignKey("swf_workflows.workflow_id"),
        nullable=False,
    ),
    sa.Column("job_index", sa.Integer, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("is_barrier", sa.Boolean, nullable=False),
    # -- JobState, rewritten whole by every update ---------------------------------------
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("exit_status", sa.String(32), nullable=True),
    sa.Column("exit_value", sa.Integer, nullable=True),
    sa.Column("term_signal", sa.Integer, nullable=True),
    sa.Column("resource_usage", sa.Text, nullable=True),
    sa.Column("scheduler_job_id", sa.Text, nullable=True),
    sa.Column("submission_date", sa.Double, nullable=True),
    sa.Column("execution_date", sa.Double, nullable=True),
    sa.Column("ending_date", sa.Double, nullable=True),
    sa.Column("command", Json, nullable=True),
    sa.Column("stdout_file", sa.Text, nullable=True),
    sa.Column("stderr_file", sa.Text, nullable=True),
    sa.Column("output_params", Json, nullable=True),
    sa.Column("queue", sa.Text, nullable=True),
    sa.UniqueConstraint("workflow_id", "job_index", name="uq_swf_jobs_workflow_index"),
)

#: Columns that migrations added after version 1, usable in statements (the tables above
#: keep their version-1 shape: see ``migrations``).
workflow_working_directory = sa.column("working_directory", sa.Text)
#: v6: how many file transfers the workflow's document declares (NULL: stored before v6).
workflow_transfer_count = sa.column("transfer_count", sa.Integer)
#: v5: the job's attempt number (1 = first) and the exit info of its earlier attempts.
job_attempt = sa.column("attempt", sa.Integer)
job_past_attempts = sa.column("past_attempts", Json)
_LATER_JOB_COLUMNS: dict[str, sa.ColumnClause[Any]] = {
    "attempt": job_attempt,
    "past_attempts": job_past_attempts,
}


def job_column(name: str) -> sa.ColumnClause[Any]:
    """A swf_jobs column by name, whether version 1 had it or a migration added it."""
    later = _LATER_JOB_COLUMNS.get(name)
    return jobs.c[name] if later is None else later


#: The JobState columns, in JobState's field order (one UPDATE writes them all).
JOB_STATE_COLUMNS: tuple[str, ...] = (
    "status",
    "exit_status",
    "exit_value",
    "term_signal",
    "resource_usage",
    "scheduler_job_id",
    "submission_date",
    "execution_date",
    "ending_date",
    "command",
    "stdout_file",
    "stderr_file",
    "output_params",
    "queue",
    "attempt",
    "past_attempts",
)
