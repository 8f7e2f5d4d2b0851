"""The one place that fixes what makes a stage's floating-point results machine-dependent.

A stage's ``metrics.json`` and figures must be a function of code, params and data only.
Three things break that on CPUs, and each is pinned here:

1. **Thread count.** Parallel reductions (PyTorch's intra-op parallelism, BLAS, OpenMP)
   add partial sums in an order that depends on the number of threads. Every stage runs
   with :data:`THREADS` threads (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``,
   ``OPENBLAS_NUM_THREADS``, ... and ``torch.set_num_threads``), whatever the calling
   shell says.
2. **SIMD width.** The same library picks different kernels on different CPUs (AVX-512
   against AVX2), which changes the order of additions inside a dot product or a
   vectorized ``exp``. Every dispatcher is pinned to the AVX2 tier (x86-64-v3), which
   every x86-64 CPU since 2013 (Intel Haswell, AMD Excavator/Zen) runs:
   PyTorch's ATen kernels (``ATEN_CPU_CAPABILITY=avx2``), oneDNN
   (``ONEDNN_MAX_CPU_ISA=AVX2``), MKL's conditional numerical reproducibility
   (``MKL_CBWR=AVX2``), OpenBLAS (``OPENBLAS_CORETYPE=Haswell``, for NumPy's and SciPy's
   bundled copies), and NumPy's own dispatch (``NPY_DISABLE_CPU_FEATURES`` lists every
   dispatch target above x86-64-v3).
3. **Devices and algorithms.** Stages run on the CPU (``CUDA_VISIBLE_DEVICES=""``) unless
   ``PARSIMONY_ALLOW_GPU=1`` (then the bytes are not comparable with the committed ones),
   and PyTorch's deterministic algorithms are switched on when :mod:`parsimony.nn` is
   imported under the runner. ``PYTHONHASHSEED=0`` fixes set and dict orders of strings.

:func:`stage_environment` returns these variables; the runner puts them in the kernel's
environment before it starts, which is the only moment most of them are read.
:func:`settings` is what ``save_metrics`` records in ``metrics.json``.
"""

from __future__ import annotations

import os

#: the thread count of every stage (one value, so that every machine adds in one order)
THREADS = 1

#: set by the runner: the thread count the stage runs with
THREADS_ENV = "PARSIMONY_THREADS"

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
)

_PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "OPENBLAS_CORETYPE": "Haswell",
    "PYTHONHASHSEED": "0",
    "MPLBACKEND": "Agg",
    "OMP_WAIT_POLICY": "PASSIVE",
}


def _numpy_disabled_features() -> str:
    """NumPy's dispatch targets above x86-64-v3 (AVX-512 and later), space-separated."""
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_dispatch__
    return " ".join(t for t in __cpu_dispatch__ if t.startswith(("AVX512", "X86_V4")))


def stage_environment(threads: int = THREADS) -> dict[str, str]:
    """The environment variables a stage's kernel starts with (see the module docstring)."""
    env = {var: str(threads) for var in _THREAD_VARS}
    env.update(_PINNED)
    env[THREADS_ENV] = str(threads)
    env["NPY_DISABLE_CPU_FEATURES"] = _numpy_disabled_features()
    if os.environ.get("PARSIMONY_ALLOW_GPU") != "1":
        env["CUDA_VISIBLE_DEVICES"] = ""
    else:
        env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    return env


def configure_torch() -> None:
    """Under the runner: PyTorch's thread count and deterministic algorithms (idempotent)."""
    threads = os.environ.get(THREADS_ENV)
    if not threads:
        return
    import torch

    torch.set_num_threads(int(threads))
    torch.use_deterministic_algorithms(True, warn_only=True)


def settings() -> dict:
    """The pinned settings in force (recorded in ``metrics.json``); empty outside a stage."""
    if not os.environ.get(THREADS_ENV):
        return {}
    keys = (*_PINNED, "NPY_DISABLE_CPU_FEATURES", "CUDA_VISIBLE_DEVICES")
    return {"threads": int(os.environ[THREADS_ENV])} | {
        k: os.environ.get(k) for k in keys if k not in ("MPLBACKEND", "OMP_WAIT_POLICY")
    }
