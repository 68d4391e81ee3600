"""The `captaindata-dagster` command line without a server: help, options, exit codes, outreach.

Every group and command answers `-h/--help` and every command that prints data takes `--json`;
bad usage and bad settings exit 2; the outreach review runs against a real SQLite store file;
the simulator's options parse into its settings (serving it is tests/integration/test_cli.py's).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from captaindata_dagster.cli import main
from captaindata_dagster.cli.simulator import simulator_command, simulator_config
from captaindata_dagster.storage.locations import STORE_ENV
from captaindata_dagster.storage.outreach_records import SENT, UNKNOWN, OutreachStore
from tests.helpers import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: Dagster depends on tomli there
    import tomli as tomllib  # type: ignore[no-redef]

CONNECT = "linkedin-connect-profile"
ADA = "https://www.linkedin.com/in/ada-lovelace"
GRACE = "https://www.linkedin.com/in/grace-hopper"


def cli(*args: str) -> Result:
    """Run `captaindata-dagster ARGS` in this process; an unexpected exception fails the test."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def every_command() -> list[tuple[tuple[str, ...], click.Command]]:
    """(path, command) for the root group, each group under it and each command (estimate too)."""
    found: list[tuple[tuple[str, ...], click.Command]] = []

    def walk(path: tuple[str, ...], command: click.Command) -> None:
        found.append((path, command))
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                walk((*path, name), sub)

    walk((), main)
    return found


def test_every_group_and_command_answers_help_with_its_docstring():
    paths = {path for path, _ in every_command()}
    assert {("identities", "connect"), ("users", "create"), ("outreach", "mark-retry"),
            ("simulator",), ("estimate",)} <= paths  # fmt: skip
    for path, command in every_command():
        assert command.help and command.help.strip(), f"{path}: no docstring"
        for flag in ("-h", "--help"):
            shown = cli(*path, flag)
            assert shown.exit_code == 0, (path, flag, shown.output)
            assert shown.stdout.startswith("Usage: ")
            first_line = command.help.strip().split("\n")[0]
            assert first_line in " ".join(shown.stdout.split()), path  # as wrapped to the width


def test_every_command_that_prints_data_takes_json():
    leaves = [(p, c) for p, c in every_command() if not isinstance(c, click.Group)]
    # create, list, connect x2; list, mark-sent, mark-retry; simulator...; runs x6; schedules x6
    assert len(leaves) == 24
    for path, command in leaves:
        flags = [o for p in command.params if isinstance(p, click.Option) for o in p.opts]
        assert "--json" in flags, path


def test_bad_usage_exits_2_and_says_what_is_wrong():
    bare = cli("users")
    assert bare.exit_code == 2 and "create" in bare.stderr  # the group's help, on stderr
    unknown = cli("users", "list", "--no-such-option")
    assert unknown.exit_code == 2 and "No such option '--no-such-option'" in unknown.stderr
    missing = cli("outreach", "mark-sent", "--action", CONNECT, ADA)
    assert missing.exit_code == 2 and "Missing option '--campaign'" in missing.stderr
    no_profile = cli("outreach", "mark-sent", "--campaign", "spring", "--action", CONNECT)
    assert no_profile.exit_code == 2 and "PROFILE_URL" in no_profile.stderr
    assert cli("no-such-group").exit_code == 2


def test_no_api_key_is_bad_settings_and_names_the_variable(monkeypatch):
    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)
    monkeypatch.delenv("CAPTAINDATA_SANDBOX", raising=False)
    for group in ("identities", "users"):
        refused = cli(group, "list", "--json")
        assert refused.exit_code == 2 and refused.stdout == ""
        assert "set CAPTAINDATA_API_KEY" in refused.stderr and "--sandbox" in refused.stderr


def test_the_simulator_options_become_its_settings():
    ctx = simulator_command.make_context(
        "simulator",
        ["--port", "0", "--api-key", "k", "--seed", "7", "--rps", "50", "--credits", "12",
         "--fault", "LK_BAD_COOKIE=0.25", "--fault", "503=0",
         "--fail-input", "https://x.test/?a=b=NO_RESULT", "--fault-after-effect"],
    )  # fmt: skip
    params = dict(ctx.params)
    assert params.pop("as_json") is False
    config = simulator_config(**params)
    assert (config.port, config.api_key, config.seed, config.rps, config.credits) == (
        0, "k", 7, 50.0, 12.0,
    )  # fmt: skip
    assert config.faults == {"LK_BAD_COOKIE": 0.25, "503": 0.0}
    assert config.fail_inputs == {"https://x.test/?a=b": "NO_RESULT"}  # split on the last "="
    assert config.fault_after_effect and config.hang_s == 5.0 and config.host == "127.0.0.1"


