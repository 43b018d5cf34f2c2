"""The monitor over HTTP against a real embedded engine: token, CSRF, escaping, paging,
actions and the live event stream (a real uvicorn server for the stream)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from swf_entry.client import Job, Workflow, WorkflowController
from swf_entry.monitor import hub as hub_module
from swf_entry.monitor.hub import Hub
from swf_entry.monitor.report import write_report
from swf_entry.monitor.server import MonitorServer
from swf_entry.monitor.source import JobQuery, MonitorSource
from swf_entry.monitor.web import create_app

from .monitor_fixtures import (
    HOSTILE,
    embedded_controller,
    sleepy_workflow,
    wait_until,
    wide_workflow,
)

TOKEN = "test-token-0123456789"
BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def wfc() -> Iterator[WorkflowController]:
    with embedded_controller() as controller:
        yield controller


@pytest.fixture(scope="module")
def client(wfc: WorkflowController) -> Iterator[TestClient]:
    hub = Hub(MonitorSource(wfc.link))
    with TestClient(create_app(hub, TOKEN), base_url=BASE) as test_client:
        yield test_client
    hub.close()


def auth() -> dict[str, str]:
    return {"X-SWF-Token": TOKEN}


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params, headers=auth())
    assert response.status_code == 200, response.text
    return response.json()


def post(client: TestClient, path: str, body: Any = None) -> Any:
    response = client.post(path, json=body or {}, headers=auth())
    assert response.status_code == 200, response.text
    return response.json()


# -- the token ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/workflows/1",
        "/workflows/1/jobs/1",
        "/api/workflows",
        "/api/events",
        "/api/workflows/1/events",
        "/api/workflows/1/jobs",
        "/static/common.js",
    ],
)
def test_every_get_is_refused_without_the_token(client: TestClient, path: str) -> None:
    fresh = TestClient(client.app, base_url=BASE)  # no cookie from other tests
    assert fresh.get(path).status_code == 403
    assert fresh.get(path, params={"token": "wrong"}).status_code == 403
    assert fresh.get(path, headers={"X-SWF-Token": TOKEN + "x"}).status_code == 403


def test_token_in_the_url_sets_a_strict_http_only_cookie(client: TestClient) -> None:
    fresh = TestClient(client.app, base_url=BASE)
    page = fresh.get("/", params={"token": TOKEN})
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert fresh.get("/api/workflows").status_code == 200  # the cookie alone reads
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_actions_need_the_header_not_just_the_cookie(
    client: TestClient, wfc: WorkflowController
) -> None:
    workflow_id = wfc.submit_workflow(wide_workflow(3))
    fresh = TestClient(client.app, base_url=BASE)
    fresh.get("/", params={"token": TOKEN})  # has the cookie now
    path = f"/api/workflows/{workflow_id}/expiration"
    assert fresh.post(path, json={"expiration": 1e10}).status_code == 403
    assert fresh.post(path, params={"token": TOKEN}, json={"expiration": 1e10}).status_code == 403
    cross_site = {**auth(), "Origin": "https://evil.example"}
    assert fresh.post(path, json={"expiration": 1e10}, headers=cross_site).status_code == 403
    assert fresh.post(path, json={"expiration": 2e9}, headers=auth()).json() == {"ok": True}
    rows = {row["id"]: row for row in get(client, "/api/workflows")["workflows"]}
    assert rows[workflow_id]["expiration"] == pytest.approx(2e9)


def test_a_foreign_host_name_is_refused(client: TestClient) -> None:
    rebinding = TestClient(client.app, base_url="http://attacker.example:8000")
    assert rebinding.get("/", params={"token": TOKEN}).status_code == 403


# -- escaping -----------------------------------------------------------------------------


def test_a_hostile_name_never_reaches_html(client: TestClient, wfc: WorkflowController) -> None:
    workflow_id = wfc.submit_workflow(sleepy_workflow(steps=1, seconds=0))
    wfc.wait_workflow(workflow_id, timeout=60)
    jobs = get(client, f"/api/workflows/{workflow_id}/jobs", q="script")["rows"]
    assert [row["name"] for row in jobs] == [HOSTILE]  # data, as JSON text
    job_id = jobs[0]["id"]
    for path in (f"/workflows/{workflow_id}", f"/workflows/{workflow_id}/jobs/{job_id}"):
        html = client.get(path, headers=auth()).text
        assert "pwned" not in html and "onerror" not in html
    stderr = get(client, f"/api/workflows/{workflow_id}/jobs/{job_id}/output", stream="stderr")
    assert stderr["text"] == "bad <i>\n"


def test_the_report_shows_a_hostile_name_as_text(wfc: WorkflowController, tmp_path: Path) -> None:
    workflow_id = wfc.submit_workflow(sleepy_workflow(steps=1, seconds=0))
    wfc.wait_workflow(workflow_id, timeout=60)
    output = tmp_path / "report.html"
    write_report(wfc.link, workflow_id, output)
    html = output.read_text()
    assert "<script>document" not in html and "<img src=x" not in html
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in html  # shown, escaped
    assert "bad &lt;i&gt;" in html  # the failed job's stderr tail
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing from elsewhere
    data = html.split('<script type="application/json" id="report-data">')[1].split("</script>")[0]
    assert json.loads(data)["series"]["done"][-1] == 3
    assert '<span class="chip st-done">3 done</span>' in html


# -- paging and filtering -----------------------------------------------------------------


def test_the_job_table_is_paged_filtered_and_sorted_on_the_server(
    client: TestClient, wfc: WorkflowController
) -> None:
    workflow_id = wfc.submit_workflow(wide_workflow(1000))
    wfc.wait_workflow(workflow_id, timeout=120)
    path = f"/api/workflows/{workflow_id}/jobs"
    page = get(client, path, offset=990, limit=50)
    assert page["total"] == 1000 and len(page["rows"]) == 10
    assert page["rows"][0]["name"] == "job00990"
    named = get(client, path, q="job0042")
    assert [row["name"] for row in named["rows"]] == [f"job0042{i}" for i in range(10)]
    tree = get(client, f"/api/workflows/{workflow_id}/tree")
    block3 = tree["groups"][3]
    assert block3["name"] == "block3" and block3["counts"] == {"done": 100}
    grouped = get(client, path, group=block3["id"], sort="name", desc=1, limit=5)
    assert grouped["total"] == 100 and grouped["rows"][0]["name"] == "job00399"
    assert get(client, path, status="failed")["total"] == 0
    assert get(client, path, status="done", limit=1)["total"] == 1000
    assert client.get(path, params={"sort": "evil"}, headers=auth()).status_code == 400
    graph = get(client, f"/api/workflows/{workflow_id}/graph")
    assert graph["mode"] == "groups" and len(graph["nodes"]) == 10  # groups collapsed
    summary = get(client, f"/api/workflows/{workflow_id}")
    assert summary["counts"] == {"done": 1000} and summary["status"] == "workflow_done"
    timeline = get(client, f"/api/workflows/{workflow_id}/timeline")
    assert timeline["done"][-1] == 1000 and max(timeline["running"]) <= 4


# -- actions ------------------------------------------------------------------------------


def statuses(client: TestClient, workflow_id: int) -> dict[str, str]:
    model_rows = get(client, f"/api/workflows/{workflow_id}/jobs", limit=1000)["rows"]
    return {row["name"]: row["status"] for row in model_rows}


def test_stop_restart_jobs_and_delete_through_the_api(
    client: TestClient, wfc: WorkflowController
) -> None:
    workflow_id = wfc.submit_workflow(sleepy_workflow(steps=2, seconds=60))
    base = f"/api/workflows/{workflow_id}"
    assert wait_until(lambda: statuses(client, workflow_id)["step0"] == "running", 30)
    tree = get(client, f"{base}/tree")
    steps_group = next(group["id"] for group in tree["groups"] if group["name"] == "steps")
    answer = post(client, f"{base}/jobs/stop", {"groups": [steps_group]})
    assert answer == {"ok": True, "jobs": 2}
    assert wait_until(lambda: statuses(client, workflow_id)["step1"] == "failed", 30)
    row = get(client, f"{base}/jobs", q="step0")["rows"][0]
    assert row["exit_status"] == "killed_by_user"
    post(client, f"{base}/stop")
    assert wait_until(lambda: get(client, base)["status"] == "workflow_done", 30)
    assert post(client, f"{base}/restart")["ok"] is True
    assert wait_until(lambda: statuses(client, workflow_id)["step0"] == "running", 30)
    post(client, f"{base}/stop")
    bad = client.post(f"{base}/jobs/restart", json={"jobs": ["1; rm"]}, headers=auth())
    assert bad.status_code == 400
    assert post(client, f"{base}/delete")["ok"] is True
    assert client.get(base, headers=auth()).status_code == 404


# -- live events --------------------------------------------------------------------------


def test_the_event_stream_pushes_changed_jobs_within_a_second(
    wfc: WorkflowController, tmp_path: Path
) -> None:
    gate_file = tmp_path / "open"
    gate = Job(["sh", "-c", f"while [ ! -e {gate_file} ]; do sleep 0.02; done"], name="gate")
    steps = [Job(["sleep", "1"], name=f"step{n}") for n in range(2)]
    workflow_id = wfc.submit_workflow(
        Workflow(jobs=[gate, *steps], dependencies=[(gate, s) for s in steps], name="gated")
    )
    server = MonitorServer(wfc.link).start()
    try:
        url = f"http://127.0.0.1:{server.port}/api/workflows/{workflow_id}/events"
        events: list[tuple[float, dict[str, Any]]] = []
        loaded = threading.Event()

        def listen() -> None:
            with httpx.stream("GET", url, params={"token": server.token}, timeout=30) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        events.append((time.time(), json.loads(line[6:])))
                        summary = events[-1][1].get("summary", {})
                        if not summary.get("loading"):
                            loaded.set()  # the monitor has read the workflow: it follows
                        if summary.get("status") == "workflow_done":
                            return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert loaded.wait(20)  # (the steps' running state is not missed by the read)
        gate_file.touch()
        listener.join(timeout=60)
        assert events, "no event came"
        assert events[-1][1]["summary"]["counts"] == {"done": 3}
        rows = [(at, row) for at, event in events for row in event["rows"]]
        running = [(at, row) for at, row in rows if row["status"] == "running"]
        # (The first event, once the monitor has read the workflow, carries every job:
        # the gate may be in it, running.)
        assert {row["name"] for _at, row in running} - {"gate"} == {"step0", "step1"}
        # Pushed as they happen (how fast is measured by bench/bench_monitor.py): the running
        # steps came in an event before the one that ended the workflow.
        assert running[0][0] < events[-1][0]
        assert httpx.get(url, timeout=5).status_code == 403
    finally:
        server.stop()


def test_the_event_stream_subscribes_before_it_answers(wfc: WorkflowController) -> None:
    """A page reads its snapshot when it hears the stream is open: the hub must count it
    as a subscriber by then, or a change between the two is pushed to nobody."""
    import asyncio

    workflow_id = wfc.submit_workflow(wide_workflow(2))
    hub = Hub(MonitorSource(wfc.link))
    app = create_app(hub, TOKEN)
    topic = f"workflow:{workflow_id}"
    seen: list[int] = []

    async def scenario() -> None:
        gone = asyncio.Event()

        async def receive() -> dict[str, Any]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                assert message["status"] == 200
                channel = hub._channels.get(topic)
                seen.append(len(channel.subscribers) if channel else 0)
                gone.set()

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/api/workflows/{workflow_id}/events",
            "raw_path": b"",
            "query_string": b"",
            "root_path": "",
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 5000),
            "headers": [(b"host", b"127.0.0.1:8000"), (b"x-swf-token", TOKEN.encode())],
        }
        await asyncio.wait_for(app(scope, receive, send), 20)

    try:
        asyncio.run(scenario())
    finally:
        hub.close()
    assert seen == [1]


# -- first view of a workflow not loaded yet -----------------------------------------------


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without what only the loaded workflow knows (the group, the index)."""
    return [{k: v for k, v in row.items() if k not in ("group", "index")} for row in rows]


