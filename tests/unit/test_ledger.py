"""The ledger on its own: keys, freshness, pages and resume points, and several writers at once."""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import captaindata_dagster
from captaindata_dagster.api import load_catalog
from captaindata_dagster.storage.ledger import Ledger, default_ledger_path, input_key

PROFILE = load_catalog().get("linkedin-extract-people")
SEARCH = load_catalog().get("linkedin-search-people")
URL = "https://www.linkedin.com/in/person-1"
SEARCH_URL = "https://www.linkedin.com/search/results/people/?keywords=data"
# children import the package from wherever this process found it
PKG_ROOT = str(Path(captaindata_dagster.__file__).resolve().parents[1])


def items(start: int, n: int) -> list[dict]:
    return [{"n": i, "nested": {"tags": [i, i + 1]}} for i in range(start, start + n)]


@pytest.fixture
def ledger(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as led:
        yield led


# ---------------------------------------------------------------- keys


def test_input_key_is_canonical():
    base = input_key(PROFILE, {"linkedin_profile_url": URL})
    same = [
        {"profile_url": URL},  # alias
        {"linkedin_profile_url": f"  {URL}\n"},  # whitespace
        {"linkedin_profile_url": URL, "custom_data": {"crm_id": 42}},  # echoed, not fetched
        {"linkedin_profile_url": URL, "custom_data": None},
    ]
    for value in same:
        assert input_key(PROFILE, value) == base, value
    assert len(base) == 64 and int(base, 16) >= 0  # sha256 hex
    assert input_key(PROFILE, {"linkedin_profile_url": URL + "-2"}) != base
    with_params = input_key(PROFILE, {"linkedin_profile_url": URL}, {"skills": True})
    assert with_params != base
    assert with_params == input_key(PROFILE, {"profile_url": URL}, {"skills": True})
    # max_results is part of a search's key, not of an object action's
    s = {"linkedin_people_search_url": SEARCH_URL}
    assert input_key(SEARCH, s, None, 50) != input_key(SEARCH, s, None, 200)
    assert input_key(SEARCH, s, None, 50) != input_key(SEARCH, s)
    assert input_key(PROFILE, {"profile_url": URL}, None, 50) == base
    # the same input to another action is another entry
    assert input_key(SEARCH, {"linkedin_profile_url": URL}) != base


# ---------------------------------------------------------------- file, schema, defaults


def test_created_lazily_in_wal_mode_at_the_default_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAPTAINDATA_LEDGER", raising=False)
    assert default_ledger_path() == Path(".captaindata") / "ledger.sqlite"
    led = Ledger()
    assert not (tmp_path / ".captaindata").exists()  # construction touches nothing
    assert led.get("a", "k") is None
    path = tmp_path / ".captaindata" / "ledger.sqlite"
    assert path.exists()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"entries", "pages", "meta"} <= tables
    led.close()

    monkeypatch.setenv("CAPTAINDATA_LEDGER", str(tmp_path / "deep" / "er" / "x.sqlite"))
    other = Ledger()
    assert other.path == tmp_path / "deep" / "er" / "x.sqlite"
    other.save_result("a", "k", [{"x": 1}])
    assert other.path.exists()
    # a ledger survives pickling (Dagster may send resources to subprocesses)
    clone = pickle.loads(pickle.dumps(other))
    assert clone.get("a", "k").results == [{"x": 1}]
    other.close()
    clone.close()


# ---------------------------------------------------------------- freshness


def test_fresh_results_and_max_age(ledger):
    key = input_key(PROFILE, {"linkedin_profile_url": URL})
    assert ledger.fresh(PROFILE.id, key) is None
    ledger.save_result(
        PROFILE.id, key, items(0, 1), input={"linkedin_profile_url": URL}, credits=1, attempts=2
    )
    entry = ledger.fresh(PROFILE.id, key)  # None: never expires
    assert entry is not None and entry.ok and entry.results == items(0, 1)
    assert entry.input == {"linkedin_profile_url": URL}
    assert entry.credits == 1 and entry.attempts == 2 and entry.fetched_at.tzinfo is not None
    assert ledger.fresh(PROFILE.id, key, timedelta(days=1)) is not None
    assert ledger.fresh(PROFILE.id, key, timedelta(0)) is None  # zero: always refetch

    old = datetime.now(timezone.utc) - timedelta(hours=2)
    ledger.save_result(PROFILE.id, key, items(5, 1), at=old)
    assert ledger.fresh(PROFILE.id, key, timedelta(hours=1)) is None
    assert ledger.fresh(PROFILE.id, key, timedelta(hours=3)).results == items(5, 1)
    assert ledger.get(PROFILE.id, key).fetched_at == old


def test_file_content_keeps_its_bytes(ledger):
    item = {"content": b"%PDF-1.4\x00\xff", "content_type": "application/pdf", "size": 10}
    ledger.save_result("linkedin-download-attachment", "k", [item])
    assert ledger.fresh("linkedin-download-attachment", "k").results == [item]


