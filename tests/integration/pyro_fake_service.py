"""A small EngineLink implementation served by the engine daemon in transport tests.

It stands in for the real ``EngineService`` (store + scheduler) so the Pyro transport and the
daemon's process management are tested on their own. Its workflows persist in a JSON file of
the state directory, like the real store, so a restarted engine still knows them. Knobs,
read from the environment when the factory runs:

``SWF_FAKE_FAIL``         the factory raises ConfigurationError with this text
``SWF_FAKE_START_DELAY``  seconds the factory sleeps (widens start races)
``SWF_FAKE_PROTOCOL``     the link protocol number the engine advertises (another swf's)

Special ids make the engine misbehave on purpose: job 666 raises RuntimeError (a bug),
job id -9 / workflow id -9 SIGKILL the engine in the middle of the call, once.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from swf_app.read_models import (
    JobChangeBatch,
    JobFiles,
    JobProgress,
    JobTermination,
    OutputChunk,
    WorkflowInfo,
    WorkflowProgress,
)
from swf_domain.errors import (
    ConfigurationError,
    SerializationError,
    UnknownObjectError,
    WorkflowValidationError,
)

IN_PROGRESS = "workflow_in_progress"
FAKE_JOB = JobProgress(
    1, "done", "finished_regularly", 0, None, None, 10.0, 11.0, 12.0, "7", queue=None
)
DONE = "workflow_done"


class FakeEngineService:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._file = state_dir / "fake-workflows.json"
        self._condition = threading.Condition()
        self._calls = 0
        self._shut_down = False
        self._workflows: dict[int, dict[str, Any]] = self._load()

    # -- persistence ----------------------------------------------------------------------
    def _load(self) -> dict[int, dict[str, Any]]:
        if not self._file.exists():
            return {}
        return {int(key): value for key, value in json.loads(self._file.read_text()).items()}

    def _save(self) -> None:
        temporary = self._file.with_suffix(".tmp")
        temporary.write_text(json.dumps({str(k): v for k, v in self._workflows.items()}))
        temporary.replace(self._file)

    def _workflow(self, workflow_id: int) -> dict[str, Any]:
        try:
            return self._workflows[workflow_id]
        except KeyError:
            raise UnknownObjectError(f"workflow {workflow_id} does not exist") from None

    def _count(self) -> None:
        with self._condition:
            self._calls += 1

    def _die_once(self) -> None:
        marker = self.state_dir / "fake-died-once"
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)

    # -- EngineLink ---------------------------------------------------------------------
    def submit_workflow(
        self,
        document: dict[str, Any] | str,
        name: str | None,
        queue: str | None,
        expiration_date: float | None,
        working_directory: str | None = None,
    ) -> int:
        self._count()
        if isinstance(document, str):  # the real service parses the text it receives too
            document = json.loads(document)
            assert isinstance(document, dict)
        if document.get("invalid"):
            raise WorkflowValidationError(
                ["job 'b' depends on unknown job 'zz'", "job 'c' has an empty command"]
            )
        if "jobs" not in document:
            raise SerializationError("workflow document has no field 'jobs'")
        with self._condition:
            workflow_id = max(self._workflows, default=0) + 1
            self._workflows[workflow_id] = {
                "document": document,
                "name": name,
                "queue": queue,
                "expiration": expiration_date,
                "status": IN_PROGRESS,
            }
            self._save()
        return workflow_id

    def workflow_document(self, workflow_id: int) -> dict[str, Any]:
        self._count()
        document: dict[str, Any] = self._workflow(workflow_id)["document"]
        return document

    def workflows(self, workflow_ids: Sequence[int] | None = None) -> dict[int, WorkflowInfo]:
        self._count()
        ids = list(self._workflows) if workflow_ids is None else list(workflow_ids)
        return {
            i: WorkflowInfo(self._workflow(i)["name"], self._workflow(i)["expiration"])
            for i in ids
            if i in self._workflows
        }

    def workflow_status(self, workflow_id: int) -> str | None:
        self._count()
        if workflow_id == -9:
            self._die_once()
        status: str = self._workflow(workflow_id)["status"]
        return status

    def workflow_elements_status(
        self, workflow_id: int, with_drms_id: bool = True
    ) -> WorkflowProgress:
        self._count()
        workflow = self._workflow(workflow_id)
        return WorkflowProgress(workflow_id, workflow["status"], workflow["queue"], [FAKE_JOB])

    def job_changes(self, workflow_id: int, since: int | None = None) -> JobChangeBatch:
        self._count()
        workflow = self._workflow(workflow_id)
        jobs = [FAKE_JOB] if since is None else []
        return JobChangeBatch(workflow_id, 7, workflow["status"], jobs)

    def wait_changes(
        self, workflow_id: int, since: int | None, timeout: float = -1
    ) -> JobChangeBatch:
        self._count()
        with self._condition:
            self._condition.wait(max(0.0, min(timeout, 0.5)))
        return self.job_changes(workflow_id, since)

    def read_job_output(
        self, job_id: int, stream: str = "stdout", offset: int = 0, limit: int = 1 << 20
    ) -> OutputChunk:
        self._count()
        data = bytes(range(256))[offset : offset + limit]
        return OutputChunk(data, offset, offset + len(data), 256, True)

    def job_status(self, job_id: int) -> str:
        self._count()
        if job_id == 666:
            raise RuntimeError("fake engine crashed on job 666")
        return "done"

    def job_termination_status(self, job_id: int) -> JobTermination:
        self._count()
        return JobTermination("finished_regularly", 0, None, "1.5")

    def job_files(self, job_id: int) -> JobFiles:
        self._count()
        return JobFiles(f"/tmp/job{job_id}.out", None)

    def get_job_output_params(self, job_id: int) -> dict[str, Any] | None:
        self._count()
        return {"value": job_id, "nested": {"list": [1, 2.5, None]}}

    def status_summary(self, workflow_id: int) -> dict[str, int]:
        self._count()
        self._workflow(workflow_id)
        return {"done": 1}

    def stop_workflow(self, workflow_id: int) -> bool:
        self._count()
        with self._condition:
            self._workflow(workflow_id)["status"] = DONE
            self._save()
            self._condition.notify_all()
        return True

    def restart_workflow(self, workflow_id: int, queue: str | None = None) -> bool:
        self._count()
        with self._condition:
            self._workflow(workflow_id)["status"] = IN_PROGRESS
            self._save()
        return True

    def delete_workflow(self, workflow_id: int, force: bool = True) -> bool:
        self._count()
        with self._condition:
            self._workflow(workflow_id)
            del self._workflows[workflow_id]
            self._save()
            self._condition.notify_all()
        return True

    def stop_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        self._count()
        if workflow_id == -9:
            self._die_once()
        return True

    def restart_jobs(self, workflow_id: int, job_ids: Sequence[int]) -> bool:
        self._count()
        return True

    def change_workflow_expiration_date(
        self, workflow_id: int, expiration_date: float | None
    ) -> bool:
        self._count()
        with self._condition:
            self._workflow(workflow_id)["expiration"] = expiration_date
            self._save()
        return True

    def wait_workflow(self, workflow_id: int, timeout: float = -1) -> bool:
        self._count()

        def finished() -> bool:
            workflow = self._workflows.get(workflow_id)
            return self._shut_down or workflow is None or workflow["status"] != IN_PROGRESS

        with self._condition:
            self._workflow(workflow_id)
            return self._condition.wait_for(finished, None if timeout < 0 else timeout)

    def wait_job(self, job_ids: Sequence[int], timeout: float = -1) -> bool:
        self._count()
        return True

    def close(self) -> None:
        pass

    # -- optional engine hooks ----------------------------------------------------------
    def is_idle(self) -> bool:
        with self._condition:
            return all(w["status"] != IN_PROGRESS for w in self._workflows.values())

    def engine_stats(self) -> dict[str, Any]:
        with self._condition:
            running = sum(w["status"] == IN_PROGRESS for w in self._workflows.values())
            return {"workflows": len(self._workflows), "running": running, "calls": self._calls}

    def shutdown(self) -> None:
        with self._condition:
            self._shut_down = True
            self._condition.notify_all()
        with (self.state_dir / "fake-shutdowns.txt").open("a") as stream:
            stream.write(f"{os.getpid()}\n")


def build(state_dir: Path, config_file: Path | None, resource_id: str | None) -> FakeEngineService:
    """The factory the daemon calls (``tests.integration.pyro_fake_service:build``)."""
    failure = os.environ.get("SWF_FAKE_FAIL")
    if failure:
        raise ConfigurationError(f"fake factory refused to start: {failure}")
    delay = float(os.environ.get("SWF_FAKE_START_DELAY", "0"))
    if delay:
        time.sleep(delay)
    advertised = os.environ.get("SWF_FAKE_PROTOCOL")
    if advertised:
        from swf_adapters.transport.pyro import protocol

        protocol.WIRE_PROTOCOL = int(advertised)  # read by engine.json and the handshake
    with (state_dir / "fake-starts.txt").open("a") as stream:
        stream.write(f"{os.getpid()} {resource_id} {config_file}\n")
    return FakeEngineService(state_dir)
