"""What does a monitor left open cost the engine? And how fast does a 100,000-job workflow's
page load? Daemon mode (as users run it); every figure against a baseline of the same run.

Cost: rounds alternate "no monitor" and "monitor open" (ABBA order: none, monitor,
monitor, none, ...), each running ``--jobs`` independent ``true`` jobs on ``--slots``
slots. With a monitor, a monitor process (``MonitorServer`` over the client link, as
``swf monitor`` runs) serves what a browser does from the moment of submission: the
workflow page's event stream, read by a real SSE reader that re-reads the visible rows
when an event says so; the workflows page's event stream; and a page poller that reads the
summary and the first 50 rows every second (a second tab, reloading). The deciding figure
is the ENGINE daemon's CPU time per job (user + system, ``psutil``): much less sensitive
to the machine's load than wall time. Throughput (jobs / (submit -> end)) is shown beside
it. Both are reported for every round, as medians, and as ratios within each ABBA pair.

Latency: the first event after the page's stream opened, and each event's delay from the
end of the newest / oldest job it carries. ``--hogs N`` adds N busy processes at normal
priority (load on demand); ``--monitor-nice 10`` runs the monitor as the previous pass's
``nice`` +10 did, for comparison.

Page load (``--page``): on the finished ``--jobs`` workflow, each part of the workflow
page with a fresh monitor process (it has not read the workflow): seconds from asking
for the page to its first view (HTML, summary, 50 rows of the job table), then to one
tab (group tree, graph or plots: these need the workflow read), and to the three one
after the other ("all"); then every view once read; and in headless Chromium when it is
installed (page opened -> job table filled). ``--page-only`` measures that alone on a
workflow stopped mid-run.

    .venv/bin/python bench/bench_monitor.py --jobs 100000 --rounds 4 --no-page
    .venv/bin/python bench/bench_monitor.py --jobs 20000 --rounds 2 --hogs 8 --no-page
    .venv/bin/python bench/bench_monitor.py --page-only --jobs 100000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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
from swf_entry.monitor.server import MonitorServer
import os
os.nice(int(sys.argv[3]))  # 0: as `swf monitor` runs
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
#: The process id of the monitor last started (its CPU is read during the page load).
MONITOR_PID: list[int] = []


@contextlib.contextmanager
def monitor_process(
    home: Path, mode: str, niceness: int = 0, src: str | None = None
) -> Iterator[str]:
    """A monitor process for ``home``; yields its base URL (token as a query). ``src``:
    the monitor runs that checkout's code (a same-run baseline of another commit)."""
    argv = [sys.executable, "-c", MONITOR, str(home), mode, str(niceness)]
    env = {**os.environ, "PYTHONPATH": src} if src else None
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    MONITOR_PID[:] = [process.pid]
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
        self.opened: float | None = None
        self.first_event: float | None = None
        self.delays: list[float] = []
        self.oldest: list[float] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        path = f"{self.url}/api/workflows/{self.workflow_id}"
        with (
            self.closing(),
            httpx.Client(headers=self.headers, timeout=120) as client,
            client.stream("GET", f"{path}/events") as stream,
        ):
            self.opened = time.time()
            last_reload = 0.0
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    last_reload = self._event(client, path, json.loads(line[6:]), last_reload)
                    if self.done.is_set():
                        break
        self.done.set()

    @contextlib.contextmanager
    def closing(self) -> Iterator[None]:
        """A stream cut once the run is over (the monitor stopped) is no error."""
        try:
            yield
        except httpx.TransportError:
            if not self.done.is_set():
                raise

    def _event(self, client: httpx.Client, path: str, event: dict[str, Any], last: float) -> float:
        now = time.time()
        if event.get("type") != "workflow":
            return last
        self.events += 1
        if self.first_event is None and self.opened is not None:
            self.first_event = now - self.opened
        ended = [row["ended"] for row in event.get("rows", []) if row.get("ended")]
        if ended:
            self.delays.append(now - max(ended))
            self.oldest.append(now - min(ended))
        if event.get("more") and now - last > 0.5:
            client.get(f"{path}/jobs", params={"limit": 50})
            self.reloads += 1
            last = now
        if event.get("summary", {}).get("status") == "workflow_done":
            self.done.set()
        return last


