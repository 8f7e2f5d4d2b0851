"""scikit-learn's own estimator checks on every fitted class of the library.

``ESTIMATORS`` lists one instance of each estimator (small, fast settings); each family
fills its own section. ``EXPECTED_FAILED_CHECKS`` is the one place where a check that an
estimator cannot pass is listed, by class name, with the reason.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks


def _dictionary():
    from parsimony.dictionary import AnalysisOperatorLearning, L1DictionaryLearning

    return [
        L1DictionaryLearning(max_iter=2, n_candidates=None, random_state=0),
        AnalysisOperatorLearning(max_iter=20, random_state=0),
    ]


def _spectral():
    from parsimony.spectral import CompressiveSpectralClustering, SpectralClustering

    return [
        SpectralClustering(n_clusters=2, n_init=2, random_state=0),
        CompressiveSpectralClustering(
            n_clusters=2, poly_order=10, n_init=2, max_iter=20, random_state=0
        ),
        CompressiveSpectralClustering(
            n_clusters=2, poly_order=10, n_init=2, assign_labels="interpolate", random_state=0
        ),
    ]


def _sparse():
    from parsimony.sparse import OrthogonalMatchingPursuit
    from parsimony.sparse.factorization import CompressedFactorization
    from sklearn.decomposition import NMF

    nmf = NMF(2, init="random", max_iter=100, random_state=0)
    return [OrthogonalMatchingPursuit(), CompressedFactorization(nmf, random_state=0)]


def _compression():
    from parsimony.compression import LpLowRank, ScalarQuantizer

    # IterativePQ is a BaseEstimator fitted by compress(model, data), not fit(X): not here
    return [
        LpLowRank(1),
        ScalarQuantizer(bits=4),
        ScalarQuantizer(bits=3, scheme="asymmetric", calibration="histogram", n_bins=16),
    ]


def _separation():
    from parsimony.separation import SpatialCovarianceSeparator

    return [
        SpatialCovarianceSeparator(3, max_iter=2, n_fft=16, hop=8),
        SpatialCovarianceSeparator(2, model="rank1", max_iter=2, n_fft=16, hop=8),
    ]


ESTIMATORS = [*_dictionary(), *_spectral(), *_sparse(), *_compression(), *_separation()]

# class name -> {check name: why this estimator cannot pass it}
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    # dictionary
    "L1DictionaryLearning": {
        check: "the check sets n_components=1; the learner handles only the basis case "
        "(n_components == n_features) and raises a ValueError naming n_components"
        for check in (
            "check_dont_overwrite_parameters",
            "check_fit2d_predict1d",
            "check_methods_subset_invariance",
            "check_methods_sample_order_invariance",
        )
    },
    "AnalysisOperatorLearning": {
        check: "the check sets n_components=1; an analysis operator needs n_components >= "
        "n_features (a frame) and fit raises a ValueError naming n_components"
        for check in (
            "check_dont_overwrite_parameters",
            "check_fit2d_predict1d",
            "check_methods_subset_invariance",
            "check_methods_sample_order_invariance",
            "check_fit2d_1sample",
        )
    },
    # spectral
    **{
        name: {
            check: "check_clustering fits make_blobs points of shape (50, 2) as they are, "
            "without the kernel that other checks apply for pairwise estimators; fit(W) takes "
            "an (N, N) adjacency and rejects non-square input, as scikit-learn's "
            "affinity='precomputed' does"
            for check in ("check_clustering", "check_clustering(readonly_memmap=True)")
        }
        for name in ("SpectralClustering", "CompressiveSpectralClustering")
    },
    # sparse
    # compression
    # separation
    **{
        name: {
            "check_methods_subset_invariance": "rows are time samples: a separated sample "
            "depends on its neighbours through the STFT, so a subset is not separated alike",
            "check_methods_sample_order_invariance": "rows are time samples: shuffling them "
            "changes the signal (the STFT sees another mixture)",
            "check_fit_idempotent": "the learned source variances v_ are per STFT frame of the "
            "fitted mixture, so transform accepts only that mixture (FastICA-like unmixing "
            "of new data is not defined for this model); it raises a ValueError",
        }
        for name in ("SpatialCovarianceSeparator",)
    },
}


def _expected(estimator) -> dict:
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


FAMILIES = ("dictionary", "spectral", "sparse", "compression", "separation")


def _fitted_classes():
    import importlib
    import inspect

    out = {}
    for family in FAMILIES:
        mod = importlib.import_module(f"parsimony.{family}")
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.isclass(obj) and callable(getattr(obj, "fit", None)):
                out[f"parsimony.{family}.{name}"] = obj
    return out


def test_every_fitted_class_is_an_estimator_and_checked():
    from sklearn.base import BaseEstimator

    listed = {type(e) for e in ESTIMATORS}
    for name, cls in _fitted_classes().items():
        assert issubclass(cls, BaseEstimator), f"{name} has fit() but is not a BaseEstimator"
        assert cls in listed, f"{name} is not in ESTIMATORS of {__file__}"


if ESTIMATORS:

    @parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected)
    def test_sklearn_contract(estimator, check):
        check(estimator)
