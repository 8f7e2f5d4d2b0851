"""The committed results are current and honest (enforced by CI).

* ``dvc.lock`` records, for every stage, the md5 of each dependency and the params the
  committed results were made from: recomputing them here must give the same values, or
  the results on main do not come from the code on main (run ``dvc repro STAGE``).
* Every stage's deps cover the library modules its notebook imports, directly or through
  other modules, so that the lock check above sees every change that can move a result.
* Every claim a committed ``metrics.json`` marks as asserted holds, and every claim
  carries its kind.
"""

import hashlib
import json

import pytest
from parsimony import paths
from parsimony.runner import library_deps, stage_notebook
from ruamel.yaml import YAML

ROOT = paths.root()
YAML_ = YAML(typ="safe", pure=True)
DVC = YAML_.load((ROOT / "dvc.yaml").read_text())["stages"]
LOCK = (YAML_.load((ROOT / "dvc.lock").read_text()) or {}).get("stages", {})
PARAMS = YAML_.load((ROOT / "params.yaml").read_text()) or {}
NOTEBOOK_STAGES = sorted(s for s, st in DVC.items() if "parsimony.runner" in st["cmd"])


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("stage", sorted(DVC))
def test_lock_is_current(stage):
    assert stage in LOCK, f"stage {stage!r} has never been run: `dvc repro {stage}`"
    locked = {d["path"]: d.get("md5") for d in LOCK[stage].get("deps", [])}
    declared = [str(d) for d in DVC[stage].get("deps", [])]
    assert sorted(locked) == sorted(declared), (
        f"stage {stage!r}: dvc.lock's deps differ from dvc.yaml's; `dvc repro {stage}`"
    )
    stale = [p for p in declared if (ROOT / p).is_file() and md5(ROOT / p) != locked[p]]
    assert not stale, (
        f"stage {stage!r} is stale, changed since its run: {stale}; `dvc repro {stage}`"
    )
    for section in DVC[stage].get("params", []) or []:
        locked_params = LOCK[stage].get("params", {}).get("params.yaml", {}).get(section)
        assert locked_params == PARAMS.get(section), (
            f"stage {stage!r}: params.yaml[{section!r}] changed since its run; `dvc repro {stage}`"
        )


@pytest.mark.parametrize("stage", NOTEBOOK_STAGES)
def test_deps_cover_every_imported_module(stage):
    deps = {str(d) for d in DVC[stage]["deps"]}
    needed = set(library_deps(stage_notebook(stage, ROOT), ROOT))
    missing = sorted(needed - deps)
    assert not missing, (
        f"stage {stage!r}: add these library files to its deps: {missing} "
        f"(`python -m parsimony.runner --deps {stage}` prints the full list)"
    )


@pytest.mark.parametrize("stage", NOTEBOOK_STAGES)
def test_committed_asserted_claims_hold(stage):
    path = ROOT / "results" / stage / "metrics.json"
    assert path.exists(), f"{path} is missing: `dvc repro {stage}`"
    data = json.loads(path.read_text())
    claims = data.get("claims") or []
    assert claims, f"stage {stage!r} records no claim"
    for c in claims:
        assert c.get("kind") in ("paper", "ours", "sanity"), f"{stage}: claim without kind: {c}"
        assert c["holds"] or not c["asserted"], f"{stage}: asserted claim does not hold: {c}"
