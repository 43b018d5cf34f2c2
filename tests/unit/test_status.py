"""The status enums carry soma-workflow's strings exactly, and the rules derived from them."""

from swf_domain.status import (
    JOB_TRANSITIONS,
    ExitStatus,
    JobStatus,
    TransferStatus,
    WorkflowStatus,
    derive_workflow_status,
    is_legal_transition,
)


def test_values_are_soma_workflows_strings() -> None:
    assert WorkflowStatus.NOT_STARTED == "worklflow_not_started"  # soma's typo, on purpose
    assert WorkflowStatus.DONE.value == "workflow_done"
    assert JobStatus.QUEUED_ACTIVE.value == "queued_active"
    assert ExitStatus.EXIT_NOTRUN.value == "aborted_before_running"
    assert ExitStatus.USER_KILLED.value == "killed_by_user"
    assert TransferStatus.FILES_ON_CLIENT.value == "on client side"
    assert str(JobStatus.DONE) == "done"


def test_every_status_has_a_transition_row() -> None:
    assert set(JOB_TRANSITIONS) == set(JobStatus)


def test_transitions() -> None:
    assert is_legal_transition(JobStatus.NOT_SUBMITTED, JobStatus.SUBMISSION_PENDING)
    assert is_legal_transition(JobStatus.RUNNING, JobStatus.DONE)
    assert is_legal_transition(JobStatus.FAILED, JobStatus.NOT_SUBMITTED)  # restart
    assert not is_legal_transition(JobStatus.DONE, JobStatus.RUNNING)
    assert not is_legal_transition(JobStatus.DELETE_PENDING, JobStatus.NOT_SUBMITTED)


def test_workflow_status_derivation() -> None:
    d = derive_workflow_status
    assert d([JobStatus.NOT_SUBMITTED] * 3) is WorkflowStatus.NOT_STARTED
    assert d([JobStatus.DONE, JobStatus.NOT_SUBMITTED]) is WorkflowStatus.IN_PROGRESS
    assert d([JobStatus.RUNNING, JobStatus.NOT_SUBMITTED]) is WorkflowStatus.IN_PROGRESS
    assert d([JobStatus.DONE, JobStatus.FAILED]) is WorkflowStatus.DONE
    assert d([JobStatus.DONE, JobStatus.DELETE_PENDING]) is WorkflowStatus.DELETE_PENDING
    assert d([]) is WorkflowStatus.DONE
