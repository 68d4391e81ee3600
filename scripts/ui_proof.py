"""Proof in the real UI path: faults -> assets -> sensors ticked by the daemon -> GraphQL.

1. Materializes the demo's assets (definitions.py) for two searches against the bundled simulator,
   with faults: some profiles always fail with LK_BAD_COOKIE, some with STATUS_429 (the client is
   set not to retry, so the 429s land as per-input errors); a third search runs with a wrong key.
2. Runs `dagster-daemon` on that instance until the error sensor has ticked (it reports the
   failures as asset observations and requests a re-run of the partition hit by 429s).
3. Starts `dagster-webserver` on loopback and reads, through its GraphQL API, the sensor's ticks,
   the observations on the asset and its check results.

`python scripts/ui_proof.py` prints what it read; `--keep-running` leaves the webserver up to browse;
`scripts/screenshot.py` (`make screenshot`) photographs the asset page while it is up. `tests/slow/test_ui_proof.py` runs the same steps and asserts on the answers.
Everything stays on 127.0.0.1 and in a temporary DAGSTER_HOME.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / "workspace.yaml"
LOCATION = "captaindata_demo"
# Profiles failing with each label, in the first search: 7 of 30, over the 20 % threshold, most
# often an account's failure (no step retry): the blocking check stops the companies step.
BAD_COOKIE, RATE_LIMITED = 4, 3
FAULTED, CLEAN, BROKEN = "data-engineers-paris", "cto-saas-berlin", "growth-marketers-london"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_demo() -> Any:
    spec = importlib.util.spec_from_file_location(
        "captaindata_ui_proof_defs", ROOT / "definitions.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def prepare(home: Path, work: Path) -> dict[str, Any]:
    """Materialize the demo with faults into the instance at `home`; say what was injected."""
    import dagster as dg
    from dagster_duckdb_pandas import DuckDBPandasIOManager

    from captaindata_dagster import CaptainDataResource
    from captaindata_dagster.simulator import run_simulator

    home.mkdir(parents=True, exist_ok=True)
    # no telemetry, and no "join the community" pop-up over the screenshots
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nnux:\n  enabled: false\n", encoding="utf-8"
    )
    demo = load_demo()
    assets = [demo.people, demo.profiles, demo.companies]
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    injected: dict[str, list[str]] = {}
    with run_simulator(seed=42) as sim, dg.DagsterInstance.from_config(str(home)) as instance:
        # the clean search runs on two rotated accounts, one with an expired session cookie: it
        # is set aside (its inputs go to the other), and the accounts check names it
        good, expired = (sim.add_user(f"{n}@example.com", n)["uid"] for n in ("ada", "alan"))
        sim.configure(bad_cookie_users=[expired])

        def resources(key: str, users: list[str] | None = None) -> dict[str, Any]:
            return {
                "captaindata": CaptainDataResource(
                    api_key=key,
                    base_url=sim.base_url,
                    max_retries=0,  # a 429 burst lands as errors instead of being waited out
                    ledger_path=str(work / "ledger.sqlite"),
                    integration_users=users or [],
                    account_form="integration_users",
                ),
                "io_manager": DuckDBPandasIOManager(
                    database=str(work / "warehouse.duckdb"), schema="linkedin"
                ),
            }

        first = dg.materialize(
            [demo.people], partition_key=FAULTED, resources=resources(sim.api_key),
            instance=instance, run_config=quiet,
        )  # fmt: skip
        urls = list(first.output_for_node("linkedin_people", "results")["linkedin_profile_url"])
        injected["LK_BAD_COOKIE"] = urls[:BAD_COOKIE]
        injected["STATUS_429"] = urls[BAD_COOKIE : BAD_COOKIE + RATE_LIMITED]
        sim.set_fail_inputs({u: label for label, us in injected.items() for u in us})
        for key in (FAULTED, CLEAN):
            users = [good, expired] if key == CLEAN else None
            result = dg.materialize(
                assets, partition_key=key, resources=resources(sim.api_key, users),
                instance=instance, run_config=quiet, raise_on_error=False,
            )  # fmt: skip
            # the faulted search's profiles: both tables land, the blocking check stops companies
            landed = {
                e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
            }
            if key == CLEAN:
                assert result.success, f"materializing {key} failed"
            else:
                assert not result.success and "linkedin_profiles_errors" in landed, landed
                assert "linkedin_companies" not in landed, "a blocked step ran"
        broken = dg.materialize(
            assets, partition_key=BROKEN, resources=resources("not-a-valid-key"),
            instance=instance, raise_on_error=False, run_config=quiet,
        )  # fmt: skip
        assert not broken.success
    return {"injected": injected, "profiles": len(urls), "expired_account": expired}


def service_env(home: Path, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTAINDATA_")}
    env.update(
        DAGSTER_HOME=str(home),
        CAPTAINDATA_SANDBOX="1",  # re-runs the sensor requests go to the bundled simulator
        CAPTAINDATA_WAREHOUSE=str(work / "warehouse.duckdb"),
        CAPTAINDATA_LEDGER=str(work / "ledger.sqlite"),
    )
    return env


@contextmanager
def service(cmd: list[str], env: dict[str, str], log: Path):
    """Run a Dagster service in its own process group; stop it and its children on exit."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                continue


