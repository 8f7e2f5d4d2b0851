"""Benchmark: compressed-format matrix-vector products against dense torch and scipy CSR.

Target (issue 20): on a 4096 x 4096 layer at 90 % and 95 % sparsity (weights shared on
k = 16 CWS values), the sHAM product (:meth:`SHAMLayer.matvec`, on the format's own
index structure) within 3x of ``scipy.sparse`` CSR's time while at least 3x smaller
(bytes as :func:`parsimony.compression.pack` writes them). CSR (``SparseLayer``) and a
dense float32 ``torch`` product are printed beside them.

    python benchmarks/bench_formats.py                  # 4096 x 4096, 90 % and 95 %
    python benchmarks/bench_formats.py --n 1024 --repeat 5

``--threads`` (default 1) limits the BLAS threads. Wall times are what this run saw on a
possibly shared machine (median of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--sparsity", type=float, nargs="+", default=[0.9, 0.95])
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(1, args.n)
    print(f"{'sparsity':>8} {'format':>8} {'bytes':>11} {'ms':>9} {'vs scipy':>9}")
    ok = True
    for q in args.sparsity:
        rows = _measure(q, x, args)
        base_b, base_t = rows["scipy"]
        for name, (nbytes, t) in rows.items():
            print(f"{q:8.2f} {name:>8} {nbytes:11d} {1e3 * t:9.3f} {t / base_t:8.2f}x")
        within = rows["sham"][1] <= 3 * base_t and 3 * rows["sham"][0] <= base_b
        print(f"sHAM within 3x of scipy's time and >= 3x smaller: {within}")
        ok &= within
    return 0 if ok else 1


def _measure(q, x, args) -> dict:
    """format -> (bytes, median seconds) of one layer at sparsity ``q``."""
    import scipy.sparse as sp
    from parsimony.compression import pack
    from parsimony.compression.pruning.formats import SHAMLayer, SparseLayer
    from parsimony.compression.pruning.masks import prune_magnitude, remove_masks
    from parsimony.compression.pruning.sharing import share_weights
    from torch import nn

    layer = nn.Sequential(nn.Linear(args.n, args.n, bias=False))
    prune_magnitude(layer, q)
    remove_masks(layer)
    share_weights(layer, args.k)
    w = layer[0].weight.detach()
    csr, xn = sp.csr_matrix(w.numpy()), x.numpy().ravel()
    sham, sparse = SHAMLayer.from_module(layer[0]), SparseLayer.from_module(layer[0], "csr")
    scipy_bytes = csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes
    return {
        "dense": (4 * w.numel(), _median_time(lambda: x @ w.T, args.repeat)),
        "scipy": (scipy_bytes, _median_time(lambda: csr @ xn, args.repeat)),
        "csr": (
            len(pack(nn.Sequential(sparse))),
            _median_time(lambda: sparse.matvec(x), args.repeat),
        ),
        "sham": (len(pack(nn.Sequential(sham))), _median_time(lambda: sham.matvec(x), args.repeat)),
    }


if __name__ == "__main__":
    raise SystemExit(main())
