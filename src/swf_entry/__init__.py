"""User-facing entries and the composition root: facade, CLI, daemons."""
