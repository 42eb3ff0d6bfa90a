"""The web UI in a real browser: `forge ui`, the lineage in Chromium, "Materialize all" to success.

Needs Debian's Chromium (/usr/bin/chromium) and Playwright; CI installs both. Does not touch:
the default model (the tiny test model is configured through FORGE_* variables).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from forge_pipeline.lib.core.config import PROJECT_ROOT, env_name
from forge_pipeline_tests.helpers import BESIDE_CHAIN, CHAIN, free_port, graphql, tiny_overrides

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
LATEST_RUN = "{ runsOrError(limit: 1) { ... on Runs { results { runId status } } } }"
LOCATIONS = (
    "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
    "locationOrLoadError { __typename } } } } }"
)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if found := condition():
                return found
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def latest_run(url: str) -> dict | None:
    runs = graphql(url, LATEST_RUN)["runsOrError"]["results"]
    return runs[0] if runs else None


def finished_run(url: str) -> dict | None:
    run = latest_run(url)
    return run if run and run["status"] in ("SUCCESS", "FAILURE", "CANCELED") else None


def location_loaded(url: str) -> bool:
    entries = graphql(url, LOCATIONS)["workspaceOrError"]["locationEntries"]
    return any(e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries)


@pytest.fixture
def dagster_ui(tiny_model: Path, forge_env: Path):
    """`forge ui` on a free port, configured for the tiny model; stopped with its children."""
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI has it")
    port = free_port()
    overrides = tiny_overrides(tiny_model, **{"serving.port": str(free_port())})
    env = {**os.environ, **{env_name(k): v for k, v in overrides.items()}}
    log = (forge_env / "forge-ui.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "forge"), "ui", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: dagster dev, webserver, daemon, runs
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: location_loaded(url), 180, "the web UI to load forge_pipeline")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_lineage_shows_every_asset_and_materialize_all_succeeds(dagster_ui: str):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # Wide enough that the graph is drawn with full asset names, not the minimal nodes.
        page = browser.new_page(viewport={"width": 2800, "height": 1400})
        page.goto(f"{dagster_ui}/asset-groups", timeout=120_000)
        page.get_by_role("button", name="Materialize all").first.wait_for(timeout=120_000)
        page.locator("body").click(position={"x": 1400, "y": 1300})  # focus the graph
        page.keyboard.press("Alt+KeyE")  # the UI's shortcut: expand every group
        for asset in [*CHAIN, *BESIDE_CHAIN]:
            page.get_by_text(asset, exact=True).first.wait_for(timeout=120_000)
        page.screenshot(path=str(ARTIFACTS / "lineage.png"), full_page=True)
        page.get_by_role("button", name="Materialize all").first.click()
        run = wait_for(lambda: latest_run(dagster_ui), 60, "a run to be launched")
        final = wait_for(lambda: finished_run(dagster_ui), 600, f"run {run['runId']} to finish")
        page.screenshot(path=str(ARTIFACTS / "after-run.png"), full_page=True)
        browser.close()
    assert final["runId"] == run["runId"]
    assert final["status"] == "SUCCESS"
