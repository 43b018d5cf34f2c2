"""Typed errors, under one base, with soma-workflow's exception names.

Every message names its culprit (job, field, file, line) so a user can fix the input
without reading a traceback.
"""

from __future__ import annotations

#: Integers longer than this many bits cannot be written as decimal text by Python (its
#: 4300-digit limit), so they cannot be an argument, and messages must not print them.
MAX_INT_BITS = 14_000


def shown(value: object) -> str:
    """``repr(value)`` for a message, whatever the value: an integer too long to print,
    a broken ``__repr__`` or a huge container still give a short text."""
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        return f"an integer of {value.bit_length()} bits"
    try:
        text = repr(value)
    except Exception:  # an integer too long deep inside, a broken __repr__
        return f"a {type(value).__name__}"
    return text if len(text) <= 200 else text[:200] + "..."


class SomaWorkflowError(Exception):
    """Base of every error swf raises on purpose (soma-workflow's base name)."""


#: swf's own name for the base class.
SwfError = SomaWorkflowError


class WorkflowError(SomaWorkflowError):
    """The workflow as a whole is invalid (dependency, cycle, param link, group)."""


class JobError(SomaWorkflowError):
    """One job is invalid (empty command, bad parallel_job_info, missing %(name)s value)."""


class SerializationError(SomaWorkflowError):
    """A workflow document cannot be read or written (names the field or element)."""


class UnknownObjectError(SomaWorkflowError):
    """A workflow, job or transfer id that does not exist (or is not the user's)."""


class ConfigurationError(SomaWorkflowError):
    """A configuration file or option is invalid (names the file, section and option)."""


class CorruptStoreError(ConfigurationError):
    """The store's file is damaged, truncated or not an swf database: the message names
    the file and what to do; swf never replaces it with an empty one."""


class TransferError(SomaWorkflowError):
    """A file transfer failed or would escape its directory."""


class TransferEscapeError(TransferError):
    """A transferred name would leave its transfer directory (``..``, an absolute path, a
    symbolic link): refused before anything is written. ``path`` names the culprit."""

    def __init__(self, path: str, reason: str | None = None) -> None:
        # One argument: a message already made (as the error arrives through a link).
        super().__init__(path if reason is None else f"file transfer refused: {path!r} {reason}")
        self.path = path if reason is not None else None


class TransferInterruptedError(TransferError):
    """The connection carrying a transfer was lost: what was copied is kept, and the
    transfer resumes from there when it is started again."""


class EngineError(SomaWorkflowError):
    """The engine cannot be reached or refused a request."""


class ConnectionError(SomaWorkflowError):
    """A client cannot connect to the engine or the remote resource."""


class RemoteConnectionError(ConnectionError):
    """The SSH connection to a remote resource cannot be opened or was lost for good."""


class HostKeyError(RemoteConnectionError):
    """A remote host presented a key that known_hosts does not hold (unknown or changed).

    ``fingerprint`` is the presented key's SHA256 fingerprint, as OpenSSH prints it: the
    user checks it and accepts it explicitly; swf never adds a host key by itself.
    """

    def __init__(self, message: str, fingerprint: str = "") -> None:
        super().__init__(message)
        self.fingerprint = fingerprint


class RemoteAuthenticationError(RemoteConnectionError):
    """The remote host refused the login (key, passphrase, agent or password)."""


class KeyPassphraseError(RemoteAuthenticationError):
    """The key file is encrypted and no passphrase (``rsa_key_pass``) was given: a client
    on a terminal asks for it, as it does for a password."""


class RemoteInstallError(RemoteConnectionError):
    """swf is missing on the remote resource, or its version cannot talk to this one."""


class DRMError(SomaWorkflowError):
    """The scheduler (local, cluster or MPI) failed to submit, query or kill a job."""


class EngineFilesError(JobError):
    """Jobs whose files or working directory would reach the engine's own files (its
    state directory: store, key, socket, journals), refused at submission.

    ``problems`` names each job, field and path; the message is the first one and how
    many more there are.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "a job file reaches the engine's files"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


class WorkflowArgumentError(WorkflowError, TypeError):
    """A Workflow or Group built from an argument of the wrong type (``jobs`` not a
    list...); names the argument. Also a TypeError, as Python code expects of it."""


class JobArgumentError(JobError, TypeError):
    """A Job or special path built from an argument of the wrong type (``command`` not a
    list...); names the argument. Also a TypeError, as Python code expects of it."""


class JobValidationIssue(JobError):
    """Raised by validation with every problem found, not only the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class WorkflowValidationError(WorkflowError):
    """Validation found several problems; ``problems`` lists each one, culprit first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        first = problems[0] if problems else "invalid workflow"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(first + more)


class DatabaseError(SomaWorkflowError):
    """The store cannot be read or written (soma-workflow's name; names the database)."""


class NoDrmaaLibError(DRMError):
    """No DRMAA library could be loaded (soma-workflow's name, for its DRMAA schedulers)."""


class ExitTimeoutException(SomaWorkflowError):
    """A process did not exit within its allotted time (soma-workflow's name)."""


class InvalidArgumentError(SomaWorkflowError, ValueError):
    """An API call got an argument of the wrong type or range (names the argument)."""
