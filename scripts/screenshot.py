"""`make screenshot`: photograph, in the Dagster UI, each place a Captain Data label shows.

Runs the UI proof (scripts/ui_proof.py: faults, an expired account, a bad key, assets,
daemon-ticked sensors, webserver on loopback) and, while the webserver is up, drives Debian's
Chromium with Playwright (no browser download: `executable_path` is the system one) to take:

- ui-sensor-tick.png: the error sensor's tick list, its tick's skip reason opened: each label,
  where, and what a person does;
- ui-failed-partition.png: the events of the search partition that failed (a bad key): the step's
  own observation with the label and the fix;
- ui-account-check.png: the `captaindata_accounts` check of linkedin_profiles: the expired account
  set aside, its label and the command that reconnects it;
- ui-asset-events.png and ui-asset-checks.png: the error sensor's latest observation on
  linkedin_profiles (the expired account), and its error-rate check.

Needs Debian's `chromium` package and the `playwright` Python package (`make screenshot` installs
the latter into .venv); not run by CI.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
VIEWPORT = {"width": 1600, "height": 1000}
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("no Chromium found: apt-get install chromium")


def _observation_time(proof: Any, base: str) -> str:
    """Timestamp (ms) of the error sensor's latest observation on linkedin_profiles."""
    query = """
    query Times($key: AssetKeyInput!) {
      assetOrError(assetKey: $key) { ... on Asset { assetObservations(limit: 1) { timestamp } } }
    }"""
    data = proof.graphql(f"{base}/graphql", query, {"key": {"path": ["linkedin_profiles"]}})
    return data["assetOrError"]["assetObservations"][0]["timestamp"]


def _save(page: Any, name: str) -> None:
    page.wait_for_timeout(1500)  # let the last fetches paint
    page.screenshot(path=str(DOCS / name))
    print(f"wrote docs/{name}")


def _sensor_tick(page: Any, base: str, proof: Any) -> None:
    """The tick list, and the details of the tick that says what needs a person."""
    page.goto(f"{base}/locations/{proof.LOCATION}/sensors/captaindata_error_sensor")
    page.get_by_text("0 runs requested").last.click()  # the oldest: the labels, before the re-run
    page.get_by_text("Skip reason").first.wait_for()
    _save(page, "ui-sensor-tick.png")


def _failed_partition(page: Any, base: str, proof: Any) -> None:
    page.goto(f"{base}/assets/linkedin_people?view=events&partition={proof.BROKEN}")
    page.get_by_text("needs_a_person").first.wait_for()
    _save(page, "ui-failed-partition.png")


def _account_check(page: Any, base: str) -> None:
    page.goto(f"{base}/assets/linkedin_profiles?view=checks")
    page.get_by_text("captaindata_accounts").first.click()
    page.get_by_text("Execution history").first.click()  # the latest partition's passed
    page.get_by_text("LK_BAD_COOKIE: reconnect user").first.wait_for()
    _save(page, "ui-account-check.png")


def _asset_pages(page: Any, base: str, proof: Any) -> None:
    events = f"&time={_observation_time(proof, base)}"  # the sensor's latest observation
    page.goto(f"{base}/assets/linkedin_profiles?view=events{events}")
    page.get_by_text("rerun_requested").first.wait_for()
    _save(page, "ui-asset-events.png")
    page.goto(f"{base}/assets/linkedin_profiles?view=checks")
    page.get_by_text("captaindata_error_rate").first.wait_for()
    _save(page, "ui-asset-checks.png")


def main() -> int:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("needs playwright: .venv/bin/pip install playwright") from None
    browser_path = chromium()
    spec = importlib.util.spec_from_file_location("ui_proof", ROOT / "scripts" / "ui_proof.py")
    proof = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(proof)
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="captaindata-shot-") as tmp:
        work = Path(tmp)

        def take(base: str) -> None:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport=VIEWPORT)
                page.set_default_timeout(60_000)
                _sensor_tick(page, base, proof)
                _failed_partition(page, base, proof)
                _account_check(page, base)
                _asset_pages(page, base, proof)
                browser.close()

        proof.run(work / "home", work, proof.free_port(), take)
    return 0


if __name__ == "__main__":
    sys.exit(main())
