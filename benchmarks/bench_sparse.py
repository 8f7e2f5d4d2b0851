"""Benchmark: our OMP against scikit-learn's OrthogonalMatchingPursuit, same problems, one run.

Target (issue #5): n = 4096, m = 1024, k = 64, Gaussian A; ours at least as fast, same
support. Also times the head/tail projections (pcst_fast vs the LP + HiGHS rounding) on a
20 x 20 grid, for the report.

    python benchmarks/bench_sparse.py [--n 4096 --m 1024 --k 64 --repeats 3 --threads 2]
"""

from __future__ import annotations

import argparse
import os
import time


def _best(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--m", type=int, default=1024)
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--problems", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before numpy loads its BLAS

    import numpy as np
    from parsimony.sparse import (
        GaussianOperator,
        adjacency,
        grid_graph,
        lp_project,
        omp,
        pcst_project,
    )
    from sklearn.linear_model import OrthogonalMatchingPursuit
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    print(
        f"OMP: n={args.n}, m={args.m}, k={args.k}, Gaussian A, best of {args.repeats}; "
        f"{args.threads} threads, load average {os.getloadavg()[0]:.1f}"
    )
    ratios = []
    for p in range(args.problems):
        rng = np.random.default_rng(p)
        A = GaussianOperator(args.m, args.n, random_state=rng)
        x0 = np.zeros(args.n)
        x0[rng.choice(args.n, args.k, replace=False)] = rng.standard_normal(args.k)
        y = A.matvec(x0) + 0.01 * rng.standard_normal(args.m)
        X = A.matrix
        ref = OrthogonalMatchingPursuit(n_nonzero_coefs=args.k, fit_intercept=False)
        ref_coef, t_ref = _best(lambda: ref.fit(X, y).coef_.copy(), args.repeats)  # noqa: B023
        ours, t_ours = _best(lambda: omp(A, y, args.k)[0], args.repeats)  # noqa: B023
        same = np.array_equal(np.flatnonzero(ours), np.flatnonzero(ref_coef))
        diff = float(np.max(np.abs(ours - ref_coef)))
        ratios.append(t_ref / t_ours)
        print(
            f"  problem {p}: sklearn {t_ref * 1e3:7.1f} ms   ours {t_ours * 1e3:7.1f} ms   "
            f"speed-up {t_ref / t_ours:5.2f}x   same support: {same}   max |diff| {diff:.1e}"
        )
    print(f"OMP speed-up (sklearn time / ours), median: {np.median(ratios):.2f}x")

    edges = grid_graph(20)
    adj = adjacency(edges, 400)
    b = np.random.default_rng(0).standard_normal(400)
    _, t_pcst = _best(lambda: pcst_project(b, edges, 20, 1, adj=adj), args.repeats)
    _, t_lp = _best(lambda: lp_project(b, edges, 20, 1, adj=adj, random_state=0), args.repeats)
    print(
        f"head/tail on a 20x20 grid, s=20: pcst_fast {t_pcst * 1e3:.1f} ms, "
        f"LP + HiGHS + rounding {t_lp * 1e3:.1f} ms ({t_lp / t_pcst:.0f}x slower)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
