"""Every public name of soma-workflow 6.0.13's ``client``, ``constants``,
``configuration``, ``errors``, ``custom_jobs`` and ``scheduler`` modules (and of their
main classes) is in swf's ``soma_workflow`` alias package, or declined here with its
reason (the README's "soma-workflow scripts on swf" lists the same).

soma's names are read from the oracle (``import soma_workflow`` in this process is the
real soma-workflow, see tests/conftest.py); swf's from a subprocess where
``soma_workflow`` is swf's alias.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

from tests import soma_oracle

MODULES = ("client", "constants", "configuration", "errors", "custom_jobs", "scheduler")
#: (module, class) pairs whose public attributes are compared too.
CLASSES = (
    ("client", "WorkflowController"),
    ("client", "Helper"),
    ("client", "Workflow"),
    ("client", "Job"),
    ("client", "Group"),
    ("configuration", "Configuration"),
    ("configuration", "LocalSchedulerCfg"),
)

_REMOTE = "soma's transfer back ends (scp, rsync, pickles); swf copies over SFTP"
#: soma-workflow names swf does not provide, and why.
DECLINED: dict[str, str] = {
    "client.PortableRemoteTransfer": _REMOTE,
    "client.TransferLocal": _REMOTE,
    "client.TransferMonitoring": _REMOTE,
    "client.TransferRsync": _REMOTE,
    "client.TransferSCP": _REMOTE,
    "client.connection": "soma's client/server connection module (ZRO/SSH tunnels)",
    "configuration.AddLineDefinitions2BashrcFile": "an installer helper editing ~/.bashrc",
    "configuration.observer": "soma's GUI observer module",
    "client.WorkflowController.engine_config_proxy": "soma's remote configuration proxy",
    "client.Helper.convert_wf_file_for_p2_5": "converts files for Python 2.5",
    "client.Job.to_dict": "soma's per-job writer helper (takes its id maps); use Workflow.to_dict",
    "client.Job.from_dict": "soma's per-job reader helper; use Workflow.from_dict",
    "client.Group.to_dict": "soma's per-group writer helper; use Workflow.to_dict",
    "client.Group.from_dict": "soma's per-group reader helper; use Workflow.from_dict",
    "client.Job.get_commandline": "soma's engine-side command building (swf_domain.command)",
    "client.Job.commandline_repl": "soma's engine-side command building (swf_domain.command)",
    "client.Workflow.add_dependencies_from_links": "swf adds them when the Workflow is built",
    "configuration.Configuration.addObserver": "soma's GUI observer protocol",
    "configuration.Configuration.notifyObservers": "soma's GUI observer protocol",
    "configuration.Configuration.removeObserver": "soma's GUI observer protocol",
    "configuration.LocalSchedulerCfg.addObserver": "soma's GUI observer protocol",
    "configuration.LocalSchedulerCfg.notifyObservers": "soma's GUI observer protocol",
    "configuration.LocalSchedulerCfg.removeObserver": "soma's GUI observer protocol",
}


def _public(module: ModuleType) -> list[str]:
    """Names a script may import: defined by soma-workflow (not stdlib/six imports)."""
    names = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if inspect.ismodule(value):
            if value.__name__.startswith("soma_workflow."):
                names.append(name)
            continue
        owner = getattr(value, "__module__", None)
        if callable(value) and owner is not None and not owner.startswith("soma_workflow"):
            continue
        names.append(name)
    return names


def soma_names() -> set[str]:
    names: set[str] = set()
    for module_name in MODULES:
        module = importlib.import_module(f"soma_workflow.{module_name}")
        assert soma_oracle.ROOT.name not in str(module.__file__).split("/src/")[0][-4:]
        names.update(f"{module_name}.{name}" for name in _public(module))
    for module_name, class_name in CLASSES:
        cls = getattr(importlib.import_module(f"soma_workflow.{module_name}"), class_name)
        names.update(f"{module_name}.{class_name}.{n}" for n in dir(cls) if not n.startswith("_"))
    return names


#: Lists the same names in swf's alias package (run with swf's own soma_workflow).
SWF_PROBE = """
import importlib, json, sys
modules, classes = json.loads(sys.argv[1])
found = []
for m in modules:
    module = importlib.import_module("soma_workflow." + m)
    assert "/src/soma_workflow/" in module.__file__, module.__file__
    found += [m + "." + n for n in dir(module) if not n.startswith("_")]
for m, c in classes:
    cls = getattr(importlib.import_module("soma_workflow." + m), c)
    names = set(dir(cls))
    for klass in cls.__mro__:
        names.update(getattr(klass, "__annotations__", {}))
    found += [m + "." + c + "." + n for n in names if not n.startswith("_")]
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def swf_names() -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", SWF_PROBE, json.dumps([MODULES, CLASSES])],
        env=soma_oracle.swf_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout)
    return set(found)


def test_the_oracle_is_the_real_soma_workflow() -> None:
    import soma_workflow

    assert str(soma_oracle.oracle_dir()) in str(soma_workflow.__file__)


def test_every_soma_name_is_provided_or_declined(swf_names: set[str]) -> None:
    missing = sorted(soma_names() - swf_names - set(DECLINED))
    assert missing == []


def test_declined_names_are_really_missing_and_really_soma_names(swf_names: set[str]) -> None:
    soma = soma_names()
    assert sorted(name for name in DECLINED if name in swf_names) == []
    assert sorted(name for name in DECLINED if name not in soma) == []


def test_constants_have_soma_values() -> None:
    import soma_workflow.constants as soma
    import swf_entry.constants as ours

    values: dict[str, Any] = {n: getattr(soma, n) for n in _public(soma)}
    assert {n: getattr(ours, n) for n in values} == values
