r"""Analysis operator learning under the UNTF constraint (cosparse signal model).

Yaghoobi, Nam, Gribonval & Davies, "Constrained Overcomplete Analysis Operator Learning
for Cosparse Signal Modelling", IEEE Trans. Signal Processing 61(9), 2013
(arXiv:1205.4133).

Convention (scikit-learn's): signals are rows, ``X`` is (n_samples, n_features) and the
operator :math:`\Omega` is (n_rows, n_features) with n_rows >= n_features, so the analysis
coefficients are ``X @ omega.T``. The paper writes signals as columns, :math:`\Omega Y`.

**Cosparse model.** A signal :math:`x` has cosparsity :math:`\ell` when :math:`\ell` rows of
:math:`\Omega` are orthogonal to it: :math:`x \in \operatorname{null}(\Omega_\Lambda)`,
:math:`|\Lambda| = \ell`, a subspace of dimension :math:`n - \ell` for rows in general
position (:func:`cosparse_signals`).

**Learning problem** (the paper's constrained :math:`\ell_1` criterion, normalised here by
the number of samples :math:`L`):

.. math:: \min_\Omega \; f(\Omega) = \frac{1}{L}\sum_{j} \|\Omega x_j\|_1
          \quad\text{s.t.}\quad \Omega \in \mathrm{UNTF} =
          \{\Omega^\top\Omega = I_n,\ \|\omega_i\|_2 = \sqrt{n/m}\ \forall i\}.

The uniformly normalised tight frame (UNTF) constraint rules out the trivial minimisers
that weaker constraints admit: :math:`\Omega = 0` without a constraint, repeated rows with
unit-norm rows only, and an orthobasis padded with (near) zero rows with a tight frame only
(:data:`CONSTRAINTS` lets a notebook swap the constraint).

**Projected subgradient** (:class:`AnalysisOperatorLearning`, clean signals): with
:math:`G = \operatorname{sign}(X\Omega^\top)^\top X` (:math:`\operatorname{sign}(0) = 0`),

.. math:: \Omega \leftarrow P_{\mathrm{UNTF}}\bigl(\Omega - \eta_t\, G / \|G\|_F\bigr),

a normalised step. :math:`P_{\mathrm{UNTF}}` is approximated by alternating the two exact
projections (:func:`untf_projection`): :math:`P_{\mathrm{TF}}(\Omega) = UV^\top` from the thin
SVD :math:`\Omega = U\Sigma V^\top` (the nearest matrix with :math:`\Omega^\top\Omega = I`;
inside the learner, where the iterate is already near a tight frame, the same polar factor
is computed by a few Newton-Schulz steps, cheaper than an SVD) and :math:`P_{\mathrm{UN}}`,
which rescales every row to :math:`\sqrt{n/m}`. One round per step; the output gets a full
projection (both constraints to about 1e-12).

**Noisy signals.** The paper learns from noisy data :math:`Y` by minimising
:math:`\|\Omega X\|_1 + \frac{\lambda}{2}\|Y - X\|_F^2` over :math:`(\Omega, X)`, alternating the
operator step above with the convex analysis-:math:`\ell_1` denoising step in :math:`X`
(:func:`analysis_denoise`), which we solve by Douglas-Rachford splitting of
:math:`\|u\|_1 + \frac{\lambda}{2}\|x - y\|^2` and the constraint :math:`u = \Omega x`, for
every signal at once.

The exact step-size schedule, number of projection rounds and stopping rule of the paper
are not reproduced to the letter (see the paper card); the defaults here (a constant
normalised step followed by a decaying one, one projection round per step) were chosen
on the synthetic recovery experiment.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from parsimony._validation import (
    check_array,
    check_choice,
    check_float,
    check_int,
    check_random_state,
)

_TINY = 1e-300


# ----------------------------------------------------------------------------- projections
def _p_tf(omega: np.ndarray) -> np.ndarray:
    """Nearest tight frame (Omega^T Omega = I) of one operator or a stack of operators."""
    U, _, Vt = np.linalg.svd(omega, full_matrices=False)
    return U @ Vt


def _p_tf_near(omega: np.ndarray, tol: float = 1e-14, max_iter: int = 12) -> np.ndarray:
    """The same projection for operators already near a tight frame (Newton-Schulz).

    The iteration ``X <- X (3I - X^T X) / 2`` converges quadratically to the polar factor
    ``U V^T`` when ``||X^T X - I||_2 < 1``; it costs two small matrix products per step
    where a (batched) SVD is several times slower. Falls back to the SVD when the start
    is too far (``||X^T X - I||_inf >= 0.9``, a bound on the spectral norm of the symmetric
    residual) or ``max_iter`` steps do not reach ``tol``.
    """
    n = omega.shape[-1]
    eye = np.eye(n)
    X = omega
    for k in range(max_iter):
        G = np.swapaxes(X, -1, -2) @ X
        E = G - eye
        if k == 0 and np.abs(E).sum(axis=-1).max() >= 0.9:
            break
        if np.abs(E).max() <= tol:
            return X
        X = X @ (eye - 0.5 * E)
    return _p_tf(omega)


def _p_un(omega: np.ndarray) -> np.ndarray:
    """Rescale every row to norm sqrt(n/m); zero rows get a fixed direction."""
    m, n = omega.shape[-2:]
    norms = np.linalg.norm(omega, axis=-1, keepdims=True)
    zero = norms <= _TINY
    if np.any(zero):  # a zero row has no nearest point: take e_1 (deterministic)
        omega = np.where(zero, np.eye(1, n), omega)
        norms = np.where(zero, 1.0, norms)
    return omega * (np.sqrt(n / m) / norms)


def _p_untf(omega: np.ndarray, n_rounds: int) -> np.ndarray:
    for _ in range(n_rounds):
        omega = _p_tf_near(_p_un(omega))
    return omega


def _check_operator(omega, name: str = "omega") -> np.ndarray:
    omega = check_array(omega, name, min_rows=1, min_cols=1)
    m, n = omega.shape
    if m < n:
        raise ValueError(
            f"{name} must have n_rows >= n_cols (an overcomplete or square operator), "
            f"got shape {omega.shape}"
        )
    return omega


def constraint_residuals(omega) -> tuple[float, float]:
    r"""How far ``omega`` is from the UNTF set.

    Returns
    -------
    tight_frame : float
        :math:`\max_{ij} |(\Omega^\top\Omega - I)_{ij}|`.
    unit_norm : float
        :math:`\max_i |\|\omega_i\|_2 - \sqrt{n/m}|`.

    Examples
    --------
    >>> constraint_residuals(np.eye(3))
    (0.0, 0.0)
    """
    omega = check_array(omega, "omega")
    m, n = omega.shape
    tf = float(np.abs(omega.T @ omega - np.eye(n)).max())
    un = float(np.abs(np.linalg.norm(omega, axis=1) - np.sqrt(n / m)).max())
    return tf, un


def tight_frame_projection(omega) -> np.ndarray:
    r"""Nearest tight frame in Frobenius norm: :math:`P_{\mathrm{TF}}(\Omega) = UV^\top`.

    The polar factor of the thin SVD :math:`\Omega = U\Sigma V^\top`; the result satisfies
    :math:`\Omega^\top\Omega = I_n` and the map is idempotent.

    Examples
    --------
    >>> P = tight_frame_projection(np.random.default_rng(0).standard_normal((6, 3)))
    >>> bool(np.allclose(P.T @ P, np.eye(3)))
    True
    """
    return _p_tf(_check_operator(omega))


def unit_norm_projection(omega) -> np.ndarray:
    r"""Rescale every row to the UNTF norm :math:`\sqrt{n/m}` (zero rows become
    :math:`\sqrt{n/m}\,e_1`).

    Examples
    --------
    >>> P = unit_norm_projection(np.ones((4, 2)))
    >>> np.linalg.norm(P, axis=1).round(6).tolist()
    [0.707107, 0.707107, 0.707107, 0.707107]
    """
    return _p_un(_check_operator(omega))


def untf_projection(omega, n_rounds: int = 500, tol: float = 1e-12) -> np.ndarray:
    r"""Approximate projection onto the UNTF set by alternating projections.

    Alternates :math:`P_{\mathrm{UN}}` and :math:`P_{\mathrm{TF}}`, ending on
    :math:`P_{\mathrm{TF}}` (so :math:`\Omega^\top\Omega = I` holds to machine precision),
    until both :func:`constraint_residuals` are below ``tol`` or ``n_rounds`` rounds have
    run. The UNTF set is not convex and this is the usual heuristic (Tropp, Dhillon,
    Heath & Strohmer 2005); it converges quickly from generic starting points.

    Parameters
    ----------
    omega : array (n_rows, n_cols), n_rows >= n_cols
    n_rounds : int
        Maximum number of (unit-norm, tight-frame) rounds; 0 returns a copy.
    tol : float
        Stop when both residuals are at most ``tol``.

    Examples
    --------
    >>> P = untf_projection(np.random.default_rng(0).standard_normal((6, 4)))
    >>> max(constraint_residuals(P)) < 1e-10
    True
    """
    omega = _check_operator(omega)
    n_rounds = check_int(n_rounds, "n_rounds", low=0)
    tol = check_float(tol, "tol", low=0.0)
    out = omega.copy()
    for _ in range(n_rounds):
        if max(constraint_residuals(out)) <= tol:
            break
        out = _p_tf(_p_un(out))
    return out


#: constraint name -> projection used by :class:`AnalysisOperatorLearning` (one round)
CONSTRAINTS = {
    "untf": lambda omega: _p_untf(omega, 1),
    "tight_frame": _p_tf,
    "unit_norm": _p_un,
}


def random_untf(n_rows: int, n_cols: int, random_state=None) -> np.ndarray:
    """A random UNTF: a Gaussian matrix followed by alternating projections.

    Parameters
    ----------
    n_rows, n_cols : int
        Shape (m, n) of the operator, m >= n.
    random_state : None, int or numpy Generator

    Returns
    -------
    omega : ndarray (n_rows, n_cols)
        Both UNTF constraints hold to about 1e-12.

    Examples
    --------
    >>> omega = random_untf(24, 16, random_state=0)
    >>> max(constraint_residuals(omega)) < 1e-10
    True
    """
    n_rows = check_int(n_rows, "n_rows", low=1)
    n_cols = check_int(n_cols, "n_cols", low=1)
    if n_rows < n_cols:
        raise ValueError(f"n_rows must be >= n_cols={n_cols} for a tight frame, got {n_rows}")
    rng = check_random_state(random_state)
    return untf_projection(rng.standard_normal((n_rows, n_cols)), n_rounds=2000)


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
    omega : array (n_rows, n_features)
    n_samples : int
    cosparsity : int in [1, n_features - 1]
        Number of rows orthogonal to each clean signal.
    noise : float >= 0
    random_state : None, int or numpy Generator
    return_cosupport : bool
        Also return the boolean cosupports (n_samples, n_rows).

    Returns
    -------
    X : ndarray (n_samples, n_features)
    cosupport : ndarray of bool (n_samples, n_rows), only if ``return_cosupport``

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
    x, n_done = None, 0
    while n_done < n_iter:
        x_new = (zx + zu @ omega) @ M  # P_graph(z)
        u = x_new @ omega.T
        # prox of gamma F at the reflection 2 p - z
        zx = zx + ((2 * x_new - zx) + gamma * lam * Y) / (1 + gamma * lam) - x_new
        zu = zu + _soft(2 * u - zu, gamma) - u
        n_done += 1
        converged = x is not None and np.linalg.norm(x_new - x) <= tol * scale
        x = x_new
        if converged:
            break
    return x, (zx, zu), n_done


def analysis_denoise(X, omega, lam: float, n_iter: int = 1000, tol: float = 1e-8, gamma=None):
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
    omega : array (n_rows, n_features)
    lam : float > 0
        Weight of the data term (larger keeps more of ``X``).
    n_iter : int
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
    n_iter = check_int(n_iter, "n_iter", low=1)
    tol = check_float(tol, "tol", low=0.0)
    gamma = (
        1.0 / lam if gamma is None else check_float(gamma, "gamma", low=0.0, low_inclusive=False)
    )
    return _dr_denoise(X, omega, lam, n_iter, tol, gamma)[0]


# ----------------------------------------------------------------------------- learning
#: step-size rules: t is the iteration (0-based), T the number of iterations
STEP_RULES = ("polish", "constant", "inv_sqrt")

_POLISH_START = 0.75  # "polish": constant for the first 75 % of the iterations ...
_POLISH_END = 1e-2  # ... then a geometric decay to 1 % of the step


def step_sizes(step: float, n_iter: int, step_rule: str = "polish") -> np.ndarray:
    r"""The normalised step sizes :math:`\eta_t` of the projected subgradient method.

    ``"constant"``: :math:`\eta_t = \eta`. ``"inv_sqrt"``: :math:`\eta/\sqrt{t+1}`.
    ``"polish"`` (default): constant for the first 75 % of the iterations, then a geometric
    decay to :math:`\eta/100`, so the iterate settles on the local minimum it found.

    Examples
    --------
    >>> step_sizes(0.1, 4, "inv_sqrt").round(4).tolist()
    [0.1, 0.0707, 0.0577, 0.05]
    >>> step_sizes(0.1, 8).round(4).tolist()
    [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.01, 0.001]
    """
    step = check_float(step, "step", low=0.0, low_inclusive=False)
    n_iter = check_int(n_iter, "n_iter", low=0)
    step_rule = check_choice(step_rule, "step_rule", STEP_RULES)
    t = np.arange(n_iter)
    if step_rule == "constant":
        return np.full(n_iter, step)
    if step_rule == "inv_sqrt":
        return step / np.sqrt(t + 1.0)
    k = int(np.ceil(_POLISH_START * n_iter))
    tail = np.geomspace(1.0, _POLISH_END, n_iter - k + 1)[1:] if n_iter > k else np.empty(0)
    return step * np.r_[np.ones(k), tail]


def _subgradient_steps(X, omega, steps, project, callback=None, t0=0):
    """Projected normalised subgradient steps on a stack of problems.

    X (B, L, n), omega (B, m, n); returns the last iterate and the objective before each
    step, shape (len(steps), B).
    """
    L = X.shape[-2]
    objs = np.empty((len(steps), X.shape[0]))
    Xt = np.swapaxes(X, -1, -2)
    for t, eta in enumerate(steps):
        C = X @ np.swapaxes(omega, -1, -2)  # (B, L, m) analysis coefficients
        objs[t] = np.abs(C).sum(axis=(-1, -2)) / L
        if callback is not None:
            callback(t0 + t, objs[t], omega)
        G = np.swapaxes(Xt @ np.sign(C), -1, -2)  # sign(C)^T X, (B, m, n)
        gnorm = np.linalg.norm(G, axis=(-1, -2), keepdims=True)
        omega = project(omega - eta * G / np.maximum(gnorm, _TINY))
    return omega, objs


def _finish(omega: np.ndarray, constraint: str) -> np.ndarray:
    if constraint == "untf":
        return untf_projection(omega)
    return CONSTRAINTS[constraint](omega)


class AnalysisOperatorLearning(TransformerMixin, BaseEstimator):
    r"""Learn an overcomplete analysis operator by constrained :math:`\ell_1` minimisation.

    Clean signals (``lam=None``): the projected subgradient method with normalised steps,

    .. math:: \Omega \leftarrow P_{\mathcal C}\bigl(\Omega - \eta_t G/\|G\|_F\bigr), \quad
              G = \operatorname{sign}(X\Omega^\top)^\top X ,

    minimising :math:`f(\Omega) = \frac1L \|X\Omega^\top\|_1` over the constraint set
    :math:`\mathcal C` (UNTF by default). Noisy signals (``lam`` set): alternate the
    operator step on the current clean estimate :math:`\hat X` with the analysis-
    :math:`\ell_1` denoising of the data :math:`Y` (Douglas-Rachford, warm-started,
    ``n_denoise_iter`` iterations every ``denoise_every`` operator steps), which decreases
    :math:`\frac1L(\|\hat X\Omega^\top\|_1 + \frac{\lambda}{2}\|Y - \hat X\|_F^2)`.

    Parameters
    ----------
    n_rows : int
        Number of rows m of the operator (m >= n_features).
    constraint : {"untf", "tight_frame", "unit_norm"}
        The constraint set; the weaker two admit the degenerate minimisers the paper rules
        out (kept for the ablation).
    n_iter : int
        Operator steps.
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
    init : array (n_rows, n_features) or None
        Initial operator; ``None`` draws a random UNTF (:func:`random_untf`).
    random_state : None, int or numpy Generator
    callback : callable or None
        Called before each operator step as ``callback(iteration, objective, operator)``.

    Attributes
    ----------
    operator_ : ndarray (n_rows, n_features)
        The learned operator, on the constraint set (UNTF residuals below 1e-12).
    init_ : ndarray (n_rows, n_features)
        The initial operator.
    objective_ : ndarray (n_iter + 1,)
        The objective before each step and at ``operator_``.
    X_denoised_ : ndarray (n_samples, n_features)
        The clean estimate :math:`\hat X` (noisy variant only).
    n_iter_ : int

    Examples
    --------
    >>> omega = random_untf(12, 8, random_state=0)
    >>> X = cosparse_signals(omega, 200, 6, random_state=0)
    >>> est = AnalysisOperatorLearning(12, n_iter=1000, random_state=0).fit(X)
    >>> operator_recovery(omega, est.operator_)
    1.0
    """

    def __init__(
        self,
        n_rows,
        constraint="untf",
        n_iter=2000,
        step=0.1,
        step_rule="polish",
        lam=None,
        denoise_every=10,
        n_denoise_iter=10,
        init=None,
        random_state=None,
        callback=None,
    ):
        self.n_rows = n_rows
        self.constraint = constraint
        self.n_iter = n_iter
        self.step = step
        self.step_rule = step_rule
        self.lam = lam
        self.denoise_every = denoise_every
        self.n_denoise_iter = n_denoise_iter
        self.init = init
        self.random_state = random_state
        self.callback = callback

    def _validate(self, X):
        X = check_array(X, "X", min_rows=1, min_cols=1)
        n = X.shape[1]
        m = check_int(self.n_rows, "n_rows", low=1)
        if m < n:
            raise ValueError(
                f"n_rows must be >= n_features={n} (an overcomplete operator), got {m}"
            )
        check_choice(self.constraint, "constraint", CONSTRAINTS)
        steps = step_sizes(self.step, self.n_iter, self.step_rule)
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
        omega = init.copy()
        if self.lam is None:
            omega, objs = _subgradient_steps(X[None], omega[None], steps, project, self._cb)
            omega = _finish(omega[0], self.constraint)
            final = analysis_objective(X, omega)
            objs = objs[:, 0]
        else:
            omega, objs, final = self._fit_noisy(X, omega, steps, project)
        self.init_ = init
        self.operator_ = omega
        self.objective_ = np.r_[objs, final]
        self.n_iter_ = len(steps)
        return self

    def _cb(self, t, obj, omega):
        if self.callback is not None:
            self.callback(t, float(obj[0]), omega[0])

    def _fit_noisy(self, Y, omega, steps, project):
        lam = float(self.lam)
        gamma, L = 1.0 / lam, Y.shape[0]
        state, objs = None, []
        Xh = Y
        for t0 in range(0, max(len(steps), 1), self.denoise_every):
            Xh, state, _ = _dr_denoise(Y, omega, lam, self.n_denoise_iter, 0.0, gamma, state)
            fid = 0.5 * lam * np.sum((Y - Xh) ** 2) / L
            chunk = steps[t0 : t0 + self.denoise_every]
            om, o = _subgradient_steps(Xh[None], omega[None], chunk, project, self._cb, t0)
            omega = om[0]
            objs.append(o[:, 0] + fid)
        omega = _finish(omega, self.constraint)
        self.X_denoised_ = Xh
        fid = 0.5 * lam * np.sum((Y - Xh) ** 2) / L
        objs = np.concatenate(objs)[: len(steps)] if objs else np.empty(0)
        return omega, objs, analysis_objective(Xh, omega) + fid

    def transform(self, X):
        """Analysis coefficients ``X @ operator_.T`` (n_samples, n_rows)."""
        X = check_array(X, "X")
        if X.shape[1] != self.operator_.shape[1]:
            raise ValueError(f"X must have {self.operator_.shape[1]} features, got {X.shape[1]}")
        return X @ self.operator_.T

    def denoise(self, X, lam=None, n_iter: int = 1000, tol: float = 1e-8):
        """Analysis-l1 denoising of ``X`` with the learned operator (:func:`analysis_denoise`);
        ``lam`` defaults to the estimator's ``lam``."""
        lam = self.lam if lam is None else lam
        if lam is None:
            raise ValueError("lam must be given: the estimator was fitted on clean signals")
        return analysis_denoise(X, self.operator_, lam, n_iter=n_iter, tol=tol)


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
    d = np.diff(np.eye(p), axis=0)  # (p - 1, p)
    eye = np.eye(p)
    return np.vstack([np.kron(eye, d), np.kron(d, eye)])


