"""The README and the pages under docs/ say what the code does, and their examples run.

Every python block compiles and its imports resolve; every block not marked `<!-- not run: why -->`
on the line before it runs as written (in a temporary folder, against the simulator where it calls
the API); every YAML block parses, and the component's `defs.yaml` examples build definitions;
every relative link and `#anchor` resolves; every repository path and `captaindata_dagster.` name
quoted in backticks exists; the configuration reference is what the settings classes say; the
README stays short.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import requests
import yaml

import captaindata_dagster
from tests.helpers import load_script

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS, ROOT / "examples" / "linkedin_warehouse" / "README.md"]
README_MAX_LINES = 250

# Imports shown in examples of packages this project does not depend on, or of the user's own code.
NOT_INSTALLED = {"dagster_k8s", "my_project"}
NOT_RUN = re.compile(r"<!-- not run: .+ -->")
FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<lang>[\w-]*)[ ]*\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S
)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
QUOTED_PATH = re.compile(r"`((?:tests|captaindata_dagster|scripts|examples|bench|docs)/[\w./-]*)`")
LAYERS = ("api", "storage", "engine", "orchestration", "simulator", "testing")
QUOTED_MODULE = re.compile(rf"`((?:{'|'.join(LAYERS)})/[\w./-]*)`")  # within the package
QUOTED_NAME = re.compile(r"`(captaindata_dagster(?:\.\w+)+)`")
COMPONENT_TYPE = "type: captaindata_dagster.CaptainDataActionsComponent"


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str
    run: bool  # False: marked `<!-- not run: why -->` on the line before

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(lang: str) -> list[Block]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            if m["lang"] != lang:
                continue
            before = text[: m.start()].rstrip().rsplit("\n", 1)[-1]
            line = text.count("\n", 0, m.start()) + 1
            code = textwrap.dedent(m["body"])
            found.append(Block(page, line, lang, code, run=not NOT_RUN.search(before)))
    return found


def prose(page: Path) -> str:
    """The page without its code blocks (whose `#` comments are no headings, `[x](y)` no links)."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"(?m)^#{1,6} (.+)$", prose(page))}


# ---------------------------------------------------------------------------------- the pages


def test_the_readme_stays_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move detail to docs/"


def test_the_readme_links_every_page_of_the_docs():
    linked = {target.split("#")[0] for target in LINK.findall(prose(README))}
    missing = [p.name for p in DOCS if f"docs/{p.name}" not in linked]
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve_to_files_and_headings(page: Path):
    broken = []
    for target in LINK.findall(prose(page)):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no such heading")
    assert broken == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_quoted_paths_and_names_exist(page: Path):
    text = page.read_text(encoding="utf-8")
    missing = [p for p in QUOTED_PATH.findall(text) if not (ROOT / p).exists()]
    package = ROOT / "captaindata_dagster"
    missing += [p for p in QUOTED_MODULE.findall(text) if not (package / p).exists()]
    missing += [name for name in QUOTED_NAME.findall(text) if not _resolves(name)]
    assert missing == []


def test_the_python_api_page_names_every_public_name():
    text = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    assert [n for n in captaindata_dagster.__all__ if f"`{n}`" not in text] == []


def test_the_table_of_error_meaning_is_labels_py():
    from captaindata_dagster.api.labels import LABELS

    shown = {}
    for label, cells in re.findall(
        r"(?m)^\| `([A-Z0-9_]+)` \|(.*)\|$", prose(ROOT / "docs" / "architecture.md")
    ):
        *flags, fix = [c.strip() for c in cells.split("|")]
        shown[label] = ([f == "yes" for f in flags], bool(fix))
    actual = {
        label: (
            [
                row.transient,
                row.rerun,
                row.account,
                row.ambiguous,
                row.input,
                row.paging,
                row.every_account,
            ],
            row.fix is not None,
        )
        for label, row in LABELS.items()
    }
    assert shown == actual


