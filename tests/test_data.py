"""data/ is rebuilt byte for byte from offline sources: its hash matches data.dvc."""

import subprocess
import sys

import numpy as np
import pytest
from parsimony import paths
from parsimony.data import build, load_digits, load_image, load_mnist1d
from ruamel.yaml import YAML


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("fresh")
    build(root / "data", verbose=False)
    return root


def test_build_matches_data_dvc(built):
    dvc = [sys.executable, "-m", "dvc"]
    env_ok = subprocess.run([*dvc, "init", "--no-scm", "-q"], cwd=built, capture_output=True)
    assert env_ok.returncode == 0, env_ok.stderr
    subprocess.run([*dvc, "config", "core.analytics", "false"], cwd=built, check=True)
    res = subprocess.run([*dvc, "add", "-q", "data"], cwd=built, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    yaml = YAML(typ="safe")
    ours = yaml.load((built / "data.dvc").read_text())["outs"][0]
    recorded = yaml.load((paths.root() / "data.dvc").read_text())["outs"][0]
    assert (ours["md5"], ours["nfiles"], ours["size"]) == (
        recorded["md5"],
        recorded["nfiles"],
        recorded["size"],
    ), "data/ no longer builds to the bytes data.dvc records: run `make data && dvc add data`"


def test_loaders(built):
    X, y = load_digits(built / "data")
    assert X.shape == (1797, 64) and y.shape == (1797,) and X.max() == 16
    xtr, ytr, xte, yte = load_mnist1d(built / "data")
    assert (
        xtr.shape == (4000, 40)
        and xte.shape == (1000, 40)
        and set(np.unique(ytr)) == set(range(10))
    )
    assert load_image("camera", built / "data").shape == (512, 512)


def test_loader_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m parsimony.data build"):
        load_digits(tmp_path)
    with pytest.raises(ValueError, match="name must be one of"):
        load_image("lena", tmp_path)
    with pytest.raises(ValueError, match="only must name datasets"):
        build(tmp_path, only=["imagenet"])
