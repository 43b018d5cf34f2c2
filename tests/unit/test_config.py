"""Unit tests of the resource configuration reader (files in tmp dirs, fake HOME via env)."""

from __future__ import annotations

import os
import socket
import textwrap
import warnings
from pathlib import Path

import pytest

from swf_adapters.config import (
    ConfigurationError,
    ResourceConfig,
    UnknownOptionWarning,
    find_config_file,
    load_config,
    load_config_text,
    parse_translation_text,
    translation_table,
)
from swf_adapters.config import loader as config_loader
from swf_adapters.config import locate as config_locate

HOST = "node1.example.org"


@pytest.fixture(autouse=True)
def fixed_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A known host name (with a domain, to exercise the short-name alias)."""
    monkeypatch.setattr(socket, "gethostname", lambda: HOST)
    monkeypatch.setattr(config_locate, "SYSTEM_CONFIG_FILES", ())
    monkeypatch.setattr(config_loader, "SYSTEM_SCHEDULER_CONFIG_FILES", ())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return {"HOME": str(home)}


def write(directory: Path, text: str, name: str = "swf.cfg") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def load(
    tmp_path: Path, env: dict[str, str], text: str, resource: str | None = None
) -> ResourceConfig:
    return load_config(write(tmp_path, text), resource, env=env)


def error_of(tmp_path: Path, env: dict[str, str], text: str, resource: str | None = None) -> str:
    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, env, text, resource)
    return str(caught.value)


# ---------------------------------------------------------------------------------------
# Where the file is
# ---------------------------------------------------------------------------------------


def test_no_file_anywhere_means_none(env: dict[str, str]) -> None:
    assert find_config_file(env) is None


def test_home_file_is_found(home: Path, env: dict[str, str]) -> None:
    path = write(home, "[x]\n", ".soma-workflow.cfg")
    assert find_config_file(env) == path


def test_soma_variable_beats_home(tmp_path: Path, home: Path, env: dict[str, str]) -> None:
    write(home, "[x]\n", ".soma-workflow.cfg")
    other = write(tmp_path, "[y]\n", "other.cfg")
    assert find_config_file({**env, "SOMA_WORKFLOW_CONFIG": str(other)}) == other


def test_soma_variable_naming_no_file_falls_back_to_home(home: Path, env: dict[str, str]) -> None:
    path = write(home, "[x]\n", ".soma-workflow.cfg")
    assert find_config_file({**env, "SOMA_WORKFLOW_CONFIG": "/nonexistent.cfg"}) == path


def test_swf_variable_beats_soma_variable(tmp_path: Path, env: dict[str, str]) -> None:
    soma = write(tmp_path, "[a]\n", "soma.cfg")
    swf = write(tmp_path, "[b]\n", "swf.cfg")
    found = find_config_file({**env, "SOMA_WORKFLOW_CONFIG": str(soma), "SWF_CONFIG": str(swf)})
    assert found == swf


def test_swf_variable_naming_no_file_is_an_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match=r"SWF_CONFIG=/missing/swf\.cfg: no such"):
        find_config_file({**env, "SWF_CONFIG": "/missing/swf.cfg"})


def test_system_file_comes_last(
    tmp_path: Path, home: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    system = write(tmp_path, "[s]\n", "system.cfg")
    monkeypatch.setattr(config_locate, "SYSTEM_CONFIG_FILES", (system,))
    assert find_config_file(env) == system
    user = write(home, "[u]\n", ".soma-workflow.cfg")
    assert find_config_file(env) == user


def test_load_config_uses_the_lookup(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, "[node1.example.org]\nCPU_NB = 3\n")
    config = load_config(env={**env, "SWF_CONFIG": str(path)})
    assert config.config_file == path
    assert config.cpu_nb == 3


def test_explicit_missing_file_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match=r"nope\.cfg: configuration file not found"):
        load_config(tmp_path / "nope.cfg", env=env)


# ---------------------------------------------------------------------------------------
# Which resource
# ---------------------------------------------------------------------------------------


def test_without_file_the_resource_is_this_host(env: dict[str, str]) -> None:
    config = load_config(env=env)
    assert config.resource_id == HOST
    assert config.config_file is None
    assert config.scheduler_type == "local_basic"
    assert config.mode == "light" and config.light_mode


def test_default_resource_is_first_local_section(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(
        tmp_path,
        env,
        """
        [cluster]
        SCHEDULER_TYPE = pbspro
        SUBMITTING_MACHINES = frontal
        [workstation]
        CPU_NB = 4
        """,
    )
    assert config.resource_id == "workstation"
    assert config.cpu_nb == 4


def test_section_submitted_from_here_is_the_default(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(
        tmp_path,
        env,
        """
        [batch]
        SCHEDULER_TYPE = slurm
        SUBMITTING_MACHINES = node1
        """,
    )
    assert config.resource_id == "batch"
    assert config.scheduler_type == "slurm"
    assert config.mode == "local"


def test_cluster_section_without_machines_stops_at_this_host(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = load(
        tmp_path,
        env,
        """
        [cluster]
        SCHEDULER_TYPE = pbspro
        [later]
        CPU_NB = 7
        """,
    )
    assert config.resource_id == HOST
    assert config.cpu_nb != 7


def test_sections_for_another_python_are_skipped(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(
        tmp_path,
        env,
        """
        [old]
        ALLOWED_PYTHON_VERSIONS = 2
        [new]
        ALLOWED_PYTHON_VERSIONS = 2, 3
        """,
    )
    assert config.resource_id == "new"
    assert config.allowed_python_versions == [2, 3]


def test_localhost_is_an_alias_of_the_host_section(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(tmp_path, env, "[node1]\nCPU_NB = 5\n", "localhost")
    assert config.resource_id == "node1"
    assert config.cpu_nb == 5
    assert "alias" in config.sources["resource_id"]


def test_local_aliases_without_section_share_one_state_dir(
    tmp_path: Path, home: Path, env: dict[str, str]
) -> None:
    by_name = load(tmp_path, env, "[other]\nSCHEDULER_TYPE = drmaa\n", "localhost")
    default = load_config(env=env)
    assert by_name.resource_id == default.resource_id == HOST
    assert by_name.state_dir == default.state_dir == home / ".swf" / HOST


def test_resource_from_environment(tmp_path: Path, env: dict[str, str]) -> None:
    text = "[a]\nCPU_NB = 1\n[b]\nCPU_NB = 2\n"
    config = load(tmp_path, {**env, "SWF_RESOURCE_ID": "b"}, text)
    assert config.resource_id == "b"
    assert config.cpu_nb == 2


def test_unknown_resource_names_file_and_sections(tmp_path: Path, env: dict[str, str]) -> None:
    message = error_of(tmp_path, env, "[a]\n[b]\n", "cluster")
    assert "swf.cfg: no section [cluster]" in message
    assert "sections: a, b" in message


def test_remote_resource_without_file_is_an_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match=r"resource 'cluster': no configuration file"):
        load_config(resource_id="cluster", env=env)


# ---------------------------------------------------------------------------------------
# Defaults and typed values
# ---------------------------------------------------------------------------------------


def test_local_defaults(env: dict[str, str], home: Path) -> None:
    config = load_config(env=env)
    assert config.cpu_nb == len(os.sched_getaffinity(0))
    assert config.max_job_running == config.cpu_nb
    assert config.running_jobs_limits == {None: config.cpu_nb}
    assert config.queue_limits == {}
    assert config.queues == []
    state = home / ".swf" / HOST
    assert config.state_dir == state
    assert config.database_url == f"sqlite:///{state}/swf.db"
    assert config.database_file == state / "swf.db"
    assert config.transfer_dir == state / "transfered_files"
    assert config.engine_log_dir == state  # where engine.log is
    assert config.shared_temporary_dir == state / "tmp"
    assert config.engine_log_level == "WARNING"
    assert config.engine_idle_timeout == 600.0
    assert config.container_command is None
    assert config.ssh_port == 22
    assert set(config.sources.values()) <= {
        "default",
        "default (cores of this machine)",
        "default (cpu_nb)",
    }


def test_cluster_defaults(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(
        tmp_path,
        env,
        """
        [cluster]
        CLUSTER_ADDRESS = frontal.example.org
        SUBMITTING_MACHINES = frontal
        LOGIN = $USER
        SSHPort = 2222
        """,
        "cluster",
    )
    assert config.scheduler_type == "drmaa"  # soma-workflow's default for a cluster
    assert config.mode == "remote" and not config.light_mode
    assert config.max_job_running is None
    assert config.running_jobs_limits == {}
    assert config.login == "$USER"  # not in the given env: left as written
    assert config.ssh_port == 2222
    assert config.cluster_address == "frontal.example.org"


def test_queue_limits_in_soma_syntax(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(
        tmp_path,
        env,
        """
        [r]
        QUEUES = short long
        MAX_JOB_IN_QUEUE = {15} long{3} gpu{0}
        MAX_JOB_RUNNING = {4} huge{1}
        """,
    )
    assert config.queue_limits == {None: 15, "long": 3}  # 0 means no limit
    assert config.running_jobs_limits == {None: 4, "huge": 1}
    assert config.max_job_running == 4
    assert config.queues == ["short", "long", "huge"]


def test_plain_integer_limit_is_the_default_queue(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(tmp_path, env, "[r]\nMAX_JOB_RUNNING = 6\nMAX_JOB_IN_QUEUE = 0\n")
    assert config.running_jobs_limits == {None: 6}
    assert config.max_job_running == 6
    assert config.queue_limits == {}


def test_cpu_nb_zero_means_every_core(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(tmp_path, env, "[r]\nCPU_NB = 0\n")
    assert config.cpu_nb == len(os.sched_getaffinity(0))


def test_scheduler_file_gives_cpu_nb_of_this_host(tmp_path: Path, home: Path) -> None:
    env = {"HOME": str(home)}
    write(
        home, "[node1.example.org]\nCPU_NB = 9\nMAX_CPU_NB = 12\n", ".soma-workflow-scheduler.cfg"
    )
    config = load_config(env=env)
    assert config.cpu_nb == 9
    assert config.sources["cpu_nb"].endswith(
        ".soma-workflow-scheduler.cfg:[node1.example.org]:line 2"
    )
    # the resource's own CPU_NB wins
    assert load(tmp_path, env, "[r]\nCPU_NB = 2\n").cpu_nb == 2


def test_container_command_python_list(tmp_path: Path, env: dict[str, str]) -> None:
    text = """
        [r]
        CONTAINER_COMMAND = ['singularity', 'exec', '--bind', '$HOME:$HOME', 'img.sif']
        """
    config = load(tmp_path, env, text)
    assert config.container_command == [
        "singularity",
        "exec",
        "--bind",
        f"{env['HOME']}:{env['HOME']}",
        "img.sif",
    ]


def test_container_command_shell_words(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(tmp_path, env, "[r]\nCONTAINER_COMMAND = docker run --rm 'my image'\n")
    assert config.container_command == ["docker", "run", "--rm", "my image"]


def test_translation_files_per_namespace(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(
        tmp_path,
        env,
        """
        [r]
        PATH_TRANSLATION_FILES = brainvisa{/abs/bv.sjtr} brainvisa{rel.sjtr} other{~/o.sjtr}
        """,
    )
    assert config.path_translation_files == {
        "brainvisa": [Path("/abs/bv.sjtr"), tmp_path / "rel.sjtr"],
        "other": [Path(env["HOME"]) / "o.sjtr"],
    }


def test_state_paths_from_soma_options(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(
        tmp_path,
        env,
        """
        [r]
        SOMA_WORKFLOW_DIR = $HOME/sw
        TRANSFERED_FILES_DIR = transfers
        ENGINE_LOG_DIR = /var/log/swf
        """,
    )
    assert config.state_dir == Path(env["HOME"]) / "sw"
    assert config.database_url == f"sqlite:///{Path(env['HOME'])}/sw/swf.db"
    assert config.transfer_dir == tmp_path / "transfers"  # relative to the file
    assert config.engine_log_dir == Path("/var/log/swf")


def test_state_dir_beats_soma_workflow_dir(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(tmp_path, env, "[r]\nSOMA_WORKFLOW_DIR = /a\nSTATE_DIR = /b\n")
    assert config.state_dir == Path("/b")


def test_database_file_and_url(tmp_path: Path, env: dict[str, str]) -> None:
    by_file = load(tmp_path, env, "[r]\nDATABASE_FILE = ~/db/wf.db\n")
    assert by_file.database_url == f"sqlite:///{env['HOME']}/db/wf.db"
    url = "postgresql+psycopg://swf@127.0.0.1:5432/swf"
    by_url = load(tmp_path, env, f"[r]\nDATABASE_FILE = /x.db\nDATABASE_URL = {url}\n")
    assert by_url.database_url == url
    assert by_url.database_file is None


def test_empty_shared_temporary_dir_falls_back_to_transfers(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = load(tmp_path, env, "[r]\nSHARED_TEMPORARY_DIR =\n")
    assert config.shared_temporary_dir == config.transfer_dir


def test_light_mode_explicitly_off_on_this_host(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(tmp_path, env, "[node1]\nLIGHT_MODE = 0\n")
    assert not config.light_mode
    assert config.mode == "local"
    assert config.scheduler_type == "local_basic"


def test_light_mode_makes_a_section_local(tmp_path: Path, env: dict[str, str]) -> None:
    text = "[c]\nSCHEDULER_TYPE = drmaa\nSUBMITTING_MACHINES = far\nLIGHT_MODE = yes\n"
    config = load(tmp_path, env, text)
    assert config.resource_id == "c"
    assert config.mode == "light"


def test_log_settings(tmp_path: Path, env: dict[str, str]) -> None:
    text = "[r]\nENGINE_LOG_LEVEL = debug\nENGINE_LOG_FORMAT = %(asctime)s %(message)s\n"
    config = load(tmp_path, env, text)
    assert config.engine_log_level == "DEBUG"
    assert config.engine_log_format == "%(asctime)s %(message)s"  # not interpolated


def test_interpolation_like_soma(tmp_path: Path, env: dict[str, str]) -> None:
    text = "[DEFAULT]\nroot = /data\n[r]\nSOMA_WORKFLOW_DIR = %(root)s/swf\n"
    config = load(tmp_path, env, text)
    assert config.state_dir == Path("/data/swf")
    assert config.sources["state_dir"].endswith("swf.cfg:[r]:line 4")


def test_engine_idle_timeout_zero_means_never(tmp_path: Path, env: dict[str, str]) -> None:
    assert load(tmp_path, env, "[r]\nENGINE_IDLE_TIMEOUT = 0\n").engine_idle_timeout is None
    assert load(tmp_path, env, "[r]\nENGINE_IDLE_TIMEOUT = 2.5\n").engine_idle_timeout == 2.5


def test_parallel_job_config_and_remote_fields(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(
        tmp_path,
        env,
        """
        [c]
        SCHEDULER_TYPE = pbspro
        SUBMITTING_MACHINES = frontal
        MPI = -l nodes={nodes_number}
        drmaa_native_specification = -pe mpi {max_node}
        NATIVE_SPECIFICATION = -l walltime=1:00:00
        INSTALLPATH = /opt/soma
        PYTHON_COMMAND = python3
        DRMAA_IMPLEMENTATION = PBS
        MPI_JOB_TIMEOUT = 60
        """,
        "c",
    )
    assert config.parallel_job_config == {
        "drmaa_native_specification": "-pe mpi {max_node}",
        "MPI": "-l nodes={nodes_number}",
    }
    assert config.native_specification == "-l walltime=1:00:00"
    assert config.install_path == "/opt/soma"
    assert config.python_command == "python3"
    assert config.drmaa_implementation == "PBS"
    assert config.mpi_job_timeout == 60


# ---------------------------------------------------------------------------------------
# Environment overrides, isolated mode, sources
# ---------------------------------------------------------------------------------------


def test_environment_overrides_the_file(tmp_path: Path, env: dict[str, str]) -> None:
    text = "[r]\nCPU_NB = 3\nSCHEDULER_TYPE = local_basic\n"
    config = load(tmp_path, {**env, "SWF_CPU_NB": "5", "SWF_DATABASE_URL": "sqlite://"}, text, "r")
    assert config.cpu_nb == 5
    assert config.sources["cpu_nb"] == "env SWF_CPU_NB"
    assert config.database_url == "sqlite://"
    assert config.sources["scheduler_type"].endswith("swf.cfg:[r]:line 3")


def test_bad_environment_value_names_the_variable(tmp_path: Path, env: dict[str, str]) -> None:
    message = error_of(tmp_path, {**env, "SWF_MAX_JOB_RUNNING": "lots"}, "[r]\n")
    assert message.startswith("env SWF_MAX_JOB_RUNNING: MAX_JOB_RUNNING")
    assert "'lots'" in message


def test_sources_name_file_section_and_line(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(
        tmp_path,
        env,
        """
        [DEFAULT]
        ENGINE_LOG_LEVEL = INFO

        [r]
        # a comment
        QUEUES = a
          b
        CPU_NB : 2
        """,
    )
    path = tmp_path / "swf.cfg"
    assert config.sources["engine_log_level"] == f"{path}:[DEFAULT]:line 2"
    assert config.sources["queues"] == f"{path}:[r]:line 6"
    assert config.queues == ["a", "b"]
    assert config.sources["cpu_nb"] == f"{path}:[r]:line 8"
    assert config.sources["transfer_dir"] == "default"


def test_isolated_dir_reads_no_file_and_keeps_state_inside(
    tmp_path: Path, home: Path, env: dict[str, str]
) -> None:
    write(home, "[node1]\nCPU_NB = 3\nSOMA_WORKFLOW_DIR = /elsewhere\n", ".soma-workflow.cfg")
    write(home, "[node1.example.org]\nCPU_NB = 9\n", ".soma-workflow-scheduler.cfg")
    isolated = tmp_path / "iso"
    config = load_config(env=env, isolated_dir=isolated)
    assert config.config_file is None
    assert config.cpu_nb == len(os.sched_getaffinity(0))
    assert config.state_dir == isolated
    assert config.database_url == f"sqlite:///{isolated}/swf.db"
    assert config.transfer_dir == isolated / "transfered_files"
    assert config.engine_log_dir == isolated
    assert config.sources["state_dir"] == "isolated_dir"
    assert not isolated.exists()  # loading creates nothing


def test_isolated_dir_with_explicit_file_still_isolates_state(
    tmp_path: Path, env: dict[str, str]
) -> None:
    path = write(tmp_path, "[r]\nCPU_NB = 3\nDATABASE_URL = sqlite:////x.db\n")
    config = load_config(path, env=env, isolated_dir=tmp_path / "iso")
    assert config.cpu_nb == 3
    assert config.database_url == f"sqlite:///{tmp_path}/iso/swf.db"


def test_describe_lists_every_field_with_its_source(tmp_path: Path, env: dict[str, str]) -> None:
    config = load(tmp_path, env, "[r]\nMAX_JOB_IN_QUEUE = {3} long{2}\n")
    rows = {name: (value, source) for name, value, source in config.describe()}
    assert rows["queue_limits"][0] == "{default}=3 long=2"
    assert rows["queue_limits"][1].endswith("swf.cfg:[r]:line 2")
    assert rows["container_command"] == ("-", "default")
    assert "sources" not in rows


def test_load_config_text(env: dict[str, str]) -> None:
    config = load_config_text("[r]\nCPU_NB = 2\n", env=env, source="inline")
    assert config.cpu_nb == 2
    assert config.sources["cpu_nb"] == "inline:[r]:line 2"


# ---------------------------------------------------------------------------------------
# Errors name file, section, option and value
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("CPU_NB = many", "CPU_NB must be an integer >= 0, got 'many'"),
        ("CPU_NB = -2", "CPU_NB must be an integer >= 0, got '-2'"),
        ("MAX_JOB_RUNNING = long{x}", "MAX_JOB_RUNNING limit in 'long{x}' must be an integer"),
        ("MAX_JOB_RUNNING = long=3", "MAX_JOB_RUNNING token 'long=3' is not of the form queue{N}"),
        ("MAX_JOB_IN_QUEUE = a{1} a{2}", "MAX_JOB_IN_QUEUE queue 'a' has two limits"),
        ("MAX_JOB_IN_QUEUE = {-1}", "MAX_JOB_IN_QUEUE limit in '{-1}' must be an integer >= 0"),
        ("SCHEDULER_TYPE = condor", "SCHEDULER_TYPE must be one of local_basic, drmaa"),
        ("LIGHT_MODE = maybe", "LIGHT_MODE must be a boolean"),
        ("CONTAINER_COMMAND = ['docker', 3]", "CONTAINER_COMMAND must be a Python list of str"),
        ("CONTAINER_COMMAND = [os.system('x')]", "CONTAINER_COMMAND must be a Python list of"),
        ("CONTAINER_COMMAND = docker 'run", "CONTAINER_COMMAND is not a valid command line"),
        ("PATH_TRANSLATION_FILES = {/a.sjtr}", "PATH_TRANSLATION_FILES '{/a.sjtr}' has no namesp"),
        ("PATH_TRANSLATION_FILES = bv{}", "PATH_TRANSLATION_FILES 'bv{}' has no file"),
        ("PATH_TRANSLATION_FILES = bv/a.sjtr", "token 'bv/a.sjtr' is not of the form namespace"),
        ("ENGINE_LOG_LEVEL = loud", "ENGINE_LOG_LEVEL must be a logging level"),
        ("SSHPort = 70000", "SSHPort must be an integer between 1 and 65535, got '70000'"),
        ("ENGINE_IDLE_TIMEOUT = soon", "ENGINE_IDLE_TIMEOUT must be a number of seconds >= 0"),
        ("ALLOWED_PYTHON_VERSIONS = three", "ALLOWED_PYTHON_VERSIONS must be comma-separated"),
        ("MPI_JOB_TIMEOUT = 0", "MPI_JOB_TIMEOUT must be an integer >= 1, got '0'"),
    ],
)
def test_bad_values_name_file_section_line_option_and_value(
    tmp_path: Path, env: dict[str, str], line: str, expected: str
) -> None:
    message = error_of(tmp_path, env, f"[r]\n# comment\n{line}\n", "r")
    assert message.startswith(f"{tmp_path / 'swf.cfg'}:[r]:line 3: ")
    assert expected in message


def test_bad_database_url(tmp_path: Path, env: dict[str, str]) -> None:
    message = error_of(tmp_path, env, "[r]\nDATABASE_URL = /tmp/swf.db\n")
    assert "swf.cfg:[r]:line 2: DATABASE_URL must be an SQLAlchemy URL" in message
    assert "'/tmp/swf.db'" in message


def test_empty_path_option(tmp_path: Path, env: dict[str, str]) -> None:
    message = error_of(tmp_path, env, "[r]\nTRANSFERED_FILES_DIR =\n")
    assert "swf.cfg:[r]:line 2: TRANSFERED_FILES_DIR must not be empty" in message


def test_interpolation_error(tmp_path: Path, env: dict[str, str]) -> None:
    message = error_of(tmp_path, env, "[r]\nNATIVE_SPECIFICATION = -l mem=%(nothing)s\n")
    assert "swf.cfg:[r]:line 2: option NATIVE_SPECIFICATION:" in message
    assert "nothing" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[r]\nCPU_NB = 1\ncpu_nb = 2\n", "swf.cfg:[r]:line 3: option 'cpu_nb' is set twice"),
        ("[r]\n[s]\n[r]\n", "swf.cfg:line 3: section [r] appears twice"),
        ("CPU_NB = 1\n[r]\n", "swf.cfg:line 1: option line before any [section] header"),
        ("[r]\nCPU_NB = 1\njust words\n", "swf.cfg: cannot parse line 3: 'just words'"),
    ],
)
def test_syntax_errors_name_the_line(
    tmp_path: Path, env: dict[str, str], text: str, expected: str
) -> None:
    assert expected in error_of(tmp_path, env, text)


def test_unreadable_file(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "bin.cfg"
    path.write_bytes(b"[r]\nCPU_NB = \xff\xfe\n")
    with pytest.raises(ConfigurationError, match=r"bin\.cfg: cannot read configuration file"):
        load_config(path, env=env)


# ---------------------------------------------------------------------------------------
# Unknown and kept options
# ---------------------------------------------------------------------------------------


def test_unknown_option_warns_with_location_and_suggestion(
    tmp_path: Path, env: dict[str, str]
) -> None:
    with pytest.warns(UnknownOptionWarning) as record:
        config = load(tmp_path, env, "[r]\nCPU_NB = 2\nMAX_JOB_RUNING = 3\nColour = blue\n")
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    assert messages[0].startswith(f"{tmp_path / 'swf.cfg'}:[r]:line 3: unknown option")
    assert "'MAX_JOB_RUNING'" in messages[0]
    assert "did you mean MAX_JOB_RUNNING?" in messages[0]
    assert "'Colour'" in messages[1] and "did you mean" not in messages[1]
    assert config.unknown == {"MAX_JOB_RUNING": "3", "Colour": "blue"}
    assert config.cpu_nb == 2
    assert record[0].filename == __file__  # points at the caller, not at swf


def test_soma_options_swf_does_not_use_are_kept_silently(
    tmp_path: Path, env: dict[str, str]
) -> None:
    text = """
        [r]
        SERVER_NAME = soma_workflow_database_bob
        SERVER_LOG_FILE = /tmp/log_server
        SERVER_LOG_FORMAT = %(asctime)s => line %(lineno)s: %(message)s
        SERVER_LOG_LEVEL = ERROR
        REMOVE_ORPHAN_FILES = 0
        MPI_LOG_DIR = /tmp/mpi
        MPI_LOG_FORMAT = %(message)s
        MAX_CPU_NB = 4
        SCHEDULER_INTERVAL = 1
        """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = load(tmp_path, env, text)
    assert config.unknown["SERVER_NAME"] == "soma_workflow_database_bob"
    assert config.unknown["SERVER_LOG_FORMAT"] == "%(asctime)s => line %(lineno)s: %(message)s"
    assert set(config.unknown) == {
        "SERVER_NAME",
        "SERVER_LOG_FILE",
        "SERVER_LOG_FORMAT",
        "SERVER_LOG_LEVEL",
        "REMOVE_ORPHAN_FILES",
        "MPI_LOG_DIR",
        "MPI_LOG_FORMAT",
        "MAX_CPU_NB",
        "SCHEDULER_INTERVAL",
    }


def test_other_sections_do_not_warn(tmp_path: Path, env: dict[str, str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = load(tmp_path, env, "[r]\nCPU_NB = 1\n[s]\nWHATEVER = 1\nCPU_NB = x\n", "r")
    assert config.cpu_nb == 1


# ---------------------------------------------------------------------------------------
# Translation tables
# ---------------------------------------------------------------------------------------


def test_parse_translation_text() -> None:
    text = "# comment\n\nabc-123   /data/study one  \nzz /other\n"
    assert parse_translation_text(text, "t.sjtr") == {"abc-123": "/data/study one", "zz": "/other"}


def test_translation_line_without_path_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match=r"t\.sjtr, line 2: expected 'uuid path'"):
        parse_translation_text("a /x\nlonely\n", "t.sjtr")


def test_translation_table_merges_files_in_order(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "one.sjtr").write_text("u1 /one/$USER\nu2 /first\n")
    (tmp_path / "two.sjtr").write_text("u2 /second\n")
    (tmp_path / "three.sjtr").write_text("x /three\n")
    config = load(
        tmp_path, env, "[r]\nPATH_TRANSLATION_FILES = bv{one.sjtr} bv{two.sjtr} o{three.sjtr}\n"
    )
    table = translation_table(config, env={"USER": "ann"})
    assert table == {"bv": {"u1": "/one/ann", "u2": "/second"}, "o": {"x": "/three"}}


def test_missing_translation_file_names_it_and_the_option(
    tmp_path: Path, env: dict[str, str]
) -> None:
    config = load(tmp_path, env, "[r]\nPATH_TRANSLATION_FILES = bv{gone.sjtr}\n")
    with pytest.raises(ConfigurationError) as caught:
        translation_table(config, env={})
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'swf.cfg'}:[r]:line 2: PATH_TRANSLATION_FILES")
    assert str(tmp_path / "gone.sjtr") in message and "no such file" in message


def test_default_section_helpers_are_kept_without_warning(
    tmp_path: Path, env: dict[str, str]
) -> None:
    text = "[DEFAULT]\nroot = /data\n[r]\nSOMA_WORKFLOW_DIR = %(root)s/swf\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = load(tmp_path, env, text)
    assert config.unknown == {"root": "/data"}


def test_relative_path_from_environment_is_relative_to_cwd(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={**env, "SWF_STATE_DIR": "state"})
    assert config.state_dir == tmp_path / "state"
    assert config.sources["state_dir"] == "env SWF_STATE_DIR"
