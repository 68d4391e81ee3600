"""`captaindata-dagster estimate`: the bill of a backfill before it runs, without a paid call.

    captaindata-dagster estimate -f definitions.py --asset linkedin_profiles --partition paris
    captaindata-dagster estimate -m my_project.defs --asset linkedin_people --all-partitions --json

The code location is loaded as `dagster asset materialize` loads it (`-m module` or
`-f file`, `-a` the `Definitions` attribute, default `defs`). For each partition it prints how
many inputs, how many are fresh in the ledger (free), how many to fetch, the credits at the
catalog's prices (managed identities 1.5x), the calls and the time the plan's rate and accounts
allow; then the totals. It reads the ledger, the catalog and the upstream partitions the
instance (`$DAGSTER_HOME`) has materialized; it never calls the API, so it needs no API key.
Exit codes: 0 done, 2 bad usage (an unknown asset or partition, a file that does not load, a
setting the preview reads that cannot be read: an `EnvVar` not set), in one line.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from captaindata_dagster.cli.options import CONTEXT_SETTINGS, SettingsError, json_option, print_json
from captaindata_dagster.engine.estimate import DEFAULT_SECONDS_PER_CALL

DEFAULT_ATTRIBUTE = "defs"
F = TypeVar("F", bound=Callable[..., Any])


def code_location_options(command: F) -> F:
    """Add `-m/--module-name`, `-f/--python-file` and `-a/--attribute`, as `dagster` has them.

    Example:
        >>> @click.command()
        ... @code_location_options
        ... def show(module_name, python_file, attribute) -> None: ...
    """
    for option in reversed(
        [
            click.option("-m", "--module-name", default=None, help="The code location's module."),
            click.option(
                "-f",
                "--python-file",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=None,
                help="The code location's file.",
            ),
            click.option(
                "-a",
                "--attribute",
                default=None,
                help=f"The Definitions' name in it (default: {DEFAULT_ATTRIBUTE}, else its only one).",
            ),
        ]
    ):
        command = option(command)
    return command


@click.command(name="estimate", context_settings=CONTEXT_SETTINGS)
@code_location_options
@click.option("--asset", "asset_key", required=True, help="The asset key: name or prefix/name.")
@click.option("--partition", "partitions", multiple=True, help="A partition key (repeatable).")
@click.option("--all-partitions", is_flag=True, help="Every partition of the asset.")
@click.option(
    "--seconds-per-call",
    type=click.FloatRange(min=0),
    default=DEFAULT_SECONDS_PER_CALL,
    show_default=True,
    help="The assumed time of one call.",
)
@json_option
def estimate_command(
    module_name: str | None,
    python_file: Path | None,
    attribute: str | None,
    asset_key: str,
    partitions: tuple[str, ...],
    all_partitions: bool,
    seconds_per_call: float,
    as_json: bool,
) -> None:
    """Preview what materializing an asset's partitions would cost: no paid call.

    Prints, per partition and in total: inputs, fresh in the ledger, to fetch, credits (exact,
    or an upper bound for searches and not yet materialized upstreams; capped by the asset's
    budget), calls and seconds. Needs no API key.
    """
    if (module_name is None) == (python_file is None):
        raise click.UsageError("give the code location: -m MODULE or -f FILE (one of them)")
    if partitions and all_partitions:
        raise click.UsageError("give --partition or --all-partitions, not both")
    from captaindata_dagster.orchestration.estimate import (  # Dagster: loaded when it runs
        EstimateRequestError,
        EstimateSettingsError,
        estimate_asset,
        text_table,
    )

    defs = _definitions(module_name, python_file, attribute)
    if not os.environ.get("DAGSTER_HOME"):
        click.echo(
            "DAGSTER_HOME is not set: no materialization is known, so every upstream partition "
            "is estimated, not read.",
            err=True,
        )
    try:
        preview = estimate_asset(
            defs, asset_key, list(partitions), all_partitions=all_partitions,
            seconds_per_call=seconds_per_call,
        )  # fmt: skip
    except (EstimateRequestError, EstimateSettingsError) as err:
        raise SettingsError(str(err)) from err
    if as_json:
        print_json(preview.to_dict())
    else:
        click.echo(text_table(preview))


def _definitions(module_name: str | None, python_file: Path | None, attribute: str | None):
    """The `Definitions` of the code location (`-m` or `-f`, `-a`)."""
    import dagster as dg

    try:
        if module_name is not None:
            module = _module(module_name)
        else:
            assert python_file is not None  # checked by the command
            module = _file_module(python_file)
    except Exception as err:  # any error in the user's code: show it, exit 2
        raise SettingsError(
            f"could not load the code location: {type(err).__name__}: {err}"
        ) from err
    if attribute is not None:
        found = getattr(module, attribute, None)
        if not isinstance(found, dg.Definitions):
            raise SettingsError(f"{module.__name__}.{attribute} is not a dagster.Definitions")
        return found
    named = getattr(module, DEFAULT_ATTRIBUTE, None)
    if isinstance(named, dg.Definitions):
        return named
    every = [v for v in vars(module).values() if isinstance(v, dg.Definitions)]
    if len(every) != 1:
        raise SettingsError(
            f"{module.__name__}: found {len(every)} Definitions; name one with -a/--attribute"
        )
    return every[0]


def _module(name: str):
    if os.getcwd() not in sys.path:  # as `dagster -m`: the working directory is importable
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(name)


def _file_module(path: Path):
    folder = str(path.resolve().parent)
    if folder not in sys.path:  # its sibling modules import as they do under `dagster -f`
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(f"_captaindata_estimate_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
