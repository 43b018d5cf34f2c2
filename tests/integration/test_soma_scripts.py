"""soma-workflow scripts run unchanged on swf: ``import soma_workflow.*`` is swf's alias.

Each script is what a soma user writes (imports from ``soma_workflow.client`` and
``soma_workflow.configuration``, isolated light mode, naming the ids of
``workflow_elements_status`` through ``jobs()``, iterating ``job_mapping``...). The
comparable ones run twice, with swf (``soma_workflow`` is swf's alias package) and with
the real soma-workflow 6.0.13 (the oracle of tests/soma_oracle.py), and must print the
same description.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests import soma_oracle

MARKER = "SCRIPT-RESULT:"

#: A typical soma script: submit, wait, name the job ids, read job_mapping and statuses.
PIPELINE = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.simplefilter("ignore")
    from soma_workflow.client import Helper, Job, Workflow, WorkflowController
    from soma_workflow import constants

    work = sys.argv[1]
    wfc = WorkflowController(isolated_light_mode=work + "/state")
    prepare = Job(["echo", "prepare"], name="prepare")
    keep = Job(["echo", "%(kept)s", "%(x)s"], name="keep", param_dict={"x": "given"})
    fail = Job(["sh", "-c", "exit 3"], name="fail")
    after = Job(["echo", "after"], name="after")
    workflow = Workflow(
        [prepare, keep, fail, after],
        dependencies=[(prepare, keep), (prepare, fail), (fail, after)],
        name="pipeline",
    )
    wf_id = wfc.submit_workflow(workflow)
    Helper.wait_workflow(wf_id, wfc)
    rows = wfc.workflow_elements_status(wf_id)[0]
    ids = [row[0] for row in rows]
    named = wfc.jobs(ids)
    out = {
        "workflow_status": wfc.workflow_status(wf_id),
        "done": wfc.workflow_status(wf_id) == constants.WORKFLOW_DONE,
        # (statuses differ on purpose: swf ends a job that exits non-zero "failed",
        # soma "done" with its exit value; list_failed_jobs agrees on both)
        "jobs": sorted(
            [name, command, type(date).__name__] for name, command, date in named.values()
        ),
        "jobs_without_ids": wfc.jobs(),
        "unknown_id": wfc.jobs([max(ids) + 1000]),
        "failed": sorted(named[i][0] for i in Helper.list_failed_jobs(wf_id, wfc)),
        "aborted": sorted(
            named[i][0]
            for i in Helper.list_failed_jobs(wf_id, wfc, include_aborted_jobs=True)
        ),
        "mapping": sorted(
            [client.name, engine.name, engine.job_id in ids, list(engine.command),
             engine.plain_command()]
            for client, engine in wfc.workflow(wf_id).job_mapping.items()
        ),
        "transfer_mapping": len(wfc.workflow(wf_id).transfer_mapping),
        "same_workflow": workflow.attributs_equal(workflow),
        "scheduler_type": wfc.get_scheduler_type(),
        "proc_nb_is_int": isinstance(wfc.scheduler_config.get_proc_nb(), int),
        "job_command": wfc.get_job_command(ids[0]).startswith("'echo'"),
    }
    wfc.stop_engine()
    print("SCRIPT-RESULT:" + json.dumps(out))
    """
)


def run_script(script: str, *args: str, oracle: bool, cwd: Path) -> dict[str, Any]:
    env = soma_oracle.oracle_env() if oracle else soma_oracle.swf_env()
    # soma writes ~/.soma-workflow-scheduler.cfg (set_proc_nb) and ~/.soma-workflow: a
    # home of the test's own, never the user's (the real one then slowed later runs)
    home = cwd / ".home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    assert len(lines) == 1, done.stdout[-3000:]
    result: dict[str, Any] = json.loads(lines[0][len(MARKER) :])
    return result


def test_a_soma_pipeline_script_gives_what_soma_gives(tmp_path: Path) -> None:
    (tmp_path / "swf").mkdir()
    (tmp_path / "soma").mkdir()
    ours = run_script(PIPELINE, str(tmp_path / "swf"), oracle=False, cwd=tmp_path / "swf")
    soma = run_script(PIPELINE, str(tmp_path / "soma"), oracle=True, cwd=tmp_path / "soma")
    assert ours == soma
    # and what it says is right, not only the same
    assert ours["failed"] == ["fail"] and ours["aborted"] == ["after", "fail"]
    assert ["keep", "'echo' '%(kept)s' 'given'", "datetime"] in ours["jobs"]
    assert ["after", "'echo' 'after'", "NoneType"] in ours["jobs"]  # never submitted
    assert ours["jobs_without_ids"] == {} and ours["unknown_id"] == {}


