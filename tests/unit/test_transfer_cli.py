"""The CLI's transfer views: a rich progress bar per transfer, the transfers table."""

from __future__ import annotations

import io

from rich.console import Console

from swf_app.read_models import TransferInfo
from swf_entry.cli.transfer_command import progress_bars, transfers_json, transfers_table

INFO = TransferInfo(1 << 20, "/r/1/0/in.dat", "/c/in.dat", None, True, "on client side", None)


def test_a_progress_bar_follows_the_copy() -> None:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False)
    with progress_bars(console) as factory:
        progress = factory(INFO)
        progress(512 * 1024, 1 << 20)
        progress(1 << 20, 1 << 20)
    text = out.getvalue()
    assert "send /c/in.dat" in text
    assert "1.0/1.0 MB" in text or "1.0 MB" in text, text


def test_the_transfers_table_and_json() -> None:
    out = io.StringIO()
    Console(file=out, width=200).print(transfers_table([INFO]))
    assert "on client side" in out.getvalue() and "/r/1/0/in.dat" in out.getvalue()
    assert transfers_json([INFO])[0]["transfer_id"] == 1 << 20
