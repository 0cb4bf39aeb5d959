r"""Random-energy-model theory of the Gaussian KDE in large dimensions (Biroli & Mézard, 2024).

Setting: data :math:`y_1..y_n \sim \rho = \mathcal N(0, \Sigma)` iid in :math:`\mathbb R^d`, the KDE
:math:`\hat\rho_h(x) = \frac1n\sum_i \mathcal N(x; y_i, h^2 I_d)` evaluated at a fresh :math:`x\sim\rho`,
in the limit :math:`n, d\to\infty` with :math:`\alpha = (\ln n)/d` fixed and h = O(1). Writing
:math:`Z = \sum_i e^{-|x-y_i|^2/(2h^2)}`, Z is the partition function of a random-energy model (REM) with
energy :math:`u = |x-y|^2/d`, inverse temperature :math:`1/(2h^2)` and entropy :math:`\alpha - I(u)`.

Symbols (σ = 1 unless a ``sigma`` argument says otherwise; isotropic :math:`\Sigma=\sigma^2 I`):

* :math:`S(g) = \tfrac12\ln(1+g) - g/(2(1+g)^2)` — the tilted log-count per dimension, g = λσ²/h²;
* :math:`g^*(\alpha)` — the root of :math:`S(g^*) = \alpha`;
* :math:`h_G = \sigma/\sqrt{g^*}` — condensation ("glass", extreme-value) threshold;
* :math:`h_\mathrm{CLT} = \sqrt2\,h_G` — below it the fluctuations of ρ̂ are α-stable, not Gaussian;
* :math:`\mu(h,\alpha) = (h/h_G)^2` — the stable index;
* :math:`u_\min = \sigma^2[1/(1+g^*) + 1/(1+g^*)^2]` — squared nearest-neighbour distance per dimension;
* :math:`L(h)` — per-dimension typical log-likelihood :math:`\lim \frac1d \mathbb E\ln\hat\rho_h(x)`;
  :math:`\mathrm{KL}(\rho\|\hat\rho_h)/d = H_\times - L(h)`, :math:`H_\times = -\tfrac12\ln(2\pi\sigma^2)-\tfrac12`;
* :math:`h^* = \sqrt{u_\min}` — the KL-optimal bandwidth, always below :math:`h_G`.

Every formula here is the divjax spec's independent derivation (``shared/specs/kde_large_dim.md``,
tagged [DERIVED] there): the paper's text was not available, so the notation and in particular the
definition of :math:`h_\mathrm{CLT}` (μ = 2 here; the naive second-moment threshold is :func:`h_var`) must
be compared with the paper. The experiment ``kde_regimes`` tests them against brute-force KDEs.

The closed forms are ``jnp`` functions, elementwise over α and h, jit/vmap/grad-able (:func:`g_star`
has an implicit-function derivative); they compute in the input dtype (use float64 under
``jax.enable_x64(True)`` for the tables). :func:`finite_d_prediction` is the exact finite-(n, d)
prediction (spec §3.2), float64 inside.

References:
  G. Biroli & M. Mézard, *Kernel density estimators in large dimensions*, arXiv:2408.05807 (2024).
  B. Derrida, *Random-energy model: an exactly solvable model of disordered systems*, PRB 24 (1981).
  A. Bovier, I. Kurkova & M. Löwe, *Fluctuations of the free energy in the REM and the p-spin SK
  models*, Ann. Probab. 30 (2002).
  G. Ben Arous, L. Bogachev & S. Molchanov, *Limit theorems for sums of random exponentials*, PTRF 132
  (2005).
  G. H. Golub & J. H. Welsch, *Calculation of Gauss quadrature rules*, Math. Comp. 23 (1969).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate

__all__ = [
    "tilted_log_count",
    "g_star",
    "h_g",
    "h_clt",
    "h_var",
    "stable_index",
    "u_min",
    "h_star",
    "log_likelihood",
    "kl_per_dim",
    "cross_entropy_per_dim",
    "fluctuation_rate",
    "GeneralThresholds",
    "general_thresholds",
    "general_log_likelihood",
    "general_kl_per_dim",
    "gauss_laguerre",
    "ncx2_logpdf",
    "FiniteDPrediction",
    "finite_d_prediction",
    "clt_relative_sd",
]

_BISECTION_STEPS = 120


def _float(x):
  return jnp.asarray(x, dtype=jnp.result_type(x, float))


def tilted_log_count(g: jax.Array) -> jax.Array:
  r"""The tilted log-count per dimension of Gaussian data, :math:`S(g)`.

  .. math::  S(g) = \tfrac12\ln(1+g) - \frac{g}{2(1+g)^2},\qquad S'(g) = \frac{g(g+3)}{2(1+g)^3} > 0.

  Args:
    g: ``λσ²/h²`` ≥ 0, any shape.

  Returns:
    S(g), same shape; S(0) = 0 and S increases to ∞.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.2.
  """
  g = _float(g)
  return 0.5 * jnp.log1p(g) - g / (2.0 * (1.0 + g)**2)


def _bisect_log(fn, target, lo: float, hi: float):
  """Root in g of the increasing ``fn(g) = target`` by bisection in log g (elementwise, fixed steps)."""
  target = _float(target)
  a = jnp.broadcast_to(jnp.log(jnp.asarray(lo, target.dtype)), target.shape)
  b = jnp.broadcast_to(jnp.log(jnp.asarray(hi, target.dtype)), target.shape)

  def body(_, ab):
    a, b = ab
    mid = 0.5 * (a + b)
    above = fn(jnp.exp(mid)) > target
    return jnp.where(above, a, mid), jnp.where(above, mid, b)

  a, b = jax.lax.fori_loop(0, _BISECTION_STEPS, body, (a, b))
  return jnp.exp(0.5 * (a + b))


@jax.jit
def _g_star_solve(alpha):
  return _bisect_log(tilted_log_count, alpha, 1e-12, 1e12)


@jax.custom_jvp
def _g_star(alpha):
  return _g_star_solve(alpha)


@_g_star.defjvp
def _g_star_jvp(primals, tangents):
  (alpha,), (dalpha,) = primals, tangents
  g = _g_star(alpha)
  slope = g * (g + 3.0) / (2.0 * (1.0 + g)**3)  # S'(g*), implicit function theorem
  return g, dalpha / slope


def g_star(alpha: jax.Array) -> jax.Array:
  r"""The root :math:`g^*(\alpha)` of :math:`S(g^*) = \alpha` (isotropic Gaussian data).

  Bisection in log g on :math:`[10^{-12}, 10^{12}]` (fixed 120 steps, so it runs under jit/vmap);
  the derivative comes from the implicit function theorem, :math:`dg^*/d\alpha = 1/S'(g^*)`.
  Limits: :math:`g^*\approx(4\alpha/3)^{1/2}` as α → 0 and :math:`g^*\approx e^{2\alpha}` as α → ∞.

  Args:
    alpha: ``ln(n)/d`` > 0, any shape (values are checked when concrete).

  Returns:
    g*(α), same shape and float dtype.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.2.
  """
  _validate.positive("alpha", alpha)
  return _g_star(_float(alpha))


def h_g(alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""Condensation threshold :math:`h_G(\alpha) = \sigma/\sqrt{g^*(\alpha)}`.

  Below :math:`h_G` (stable index μ < 1) the KDE at a typical point is dominated by O(1) nearest data
  points (Poisson–Dirichlet weights); above it, :math:`\hat\rho \approx \mathbb E_D\hat\rho`.

  Args:
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation (isotropic), broadcast against ``alpha``.

  Returns:
    :math:`h_G`, broadcast shape.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.2.
  """
  _validate.positive("sigma", sigma)
  return sigma / jnp.sqrt(g_star(alpha))