# ----------------------------------------------------------------------------- experiments
def operator_diagnostics(omega, zero_tol: float = 0.1, duplicate_tol: float = 0.99) -> dict:
    r"""Symptoms of the degenerate operators that weak constraints admit.

    Parameters
    ----------
    omega : array (n_rows, n_features)
    zero_tol : float
        A row counts as (near) zero when its norm is below ``zero_tol`` times the UNTF
        norm :math:`\sqrt{n/m}`.
    duplicate_tol : float
        Two nonzero rows are duplicates when :math:`|\cos| >` ``duplicate_tol``.

    Returns
    -------
    dict
        ``row_norm_min``, ``row_norm_max``, ``n_zero_rows``, ``coherence`` (largest
        :math:`|\cos|` between two distinct nonzero rows), ``n_duplicate_pairs``,
        ``frame_bounds`` (smallest and largest eigenvalue of :math:`\Omega^\top\Omega`),
        ``tight_frame_residual`` and ``unit_norm_residual`` (:func:`constraint_residuals`).

    Examples
    --------
    >>> d = operator_diagnostics(np.vstack([np.eye(2), np.eye(2), np.zeros((1, 2))]))
    >>> d["n_zero_rows"], d["n_duplicate_pairs"], np.round(d["frame_bounds"], 9).tolist()
    (1, 2, [2.0, 2.0])
    """
    omega = check_array(omega, "omega")
    zero_tol = check_float(zero_tol, "zero_tol", low=0.0)
    duplicate_tol = check_float(duplicate_tol, "duplicate_tol", low=0.0, high=1.0)
    m, n = omega.shape
    norms = np.linalg.norm(omega, axis=1)
    nonzero = norms >= zero_tol * np.sqrt(n / m)
    U = omega[nonzero] / norms[nonzero, None]
    G = np.abs(U @ U.T)
    iu = np.triu_indices(len(U), k=1)
    s = np.linalg.svd(omega, compute_uv=False)
    tf, un = constraint_residuals(omega)
    return {
        "row_norm_min": float(norms.min()),
        "row_norm_max": float(norms.max()),
        "n_zero_rows": int(np.sum(~nonzero)),
        "coherence": float(G[iu].max()) if len(iu[0]) else 0.0,
        "n_duplicate_pairs": int(np.sum(G[iu] > duplicate_tol)),
        "frame_bounds": [float(s.min() ** 2), float(s.max() ** 2)],
        "tight_frame_residual": tf,
        "unit_norm_residual": un,
    }