@pytest.mark.parametrize(
    "query",
    [
        JobQuery(),
        JobQuery(offset=290, limit=20),
        JobQuery(text="JOB0012", sort="name", descending=True),
        JobQuery(statuses=frozenset({"done"}), sort="ended", limit=7),
        JobQuery(sort="duration", descending=True, limit=5),
        JobQuery(sort="status", limit=5),
        JobQuery(statuses=frozenset({"failed"})),
    ],
)
def test_the_store_read_first_view_matches_the_loaded_workflow(
    wfc: WorkflowController, query: JobQuery
) -> None:
    workflow_id = wfc.submit_workflow(wide_workflow(300))
    wfc.wait_workflow(workflow_id, timeout=120)
    hub = Hub(MonitorSource(wfc.link))  # a monitor that has not loaded it
    first = hub.source.summary(workflow_id)
    assert first["loading"] is True and first["counts"] == {"done": 300}
    model = hub.model(workflow_id)
    loaded = model.summary()
    for key in ("counts", "total", "status", "started", "ended", "finished"):
        assert first[key] == loaded[key], key
    fast, full = hub.source.job_page(workflow_id, query), model.query(query)
    assert fast["total"] == full["total"]
    assert _comparable(fast["rows"]) == _comparable(full["rows"])
    hub.close()