def h_clt(alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""CLT threshold :math:`h_\mathrm{CLT} = \sqrt2\,h_G` (stable index μ = 2).

  For a Gaussian kernel the k-th moment at bandwidth h is the first moment at h/√k, so μ = (h/h_G)² and
  the variance of the summands turns finite exactly at :math:`h = \sqrt2 h_G`. (If the paper instead uses
  the annealed second-moment criterion, the threshold is :func:`h_var`.)

  Args:
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation.

  Returns:
    :math:`h_\mathrm{CLT}`.

  References:
    Biroli & Mézard, arXiv:2408.05807; Bovier, Kurkova & Löwe, Ann. Probab. 30 (2002); spec §2.1.
  """
  return jnp.sqrt(2.0) * h_g(alpha, sigma=sigma)


def _cumulant(lam_over_h2: jax.Array, sigma2: jax.Array) -> jax.Array:
  """Λ per dimension at g = λσ²/h² (x averaged over ρ): −½ln(1+g) − ½g/(1+g)."""
  g = lam_over_h2 * sigma2
  return -0.5 * jnp.log1p(g) - 0.5 * g / (1.0 + g)


def h_var(alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The naive threshold where the annealed relative variance of ρ̂ stops vanishing.

  .. math::  \mathrm{Var}(\hat\rho)/\mathbb E[\hat\rho]^2 = e^{d(\Lambda(2) - 2\Lambda(1) - \alpha)},
             \qquad \Lambda(\lambda) = -\tfrac12\ln(1+G\lambda) - \tfrac12\frac{G\lambda}{1+G\lambda},
             \ G = \sigma^2/h^2,

  so :math:`h_\mathrm{var}` solves :math:`\Lambda(2) - 2\Lambda(1) = \alpha`. It is the REM's
  :math:`\beta_c/\sqrt2` point and lies between :math:`h_G` and :math:`h_\mathrm{CLT}` (spec §2.6).

  Args:
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation.

  Returns:
    :math:`h_\mathrm{var}`.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.6.
  """
  _validate.positive("alpha", alpha)
  _validate.positive("sigma", sigma)
  return sigma / jnp.sqrt(_h_var_solve(_float(alpha)))


def _variance_excess(G):
  return _cumulant(2.0 * G, 1.0) - 2.0 * _cumulant(G, 1.0)  # increasing in G = σ²/h²


@jax.jit
def _h_var_solve(alpha):
  return _bisect_log(_variance_excess, alpha, 1e-12, 1e12)


def stable_index(h: jax.Array, alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The stable index :math:`\mu(h,\alpha) = g^*(\alpha)\,h^2/\sigma^2 = (h/h_G)^2`.

  μ > 2: Gaussian fluctuations; 1 < μ < 2: μ-stable; μ < 1: condensed.

  Args:
    h: bandwidth(s) > 0.
    alpha: ``ln(n)/d`` > 0, broadcast against ``h``.
    sigma: the data standard deviation.

  Returns:
    μ, broadcast shape.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.1–2.2.
  """
  _validate.positive("h", h)
  return (h / h_g(alpha, sigma=sigma))**2


def u_min(alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""Squared nearest-neighbour distance per dimension, :math:`u_\min = \sigma^2[1/(1+g^*) + 1/(1+g^*)^2]`.

  Limits: :math:`u_\min\to2\sigma^2` as α → 0 and :math:`\approx\sigma^2e^{-2\alpha}` as α → ∞.

  Args:
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation.

  Returns:
    :math:`u_\min`.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.2.
  """
  _validate.positive("sigma", sigma)
  q = 1.0 / (1.0 + g_star(alpha))
  return sigma**2 * (q + q * q)


def h_star(alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The KL-optimal bandwidth :math:`h^* = \sqrt{u_\min(\alpha)}`.

  :math:`h^*/h_G = \sqrt{g^*(2+g^*)}/(1+g^*) < 1`: the optimum lies in the condensed (extreme-value)
  regime, where the KDE width equals the nearest-neighbour distance per dimension.

  Args:
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation.

  Returns:
    :math:`h^*`.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.3.
  """
  return jnp.sqrt(u_min(alpha, sigma=sigma))


def cross_entropy_per_dim(*, sigma: jax.Array = 1.0) -> jax.Array:
  r""":math:`H_\times = \frac1d\mathbb E\ln\rho(x) = -\tfrac12\ln(2\pi\sigma^2) - \tfrac12` for ρ = N(0, σ²I)."""
  return -0.5 * jnp.log(2.0 * jnp.pi * jnp.asarray(sigma, float)**2) - 0.5


def log_likelihood(h: jax.Array, alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""Per-dimension typical log-likelihood :math:`L(h) = \lim\frac1d\mathbb E_x\ln\hat\rho_h(x)`.

  .. math::
     L(h) = \begin{cases}
       -\tfrac12\ln(2\pi(\sigma^2+h^2)) - \frac{\sigma^2}{2(\sigma^2+h^2)} & h \ge h_G \text{ (annealed)}\\
       -\tfrac12\ln(2\pi h^2) - \alpha - \frac{u_\min(\alpha)}{2h^2} & h < h_G \text{ (condensed)}
     \end{cases}

  L and dL/dh are continuous at :math:`h_G` (a second-order transition, as in the REM).

  Args:
    h: bandwidth(s) > 0.
    alpha: ``ln(n)/d`` > 0, broadcast against ``h``.
    sigma: the data standard deviation.

  Returns:
    L(h) in nats per dimension, broadcast shape.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.3.
  """
  _validate.positive("h", h)
  _validate.positive("sigma", sigma)
  h = _float(h)
  s2 = jnp.asarray(sigma, h.dtype)**2
  annealed = -0.5 * jnp.log(2.0 * jnp.pi * (s2 + h * h)) - 0.5 * s2 / (s2 + h * h)
  condensed = -0.5 * jnp.log(2.0 * jnp.pi * h * h) - alpha - u_min(alpha, sigma=sigma) / (2.0 * h * h)
  return jnp.where(h >= h_g(alpha, sigma=sigma), annealed, condensed)


def kl_per_dim(h: jax.Array, alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r""":math:`\mathrm{KL}(\rho\,\|\,\hat\rho_h)/d = H_\times - L(h)` (see :func:`log_likelihood`).

  At the optimum :math:`h^*`: :math:`\mathrm{KL}^*/d = \alpha + \tfrac12\ln(u_\min/\sigma^2)`, which tends
  to ½ ln 2 as α → 0.

  Args:
    h: bandwidth(s) > 0.
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation.

  Returns:
    KL per dimension in nats.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.3.
  """
  return cross_entropy_per_dim(sigma=sigma) - log_likelihood(h, alpha, sigma=sigma)


def fluctuation_rate(h: jax.Array, alpha: jax.Array) -> jax.Array:
  r"""Decay rate κ of the data-set fluctuations of ρ̂(x) at fixed typical x, σ = 1 (spec §2.5).

  The relative fluctuation scale of ρ̂(x) is :math:`\approx e^{-\kappa d}` with

  .. math::
     \kappa = \begin{cases} \alpha/2 + \Lambda(1) - \Lambda(2)/2 & h > h_\mathrm{CLT}\\
                             \alpha + \Lambda(1) + u_\min/(2h^2) & h_G < h < h_\mathrm{CLT}\\
                             0 & h < h_G, \end{cases}
     \qquad \Lambda(\lambda) = -\tfrac12\ln(1+\lambda/h^2) - \tfrac12\frac{\lambda/h^2}{1+\lambda/h^2}.

  Args:
    h: bandwidth(s) > 0.
    alpha: ``ln(n)/d`` > 0.

  Returns:
    κ ≥ 0 (0 in the condensed phase).

  References:
    Biroli & Mézard, arXiv:2408.05807; Bovier, Kurkova & Löwe (2002); divjax spec §2.5.
  """
  _validate.positive("h", h)
  h = _float(h)
  G = 1.0 / (h * h)
  lam1, lam2 = _cumulant(G, 1.0), _cumulant(2.0 * G, 1.0)
  clt = alpha / 2.0 + lam1 - lam2 / 2.0
  stable = alpha + lam1 + u_min(alpha) / (2.0 * h * h)
  mu = stable_index(h, alpha)
  return jnp.where(mu >= 2.0, clt, jnp.where(mu >= 1.0, stable, 0.0))


# ---------------------------------------------------------------------------------------------------
# General covariance.


class GeneralThresholds(NamedTuple):
  """Thresholds for data N(0, Σ) with eigenvalues σ_k² (see :func:`general_thresholds`)."""
  c: jax.Array        # root of (1/d) Σ_k S(c σ_k²) = α; μ = c h²
  h_g: jax.Array      # 1/√c
  h_clt: jax.Array    # √2/√c
  u_min: jax.Array    # (1/d) Σ_k σ_k² [1/(1+cσ_k²) + 1/(1+cσ_k²)²]
  h_star: jax.Array   # √u_min


def general_thresholds(alpha: jax.Array, variances: jax.Array) -> GeneralThresholds:
  r"""Condensation/CLT thresholds and the optimal bandwidth for data :math:`\mathcal N(0,\Sigma)`.

  .. math::  \frac1d\sum_k S(c\,\sigma_k^2) = \alpha,\qquad h_G = c^{-1/2},\quad h_\mathrm{CLT} = \sqrt2\,h_G,
             \quad u_\min = \frac1d\sum_k\sigma_k^2\Big[\frac1{1+c\sigma_k^2} + \frac1{(1+c\sigma_k^2)^2}\Big],
             \quad h^* = \sqrt{u_\min}.

  With :math:`\Sigma = \sigma^2 I` this reduces to the isotropic functions.

  Args:
    alpha: ``ln(n)/d`` > 0, scalar (vmap for several).
    variances: the eigenvalues σ_k² of Σ, shape ``[d]``, positive.

  Returns:
    :class:`GeneralThresholds` of scalars.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.2 (general covariance).
  """
  _validate.positive("alpha", alpha)
  _validate.ndim("variances", variances, 1)
  _validate.positive("variances", variances)
  v = _float(variances)
  return _general_thresholds(jnp.asarray(alpha, v.dtype), v)


@jax.jit
def _general_thresholds(alpha, v):
  mean_s = lambda c: jnp.mean(tilted_log_count(c[..., None] * v), axis=-1)
  c = _bisect_log(mean_s, alpha, 1e-12 / jnp.max(v), 1e12 / jnp.min(v))
  q = 1.0 / (1.0 + c * v)
  um = jnp.mean(v * (q + q * q))
  hg = 1.0 / jnp.sqrt(c)
  return GeneralThresholds(c, hg, jnp.sqrt(2.0) * hg, um, jnp.sqrt(um))


def general_log_likelihood(h: jax.Array, alpha: jax.Array, variances: jax.Array) -> jax.Array:
  r"""Per-dimension typical log-likelihood :math:`L(h)` for data :math:`\mathcal N(0,\Sigma)`.

  .. math::
     L(h) = \begin{cases}
       \frac1d\sum_k\big[-\tfrac12\ln(2\pi(\sigma_k^2+h^2)) - \frac{\sigma_k^2}{2(\sigma_k^2+h^2)}\big]
         & h\ge h_G\\
       -\tfrac12\ln(2\pi h^2) - \alpha - \frac{u_\min}{2h^2} & h < h_G \end{cases}

  Args:
    h: bandwidth(s) > 0, any shape.
    alpha: ``ln(n)/d`` > 0, scalar.
    variances: eigenvalues of Σ, shape ``[d]``.

  Returns:
    L(h), shape of ``h``.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.3.
  """
  _validate.positive("h", h)
  th = general_thresholds(alpha, variances)
  h = _float(h)
  v = jnp.asarray(variances, h.dtype)
  h2 = (h * h)[..., None]
  annealed = jnp.mean(-0.5 * jnp.log(2.0 * jnp.pi * (v + h2)) - 0.5 * v / (v + h2), axis=-1)
  condensed = -0.5 * jnp.log(2.0 * jnp.pi * h * h) - alpha - th.u_min / (2.0 * h * h)
  return jnp.where(h >= th.h_g, annealed, condensed)


def general_kl_per_dim(h: jax.Array, alpha: jax.Array, variances: jax.Array) -> jax.Array:
  r""":math:`\mathrm{KL}(\rho\,\|\,\hat\rho_h)/d` for data :math:`\mathcal N(0,\Sigma)`.

  .. math::  \mathrm{KL}/d = H_\times - L(h),\qquad
             H_\times = \frac1d\sum_k\big[-\tfrac12\ln(2\pi\sigma_k^2)\big] - \tfrac12,

  with L from :func:`general_log_likelihood`.

  Args:
    h: bandwidth(s) > 0.
    alpha: ``ln(n)/d`` > 0, scalar.
    variances: eigenvalues of Σ, shape ``[d]``.

  Returns:
    KL per dimension, shape of ``h``.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.3.
  """
  v = _float(variances)
  cross = jnp.mean(-0.5 * jnp.log(2.0 * jnp.pi * v)) - 0.5
  return cross - general_log_likelihood(h, alpha, variances)


# ---------------------------------------------------------------------------------------------------
# The exact finite-(n, d) prediction (isotropic, σ = 1), float64.


def gauss_laguerre(num_nodes: int, a: float) -> tuple[np.ndarray, np.ndarray]:
  r"""Generalized Gauss–Laguerre rule for the weight :math:`x^a e^{-x}/\Gamma(a+1)` by Golub–Welsch.

  The nodes are the eigenvalues of the symmetric Jacobi matrix with diagonal :math:`2k + a + 1`
  (k = 0..K−1) and off-diagonal :math:`\sqrt{k(k+a)}` (k = 1..K−1); the weights are the squared first
  components of the eigenvectors, so they sum to 1 (a probability rule: E f(X) for X ~ Gamma(a+1)).
  Unlike ``scipy.special.roots_genlaguerre`` it never forms Γ(a+1), so it works for any a (d ≫ 300).

  Args:
    num_nodes: K ≥ 1.
    a: > −1.

  Returns:
    ``(nodes, weights)``, float64 NumPy arrays of shape ``[K]``.

  References:
    Golub & Welsch, *Calculation of Gauss quadrature rules*, Math. Comp. 23 (1969).
  """
  K = _validate.integer("num_nodes", num_nodes, minimum=1)
  if not a > -1:
    raise ValueError(f"a must be > -1, got {a!r}.")
  k = np.arange(K, dtype=np.float64)
  diag = 2.0 * k + a + 1.0
  off = np.sqrt(k[1:] * (k[1:] + a))
  jac = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
  nodes, vecs = np.linalg.eigh(jac)
  return nodes, vecs[0]**2


def ncx2_logpdf(D: jax.Array, df: jax.Array, nc: jax.Array, *, num_terms: int = 400) -> jax.Array:
  r"""Log-density of the noncentral χ² as a Poisson mixture of central χ² densities (log space).

  .. math::  \log f(D; k, \lambda) = \operatorname{logsumexp}_{j\ge0}\Big[\log\mathrm{Pois}(j;\lambda/2)
             + \log\chi^2_{k+2j}(D)\Big]

  truncated at ``num_terms`` terms (enough when :math:`\sqrt{\lambda D}/2` is well below it).

  Args:
    D: points > 0, any shape.
    df: degrees of freedom k > 0, broadcast against D.
    nc: noncentrality λ ≥ 0, broadcast against D.
    num_terms: number of Poisson terms.

  Returns:
    log f, broadcast shape.

  References:
    N. L. Johnson, S. Kotz & N. Balakrishnan, *Continuous Univariate Distributions* vol. 2, ch. 29.
  """
  D, df, nc = jnp.broadcast_arrays(_float(D), _float(df), _float(nc))
  j = jnp.arange(num_terms, dtype=D.dtype)
  half = 0.5 * nc[..., None]
  log_pois = (j * jnp.log(jnp.where(half > 0, half, 1.0)) - half - jax.scipy.special.gammaln(j + 1.0))
  log_pois = jnp.where(half > 0, log_pois, jnp.where(j == 0, 0.0, -jnp.inf))
  k = df[..., None] + 2.0 * j
  log_chi2 = ((0.5 * k - 1.0) * jnp.log(D[..., None]) - 0.5 * D[..., None] - 0.5 * k * jnp.log(2.0)
              - jax.scipy.special.gammaln(0.5 * k))
  return jax.scipy.special.logsumexp(log_pois + log_chi2, axis=-1)


class FiniteDPrediction(NamedTuple):
  """The exact finite-(n, d) prediction at each bandwidth (see :func:`finite_d_prediction`)."""
  log_likelihood: jax.Array       # (1/d) E ln ρ̂_h(x), nats per dimension
  participation_ratio: jax.Array  # E[Σ w_i² / (Σ w_i)²]
  log_z: jax.Array                # E ln Z (not divided by d)


@functools.partial(jax.jit, static_argnames=("num_terms", "num_grid", "num_tau"))
def _finite_d_at_r2(h, r2, n, d, *, num_terms: int, num_grid: int, num_tau: int):
  """E ln Z and E Y at fixed |x|² = r2 for one bandwidth h (float64; n and d traced)."""
  # Grid in D = |x − y|² ~ noncentral χ²(d, r2); midpoint rule on [0, D_max].
  mean, sd = d + r2, jnp.sqrt(2.0 * (d + 2.0 * r2))
  d_max = mean + 14.0 * sd + 30.0
  step = d_max / num_grid
  D = (jnp.arange(num_grid, dtype=jnp.float64) + 0.5) * step
  log_p = ncx2_logpdf(D, d, r2, num_terms=num_terms) + jnp.log(step)  # log P(cell)
  log_w = -D / (2.0 * h * h)
  # τ window around −ln Z: ln Z ≤ ln n, and Z ≥ w(D_q) unless all n distances exceed D_q, which has
  # probability P(D > D_q)^n ≤ e^{−36} by the choice of D_q on the grid.
  tail = jnp.cumsum(jnp.exp(log_p)[::-1])[::-1]  # P(D ≥ D_k)
  log_tail = jnp.log(jnp.maximum(tail, 1e-300))
  d_q = D[jnp.argmax(n * log_tail <= -36.0)]
  log_n = jnp.log(n)
  tau_lo = -log_n - 25.0
  tau_hi = d_q / (2.0 * h * h) + 25.0
  dtau = (tau_hi - tau_lo) / (num_tau - 1)
  tau = tau_lo + dtau * jnp.arange(num_tau, dtype=jnp.float64)
  log_tw = tau[:, None] + log_w[None, :]                             # log(t·w), [tau, grid]
  t_w = jnp.exp(log_tw)
  # log(1 − e^{−x}) without underflow for small x: log x − x/2 + x²/24.
  small = t_w < 1e-3
  log_1m = jnp.where(small, log_tw - 0.5 * t_w + t_w * t_w / 24.0,
                     jnp.log(-jnp.expm1(-jnp.where(small, 1.0, t_w))))
  # log(1 − φ(t)) = log E[1 − e^{−t w}] and log E[w² e^{−t w}], both in log space.
  log_one_minus_phi = jax.scipy.special.logsumexp(log_p + log_1m, axis=1)
  log_w2 = jax.scipy.special.logsumexp(log_p + 2.0 * log_w - t_w, axis=1)
  log_phi = jnp.log1p(-jnp.minimum(jnp.exp(log_one_minus_phi), 1.0))
  phi_n = jnp.exp(n * log_phi)
  # E ln Z = −γ − τ₀ + ∫ [1{τ<τ₀} − φ(e^τ)^n] dτ with τ₀ = tau_lo (φ^n ≈ 1 below it).
  integrand = -phi_n
  log_z = -np.euler_gamma - tau_lo + (jnp.sum(integrand) - 0.5 * (integrand[0] + integrand[-1])) * dtau
  # E Y = ∫ n e^{2τ} E[w² e^{−e^τ w}] φ^{n−1} dτ.
  rest = jnp.where(n > 1, (n - 1.0) * log_phi, 0.0)  # φ^{n−1}; avoids 0·(−∞) at n = 1
  y_int = jnp.exp(log_n + 2.0 * tau + log_w2 + rest)
  part = (jnp.sum(y_int) - 0.5 * (y_int[0] + y_int[-1])) * dtau
  return log_z, part


@functools.partial(jax.jit, static_argnames=("num_terms", "num_grid", "num_tau"))
def _finite_d_grid(h, r2, n, d, *, num_terms: int, num_grid: int, num_tau: int):
  # lax.map, not vmap: each (h, r²) pair holds a [num_tau, num_grid] array.
  fn = functools.partial(_finite_d_at_r2.__wrapped__, num_terms=num_terms, num_grid=num_grid,
                         num_tau=num_tau)
  return jax.lax.map(lambda a: fn(a[0], a[1], n, d), (h, r2))


def finite_d_prediction(h: jax.Array, *, n: int, d: int, num_nodes: int = 5,
                        num_terms: int | None = None, num_grid: int = 512,
                        num_tau: int = 256) -> FiniteDPrediction:
  r"""Exact finite-(n, d) prediction of :math:`\mathbb E\ln\hat\rho_h` and of the participation ratio.

  Isotropic data and query N(0, I_d) (σ = 1), n data points. Given :math:`r^2 = |x|^2` the squared
  distances :math:`D_i = |x-y_i|^2` are iid noncentral :math:`\chi^2(d, r^2)`; with
  :math:`w = e^{-D/(2h^2)}`, :math:`\varphi(t) = \mathbb E e^{-tw}` and :math:`Z = \sum_i w_i`,

  .. math::
     \mathbb E_D\ln Z = \int d\tau\,\big[1 - \varphi(e^\tau)^n - 1_{\tau>0}\big] - \gamma_E,\qquad
     \mathbb E\,Y = \int d\tau\; n e^{2\tau}\,\mathbb E[w^2e^{-e^\tau w}]\,\varphi(e^\tau)^{n-1},

  :math:`\ln\hat\rho = \ln Z - \ln n - \tfrac d2\ln(2\pi h^2)`. φ is computed in log space on a grid in
  D (noncentral χ² log-density as a Poisson mixture, :func:`ncx2_logpdf`); the outer average over
  :math:`r^2/2\sim\mathrm{Gamma}(d/2)` uses ``num_nodes`` generalized Gauss–Laguerre nodes
  (:func:`gauss_laguerre`). With the defaults the result is converged to ~1e−5 per dimension at
  α = 0.2, d = 20–40 (grids of 1024 × 512 or 4096 × 2048, or 10 nodes instead of 5, move L by
  < 1e−5 and E[Y] by < 3e−5). n and d are traced, so calls with other n, d reuse the compiled program.

  Args:
    h: bandwidths > 0, shape ``[k]`` or scalar.
    n: number of data points ≥ 1 (e.g. ``round(exp(α d))``).
    d: dimension ≥ 1.
    num_nodes: Gauss–Laguerre nodes over |x|².
    num_terms: Poisson terms of the noncentral χ² (default: enough for the largest node).
    num_grid, num_tau: grid sizes in D and in τ = log t.

  Returns:
    :class:`FiniteDPrediction` with fields shaped like ``h`` (float64 NumPy-compatible arrays).

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §3.2; Golub & Welsch (1969).
  """
  n = _validate.integer("n", n, minimum=1)
  d = _validate.integer("d", d, minimum=1)
  _validate.positive("h", h)
  nodes, weights = gauss_laguerre(num_nodes, 0.5 * d - 1.0)
  r2 = 2.0 * nodes
  if num_terms is None:
    dmax = d + r2.max() + 14.0 * math.sqrt(2.0 * (d + 2.0 * r2.max())) + 30.0
    num_terms = int(r2.max() / 2 + math.sqrt(r2.max() * dmax) / 2 + 12 * math.sqrt(r2.max() / 2 + 1)
                    + 40)
    num_terms = -(-num_terms // 128) * 128  # a few sizes only: calls at nearby d share one compile
  with jax.enable_x64(True):
    hs = jnp.atleast_1d(jnp.asarray(h, jnp.float64))
    hh, rr = jnp.meshgrid(hs, jnp.asarray(r2), indexing="ij")
    log_z, part = _finite_d_grid(hh.ravel(), rr.ravel(), jnp.float64(n), jnp.float64(d),
                                 num_terms=num_terms, num_grid=num_grid, num_tau=num_tau)
    log_z, part = log_z.reshape(hh.shape), part.reshape(hh.shape)
    w = jnp.asarray(weights)
    log_z = log_z @ w
    part = part @ w
    ll = (log_z - math.log(n) - 0.5 * d * jnp.log(2.0 * jnp.pi * hs * hs)) / d
    shape = np.shape(h)
    out = FiniteDPrediction(np.asarray(ll).reshape(shape), np.asarray(part).reshape(shape),
                            np.asarray(log_z).reshape(shape))
  return out


def clt_relative_sd(h: jax.Array, *, n: int, d: int, r2: jax.Array) -> jax.Array:
  r"""Exact finite-d relative standard deviation of ρ̂(x) over data sets at fixed :math:`|x|^2 = r^2`.

  .. math::  \frac{\mathrm{sd}(\hat\rho)}{\mathbb E\hat\rho} = \frac{\sqrt{(\mathbb Ew^2 - (\mathbb Ew)^2)/n}}{\mathbb Ew},
             \qquad \mathbb E w^k = (1+k/h^2)^{-d/2}\exp\Big(-\frac{k r^2}{2(h^2+k)}\Big)

  (σ = 1). In the CLT regime the data-set IQR of ln ρ̂ is ≈ 1.349 × this.

  Args:
    h: bandwidths > 0.
    n: data points.
    d: dimension.
    r2: |x|², broadcast against h.

  Returns:
    The relative SD.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.5.
  """
  _validate.positive("h", h)
  h = _float(h)
  log_m = lambda k: -0.5 * d * jnp.log1p(k / (h * h)) - k * r2 / (2.0 * (h * h + k))
  ratio = jnp.exp(log_m(2.0) - 2.0 * log_m(1.0))  # E w² / (E w)²
  return jnp.sqrt(jnp.maximum(ratio - 1.0, 0.0) / n)
