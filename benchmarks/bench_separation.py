"""Benchmark: the batched full-rank EM against a per-bin Python loop, and FastMNMF.

Target (issue #17): one EM iteration of the full-rank model on a 3 s, 16 kHz stereo
mixture (F = 513, ~190 frames, J = 3) at least 20x faster than a per-bin Python loop of
the same updates, and 50 iterations in under 10 s on 2 cores; pyroomacoustics' FastMNMF
(the peer a user would pick, ``n_src=3``) time per iteration printed beside it.

    python benchmarks/bench_separation.py            # ~1 min on a quiet machine
    python benchmarks/bench_separation.py --loop-bins 513   # time the loop on every bin

The per-bin loop is timed on ``--loop-bins`` bins (default 32) and scaled to F = 513.
``--threads`` (default 2) limits the BLAS threads; the machine may be shared, so the wall
and CPU times printed are what this run saw.
"""

from __future__ import annotations

import argparse
import os

from _timing import timed


def _loop_step(X, v, R):
    """The full-rank E- and M-steps, one (f, n) bin at a time (the MATLAB ports' layout)."""
    import numpy as np

    J, F, N = v.shape
    n_mics = X.shape[-1]
    eye = np.eye(n_mics)
    v_new, R_new = np.zeros_like(v), np.zeros_like(R)
    for f in range(F):
        R_inv = [np.linalg.inv(R[j, f]) for j in range(J)]
        acc = [np.zeros((n_mics, n_mics), dtype=complex) for _ in range(J)]
        for n in range(N):
            Rx_inv = np.linalg.inv(sum(v[j, f, n] * R[j, f] for j in range(J)))
            for j in range(J):
                vR = v[j, f, n] * R[j, f]
                W = vR @ Rx_inv
                c = W @ X[f, n]
                Rc = np.outer(c, c.conj()) + (eye - W) @ vR
                v_new[j, f, n] = max(np.trace(R_inv[j] @ Rc).real / n_mics, 1e-12)
                acc[j] += Rc / v_new[j, f, n]
        for j in range(J):
            R_new[j, f] = acc[j] / N
    return v_new, R_new


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iters", type=int, default=50)
    parser.add_argument("--loop-bins", type=int, default=32)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import numpy as np
    import pyroomacoustics as pra
    from parsimony.data.speech import room_images, speech_sources
    from parsimony.separation.init import cluster_init
    from parsimony.separation.model import em_step_full_rank
    from parsimony.separation.stft import stft

    images, _ = room_images(speech_sources(3, 3.0), 0.25)
    X = np.moveaxis(stft(images.sum(0)), 0, -1)  # (F, N, I)
    F, N, _ = X.shape
    print(f"mixture: F = {F}, N = {N} frames, J = 3; load average {os.getloadavg()[0]:.1f}")
    (v, R), wall, cpu = timed(lambda: cluster_init(X, 3))
    print(f"clustering init            wall {wall:7.3f} s  cpu {cpu:7.3f} s")

    _, wall1, cpu1 = timed(lambda: em_step_full_rank(X, v, R))
    b = min(args.loop_bins, F)
    _, wl, cl = timed(lambda: _loop_step(X[:b], v[:, :b], R[:, :b]))
    wl, cl = wl * F / b, cl * F / b
    print(f"one EM iteration, batched  wall {wall1:7.3f} s  cpu {cpu1:7.3f} s")
    print(f"one EM iteration, loop     wall {wl:7.3f} s  cpu {cl:7.3f} s  ({b} bins, scaled)")
    print(f"speed-up (cpu): {cl / cpu1:.1f}x   target >= 20x")

    def run_em():
        vv, RR = v, R
        for _ in range(args.iters):
            vv, RR = em_step_full_rank(X, vv, RR)

    _, wall, cpu = timed(run_em)
    print(f"{args.iters} EM iterations        wall {wall:7.3f} s  cpu {cpu:7.3f} s  target < 10 s")
    n_it = 10
    _, wall, cpu = timed(lambda: pra.bss.fastmnmf(np.swapaxes(X, 0, 1), n_src=3, n_iter=n_it))
    print(f"FastMNMF per iteration     wall {wall / n_it:7.3f} s  cpu {cpu / n_it:7.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
