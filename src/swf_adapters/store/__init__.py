"""The SQLAlchemy store: ``WorkflowStore`` on a SQLite file (WAL) or PostgreSQL."""

from swf_adapters.store.migrations import LATEST_VERSION
from swf_adapters.store.sqlalchemy_store import (
    JobStatusList,
    SqlAlchemyStore,
    open_store,
)
from swf_app.ports import JobChanges, JobSummary

__all__ = [
    "LATEST_VERSION",
    "JobChanges",
    "JobStatusList",
    "JobSummary",
    "SqlAlchemyStore",
    "open_store",
]
