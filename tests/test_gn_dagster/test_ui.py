"""The web UI as a researcher uses it: `dagster dev` (webserver + daemon) on loopback over a
copy of the materialized tiny graph, driven by headless Chromium through Playwright.

Needs Debian's chromium (/usr/bin/chromium, or GN_CHROMIUM); skipped without it unless
GN_REQUIRE_BROWSER=1 (set by .ci/run, which installs it). Screenshots go to
GN_UI_SCREENSHOTS (default build/ui-screenshots).
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from gn_dagster.settings import Settings
from gn_models.data.shards import hash_shard_keys, shard_of
from gn_models.golden_noise.registry import MODEL_CLASSES
from helpers.daemon import far_from_now_daily_cron, wait_for
from helpers.paths import REPO
from helpers.postgres import free_port
from helpers.processes import stop_process_group

MODEL_ASSET_NAMES = list(MODEL_CLASSES)
NUM_SHARDS = Settings().num_shards
CHROMIUM = os.environ.get("GN_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("GN_UI_SCREENSHOTS", REPO / "build" / "ui-screenshots"))
SENSOR_INTERVAL = 5  # seconds, GN_SENSOR_INTERVAL of the tested server
ASSETS = [
    "prompts",
    "noise_sequences",
    *MODEL_ASSET_NAMES,
    "eval_images",
    "scores",
    "realism",
    "comparison",
]

if not Path(CHROMIUM).exists():
    if os.environ.get("GN_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"GN_REQUIRE_BROWSER=1 but no Chromium at {CHROMIUM}.")
    pytest.skip(
        f"No Chromium at {CHROMIUM}: `apt-get install chromium` (CI does).",
        allow_module_level=True,
    )
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


def serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(materialized, tmp_path_factory):
    """`dagster dev` over a private copy of the materialized graph, as `make ui` starts it."""
    root = tmp_path_factory.mktemp("ui") / "graph"
    shutil.copytree(materialized.root, root)
    home = root / "dagster_home"
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        "GN_STORAGE_ROOT": str(root / "artifacts"),
        "GN_TRAIN_PROMPTS": str(root / "train.csv"),
        "GN_EVAL_PROMPTS": str(root / "eval.csv"),
        "GN_SENSOR_INTERVAL": str(SENSOR_INTERVAL),
        "GN_DEVICE": "cpu",
        "GN_TRAIN_CRON": far_from_now_daily_cron(),  # the nightly retrain stays out of the test
        "GN_CRON_TIMEZONE": "UTC",
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(root / "dagster-dev.log", "w")
    command = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO / "workspace.yaml")]
    process = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # one process group: webserver, daemon, code server, runs
    )
    try:
        wait_for(lambda: serving(url) or process.poll() is not None, 180, "dagster dev")
        assert process.poll() is None, (root / "dagster-dev.log").read_text()[-3000:]
        yield url, root, home
    finally:
        stop_process_group(process)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def open_page(page, url: str):
    """Go to ``url`` and wait until Dagster's navigation has rendered."""
    page.goto(url)
    page.get_by_role("link", name="Catalog").wait_for()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True, animations="disabled")


def test_no_first_visit_dialog_covers_the_ui(server):
    """dagster.yaml turns off the "join the community" dialog, whose backdrop would swallow
    clicks a second after the first page loads."""
    url, _, _ = server
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": "{ shouldShowNux }"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.load(response) == {"data": {"shouldShowNux": False}}


def test_asset_graph_metadata_and_preview_render(server, page):
    url, _, _ = server
    open_page(page, f"{url}/assets/noise_sequences?view=lineage")
    page.get_by_role(
        "button", name="All", exact=True
    ).click()  # the whole graph, not only neighbours
    for name in ASSETS:
        page.get_by_text(name, exact=True).first.wait_for()
    screenshot(page, "asset-graph")

    open_page(page, f"{url}/assets/eval_images")
    page.get_by_text("Evaluation images: every evaluation prompt").wait_for()  # description
    for key in ["path", "num_images", "unet_calls", "methods", "preview"]:
        page.get_by_role("cell", name=key, exact=True).wait_for()  # the metadata table
    page.get_by_text("[Show Markdown]").last.click()
    image = page.locator("img[src^='data:image/png;base64,']").first
    image.wait_for()
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    screenshot(page, "eval-images-preview")


def test_editing_the_prompt_file_runs_exactly_the_changed_shards(server, page, monkeypatch):
    url, root, home = server
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # its dagster.yaml reads it
    train = root / "train.csv"
    old, new = "a handwritten digit seven", "a freshly inked handwritten digit seven"
    changed = {hash_shard_keys(NUM_SHARDS)[shard_of(t, NUM_SHARDS)] for t in (old, new)}
    train.write_text(train.read_text().replace(f"\n{old},", f"\n{new},"))
    edited_at = time.monotonic()

    with DagsterInstance.from_config(str(home)) as instance:
        sensor_runs = RunsFilter(tags={"dagster/sensor_name": "prompt_sensor"})

        def launched():
            runs = instance.get_runs(sensor_runs)
            return runs if len(runs) >= len(changed) else None

        runs = wait_for(launched, 120, f"the prompt sensor's runs for {sorted(changed)}")
        launch_seconds = time.monotonic() - edited_at
        assert sorted(r.tags["dagster/partition"] for r in runs) == sorted(changed)
        assert {r.job_name for r in runs} == {"collect_noise_sequences"}

        def finished():
            done = [instance.get_run_by_id(r.run_id) for r in runs]
            return done if all(r.is_finished for r in done) else None

        done = wait_for(finished, 300, "the shard runs to finish", every=2)
        assert all(r.status == DagsterRunStatus.SUCCESS for r in done), [r.status for r in done]
        time.sleep(2 * SENSOR_INTERVAL)  # a few more ticks: nothing else is requested
        assert len(instance.get_runs(sensor_runs)) == len(changed)
    assert launch_seconds < 90, f"runs appeared {launch_seconds:.0f} s after the edit"

    open_page(page, f"{url}/assets/npnet")
    badge = page.get_by_text("Unsynced").first
    badge.wait_for()
    badge.hover()
    page.get_by_text("has a new data version").first.wait_for()
    assert "noise_sequences" in page.inner_text("body")
    screenshot(page, "npnet-unsynced")