class Browser:
    """Everything a browser with the monitor open does: the workflow page (PageClient),
    the workflows page's event stream, and a tab re-reading summary + rows every second."""

    def __init__(self, base: str, workflow_id: int) -> None:
        self.page = PageClient(base, workflow_id)
        self.url, token = base.split("|")
        self.headers = {"X-SWF-Token": token}
        self.workflow_id = workflow_id
        self.polls = 0
        self.list_events = 0
        self.threads = [
            self.page.thread,
            threading.Thread(target=self._poll, daemon=True),
            threading.Thread(target=self._list, daemon=True),
        ]

    def start(self) -> Browser:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.page.done.wait(60)
        self.page.done.set()

    def _poll(self) -> None:
        path = f"{self.url}/api/workflows/{self.workflow_id}"
        with self.page.closing(), httpx.Client(headers=self.headers, timeout=120) as client:
            while not self.page.done.wait(1.0):
                client.get(path)
                client.get(f"{path}/jobs", params={"limit": 50})
                self.polls += 1

    def _list(self) -> None:
        with (
            self.page.closing(),
            httpx.Client(headers=self.headers, timeout=120) as client,
            client.stream("GET", f"{self.url}/api/events") as stream,
        ):
            for line in stream.iter_lines():
                self.list_events += line.startswith("data: ")
                if self.page.done.is_set():
                    break


def engine_cpu(home: Path) -> float:
    """CPU seconds the engine daemon has used so far."""
    times = psutil.Process((engine_status(home) or {})["pid"]).cpu_times()
    return float(times.user + times.system)


def run_once(
    controller: WorkflowController, home: Path, jobs: int, mode: str, niceness: int
) -> dict[str, Any]:
    workflow = independent(jobs, f"measured-{mode}")
    load_before = os.getloadavg()[0]
    cpu_before = engine_cpu(home)
    with contextlib.ExitStack() as stack:
        base = None
        if mode != "none":
            base = stack.enter_context(monitor_process(home, mode, niceness))
        started = time.perf_counter()
        workflow_id = controller.submit_workflow(workflow)
        browser = Browser(base, workflow_id).start() if base is not None else None
        controller.wait_workflow(workflow_id)
        elapsed = time.perf_counter() - started
        engine = engine_cpu(home) - cpu_before
        done = controller.link.status_summary(workflow_id).get("done", 0)
        result: dict[str, Any] = {
            "mode": mode,
            "rate": round(done / elapsed, 1),
            "id": workflow_id,
            "engine_cpu": round(engine, 2),
            "engine_ms_per_job": round(1000 * engine / jobs, 4),
            "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        }
        if browser is not None:
            browser.stop()
            result.update(browser_figures(browser))
    if mode != "none":
        result["monitor_cpu"] = round(MONITOR_CPU[-1], 2)
    return result


def browser_figures(browser: Browser) -> dict[str, Any]:
    page = browser.page
    delays = sorted(page.delays)
    return {
        "events": page.events,
        "reloads": page.reloads,
        "polls": browser.polls,
        "list_events": browser.list_events,
        "first_event_s": round(page.first_event, 3) if page.first_event is not None else None,
        "delay_median": round(statistics.median(delays), 3) if delays else None,
        "delay_p95": round(delays[int(0.95 * (len(delays) - 1))], 3) if delays else None,
        "oldest_max": round(max(page.oldest), 3) if page.oldest else None,
    }


@contextlib.contextmanager
def hogs(count: int) -> Iterator[None]:
    """``count`` busy processes at normal priority: load on demand."""
    processes = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


def timed(function: Any) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def page_load(home: Path, workflow_id: int, src: str | None = None) -> dict[str, Any]:
    """Seconds to the workflow page's parts, each with a monitor just started (cold: it
    has not read the workflow), over HTTP and in Chromium (``src``: see monitor_process)."""
    figures: dict[str, Any] = {}
    with monitor_process(home, "poll", src=src) as base:
        url, token = base.split("|")
        page = f"{url}/workflows/{workflow_id}?token={token}"
        figures["chromium_cold"] = chromium_load(page)
        figures["chromium_warm"] = chromium_load(page)
    for part in ("tree", "graph", "timeline", "all"):
        with monitor_process(home, "poll", src=src) as base:
            url, token = base.split("|")
            with httpx.Client(headers={"X-SWF-Token": token}, timeout=600) as client:
                figures.update(http_part(client, url, workflow_id, part))
    with monitor_process(home, "poll", src=src) as base:
        url, token = base.split("|")
        with httpx.Client(headers={"X-SWF-Token": token}, timeout=600) as client:
            figures.update(http_warm(client, url, workflow_id))
    return {key: round(value, 3) if value else value for key, value in figures.items()}


def http_part(client: httpx.Client, url: str, workflow_id: int, part: str) -> dict[str, float]:
    """A cold monitor: the page's first view (HTML, summary, 50 rows: the job table),
    then ``part`` (a tab: tree, graph or timeline; "all": the three, one after the other),
    each as seconds since the page was asked for, and the monitor process's CPU seconds
    by then (``cpu_`` figures: what load does not inflate much; wall time on a quiet
    machine is about that)."""
    api = f"{url}/api/workflows/{workflow_id}"
    monitor = psutil.Process(MONITOR_PID[0])
    cpu_before = sum(monitor.cpu_times()[:2])
    started = time.perf_counter()
    figures: dict[str, float] = {}

    def mark(name: str) -> None:
        figures[name] = time.perf_counter() - started
        figures[f"cpu_{name}"] = sum(monitor.cpu_times()[:2]) - cpu_before

    for path in (f"{url}/workflows/{workflow_id}", api, f"{api}/jobs?limit=50"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:200])
    mark(f"table_then_{part}")
    for tab in ("tree", "graph", "timeline") if part == "all" else (part,):
        response = client.get(f"{api}/{tab}")
        assert response.status_code == 200, (tab, response.text[:200])
        mark(f"{tab}_cold" if part != "all" else f"all_{tab}")
    return figures


