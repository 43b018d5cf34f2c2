"""Real configuration files on disk, read by swf and by soma-workflow (the oracle).

soma-workflow runs in a subprocess with a throwaway HOME (it creates directories there)
and reports what it understood as JSON; swf must understand the same file the same way.
Where swf deliberately differs, the test says so.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from swf_adapters.config import (
    ResourceConfig,
    UnknownOptionWarning,
    load_config,
    translation_table,
)
from tests import soma_oracle

HOST = socket.gethostname()
SRC = Path(__file__).resolve().parents[2] / "src"

#: Asks soma-workflow what it makes of the configuration ($SOMA_WORKFLOW_CONFIG).
ORACLE_PROBE = textwrap.dedent(
    """
    import json, sys
    from soma_workflow.configuration import Configuration

    def keyed(d):
        return {("" if k is None else k): v for k, v in d.items()}

    out = {"default": Configuration.get_local_resource_id(), "resources": {}}
    for rid in sys.argv[1:]:
        c = Configuration.load_from_file(rid)
        parser = c.get_config_parser()
        log_dir, log_format, log_level = c.get_engine_log_info()
        out["resources"][rid] = {
            "mode": c.get_mode(),
            "scheduler_type": c.get_scheduler_type(),
            "queue_limits": keyed(c.get_queue_limits()),
            "running_jobs_limits": keyed(c.get_running_jobs_limits()),
            "queues": sorted(q for q in c.get_queues() if q is not None),
            "container_command": c.get_container_command(),
            "translation": c.get_path_translation(),
            "native_specification": c.get_native_specification(),
            "parallel_job_config": c.get_parallel_job_config(),
            "login": c.get_login(),
            "log_dir": log_dir,
            "log_format": log_format,
            "log_level": log_level,
            "transfer_dir": c.get_transfered_file_dir(),
            "python_versions": Configuration.get_allowed_python_versions(parser, rid),
        }
        if out["resources"][rid]["mode"] == "remote":
            out["resources"][rid]["cluster_address"] = c.get_cluster_address()
            out["resources"][rid]["submitting_machines"] = c.get_submitting_machines()
    print(json.dumps(out))
    """
)


def run_oracle(script: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=soma_oracle.oracle_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def sandbox(tmp_path: Path) -> dict[str, Path]:
    """A fake HOME plus data directories, shared by swf and the oracle."""
    paths = {name: tmp_path / name for name in ("home", "data", "trans")}
    for path in paths.values():
        path.mkdir()
    paths["root"] = tmp_path
    return paths


def base_env(sandbox: dict[str, Path]) -> dict[str, str]:
    return {
        "HOME": str(sandbox["home"]),
        "USER": "alice",
        "TRDIR": str(sandbox["trans"]),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TMPDIR": str(sandbox["root"]),
    }


def write_soma_style_config(sandbox: dict[str, Path]) -> Path:
    """A file as soma-workflow users write them: every option is soma-workflow's."""
    root = sandbox["root"]
    (sandbox["data"] / "bv.sjtr").write_text("f81d4fae-7dec /mnt/brainvisa/$USER\nabc /mnt/old\n")
    (sandbox["trans"] / "bv2.sjtr").write_text("abc /mnt/new\n")
    (sandbox["trans"] / "spm.sjtr").write_text("spm-uuid /opt/spm12\n")
    text = f"""
        [DEFAULT]
        data_root = {sandbox["data"]}

        [python2_only]
        ALLOWED_PYTHON_VERSIONS = 2

        [cluster_pbs]
        CLUSTER_ADDRESS = frontal.example.org
        SUBMITTING_MACHINES = frontal.example.org
        SCHEDULER_TYPE = pbspro
        LOGIN = $USER
        QUEUES = batch long
        MAX_JOB_IN_QUEUE = {{10}} batch{{20}}
        MAX_JOB_RUNNING = long{{5}}
        SSHPort = 2222
        INSTALLPATH = /opt/soma-workflow
        ALLOWED_PYTHON_VERSIONS = 3
        DATABASE_FILE = $HOME/.soma-workflow/soma_workflow_cluster.db
        TRANSFERED_FILES_DIR = {root}/cluster_transfers
        SERVER_NAME = soma_workflow_database_alice
        SERVER_LOG_FILE = $HOME/.soma-workflow/logs/log_server
        SERVER_LOG_FORMAT = %(asctime)s => line %(lineno)s: %(message)s
        SERVER_LOG_LEVEL = ERROR
        ENGINE_LOG_DIR = {root}/cluster_logs
        ENGINE_LOG_FORMAT = %(asctime)s => %(module)s line %(lineno)s: %(message)s %(threadName)s
        ENGINE_LOG_LEVEL = ERROR
        NATIVE_SPECIFICATION = -l walltime=10:00:00
        MPI = -l nodes={{nodes_number}}:ppn=1
        drmaa_native_specification = -l nodes={{max_node}}
        PARALLEL_ENV_MPI_BIN = /usr/lib64/openmpi/bin

        [{HOST}]
        MAX_JOB_IN_QUEUE = {{15}} long{{3}}
        MAX_JOB_RUNNING = {{4}} long{{2}}
        QUEUES = short long
        PATH_TRANSLATION_FILES = brainvisa{{%(data_root)s/bv.sjtr}} brainvisa{{$TRDIR/bv2.sjtr}}
            spm{{$TRDIR/spm.sjtr}}
        CONTAINER_COMMAND = ['docker', 'run', '--rm', '-v', '$HOME:$HOME', 'neuro:1.0']
        TRANSFERED_FILES_DIR = {root}/local_transfers
        ENGINE_LOG_DIR = $HOME/local_logs
        ENGINE_LOG_LEVEL = INFO
        REMOVE_ORPHAN_FILES = 0
        SCHEDULER_INTERVAL = 1

        [batch_here]
        SCHEDULER_TYPE = slurm
        SUBMITTING_MACHINES = {HOST}
        CLUSTER_ADDRESS = {HOST}
        QUEUES = debug
        MAX_JOB_RUNNING = debug{{1}}
        """
    path = sandbox["root"] / "soma-workflow.cfg"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def load_quietly(path: Path | None, resource: str | None, env: dict[str, str]) -> ResourceConfig:
    """A soma-workflow file holds no option unknown to soma-workflow: no warning allowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownOptionWarning)
        return load_config(path, resource, env=env)


def without_none(limits: dict[str | None, int]) -> dict[str, int]:
    return {("" if k is None else k): v for k, v in limits.items()}


def assert_same_as_oracle(
    ours: ResourceConfig, theirs: dict[str, Any], env: dict[str, str]
) -> None:
    assert ours.mode == theirs["mode"]
    assert without_none(ours.queue_limits) == theirs["queue_limits"]
    assert sorted(ours.queues) == theirs["queues"]
    assert ours.container_command == theirs["container_command"]
    assert translation_table(ours, env) == theirs["translation"]
    assert ours.native_specification == theirs["native_specification"]
    assert ours.parallel_job_config == theirs["parallel_job_config"]
    assert ours.login == theirs["login"]
    assert ours.engine_log_format == theirs["log_format"]
    assert ours.engine_log_level == theirs["log_level"].upper()
    assert ours.allowed_python_versions == theirs["python_versions"]
    if ours.sources["engine_log_dir"] != "default":  # defaults: swf's own state layout
        assert str(ours.engine_log_dir) == theirs["log_dir"]
    if ours.sources["transfer_dir"] != "default":
        assert str(ours.transfer_dir) == theirs["transfer_dir"]
    if theirs["mode"] == "remote":
        assert ours.cluster_address == theirs["cluster_address"]
        assert ours.submitting_machines == theirs["submitting_machines"]


@pytest.mark.parametrize("resource", [HOST, "cluster_pbs", "batch_here"])
def test_soma_style_file_reads_like_in_soma_workflow(
    sandbox: dict[str, Path], resource: str
) -> None:
    path = write_soma_style_config(sandbox)
    env = {**base_env(sandbox), "SOMA_WORKFLOW_CONFIG": str(path)}
    oracle = json.loads(run_oracle(ORACLE_PROBE, env, resource))
    theirs = oracle["resources"][resource]
    ours = load_quietly(path, resource, env)
    assert ours.resource_id == resource
    assert_same_as_oracle(ours, theirs, env)
    assert ours.scheduler_type == theirs["scheduler_type"]
    explicit_running = without_none(ours.running_jobs_limits)
    if ours.sources["max_job_running"] == "default (cpu_nb)":
        # swf bounds the local default queue by the cores; soma-workflow leaves it open
        explicit_running.pop("")
    assert explicit_running == theirs["running_jobs_limits"]


def test_default_resource_is_soma_workflows_choice(sandbox: dict[str, Path]) -> None:
    path = write_soma_style_config(sandbox)
    env = {**base_env(sandbox), "SOMA_WORKFLOW_CONFIG": str(path)}
    oracle = json.loads(run_oracle(ORACLE_PROBE, env))
    ours = load_quietly(path, None, env)
    assert ours.resource_id == oracle["default"] == HOST


def test_values_of_the_soma_style_file(sandbox: dict[str, Path]) -> None:
    """What swf adds on top of soma-workflow: typed values, sources, kept options."""
    path = write_soma_style_config(sandbox)
    env = base_env(sandbox)
    local = load_quietly(path, HOST, env)
    assert local.light_mode and local.scheduler_type == "local_basic"
    assert local.running_jobs_limits == {None: 4, "long": 2}
    assert local.max_job_running == 4
    assert local.engine_log_dir == sandbox["home"] / "local_logs"
    lines = path.read_text().splitlines()
    line = 1 + next(i for i, text in enumerate(lines) if text.startswith("PATH_TRANSLATION"))
    assert local.sources["path_translation_files"] == f"{path}:[{HOST}]:line {line}"
    assert local.unknown == {  # kept as written; DEFAULT's helper included, never warned about
        "data_root": str(sandbox["data"]),
        "REMOVE_ORPHAN_FILES": "0",
        "SCHEDULER_INTERVAL": "1",
    }
    cluster = load_quietly(path, "cluster_pbs", env)
    assert cluster.ssh_port == 2222
    assert cluster.install_path == "/opt/soma-workflow"
    assert cluster.database_file == sandbox["home"] / ".soma-workflow/soma_workflow_cluster.db"
    assert cluster.unknown["SERVER_LOG_FORMAT"] == "%(asctime)s => line %(lineno)s: %(message)s"
    assert cluster.max_job_running is None and cluster.running_jobs_limits == {"long": 5}


#: Has soma-workflow itself write a resource section and its local scheduler file.
ORACLE_WRITER = textwrap.dedent(
    """
    import configparser, sys
    from soma_workflow import configuration as cfg

    path, host, transfers = sys.argv[1:4]
    parser = configparser.ConfigParser()
    parser.add_section(host)
    parser.set(host, cfg.OCFG_MAX_JOB_IN_QUEUE, "{12} long{3}")
    parser.set(host, cfg.OCFG_MAX_JOB_RUNNING, "{6}")
    parser.set(host, cfg.OCFG_QUEUES, "short long")
    parser.set(host, cfg.CFG_TRANSFERED_FILES_DIR, transfers)
    parser.set(host, cfg.OCFG_ENGINE_LOG_FORMAT, "%(asctime)s %(message)s")
    parser.set(host, cfg.OCFG_NATIVE_SPECIFICATION, "-l mem=2gb")
    parser.set(host, cfg.OCFG_CONTAINER_COMMAND, repr(["singularity", "exec", "img.sif"]))
    parser.set(host, cfg.CFG_SERVER_NAME, "db_server")
    cfg.WriteOutConfiguration(parser, path)
    cfg.LocalSchedulerCfg(proc_nb=3, interval=1, max_proc_nb=5).save_to_file()
    """
)


def test_files_written_by_soma_workflow(sandbox: dict[str, Path]) -> None:
    env = base_env(sandbox)
    path = sandbox["home"] / ".soma-workflow.cfg"
    transfers = sandbox["root"] / "transfers"
    run_oracle(ORACLE_WRITER, env, str(path), HOST, str(transfers))
    written = path.read_text()
    assert "max_job_in_queue = {12} long{3}" in written  # configparser lowercases names
    assert (sandbox["home"] / ".soma-workflow-scheduler.cfg").is_file()

    ours = load_quietly(None, None, env)
    assert ours.config_file == path
    assert ours.resource_id == HOST
    assert ours.queue_limits == {None: 12, "long": 3}
    assert ours.running_jobs_limits == {None: 6}
    assert ours.queues == ["short", "long"]
    assert ours.transfer_dir == transfers
    assert ours.engine_log_format == "%(asctime)s %(message)s"
    assert ours.native_specification == "-l mem=2gb"
    assert ours.container_command == ["singularity", "exec", "img.sif"]
    assert ours.unknown == {"SERVER_NAME": "db_server"}  # canonical spelling restored
    assert ours.cpu_nb == 3  # from soma-workflow's local scheduler file
    assert ours.sources["cpu_nb"].startswith(str(sandbox["home"] / ".soma-workflow-scheduler.cfg"))


#: Loads the configuration with the real process environment (env=None).
SWF_PROBE = textwrap.dedent(
    """
    import json
    from swf_adapters.config import load_config
    c = load_config()
    print(json.dumps({"file": str(c.config_file), "resource": c.resource_id,
                      "cpu_nb": c.cpu_nb, "state_dir": str(c.state_dir),
                      "cpu_source": c.sources["cpu_nb"]}))
    """
)


def run_swf(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", SWF_PROBE],
        env={**env, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_lookup_order_with_the_real_environment(sandbox: dict[str, Path]) -> None:
    env = base_env(sandbox)
    home_file = sandbox["home"] / ".soma-workflow.cfg"
    soma_file = sandbox["root"] / "soma.cfg"
    swf_file = sandbox["root"] / "swf.cfg"
    home_file.write_text(f"[{HOST}]\nCPU_NB = 1\n")
    soma_file.write_text(f"[{HOST}]\nCPU_NB = 2\n")
    swf_file.write_text(f"[{HOST}]\nCPU_NB = 3\n")

    assert run_swf(env)["cpu_nb"] == 1
    assert run_swf({**env, "SOMA_WORKFLOW_CONFIG": str(soma_file)})["cpu_nb"] == 2
    both = run_swf({**env, "SOMA_WORKFLOW_CONFIG": str(soma_file), "SWF_CONFIG": str(swf_file)})
    assert both["cpu_nb"] == 3 and both["file"] == str(swf_file)
    overridden = run_swf({**env, "SWF_CONFIG": str(swf_file), "SWF_CPU_NB": "4"})
    assert overridden["cpu_nb"] == 4 and overridden["cpu_source"] == "env SWF_CPU_NB"
    assert overridden["state_dir"] == str(sandbox["home"] / ".swf" / HOST)


def test_isolated_light_mode_is_hermetic_against_a_real_home(sandbox: dict[str, Path]) -> None:
    env = base_env(sandbox)
    (sandbox["home"] / ".soma-workflow.cfg").write_text(f"[{HOST}]\nCPU_NB = 1\nBROKEN = %(\n")
    isolated = sandbox["root"] / "isolated"
    config = load_config(env=env, isolated_dir=isolated)
    assert config.config_file is None
    assert config.database_file == isolated / "swf.db"
    assert not isolated.exists()
