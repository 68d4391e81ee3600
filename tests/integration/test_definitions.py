"""The demo code location: loads without HTTP, schedules every search daily, lands in DuckDB."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]


def load_definitions():
    return load_script("definitions.py", "demo_definitions")


def test_demo_pipeline_shape(sim, monkeypatch):
    monkeypatch.setenv("CAPTAINDATA_BASE_URL", sim.base_url)
    module = load_definitions()
    defs = module.defs
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"linkedin_people", "linkedin_profiles", "linkedin_companies"} <= keys
    assert {
        "linkedin_people_errors",
        "linkedin_profiles_errors",
        "linkedin_companies_errors",
    } <= keys
    assert len(module.searches.get_partition_keys()) == 3
    job = defs.resolve_job_def("refresh_linkedin")
    assert job.partitions_def == module.searches
    assert sim.requests == []  # loading and resolving made no HTTP call


def test_loading_imports_neither_pandas_nor_duckdb():
    """Webserver, daemon and every run worker load the location: the heavy libraries wait for a step."""
    code = (
        "import sys, runpy; ns = runpy.run_path('definitions.py'); "
        "ns['defs'].get_repository_def(); "
        "print(sorted(m for m in ('pandas', 'numpy', 'duckdb', 'dagster_pandas') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_daily_schedule_requests_one_run_per_search():
    module = load_definitions()
    when = datetime(2026, 11, 28, 5, tzinfo=timezone.utc)
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(instance=instance, scheduled_execution_time=when) as ctx,
    ):
        requests = list(module.refresh_linkedin_daily(ctx))
    assert sorted(r.partition_key for r in requests) == sorted(module.SEARCHES)
    # Dagster's partitioned schedule: run keys are unique within the tick (it dedupes per tick)
    assert sorted(r.run_key for r in requests) == sorted(module.SEARCHES)
