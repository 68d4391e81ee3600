"""A real PostgreSQL server for the tests: the one CI started, or one started here.

`.ci/run` starts a server (scripts/postgres.py) and exports `CAPTAINDATA_TEST_POSTGRES_URL` (a
superuser's URL), `CAPTAINDATA_TEST_POSTGRES_DIR` (where it lives, for the restart test) and
`CAPTAINDATA_TEST_POSTGRES_REQUIRED=1`, which turns a missing server into a failure. Without them
(a developer's `make test`) a throwaway server is started for the session when the binaries are
installed, else the PostgreSQL tests are skipped, saying how to run them. Each test gets a
database of its own (`pg_url`), dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.helpers import load_script

URL_ENV = "CAPTAINDATA_TEST_POSTGRES_URL"
DIR_ENV = "CAPTAINDATA_TEST_POSTGRES_DIR"
REQUIRED_ENV = "CAPTAINDATA_TEST_POSTGRES_REQUIRED"
PREFIX = "captaindata-pg-"  # the servers this module starts live in /tmp/captaindata-pg-*
HOW = (
    "run `make postgres` and export what it prints, or install Debian's postgresql package "
    "(the tests then start a server of their own)"
)


def server_script():
    """scripts/postgres.py as a module (it is a script, not part of the package)."""
    return load_script("scripts/postgres.py", "captaindata_pg_script")


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRED_ENV, "").strip() not in ("", "0"):
        pytest.fail(f"{reason}, and {REQUIRED_ENV} says the PostgreSQL tests must run: {HOW}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}; {HOW}")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@dataclass
class PostgresServer:
    """The server the tests use: a superuser's URL, and its directory when known (restarts)."""

    url: str
    base: Path | None

    def restart(self) -> None:
        if self.base is None:
            pytest.skip(f"restarting needs the server's directory ({DIR_ENV})")
        server_script().restart(self.base)

    def admin(self):
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)


def _sweep(script) -> None:
    """Stop the servers of earlier test sessions that were killed before their teardown."""
    for owner in Path(tempfile.gettempdir()).glob(f"{PREFIX}*/owner"):
        try:
            os.kill(int(owner.read_text()), 0)
            continue  # its session is still running
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError, OSError):
            continue
        script.stop(owner.parent)
        shutil.rmtree(owner.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        import psycopg
    except ImportError:
        _missing("psycopg is not installed (pip install -e '.[dev]')")
    url = os.environ.get(URL_ENV, "").strip()
    started: Path | None = None
    if url:
        base = os.environ.get(DIR_ENV, "").strip()
        server = PostgresServer(url, Path(base) if base else None)
    else:
        script = server_script()
        if script.find_bin_dir() is None:
            _missing("no PostgreSQL server binaries (initdb, pg_ctl, postgres) on this machine")
        _sweep(script)
        started = Path(tempfile.mkdtemp(prefix=PREFIX))  # in /tmp: the server's user reaches it
        (started / "owner").write_text(str(os.getpid()))
        server = PostgresServer(script.start(started), started)
    try:
        with psycopg.connect(server.url, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.fail(f"the PostgreSQL server of {URL_ENV} does not answer: {exc}")
    yield server
    if started is not None:
        server_script().stop(started)
        shutil.rmtree(started, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL (password included) of a new, empty database on the test server."""
    name = f"cd_test_{uuid.uuid4().hex[:12]}"
    with postgres_server.admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield with_database(postgres_server.url, name)
    with postgres_server.admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
