"""What does a monitor left open cost the engine? And how fast does a 100,000-job workflow's
page load? Same-run ratios, daemon mode (as users run it).

Throughput: each round runs ``--jobs`` independent ``true`` jobs on ``--slots`` slots with
no monitor, then once per monitor mode, in a rotating order. A monitor run starts a
monitor process (``MonitorServer`` over the client link, as ``swf monitor`` does), and the
moment the workflow is submitted this process opens the workflow page's event stream and
behaves as the page does: it reads every event, and when an event says that more jobs
changed than it carries, it re-reads the visible page of the job table (50 rows, at most
twice a second). Throughput is jobs / (submit -> wait_workflow end).

Monitor modes (``--modes``):

- ``poll``: the monitor follows the change feed with ``job_changes`` every 0.3 s (a query
  the daemon's client answers from the store itself);
- ``longpoll``: with ``wait_changes`` (the engine daemon runs the wait and sends the
  changed jobs).

Page load (``--page``): a fresh monitor process on the finished ``--jobs`` workflow:
time to the first complete view of the workflow page over HTTP (page, summary, first page
of the job table, group tree; the first call loads the workflow into the monitor), then
the same again (loaded), and in headless Chromium when it is installed (page opened ->
job table filled); `--page-only` measures that alone on a workflow stopped mid-run.

    .venv/bin/python bench/bench_monitor.py                      # 100,000 jobs, 2 rounds
    .venv/bin/python bench/bench_monitor.py --jobs 20000 --rounds 1 --modes poll
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import psutil
from bench_readers import daemon_site  # the same daemon set-up (bench/ is on sys.path)

from swf_domain.model import Group, Job, Workflow
from swf_entry.client import WorkflowController
from swf_entry.daemon import engine_status
from swf_entry.monitor.report import write_report

TRUE = shutil.which("true") or "/bin/true"

MONITOR = """
import sys
from pathlib import Path
from swf_entry.composition import ClientOptions, open_controller
from swf_entry.monitor.server import MonitorServer, lower_priority
lower_priority()  # as `swf monitor` does
wfc = open_controller(ClientOptions(home=Path(sys.argv[1])))
server = MonitorServer(wfc.link, long_poll=sys.argv[2] == "longpoll")
print(server.port, server.token, flush=True)
server.run()
"""


def independent(n: int, name: str) -> Workflow:
    jobs = [Job([TRUE], name=f"t{i}") for i in range(n)]
    groups = [Group(jobs[i : i + 1000], name=f"block{i // 1000}") for i in range(0, n, 1000)]
    return Workflow(jobs, root_group=groups, name=name)


#: CPU seconds of each monitor process, read just before it is stopped.
MONITOR_CPU: list[float] = []


@contextlib.contextmanager
def monitor_process(home: Path, mode: str) -> Iterator[str]:
    """A monitor process for ``home``; yields its base URL (token as a query)."""
    process = subprocess.Popen(
        [sys.executable, "-c", MONITOR, str(home), mode], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port, token = process.stdout.readline().split()
        yield f"http://127.0.0.1:{port}|{token}"
    finally:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(process.pid).cpu_times()
            MONITOR_CPU.append(times.user + times.system)
        process.terminate()
        process.wait(timeout=30)


class PageClient:
    """What the workflow page does: follow the event stream, re-read the visible rows."""

    def __init__(self, base: str, workflow_id: int) -> None:
        self.url, token = base.split("|")
        self.headers = {"X-SWF-Token": token}
        self.workflow_id = workflow_id
        self.events = 0
        self.reloads = 0
        self.delays: list[float] = []
        self.oldest: list[float] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        path = f"{self.url}/api/workflows/{self.workflow_id}"
        last_reload = 0.0
        with (
            httpx.Client(headers=self.headers, timeout=120) as client,
            client.stream("GET", f"{path}/events") as stream,
        ):
            for line in stream.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                self.events += 1
                now = time.time()
                ended = [row["ended"] for row in event.get("rows", []) if row.get("ended")]
                if ended:
                    self.delays.append(now - max(ended))
                    self.oldest.append(now - min(ended))
                if event.get("more") and now - last_reload > 0.5:
                    client.get(f"{path}/jobs", params={"limit": 50})
                    self.reloads += 1
                    last_reload = now
                if event.get("summary", {}).get("status") == "workflow_done":
                    break
        self.done.set()


def engine_cpu(home: Path) -> float:
    """CPU seconds the engine daemon has used so far."""
    times = psutil.Process((engine_status(home) or {})["pid"]).cpu_times()
    return float(times.user + times.system)


def run_once(controller: WorkflowController, home: Path, jobs: int, mode: str) -> dict[str, Any]:
    workflow = independent(jobs, f"measured-{mode}")
    cpu_before = engine_cpu(home)
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(monitor_process(home, mode)) if mode != "none" else None
        started = time.perf_counter()
        workflow_id = controller.submit_workflow(workflow)
        page = None
        if base is not None:
            page = PageClient(base, workflow_id)
            page.thread.start()
        controller.wait_workflow(workflow_id)
        elapsed = time.perf_counter() - started
        if page is not None:
            page.done.wait(30)
        done = controller.link.status_summary(workflow_id).get("done", 0)
        result: dict[str, Any] = {
            "mode": mode,
            "rate": done / elapsed,
            "id": workflow_id,
            "engine_cpu": round(engine_cpu(home) - cpu_before, 2),
        }
        if page is not None:
            page.done.wait(30)
            delays = sorted(page.delays)
            result.update(
                monitor_cpu=None,
                events=page.events,
                reloads=page.reloads,
                delay_median=statistics.median(delays) if delays else None,
                delay_p95=delays[int(0.95 * (len(delays) - 1))] if delays else None,
                oldest_max=max(page.oldest) if page.oldest else None,
            )
    if mode != "none":
        result["monitor_cpu"] = round(MONITOR_CPU[-1], 2)
    return result


def timed(function: Any) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def page_load(home: Path, workflow_id: int) -> dict[str, Any]:
    """Seconds to the workflow page's first view, each with a monitor just started (cold:
    it has not read the workflow) and again (warm), over HTTP and in Chromium."""
    figures: dict[str, Any] = {}
    with monitor_process(home, "poll") as base:
        url, token = base.split("|")
        page = f"{url}/workflows/{workflow_id}?token={token}"
        figures["chromium_cold"] = chromium_load(page)
        figures["chromium_warm"] = chromium_load(page)
    with monitor_process(home, "poll") as base:
        url, token = base.split("|")
        with httpx.Client(headers={"X-SWF-Token": token}, timeout=600) as client:
            figures.update(http_load(client, url, workflow_id))
    return figures


def http_load(client: httpx.Client, url: str, workflow_id: int) -> dict[str, float]:
    """First view (page, summary, 50 rows) cold, then the groups tree (the workflow read
    in the background), then every view warm."""
    api = f"{url}/api/workflows/{workflow_id}"
    first = (f"{url}/workflows/{workflow_id}", api, f"{api}/jobs?limit=50")
    every = (*first, f"{api}/tree", f"{api}/graph")

    def view(paths: tuple[str, ...]) -> None:
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:200])

    started = time.perf_counter()
    figures = {"http_first_view_cold": timed(lambda: view(first))}
    view((f"{api}/tree",))
    figures["http_tree_cold"] = time.perf_counter() - started
    figures["http_every_view_warm"] = statistics.median(
        timed(lambda: view(every)) for _ in range(5)
    )
    filtered = {"q": "t9999", "status": "done", "sort": "ended", "desc": "1"}
    figures["jobs_page_filtered_warm"] = timed(lambda: client.get(f"{api}/jobs", params=filtered))
    figures["timeline_warm"] = timed(lambda: client.get(f"{api}/timeline"))
    return figures


def chromium_load(url: str) -> float | None:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        started = time.perf_counter()
        driver.get(url)
        WebDriverWait(driver, 120, poll_frequency=0.02).until(
            lambda d: (
                d.execute_script("return document.querySelectorAll('#jobs tbody tr').length") >= 50
            )
        )
        loaded = time.perf_counter() - started
        shot = Path(tempfile.gettempdir()) / "swf-bench-monitor-page.png"
        driver.set_window_size(1400, 1000)
        driver.save_screenshot(str(shot))
        print(f"screenshot of the page: {shot}")
        return loaded
    finally:
        driver.quit()


def page_only(jobs: int, slots: int, run_seconds: float) -> None:
    """The page-load figures on a workflow stopped mid-run (done, failed and not-run
    jobs), without waiting for ``jobs`` jobs to run."""
    with daemon_site(slots) as (home, controller):
        workflow_id = controller.submit_workflow(independent(jobs, "page-load"))
        time.sleep(run_seconds)
        controller.stop_workflow(workflow_id)
        controller.wait_workflow(workflow_id)
        counts = controller.link.status_summary(workflow_id)
        print(f"{jobs} jobs, stopped after {run_seconds:.0f} s: {counts}")
        for round_number in range(3):
            print(f"page load {round_number + 1}:", json.dumps(page_load(home, workflow_id)))
        report_time(controller, workflow_id, jobs)


def report_time(controller: WorkflowController, workflow_id: int, jobs: int) -> None:
    report = Path(tempfile.gettempdir()) / "swf-bench-monitor-report.html"
    seconds = timed(lambda: write_report(controller.link, workflow_id, report))
    size = report.stat().st_size / 1e6
    print(f"swf report of {jobs} jobs: {seconds:.1f} s, {size:.2f} MB ({report})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", default="poll,longpoll")
    parser.add_argument("--no-page", action="store_true", help="skip the page-load figures")
    parser.add_argument(
        "--page-only",
        action="store_true",
        help="page load only, on a --jobs workflow run for --run-seconds then stopped",
    )
    parser.add_argument("--run-seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.page_only:
        page_only(args.jobs, args.slots, args.run_seconds)
        return
    modes = ["none", *args.modes.split(",")]
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    with daemon_site(args.slots) as (home, controller):
        last_id = None
        for round_number in range(args.rounds):
            order = modes[round_number % len(modes) :] + modes[: round_number % len(modes)]
            for mode in order:
                result = run_once(controller, home, args.jobs, mode)
                results[mode].append(result)
                print(json.dumps(result), flush=True)
                if last_id is not None:
                    controller.delete_workflow(last_id)
                last_id = result["id"]
        base = statistics.median(r["rate"] for r in results["none"])
        print(f"\n{args.jobs} jobs, {args.slots} slots, {args.rounds} rounds")
        print(f"{'monitor':<10} {'jobs/s':>8} {'ratio':>6} {'engine CPU s':>12}  per-round ratios")
        for mode in modes:
            rates = [r["rate"] for r in results[mode]]
            pairs = [
                r["rate"] / n["rate"] for r, n in zip(results[mode], results["none"], strict=False)
            ]
            cpu = statistics.median(r["engine_cpu"] for r in results[mode])
            print(
                f"{mode:<10} {statistics.median(rates):>8.0f} "
                f"{statistics.median(rates) / base:>6.2f} {cpu:>12.1f}  "
                + ", ".join(f"{p:.2f}" for p in pairs)
            )
        if not args.no_page and last_id is not None:
            print("\npage load:", json.dumps(page_load(home, last_id)))
            report_time(controller, last_id, args.jobs)


if __name__ == "__main__":
    main()