def _recovery_stack(true, est, threshold):
    A = true / np.linalg.norm(true, axis=-1, keepdims=True)
    B = est / np.maximum(np.linalg.norm(est, axis=-1, keepdims=True), _TINY)
    cos = np.abs(A @ np.swapaxes(B, -1, -2))
    return np.mean(cos.max(axis=-1) > threshold, axis=-1)


def planted_recovery(
    n_rows: int,
    n_features: int,
    cosparsities,
    n_samples_list,
    n_trials: int,
    n_iter: int = 2000,
    step: float = 0.1,
    step_rule: str = "polish",
    record_every: int = 50,
    threshold: float = 0.99,
    random_state: int = 0,
):
    r"""Recovery of planted random UNTF operators from clean cosparse signals.

    For every cosparsity :math:`\ell`, training-set size :math:`L` and trial, draws a planted
    operator (:func:`random_untf`), :math:`L` signals (:func:`cosparse_signals`) and a
    random UNTF initialisation, runs the projected subgradient method of
    :class:`AnalysisOperatorLearning` and measures :func:`operator_recovery`. All
    :math:`(\ell, \text{trial})` problems of one :math:`L` run as one batched iteration
    (stacked matrix products and SVDs). Each (:math:`\ell`, :math:`L`, trial) draws from its
    own seed, so a cell does not depend on the rest of the grid.

    Returns
    -------
    records : list of dict
        One per :math:`(\ell, L)`: ``cosparsity, n_samples, n_trials, recovered`` (mean
        fraction), ``recovered_trials``, ``objective_ratio`` (mean over trials of
        :math:`f(\hat\Omega) / f(\Omega_0)` on the training set), ``objective_ratio_max``,
        ``untf_residual`` (largest constraint residual of the outputs).
    curves : list of dict
        One per :math:`(\ell, L)` and recorded iteration: ``cosparsity, n_samples,
        iteration, recovered, objective_ratio`` (means over trials; the last point is the
        final, projected operator).

    Examples
    --------
    >>> rec, _ = planted_recovery(12, 8, [6], [200], n_trials=2, n_iter=500)
    >>> rec[0]["recovered"]
    1.0
    """
    m = check_int(n_rows, "n_rows", low=1)
    n = check_int(n_features, "n_features", low=1)
    if m < n:
        raise ValueError(f"n_rows must be >= n_features={n}, got {m}")
    ells = [check_int(ell, "cosparsity", low=1, high=n - 1) for ell in cosparsities]
    Ls = [check_int(L, "n_samples", low=1) for L in n_samples_list]
    n_trials = check_int(n_trials, "n_trials", low=1)
    record_every = check_int(record_every, "record_every", low=1)
    threshold = check_float(threshold, "threshold", low=0.0, high=1.0)
    steps = step_sizes(step, n_iter, step_rule)
    seed = check_int(random_state, "random_state", low=0)
    project = CONSTRAINTS["untf"]
    records, curves = [], []
    for L in Ls:
        keys = [(ell, t) for ell in ells for t in range(n_trials)]
        rngs = [[np.random.default_rng([seed, ell, L, t, k]) for k in range(3)] for ell, t in keys]
        O0 = np.stack([random_untf(m, n, r[0]) for r in rngs])
        X = np.stack(
            [
                cosparse_signals(o, L, k[0], random_state=r[1])
                for o, k, r in zip(O0, keys, rngs, strict=True)
            ]
        )
        init = np.stack([random_untf(m, n, r[2]) for r in rngs])
        f0 = np.abs(X @ np.swapaxes(O0, -1, -2)).sum(axis=(-1, -2)) / L
        trace = []

        def monitor(t, obj, omega, trace=trace, O0=O0, f0=f0):
            if t % record_every == 0:
                trace.append((t, _recovery_stack(O0, omega, threshold), obj / f0))

        omega, _ = _subgradient_steps(X, init, steps, project, monitor)
        omega = np.stack([untf_projection(o) for o in omega])
        f = np.abs(X @ np.swapaxes(omega, -1, -2)).sum(axis=(-1, -2)) / L
        trace.append((len(steps), _recovery_stack(O0, omega, threshold), f / f0))
        rec = _recovery_stack(O0, omega, threshold)
        resid = np.array([max(constraint_residuals(o)) for o in omega])
        for ell in ells:
            sel = np.array([k[0] == ell for k in keys])
            records.append(
                {
                    "cosparsity": ell,
                    "n_samples": L,
                    "n_trials": n_trials,
                    "recovered": float(rec[sel].mean()),
                    "recovered_trials": rec[sel].tolist(),
                    "objective_ratio": float((f / f0)[sel].mean()),
                    "objective_ratio_max": float((f / f0)[sel].max()),
                    "untf_residual": float(resid[sel].max()),
                }
            )
            curves += [
                {
                    "cosparsity": ell,
                    "n_samples": L,
                    "iteration": t,
                    "recovered": float(r[sel].mean()),
                    "objective_ratio": float(q[sel].mean()),
                }
                for t, r, q in trace
            ]
    return records, curves


