"""Benchmark: our l1 and l1,1 projections against a sort-based reference and a bisection solver.

On 10^6 entries (issue 21): the l1 ball projection of a Gaussian vector, and the bi-level
l1,1 projection of a 1000 x 1000 Gaussian matrix. Peers, run in the same process:

- ``duchi``: the textbook sort-based projection (Duchi et al. 2008) of one vector, and for
  l1,1 the same applied column by column in a Python loop;
- ``bisection``: bisection on the soft threshold (60 halvings, float64 accuracy), column by
  column for l1,1.

We report the best of ``--repeats`` runs, the largest difference to our result, and the
ratio best peer / ours (> 1: ours is faster).

    python benchmarks/bench_projections.py [--n 1000000 --repeats 3 --threads 1]
"""

from __future__ import annotations

import argparse
import os

from _timing import best_of


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    from parsimony.compression.structured.projections import project_l1, project_l11

    def duchi(v, eta):
        a = np.abs(v)
        if a.sum() <= eta:
            return v.copy()
        if eta <= 0:
            return np.zeros_like(v)
        u = np.sort(a)[::-1]
        cs = np.cumsum(u)
        rho = np.nonzero(u * np.arange(1, len(u) + 1) > cs - eta)[0][-1]
        theta = (cs[rho] - eta) / (rho + 1)
        return np.sign(v) * np.maximum(a - theta, 0)

    def bisection(v, eta, n_iter=60):
        a = np.abs(v)
        if a.sum() <= eta:
            return v.copy()
        lo, hi = 0.0, float(a.max())
        for _ in range(n_iter):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if np.maximum(a - mid, 0).sum() > eta else (lo, mid)
        return np.sign(v) * np.maximum(a - hi, 0)

    def by_columns(proj, W, eta):
        budgets = duchi(np.abs(W).sum(axis=0), eta)
        return np.stack([proj(W[:, j], budgets[j]) for j in range(W.shape[1])], axis=1)

    rng = np.random.default_rng(0)
    v = rng.standard_normal(args.n)
    side = int(round(args.n**0.5))
    W = rng.standard_normal((side, side))
    eta_v, eta_w = 0.05 * np.abs(v).sum(), 0.05 * np.abs(W).sum()
    print(f"{args.n} entries, best of {args.repeats}; {args.threads} thread(s), "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    cases = {
        "l1": (lambda: project_l1(v, eta_v), {"duchi": lambda: duchi(v, eta_v),
                                              "bisection": lambda: bisection(v, eta_v)}),
        "l11": (lambda: project_l11(W, eta_w), {"duchi": lambda: by_columns(duchi, W, eta_w),
                                                "bisection": lambda: by_columns(bisection, W, eta_w)}),
    }  # fmt: skip
    for name, (ours, peers) in cases.items():
        P, t_ours = best_of(ours, args.repeats)
        best_peer = float("inf")
        for peer, fn in peers.items():
            Q, t = best_of(fn, args.repeats)
            best_peer = min(best_peer, t)
            print(f"{name:4s} {peer:10s} {t * 1e3:9.1f} ms  max |diff| {np.abs(P - Q).max():.2e}")
        print(
            f"{name:4s} {'ours':10s} {t_ours * 1e3:9.1f} ms  best peer / ours = {best_peer / t_ours:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