def _resolves(dotted: str) -> bool:
    """A module, or an attribute of the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


# ---------------------------------------------------------------------------------- the code


@pytest.mark.parametrize("block", blocks("python"), ids=str)
def test_python_blocks_compile_and_their_imports_resolve(block: Block):
    tree = ast.parse(block.code, filename=str(block))
    compile(tree, str(block), "exec", dont_inherit=True)
    unresolved = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            unresolved += [a.name for a in node.names if not _importable(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in NOT_INSTALLED:
                continue
            unresolved += [
                f"{node.module}.{a.name}"
                for a in node.names
                if not _resolves(f"{node.module}.{a.name}")
            ]
    assert unresolved == []


def _importable(module: str) -> bool:
    if module.split(".")[0] in NOT_INSTALLED:
        return True
    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize("block", [b for b in blocks("python") if b.run], ids=str)
def test_python_blocks_run_as_written(block: Block, tmp_path, monkeypatch):
    """Each runs in a fresh folder, with the demo's assets standing in for `my_project.defs`; a
    `test_*` function it defines is then called, as pytest would, with `tmp_path`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CAPTAINDATA_SANDBOX", raising=False)
    _demo_assets_as_my_project(monkeypatch)
    if block.page == README:  # loading definitions makes no HTTP call
        monkeypatch.setattr(requests.Session, "send", _no_http)
    namespace: dict = {"__name__": "docs_example"}
    exec(compile(block.code, str(block), "exec", dont_inherit=True), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and inspect.isfunction(value):
            (tmp_path / name).mkdir()
            value(tmp_path / name)
    for value in namespace.values():
        if isinstance(value, dg.Definitions):
            dg.Definitions.validate_loadable(value)


def _no_http(*args, **kwargs):
    raise AssertionError("an HTTP call while loading definitions")


def _demo_assets_as_my_project(monkeypatch) -> None:
    demo = load_script("definitions.py", "demo_defs")
    project, defs = type(sys)("my_project"), type(sys)("my_project.defs")
    defs.people, defs.profiles = demo.people, demo.profiles  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_project", project)
    monkeypatch.setitem(sys.modules, "my_project.defs", defs)


@pytest.mark.parametrize("block", blocks("yaml"), ids=str)
def test_yaml_blocks_parse(block: Block):
    assert [doc for doc in yaml.safe_load_all(block.code) if doc is not None]


@pytest.mark.parametrize(
    "block", [b for b in blocks("yaml") if b.code.startswith(COMPONENT_TYPE)], ids=str
)
def test_component_examples_build_definitions(block: Block, monkeypatch):
    from dagster.components.testing import create_defs_folder_sandbox

    from captaindata_dagster import CaptainDataActionsComponent

    monkeypatch.delenv("CAPTAINDATA_API_KEY", raising=False)  # read when a step runs
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(
            component_cls=CaptainDataActionsComponent, defs_path="linkedin"
        )
        (path / "defs.yaml").write_text(block.code, encoding="utf-8")
        with sandbox.load_component_and_build_defs(defs_path=path) as (_, defs):
            keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    document = yaml.safe_load(block.code)["attributes"]
    assert {"linkedin_people", "linkedin_people_errors"} <= keys
    assert ("linkedin_profiles" in keys) == ("profiles" in document)
    assert ("linkedin_companies" in keys) == ("companies" in document)


# ---------------------------------------------------------------------------------- generated


def _config_reference_script():
    return load_script("scripts/gen_config_reference.py", "gen_config_reference")


def test_configuration_reference_is_current():
    gen = _config_reference_script()
    assert gen.main(["--check"]) == 0, "run `make docs`"
    rendered = gen.render()
    # every setting a user can write is documented, with its description
    from captaindata_dagster.orchestration import CaptainDataActionsComponent, CaptainDataResource

    for model in (CaptainDataResource, CaptainDataActionsComponent):
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in rendered
            assert field.description, f"{model.__name__}.{name} has no description"