def patch_denoising_psnr(denoise, grid, noisy, clean, data_range: float = 1.0) -> np.ndarray:
    r"""PSNR of a patch denoiser for every value of its parameter.

    Each noisy patch is centred, denoised by ``denoise(centred, value)`` and its mean is
    added back (the mean is estimated from the noisy patch, as for every method compared).
    The PSNR is computed over all patches at once.

    Parameters
    ----------
    denoise : callable ``(X, value) -> X_hat``
    grid : sequence
        Parameter values to try.
    noisy, clean : arrays (n_patches, n_pixels)
    data_range : float
        Peak value of the clean signal.

    Returns
    -------
    psnr : ndarray (len(grid),) in dB

    Examples
    --------
    >>> clean = np.zeros((4, 4)); noisy = clean + 0.1
    >>> patch_denoising_psnr(lambda X, s: s * X, [1.0], noisy, clean).round(1).tolist()
    [20.0]
    """
    noisy = check_array(noisy, "noisy")
    clean = check_array(clean, "clean")
    if noisy.shape != clean.shape:
        raise ValueError(
            f"noisy and clean must have the same shape, got {noisy.shape} and {clean.shape}"
        )
    data_range = check_float(data_range, "data_range", low=0.0, low_inclusive=False)
    mu = noisy.mean(axis=1, keepdims=True)
    out = []
    for value in grid:
        mse = np.mean((denoise(noisy - mu, value) + mu - clean) ** 2)
        out.append(10 * np.log10(data_range**2 / max(mse, _TINY)))
    return np.array(out)


