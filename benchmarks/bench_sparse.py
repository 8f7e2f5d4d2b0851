"""Benchmark: our OrthogonalMatchingPursuit against scikit-learn's, same problems, one run.

Problems from ``sklearn.datasets.make_sparse_coded_signal`` (issue 14): a dictionary of
``n`` atoms in dimension ``m`` (unit-norm atoms), ``--targets`` signals of ``k`` atoms
each, plus noise. Both estimators run with the same parameters (``n_nonzero_coefs=k``,
default ``fit_intercept=True`` and ``precompute="auto"``); we report the best of
``--repeats`` fits, whether the supports are the same, and the speed-up (scikit-learn's
time / ours). Also times the head/tail projections (pcst_fast vs the LP + HiGHS rounding)
on a 20 x 20 grid, for the report.

    python benchmarks/bench_sparse.py [--n 4096 --m 1024 --k 64 --targets 4 --repeats 3 --threads 1]
"""

from __future__ import annotations

import argparse
import os

from _timing import best_of


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--m", type=int, default=1024)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--problems", type=int, default=3)
    parser.add_argument("--targets", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before numpy loads its BLAS

    import numpy as np
    from parsimony.sparse import (
        OrthogonalMatchingPursuit,
        adjacency,
        grid_graph,
        lp_project,
        pcst_project,
    )
    from sklearn.datasets import make_sparse_coded_signal
    from sklearn.linear_model import OrthogonalMatchingPursuit as SklearnOMP
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    print(
        f"OMP on make_sparse_coded_signal: n_features={args.n}, n_samples={args.m}, "
        f"k={args.k}, {args.targets} targets, best of {args.repeats}; {args.threads} thread(s), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    ratios = []
    for p in range(args.problems):
        Y, D, _ = make_sparse_coded_signal(
            n_samples=args.targets,
            n_components=args.n,
            n_features=args.m,
            n_nonzero_coefs=args.k,
            random_state=p,
        )
        X, y = D.T, Y.T + 0.01 * np.random.default_rng(p).standard_normal((args.m, args.targets))
        ref = SklearnOMP(n_nonzero_coefs=args.k)
        ours = OrthogonalMatchingPursuit(n_nonzero_coefs=args.k)
        ref_coef, t_ref = best_of(lambda: ref.fit(X, y).coef_.copy(), args.repeats)  # noqa: B023
        our_coef, t_ours = best_of(lambda: ours.fit(X, y).coef_.copy(), args.repeats)  # noqa: B023
        same = np.array_equal(our_coef != 0, ref_coef != 0)
        diff = float(np.max(np.abs(our_coef - ref_coef)))
        ratios.append(t_ref / t_ours)
        print(
            f"  problem {p}: sklearn {t_ref * 1e3:7.1f} ms   ours {t_ours * 1e3:7.1f} ms   "
            f"speed-up {t_ref / t_ours:5.2f}x   same supports: {same}   max |diff| {diff:.1e}"
        )
    print(f"OMP speed-up (sklearn time / ours), median: {np.median(ratios):.2f}x")

    edges = grid_graph(20)
    adj = adjacency(edges, 400)
    b = np.random.default_rng(0).standard_normal(400)
    _, t_pcst = best_of(lambda: pcst_project(b, edges, 20, 1, adj=adj), args.repeats)
    _, t_lp = best_of(lambda: lp_project(b, edges, 20, 1, adj=adj, random_state=0), args.repeats)
    print(
        f"head/tail on a 20x20 grid, s=20: pcst_fast {t_pcst * 1e3:.1f} ms, "
        f"LP + HiGHS + rounding {t_lp * 1e3:.1f} ms ({t_lp / t_pcst:.0f}x slower)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
