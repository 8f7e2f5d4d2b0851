"""The runner: params as DVC reads them, refused keys, papermill execution, atomic results."""

import json
import sys
import textwrap

import nbformat
import pytest
from parsimony import runner

NOTEBOOK_CELLS = [
    (
        "code",
        "import os\nfrom pathlib import Path\nfrom parsimony.claims import Claim, check\nfrom parsimony.io import save_metrics\nfrom parsimony.paths import output_dir",
    ),
    (
        "params",
        "lr: float = 0.1  # learning rate\neps: float = 0.5  # tolerance\nfail: bool = False  # fail after writing metrics\nholds: bool = True  # whether the expected claim holds",
    ),
    (
        "code",
        textwrap.dedent("""\
        out = output_dir("demo")
        claims = [Claim("x", holds, "1")]
        save_metrics(out, {"lr": lr, "eps": eps, "lr_type": type(lr).__name__,
                           "cwd": Path.cwd().name},
                     paper="P", figure="F", claims=claims)
        env = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "PARSIMONY_STAGE")}
        (out / "env.txt").write_text(repr(env))
        import matplotlib; matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from parsimony.io import save_curve, save_figure
        fig, ax = plt.subplots(); ax.plot([0, 1], [lr, eps])
        save_figure(fig, out, "line"); save_curve(out, "line", {"x": [0, 1], "y": [lr, eps]})"""),
    ),
    ("code", "assert not fail, 'asked to fail'\ncheck(claims)"),
]


def make_notebook(path, cells=NOTEBOOK_CELLS):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for kind, src in cells:
        cell = nbformat.v4.new_code_cell(src)
        if kind == "params":
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "dvc.yaml").write_text(
        textwrap.dedent("""\
        stages:
          demo:
            cmd: python -m parsimony.runner demo
            deps:
              - notebooks/sub/demo.ipynb
              - lib/parsimony/io.py
            params:
              - demo
        """)
    )
    (tmp_path / "params.yaml").write_text("demo:\n  lr: 1.0e-3\n  eps: 1e-3\n")
    make_notebook(tmp_path / "notebooks" / "sub" / "demo.ipynb")
    return tmp_path


def test_params_are_read_as_yaml_1_2(project):
    params = runner.stage_params("demo", project)
    assert params == {"lr": 1.0e-3, "eps": 1e-3}
    assert all(isinstance(v, float) for v in params.values())


def test_run_writes_results(project):
    out = runner.run_stage("demo", project, progress=False)
    assert out == project / "results" / "demo"
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics == {"lr": 0.001, "eps": 0.001, "lr_type": "float", "cwd": "sub"}
    # the kernel ran with the pinned thread count and knew it was the verdict scale
    assert eval((out / "env.txt").read_text()) == {
        "OMP_NUM_THREADS": "1",
        "PARSIMONY_STAGE": "demo",
    }
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["determinism"]["threads"] == 1
    assert saved["determinism"]["ATEN_CPU_CAPABILITY"] == "avx2"
    assert (out / runner.EXECUTED_NAME).exists()
    for name in ("line.png", "line.svg", "line.csv"):
        assert (out / "plots" / name).exists()
    # re-running gives byte-identical metrics and figures
    before = {p.name: p.read_bytes() for p in [out / "metrics.json", *(out / "plots").iterdir()]}
    runner.run_stage("demo", project, progress=False)
    after = {p.name: p.read_bytes() for p in [out / "metrics.json", *(out / "plots").iterdir()]}
    assert before == after


def test_unknown_key_is_refused(project):
    (project / "params.yaml").write_text("demo:\n  lr: 0.1\n  n_epochs: 3\n")
    with pytest.raises(runner.StageError, match=r"\['n_epochs'\].*demo\.ipynb"):
        runner.run_stage("demo", project, progress=False)
    assert not (project / "results" / "demo").exists()