#: soma's Configuration API on a configuration file, then a controller built from it.
CONFIGURED = textwrap.dedent(
    """
    import json, socket, sys, warnings
    warnings.simplefilter("ignore")
    from soma_workflow.configuration import Configuration, LIGHT_MODE
    from soma_workflow.client import Job, Workflow, WorkflowController

    path, resource = sys.argv[1], sys.argv[2]
    resources = Configuration.get_configured_resources(path)
    config = Configuration.load_from_file(resource, path)
    out = {
        "resources": resources,
        "mode": config.get_mode(),
        "is_light": config.get_mode() == LIGHT_MODE,
        "scheduler": config.get_scheduler_type(),
        "queues": sorted(map(str, config.get_queues())),
        "queue_limits": {str(k): v for k, v in config.get_queue_limits().items()},
        "translation": config.get_path_translation(),
        "native_specification": config.get_native_specification(),
        "container_command": config.get_container_command(),
        "running_jobs_limits": {str(k): v for k, v in config.get_running_jobs_limits().items()},
        "parallel_job_config": config.get_parallel_job_config(),
        "drmaa_implementation": config.get_drmaa_implementation(),
        "login": config.get_login(),
        "install_path": config.get_res_install_path(),
        "swf_dir": config.get_soma_workflow_dir(),
        "transfer_dir": config.get_transfered_file_dir(),
        # (the directory is swf's own: its engine log lives in the state directory)
        "engine_log_info": list(config.get_engine_log_info())[1:],
        "local_resource": Configuration.get_local_resource_id(config_file_path=path),
        "logins": Configuration.get_logins(path),
        "is_local": Configuration.is_local_resource(config.get_config_parser(), resource),
        "python_versions": Configuration.get_allowed_python_versions(
            config.get_config_parser(), resource
        ),
    }
    wfc = WorkflowController(resource, config=config)
    job = Job(["echo", "configured"], name="configured")
    wf_id = wfc.submit_workflow(Workflow([job]))
    wfc.wait_workflow(wf_id)
    out["status"] = wfc.workflow_status(wf_id)
    wfc.stop_engine()
    print("SCRIPT-RESULT:" + json.dumps(out))
    """
)


def test_a_configuration_script_gives_what_soma_gives(tmp_path: Path) -> None:
    translation = tmp_path / "brainvisa.txt"
    translation.write_text("uuid-1 /data/one\n")
    config = tmp_path / "swf.cfg"
    config.write_text(
        textwrap.dedent(
            f"""
            [bench]
            LIGHT_MODE = 1
            SOMA_WORKFLOW_DIR = {tmp_path}/state
            QUEUES = short long
            MAX_JOB_IN_QUEUE = {{4}} long{{2}}
            PATH_TRANSLATION_FILES = brainvisa{{{translation}}}
            NATIVE_SPECIFICATION = -l walltime=1:00:00
            CONTAINER_COMMAND = ['env', 'A=1']
            MAX_JOB_RUNNING = {{3}}
            LOGIN = someone
            INSTALLPATH = /opt/swf
            ALLOWED_PYTHON_VERSIONS = 3
            ENGINE_LOG_LEVEL = INFO
            MPI = -n 4

            [cluster]
            SUBMITTING_MACHINES = elsewhere
            CLUSTER_ADDRESS = cluster.example.org
            LOGIN = remote_user
            """
        )
    )
    ours = run_script(CONFIGURED, str(config), "bench", oracle=False, cwd=tmp_path)
    soma = run_script(CONFIGURED, str(config), "bench", oracle=True, cwd=tmp_path)
    assert ours == soma
    assert ours["status"] == "workflow_done" and ours["translation"] == {
        "brainvisa": {"uuid-1": "/data/one"}
    }


