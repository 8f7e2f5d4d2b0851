"""A stage's bytes do not depend on the calling shell's thread settings.

The runner pins the thread count and CPU kernels of every stage
(:mod:`parsimony.determinism`). This test runs one PyTorch stage at its quick defaults
twice, once with ``OMP_NUM_THREADS=1`` and once with ``OMP_NUM_THREADS=2`` (and matching
MKL/OpenBLAS settings) in the calling shell, in a scratch copy of the project layout, and
compares ``metrics.json`` and every file under ``plots/`` byte for byte.
"""

import os
import subprocess
import sys

import pytest
from parsimony import paths

ROOT = paths.root()
STAGE = "datafree_similarity"  # a PyTorch stage (training and generation) quick at its defaults


def _scratch_project(tmp_path):
    """dvc.yaml with the one stage, an empty params section (quick defaults), links to the rest."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    stage = yaml.load((ROOT / "dvc.yaml").read_text())["stages"][STAGE]
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text("")
    (root / "dvc.yaml").write_text(
        f"stages:\n  {STAGE}:\n    cmd: {stage['cmd']}\n    deps:\n"
        + "".join(f"      - {d}\n" for d in stage["deps"])
    )
    (root / "params.yaml").write_text("{}\n")
    for name in ("notebooks", "data", "lib"):
        (root / name).symlink_to(ROOT / name)
    return root


def _run(root, threads: int) -> dict:
    env = dict(os.environ, PARSIMONY_ROOT=str(root))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(threads)
    env.pop("PARSIMONY_STAGE", None)
    subprocess.run(
        [sys.executable, "-m", "parsimony.runner", STAGE, "--no-progress"],
        env=env,
        cwd=root,
        check=True,
        capture_output=True,
    )
    out = root / "results" / STAGE
    files = [out / "metrics.json", *sorted((out / "plots").rglob("*"))]
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in files if p.is_file()}


@pytest.mark.skipif(not (ROOT / "data").exists(), reason="data/ not built (make data)")
def test_stage_bytes_do_not_depend_on_the_callers_threads(tmp_path):
    root = _scratch_project(tmp_path)
    one = _run(root, 1)
    two = _run(root, 2)
    assert set(one) == set(two) and "metrics.json" in one
    differ = sorted(name for name in one if one[name] != two[name])
    assert not differ, f"{STAGE}: these files differ between OMP_NUM_THREADS=1 and 2: {differ}"
