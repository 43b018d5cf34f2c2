"""`swf run --report`, `swf report` and `swf monitor` as a user runs them (daemon mode)."""

from __future__ import annotations

import os
import re
import urllib.request

import psutil

from .cli_fixtures import swf_home

WORKFLOW = """
first = Job(["sh", "-c", "echo first"], name="first")
broken = Job(["sh", "-c", "echo 'it broke' >&2; exit 2"], name="broken")
workflow = Workflow(jobs=[first, broken], dependencies=[(first, broken)], name="reported")
"""


def test_run_with_report_then_report_by_name() -> None:
    with swf_home() as home:
        file = home.python_workflow("reported.py", WORKFLOW)
        run = home.swf("run", str(file), "--report", "run.html", "--on-interrupt", "stop")
        assert run.code == 1, str(run)  # a job failed
        assert "report written to run.html" in run.out
        html = (home.files / "run.html").read_text()
        assert "reported" in html and "it broke" in html and "No job failed" not in html
        again = home.swf("report", "reported", "-o", str(home.files / "again.html"), expect=0)
        assert "report written" in again.out
        assert (home.files / "again.html").read_text().count("it broke") == 1
        missing = home.swf("report", "nope", "-o", "x.html")
        assert missing.code == 3 and "no workflow named 'nope'" in missing.err


def test_monitor_prints_a_tokened_loopback_url_and_serves_it() -> None:
    with swf_home() as home:
        process = home.popen("monitor", "--no-browser")
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([\w-]{30,})", line)
            assert match, line
            with urllib.request.urlopen(match.group(0), timeout=20) as page:
                assert page.status == 200 and b"swf monitor" in page.read()
            # The user's priority: a niced monitor starved under load (cost bounded instead).
            assert psutil.Process(process.pid).nice() == os.nice(0)
        finally:
            process.terminate()
            assert process.wait(timeout=20) is not None
