"""`swf monitor` in a real headless Chromium (Debian's chromium + chromium-driver, driven by
Selenium) against a real engine daemon: the scenario of issue 15, with screenshots.

scripts/test.sh installs Chromium (scripts/services/chromium.sh). This test skips only
when Chromium or its driver is missing, and then says so loudly.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .cli_fixtures import SwfHome, swf_home
from .monitor_fixtures import HOSTILE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTEFACTS = (
    Path(os.environ.get("SWF_TEST_ARTEFACTS") or Path(tempfile.gettempdir()) / "swf-test-artefacts")
    / "monitor"
)

#: The steps tick until the test creates FILES/release (then three ticks more at most):
#: the test sees them running however slow the machine, and lets them end when it wants.
WORKFLOW = f"""
prepare = Job(["sh", "-c", "echo prepared-output; echo prepare-warning >&2"], name="prepare")
hostile = Job(["sh", "-c", "echo '<b>not bold</b>'; exit 3"], name={HOSTILE!r})
tick = (
    "i=0; while [ ! -e {{release}} ] || [ $i -lt 3 ]; do i=$((i+1)); echo tick $i; sleep 0.3;"
    " done"
)
steps = [
    Job(["sh", "-c", tick.format(release=FILES / "release")], name=f"step{{n}}")
    for n in range(2)
]
merge = Job(["sh", "-c", "echo merged"], name="merge")
workflow = Workflow(
    jobs=[prepare, hostile, *steps, merge],
    dependencies=[(prepare, s) for s in steps] + [(s, merge) for s in steps],
    root_group=[prepare, hostile, Group(steps, name="steps"), merge],
    name="browser-watched",
)
"""


def _loud_skip(reason: str) -> None:
    banner = "=" * 78
    sys.__stderr__.write(f"\n{banner}\nBROWSER TEST SKIPPED: {reason}\n{banner}\n")
    pytest.skip(f"BROWSER TEST SKIPPED: {reason}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None or DRIVER is None:
        _loud_skip(
            "Chromium or chromedriver is not installed (scripts/services/chromium.sh installs"
            " Debian's chromium and chromium-driver; it needs root and apt)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def monitored() -> Iterator[tuple[SwfHome, str]]:
    """A home with the engine daemon, and `swf monitor` serving it: (home, URL)."""
    with swf_home() as home:
        process = home.popen("monitor", "--no-browser")
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
            assert match, f"no URL printed: {line!r} {process.stderr and process.stderr.read()}"
            yield home, match.group(1)
        finally:
            process.terminate()
            process.wait(timeout=20)


def shoot(driver: Any, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTEFACTS / f"{name}.png"))


def until(driver: Any, check: Callable[[Any], Any], timeout: float = 30, what: str = "") -> Any:
    """Wait for ``check``; on a timeout, a screenshot and the page's last message."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(check, what)
    except TimeoutException:
        shoot(driver, f"timeout-{what or 'wait'}".replace(" ", "-"))
        toast = driver.execute_script("return document.getElementById('toast')?.textContent")
        raise AssertionError(f"timed out: {what}; page says: {toast!r}") from None


def row_status(driver: Any, name: str) -> str | None:
    """The status chip of the job table's row whose name cell is exactly ``name``."""
    return driver.execute_script(
        """
        for (const row of document.querySelectorAll('#jobs tbody tr')) {
          if (row.children[2].textContent === arguments[0])
            return row.querySelector('td.status').textContent;
        }
        return null;""",
        name,
    )


def text_of(driver: Any, element_id: str) -> str | None:
    """An element's text now (read in the page: live updates replace elements)."""
    return driver.execute_script(
        "const e = document.getElementById(arguments[0]); return e && e.textContent;",
        element_id,
    )


def click_link(driver: Any, text: str) -> bool:
    """Click the link whose text is ``text``, found and clicked in one step (live updates
    replace rows and links at any moment)."""
    return bool(
        driver.execute_script(
            """
            for (const a of document.querySelectorAll('a'))
              if (a.textContent === arguments[0]) { a.click(); return true; }
            return false;""",
            text,
        )
    )


def confirm(driver: Any) -> None:
    from selenium.webdriver.common.by import By

    until(driver, lambda d: d.find_element(By.ID, "confirm").get_attribute("open") is not None)
    shoot(driver, "confirm-dialog")
    driver.find_element(By.ID, "confirm-ok").click()