def test_failing_notebook_leaves_no_metrics(project):
    (project / "params.yaml").write_text("demo:\n  fail: true\n")
    with pytest.raises(Exception, match="asked to fail"):
        runner.run_stage("demo", project, progress=False)
    assert not (project / "results" / "demo").exists()
    assert (project / "results" / ".failed" / "demo.ipynb").exists()
    assert not list((project / "results").glob(".tmp-*"))


def test_failure_keeps_previous_complete_results(project):
    runner.run_stage("demo", project, progress=False)
    good = (project / "results" / "demo" / "metrics.json").read_bytes()
    (project / "params.yaml").write_text("demo:\n  fail: true\n  lr: 5.0\n")
    with pytest.raises(Exception, match="asked to fail"):
        runner.run_stage("demo", project, progress=False)
    assert (project / "results" / "demo" / "metrics.json").read_bytes() == good


def test_stage_errors(project):
    with pytest.raises(runner.StageError, match="'nope' is not in"):
        runner.stage_notebook("nope", project)
    make_notebook(project / "notebooks" / "sub" / "demo.ipynb", [("code", "x = 1")])
    with pytest.raises(runner.StageError, match="exactly one cell tagged 'parameters'"):
        runner.run_stage("demo", project, progress=False)


def test_main_exit_codes(project, monkeypatch, capsys):
    monkeypatch.setenv("PARSIMONY_ROOT", str(project))
    (project / "params.yaml").write_text("demo:\n  bogus: 1\n")
    assert runner.main(["demo", "--no-progress"]) == 2
    assert "bogus" in capsys.readouterr().err
    (project / "params.yaml").write_text("demo:\n  fail: true\n")
    assert runner.main(["demo", "--no-progress"]) == 1
    assert sys.modules["parsimony.runner"] is runner


def test_expected_claim_failing_fails_the_stage(project):
    (project / "params.yaml").write_text("demo:\n  holds: false\n")
    with pytest.raises(Exception, match="ClaimError"):
        runner.run_stage("demo", project, progress=False)
    assert not (project / "results" / "demo").exists()


def test_missing_params_section_is_an_error(project):
    (project / "params.yaml").write_text("dmeo:\n  lr: 0.1\n")
    with pytest.raises(runner.StageError, match="has no section 'demo'"):
        runner.run_stage("demo", project, progress=False)


def test_lock_held_is_a_clear_error(project):
    import fcntl

    locks = project / "results" / ".locks"
    locks.mkdir(parents=True)
    with open(locks / "demo.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(runner.StageError, match="already running"):
            runner.run_stage("demo", project, progress=False)


def test_killed_run_leftovers_are_recovered(project):
    runner.run_stage("demo", project, progress=False)
    results = project / "results"
    good = (results / "demo" / "metrics.json").read_bytes()
    # a kill between "old aside" and "new in": the old folder is restored, temporaries removed
    (results / "demo").rename(results / ".old-demo")
    (results / ".tmp-demo-zzz").mkdir()
    runner._recover(results, "demo")
    assert (results / "demo" / "metrics.json").read_bytes() == good
    assert not list(results.glob(".tmp-demo-*")) and not (results / ".old-demo").exists()


def test_install_swaps_whole_folders(tmp_path):
    final, new = tmp_path / "stage", tmp_path / "new"
    final.mkdir()
    (final / "a").write_text("old")
    new.mkdir()
    (new / "a").write_text("new")
    runner._install(new, final)
    assert (final / "a").read_text() == "new" and not new.exists()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    runner._install(fresh, tmp_path / "missing")
    assert (tmp_path / "missing").is_dir()


def test_root_is_the_clone_of_the_working_directory(tmp_path, monkeypatch):
    from parsimony import paths

    clone = tmp_path / "clone"
    (clone / "notebooks").mkdir(parents=True)
    (clone / "dvc.yaml").write_text("stages: {}\n")
    (clone / "pyproject.toml").write_text("")
    monkeypatch.delenv("PARSIMONY_ROOT", raising=False)
    monkeypatch.chdir(clone / "notebooks")
    assert paths.root() == clone.resolve()
