"""Time every notebook at its quick defaults, as JupyterLab and nbval run it.

``make check-defaults`` (or ``python tools/check_defaults.py [NOTEBOOK ...]``) executes each
notebook under ``notebooks/`` with papermill at its ``parameters`` cell's defaults, one at a
time, with the stages' environment (:func:`parsimony.determinism.stage_environment`: one
thread, pinned CPU kernels) but without ``PARSIMONY_STAGE`` (claims are printed, not
asserted), writing into a temporary folder (``results/`` is not touched). It prints the
seconds each took and lists those over the budget (30 s, ``--budget``); the exit status is
1 when one is over budget or fails. Timings are not tests: this is not part of ``make test``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BUDGET_S = 30.0


def notebooks(root: Path, selected: list[str]) -> list[Path]:
    """The notebooks to time: ``selected`` (paths), else every ``notebooks/**/*.ipynb``."""
    if selected:
        return [Path(p).resolve() for p in selected]
    return sorted(
        p for p in (root / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )


def time_notebook(notebook: Path, root: Path) -> tuple[float, str | None]:
    """Run ``notebook`` at its defaults; return (seconds, error message or None)."""
    import papermill
    from parsimony import claims, determinism, paths

    with tempfile.TemporaryDirectory(prefix="check-defaults-") as tmp:
        env = determinism.stage_environment()
        env.update({paths.OUTPUT_ENV: tmp, paths.ROOT_ENV: str(root)})
        saved = {k: os.environ.get(k) for k in [*env, claims.STAGE_ENV]}
        os.environ.update(env)
        os.environ.pop(claims.STAGE_ENV, None)
        start = time.perf_counter()
        error = None
        try:
            papermill.execute_notebook(
                str(notebook),
                str(Path(tmp) / "executed.ipynb"),
                kernel_name="python3",
                cwd=str(notebook.parent),
                progress_bar=False,
            )
        except Exception as exc:  # the cell's error, reported in the table
            error = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        finally:
            seconds = time.perf_counter() - start
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return seconds, error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook", nargs="*", help="notebooks to time (default: all)")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds (default 30)")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    over, failed = [], []
    for nb in notebooks(root, args.notebook):
        seconds, error = time_notebook(nb, root)
        name = nb.relative_to(root) if nb.is_relative_to(root) else nb
        status = "FAILED" if error else ("OVER" if seconds > args.budget else "ok")
        print(
            f"{seconds:7.1f} s  {status:6}  {name}" + (f"  ({error})" if error else ""), flush=True
        )
        if error:
            failed.append(name)
        elif seconds > args.budget:
            over.append((name, seconds))
    print(
        f"\nbudget {args.budget:.0f} s at the defaults (1 thread, papermill, kernel start included)"
    )
    for name, seconds in over:
        print(f"over budget: {name} ({seconds:.1f} s)")
    for name in failed:
        print(f"failed: {name}")
    if not over and not failed:
        print("every notebook is within budget")
    return 1 if over or failed else 0


if __name__ == "__main__":
    sys.exit(main())