def bin_path(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    resp = requests.post(url, json={"query": query, "variables": variables or {}}, timeout=30)
    resp.raise_for_status()
    body = resp.json()
    if body.get("errors"):
        raise RuntimeError(json.dumps(body["errors"])[:2000])
    return body["data"]


TICKS = """
query Ticks($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    __typename
    ... on Sensor {
      sensorState {
        status
        ticks(limit: 20) {
          status skipReason runIds timestamp
          logEvents { events { message level } }
        }
      }
    }
  }
}
"""

OBSERVATIONS = """
query Observations($key: AssetKeyInput!) {
  assetOrError(assetKey: $key) {
    ... on Asset {
      assetObservations(limit: 50) {
        partition
        description
        metadataEntries {
          label
          ... on TextMetadataEntry { text }
          ... on IntMetadataEntry { intValue }
          ... on JsonMetadataEntry { jsonString }
          ... on BoolMetadataEntry { boolValue }
        }
      }
    }
  }
}
"""

CHECK_NAMES = """
query CheckNames($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks { name } } } }
  }
}
"""

CHECK_EXECUTIONS = """
query CheckExecutions($key: AssetKeyInput!, $name: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $name, limit: 20) {
    status
    partition
    evaluation {
      severity
      success
      description
      metadataEntries {
        label
        ... on TextMetadataEntry { text }
        ... on JsonMetadataEntry { jsonString }
        ... on FloatMetadataEntry { floatValue }
        ... on IntMetadataEntry { intValue }
      }
    }
  }
}
"""


def entries(items: list[dict[str, Any]]) -> dict[str, Any]:
    """GraphQL metadata entries as a plain dict of label -> value."""
    out: dict[str, Any] = {}
    for e in items:
        for k in ("text", "intValue", "boolValue", "floatValue"):
            if k in e:
                out[e["label"]] = e[k]
        if "jsonString" in e:
            out[e["label"]] = json.loads(e["jsonString"])
    return out


def sensor_ticks(url: str, name: str) -> list[dict[str, Any]]:
    selector = {
        "repositoryLocationName": LOCATION,
        "repositoryName": "__repository__",
        "sensorName": name,
    }
    data = graphql(url, TICKS, {"selector": selector})["sensorOrError"]
    return data["sensorState"]["ticks"] if data.get("sensorState") else []


def read_ui(url: str) -> dict[str, Any]:
    """What an on-call engineer sees: ticks, observations, check results, via GraphQL."""
    ticks = sensor_ticks(url, "captaindata_error_sensor")
    key = {"path": ["linkedin_profiles"]}
    observations = graphql(url, OBSERVATIONS, {"key": key})["assetOrError"]["assetObservations"]
    names = graphql(url, CHECK_NAMES, {"key": key})["assetNodeOrError"]["assetChecksOrError"]
    checks = {
        c["name"]: graphql(url, CHECK_EXECUTIONS, {"key": key, "name": c["name"]})[
            "assetCheckExecutions"
        ]
        for c in names["checks"]
    }
    people = graphql(url, OBSERVATIONS, {"key": {"path": ["linkedin_people"]}})["assetOrError"]
    return {
        "ticks": [
            {
                "status": t["status"],
                "skip_reason": t["skipReason"],
                "run_ids": t["runIds"],
                "log": [e["message"] for e in t["logEvents"]["events"]],
            }
            for t in ticks
        ],
        "observations": [
            {"partition": o["partition"], **entries(o["metadataEntries"])} for o in observations
        ],
        "people_observations": [
            {"partition": o["partition"], **entries(o["metadataEntries"])}
            for o in people["assetObservations"]
        ],
        "checks": {
            name: [
                {
                    "status": x["status"],
                    "partition": x["partition"],
                    "severity": (x["evaluation"] or {}).get("severity"),
                    "description": (x["evaluation"] or {}).get("description"),
                    **entries((x["evaluation"] or {}).get("metadataEntries") or []),
                }
                for x in executions
            ]
            for name, executions in checks.items()
        },
    }


def runs_in_flight(home: Path) -> bool:
    import dagster as dg

    busy = [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
    ]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=busy))
        total = instance.get_runs_count()
    return bool(runs) or total < 5  # our 4 runs, then at least the one the sensor asked for


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}")
        try:
            value = predicate()
            if value:
                return value
        except (requests.RequestException, RuntimeError, KeyError, TypeError) as exc:
            last_error = exc
        time.sleep(1.0)
    raise TimeoutError(f"timed out waiting for {what} (last error: {last_error})")


