import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from parsimony import paths  # noqa: E402
from parsimony.claims import Claim  # noqa: E402
from parsimony.io import save_curve, save_figure, save_metrics, save_timings  # noqa: E402


def test_save_metrics_rounds_sorts_and_records_versions(tmp_path):
    m = {"b": np.float32(1 / 3), "a": {"z": np.arange(3), "y": np.float64(2.0000001)}, "c": True}
    path = save_metrics(
        tmp_path, m, paper="P", figure="F", claims=[Claim("t", np.bool_(True), "o")]
    )
    data = json.loads(path.read_text())
    assert data["metrics"] == {"a": {"y": 2.0, "z": [0, 1, 2]}, "b": 0.333333, "c": True}
    assert list(data) == sorted(data) and list(data["metrics"]) == sorted(data["metrics"])
    assert data["claims"] == [
        {
            "asserted": True,
            "holds": True,
            "kind": "paper",
            "note": None,
            "ours": "o",
            "paper": None,
            "text": "t",
        }
    ]
    assert set(data["versions"]) == {"numpy", "scipy", "scikit-learn", "torch"}
    first = path.read_bytes()
    save_metrics(tmp_path, dict(reversed(list(m.items()))), paper="P", figure="F",
                 claims=[Claim("t", True, "o")])  # fmt: skip
    assert path.read_bytes() == first
    assert json.loads(path.read_text())["metrics"]["b"] == 0.333333


def test_save_metrics_bad_input(tmp_path):
    with pytest.raises(TypeError, match="metrics must be a mapping"):
        save_metrics(tmp_path, [1], paper="P", figure="F")
    with pytest.raises(TypeError, match="claims must be Claim"):
        save_metrics(tmp_path, {}, paper="P", figure="F", claims=["x"])
    with pytest.raises(TypeError, match="claims must be a sequence"):
        save_metrics(tmp_path, {}, paper="P", figure="F", claims=Claim("t", True, "o"))
    with pytest.raises(TypeError, match="cannot be saved"):
        save_metrics(tmp_path, {"x": object()}, paper="P", figure="F")


def test_save_figure_is_byte_identical(tmp_path):
    def draw():
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 0, 2], label="a")
        ax.legend()
        return fig

    p1 = [p.read_bytes() for p in save_figure(draw(), tmp_path / "a", "f")]
    p2 = [p.read_bytes() for p in save_figure(draw(), tmp_path / "b", "f")]
    assert p1 == p2
    assert b"Software" not in p1[0] and b"<dc:date>" not in p1[1]


def test_save_curve_and_timings(tmp_path):
    path = save_curve(tmp_path, "c", {"x": [1, 2], "y": [0.1234567891, 2.0]})
    assert path.read_text() == "x,y\n1,0.123457\n2,2\n"
    with pytest.raises(ValueError, match="equal lengths"):
        save_curve(tmp_path, "c", {"x": [1], "y": [1, 2]})
    t = save_timings(tmp_path, {"fit": 1.23456})
    assert json.loads(t.read_text()) == {"fit": 1.23}
    assert not (tmp_path / "metrics.json").exists()


def test_paths(monkeypatch, tmp_path):
    assert (paths.root() / "dvc.yaml").exists()
    monkeypatch.delenv(paths.OUTPUT_ENV, raising=False)
    assert paths.output_dir("x") == paths.results_dir() / ".interactive" / "x"
    monkeypatch.setenv(paths.OUTPUT_ENV, str(tmp_path / "o"))
    assert paths.output_dir("x") == tmp_path / "o" and (tmp_path / "o").is_dir()
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    assert paths.data_dir() == tmp_path / "data"


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "x\\y", 3])
def test_figure_and_curve_names_cannot_escape(tmp_path, name):
    fig, _ = plt.subplots()
    with pytest.raises(ValueError, match="name must be a file stem"):
        save_figure(fig, tmp_path, name)
    with pytest.raises(ValueError, match="name must be a file stem"):
        save_curve(tmp_path, name, {"x": [1]})
    plt.close(fig)
