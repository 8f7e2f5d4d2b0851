"""Project consistency: notebooks, stages, params, environment.yml (enforced by CI)."""

import re
import tomllib

import nbformat
import pytest
from parsimony import paths
from parsimony.runner import declared_parameters
from ruamel.yaml import YAML

ROOT = paths.root()
YAML_ = YAML(typ="safe", pure=True)
DVC = YAML_.load((ROOT / "dvc.yaml").read_text())["stages"]
PARAMS = YAML_.load((ROOT / "params.yaml").read_text()) or {}
NOTEBOOKS = sorted(
    p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)


def stages_of(nb):
    rel = nb.relative_to(ROOT).as_posix()
    return [name for name, st in DVC.items() if rel in (st.get("deps") or [])]


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_anatomy(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{nb_path.name}: needs exactly one cell tagged 'parameters'"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), (
        f"{nb_path.name} is committed with outputs: strip them (nbstripout)"
    )
    assert code[-1].source.strip().startswith("check(claims)"), (
        f"{nb_path.name}: the last cell must be `check(claims)` (parsimony.claims), which "
        "asserts the expected claims at params.yaml scale"
    )
    long = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and len(c.source.splitlines()) > 40
    ]
    assert not long, f"{nb_path.name}: cells {long} are over 40 lines; move logic into the library"
    assert "paper card" not in "".join(c.source for c in nb.cells if c.cell_type == "markdown"), (
        f"{nb_path.name}: link the paper (DOI or arXiv), not an internal card"
    )
    stages = stages_of(nb_path)
    assert len(stages) == 1, f"{nb_path.name}: expected one dvc.yaml stage, found {stages}"
    stage = stages[0]
    assert DVC[stage]["cmd"] == f"tools/python -m parsimony.runner {stage}"
    section = PARAMS.get(stage) or {}
    undeclared = set(section) - set(declared_parameters(nb_path))
    assert not undeclared, f"params.yaml[{stage}] keys {sorted(undeclared)} not in {nb_path.name}"
    assert f"results/{stage}/metrics.json" in (DVC["report"].get("deps") or [])


def test_environment_yml_in_step_with_pyproject():
    env = YAML_.load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip = [d for d in deps if isinstance(d, dict)]
    plain = [d for d in deps if not isinstance(d, dict)]
    assert sorted(plain) == ["pip", "python=3.11"], "environment.yml: only python and pip"
    assert pip == [{"pip": ["-e .[dev]"]}], "environment.yml installs the package, nothing else"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert re.match(r">=3\.(1[01])", project["requires-python"])
    assert "dev" in project["optional-dependencies"]
    assert "torch==2.13.0" in project["dependencies"]


def test_nbstripout_keeps_parameters_tag(tmp_path):
    import subprocess
    import sys

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x: int = 1  # a parameter")
    cell.metadata["tags"] = ["parameters"]
    cell.outputs = [nbformat.v4.new_output("stream", text="noise")]
    cell.execution_count = 3
    nb.cells.append(cell)
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    subprocess.run([sys.executable, "-m", "nbstripout", str(path)], check=True)
    stripped = nbformat.read(path, as_version=4).cells[0]
    assert stripped.metadata.get("tags") == ["parameters"]
    assert stripped.outputs == [] and stripped.execution_count is None