def test_permanent_errors_are_fresh_retryable_ones_are_not(ledger):
    ledger.save_error(
        PROFILE.id,
        "gone",
        error_label="NO_RESULT",
        error_scope="input",
        error_ref="ERR-12345",
        message="profile not found",
        status_code=424,
        retryable=False,
        input={"linkedin_profile_url": URL},
    )
    ledger.save_error(
        PROFILE.id, "flaky", error_label="GENERIC_ERROR", status_code=500, retryable=True
    )
    gone = ledger.fresh(PROFILE.id, "gone")
    assert gone is not None and gone.is_error and not gone.ok
    assert (gone.error_label, gone.error_scope, gone.error_ref, gone.status_code) == (
        "NO_RESULT",
        "input",
        "ERR-12345",
        424,
    )
    assert gone.retryable is False and gone.message == "profile not found"
    assert ledger.fresh(PROFILE.id, "gone", timedelta(0)) is None  # expires like results
    assert ledger.fresh(PROFILE.id, "flaky") is None
    assert [e.input_key for e in ledger.errors()] == ["gone", "flaky"]
    assert ledger.errors()[0].input == {"linkedin_profile_url": URL}

    # a later success replaces the error
    ledger.save_result(PROFILE.id, "flaky", items(0, 1))
    fixed = ledger.get(PROFILE.id, "flaky")
    assert fixed.ok and fixed.error_label is None and fixed.status_code is None
    assert fixed.results == items(0, 1)
    assert [e.input_key for e in ledger.errors()] == ["gone"]


def test_reopened_errors_stay_recorded_but_answer_no_more(ledger):
    keys = [f"gone-{i}" for i in range(1200)]  # more than one chunk of the UPDATE
    for key in keys:
        ledger.save_error(PROFILE.id, key, error_label="NO_RESULT", status_code=424)
    ledger.save_result(PROFILE.id, "ok", [{"n": 1}])
    ledger.save_error(SEARCH.id, "gone-0", error_label="NO_RESULT")  # another action's key
    assert ledger.reopen_errors(PROFILE.id, [*keys, "ok", "unknown", keys[0]]) == 1200
    assert all(ledger.fresh(PROFILE.id, key) is None for key in keys[:5])
    entry = ledger.get(PROFILE.id, keys[0])
    assert entry is not None and entry.error_label == "NO_RESULT" and entry.retryable is True
    assert ledger.fresh(PROFILE.id, "ok") is not None  # a result is not an error: untouched
    assert ledger.fresh(SEARCH.id, "gone-0") is not None  # nor another action's
    assert ledger.reopen_errors(PROFILE.id, keys) == 0  # already open


# ---------------------------------------------------------------- pages and resume


def test_search_pages_resume_and_complete(ledger):
    key = input_key(SEARCH, {"linkedin_people_search_url": SEARCH_URL}, None, 30)
    kw = {"input": {"linkedin_people_search_url": SEARCH_URL}, "max_results": 30}
    ledger.save_page(SEARCH.id, key, 1, items(0, 10), next_url="u?page=2", credits=10, **kw)
    ledger.save_page(SEARCH.id, key, 2, items(10, 10), next_url="u?page=3", credits=10, **kw)
    assert ledger.fresh(SEARCH.id, key) is None  # unfinished: never served as a result
    rp = ledger.resume_point(SEARCH.id, key)
    assert (rp.pages_done, rp.next_url, rp.credits) == (2, "u?page=3", 20)
    assert rp.results == items(0, 20)
    partial = ledger.get(SEARCH.id, key)
    assert partial.status == "partial" and not partial.complete and partial.max_results == 30

    ledger.save_page(
        SEARCH.id, key, 3, items(20, 10), next_url="u?page=4", complete=True, credits=10, **kw
    )
    assert ledger.resume_point(SEARCH.id, key) is None
    done = ledger.fresh(SEARCH.id, key)
    assert done.ok and done.results == items(0, 30) and done.credits == 30
    assert done.pages_done == 3 and done.next_url is None
    assert ledger.stats()["pages"] == 3

    # page 1 starts a new walk: the old pages go
    ledger.save_page(SEARCH.id, key, 1, items(100, 10), next_url="u?page=2", credits=10, **kw)
    assert ledger.get(SEARCH.id, key).results == items(100, 10)
    assert ledger.stats()["pages"] == 1


def test_error_midway_keeps_pages_but_replaces_a_complete_result(ledger):
    ledger.save_page(SEARCH.id, "k", 1, items(0, 10), next_url="u?page=2")
    ledger.save_page(SEARCH.id, "k", 2, items(10, 10), next_url="u?page=3")
    ledger.save_error(SEARCH.id, "k", error_label="SERVER_ERROR", status_code=503, retryable=True)
    rp = ledger.resume_point(SEARCH.id, "k")
    assert rp is not None and rp.pages_done == 2 and len(rp.results) == 20
    ledger.save_page(SEARCH.id, "k", 3, items(20, 5), next_url=None, complete=True)
    assert ledger.fresh(SEARCH.id, "k").results == items(0, 25)

    # a refresh that fails on its first page: the error replaces the stale complete result
    ledger.save_error(SEARCH.id, "k", error_label="LK_ERROR", status_code=424, retryable=True)
    entry = ledger.get(SEARCH.id, "k")
    assert entry.is_error and entry.pages_done == 0 and entry.results == []
    assert ledger.resume_point(SEARCH.id, "k") is None


