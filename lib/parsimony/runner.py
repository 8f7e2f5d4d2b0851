"""``python -m parsimony.runner STAGE``: run one notebook stage of ``dvc.yaml``.

1. Find the stage in ``dvc.yaml`` and its notebook (the dependency under ``notebooks/``
   ending in ``.ipynb``): ``dvc.yaml`` is the one place that maps stages to notebooks.
2. Read ``params.yaml[STAGE]`` as DVC does (ruamel, YAML 1.2: ``1.0e-3`` and ``1e-3`` are
   floats) and refuse any key that the notebook's ``parameters`` cell does not declare.
3. Execute the notebook with papermill (kernel ``python3``, the notebook's folder as the
   working directory, a progress bar) into a temporary folder, with
   ``PARSIMONY_OUTPUT_DIR`` pointing there so that ``parsimony.paths.output_dir`` writes
   metrics and figures next to the executed notebook.
4. On success, replace ``results/STAGE/`` by that folder in one rename. On failure, keep
   the executed notebook in ``results/.failed/STAGE.ipynb`` for debugging, leave
   ``results/STAGE/`` without a half-written ``metrics.json``, and exit non-zero.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ruamel.yaml import YAML

from parsimony import paths

EXECUTED_NAME = "executed.ipynb"


class StageError(ValueError):
    """A stage, its notebook or its parameters are inconsistent."""


def _load_yaml(path: Path):
    yaml = YAML(typ="safe", pure=True)  # YAML 1.2, as DVC reads params
    with open(path) as fh:
        return yaml.load(fh) or {}


def stage_notebook(stage: str, root: Path | None = None) -> Path:
    """The notebook that ``stage`` runs, read from the stage's deps in ``dvc.yaml``."""
    root = Path(root) if root else paths.root()
    stages = _load_yaml(root / "dvc.yaml").get("stages", {})
    if stage not in stages:
        raise StageError(f"stage {stage!r} is not in {root / 'dvc.yaml'}")
    deps = stages[stage].get("deps", []) or []
    notebooks = [d for d in deps if str(d).startswith("notebooks/") and str(d).endswith(".ipynb")]
    if len(notebooks) != 1:
        raise StageError(
            f"stage {stage!r} must list exactly one notebooks/*.ipynb in its deps, got {notebooks}"
        )
    return root / notebooks[0]


def stage_params(stage: str, root: Path | None = None) -> dict:
    """``params.yaml[stage]`` with YAML 1.2 semantics (an empty dict if absent)."""
    root = Path(root) if root else paths.root()
    params_file = root / "params.yaml"
    section = _load_yaml(params_file).get(stage, {}) if params_file.exists() else {}
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise StageError(f"params.yaml[{stage!r}] must be a mapping, got {type(section).__name__}")
    return dict(section)


def declared_parameters(notebook: Path) -> dict:
    """The names declared in the notebook's ``parameters`` cell, with their inferred types."""
    import nbformat
    import papermill

    nb = nbformat.read(notebook, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise StageError(
            f"{notebook} must have exactly one cell tagged 'parameters', has {len(tagged)}"
        )
    return papermill.inspect_notebook(str(notebook))


def check_parameters(params: dict, notebook: Path) -> None:
    """Raise :class:`StageError` naming every key the notebook does not declare."""
    declared = declared_parameters(notebook)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise StageError(
            f"params.yaml key(s) {unknown} are not declared in the parameters cell of "
            f"{notebook} (it declares {sorted(declared)})"
        )


def run_stage(stage: str, root: Path | None = None, *, progress: bool = True) -> Path:
    """Run ``stage`` and return ``results/STAGE``; see the module docstring."""
    import papermill

    root = Path(root) if root else paths.root()
    notebook = stage_notebook(stage, root)
    if not notebook.exists():
        raise StageError(f"stage {stage!r}: notebook {notebook} does not exist")
    params = stage_params(stage, root)
    check_parameters(params, notebook)

    results = root / "results"
    results.mkdir(exist_ok=True)
    final = results / stage
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{stage}-", dir=results))
    executed = tmp / EXECUTED_NAME
    old_env = {k: os.environ.get(k) for k in (paths.OUTPUT_ENV, paths.ROOT_ENV)}
    os.environ[paths.OUTPUT_ENV] = str(tmp)
    os.environ[paths.ROOT_ENV] = str(root)
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=params,
            kernel_name="python3",
            cwd=str(notebook.parent),
            progress_bar=progress,
            report_mode=False,
        )
    except BaseException:
        failed = results / ".failed"
        failed.mkdir(exist_ok=True)
        if executed.exists():
            shutil.move(str(executed), failed / f"{stage}.ipynb")
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        for key, value in old_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if not (tmp / "metrics.json").exists():
        shutil.rmtree(tmp, ignore_errors=True)
        raise StageError(f"stage {stage!r}: {notebook.name} ran but wrote no metrics.json")
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m parsimony.runner", description=__doc__.split("\n")[0]
    )
    parser.add_argument("stage", help="a stage name from dvc.yaml")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        out = run_stage(args.stage, progress=not args.no_progress)
    except StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # papermill's execution error: the cell and traceback
        print(f"error: stage {args.stage!r} failed: {exc}", file=sys.stderr)
        print(f"the executed notebook is in results/.failed/{args.stage}.ipynb", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
