"""A stand-in PBS server for tests: ``qsub`` / ``qstat`` / ``qdel`` that speak PBS Pro
(OpenPBS 22.05) or Torque (6.1), and a tiny server that really runs the job scripts.

No PBS server can be installed on this machine. This stand-in lets the PBS adapter run
the same scenarios as on the real SLURM and Grid Engine: ``standin.py`` writes shims
(``qsub``, ``qstat``, ``qdel``) that call ``fakepbs.py --state DIR COMMAND ARGS`` and
starts ``fakepbs.py --state DIR serve``. Everything is kept in DIR, under one file lock:

    DIR/server.json      flavor, server name, cores, queues, history seconds, memory
    DIR/jobs/N.json      one job (array or plain): its tasks' states and exit statuses
    DIR/spool/N.sh       the script as qsub read it (PBS copies it at submission)
    DIR/calls.log        one line per command call (what a test or benchmark counts)
    DIR/frozen           present: the scheduler starts nothing (tests drive the states)
    DIR/paused           present: every command waits (a server that does not answer)
    DIR/down             present: every command fails to connect

The output formats (JSON of ``qstat -f -F json``, Torque's XML, ids ``12[3].server``,
messages and exit codes) follow tests/unit/data/pbs/SOURCES.md. Standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

PBSE_UNKJOBID = 15001 & 0xFF  # 153, as qstat/qdel exit for an unknown id
PBSE_HISTJOBID = 15139 & 0xFF  # 35: a finished job asked for without -x
PBSE_UNKQUE = 15018 & 0xFF
PBSE_UNKRESC = 15082 & 0xFF
PBSE_EXCQRESC = 15038 & 0xFF
CONNECT_FAILED = 15010 & 0xFF
KILL_DELAY = 2.0
#: The server's parsed jobs by file name, with the stamp of the file they came from.
Cache = dict[str, tuple[int, dict[str, Any]]]
KNOWN_RESOURCES = {"select", "ncpus", "mem", "walltime", "place", "nodes", "ppn", "host"}


# -- state ------------------------------------------------------------------------------


class State:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs_dir = root / "jobs"
        self.config: dict[str, Any] = json.loads((root / "server.json").read_text())

    @property
    def flavor(self) -> str:
        return str(self.config["flavor"])

    @property
    def server(self) -> str:
        return str(self.config["server"])

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        with open(self.root / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def jobs(
        self, cache: dict[str, tuple[int, dict[str, Any]]] | None = None
    ) -> list[dict[str, Any]]:
        """Every job; with ``cache`` (the server's), a file is parsed again only once
        it changed (the server looks at every job 20 times a second)."""
        found = []
        for path in sorted(self.jobs_dir.glob("*.json"), key=lambda p: int(p.stem)):
            with contextlib.suppress(OSError, ValueError):
                found.append(self._read(path, cache))
        return found

    def _read(self, path: Path, cache: Cache | None) -> dict[str, Any]:
        if cache is None:
            return dict(json.loads(path.read_text()))
        status = path.stat()  # every save is a new file (rename): a new inode
        stamp = hash((status.st_ino, status.st_mtime_ns, status.st_size))
        known = cache.get(path.name)
        if known is None or known[0] != stamp:
            known = (stamp, json.loads(path.read_text()))
            cache[path.name] = known
        return known[1]

    def save(self, job: dict[str, Any]) -> None:
        path = self.jobs_dir / f"{job['number']}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(job))
        os.replace(temporary, path)

    def forget(self, job: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            (self.jobs_dir / f"{job['number']}.json").unlink()

    def next_number(self) -> int:
        counter = self.root / "sequence"
        number = int(counter.read_text()) + 1 if counter.exists() else 1000
        counter.write_text(str(number))
        return number


def task_id(job: dict[str, Any], index: str, server: str) -> str:
    if job["array"] is None:
        return f"{job['number']}.{server}"
    return f"{job['number']}[{index}].{server}"


# -- qsub -------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def parse_qsub(flavor: str, args: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"resources": [], "export": False, "names": {}}
    with_value = {"-N", "-o", "-e", "-j", "-q", "-l", "-J", "-t", "-v", "-W", "-A", "-r", "-a"}
    position = 0
    while position < len(args) - 1:
        flag = args[position]
        if flag == "-V":
            options["export"] = True
            position += 1
            continue
        if flag not in with_value or (flag == "-J" and flavor != "pbspro"):
            raise Refused(f"qsub: invalid option -- '{flag.lstrip('-')[:1]}'\nusage: qsub ...", 2)
        value = args[position + 1]
        if flag == "-l":
            options["resources"].extend(value.split(","))
        else:
            options["names"][flag] = value
        position += 2
    if not args or args[-1].startswith("-"):
        raise Refused("qsub: no script file", 2)
    options["script"] = args[-1]
    return options


def variables(names: dict[str, str]) -> dict[str, str]:
    """``-v NAME=value,NAME2=value2`` (PBS passes a bare NAME from qsub's environment)."""
    found = {}
    for item in filter(None, names.get("-v", "").split(",")):
        name, equals, value = item.partition("=")
        found[name] = value if equals else os.environ.get(name, "")
    return found


def array_indices(flavor: str, names: dict[str, str]) -> list[int] | None:
    text = names.get("-J" if flavor == "pbspro" else "-t")
    if text is None:
        return None
    match = re.fullmatch(r"(\d+)-(\d+)(?::(\d+))?", text.split("%")[0])
    if flavor == "torque" and match is None and text.isdigit():
        return [int(text)]
    if match is None or int(match.group(1)) >= int(match.group(2)):
        raise Refused("qsub: illegal -J value" if flavor == "pbspro" else "qsub: bad -t", 2)
    first, last, step = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
    return list(range(first, last + 1, step))


def resources(state: State, requested: list[str]) -> dict[str, Any]:
    """ncpus per chunk x chunks, memory and walltime, checked against the server."""
    found: dict[str, Any] = {"ncpus": 1, "nodes": 1, "walltime": None, "mem": 0}
    for item in requested:
        name, _, value = item.partition("=")
        if name not in KNOWN_RESOURCES:
            raise Refused(f"qsub: Unknown resource Resource_List.{name}", PBSE_UNKRESC)
        _read_resource(found, name, value)
    if found["ncpus"] * found["nodes"] > int(state.config["cores"]) or found["mem"] > int(
        state.config["mem_kb"]
    ):
        raise Refused("qsub: Job exceeds queue and/or server resource limits", PBSE_EXCQRESC)
    return found


def _read_resource(found: dict[str, Any], name: str, value: str) -> None:
    if name == "select" or name == "nodes":  # 2:ncpus=4:mpiprocs=4 / 2:ppn=4
        parts = value.split(":")
        found["nodes"] = int(parts[0]) if parts[0].isdigit() else 1
        for part in parts[1:]:
            key, _, amount = part.partition("=")
            if key in ("ncpus", "ppn"):
                found["ncpus"] = int(amount)
    elif name == "ncpus":
        found["ncpus"] = int(value)
    elif name == "walltime":
        found["walltime"] = _seconds(value)
    elif name == "mem":
        found["mem"] = _kilobytes(value)


def _seconds(text: str) -> int:
    total = 0
    for part in text.split(":"):
        total = total * 60 + int(part)
    return total


def _kilobytes(text: str) -> int:
    match = re.fullmatch(r"(\d+)([kmgt]?)b?", text.lower())
    if match is None:
        raise Refused(f"qsub: Illegal attribute or resource value Resource_List.mem={text}", 2)
    scale = {"": 1 / 1024, "k": 1, "m": 1024, "g": 1024**2, "t": 1024**3}[match.group(2)]
    return int(int(match.group(1)) * scale)


def qsub(state: State, args: list[str]) -> int:
    options = parse_qsub(state.flavor, args)
    names = options["names"]
    queue = names.get("-q", state.config["queues"][0])
    if queue not in state.config["queues"]:
        raise Refused(f"qsub: Unknown queue {queue}", PBSE_UNKQUE)
    indices = array_indices(state.flavor, names)
    asked = resources(state, options["resources"])
    script = Path(options["script"])
    try:
        content = script.read_text()
    except OSError as error:
        raise Refused(f"qsub: script file:: {error.strerror}", 2) from error
    with state.locked():
        number = state.next_number()
        (state.root / "spool" / f"{number}.sh").write_text(content)
        job = new_job(state, number, options, queue, indices, asked)
        job["args"] = " ".join(args)
        state.save(job)
    print(job["id"])
    return 0


def new_job(
    state: State,
    number: int,
    options: dict[str, Any],
    queue: str,
    indices: list[int] | None,
    asked: dict[str, Any],
) -> dict[str, Any]:
    names = options["names"]
    job: dict[str, Any] = {
        "number": number,
        "name": names.get("-N", Path(options["script"]).name),
        "queue": queue,
        "script": options["script"],
        "args": "",
        "env": {**(dict(os.environ) if options["export"] else {}), **variables(names)},
        "workdir": os.getcwd(),
        "output": names.get("-o", ""),
        "array": indices,
        "resources": asked,
        "ctime": time.time(),
        "finished_at": None,
    }
    job["id"] = f"{number}[].{state.server}" if indices is not None else f"{number}.{state.server}"
    keys = [str(i) for i in indices] if indices is not None else ["0"]
    job["tasks"] = {key: {"state": "Q", "exit": None, "delete": False} for key in keys}
    return job


# -- qstat ------------------------------------------------------------------------------


def qstat(state: State, args: list[str]) -> int:
    if args == ["--version"]:
        print("pbs_version = 22.05.11" if state.flavor == "pbspro" else "Version: 6.1.2")
        return 0
    flags = [arg for arg in args if arg.startswith("-")]
    ids = [arg for arg in args if not arg.startswith("-") and arg != "json"]
    if state.flavor == "torque":
        return torque_qstat(state, ids)
    if "-x" in flags and float(state.config["history"]) <= 0:
        # req_stat.c: the whole request is rejected; qstat still exits 0
        for job_id in ids or [""]:
            print(f"qstat: PBS is not configured to maintain job history {job_id}", file=sys.stderr)
        print(pbspro_json(state, [], False))
        return 0
    with state.locked():
        jobs = {job["id"]: job for job in state.jobs()}
    wanted, unknown = select(jobs, ids, state.server)
    history = "-x" in flags
    listed = [job for job in wanted if history or job["finished_at"] is None]
    print(pbspro_json(state, listed, "-t" in flags))
    for job in wanted:
        if job not in listed:
            print(
                f"qstat: {job['id']} Job has finished, use -x or -H to obtain historical job"
                " information",
                file=sys.stderr,
            )
    for job_id in unknown:
        print(f"qstat: Unknown Job Id {job_id}", file=sys.stderr)
    return PBSE_UNKJOBID if unknown else (PBSE_HISTJOBID if len(listed) < len(wanted) else 0)


def torque_qstat(state: State, ids: list[str]) -> int:
    """Torque keeps completed jobs (state C) for ``keep_completed`` seconds (history)."""
    with state.locked():
        jobs = {job["id"]: job for job in state.jobs()}
    wanted, unknown = select(jobs, ids, state.server)
    print(torque_xml(state, wanted))
    for job_id in unknown:
        print(f"qstat: Unknown Job Id Error {job_id}", file=sys.stderr)
    return PBSE_UNKJOBID if unknown else 0


def select(
    jobs: dict[str, dict[str, Any]], ids: list[str], server: str
) -> tuple[list[dict[str, Any]], list[str]]:
    if not ids:
        return list(jobs.values()), []
    found, unknown = [], []
    for job_id in ids:
        full = job_id if "." in job_id else f"{job_id}.{server}"
        job = jobs.get(re.sub(r"\[\d+\]", "[]", full))
        (found.append(job) if job is not None else unknown.append(job_id))
    return found, unknown


def pbspro_json(state: State, jobs: list[dict[str, Any]], subjobs: bool) -> str:
    document: dict[str, Any] = {
        "timestamp": int(time.time()),
        "pbs_version": "22.05.11",
        "pbs_server": state.server,
    }
    entries: dict[str, Any] = {}
    for job in jobs:
        entries[job["id"]] = job_attributes(state, job)
        if job["array"] is not None and subjobs:
            for index, task in job["tasks"].items():
                entries[task_id(job, index, state.server)] = subjob_attributes(state, job, task)
    if entries:
        document["Jobs"] = entries
    return json.dumps(document, indent=4)


def job_attributes(state: State, job: dict[str, Any]) -> dict[str, Any]:
    common = {
        "Job_Name": job["name"],
        "Job_Owner": f"{os.environ.get('USER', 'user')}@{state.server}",
        "queue": job["queue"],
        "server": state.server,
        "Join_Path": "oe",
        "Resource_List": {"ncpus": job["resources"]["ncpus"], "nodect": job["resources"]["nodes"]},
        "Submit_arguments": job["args"],
        "Submit_Host": state.server,
        "ctime": time.ctime(job["ctime"]),
    }
    if job["array"] is None:
        return {**common, **subjob_attributes(state, job, job["tasks"]["0"])}
    counts = {s: sum(t["state"] == s for t in job["tasks"].values()) for s in "QRX"}
    remaining = [int(i) for i, t in job["tasks"].items() if t["state"] == "Q"]
    return {
        **common,
        "job_state": "F"
        if job["finished_at"]
        else ("B" if len(remaining) < len(job["tasks"]) else "Q"),
        "array": "True",
        "array_state_count": (
            f"Queued:{counts['Q']} Running:{counts['R']} Exiting:0 Expired:{counts['X']} "
        ),
        "array_indices_submitted": ranges(job["array"]),
        "array_indices_remaining": ranges(remaining) or "-",
    }


def subjob_attributes(state: State, job: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Job_Name": job["name"],
        "job_state": task["state"],
        "queue": job["queue"],
    }
    if task["state"] == "Q":
        entry["comment"] = "Not Running: scheduling is off" if frozen(state) else "Queued"
    if task["exit"] is not None:
        entry["Exit_status"] = task["exit"]
    if job["array"] is None and task["state"] == "X":
        entry["job_state"] = "F"
    return entry


def torque_xml(state: State, jobs: list[dict[str, Any]]) -> str:
    parts = ['<?xml version="1.0"?>\n<Data>']
    for job in jobs:
        for index, task in job["tasks"].items():
            letter = {"X": "C"}.get(task["state"], task["state"])
            fields = {
                "Job_Id": task_id(job, index, state.server),
                "Job_Name": job["name"] if job["array"] is None else f"{job['name']}-{index}",
                "job_state": letter,
                "queue": job["queue"],
                "server": state.server,
                "submit_args": job["args"],
            }
            if task["exit"] is not None:
                fields["exit_status"] = str(task["exit"])
            parts.append(
                "<Job>"
                + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in fields.items())
                + "</Job>"
            )
    parts.append("</Data>")
    return "".join(parts)


def ranges(indices: list[int]) -> str:
    spans: list[str] = []
    for index in sorted(indices):
        if spans and spans[-1].rsplit("-", 1)[-1] == str(index - 1):
            spans[-1] = f"{spans[-1].split('-')[0]}-{index}"
        else:
            spans.append(str(index))
    return ",".join(spans)


# -- qdel -------------------------------------------------------------------------------


def qdel(state: State, args: list[str]) -> int:
    failed = 0
    with state.locked():
        jobs = {job["id"]: job for job in state.jobs()}
        for job_id in args:
            match = re.match(r"^(\d+)(?:\[(\d*)\])?", job_id)
            job = jobs.get(re.sub(r"\[\d+\]", "[]", job_id))
            if match is None or job is None or job["finished_at"]:
                print(f"qdel: Unknown Job Id {job_id}", file=sys.stderr)
                failed = PBSE_UNKJOBID
                continue
            keys = [match.group(2)] if match.group(2) else list(job["tasks"])
            for key in keys:
                if key in job["tasks"] and job["tasks"][key]["state"] in "QR":
                    job["tasks"][key]["delete"] = True
            state.save(job)
    return failed


# -- the server -------------------------------------------------------------------------


def frozen(state: State) -> bool:
    return (state.root / "frozen").exists()


class Server:
    """Starts queued tasks on free cores, reaps them, applies qdel and walltime, forgets
    finished jobs after the history time."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.running: dict[
            tuple[int, str], tuple[subprocess.Popen[bytes], float, float | None]
        ] = {}
        self.stopping = False
        self.cache: Cache = {}

    def serve(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        while not self.stopping:
            with self.state.locked():
                for job in self.state.jobs(self.cache):
                    if self._step(job):
                        self.state.save(job)
            time.sleep(0.05)
        for process, _, _ in self.running.values():
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)

    def _stop(self, *_: Any) -> None:
        self.stopping = True

    def _step(self, job: dict[str, Any]) -> bool:
        if job["finished_at"] is not None:
            if time.time() - job["finished_at"] >= float(self.state.config["history"]):
                self.state.forget(job)
            return False
        changed = False
        for index, task in job["tasks"].items():
            changed = self._task_step(job, index, task) or changed
        if all(task["state"] == "X" for task in job["tasks"].values()):
            job["finished_at"] = time.time()
            changed = True
        return changed

    def _task_step(self, job: dict[str, Any], index: str, task: dict[str, Any]) -> bool:
        key = (job["number"], index)
        if task["state"] == "Q":
            if task["delete"]:
                task["state"] = "X"
                return True
            if frozen(self.state) or self._used() + self._cpus(job) > int(
                self.state.config["cores"]
            ):
                return False
            self._start(job, index)
            task["state"] = "R"
            return True
        if task["state"] == "R" and key in self.running:
            return self._watch(job, key, task)
        return False

    def _used(self) -> int:
        return sum(int(cpus) for _, cpus, _ in self.running.values())

    def _cpus(self, job: dict[str, Any]) -> int:
        return min(
            int(job["resources"]["ncpus"]) * int(job["resources"]["nodes"]),
            int(self.state.config["cores"]),
        )

    def _start(self, job: dict[str, Any], index: str) -> None:
        output = job["output"].replace("^array_index^", index) or str(
            self.state.root / f"{job['number']}.o"
        )
        if output.endswith("/"):
            output += f"{job['name']}.o{job['number']}-{index}"
        env = self._environment(job, index)
        home = self.state.root / "home"
        with open(output, "ab") as stream:
            process = subprocess.Popen(
                ["/bin/sh", str(self.state.root / "spool" / f"{job['number']}.sh")],
                stdin=subprocess.DEVNULL,
                stdout=stream,
                stderr=subprocess.STDOUT,
                cwd=home,
                env=env,
                start_new_session=True,
            )
        walltime = job["resources"]["walltime"]
        deadline = time.time() + walltime if walltime else None
        self.running[(job["number"], index)] = (process, self._cpus(job), deadline)

    def _environment(self, job: dict[str, Any], index: str) -> dict[str, str]:
        base = dict(job["env"]) if job["env"] else {"PATH": "/usr/bin:/bin"}
        base.update(
            PBS_JOBID=task_id(job, index, self.state.server),
            PBS_JOBNAME=job["name"],
            PBS_QUEUE=job["queue"],
            PBS_O_WORKDIR=job["workdir"],
            PBS_ENVIRONMENT="PBS_BATCH",
            HOME=str(self.state.root / "home"),
        )
        cpus = str(job["resources"]["ncpus"])
        if self.state.flavor == "pbspro":
            base.update(NCPUS=cpus, OMP_NUM_THREADS=cpus)
            if job["array"] is not None:
                base.update(PBS_ARRAY_INDEX=index, PBS_ARRAY_ID=job["id"])
        else:
            base.update(PBS_NUM_PPN=cpus, PBS_NUM_NODES=str(job["resources"]["nodes"]))
            if job["array"] is not None:
                base.update(PBS_ARRAYID=index)
        return base

    def _watch(self, job: dict[str, Any], key: tuple[int, str], task: dict[str, Any]) -> bool:
        process, _, deadline = self.running[key]
        overdue = deadline is not None and time.time() > deadline
        if (task["delete"] or overdue) and "signalled" not in task:
            task["signalled"] = time.time()
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGTERM)
        elif "signalled" in task and time.time() - task["signalled"] > KILL_DELAY:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
        code = process.poll()
        if code is None:
            return "signalled" in task
        del self.running[key]
        task["state"] = "X"
        task["exit"] = code if code >= 0 else 256 - code  # PBS: 256 + signal
        return True


# -- entry ------------------------------------------------------------------------------


def wait_while_paused(state: State) -> None:
    while (state.root / "paused").exists():
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    root, command, args = Path(argv[2]), argv[3], argv[4:]
    state = State(root)
    if command == "serve":
        Server(state).serve()
        return 0
    with open(root / "calls.log", "a") as log:
        log.write(f"{command}\n")
    wait_while_paused(state)
    if (root / "down").exists() and args != ["--version"]:
        print(
            f"Connection refused\n{command}: cannot connect to server {state.server} (errno=15010)",
            file=sys.stderr,
        )
        return CONNECT_FAILED
    try:
        return {"qsub": qsub, "qstat": qstat, "qdel": qdel}[command](state, args)
    except Refused as refusal:
        print(str(refusal), file=sys.stderr)
        return refusal.code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