def test_stale_walks_are_not_resumed(ledger):
    old = datetime.now(timezone.utc) - timedelta(days=2)
    ledger.save_page(SEARCH.id, "k", 1, items(0, 10), next_url="u?page=2", at=old)
    assert ledger.resume_point(SEARCH.id, "k", timedelta(days=1)) is None
    assert ledger.resume_point(SEARCH.id, "k", timedelta(days=3)).pages_done == 1
    assert ledger.resume_point(SEARCH.id, "k").pages_done == 1


def test_entries_stats_delete_and_integrity(ledger):
    for i in range(3):
        ledger.save_result(PROFILE.id, f"ok{i}", items(i, 1), credits=1)
    ledger.save_error(PROFILE.id, "bad", error_label="NO_RESULT", retryable=False)
    ledger.save_page(SEARCH.id, "s", 1, items(0, 10), next_url="u?page=2", credits=10)
    assert len(ledger.entries()) == 5
    assert len(ledger.entries(PROFILE.id)) == 4
    assert [e.results for e in ledger.entries(PROFILE.id, status="ok")] == [
        items(0, 1),
        items(1, 1),
        items(2, 1),
    ]
    assert ledger.entries(SEARCH.id, results=False)[0].results is None
    stats = ledger.stats()
    assert (stats["entries"], stats["ok"], stats["partial"], stats["errors"]) == (5, 3, 1, 1)
    assert stats["errors_by_label"] == {"NO_RESULT": 1}
    assert stats["credits"] == 13 and stats["pages"] == 1 and stats["actions"] == 2
    assert ledger.delete(PROFILE.id, "ok0") == 1
    assert ledger.delete(SEARCH.id) == 1
    assert ledger.stats()["entries"] == 3 and ledger.stats()["pages"] == 0
    assert ledger.integrity_ok()


# ---------------------------------------------------------------- several writers

WRITER = """
import sys
from captaindata_dagster.storage.ledger import Ledger
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
led = Ledger(path, timeout_s=60)
for i in range(n):
    led.save_result("act", f"{tag}-{i}", [{"i": i, "tag": tag}], credits=1)
    if i % 5 == 0:
        led.save_page("search", f"{tag}-{i}", 1, [{"i": i}], next_url="x?page=2")
        led.save_page("search", f"{tag}-{i}", 2, [{"i": i}], next_url=None, complete=True)
led.close()
"""


def write_at_once(location: str, tmp_path: Path, n: int) -> Ledger:
    """Two processes and five threads (three sharing one `Ledger`, two with their own) write `n`
    entries each into the ledger at `location` (a path or a URL) at once; the writers' own
    checks pass, and a new `Ledger` on it is returned for the caller's checks."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [PKG_ROOT, os.environ.get("PYTHONPATH")])),
    }
    procs = [
        subprocess.Popen([sys.executable, str(script), location, f"proc{p}", str(n)], env=env)
        for p in range(2)
    ]
    shared = Ledger(location)  # one instance used by several threads
    own = [Ledger(location) for _ in range(2)]  # and separate instances (separate connections)
    failures: list[BaseException] = []

    def write(led: Ledger, tag: str) -> None:
        try:
            for i in range(n):
                led.save_result("act", f"{tag}-{i}", [{"i": i, "tag": tag}], credits=1)
                led.fresh("act", f"{tag}-{i // 2}")
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(shared, f"shared{t}")) for t in range(3)]
    threads += [threading.Thread(target=write, args=(led, f"own{t}")) for t, led in enumerate(own)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for p in procs:
        assert p.wait(timeout=120) == 0
    assert failures == []
    for led in (shared, *own):
        led.close()
    check = Ledger(location)
    stats = check.stats()
    writers = 2 + 3 + 2
    assert len(check.entries("act", results=False)) == writers * n
    assert stats["entries"] == writers * n + 2 * (n // 5)  # the searches of the two processes
    assert stats["pages"] == 2 * 2 * (n // 5)
    assert check.get("act", "proc1-7").results == [{"i": 7, "tag": "proc1"}]
    assert check.get("search", "proc0-5").results == [{"i": 5}, {"i": 5}]
    assert check.integrity_ok()
    return check


def test_threads_and_processes_write_one_ledger_at_once(tmp_path):
    path = tmp_path / "shared" / "ledger.sqlite"
    with write_at_once(str(path), tmp_path, n=120) as check:
        assert check.stats()["credits"] == 7 * 120
