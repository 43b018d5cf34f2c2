"""The facade scenarios that other resources (a batch cluster, an MPI allocation) run
unchanged, named once so that the suites collecting them again stay in step with each
other and with test_facade_scenarios.py (a renamed scenario fails at import here)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tests.integration import test_facade_scenarios as facade

#: Scenarios about workflows alone (no engine life, no local slots, no 100 MB job
#: output): every resource runs them, a batch cluster included.
ON_ANY_RESOURCE = (
    "test_simple_diamond_with_groups_runs_in_dependency_order",
    "test_serial_jobs_never_overlap",
    "test_fan_out_then_fan_in",
    "test_barrier_jobs_order_their_neighbours",
    "test_multiple_sub_workflows_as_groups",
    "test_exception_in_a_job_aborts_its_descendants_only",
    "test_command_not_found_fails_that_job_only",
    "test_environment_precedence",
    "test_an_openmp_job_gets_its_cpus_as_threads_unless_its_env_says_otherwise",
    "test_dynamic_outputs_feed_a_downstream_command",
    "test_stop_then_restart_runs_only_what_did_not_finish",
    "test_restart_after_a_fix_runs_the_failed_job_and_what_it_blocked",
    "test_stop_jobs_and_restart_jobs",
    "test_arguments_and_environment_reach_the_job_verbatim",
)


def scenarios(*groups: Iterable[str]) -> dict[str, Callable[..., Any]]:
    """The facade's test functions named in ``groups``, for a test module's ``globals()``
    (pytest collects them there again, with that module's fixtures)."""
    return {name: getattr(facade, name) for names in groups for name in names}
