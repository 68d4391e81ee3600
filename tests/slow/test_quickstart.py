"""docs/component.md's quickstart, run as written in a fresh venv, and `make ui` on the demo's instance.

The quickstart test installs from the package index pip reaches (the only network it uses; pip's
cache makes reruns faster) with the system `python3`, so it takes minutes. It skips, saying why,
only when the index cannot be reached, and never when `CI` is set: there it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from captaindata_dagster import demo
from tests.helpers import load_script, wait_until

ROOT = Path(__file__).resolve().parents[2]
PARTITION = "data-engineers-paris"
TABLES = ("linkedin_people", "linkedin_profiles", "linkedin_companies")

quickstart = load_script("scripts/quickstart.py", "quickstart")
ui_proof = load_script("scripts/ui_proof.py", "ui_proof")

# What a DagsterInstance at $DAGSTER_HOME (the one `dg dev` opens) holds for linkedin_people.
INSTANCE_CHECK = """
import json, dagster as dg
with dg.DagsterInstance.get() as instance:
    records = instance.fetch_materializations(dg.AssetKey("linkedin_people"), limit=100).records
    print(json.dumps(sorted({r.partition_key for r in records})))
"""


def require_package_index(env: dict[str, str]) -> None:
    """Skip when pip reaches no package index, unless CI is set (then the test goes on and fails)."""
    python3 = shutil.which("python3", path=env["PATH"])
    assert python3, "no python3 on PATH"
    probe = subprocess.run(
        [python3, "-m", "pip", "index", "versions", "create-dagster"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if probe.returncode != 0 and not os.environ.get("CI"):
        pytest.skip(f"the package index cannot be reached: {probe.stderr.strip()[-300:]}")


def test_quickstart_commands_are_read_from_the_docs():
    commands = quickstart.quickstart_commands()
    assert commands[:2] == ["python3 -m venv .venv", ". .venv/bin/activate"]
    assert any(quickstart.PLACEHOLDER in c for c in commands)
    assert commands.index("export DAGSTER_HOME=$PWD/.dagster_home") < commands.index(
        f"dg launch --assets '*' --partition {PARTITION}"
    )
    assert commands[-1] == "dg dev" and not any("CAPTAINDATA_API_KEY" in c for c in commands)


@pytest.mark.timeout(2400)  # pip resolves and installs Dagster twice: minutes, more on a cold cache
def test_the_quickstart_runs_as_written(tmp_path):
    env = quickstart.system_environment()
    require_package_index(env)
    checkout = quickstart.fresh_checkout(tmp_path / "captaindata-dagster")
    shell = quickstart.Shell(cwd=tmp_path / "work", env=env, log=tmp_path / "quickstart.log")
    shell.cwd.mkdir()
    port = ui_proof.free_port()
    try:
        for command in quickstart.quickstart_commands():
            command = command.replace(quickstart.PLACEHOLDER, str(checkout))
            if command == "dg dev":
                shell.start(command, port)
            else:
                shell.run(command)
        [ui] = shell.background  # `dg dev`, last, serving what the launch recorded
        log = shell.log.read_text(errors="replace")
        assert "captaindata_dagster.CaptainDataActionsComponent" in log
        assert "ResolutionImpossible" not in log

        # the warehouse: each table of the pipeline, with rows
        with duckdb.connect(str(shell.cwd / "warehouse.duckdb"), read_only=True) as con:
            for table in TABLES:
                [(rows,)] = con.execute(f"select count(*) from linkedin.{table}").fetchall()
                assert rows > 0, table

        # the run is in the instance at $DAGSTER_HOME, the one `dg dev` opens ...
        home = Path(env["DAGSTER_HOME"])
        assert home == shell.cwd / ".dagster_home"
        python = Path(env["VIRTUAL_ENV"]) / "bin" / "python"
        out = subprocess.run(
            [str(python), "-c", INSTANCE_CHECK], env=env, capture_output=True, text=True,
            timeout=300, check=True,
        ).stdout  # fmt: skip
        assert json.loads(out.strip().splitlines()[-1]) == [PARTITION]

        # ... and `dg dev` shows it as materialized
        seen: dict[str, set[str] | None] = {}

        def shown() -> bool:
            seen["ui"] = quickstart.ui_materialized_partitions(
                f"http://127.0.0.1:{port}", TABLES[0]
            )
            return seen["ui"] is not None

        wait_until(shown, "dg dev never showed linkedin_people", alive=lambda: ui.poll() is None,
                   timeout_s=300, poll_s=1)  # fmt: skip
        assert seen["ui"] == {PARTITION}
    finally:
        for proc in shell.background:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a background command and its children (its own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=15)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def test_make_ui_opens_the_demo_instance(tmp_path, monkeypatch, capsys):
    """`make demo`'s runs, then `make ui` on the same DAGSTER_HOME: the UI shows them."""
    if shutil.which("make") is None:
        pytest.fail("`make` is not installed")
    home = tmp_path / "dagster_home"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    monkeypatch.setenv("CAPTAINDATA_SANDBOX", "1")  # registered so that demo.main's are restored
    monkeypatch.setenv("CAPTAINDATA_WAREHOUSE", "unused.duckdb")
    warehouse = tmp_path / "warehouse.duckdb"
    args = ["--definitions", str(ROOT / "definitions.py"), "--warehouse", str(warehouse)]
    assert demo.main(args) == 0
    capsys.readouterr()
    (home / "dagster.yaml").unlink()  # `make ui` writes it back when missing

    port = ui_proof.free_port()
    venv = Path(sys.executable).parent.parent
    # the Makefile's own command; -o: never reinstall the venv from a test
    cmd = ["make", "-s", "-C", str(ROOT), "-o", f"{venv}/.installed", "ui", f"VENV={venv}",
           f"DAGSTER_HOME={home}", f"UI_PORT={port}"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTAINDATA_")}
    env["CAPTAINDATA_WAREHOUSE"] = str(warehouse)
    with ui_proof.service(cmd, env, tmp_path / "ui.log") as proc:
        seen: dict[str, set[str] | None] = {}

        def shown() -> bool:
            seen["ui"] = quickstart.ui_materialized_partitions(
                f"http://127.0.0.1:{port}", TABLES[0]
            )
            return bool(seen["ui"])

        wait_until(shown, "make ui's webserver never showed the demo's runs",
                   alive=lambda: proc.poll() is None, timeout_s=300, poll_s=1)  # fmt: skip
    job = load_script(ROOT / "definitions.py", "demo_defs").defs.resolve_job_def("refresh_linkedin")
    assert seen["ui"] == set(job.partitions_def.get_partition_keys())
    assert "telemetry" in (home / "dagster.yaml").read_text()