def test_workflows_list_and_job_page_show_dates_and_the_command_as_run(
    client: TestClient, wfc: WorkflowController
) -> None:
    job = Job(["echo", "%(word)s"], name="echoer", param_dict={"word": "substituted"})
    workflow_id = wfc.submit_workflow(Workflow([job], name="dated"))
    wfc.wait_workflow(workflow_id, timeout=60)
    rows = get(client, "/api/workflows")["workflows"]
    row = next(row for row in rows if row["id"] == workflow_id)
    assert row["counts"] == {"done": 1} and row["finished"] == 1
    assert row["submitted"] <= row["started"] <= row["ended"]
    job_id = get(client, f"/api/workflows/{workflow_id}/jobs")["rows"][0]["id"]
    detail = get(client, f"/api/workflows/{workflow_id}/jobs/{job_id}")
    assert detail["command_run"] == ["echo", "substituted"]
    output = get(client, f"/api/workflows/{workflow_id}/jobs/{job_id}/output")
    assert output["text"] == "substituted\n" and output["ended"] is True
    elsewhere = f"/api/workflows/{workflow_id + 1000}/jobs/{job_id}/output"
    assert client.get(elsewhere, headers=auth()).status_code == 404


def test_pages_carry_the_server_version_that_scripts_compare_on_each_reconnect(
    client: TestClient,
) -> None:
    version = get(client, "/api/version")["version"]
    assert re.fullmatch(r"[\w.]+\+[0-9a-f]{12}", version)
    page = client.get("/", headers=auth()).text
    assert f'<meta name="swf-version" content="{version}">' in page
    script = client.get("/static/common.js", headers=auth())
    assert script.headers["cache-control"] == "no-cache"  # never an older cached script
    assert "checkVersion" in script.text


def test_a_page_gets_the_counts_while_its_workflow_is_still_read(
    wfc: WorkflowController, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first event does not wait for the read of a large workflow: the counts come
    from the store's aggregate with the stream itself, marked ``loading``, no job rows."""
    monkeypatch.setattr(hub_module, "LOAD_DELAY", 60.0)  # the read never starts here
    workflow_id = wfc.submit_workflow(wide_workflow(3))
    wfc.wait_workflow(workflow_id, timeout=60)
    server = MonitorServer(wfc.link).start()
    try:
        url = f"http://127.0.0.1:{server.port}/api/workflows/{workflow_id}/events"
        with httpx.stream("GET", url, params={"token": server.token}, timeout=30) as stream:
            lines = (line for line in stream.iter_lines() if line.startswith("data: "))
            first = json.loads(next(lines)[6:])
        assert first["type"] == "workflow" and first["summary"]["loading"] is True
        assert first["summary"]["counts"] == {"done": 3} and first["rows"] == []
        assert first["more"] is False  # the page reads its rows as the stream opens
    finally:
        server.stop()
