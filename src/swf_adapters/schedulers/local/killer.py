"""Ending a job's whole process tree: its process group, then any descendant that left it.

A job leads its own session and process group (``setsid`` at spawn), so one ``killpg``
reaches everything that stayed in the group; descendants that started their own session
are found through the parent links (psutil) before anything is signalled, because a
child whose parent dies is re-parented and cannot be traced back any more. SIGTERM first,
SIGKILL to what is left after a grace period.

Every signal is guarded against pid reuse: psutil ``Process`` objects check their
creation time before signalling, and a process group is signalled only while its leader
is the job's own process or no process holds that pid (a group id cannot be handed out
again while any member of the group lives).
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass, field

import psutil

from swf_adapters.schedulers.local.layout import is_gone

#: Tolerance when matching a journaled start time against psutil's creation time (the
#: boot time psutil adds is rounded to the second).
START_TIME_TOLERANCE = 2.0


@dataclass(slots=True)
class TreeKill:
    """A kill in progress: what was signalled and until when to wait before SIGKILL."""

    job_id: int
    #: The job's session and process group id (its leader's pid).
    group: int
    #: The leader as psutil saw it when the kill began (None if it had already gone).
    leader: psutil.Process | None
    deadline: float
    #: True for a job the host does not own (found running after a host crash).
    orphan: bool = False
    escalated: bool = False
    members: dict[int, psutil.Process] = field(default_factory=dict)


def begin_kill(job_id: int, group: int, deadline: float, orphan: bool = False) -> TreeKill:
    """Snapshot the job's tree, send it SIGTERM and return the kill to follow up."""
    try:
        leader: psutil.Process | None = psutil.Process(group)
    except psutil.Error:
        leader = None
    kill = TreeKill(job_id, group, leader, deadline, orphan)
    _collect_members(kill)
    _signal_tree(kill, signal.SIGTERM)
    return kill


def escalate(kill: TreeKill, deadline: float) -> None:
    """SIGKILL what is left of the tree, including children forked since the snapshot."""
    _collect_members(kill)
    _signal_tree(kill, signal.SIGKILL)
    kill.escalated = True
    kill.deadline = deadline


def tree_gone(kill: TreeKill) -> bool:
    """True when no process of the tree runs any more (zombies count as gone)."""
    if any(not is_gone(member) for member in kill.members.values()):
        return False
    return not _group_alive(kill)


def leader_gone(kill: TreeKill) -> bool:
    return kill.leader is None or is_gone(kill.leader)


def orphan_still_running(pid: int, start: float) -> bool:
    """True when ``pid`` is still the journaled job: a session leader born at ``start``."""
    try:
        process = psutil.Process(pid)
        return (
            abs(process.create_time() - start) < START_TIME_TOLERANCE
            and os.getsid(pid) == pid
            and not is_gone(process)
        )
    except (psutil.Error, OSError):
        return False


def _collect_members(kill: TreeKill) -> None:
    """Add every live descendant of the tree and every process of the job's session."""
    children_of: dict[int, list[int]] = {}
    session: list[int] = []
    # Once the leader's pid went to another process, its session id is not ours.
    by_session = _group_is_ours(kill)
    for process in psutil.process_iter(["ppid"]):
        children_of.setdefault(process.info["ppid"], []).append(process.pid)
        if by_session:
            with contextlib.suppress(OSError):
                if os.getsid(process.pid) == kill.group:
                    session.append(process.pid)
    roots = [pid for pid, member in kill.members.items() if member.is_running()] + session
    if by_session:
        roots.append(kill.group)
    pending = list(roots)
    seen: set[int] = set()
    while pending:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        pending.extend(children_of.get(pid, ()))
    seen.discard(os.getpid())
    for pid in seen:
        if pid in kill.members or pid == kill.group:
            continue
        with contextlib.suppress(psutil.Error):
            kill.members[pid] = psutil.Process(pid)


def _signal_tree(kill: TreeKill, sig: int) -> None:
    if _group_is_ours(kill):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(kill.group, sig)
    for member in list(kill.members.values()):
        with contextlib.suppress(psutil.Error):
            member.send_signal(sig)


def _group_is_ours(kill: TreeKill) -> bool:
    if not psutil.pid_exists(kill.group):
        return True
    return kill.leader is not None and kill.leader.is_running()


def _group_alive(kill: TreeKill) -> bool:
    """True while some live (non-zombie) process belongs to the job's process group."""
    if not _group_is_ours(kill):
        return False
    try:
        os.killpg(kill.group, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # killpg(0) also succeeds for zombies: look at the members themselves.
    for process in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(process.pid) == kill.group and not is_gone(process):
                return True
    return False
