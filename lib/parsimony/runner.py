"""``python -m parsimony.runner STAGE``: run one notebook stage of ``dvc.yaml``.

1. Find the repository: the folder holding ``dvc.yaml`` at or above the working directory
   (or ``PARSIMONY_ROOT``), never the clone the package happens to be installed from.
2. Find the stage in ``dvc.yaml`` and its notebook (the dependency under ``notebooks/``
   ending in ``.ipynb``): ``dvc.yaml`` is the one place that maps stages to notebooks.
3. Read ``params.yaml[STAGE]`` as DVC does (ruamel, YAML 1.2: ``1.0e-3`` and ``1e-3`` are
   floats); a stage that lists params in ``dvc.yaml`` must have its section, and every key
   must be declared by the notebook's ``parameters`` cell.
4. Take the stage's lock (``results/.locks/STAGE.lock``; a second run of the same stage
   stops with a clear message) and remove temporaries that a killed run left behind.
5. Execute the notebook with papermill (kernel ``python3``, the notebook's folder as the
   working directory) into a temporary folder ``results/.tmp-STAGE-*``, with the
   environment of :func:`parsimony.determinism.stage_environment` (fixed threads, pinned
   CPU kernels), ``PARSIMONY_STAGE`` set (the notebook's claims are asserted) and
   ``PARSIMONY_OUTPUT_DIR`` pointing at the temporary folder.
6. On success, swap the temporary folder with ``results/STAGE/`` in one atomic
   ``renameat2(RENAME_EXCHANGE)`` (Linux), then delete the old results. Where the exchange
   is not available, the old folder is renamed aside first and the next run restores it if
   a kill came between the two renames. Either way a kill at any moment leaves the old or
   the new ``results/STAGE/``, whole. On failure the executed notebook is kept in
   ``results/.failed/STAGE.ipynb`` and ``results/STAGE/`` is untouched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ruamel.yaml import YAML

from parsimony import claims, determinism, paths

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
    """``params.yaml[stage]`` with YAML 1.2 semantics.

    A stage that lists params in ``dvc.yaml`` must have its section in ``params.yaml`` (a
    misspelt or missing section would silently run the notebook at its quick defaults); a
    stage that lists none gets an empty dict.
    """
    root = Path(root) if root else paths.root()
    stages = _load_yaml(root / "dvc.yaml").get("stages", {})
    declared = (stages.get(stage) or {}).get("params") or []
    params_file = root / "params.yaml"
    all_params = _load_yaml(params_file) if params_file.exists() else {}
    if stage not in all_params:
        if declared:
            raise StageError(
                f"stage {stage!r} lists params in dvc.yaml but {params_file} has no "
                f"section {stage!r}"
            )
        return {}
    section = all_params[stage]
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


def _module_file(root: Path, name: str) -> Path | None:
    """The file of module ``parsimony.x.y`` under ``root/lib`` (a package's ``__init__``)."""
    base = root / "lib" / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(root: Path, source: str, package: str = "") -> set[str]:
    """The ``parsimony`` modules ``source`` imports (``from a import b``: ``a`` and ``a.b``)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative import
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            found |= {mod} | {f"{mod}.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("parsimony") and _module_file(root, m)}


def library_deps(notebook: Path, root: Path | None = None) -> list[str]:
    """Every library file a stage's results can depend on, relative to ``root``.

    The modules the notebook's code cells import, followed through the library's own
    imports (parent packages included, since importing ``a.b`` runs ``a/__init__.py``),
    plus what the runner itself imports. ``python -m parsimony.runner --deps STAGE`` prints
    them; a test checks that every stage lists them in ``dvc.yaml``.
    """
    import nbformat

    root = Path(root) if root else paths.root()
    nb = nbformat.read(notebook, as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    todo = list(_imports(root, source) | _imports(root, "import parsimony.runner"))
    seen: set[str] = set()
    while todo:
        mod = todo.pop()
        if mod in seen:
            continue
        seen.add(mod)
        parts = mod.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        path = _module_file(root, mod)
        package = mod if path.name == "__init__.py" else ".".join(parts[:-1])
        todo += list(_imports(root, path.read_text(), package))
    return sorted(_module_file(root, m).relative_to(root).as_posix() for m in seen)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux's ``renameat2(RENAME_EXCHANGE)``; False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    func = getattr(libc, "renameat2", None)
    if func is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return rc == 0


def _install(tmp: Path, final: Path) -> None:
    """Make ``tmp`` the new ``final`` so that a kill at any moment leaves one of them whole."""
    if final.exists() and _exchange(tmp, final):
        shutil.rmtree(tmp)  # now holds the old results
        return
    aside = final.with_name(f".old-{final.name}")
    if final.exists():
        if aside.exists():
            shutil.rmtree(aside)
        final.rename(aside)
    tmp.rename(final)
    if aside.exists():
        shutil.rmtree(aside)


def _recover(results: Path, stage: str) -> None:
    """Undo what a killed run left: restore results set aside, delete temporaries."""
    final, aside = results / stage, results / f".old-{stage}"
    if aside.exists():
        if final.exists():
            shutil.rmtree(aside)
        else:
            aside.rename(final)
    for tmp in results.glob(f".tmp-{stage}-*"):
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def stage_lock(results: Path, stage: str):
    """Hold ``results/.locks/STAGE.lock`` (exclusive, non-blocking) for one run."""
    import fcntl

    locks = results / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{stage}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StageError(
                f"stage {stage!r} is already running (lock {locks / (stage + '.lock')} is held); "
                "wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def _environment(values: dict):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
    with stage_lock(results, stage):
        _recover(results, stage)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{stage}-", dir=results))
        executed = tmp / EXECUTED_NAME
        env = determinism.stage_environment()
        env.update({paths.OUTPUT_ENV: str(tmp), paths.ROOT_ENV: str(root), claims.STAGE_ENV: stage})
        try:
            with _environment(env):
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
        if not (tmp / "metrics.json").exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise StageError(f"stage {stage!r}: {notebook.name} ran but wrote no metrics.json")
        _install(tmp, final)
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m parsimony.runner", description=__doc__.split("\n")[0]
    )
    parser.add_argument("stage", help="a stage name from dvc.yaml")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--deps", action="store_true", help="print the library files the stage depends on, and exit"
    )
    args = parser.parse_args(argv)
    if args.deps:
        try:
            notebook = stage_notebook(args.stage)
        except StageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for dep in library_deps(notebook):
            print(f"      - {dep}")
        return 0
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