def constraint_ablation(
    n_rows: int,
    n_features: int,
    cosparsity: int,
    n_samples: int,
    n_trials: int,
    constraints=tuple(CONSTRAINTS),
    n_iter: int = 2000,
    step: float = 0.1,
    step_rule: str = "polish",
    random_state: int = 0,
):
    r"""Learn from the same planted problems under each constraint and diagnose the output.

    For each trial, draws a planted UNTF, clean cosparse signals and one random UNTF
    initialisation shared by every constraint, then runs :class:`AnalysisOperatorLearning`.

    Returns
    -------
    records : list of dict
        One per (trial, constraint): ``trial, constraint, recovered`` (:func:`operator_recovery`),
        ``objective_ratio`` (:math:`f(\hat\Omega)/f(\Omega_0)` on the training set) and the
        entries of :func:`operator_diagnostics`.
    operators : dict
        ``{"planted": Omega_0, constraint: learned operator}`` for the first trial.

    Examples
    --------
    >>> rec, ops = constraint_ablation(12, 8, 6, 200, n_trials=1, n_iter=300)
    >>> [r["constraint"] for r in rec], sorted(ops)
    (['untf', 'tight_frame', 'unit_norm'], ['planted', 'tight_frame', 'unit_norm', 'untf'])
    """
    m = check_int(n_rows, "n_rows", low=1)
    n = check_int(n_features, "n_features", low=1)
    n_trials = check_int(n_trials, "n_trials", low=1)
    seed = check_int(random_state, "random_state", low=0)
    for c in constraints:
        check_choice(c, "constraints", CONSTRAINTS)
    records, operators = [], {}
    for trial in range(n_trials):
        rngs = [np.random.default_rng([seed, trial, k]) for k in range(3)]
        omega0 = random_untf(m, n, rngs[0])
        X = cosparse_signals(omega0, n_samples, cosparsity, random_state=rngs[1])
        init = random_untf(m, n, rngs[2])
        f0 = analysis_objective(X, omega0)
        if trial == 0:
            operators["planted"] = omega0
        for c in constraints:
            est = AnalysisOperatorLearning(
                m, constraint=c, n_iter=n_iter, step=step, step_rule=step_rule, init=init
            ).fit(X)
            records.append(
                {
                    "trial": trial,
                    "constraint": c,
                    "recovered": operator_recovery(omega0, est.operator_),
                    "objective_ratio": est.objective_[-1] / f0,
                    **operator_diagnostics(est.operator_),
                }
            )
            if trial == 0:
                operators[c] = est.operator_
    return records, operators
