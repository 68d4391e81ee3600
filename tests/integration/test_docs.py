"""The README's generated parts and examples are what the code says."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import dagster as dg

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _script():
    spec = importlib.util.spec_from_file_location(
        "gen_config_reference", ROOT / "scripts" / "gen_config_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_configuration_reference_is_current():
    gen = _script()
    assert gen.main(["--check"]) == 0, "run `make docs`"
    rendered = gen.render()
    # every setting a user can write is documented, with its description
    from captaindata_dagster.orchestration.components import CaptainDataActionsComponent
    from captaindata_dagster.orchestration.resource import CaptainDataResource

    for model in (CaptainDataResource, CaptainDataActionsComponent):
        for name, field in model.model_fields.items():
            assert f"| `{field.alias or name}` |" in rendered
            assert field.description, f"{model.__name__}.{name} has no description"


def test_contents_links_point_at_headings():
    slugs = set()
    for heading in re.findall(r"(?m)^#{2,3} (.+)$", README):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")
        slugs.add(slug)
    links = re.findall(r"\]\(#([\w\-]+)\)", README)
    assert links
    assert [link for link in links if link not in slugs] == []


def _code_block_after(marker: str) -> str:
    start = README.index(marker)
    block = re.search(r"```python\n(.*?)```", README[start:], re.S)
    assert block is not None
    return block.group(1)


def test_the_testing_example_runs_as_written(tmp_path, monkeypatch):
    """The README's "Testing your own pipeline" example, with the demo's assets as `my_project`."""
    spec = importlib.util.spec_from_file_location("demo_defs", ROOT / "definitions.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    project = type(sys)("my_project")
    defs = type(sys)("my_project.defs")
    defs.people, defs.profiles = demo.people, demo.profiles
    monkeypatch.setitem(sys.modules, "my_project", project)
    monkeypatch.setitem(sys.modules, "my_project.defs", defs)
    monkeypatch.delenv("CAPTAINDATA_SANDBOX", raising=False)

    code = _code_block_after("## Testing your own pipeline with the simulator")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    test = next(v for k, v in namespace.items() if k.startswith("test_"))
    test(tmp_path)
    assert isinstance(namespace["dg"], type(dg))
