"""What client and server agree on: object id, serializer, URI form, kinds of methods.

Bulky data (the submitted document; the results of ``workflow_document``,
``workflow_elements_status`` and ``workflows``) travels as packed JSON text, see
``wire_data``; everything else as serpent literals.

Queries can be sent again after a lost connection without changing anything; commands
cannot (a lost reply does not tell whether the engine applied them), so the client treats
them differently when the engine goes away mid-call.
"""

from __future__ import annotations

from pathlib import Path

OBJECT_ID = "swf.engine"
SERIALIZER = "serpent"
#: Refusal reason sent to a client whose handshake does not carry the key.
KEY_REFUSED = "swf engine refused the client key"
#: Reason a call is rejected while the engine shuts down (the client reconnects and retries).
SHUTTING_DOWN = "swf engine is shutting down"

QUERY_METHODS = frozenset(
    {
        "workflow_document",
        "workflows",
        "workflow_status",
        "workflow_elements_status",
        "job_status",
        "job_termination_status",
        "job_files",
        "get_job_output_params",
        "status_summary",
        "jobs_info",
        "wait_workflow",
        "wait_job",
        "ping",
        "stats",
    }
)
COMMAND_METHODS = frozenset(
    {
        "submit_workflow",
        "stop_workflow",
        "restart_workflow",
        "delete_workflow",
        "stop_jobs",
        "restart_jobs",
        "change_workflow_expiration_date",
        "shutdown_engine",
    }
)
WAIT_METHODS = frozenset({"wait_workflow", "wait_job"})


def engine_uri(socket_path: Path) -> str:
    """The Pyro URI of the engine object served on ``socket_path``."""
    return f"PYRO:{OBJECT_ID}@./u:{socket_path}"
