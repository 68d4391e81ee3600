"""Follow docs/component.md's quickstart as written, in a fresh directory (`tests/slow/test_quickstart.py`).

The shell commands are read from the quickstart's `sh` blocks up to "**2. Your workspace.**" (the
step that needs a real key), so the docs and the test cannot drift. Each command runs as a reader
would type it, with three substitutions only: `/path/to/captaindata-dagster` becomes a copy of this
checkout (its tracked and new files, as a fresh clone has them), `. .venv/bin/activate` becomes that
venv's binaries first on PATH, and `dg dev` is started in the background on a free port (the test
stops it) instead of holding the terminal. `export` and `cd` carry over to the next commands, as in
a shell. Needs the system `python3` and the package index pip reaches.

Also: `ui_materialized_partitions`, which asks a running webserver's GraphQL API which partitions of
an asset are materialized, for this test and `make ui`'s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "component.md"
PLACEHOLDER = "/path/to/captaindata-dagster"
ACTIVATE = re.compile(r"^(?:\.|source)\s+(\S+)/bin/activate$")


def quickstart_commands(doc: Path = DOC) -> list[str]:
    """The sandbox part of the quickstart: each `sh` line, comments dropped, `&&` split.

    Args:
        doc: the markdown file holding a `## Quickstart` section.

    Example:
        >>> quickstart_commands()[0]
        'python3 -m venv .venv'
    """
    text = doc.read_text(encoding="utf-8")
    start = text.index("## Quickstart")
    section = text[start : text.index("**2. Your workspace.**", start)]
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            commands.extend(part.strip() for part in line.split("&&") if line)
    return commands


@dataclass
class Shell:
    """The state a reader's shell carries between commands: directory and environment."""

    cwd: Path
    env: dict[str, str]
    log: Path
    background: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, command: str, *, timeout_s: float = 1800) -> None:
        """Run one quickstart command; fail with the command and its log's tail."""
        if command.startswith("export "):
            key, _, value = command.removeprefix("export ").partition("=")
            self.env[key] = value.replace("$PWD", str(self.cwd))
            return
        if command.startswith("cd "):
            self.cwd = self.cwd / command.removeprefix("cd ").strip()
            return
        if (activate := ACTIVATE.match(command)) is not None:
            venv = (self.cwd / activate.group(1)).resolve()
            self.env["VIRTUAL_ENV"] = str(venv)
            self.env["PATH"] = f"{venv / 'bin'}{os.pathsep}{self.env['PATH']}"
            return
        with open(self.log, "ab") as out:
            out.write(f"\n$ {command}\n".encode())
            out.flush()
            done = subprocess.run(
                ["bash", "-c", command], cwd=self.cwd, env=self.env, stdout=out,
                stderr=subprocess.STDOUT, timeout=timeout_s, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            tail = self.log.read_text(errors="replace")[-4000:]
            raise AssertionError(f"`{command}` exited {done.returncode}:\n{tail}")

    def start(self, command: str, port: int) -> subprocess.Popen[bytes]:
        """Start a long-running command (`dg dev`) on `port` in its own process group."""
        with open(self.log, "ab") as out:
            out.write(f"\n$ {command} --port {port} &\n".encode())
            proc = subprocess.Popen(
                ["bash", "-c", f"exec {command} --host 127.0.0.1 --port {port}"], cwd=self.cwd,
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.background.append(proc)
        return proc


def fresh_checkout(dest: Path) -> Path:
    """Copy this checkout's tracked and new files (what a clone has) to `dest`; return it."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def system_environment() -> dict[str, str]:
    """The environment of a fresh terminal: no venv of ours, no Captain Data or Dagster settings."""
    ours = str(Path(sys.prefix) / "bin")
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != ours]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CAPTAINDATA_", "DAGSTER_", "PYTHON")) and k != "VIRTUAL_ENV"
    }
    env["PATH"] = os.pathsep.join(path)
    return env


def ui_materialized_partitions(base_url: str, asset: str) -> set[str] | None:
    """Partitions of `asset` a running webserver shows as materialized; None while it is not up.

    Args:
        base_url: e.g. `http://127.0.0.1:3000`.
        asset: the asset key as one path element, e.g. `linkedin_people`.

    Example:
        >>> ui_materialized_partitions("http://127.0.0.1:3000", "linkedin_people")
        {'data-engineers-paris'}
    """
    query = """
    query Mats($key: AssetKeyInput!) {
      assetOrError(assetKey: $key) {
        __typename
        ... on Asset { assetMaterializations(limit: 100) { partition } }
      }
    }"""
    try:
        resp = requests.post(
            f"{base_url}/graphql",
            json={"query": query, "variables": {"key": {"path": [asset]}}},
            timeout=10,
        )
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
    except (requests.RequestException, ValueError):
        return None
    found = (body.get("data") or {}).get("assetOrError") or {}
    if found.get("__typename") != "Asset":
        return None
    return {m["partition"] for m in found["assetMaterializations"]}