#: soma's test isolation helper, then the local scheduler's settings changed live.
ISOLATED = textwrap.dedent(
    """
    import json, os, sys, warnings
    warnings.simplefilter("ignore")
    from soma_workflow import configuration
    from soma_workflow.client import Job, Workflow, WorkflowController

    work = sys.argv[1]
    configuration.change_soma_workflow_directory(work + "/isolated")
    wfc = WorkflowController()
    wfc.scheduler_config.set_proc_nb(1)
    lock = work + "/lock"
    # with one core, no two of them may hold the lock at once
    jobs = [
        Job(["sh", "-c", f"mkdir {lock} && sleep 0.4 && rmdir {lock}"], name=f"j{i}")
        for i in range(3)
    ]
    wf_id = wfc.submit_workflow(Workflow(jobs))
    wfc.wait_workflow(wf_id)
    statuses = sorted(row[1] for row in wfc.workflow_elements_status(wf_id)[0])
    out = {
        "statuses": statuses,
        "state_in_directory": sorted(os.listdir(work + "/isolated")) != [],
        "proc_nb": wfc.scheduler_config.get_proc_nb(),
    }
    wfc.stop_engine()
    configuration.restore_soma_workflow_directory()
    out["restored"] = WorkflowController.isolated_light_mode is None
    print("SCRIPT-RESULT:" + json.dumps(out))
    """
)


def test_change_soma_workflow_directory_and_set_proc_nb(tmp_path: Path) -> None:
    ours = run_script(ISOLATED, str(tmp_path), oracle=False, cwd=tmp_path)
    assert ours == {
        "statuses": ["done", "done", "done"],
        "state_in_directory": True,
        "proc_nb": 1,
        "restored": True,
    }
    soma = run_script(ISOLATED, str(tmp_path), oracle=True, cwd=tmp_path)
    assert soma == ours


@pytest.mark.parametrize(
    "module", ["client", "constants", "configuration", "errors", "custom_jobs", "scheduler"]
)
def test_the_soma_modules_are_swf_modules(module: str, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import json, importlib
        alias = importlib.import_module("soma_workflow.{module}")
        ours = importlib.import_module("swf_entry.{module}")
        same = all(getattr(alias, n) is getattr(ours, n) for n in ours.__all__)
        print("SCRIPT-RESULT:" + json.dumps([alias.__file__, same, sorted(alias.__all__)]))
        """
    )
    path, same, names = run_script(script, oracle=False, cwd=tmp_path)  # type: ignore[misc]
    assert "/src/soma_workflow/" in path and same is True and names


#: A configured local resource without LIGHT_MODE: swf runs its engine as a daemon.
DAEMON = textwrap.dedent(
    """
    import json, sys, warnings
    from soma_workflow.client import Job, Workflow, WorkflowController
    from soma_workflow.configuration import Configuration
    from swf_entry.daemon import engine_status

    path = sys.argv[1]
    config = Configuration.load_from_file("daemonres", path)
    wfc = WorkflowController("daemonres", config=config)
    wf_id = wfc.submit_workflow(Workflow([Job(["true"], name="t")]))
    wfc.wait_workflow(wf_id)
    ids = [row[0] for row in wfc.workflow_elements_status(wf_id)[0]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wfc.scheduler_config.set_proc_nb(1)
    state = config.resource_config().state_dir
    out = {
        "names": [name for name, _command, _date in wfc.jobs(ids).values()],
        "warned": any("daemon" in str(w.message) for w in caught),
        "daemon_before": engine_status(state) is not None,
        # soma's engine jobs in workflow() carry stale Nones; swf's the recorded state
        "engine_jobs": [
            [engine.status, engine.exit_value, engine.drmaa_id is not None]
            for engine in wfc.workflow(wf_id).job_mapping.values()
        ],
    }
    wfc.stop_engine()
    out["daemon_after"] = engine_status(state) is not None
    print("SCRIPT-RESULT:" + json.dumps(out))
    """
)


def test_stop_engine_stops_the_daemon(tmp_path: Path) -> None:
    config = tmp_path / "daemon.cfg"
    config.write_text(f"[daemonres]\nSOMA_WORKFLOW_DIR = {tmp_path}/state\n")
    ours = run_script(DAEMON, str(config), oracle=False, cwd=tmp_path)
    assert ours == {
        "names": ["t"],
        "warned": True,
        "daemon_before": True,
        "engine_jobs": [["done", 0, True]],
        "daemon_after": False,
    }