def http_warm(client: httpx.Client, url: str, workflow_id: int) -> dict[str, float]:
    """Every view once the workflow is read (median of 5), and a filtered, sorted page."""
    api = f"{url}/api/workflows/{workflow_id}"
    every = (f"{url}/workflows/{workflow_id}", api, f"{api}/jobs?limit=50", f"{api}/tree")
    every += (f"{api}/graph", f"{api}/timeline")

    def view() -> None:
        for path in every:
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:200])

    view()
    filtered = {"q": "t9999", "status": "done", "sort": "ended", "desc": "1"}
    return {
        "every_view_warm": statistics.median(timed(view) for _ in range(5)),
        "jobs_page_filtered_warm": timed(lambda: client.get(f"{api}/jobs", params=filtered)),
    }


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


def page_only(jobs: int, slots: int, run_seconds: float, baseline: str | None = None) -> None:
    """The page-load figures on a workflow stopped mid-run (done, failed and not-run
    jobs), without waiting for ``jobs`` jobs to run; with ``baseline`` (another
    checkout's src/), rounds alternate between this code and that one on the same
    workflow."""
    with daemon_site(slots) as (home, controller):
        workflow_id = controller.submit_workflow(independent(jobs, "page-load"))
        time.sleep(run_seconds)
        controller.stop_workflow(workflow_id)
        controller.wait_workflow(workflow_id)
        counts = controller.link.status_summary(workflow_id)
        print(f"{jobs} jobs, stopped after {run_seconds:.0f} s: {counts}")
        sources = [None, baseline] if baseline else [None]
        for round_number in range(3):
            for src in sources:
                figures = page_load(home, workflow_id, src)
                label = f"baseline {src}" if src else "this code"
                print(f"page load {round_number + 1} ({label}, load {os.getloadavg()[0]:.1f}):")
                print(json.dumps(figures), flush=True)
        report_time(controller, workflow_id, jobs)


def report_time(controller: WorkflowController, workflow_id: int, jobs: int) -> None:
    report = Path(tempfile.gettempdir()) / "swf-bench-monitor-report.html"
    seconds = timed(lambda: write_report(controller.link, workflow_id, report))
    size = report.stat().st_size / 1e6
    print(f"swf report of {jobs} jobs: {seconds:.1f} s, {size:.2f} MB ({report})")


def idle_cost(slots: int, windows: int, seconds: float) -> None:
    """The engine's CPU per second with a monitor open (a browser watching a finished
    workflow: its event streams and the polling tab) against without, in alternating
    windows: what the monitor itself makes the engine do, whatever the machine's load
    does to throughput (the monitor reads the store itself; the engine answers its
    link's keep-alive)."""
    with daemon_site(slots) as (home, controller):
        workflow_id = controller.submit_workflow(independent(100, "watched"))
        controller.wait_workflow(workflow_id)
        rates: dict[str, list[float]] = {"none": [], "poll": []}
        for _, mode in abba(windows, ["none", "poll"]):
            rates[mode].append(idle_window(home, workflow_id, mode, seconds))
            print(mode, f"{rates[mode][-1]:.2f} ms/s", f"load {os.getloadavg()[0]:.1f}")
    for mode, values in rates.items():
        print(f"{mode}: engine CPU {statistics.median(values):.2f} ms per second (median)")


