"""Seeded fuzzing of packed models: every mutation is refused cleanly or decodes identically.

One small packed model per built-in compressed layer type (``packing.BUILTIN_LAYERS``) is
mutated a few hundred times: truncations, single bit flips (header and payload), and
crafted headers re-signed with a valid SHA-256 (huge sizes and counts, relabelled dtypes,
``n_centroids=1``, reshaped arrays, re-signed payload flips). The mutations run in a child
process under a memory limit (``RLIMIT_AS``: its address space at the start plus 1 GiB) and
a timeout, so an abort or a runaway allocation fails this test instead of killing pytest.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

resource = pytest.importorskip("resource")

CHILD = textwrap.dedent(
    r"""
    import copy, hashlib, json, resource, struct, sys
    import numpy as np, torch
    from parsimony.compression import CorruptModelError, compress_model, pack, unpack
    from parsimony.compression.container import MAGIC, VERSION
    from parsimony.compression.packing import BUILTIN_LAYERS
    from parsimony.nn import build_model

    torch.manual_seed(0)
    X = torch.randn(64, 8)
    y = torch.randint(0, 3, (64,))
    SETTINGS = {
        "scalar": ("int4", {"scheme": "asymmetric", "granularity": "tensor"}),
        "pq": ("pq", {"block_size": 2, "n_centroids": 4}),
        "smh": ("smh", {"fraction": 0.5}),
        "hashednets": ("hashednets", {"fraction": 0.5}),
        "epr": ("epr", {"epochs": 1, "lam": 0.1}),
        "uniform_coded": ("quantize_then_code", {"step": 0.05}),
        "lowrank": ("lowrank_svd", {"rank": 2}),
        "wa_scalar": ("wa", {}),
        # pruning (issue 20)
        "sparse": ("prune", {"sparsity": 0.5, "fmt": "csr"}),
        "ham": ("ham", {"sparsity": 0.5, "n_clusters": 4}),
        "sham": ("sham", {"sparsity": 0.5, "n_clusters": 4}),
    }
    assert set(SETTINGS) == set(BUILTIN_LAYERS), sorted(BUILTIN_LAYERS)

    def sign(header, payload):
        h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        body = h + payload
        return MAGIC + struct.pack("<BI", VERSION, len(h)) + hashlib.sha256(body).digest() + body

    def split(blob):
        (hlen,) = struct.unpack("<I", blob[5:9])
        return json.loads(blob[41 : 41 + hlen]), blob[41 + hlen :], 41 + hlen

    def leaves(obj, path=()):
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from leaves(v, path + (k,))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                yield from leaves(v, path + (i,))
        else:
            yield path, obj

    def setpath(obj, path, value):
        for p in path[:-1]:
            obj = obj[p]
        obj[path[-1]] = value

    SAME_SIZE = {1: ["uint8", "int8", "bool"], 2: ["uint16", "int16", "float16"],
                 4: ["uint32", "int32", "float32"], 8: ["int64", "uint64", "float64"]}
    HUGE = [10**12, 2**31, 2**40, -1, 0, 1, 10000, 3.5, "x", None, True, [10000, 10000]]

    def crafted(blob, rng, tag):
        header, payload, _ = split(blob)
        h = copy.deepcopy(header)
        kind = rng.integers(8)
        if kind == 0:  # any leaf of the meta set to a huge / odd value
            ls = [p for p, _ in leaves(h["meta"])]
            setpath(h["meta"], ls[rng.integers(len(ls))], HUGE[rng.integers(len(HUGE))])
        elif kind == 1:  # the architecture asks for a huge model
            h["meta"]["arch"]["config"]["hidden"] = [10000, 10000]
        elif kind == 2:  # relabel an array's dtype (same item size)
            e = h["arrays"][rng.integers(len(h["arrays"]))]
            size = np.dtype(e["dtype"]).itemsize
            e["dtype"] = SAME_SIZE[size][rng.integers(3)]
        elif kind == 3:  # reshape an array, same byte count
            e = h["arrays"][rng.integers(len(h["arrays"]))]
            n = int(np.prod(e["shape"]))
            e["shape"] = [1, n] if rng.integers(2) else [n, 1]
        elif kind == 4:  # a group's symbol count / alphabet / n_centroids blown up
            for rec in h["meta"]["modules"]:
                m = rec["meta"]
                if "groups" in m:
                    g = m["groups"]["weight"]
                    g[rng.integers(4)] = int(HUGE[rng.integers(3)])
                if "n_centroids" in m:
                    m["n_centroids"] = 1
                if "bits" in m:
                    m["bits"] = int(rng.integers(1, 9))
        elif kind == 5:  # an array's size claims more than the payload
            e = h["arrays"][rng.integers(len(h["arrays"]))]
            e["shape"], e["nbytes"] = [2**40], 2**40 * np.dtype(e["dtype"]).itemsize
        elif kind == 6:  # a payload bit flip, re-signed
            p = bytearray(payload)
            i = int(rng.integers(len(p)))
            p[i] ^= 1 << int(rng.integers(8))
            return "re-signed payload flip", sign(h, bytes(p))
        else:  # drop or duplicate an array record
            i = rng.integers(len(h["arrays"]))
            if rng.integers(2):
                e = h["arrays"].pop(i)
                payload = payload[: len(payload) - e["nbytes"]]
            else:
                h["arrays"].append(dict(h["arrays"][i]))
        return f"crafted header {kind}", sign(h, payload)

    def mutants(blob, rng, n):
        _, _, hend = split(blob)
        for j in range(n):
            r = j % 6  # half of the mutations are crafted (re-signed) headers
            b = bytearray(blob)
            if r == 0:
                yield "truncate", bytes(b[: int(rng.integers(len(b)))])
            elif r == 1:
                i = int(rng.integers(hend))
                b[i] ^= 1 << int(rng.integers(8))
                yield "header bit flip", bytes(b)
            elif r == 2:
                i = int(rng.integers(hend, len(b)))
                b[i] ^= 1 << int(rng.integers(8))
                yield "payload bit flip", bytes(b)
            else:
                yield crafted(blob, rng, None)

    base = build_model("mlp", in_features=8, n_classes=3, hidden=[6])
    blobs = {}
    for tag, (method, opts) in SETTINGS.items():
        model = compress_model(copy.deepcopy(base), method, (X, y), **opts)
        blobs[tag] = pack(model)
    with open("/proc/self/status") as f:
        vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, vm + 2**30))

    bad, counts = [], {"refused": 0, "identical": 0}
    n_per = int(sys.argv[1])
    for k, (tag, blob) in enumerate(blobs.items()):
        ref = unpack(blob)(X)
        rng = np.random.default_rng(1000 + k)
        for what, m in mutants(blob, rng, n_per):
            try:
                out = unpack(m)
            except CorruptModelError:
                counts["refused"] += 1
                continue
            except BaseException as exc:  # noqa: BLE001
                bad.append(f"{tag}: {what} raised {type(exc).__name__}: {str(exc)[:200]}")
                continue
            try:
                same = torch.equal(out(X), ref)
            except Exception as exc:  # noqa: BLE001
                bad.append(f"{tag}: {what} decoded to a model that fails: {exc!s:.200}")
                continue
            if what == "re-signed payload flip" and pack(out) == m:
                # a validly signed file of another model: it must decode to exactly that one
                counts["identical"] += 1
            elif same:
                counts["identical"] += 1
            else:
                bad.append(f"{tag}: {what} decoded to a different model")
    print(json.dumps({"bad": bad, "counts": counts}))
    """
)


def test_fuzz_packed_models_refuse_or_decode_identically():
    from parsimony.compression.packing import BUILTIN_LAYERS

    n_per_type = 48  # 48 seeded mutations per layer type
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(n_per_type)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, f"child died ({proc.returncode}): {proc.stderr[-3000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["bad"] == [], "\n".join(result["bad"])
    assert sum(result["counts"].values()) == len(BUILTIN_LAYERS) * n_per_type
    assert result["counts"]["refused"] > 0
