"""Workspace adapters: where the engine makes the files of the jobs it runs."""
