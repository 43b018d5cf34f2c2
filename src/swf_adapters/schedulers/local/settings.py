"""Defaults shared by the job host and the adapter that starts it."""

#: A host with nothing to do and nobody connected leaves after this many seconds.
DEFAULT_IDLE_TIMEOUT = 60.0
#: Seconds between SIGTERM and SIGKILL when a job's tree is killed.
DEFAULT_KILL_GRACE = 2.0
