"""Benchmark: compressed factorization (F-R) against NMF on the uncompressed data; batched BP.

Sharan, Tai, Bailis & Valiant, ICML 2019 (issue 19). A planted problem (``--n`` features,
``--n`` samples, rank ``--r``, ``--k`` non-zeros per factor, noise 0.1), a sparse expander
with 5 ones per column and ``--d`` rows. Compares, in one run and with the same NMF
(coordinate descent, ``--iters`` iterations, ``tol=0``; the noisy inputs of
both clipped at 0, as scikit-learn NMF rejects negatives):

* F-R end to end: NMF of the compressed ``X P^T`` plus ``r`` basis-pursuit decodes;
* scikit-learn ``NMF`` on the uncompressed ``X`` (the peer a user would pick),

reporting corr(W) of each and the speed-up (peer time / ours); then basis pursuit of
``--rhs`` right-hand sides batched (``batch_size=4``) against one ``linprog`` call per row.

    python benchmarks/bench_compressed_factorization.py [--n 2000 --r 10 --k 100 --d 400 --threads 1]
"""

from __future__ import annotations

import argparse
import os
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--r", type=int, default=10)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--d", type=int, default=400)
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--rhs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    from parsimony.data.factorization import planted_factorization
    from parsimony.sparse.basis_pursuit import basis_pursuit
    from parsimony.sparse.experiments.compressed_factorization import factor_correlation
    from parsimony.sparse.factorization import CompressedFactorization
    from parsimony.sparse.operators import SparseExpanderOperator
    from sklearn.decomposition import NMF

    X, _, W, _ = planted_factorization(args.n, args.n, args.r, args.k, noise=0.1, random_state=0)
    P = SparseExpanderOperator(args.d, args.n, 5, random_state=0)

    def nmf():
        return NMF(args.r, solver="cd", init="nndsvda", max_iter=args.iters, tol=0.0)

    t0 = time.perf_counter()
    est = CompressedFactorization(nmf()).fit(np.maximum(X @ P.matrix.T, 0), P=P)
    t_fr = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer = nmf().fit(np.maximum(X, 0))
    t_nmf = time.perf_counter() - t0
    c_fr = factor_correlation(W, est.components_)[0]
    c_nmf = factor_correlation(W, peer.components_)[0]
    print(f"F-R (NMF of {args.d} x {args.n} + {est.n_lps_} BP): {t_fr:.2f} s, corr(W) {c_fr:.4f}")
    print(f"sklearn NMF on {args.n} x {args.n}: {t_nmf:.2f} s, corr(W) {c_nmf:.4f}")
    print(f"speed-up F-R vs uncompressed NMF: {t_nmf / t_fr:.2f}x (goal 3x)")

    small = SparseExpanderOperator(80, 300, 5, random_state=1)
    rng = np.random.default_rng(0)
    Z = np.zeros((args.rhs, 300))
    for row in Z:
        row[rng.choice(300, 10, replace=False)] = rng.random(10)
    Y = Z @ small.matrix.T
    times = {}
    for b in (1, 4):
        t0 = time.perf_counter()
        basis_pursuit(small, Y, batch_size=b)
        times[b] = time.perf_counter() - t0
    print(f"basis pursuit, {args.rhs} rhs, n = 300, d = 80: one LP per row {times[1]:.2f} s, ")
    print(f"batched (4 per LP) {times[4]:.2f} s, speed-up {times[1] / times[4]:.2f}x (goal 2x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