def run(
    home: Path, work: Path, port: int, while_serving: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """All three steps; returns what was injected and what GraphQL answered.

    `while_serving(base_url)` is called while the webserver is still up (e.g. to take a screenshot).
    """
    facts = prepare(home, work)
    env = service_env(home, work)
    url = f"http://127.0.0.1:{port}/graphql"
    web_cmd = [
        bin_path("dagster-webserver"),
        "-w",
        str(WORKSPACE),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    daemon_cmd = [bin_path("dagster-daemon"), "run", "-w", str(WORKSPACE)]
    with service(web_cmd, env, work / "webserver.log") as web:
        with service(daemon_cmd, env, work / "daemon.log") as daemon:
            wait_for(
                lambda: requests.get(f"http://127.0.0.1:{port}/server_info", timeout=5).ok,
                180, "the webserver", web,
            )  # fmt: skip
            wait_for(
                lambda: any(t["status"] != "STARTED" for t in sensor_ticks(url, "captaindata_error_sensor")),
                240, "a tick of the error sensor", daemon,
            )  # fmt: skip
            # let the re-run the sensor requested finish, so the UI shows settled results
            wait_for(lambda: not runs_in_flight(home), 300, "the requested re-run", daemon)
        facts["ui"] = read_ui(url)
        if while_serving is not None:
            while_serving(f"http://127.0.0.1:{port}")
    return facts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--keep-running", action="store_true", help="serve until Ctrl-C at the end")
    args = ap.parse_args(argv)

    def serve(base: str) -> None:
        print(f"webserver on {base} (Ctrl-C to stop)", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass

    with tempfile.TemporaryDirectory(prefix="captaindata-ui-") as tmp:
        facts = run(
            Path(tmp) / "home", Path(tmp), args.port or free_port(),
            serve if args.keep_running else None,
        )  # fmt: skip
    print(json.dumps(facts, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
