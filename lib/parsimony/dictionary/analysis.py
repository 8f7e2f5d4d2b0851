r"""Analysis operator learning under the UNTF constraint (cosparse signal model).

Yaghoobi, Nam, Gribonval & Davies, "Constrained Overcomplete Analysis Operator Learning
for Cosparse Signal Modelling", IEEE Trans. Signal Processing 61(9), 2013
(arXiv:1205.4133).

Convention (scikit-learn's): signals are rows, ``X`` is (n_samples, n_features) and the
operator :math:`\Omega` is (n_components, n_features) with n_components >= n_features, so
the analysis coefficients are ``X @ omega.T``. The paper writes signals as columns,
:math:`\Omega Y`.

**Cosparse model.** A signal :math:`x` has cosparsity :math:`\ell` when :math:`\ell` rows of
:math:`\Omega` are orthogonal to it: :math:`x \in \operatorname{null}(\Omega_\Lambda)`,
:math:`|\Lambda| = \ell`, a subspace of dimension :math:`n - \ell` for rows in general
position (:func:`cosparse_signals`).

**Learning problem** (the paper's constrained :math:`\ell_1` criterion, normalised here by
the number of samples :math:`L`):

.. math:: \min_\Omega \; f(\Omega) = \frac{1}{L}\sum_{j} \|\Omega x_j\|_1
          \quad\text{s.t.}\quad \Omega \in \mathrm{UNTF} =
          \{\Omega^\top\Omega = I_n,\ \|\omega_i\|_2 = \sqrt{n/m}\ \forall i\}.

The UNTF constraint (:mod:`parsimony.dictionary.untf`) rules out the trivial minimisers
that weaker constraints admit: :math:`\Omega = 0` without a constraint, repeated rows with
unit-norm rows only, and an orthobasis padded with (near) zero rows with a tight frame
only (:data:`~parsimony.dictionary.untf.CONSTRAINTS` lets a notebook swap the constraint).

**Projected subgradient** (:func:`projected_subgradient`, :class:`AnalysisOperatorLearning`,
clean signals): with :math:`G = \operatorname{sign}(X\Omega^\top)^\top X`
(:math:`\operatorname{sign}(0) = 0`),

.. math:: \Omega \leftarrow P_{\mathrm{UNTF}}\bigl(\Omega - \eta_t\, G / \|G\|_F\bigr),

a normalised step, with one round of alternating projections per step and a full
projection of the output (both constraints to about 1e-12).

**Noisy signals.** The paper learns from noisy data :math:`Y` by minimising
:math:`\|\Omega X\|_1 + \frac{\lambda}{2}\|Y - X\|_F^2` over :math:`(\Omega, X)`, alternating the
operator step above with the convex analysis-:math:`\ell_1` denoising step in :math:`X`
(:func:`analysis_denoise`), which we solve by Douglas-Rachford splitting of
:math:`\|u\|_1 + \frac{\lambda}{2}\|x - y\|^2` and the constraint :math:`u = \Omega x`, for
every signal at once.

The exact step-size schedule, number of projection rounds and stopping rule of the paper
are not reproduced to the letter (see the paper card); the defaults here (a constant
normalised step followed by a decaying one, one projection round per step) are ours,
chosen on the synthetic recovery experiment.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from parsimony._validation import (
    check_array,
    check_choice,
    check_elements,
    check_float,
    check_int,
    check_random_state,
)
from parsimony.dictionary.untf import CONSTRAINTS, random_untf, untf_projection

_TINY = 1e-300


def _check_operator(omega, name: str = "omega") -> np.ndarray:
    omega = check_array(omega, name, min_rows=1, min_cols=1)
    if omega.shape[0] < omega.shape[1]:
        raise ValueError(
            f"{name} must have n_components >= n_features (an overcomplete or square "
            f"operator), got shape {omega.shape}"
        )
    return omega


# ----------------------------------------------------------------------------- signals
def cosparse_signals(
    omega,
    n_samples: int,
    cosparsity: int,
    noise: float = 0.0,
    random_state=None,
    return_cosupport: bool = False,
):
    r"""Random unit-norm signals with cosparsity :math:`\ell` for ``omega``.

    For each signal, draw a cosupport :math:`\Lambda` of :math:`\ell` rows uniformly, project
    a standard Gaussian vector onto :math:`\operatorname{null}(\Omega_\Lambda)` (a Gaussian on
    that subspace), normalise it, then add i.i.d. Gaussian noise of standard deviation
    ``noise`` per entry. Vectorised with batched QR factorisations.

    Parameters
    ----------
    omega : array (n_components, n_features)
    n_samples : int
    cosparsity : int in [1, n_features - 1]
        Number of rows orthogonal to each clean signal.
    noise : float >= 0
    random_state : None, int or numpy Generator
    return_cosupport : bool
        Also return the boolean cosupports (n_samples, n_components).

    Returns
    -------
    X : ndarray (n_samples, n_features)
    cosupport : ndarray of bool (n_samples, n_components), only if ``return_cosupport``

    Examples
    --------
    >>> omega = random_untf(24, 16, random_state=0)
    >>> X, cos = cosparse_signals(omega, 5, 12, random_state=0, return_cosupport=True)
    >>> bool(np.abs((X @ omega.T)[cos]).max() < 1e-12), cos.sum(axis=1).tolist()
    (True, [12, 12, 12, 12, 12])
    """
    omega = _check_operator(omega)
    m, n = omega.shape
    n_samples = check_int(n_samples, "n_samples", low=1)
    check_elements(n_samples * omega.shape[0], "n_samples * n_components")
    cosparsity = check_int(cosparsity, "cosparsity", low=1, high=n - 1)
    noise = check_float(noise, "noise", low=0.0)
    rng = check_random_state(random_state)
    # a uniformly random l-subset of rows per sample: the first l of a random permutation
    idx = np.argsort(rng.random((n_samples, m)), axis=1)[:, :cosparsity]
    g = rng.standard_normal((n_samples, n))
    Q, _ = np.linalg.qr(omega[idx].transpose(0, 2, 1))  # (L, n, l): range(Omega_Lambda^T)
    x = g - np.einsum("lij,lj->li", Q, np.einsum("lji,lj->li", Q, g))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    if noise > 0:
        x = x + noise * rng.standard_normal(x.shape)
    if return_cosupport:
        cos = np.zeros((n_samples, m), dtype=bool)
        np.put_along_axis(cos, idx, True, axis=1)
        return x, cos
    return x


def analysis_objective(X, omega) -> float:
    r"""The learning criterion :math:`\frac1L\sum_j \|\Omega x_j\|_1` (mean over samples).

    Examples
    --------
    >>> float(analysis_objective(np.ones((2, 2)), np.eye(2)))
    2.0
    """
    X = check_array(X, "X")
    omega = check_array(omega, "omega")
    if X.shape[1] != omega.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features but omega has {omega.shape[1]} columns")
    return float(np.abs(X @ omega.T).sum() / X.shape[0])


# ----------------------------------------------------------------------------- denoising
def _soft(v: np.ndarray, t: float) -> np.ndarray:
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def _dr_denoise(Y, omega, lam, n_iter, tol, gamma, z=None):
    """Douglas-Rachford on min ||u||_1 + lam/2 ||x - y||^2 s.t. u = x Omega^T (rows).

    F(x, u) = lam/2 ||x - y||^2 + ||u||_1 (separable prox), G = indicator of the graph
    {u = x Omega^T} (prox = projection: x = (a + b Omega)(I + Omega^T Omega)^-1).
    Returns the graph point x and the state z = (zx, zu) for warm starts.
    """
    n = omega.shape[1]
    M = np.linalg.inv(np.eye(n) + omega.T @ omega)
    zx, zu = (Y.copy(), Y @ omega.T) if z is None else z
    scale = max(np.linalg.norm(Y), _TINY)
    x = None
    for _ in range(n_iter):
        x_new = (zx + zu @ omega) @ M  # P_graph(z)
        u = x_new @ omega.T
        # prox of gamma F at the reflection 2 p - z
        zx = zx + ((2 * x_new - zx) + gamma * lam * Y) / (1 + gamma * lam) - x_new
        zu = zu + _soft(2 * u - zu, gamma) - u
        converged = x is not None and np.linalg.norm(x_new - x) <= tol * scale
        x = x_new
        if converged:
            break
    return x, (zx, zu)


def analysis_denoise(X, omega, lam: float, max_iter: int = 1000, tol: float = 1e-8, gamma=None):
    r"""Analysis-:math:`\ell_1` denoising of every row of ``X`` by Douglas-Rachford.

    Solves, for each noisy signal :math:`y` (a row of ``X``),

    .. math:: \hat x = \arg\min_x \|\Omega x\|_1 + \frac{\lambda}{2}\|y - x\|_2^2 ,

    by Douglas-Rachford splitting of :math:`F(x, u) = \frac{\lambda}{2}\|x-y\|^2 + \|u\|_1`
    (separable prox: shrinkage towards :math:`y`, soft thresholding) and the indicator of
    the graph :math:`\{u = \Omega x\}` (prox: :math:`x = (I + \Omega^\top\Omega)^{-1}(a +
    \Omega^\top b)`, which is :math:`(a + \Omega^\top b)/2` for a tight frame). Any operator
    works (a finite-difference operator too); all rows are solved at once.

    Parameters
    ----------
    X : array (n_samples, n_features)
        Noisy signals.
    omega : array (n_components, n_features)
    lam : float > 0
        Weight of the data term (larger keeps more of ``X``).
    max_iter : int
        Maximum Douglas-Rachford iterations.
    tol : float
        Stop when the iterate moves by less than ``tol * ||X||_F``.
    gamma : float or None
        Douglas-Rachford step; ``None`` gives ``1 / lam``.

    Returns
    -------
    X_hat : ndarray (n_samples, n_features)

    Examples
    --------
    >>> y = np.array([[1.0, 1.2, 0.9, 1.1]])
    >>> D = np.diff(np.eye(4), axis=0)  # 1-D finite differences: total variation
    >>> analysis_denoise(y, D, lam=30.0).round(3).tolist()
    [[1.033, 1.133, 0.967, 1.067]]
    >>> analysis_denoise(y, D, lam=1.0).round(3).tolist()  # strong: the mean
    [[1.05, 1.05, 1.05, 1.05]]
    """
    X = check_array(X, "X")
    omega = check_array(omega, "omega")
    if X.shape[1] != omega.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features but omega has {omega.shape[1]} columns")
    lam = check_float(lam, "lam", low=0.0, low_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = check_float(tol, "tol", low=0.0)
    gamma = (
        1.0 / lam if gamma is None else check_float(gamma, "gamma", low=0.0, low_inclusive=False)
    )
    return _dr_denoise(X, omega, lam, max_iter, tol, gamma)[0]


# ----------------------------------------------------------------------------- learning
#: step-size rules: t is the iteration (0-based), T the number of iterations
STEP_RULES = ("polish", "constant", "inv_sqrt")

_POLISH_START = 0.75  # "polish": constant for the first 75 % of the iterations ...
_POLISH_END = 1e-2  # ... then a geometric decay to 1 % of the step


def step_sizes(step: float, n_iter: int, step_rule: str = "polish") -> np.ndarray:
    r"""The normalised step sizes :math:`\eta_t` of the projected subgradient method.

    ``"constant"``: :math:`\eta_t = \eta`. ``"inv_sqrt"``: :math:`\eta/\sqrt{t+1}`.
    ``"polish"`` (default, ours): constant for the first 75 % of the iterations, then a
    geometric decay to :math:`\eta/100`, so the iterate settles on the local minimum it found.

    Examples
    --------
    >>> step_sizes(0.1, 4, "inv_sqrt").round(4).tolist()
    [0.1, 0.0707, 0.0577, 0.05]
    >>> step_sizes(0.1, 8).round(4).tolist()
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.001]
    """
    step = check_float(step, "step", low=0.0, low_inclusive=False)
    n_iter = check_int(n_iter, "n_iter", low=0)
    check_elements(n_iter, "n_iter")
    step_rule = check_choice(step_rule, "step_rule", STEP_RULES)
    t = np.arange(n_iter)
    if step_rule == "constant":
        return np.full(n_iter, step)
    if step_rule == "inv_sqrt":
        return step / np.sqrt(t + 1.0)
    k = int(np.ceil(_POLISH_START * n_iter))
    tail = np.geomspace(1.0, _POLISH_END, n_iter - k + 1)[1:] if n_iter > k else np.empty(0)
    return step * np.r_[np.ones(k), tail]


def _steps(X, omega, steps, project, callback=None, t0=0, offset=0.0):
    """Projected normalised subgradient steps on a stack X (B, L, n), omega (B, m, n).

    Returns the last iterate and the objective at every iterate, shape (len(steps) + 1, B).
    ``callback(state)`` follows each step (``offset`` is added to the reported objective).
    """
    L = X.shape[-2]
    objs = np.empty((len(steps) + 1, X.shape[0]))
    Xt = np.swapaxes(X, -1, -2)
    for t, eta in enumerate(steps):
        C = X @ np.swapaxes(omega, -1, -2)  # (B, L, m) analysis coefficients
        objs[t] = np.abs(C).sum(axis=(-1, -2)) / L
        if callback is not None and t > 0:
            callback({"iteration": t0 + t, "objective": objs[t] + offset, "operator": omega})
        G = np.swapaxes(Xt @ np.sign(C), -1, -2)  # sign(C)^T X, (B, m, n)
        gnorm = np.linalg.norm(G, axis=(-1, -2), keepdims=True)
        omega = project(omega - eta * G / np.maximum(gnorm, _TINY))
    objs[-1] = np.abs(X @ np.swapaxes(omega, -1, -2)).sum(axis=(-1, -2)) / L
    if callback is not None and len(steps):
        n = t0 + len(steps)
        callback({"iteration": n, "objective": objs[-1] + offset, "operator": omega})
    return omega, objs


def projected_subgradient(X, omega, steps, constraint: str = "untf", callback=None):
    r"""Projected normalised subgradient steps on one problem or a stack of problems.

    .. math:: \Omega_{t+1} = P_{\mathcal C}\bigl(\Omega_t - \eta_t G_t/\|G_t\|_F\bigr),
              \quad G_t = \operatorname{sign}(X\Omega_t^\top)^\top X .

    Parameters
    ----------
    X : array (n_samples, n_features) or a stack (n_problems, n_samples, n_features)
    omega : array (n_components, n_features) or a stack (n_problems, ...)
        The starting operator(s).
    steps : sequence of float
        The step sizes :math:`\eta_t` (:func:`step_sizes`).
    constraint : {"untf", "tight_frame", "unit_norm"}
        One projection round per step (:data:`~parsimony.dictionary.untf.CONSTRAINTS`).
    callback : callable or None
        ``callback(state)`` after each step, ``state`` a dict with ``iteration`` (1-based),
        ``objective`` (per problem: :math:`\frac1L\|X\Omega^\top\|_1`) and ``operator``.

    Returns
    -------
    omega : ndarray, the last iterate (not fully projected: see
        :func:`~parsimony.dictionary.untf.untf_projection`)
    objectives : ndarray (len(steps) + 1, n_problems), the objective at every iterate.

    Examples
    --------
    >>> omega0 = random_untf(12, 8, random_state=0)
    >>> X = cosparse_signals(omega0, 100, 6, random_state=0)
    >>> _, obj = projected_subgradient(X, random_untf(12, 8, 1), step_sizes(0.1, 200))
    >>> bool(obj[-1, 0] < obj[0, 0])
    True
    """
    single = np.ndim(X) == 2
    X = check_array(X, "X", ndim=2 if single else 3)
    omega = check_array(omega, "omega", ndim=2 if single else 3)
    if single:
        X, omega = X[None], omega[None]
    if omega.shape[0] != X.shape[0] or omega.shape[-1] != X.shape[-1]:
        raise ValueError(f"omega {omega.shape} does not match X {X.shape}")
    project = CONSTRAINTS[check_choice(constraint, "constraint", CONSTRAINTS)]
    steps = check_array(steps, "steps", ndim=1, min_rows=0)
    if np.any(steps <= 0):
        raise ValueError("steps must be positive")
    omega, objs = _steps(X, omega, steps, project, callback)
    return (omega[0] if single else omega), objs


class AnalysisOperatorLearning(TransformerMixin, BaseEstimator):
    r"""Learn an overcomplete analysis operator by constrained :math:`\ell_1` minimisation.

    Clean signals (``lam=None``): :func:`projected_subgradient` minimising
    :math:`f(\Omega) = \frac1L \|X\Omega^\top\|_1` over the constraint set :math:`\mathcal C`
    (UNTF by default). Noisy signals (``lam`` set): alternate the operator step on the
    current clean estimate :math:`\hat X` with the analysis-:math:`\ell_1` denoising of the
    data :math:`Y` (Douglas-Rachford, warm-started, ``n_denoise_iter`` iterations every
    ``denoise_every`` operator steps), which decreases
    :math:`\frac1L(\|\hat X\Omega^\top\|_1 + \frac{\lambda}{2}\|Y - \hat X\|_F^2)`.

    Parameters
    ----------
    n_components : int or None
        Number of rows m of the operator (m >= n_features); ``None`` gives n_features.
    constraint : {"untf", "tight_frame", "unit_norm"}
        The constraint set; the weaker two admit the degenerate minimisers the paper rules
        out (kept for the ablation).
    max_iter : int
        Operator steps (the method runs them all: there is no early stop).
    step : float
        Normalised step size :math:`\eta` (a Frobenius-norm length).
    step_rule : {"polish", "constant", "inv_sqrt"}
        See :func:`step_sizes`.
    lam : float or None
        ``None`` for clean signals; else the data-fidelity weight of the noisy variant.
    denoise_every : int
        Operator steps between two denoising steps (noisy variant).
    n_denoise_iter : int
        Douglas-Rachford iterations per denoising step (noisy variant).
    init : array (n_components, n_features) or None
        Initial operator; ``None`` draws a random UNTF (``random_untf``).
    random_state : None, int or numpy Generator
        Seeds the random initial operator.
    callback : callable or None
        ``callback(state)`` after each step, ``state`` a dict with ``iteration``,
        ``objective`` and ``operator``.

    Attributes
    ----------
    operator_ : ndarray (n_components, n_features)
        The learned operator, on the constraint set (UNTF residuals below 1e-12).
    init_ : ndarray (n_components, n_features)
        The initial operator.
    objective_ : ndarray (max_iter + 1,)
        The objective before each step and at ``operator_``.
    X_denoised_ : ndarray (n_samples, n_features)
        The clean estimate :math:`\hat X` (noisy variant only).
    n_iter_ : int
    n_features_in_ : int

    Examples
    --------
    >>> omega = random_untf(12, 8, random_state=0)
    >>> X = cosparse_signals(omega, 200, 6, random_state=0)
    >>> est = AnalysisOperatorLearning(12, max_iter=1000, random_state=0).fit(X)
    >>> operator_recovery(omega, est.operator_)
    1.0
    """

    def __init__(
        self,
        n_components=None,
        constraint="untf",
        max_iter=2000,
        step=0.1,
        step_rule="polish",
        lam=None,
        denoise_every=10,
        n_denoise_iter=10,
        init=None,
        random_state=None,
        callback=None,
    ):
        self.n_components = n_components
        self.constraint = constraint
        self.max_iter = max_iter
        self.step = step
        self.step_rule = step_rule
        self.lam = lam
        self.denoise_every = denoise_every
        self.n_denoise_iter = n_denoise_iter
        self.init = init
        self.random_state = random_state
        self.callback = callback

    def _validate(self, X):
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[1]
        m = n if self.n_components is None else self.n_components
        m = check_int(m, "n_components", low=1)
        if m < n:
            raise ValueError(
                f"n_components must be >= n_features={n} (an overcomplete operator), got {m}"
            )
        check_choice(self.constraint, "constraint", CONSTRAINTS)
        steps = step_sizes(self.step, check_int(self.max_iter, "max_iter", low=0), self.step_rule)
        if self.lam is not None:
            check_float(self.lam, "lam", low=0.0, low_inclusive=False)
            check_int(self.denoise_every, "denoise_every", low=1)
            check_int(self.n_denoise_iter, "n_denoise_iter", low=1)
        if self.init is None:
            init = random_untf(m, n, self.random_state)
        else:
            init = check_array(self.init, "init")
            if init.shape != (m, n):
                raise ValueError(f"init must have shape ({m}, {n}), got {init.shape}")
        return X, init, steps

    def fit(self, X, y=None):
        """Learn ``operator_`` from signals ``X`` (n_samples, n_features)."""
        X, init, steps = self._validate(X)
        project = CONSTRAINTS[self.constraint]
        if self.lam is None:
            omega, objs = _steps(X[None], init[None], steps, project, self._callback())
            omega = self._finish(omega[0])
            objs = np.r_[objs[:-1, 0], analysis_objective(X, omega)]
        else:
            omega, objs = self._fit_noisy(X, init, steps, project)
        self.init_ = init
        self.operator_ = omega
        self.objective_ = objs
        self.n_iter_ = len(steps)
        return self

    def _callback(self):
        if self.callback is None:
            return None
        return lambda s: self.callback(
            {"iteration": s["iteration"], "objective": float(s["objective"][0]),
             "operator": s["operator"][0]}
        )  # fmt: skip

    def _finish(self, omega):
        if self.constraint == "untf":
            return untf_projection(omega)
        return CONSTRAINTS[self.constraint](omega)

    def _fit_noisy(self, Y, omega, steps, project):
        lam = float(self.lam)
        gamma, L = 1.0 / lam, Y.shape[0]
        state, objs = None, []
        Xh = Y
        for t0 in range(0, max(len(steps), 1), self.denoise_every):
            Xh, state = _dr_denoise(Y, omega, lam, self.n_denoise_iter, 0.0, gamma, state)
            fid = 0.5 * lam * np.sum((Y - Xh) ** 2) / L
            chunk = steps[t0 : t0 + self.denoise_every]
            om, o = _steps(Xh[None], omega[None], chunk, project, self._callback(), t0, fid)
            omega = om[0]
            objs.append(o[:-1, 0] + fid)
        omega = self._finish(omega)
        self.X_denoised_ = Xh
        fid = 0.5 * lam * np.sum((Y - Xh) ** 2) / L
        objs = np.concatenate(objs)[: len(steps)] if objs else np.empty(0)
        return omega, np.r_[objs, analysis_objective(Xh, omega) + fid]

    def transform(self, X):
        """Analysis coefficients ``X @ operator_.T`` (n_samples, n_components)."""
        check_is_fitted(self, "operator_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return (X @ self.operator_.T).astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Signals from analysis coefficients: ``X @ pinv(operator_).T``; for a tight frame
        ``pinv(operator_) = operator_.T``, so ``inverse_transform(transform(Y)) = Y``."""
        check_is_fitted(self, "operator_")
        X = check_array(X, "X", dtype=None)
        if X.dtype.kind not in "fiub":
            raise ValueError(f"X must be a real array, got dtype {X.dtype}")
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        if X.shape[1] != self.operator_.shape[0]:
            raise ValueError(f"X must have {self.operator_.shape[0]} columns, got {X.shape[1]}")
        return (X @ np.linalg.pinv(self.operator_).T).astype(dtype, copy=False)

    def denoise(self, X, lam=None, max_iter: int = 1000, tol: float = 1e-8):
        """Analysis-l1 denoising of ``X`` with the learned operator (:func:`analysis_denoise`);
        ``lam`` defaults to the estimator's ``lam``."""
        check_is_fitted(self, "operator_")
        lam = self.lam if lam is None else lam
        if lam is None:
            raise ValueError("lam must be given: the estimator was fitted on clean signals")
        return analysis_denoise(X, self.operator_, lam, max_iter=max_iter, tol=tol)


