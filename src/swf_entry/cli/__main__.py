"""``python -m swf_entry.cli``: the ``swf`` command without its console script."""

from swf_entry.cli.app import main

main(prog_name="swf")
