"""The package's shape: a small typed top level, layers whose contract covers every module, sizes."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import tomllib

import captaindata_dagster
from tests.helpers import ROOT, load_script

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: Dagster depends on tomli there
    import tomli as tomllib  # type: ignore[no-redef]

PKG = Path(captaindata_dagster.__file__).parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_top_level_has_at_most_seventeen_names_and_each_resolves():
    names = captaindata_dagster.__all__
    assert len(names) <= 17 and len(set(names)) == len(names)
    for name in names:
        assert getattr(captaindata_dagster, name) is not None, name


def test_the_package_ships_its_types():
    assert (PKG / "py.typed").is_file()
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["captaindata_dagster"]
    assert "py.typed" in data


def test_importing_the_client_imports_neither_dagster_nor_the_simulator():
    code = (
        "import sys; from captaindata_dagster import CaptainDataClient; "
        "import captaindata_dagster.orchestration; "
        "print(sorted(m for m in sys.modules if m == 'dagster' or '.simulator.' in m))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _contract(name: str) -> dict:
    contracts = PYPROJECT["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["name"] == name)


def test_the_simulator_contract_forbids_every_api_module_but_the_catalog():
    forbidden = set(
        _contract("The simulator reads only the catalog of the API layer")["forbidden_modules"]
    )
    # the catalog checks values with input_safety and json_types; bulk_statuses: the run statuses
    allowed = {"catalog", "input_safety", "json_types", "bulk_statuses"}
    for path in sorted((PKG / "api").glob("*.py")):
        if path.stem in allowed or path.stem == "__init__":
            continue
        assert f"captaindata_dagster.api.{path.stem}" in forbidden, (
            f"api/{path.name} is new: add it to the simulator's forbidden modules in pyproject.toml"
        )


def test_the_layers_contract_names_every_subpackage():
    layers = " ".join(_contract("Layers: each imports only the ones below it")["layers"])
    for child in sorted(PKG.iterdir()):
        if (child / "__init__.py").is_file():
            assert f"captaindata_dagster.{child.name}" in layers, child.name


def test_the_receiver_imports_neither_dagster_nor_pandas_nor_its_server_until_used():
    for name in (
        "Only the Dagster layer and above import Dagster",
        "The client, the stores and the simulator need no pandas",
    ):
        assert "captaindata_dagster.receiver" in _contract(name)["source_modules"], name
    code = (
        "import sys; import captaindata_dagster.receiver; import captaindata_dagster.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dagster', 'pandas', 'starlette', 'uvicorn')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_cli_is_the_top_layer_and_only_python_m_imports_it():
    layers = _contract("Layers: each imports only the ones below it")["layers"]
    assert layers[0] == "captaindata_dagster.cli"
    importers = set()
    for path in sorted(PKG.rglob("*.py")):
        if (PKG / "cli") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(
                n == "captaindata_dagster.cli" or n.startswith("captaindata_dagster.cli.")
                for n in names
            ):
                importers.add(path.relative_to(PKG).as_posix())
    assert importers == {"__main__.py"}  # `python -m captaindata_dagster`


def test_every_subpackage_lists_what_it_offers():
    subs = ("api", "engine", "storage", "orchestration", "simulator", "receiver", "testing", "cli")
    for sub in subs:
        module = importlib.import_module(f"captaindata_dagster.{sub}")
        assert module.__doc__ and module.__all__, sub
        assert set(module.__all__) <= set(dir(module)), f"{sub}: dir() misses public names"
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{sub}.{name}"


def test_no_module_class_or_function_is_over_its_size_limit():
    sizes = load_script(ROOT / "scripts" / "check_sizes.py")
    found = [problem for path in sorted(PKG.rglob("*.py")) for problem in sizes.oversized(path)]
    assert found == []


def test_the_size_check_finds_a_long_function(tmp_path: Path):
    sizes = load_script(ROOT / "scripts" / "check_sizes.py")
    body = "".join(f"    x{i} = {i}\n" for i in range(61))
    path = tmp_path / "long.py"
    path.write_text(f'def long():\n    """Only a docstring is not counted."""\n{body}')
    (problem,) = sizes.oversized(path)
    assert "function long has 62 lines" in problem


def test_every_shared_engine_module_is_kept_from_the_strategies():
    shared = set(_contract("The engine's shared pieces import no strategy")["source_modules"])
    for path in sorted((PKG / "engine").glob("*.py")):
        if path.stem != "__init__":
            assert f"captaindata_dagster.engine.{path.stem}" in shared, (
                f"engine/{path.name} is new: list it in the shared pieces' contract"
            )


def test_a_name_the_top_level_no_longer_lists_still_works_and_says_where_it_moved():
    import warnings

    from captaindata_dagster.api import InvalidInputError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        moved = captaindata_dagster.InvalidInputError
    assert moved is InvalidInputError
    (warning,) = caught
    assert warning.category is DeprecationWarning
    assert "from captaindata_dagster.api import InvalidInputError" in str(warning.message)
    assert "InvalidInputError" not in captaindata_dagster.__all__
    assert "InvalidInputError" not in dir(captaindata_dagster)


# What the top level exported before it kept to its few names (issues 13 and 14): each still reads.
FORMER_NAMES = (
    "Action", "Catalog", "load_catalog", "AuthenticationError", "ConnectionFailedError",
    "CreditsExhaustedError", "InvalidInputError", "MalformedResponseError", "NotFoundError",
    "PermissionDeniedError", "RateLimitError", "RequestTimeoutError", "ServerError",
    "TransportError", "UpstreamError", "ValidationError", "connect_linkedin", "connected_users",
    "create_identity", "create_user", "linkedin_status", "list_identities", "list_users",
    "OutreachStore", "run_outreach", "build_outreach_op", "connect_identity_linkedin_job",
    "connect_identity_linkedin_op", "connect_linkedin_job", "connect_linkedin_op",
    "create_captaindata_identity_op", "create_captaindata_user_op", "extract_profiles_job",
    "list_captaindata_identities_op", "list_captaindata_users_op", "build_search_schedule",
)  # fmt: skip


def test_every_former_top_level_name_still_reads_from_its_layer():
    import warnings

    for name in FORMER_NAMES:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = getattr(captaindata_dagster, name)
        (warning,) = caught
        layer = str(warning.message).split("`from ")[1].split(" import")[0]
        assert getattr(importlib.import_module(layer), name) is value, name


def test_an_unknown_name_is_still_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        captaindata_dagster.no_such_name  # noqa: B018
