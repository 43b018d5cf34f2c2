"""The ``swf`` command line (typer + rich)."""

from swf_entry.cli.app import app, main

__all__ = ["app", "main"]
