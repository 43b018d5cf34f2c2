"""Transport benchmark: the engine daemon's Pyro5 link, bulk data and call latency.

Phases, for each document size N (independent jobs, soma-workflow JSON shape):

- ``codec``: in-process encode + decode of the document as a Pyro message, two ways:
  the baseline is plain serpent (Pyro's serializer; decoding is ``ast.literal_eval``), the
  measured one is ``wire_data`` (tagged JSON text carried in one serpent string), as the
  link does for bulky data. ``ratio`` = wire_data seconds / serpent seconds.
- ``daemon``: a real engine daemon (the test fake service behind it) in a temporary state
  dir: submit the document, fetch it back, then ``job_status`` round trips from 1 and 4
  threads (microseconds per call, calls per second).

    .venv/bin/python bench/bench_transport.py                  # sizes 1e3 1e4 1e5
    .venv/bin/python bench/bench_transport.py --sizes 100000 --calls 5000
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))

from Pyro5.serializers import SerpentSerializer  # noqa: E402

from swf_adapters.transport.pyro import PyroEngineLink, wire_data  # noqa: E402
from swf_entry.daemon import ensure_engine, stop_engine  # noqa: E402

FACTORY = "tests.integration.pyro_fake_service:build"


def document(size: int) -> dict[str, Any]:
    jobs = [
        {"command": ["python", "-c", f"print({i})"], "name": f"job{i}", "priority": 0}
        for i in range(size)
    ]
    return {"jobs": jobs, "dependencies": [], "name": f"bench {size}"}


def best_of(repeat: int, action: Any) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def codec(size: int, repeat: int) -> dict[str, float]:
    serpent = SerpentSerializer()
    value = document(size)

    def plain() -> None:
        serpent.loadsCall(serpent.dumpsCall("engine", "submit_workflow", (value,), {}))

    def packed() -> None:
        message = serpent.dumpsCall("engine", "submit_workflow", (wire_data.pack(value),), {})
        wire_data.unpack(serpent.loadsCall(message)[2][0])

    baseline = best_of(repeat, plain)
    measured = best_of(repeat, packed)
    return {"serpent_s": baseline, "wire_data_s": measured, "ratio": measured / baseline}


def calls_per_second(link: PyroEngineLink, threads: int, calls: int) -> float:
    def loop() -> None:
        for _ in range(calls // threads):
            link.job_status(1)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (calls // threads * threads) / (time.perf_counter() - start)


def daemon(sizes: list[int], calls: int) -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="swf-bench-", dir="/tmp"))
    try:
        started = time.perf_counter()
        endpoint = ensure_engine(state_dir, FACTORY, idle_timeout=0)
        print(f"daemon start: {time.perf_counter() - started:.2f}s (pid {endpoint.pid})")
        with PyroEngineLink(endpoint.socket_path, endpoint.key_file) as link:
            for size in sizes:
                value = document(size)
                start = time.perf_counter()
                workflow_id = link.submit_workflow(value, None, None, None)
                submit = time.perf_counter() - start
                start = time.perf_counter()
                assert link.workflow_document(workflow_id) == value
                fetch = time.perf_counter() - start
                print(f"daemon N={size:>7}: submit {submit:.3f}s  fetch {fetch:.3f}s")
            for threads in (1, 4):
                rate = calls_per_second(link, threads, calls)
                print(
                    f"daemon job_status x{threads} threads: {rate:,.0f} calls/s "
                    f"({1e6 / rate:.0f} us/call)"
                )
    finally:
        stop_engine(state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=1, help="best of N for the codec phase")
    parser.add_argument("--calls", type=int, default=4000)
    args = parser.parse_args()
    for size in args.sizes:
        figures = codec(size, args.repeat)
        print(
            f"codec  N={size:>7}: serpent {figures['serpent_s']:.3f}s  "
            f"wire_data {figures['wire_data_s']:.3f}s  ratio {figures['ratio']:.2f}"
        )
    daemon(args.sizes, args.calls)


if __name__ == "__main__":
    main()
