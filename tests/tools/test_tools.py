"""The user-facing tools: the stage launcher and the notebook clean filter."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(
    p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nbclean = _load("nbclean")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_clean_keeps_committed_bytes(path):
    """The filter maps every committed notebook to itself (no stage goes stale)."""
    rel = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    assert nbclean.clean(text, rel) == text


def _as_jupyterlab_saves(text: str) -> str:
    nb = nbformat.reads(text, as_version=4)
    nb.metadata["kernelspec"]["display_name"] = "Python 3 (ipykernel)"
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.2", "mimetype": "x"}
    nb.metadata["widgets"] = {"state": {}}
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = i + 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="out\n")]
        cell.metadata.update(scrolled=True, execution={"iopub.status.idle": "t"})
    return nbformat.writes(nb)


@pytest.mark.parametrize("path", NOTEBOOKS[:3], ids=lambda p: p.name)
def test_clean_undoes_what_jupyterlab_writes(path):
    rel = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    assert nbclean.clean(_as_jupyterlab_saves(text), rel) == text


def test_pre_save_hook_writes_committed_form():
    path = NOTEBOOKS[0]
    rel = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    model = {"type": "notebook", "content": json.loads(_as_jupyterlab_saves(text))}
    nbclean.pre_save(model=model, path=rel, contents_manager=None)
    # the server writes with nbformat.write: the JSON and a final newline
    assert nbformat.writes(nbformat.from_dict(model["content"])) + "\n" == text
    other = {"type": "file", "content": "x"}
    nbclean.pre_save(model=other, path="a.txt")
    assert other["content"] == "x"


def test_new_notebook_gets_project_kernelspec():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nb.metadata["kernelspec"] = {"display_name": "X", "language": "python", "name": "x"}
    nb.metadata["language_info"] = {"name": "python"}
    out = nbformat.reads(nbclean.clean(nbformat.writes(nb), None), as_version=4)
    assert out.metadata == {"kernelspec": nbclean.KERNEL_KEYS["kernelspec"]}


def test_filter_passes_non_notebooks_through():
    for data in (b"", b"<<<<<<< HEAD\n{", b"[1, 2]"):
        out = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "nbclean.py"), "x.ipynb"],
            input=data, capture_output=True, check=True, cwd=ROOT,
        ).stdout  # fmt: skip
        assert out == data


def _run_launcher(launcher: Path, env: dict | None = None) -> list[str]:
    code = "import os, sys; print(sys.executable); print(os.environ['PYTHONPATH'])"
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/")}
    out = subprocess.run(
        [str(launcher), "-c", code], env={**base, **(env or {})}, cwd="/",
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.splitlines()


def test_launcher_puts_checkout_lib_first():
    exe, pythonpath = _run_launcher(ROOT / "tools" / "python", {"PYTHONPATH": "/elsewhere"})
    assert pythonpath.split(":") == [str(ROOT / "lib"), "/elsewhere"]
    venv = ROOT / ".venv" / "bin" / "python"
    if venv.exists():
        assert exe == str(venv)


def test_launcher_finds_workspace_venv_from_an_experiment_copy(tmp_path):
    workspace = tmp_path / "ws"
    (workspace / ".venv" / "bin").mkdir(parents=True)
    (workspace / ".venv" / "bin" / "python").symlink_to(sys.executable)
    copy = workspace / ".dvc" / "tmp" / "exps" / "tmpabc"
    (copy / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / "python", copy / "tools" / "python")
    exe, pythonpath = _run_launcher(copy / "tools" / "python")
    assert exe == str(workspace / ".venv" / "bin" / "python")
    assert pythonpath == str(copy / "lib")


def test_launcher_honours_parsimony_python(tmp_path):
    exe, _ = _run_launcher(ROOT / "tools" / "python", {"PARSIMONY_PYTHON": sys.executable})
    assert exe == sys.executable