def test_a_bad_simulator_option_exits_2():
    no_rate = cli("simulator", "--fault", "LK_BAD_COOKIE")
    assert no_rate.exit_code == 2 and "NAME=VALUE" in no_rate.stderr
    not_a_number = cli("simulator", "--fault", "LK_BAD_COOKIE=often")
    assert not_a_number.exit_code == 2 and "'often'" in not_a_number.stderr
    typo = cli("simulator", "--port", "0", "--fault", "not_a_fault=0.5")  # refused by the config
    assert typo.exit_code == 2 and "not_a_fault" in typo.stderr


def unsettled_store(path: Path) -> None:
    """Two sends whose answer was lost: the records a person reviews."""
    with OutreachStore(path) as store:
        for url in (ADA, GRACE):
            taken = store.reserve("spring", CONNECT, url, account="u1")
            store.settle("spring", CONNECT, url, taken.attempt, UNKNOWN)


def test_outreach_review_on_a_store_file(tmp_path):
    path = tmp_path / "outreach.sqlite"
    unsettled_store(path)
    listed = cli("outreach", "--store", str(path), "list", "--campaign", "spring")
    assert listed.exit_code == 0 and "2 record(s)" in listed.stderr
    assert [line.split()[:4] for line in listed.stdout.splitlines()] == [
        [UNKNOWN, "spring", CONNECT, ADA], [UNKNOWN, "spring", CONNECT, GRACE],
    ]  # fmt: skip

    marked = cli("outreach", "mark-sent", "--campaign", "spring", "--action", CONNECT,
                 "--note", "seen in the account", ADA, "--store", str(path), "--json")  # fmt: skip
    assert marked.exit_code == 0
    assert json.loads(marked.stdout) == [{"profile_url": ADA, "result": "sent"}]
    retry = cli("outreach", "--store", str(path), "mark-retry", "--campaign", "spring",
                "--action", CONNECT, GRACE, "https://www.linkedin.com/in/nobody")  # fmt: skip
    assert retry.exit_code == 0
    assert retry.stdout.splitlines() == [
        f"retry  {GRACE}", "no record for https://www.linkedin.com/in/nobody",
    ]  # fmt: skip

    every = cli("outreach", "--store", str(path), "list", "--all", "--json")
    assert every.exit_code == 0
    records = {r["profile_url"]: r for r in json.loads(every.stdout)}
    assert records[ADA]["state"] == SENT and records[ADA]["note"] == "seen in the account"
    assert records[GRACE]["state"] == "retry"
    assert json.loads(cli("outreach", "--store", str(path), "list", "--json").stdout) == []


def test_un_sending_is_refused_with_exit_1(tmp_path, monkeypatch):
    path = tmp_path / "outreach.sqlite"
    unsettled_store(path)
    monkeypatch.setenv(STORE_ENV, str(path))  # the default store, when --store is not given
    mark = ("outreach", "mark-sent", "--campaign", "spring", "--action", CONNECT)
    assert cli(*mark, ADA).stdout == f"sent   {ADA}\n"
    refused = cli("outreach", "mark-retry", "--campaign", "spring", "--action", CONNECT, GRACE, ADA)
    assert refused.exit_code == 1
    assert f"refused {ADA}" in refused.stderr and refused.stdout == f"retry  {GRACE}\n"
    with OutreachStore(path) as store:
        assert store.get("spring", CONNECT, ADA).state == SENT


def test_the_cli_loads_dagster_only_for_the_command_that_needs_it():
    code = (
        "import sys; from captaindata_dagster.cli import main; "
        "main(['users', '--help'], standalone_mode=False); "
        "print(sorted(m for m in sys.modules if m in ('dagster', 'captaindata_dagster.cli.estimate')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("script", ["captaindata-dagster", "captaindata-simulator"])
def test_the_console_scripts_name_click_commands(script):
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"][script]
    module, _, attribute = target.partition(":")
    command = getattr(__import__(module, fromlist=[attribute]), attribute)
    assert isinstance(command, click.Command)
    expected = main if script == "captaindata-dagster" else simulator_command
    assert command is expected
