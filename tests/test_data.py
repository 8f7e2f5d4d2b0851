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


def test_manifest_matches_a_fresh_build(built):
    from parsimony.data.manifest import EXPECTED, verify

    assert sorted(str(p.relative_to(built / "data")) for p in (built / "data").rglob("*.npy")) == (
        sorted(EXPECTED)
    )
    assert verify(built / "data") == []


def test_a_damaged_file_is_refused_by_name(built, tmp_path):
    import shutil

    from parsimony.data.manifest import CorruptDataError

    data = tmp_path / "data"
    shutil.copytree(built / "data", data)
    path = data / "digits" / "X.npy"
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1  # one flipped bit in the last pixel
    path.write_bytes(bytes(blob))
    with pytest.raises(CorruptDataError, match=r"digits/X\.npy is corrupt.*parsimony\.data build"):
        load_digits(data)
    # a swapped file (the test labels in place of the train labels) is refused too
    shutil.copy(data / "mnist1d" / "y_test.npy", data / "mnist1d" / "y_train.npy")
    with pytest.raises(CorruptDataError, match=r"y_train\.npy"):
        load_mnist1d(data)


def test_verify_command_reports_problems(built, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(built / "data", data)
    cmd = [sys.executable, "-m", "parsimony.data", "verify", "--dir", str(data)]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    (data / "images" / "camera.npy").unlink()
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 1 and "camera.npy is missing" in res.stdout


def test_check_array_refuses_wrong_shape_or_dtype(tmp_path):
    from parsimony.data.manifest import CorruptDataError, check_array

    with pytest.raises(CorruptDataError, match="expected"):
        check_array(np.zeros((10, 64), np.uint8), "digits/X.npy", tmp_path / "X.npy")
    with pytest.raises(CorruptDataError, match="dtype"):
        check_array(np.zeros((1797, 64), np.float32), "digits/X.npy", tmp_path / "X.npy")
