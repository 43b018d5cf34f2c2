"""The ``swf`` command line (typer + rich)."""

from swf_entry.cli import monitor_commands  # registers `swf monitor` and `swf report`
from swf_entry.cli.app import app, main

__all__ = ["app", "main", "monitor_commands"]