def test_watch_a_run_read_a_job_stop_restart_and_finish_in_chromium(
    browser: Any, monitored: tuple[SwfHome, str]
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    home, url = monitored
    origin = url.split("/?")[0]
    # Refused without the token, in the browser (no cookie yet) and from a plain client.
    browser.get(origin + "/")
    assert "needs the monitor's token" in browser.find_element(By.TAG_NAME, "body").text
    shoot(browser, "refused-without-token")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(origin + "/api/workflows", timeout=10)
    assert refused.value.code == 403

    workflow_file = home.python_workflow("watched.py", WORKFLOW)
    workflow_id = home.swf("submit", str(workflow_file), expect=0).out.strip()

    # The workflows page lists it, live.
    browser.get(url)
    until(browser, lambda d: text_of(d, "count") == "1 of 1 workflows")
    shoot(browser, "workflows-page")
    until(browser, lambda d: click_link(d, "browser-watched"))

    # The workflow page: statuses change live, without reloading the page.
    until(browser, lambda d: text_of(d, "live") == "live")
    browser.execute_script("window.__sameDocument = true;")
    until(browser, lambda d: row_status(d, "step0") == "running", what="step0 running")
    shoot(browser, "workflow-page-running")
    # The hostile name is shown literally, and ran nothing.
    until(browser, lambda d: row_status(d, HOSTILE) == "failed", what="hostile job failed")
    assert "pwned" not in browser.title
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018

    # A running job's page: its stdout, tailed live.
    until(browser, lambda d: click_link(d, "step0"))
    until(browser, lambda d: "tick 1" in (text_of(d, "stdout") or ""), what="stdout")
    until(browser, lambda d: "tick 3" in (text_of(d, "stdout") or ""), what="live tail")
    # The job's facts come by their own request, independent of the output's: wait for
    # them too (reading them at once raced with it on a loaded machine). The command is
    # the one the store says was run.
    until(browser, lambda d: "sh -c" in (text_of(d, "command") or ""), what="command")
    assert text_of(browser, "command-kind") == "(as run)"
    shoot(browser, "job-page-running")
    browser.get(f"{origin}/workflows/{workflow_id}")

    # Stop the workflow (confirmed in a dialog): running steps are killed.
    until(browser, lambda d: text_of(d, "live") == "live")
    browser.find_element(By.ID, "act-stop").click()
    confirm(browser)
    until(
        browser,
        lambda d: text_of(d, "wf-status") == "workflow_done",
        timeout=90,
        what="workflow stopped",
    )
    until(browser, lambda d: row_status(d, "merge") == "failed", what="merge not run")
    shoot(browser, "workflow-page-stopped")

    # Restart it (the steps may end now) and see it finish, live.
    (home.files / "release").touch()
    browser.execute_script("window.__sameDocument = true;")
    browser.find_element(By.ID, "act-restart").click()
    until(browser, lambda d: row_status(d, "merge") == "done", timeout=60, what="merge done")
    until(browser, lambda d: text_of(d, "wf-status") == "workflow_done")
    assert browser.execute_script("return window.__sameDocument === true;")
    counts = text_of(browser, "wf-counts") or ""
    assert "4 done" in counts and "1 failed" in counts, counts
    shoot(browser, "workflow-page-finished")

    # The other views of the same page.
    for tab, element in (("tree", "tree"), ("graph", "graph"), ("plots", "plot-jobs")):
        browser.find_element(By.CSS_SELECTOR, f'.tabs button[data-tab="{tab}"]').click()
        until(
            browser,
            lambda d, e=element: d.execute_script(
                "return document.getElementById(arguments[0]).childElementCount;", e
            ),
            what=f"{tab} drawn",
        )
        shoot(browser, f"workflow-{tab}")
    assert "steps (2)" in (text_of(browser, "tree") or "")

    # The hostile job's own page shows its name and output as text.
    job_rows = browser.execute_script(
        "return fetch('/api/workflows/' + arguments[0] + '/jobs?q=pwned')"
        ".then(r => r.json()).then(d => d.rows.map(r => r.id));",
        int(workflow_id),
    )
    browser.get(f"{origin}/workflows/{workflow_id}/jobs/{job_rows[0]}")
    until(browser, lambda d: text_of(d, "job-name") == HOSTILE)
    until(browser, lambda d: "<b>not bold</b>" in (text_of(d, "stdout") or ""))
    assert not browser.find_elements(By.CSS_SELECTOR, "#stdout b")
    shoot(browser, "job-page-hostile")
