"""The status page in a real headless browser (Chromium from Debian packages, driven by
Selenium through chromedriver): after a reconcile against the Litmos sandbox in which a
fault injected through the sandbox dead-letters one op, the page loads, shows that op and
its reason, and the browser logs no error.

Without /usr/bin/chromium the test is skipped on a workstation; under CI (``CI=true``),
whose `.ci/run` installs chromium and chromium-driver, it fails instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd import config as config_mod
from syncd.service.http import serve
from syncd.service.view import JobState
from tests.e2e.kit import KEY_ENV, company, shown

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
)


def _browser_present() -> bool:
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return True
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} missing under CI: .ci/run installs them")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium chromium-driver)")
    return False


@pytest.fixture
def browser() -> Iterator[object]:
    _browser_present()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="syncd-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class View:
    """A running service with the connection scheduled and owned here."""

    def scheduler_running(self) -> bool:
        return True

    def jobs(self) -> list[JobState]:
        soon = datetime.now(UTC) + timedelta(minutes=15)
        return [JobState("lms", "roster", soon, None, None, None, None)]

    def owned(self) -> dict[str, bool]:
        return {"lms": True}

    def stuck(self) -> list[str]:
        return []


def test_the_page_shows_a_dead_lettered_op_and_logs_no_error(world, browser, monkeypatch):
    setup = world(company(4))
    setup.sandbox.admin.set_faults(
        error_rate=1.0,
        error_statuses=[502],
        methods=["POST"],
        path_pattern="/courses$",
        max_faults=1,
    )
    proc = setup.reconcile(SYNCD_RETRY_MAX_ATTEMPTS="1")
    assert proc.returncode == 4, shown(proc)
    monkeypatch.setenv(KEY_ENV, setup.credentials_env()[KEY_ENV])
    config = config_mod.load(setup.config)
    served = serve(View(), config, "127.0.0.1:0")
    try:
        browser.get(served.url + "/")  # type: ignore[attr-defined]
        title = browser.title  # type: ignore[attr-defined]
        body = browser.find_element("tag name", "body").text  # type: ignore[attr-defined]
        logs = browser.get_log("browser")  # type: ignore[attr-defined]
    finally:
        served.stop()
    assert title == "syncd status"
    assert "Dead letters, held and blocked ops" in body
    assert "assign_courses" in body and "dead" in body
    assert "-> 502" in body, "the vendor's answer, the op's reason"
    severe = [entry for entry in logs if entry.get("level") == "SEVERE"]
    assert severe == [], severe
