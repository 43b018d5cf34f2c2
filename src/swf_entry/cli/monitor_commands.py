"""``swf monitor`` and ``swf report``: the web monitor and the HTML report of a run."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from swf_entry.cli.app import WorkflowArg, app, controller, guarded, resolve_workflow, say


@app.command()
def monitor(
    port: Annotated[
        int, typer.Option("--port", "-p", help="Port on 127.0.0.1 (default: a free one).")
    ] = 0,
    browser: Annotated[
        bool, typer.Option("--browser/--no-browser", help="Open the monitor in a browser.")
    ] = True,
) -> None:
    """Watch and steer your workflows in a web browser, live.

    Serves on 127.0.0.1 only and prints the URL with a random token (every page, API call
    and event stream needs it); opens the browser when this machine has one. From
    another machine, forward the port over SSH (ssh -L PORT:127.0.0.1:PORT host).
    Ctrl-C stops the monitor; workflows go on.

    Example: swf monitor --port 8765 --no-browser
    """
    from swf_entry.monitor.server import Served, serve

    def announce(served: Served) -> None:
        say(f"swf monitor: {served.url}", style="bold")
        say("(Ctrl-C stops the monitor; workflows go on)")

    with controller() as wfc, contextlib.suppress(KeyboardInterrupt):
        guarded(lambda: serve(wfc.link, port=port, browser=browser, announce=announce))


@app.command()
def report(
    workflow: WorkflowArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")] = Path(
        "report.html"
    ),
) -> None:
    """Write one self-contained HTML report of a workflow's run (opens without network).

    Summary, a timeline of every job by slot coloured by status, CPU and memory per job,
    the slowest and the failed jobs with their stderr tails, and the DAG summary;
    aggregated for very large workflows.

    Example: swf report nightly -o nightly.html
    """
    from swf_entry.monitor.report import write_report

    with controller() as wfc:
        workflow_id = guarded(lambda: resolve_workflow(wfc, workflow))
        guarded(lambda: write_report(wfc.link, workflow_id, output))
    say(f"report written to {output}")