def idle_window(home: Path, workflow_id: int, mode: str, seconds: float) -> float:
    """Engine CPU milliseconds per second over one window."""
    with contextlib.ExitStack() as stack:
        if mode != "none":
            base = stack.enter_context(monitor_process(home, mode))
            browser = Browser(base, workflow_id).start()
            stack.callback(browser.page.done.set)
            time.sleep(2)  # connected, workflow read
        before, started = engine_cpu(home), time.perf_counter()
        time.sleep(seconds)
        return 1000 * (engine_cpu(home) - before) / (time.perf_counter() - started)


def abba(rounds: int, modes: list[str]) -> Iterator[tuple[int, str]]:
    """Round r runs the modes in order, the next round in reverse: drift hits both."""
    for round_number in range(rounds):
        order = modes if round_number % 2 == 0 else modes[::-1]
        for mode in order:
            yield round_number, mode


def summarize(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    print(f"\n{args.jobs} jobs, {args.slots} slots, {args.rounds} rounds, {args.hogs} hogs")
    print(f"{'monitor':<10} {'engine ms/job':>13} {'cpu ratio':>9} {'jobs/s':>8} {'ratio':>6}")
    base = results["none"]
    base_ms = statistics.median(r["engine_ms_per_job"] for r in base)
    base_rate = statistics.median(r["rate"] for r in base)
    for mode, rows in results.items():
        ms = statistics.median(r["engine_ms_per_job"] for r in rows)
        rate = statistics.median(r["rate"] for r in rows)
        print(f"{mode:<10} {ms:>13.4f} {ms / base_ms:>9.3f} {rate:>8.0f} {rate / base_rate:>6.2f}")
        if mode == "none":
            continue
        pairs = list(zip(rows, base, strict=True))
        cpu = [r["engine_ms_per_job"] / n["engine_ms_per_job"] for r, n in pairs]
        rates = [r["rate"] / n["rate"] for r, n in pairs]
        print(f"  per-round engine CPU/job ratios: {', '.join(f'{x:.3f}' for x in cpu)}")
        print(f"  per-round throughput ratios:     {', '.join(f'{x:.2f}' for x in rates)}")
        print(
            f"  median of pair ratios: CPU/job {statistics.median(cpu):.3f}, "
            f"throughput {statistics.median(rates):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--modes", default="poll")
    parser.add_argument("--hogs", type=int, default=0, help="busy processes during the runs")
    parser.add_argument("--monitor-nice", type=int, default=0, help="the monitor's niceness")
    parser.add_argument("--no-page", action="store_true", help="skip the page-load figures")
    parser.add_argument(
        "--page-only",
        action="store_true",
        help="page load only, on a --jobs workflow run for --run-seconds then stopped",
    )
    parser.add_argument("--run-seconds", type=float, default=20.0)
    parser.add_argument(
        "--baseline-src",
        help="with --page-only: also load the page with this checkout's src/ (alternating)",
    )
    parser.add_argument(
        "--idle", type=int, default=0, help="N windows of engine CPU, monitor open or not"
    )
    args = parser.parse_args()
    if args.idle:
        idle_cost(args.slots, args.idle, args.run_seconds)
        return
    if args.page_only:
        page_only(args.jobs, args.slots, args.run_seconds, args.baseline_src)
        return
    modes = ["none", *args.modes.split(",")]
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    with daemon_site(args.slots) as (home, controller), hogs(args.hogs):
        last_id = None
        for round_number, mode in abba(args.rounds, modes):
            result = run_once(controller, home, args.jobs, mode, args.monitor_nice)
            results[mode].append({"round": round_number + 1, **result})
            print(json.dumps(results[mode][-1]), flush=True)
            if last_id is not None:
                controller.delete_workflow(last_id)
            last_id = result["id"]
        summarize(results, args)
        if not args.no_page and last_id is not None:
            print("\npage load:", json.dumps(page_load(home, last_id)))
            report_time(controller, last_id, args.jobs)


if __name__ == "__main__":
    main()
