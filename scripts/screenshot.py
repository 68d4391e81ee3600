"""`make screenshot`: photograph the Dagster asset page showing the injected error labels.

Runs the UI proof (scripts/ui_proof.py: faults, assets, daemon-ticked sensors, webserver on
loopback) and, while the webserver is up, takes headless Chromium screenshots of the
`linkedin_profiles` asset page (its events, with the sensor's observations, and its checks) into
docs/. Needs Debian's `chromium` package (`apt-get install chromium`); not run by CI.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = {
    "ui-asset-events.png": "/assets/linkedin_profiles?view=events",
    "ui-asset-checks.png": "/assets/linkedin_profiles?view=checks",
}


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("no Chromium found: apt-get install chromium")


def shoot(browser: str, url: str, out: Path, profile: Path) -> None:
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={profile}", "--window-size=1600,1100",
        "--virtual-time-budget=20000", f"--screenshot={out}", url,
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    print(f"wrote {out.relative_to(ROOT)} from {url}")


def _observation_time(proof: Any, base: str) -> str:
    """Timestamp (ms) of the error sensor's latest observation on linkedin_profiles."""
    query = """
    query Times($key: AssetKeyInput!) {
      assetOrError(assetKey: $key) { ... on Asset { assetObservations(limit: 1) { timestamp } } }
    }"""
    data = proof.graphql(f"{base}/graphql", query, {"key": {"path": ["linkedin_profiles"]}})
    return data["assetOrError"]["assetObservations"][0]["timestamp"]


def main() -> int:
    browser = chromium()
    spec = importlib.util.spec_from_file_location("ui_proof", ROOT / "scripts" / "ui_proof.py")
    proof = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(proof)
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="captaindata-shot-") as tmp:
        work = Path(tmp)

        def take(base: str) -> None:
            for name, page in PAGES.items():
                if name == "ui-asset-events.png":  # the sensor's observation, not the newest event
                    page += f"&partition={proof.FAULTED}&time={_observation_time(proof, base)}"
                shoot(browser, base + page, DOCS / name, work / "chromium")

        proof.run(work / "home", work, proof.free_port(), take)
    return 0


if __name__ == "__main__":
    sys.exit(main())
