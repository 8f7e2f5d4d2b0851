"""Recovery experiments: paired trials, determinism, summaries."""

import pytest
from parsimony.sparse.experiments.graph_recovery import m_at, phase_transition, summarize


def test_phase_transition_deterministic_and_paired():
    kw = dict(
        grid=6,
        s=4,
        ratios=(2.0, 5.0),
        operators=("gaussian", "dct"),
        methods=("cosamp", "graph_cosamp", "lp_cosamp"),
        max_iter=6,
        n_trials={"cosamp": 3, "graph_cosamp": 3, "lp_cosamp": 2},
        random_state=1,
    )
    a = phase_transition(**kw)
    b = phase_transition(**kw)
    cols = ["success", "rel_error", "n_iter", "iters_to_success"]
    assert a[cols].equals(b[cols])
    assert len(a) == 2 * 2 * (3 + 3 + 2)
    summ = summarize(a)
    assert set(summ.n_trials) == {2, 3}
    assert m_at(summ, "gaussian", "cosamp", 0.0) == 2.0
    ok = a[a.success]
    assert len(ok) and (ok.iters_to_success <= ok.n_iter).all()
    # paired: a call with a sub-list of methods and ratios sees the same problems
    c = phase_transition(**{**kw, "ratios": (5.0,), "methods": ("cosamp",), "n_trials": 3})
    sub = a[(a.method == "cosamp") & (a.ratio == 5.0)].reset_index(drop=True)
    assert c[cols].equals(sub[cols])


def test_bad_input():
    with pytest.raises(ValueError, match="methods"):
        phase_transition(methods=("lasso",))
    with pytest.raises(ValueError, match="operators"):
        phase_transition(operators=("fourier",))
