"""``swf schedulers``: the schedulers installed (swf's own and plugins registered in the
``swf.schedulers`` entry-point group) and whether each can run on this machine (soma's
``get_schedulers_list``)."""

from __future__ import annotations

from rich.table import Table

from swf_entry.cli.app import JsonOpt, app, ctx, emit_json


@app.command("schedulers")
def schedulers(as_json: JsonOpt = False) -> None:
    """List the installed schedulers (SCHEDULER_TYPE values) and whether each can run here.

    Example: swf schedulers --json
    """
    from swf_adapters.schedulers.registry import survey

    rows = survey()
    if as_json:
        emit_json(
            [
                {"type": name, "description": text, "runs_here": found.ok, "reason": found.reason}
                for name, text, found in rows
            ]
        )
        return
    table = Table(title="schedulers", title_justify="left")
    for column in ("type", "runs here", "description", "why"):
        table.add_column(column)
    for name, text, found in rows:
        table.add_row(name, "yes" if found.ok else "no", text, found.reason)
    ctx().console.print(table)
