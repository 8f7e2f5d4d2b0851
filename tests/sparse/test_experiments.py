"""Recovery experiments: paired trials, determinism, summaries."""

import numpy as np
import pandas as pd
import pytest
from parsimony.sparse.experiments.graph_recovery import (
    convergence_rate,
    image_summary,
    m_at,
    max_success_gap,
    mean_success,
    paired_iterations,
    paired_medians,
    phase_transition,
    smallest_ratio,
    success_at,
    summarize,
)


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


def _frame():
    """Two methods on two ratios, three paired trials each, hand-made."""
    rows = []
    table = {
        ("a", 2.0): [(True, 2), (False, None), (True, 3)],
        ("a", 3.0): [(True, 1), (True, 2), (True, 2)],
        ("b", 2.0): [(False, None), (False, None), (True, 4)],
        ("b", 3.0): [(True, 3), (True, 2), (True, 2)],
    }
    for (meth, ratio), trials in table.items():
        for t, (ok, it) in enumerate(trials):
            rows.append(
                {
                    "operator": "gaussian",
                    "method": meth,
                    "ratio": ratio,
                    "trial": t,
                    "success": ok,
                    "iters_to_success": float("nan") if it is None else float(it),
                    "n_iter": 5,
                    "seconds": 0.0,
                    "rel_error": 0.0 if ok else 1.0,
                }
            )
    return pd.DataFrame(rows)


def test_claim_statistics_on_a_hand_made_table():
    df = _frame()
    summ = summarize(df)
    assert success_at(summ, "gaussian", "a", 2.0) == pytest.approx(2 / 3)
    assert np.isnan(success_at(summ, "gaussian", "a", 9.0))
    assert m_at(summ, "gaussian", "a", 0.9) == 3.0
    assert m_at(summ, "gaussian", "b", 0.5) == 3.0
    assert m_at(summ, "gaussian", "b", 1.1) == float("inf")
    assert max_success_gap(df, "a", "b") == pytest.approx(1 / 3)
    # paired: b on its first two trials only is compared with a on those two
    sub = df[(df.method == "a") | (df.trial < 2)]
    assert max_success_gap(sub, "a", "b") == pytest.approx(1 / 2)
    assert mean_success(df, "a", "b") == (pytest.approx(5 / 6), pytest.approx(4 / 6), 6)
    # both recover: (2.0, 2) -> a 3 vs b 4; (3.0, 0..2) -> a 1, 2, 2 vs b 3, 2, 2
    ia, ib = paired_iterations(df, "a", "b")
    assert sorted(ia.tolist()) == [1, 2, 2, 3] and sorted(ib.tolist()) == [2, 2, 3, 4]
    assert paired_medians(df, "a", "b") == (2.0, 2.5, 4)
    assert paired_medians(df[df.method == "a"], "a", "b")[2] == 0
    with pytest.raises(ValueError, match="share"):
        max_success_gap(df, "a", "c")


def test_convergence_rate():
    e = 0.5 ** np.arange(10)
    assert convergence_rate(e) == pytest.approx(0.5)
    assert convergence_rate(np.r_[e, [1e-30, 1e-31]]) == pytest.approx(0.5)  # plateau dropped
    assert np.isnan(convergence_rate([1.0]))


def test_image_statistics():
    df = _frame().drop(columns=["operator"])
    summ = image_summary(df)
    assert set(summ.columns) == {"method", "ratio", "rel_error", "success"}
    assert smallest_ratio(summ, "a") == 2.0  # median error of (0, 1, 0) is 0
    assert smallest_ratio(summ, "b") == 3.0
    assert smallest_ratio(summ, "c") == float("inf")
