import numpy as np
import pytest
import torch
from parsimony.compression.kmeans import assign, kmeans
from sklearn.cluster import KMeans


def _points(n=600, d=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((6, d)) * 3
    return torch.as_tensor(
        centers[rng.integers(0, 6, n)] + rng.standard_normal((n, d)), dtype=torch.float32
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_objective_is_non_increasing(seed):
    X = _points(seed=seed)
    seen = []
    r = kmeans(
        X, 16, max_iter=15, random_state=seed, callback=lambda st: seen.append(st["objective"])
    )
    assert seen == r.objective and len(r.objective) == 16
    diffs = np.diff(r.objective)
    assert (diffs <= 1e-6 * r.objective[0]).all()
    # the returned assignments are the nearest centroids and the objective is theirs
    a, j = assign(X, r.centroids)
    assert torch.equal(a, r.assignments)
    assert j == pytest.approx(float(((X - r.centroids[a]) ** 2).sum()), rel=1e-5)
    assert j == pytest.approx(r.objective[-1])


def test_matches_sklearn_with_the_same_init():
    X = _points(n=2000, d=8, seed=3)
    init = X[torch.arange(0, 2000, 100)].numpy()
    ours = kmeans(X, 20, max_iter=30, init=init)
    ref = KMeans(20, init=init, n_init=1, max_iter=30, tol=0, algorithm="lloyd").fit(X.numpy())
    assert ours.objective[-1] == pytest.approx(ref.inertia_, rel=1e-4)
    agree = (ours.assignments.numpy() == ref.labels_).mean()
    assert agree > 0.99


def test_empty_clusters_are_split():
    X = _points(n=300, d=2)
    init = np.repeat(X[:1].numpy(), 8, axis=0)  # 8 identical centroids: 7 empty clusters
    r = kmeans(X, 8, max_iter=10, init=init, random_state=0)
    assert r.n_empty == 0
    assert (torch.bincount(r.assignments, minlength=8) > 0).all()
    assert torch.isfinite(r.centroids).all()
    assert r.objective[-1] < 0.5 * r.objective[0]


def test_identical_points_cannot_be_split_but_do_not_crash():
    X = torch.zeros(10, 3)
    X[0] = 1.0
    r = kmeans(X, 3, max_iter=3, random_state=0, max_tentatives=5)
    assert r.n_empty == 1 and torch.isfinite(r.centroids).all()
    assert r.objective[-1] == pytest.approx(0.0, abs=1e-6)


def test_deterministic():
    X = _points()
    a, b = kmeans(X, 8, random_state=5), kmeans(X, 8, random_state=5)
    assert torch.equal(a.centroids, b.centroids) and a.objective == b.objective


def test_chunking_does_not_change_the_result():
    X = _points(n=1000)
    a = kmeans(X, 8, max_iter=5, random_state=0)
    b = kmeans(X, 8, max_iter=5, random_state=0, chunk=37)
    assert torch.equal(a.assignments, b.assignments)


def test_bad_input():
    with pytest.raises(ValueError, match="exceeds"):
        kmeans(torch.zeros(5, 2), 6)
    with pytest.raises(ValueError, match="2-D"):
        kmeans(torch.zeros(5), 2)
    with pytest.raises(ValueError, match="NaN"):
        kmeans(torch.full((5, 2), float("nan")), 2)
    with pytest.raises(ValueError, match="init"):
        kmeans(torch.zeros(5, 2), 2, init=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="init"):
        kmeans(torch.zeros(5, 2), 2, init="k-means++")


def test_n_iter_is_a_deprecated_alias_of_max_iter():
    X = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    with pytest.warns(FutureWarning, match="max_iter"):
        old = kmeans(X, 4, n_iter=3, random_state=0)
    new = kmeans(X, 4, max_iter=3, random_state=0)
    assert torch.equal(old.centroids, new.centroids) and len(new.objective) == 4
