"""soma-workflow's ``constants`` module: every status string as a module-level name.

The values are swf's enums' (``swf_domain.status``), which are soma-workflow's strings
exactly, so ``if status == constants.DONE`` works unchanged; the lists keep soma's order.
"""

from __future__ import annotations

from swf_domain.status import ExitStatus, JobStatus, TransferStatus, WorkflowStatus

__all__ = [
    "DELETE_PENDING",
    "DONE",
    "EXIT_ABORTED",
    "EXIT_NOTRUN",
    "EXIT_UNDETERMINED",
    "FAILED",
    "FILES_DO_NOT_EXIST",
    "FILES_ON_CLIENT",
    "FILES_ON_CLIENT_AND_CR",
    "FILES_ON_CR",
    "FILES_UNDER_EDITION",
    "FILE_TRANSFER_STATUS",
    "FINISHED_REGULARLY",
    "FINISHED_TERM_SIG",
    "FINISHED_UNCLEAR_CONDITIONS",
    "JOB_EXIT_STATUS",
    "JOB_STATUS",
    "KILL_PENDING",
    "NOT_SUBMITTED",
    "QUEUED_ACTIVE",
    "RUNNING",
    "SUBMISSION_PENDING",
    "SYSTEM_ON_HOLD",
    "SYSTEM_SUSPENDED",
    "TRANSFERING_FROM_CLIENT_TO_CR",
    "TRANSFERING_FROM_CR_TO_CLIENT",
    "TRANSFER_TYPES",
    "TR_DIR_CR_TO_C",
    "TR_DIR_C_TO_CR",
    "TR_FILE_CR_TO_C",
    "TR_FILE_C_TO_CR",
    "TR_MFF_CR_TO_C",
    "TR_MFF_C_TO_CR",
    "UNDETERMINED",
    "USER_KILLED",
    "USER_ON_HOLD",
    "USER_SUSPENDED",
    "USER_SYSTEM_ON_HOLD",
    "USER_SYSTEM_SUSPENDED",
    "WARNING",
    "WORKFLOW_DONE",
    "WORKFLOW_IN_PROGRESS",
    "WORKFLOW_NOT_STARTED",
    "WORKFLOW_STATUS",
]

# -- job status -------------------------------------------------------------------------
NOT_SUBMITTED: str = JobStatus.NOT_SUBMITTED.value
UNDETERMINED: str = JobStatus.UNDETERMINED.value
QUEUED_ACTIVE: str = JobStatus.QUEUED_ACTIVE.value
SYSTEM_ON_HOLD: str = JobStatus.SYSTEM_ON_HOLD.value
USER_ON_HOLD: str = JobStatus.USER_ON_HOLD.value
USER_SYSTEM_ON_HOLD: str = JobStatus.USER_SYSTEM_ON_HOLD.value
RUNNING: str = JobStatus.RUNNING.value
SYSTEM_SUSPENDED: str = JobStatus.SYSTEM_SUSPENDED.value
USER_SUSPENDED: str = JobStatus.USER_SUSPENDED.value
USER_SYSTEM_SUSPENDED: str = JobStatus.USER_SYSTEM_SUSPENDED.value
DONE: str = JobStatus.DONE.value
FAILED: str = JobStatus.FAILED.value
DELETE_PENDING: str = JobStatus.DELETE_PENDING.value
KILL_PENDING: str = JobStatus.KILL_PENDING.value
SUBMISSION_PENDING: str = JobStatus.SUBMISSION_PENDING.value
WARNING: str = JobStatus.WARNING.value
JOB_STATUS: list[str] = [status.value for status in JobStatus]

# -- job exit status --------------------------------------------------------------------
EXIT_UNDETERMINED: str = ExitStatus.EXIT_UNDETERMINED.value
EXIT_ABORTED: str = ExitStatus.EXIT_ABORTED.value
EXIT_NOTRUN: str = ExitStatus.EXIT_NOTRUN.value
FINISHED_REGULARLY: str = ExitStatus.FINISHED_REGULARLY.value
FINISHED_TERM_SIG: str = ExitStatus.FINISHED_TERM_SIG.value
FINISHED_UNCLEAR_CONDITIONS: str = ExitStatus.FINISHED_UNCLEAR_CONDITIONS.value
USER_KILLED: str = ExitStatus.USER_KILLED.value
JOB_EXIT_STATUS: list[str] = [
    EXIT_UNDETERMINED,
    EXIT_ABORTED,
    FINISHED_REGULARLY,
    FINISHED_TERM_SIG,
    FINISHED_UNCLEAR_CONDITIONS,
    USER_KILLED,
    EXIT_NOTRUN,
]

# -- file transfer status ---------------------------------------------------------------
FILES_DO_NOT_EXIST: str = TransferStatus.FILES_DO_NOT_EXIST.value
FILES_ON_CLIENT: str = TransferStatus.FILES_ON_CLIENT.value
FILES_ON_CR: str = TransferStatus.FILES_ON_CR.value
FILES_ON_CLIENT_AND_CR: str = TransferStatus.FILES_ON_CLIENT_AND_CR.value
TRANSFERING_FROM_CLIENT_TO_CR: str = TransferStatus.TRANSFERING_FROM_CLIENT_TO_CR.value
TRANSFERING_FROM_CR_TO_CLIENT: str = TransferStatus.TRANSFERING_FROM_CR_TO_CLIENT.value
FILES_UNDER_EDITION: str = TransferStatus.FILES_UNDER_EDITION.value
FILE_TRANSFER_STATUS: list[str] = [status.value for status in TransferStatus]

# -- transfer types (soma-workflow's strings, typos included) ---------------------------
TR_FILE_C_TO_CR = "file transfer form client to cr"
TR_DIR_C_TO_CR = "dir transfer from client to cr"
TR_MFF_C_TO_CR = "multi file format from client to cr"
TR_FILE_CR_TO_C = "file transfer form cr to client"
TR_DIR_CR_TO_C = "dir transfer from cr to client"
TR_MFF_CR_TO_C = "multi file format from cr to client"
TRANSFER_TYPES: list[str] = [
    TR_FILE_C_TO_CR,
    TR_DIR_C_TO_CR,
    TR_MFF_C_TO_CR,
    TR_FILE_CR_TO_C,
    TR_DIR_CR_TO_C,
    TR_MFF_CR_TO_C,
]

# -- workflow status --------------------------------------------------------------------
WORKFLOW_NOT_STARTED: str = WorkflowStatus.NOT_STARTED.value
WORKFLOW_IN_PROGRESS: str = WorkflowStatus.IN_PROGRESS.value
WORKFLOW_DONE: str = WorkflowStatus.DONE.value
WORKFLOW_STATUS: list[str] = [status.value for status in WorkflowStatus]
