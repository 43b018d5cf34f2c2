"""The SQLAlchemy store: ``WorkflowStore`` on a SQLite file (WAL) or PostgreSQL."""

from swf_adapters.store.migrations import LATEST_VERSION
from swf_adapters.store.sqlalchemy_store import (
    JobChanges,
    JobStatusList,
    JobSummary,
    SqlAlchemyStore,
    open_store,
)

__all__ = [
    "LATEST_VERSION",
    "JobChanges",
    "JobStatusList",
    "JobSummary",
    "SqlAlchemyStore",
    "open_store",
]