def operator_recovery(omega_true, omega_est, threshold: float = 0.99) -> float:
    r"""Fraction of the rows of ``omega_true`` recovered by a row of ``omega_est``.

    Row :math:`i` counts as recovered when :math:`\max_j |\cos(\omega_i, \hat\omega_j)| >
    \text{threshold}` (rows are identifiable up to sign and permutation only; as in the
    paper, the matching is not one-to-one).

    Examples
    --------
    >>> omega = random_untf(6, 4, random_state=0)
    >>> operator_recovery(omega, -2 * omega[::-1])
    1.0
    >>> operator_recovery(omega, omega[:3])
    0.5
    """
    A = check_array(omega_true, "omega_true")
    B = check_array(omega_est, "omega_est")
    if A.shape[1] != B.shape[1]:
        raise ValueError(
            f"omega_true and omega_est must have the same n_features, got {A.shape} and {B.shape}"
        )
    threshold = check_float(threshold, "threshold", low=0.0, high=1.0)
    na = np.linalg.norm(A, axis=1, keepdims=True)
    nb = np.linalg.norm(B, axis=1, keepdims=True)
    if np.any(na == 0):
        raise ValueError("omega_true has a zero row")
    cos = np.abs((A / na) @ (B / np.maximum(nb, _TINY)).T)
    return float(np.mean(cos.max(axis=1) > threshold))


def finite_difference_operator(patch_size: int) -> np.ndarray:
    r"""Horizontal and vertical first differences on a square patch (row-major pixels).

    The fixed analysis operator of (anisotropic) total variation, shape
    :math:`(2p(p-1), p^2)`; constants are in its null space, so it is not a frame.

    Examples
    --------
    >>> D = finite_difference_operator(3)
    >>> D.shape, bool(np.allclose(D @ np.ones(9), 0))
    ((12, 9), True)
    """
    p = check_int(patch_size, "patch_size", low=2)
    check_elements(2 * p**4, "2 * patch_size ** 4")
    d = np.diff(np.eye(p), axis=0)  # (p - 1, p)
    eye = np.eye(p)
    return np.vstack([np.kron(eye, d), np.kron(d, eye)])
