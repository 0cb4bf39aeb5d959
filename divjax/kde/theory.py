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

The three regimes, the thresholds and the optimal bandwidth are those of Biroli & Mézard (2024); the
closed forms for Gaussian data, the general-covariance case, the fluctuation rates and the exact
finite-(n, d) prediction are derived in :doc:`/theory/kde_large_dim`, which also says which of them are
divjax's own. :math:`h_\mathrm{CLT}` is the bandwidth where the stable index reaches μ = 2; the
annealed second-moment threshold is a different one, :func:`h_var`. The experiment ``kde_regimes``
checks the theory against brute-force KDEs and against the exact finite-(n, d) prediction.

The closed forms are ``jnp`` functions, elementwise over α and h, jit/vmap/grad-able (:func:`g_star`
has an implicit-function derivative); they compute in the input dtype (use float64 under
``jax.enable_x64(True)`` for the tables). :func:`finite_d_prediction` is the exact finite-(n, d)
prediction, float64 inside.

Examples:
  At α = ln(n)/d = 0.2 the three regimes are split by h_G and h_CLT = √2 h_G, and the KL-optimal
  bandwidth lies below h_G:

  >>> from divjax.kde import theory
  >>> for name in ("h_star", "h_g", "h_clt"):
  ...   print(name, f"{float(getattr(theory, name)(0.2)):.4f}")
  h_star 0.8917
  h_g 1.0457
  h_clt 1.4788

References:
  * Biroli, G. & Mézard, M., *Kernel density estimators in large dimensions*, arXiv:2408.05807 (2024).
  * Derrida, B., *Random-energy model: an exactly solvable model of disordered systems*, Phys. Rev. B
    24, 2613 (1981).
  * Bovier, A., Kurkova, I. & Löwe, M., *Fluctuations of the free energy in the REM and the p-spin SK
    models*, Ann. Probab. 30 (2002).
  * Ben Arous, G., Bogachev, L. & Molchanov, S., *Limit theorems for sums of random exponentials*,
    Probab. Theory Relat. Fields 132 (2005).
  * Golub, G. H. & Welsch, J. H., *Calculation of Gauss quadrature rules*, Math. Comp. 23 (1969).
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _roots, _validate

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

_ROOT_STEPS = 120


def _float(x):
  return jnp.asarray(x, dtype=jnp.result_type(x, float))


@_validate.guarded
def tilted_log_count(g: jax.Array) -> jax.Array:
  r"""The tilted log-count per dimension S(g) of Gaussian data.

  S(g) is the exponential rate (per dimension) of the number of data points that dominate
  :math:`\sum_i e^{-\lambda|x-y_i|^2/(2h^2)}` at a typical x, for data N(0, σ²I) and g = λσ²/h²:

  .. math::  S(g) = \tfrac12\ln(1+g) - \frac{g}{2(1+g)^2},\qquad S'(g) = \frac{g(g+3)}{2(1+g)^3} > 0.

  Args:
    g: ``λσ²/h²`` ≥ 0, any shape.

  Returns:
    S(g), same shape; S(0) = 0 and S increases to ∞.

  Examples:
    At g = 1 the closed form gives S(1) = ½ ln 2 − 1/8:

    >>> from divjax.kde import theory
    >>> print(f"{float(theory.tilted_log_count(1.0)):.4f}")
    0.2216

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  g = _float(_validate.nonnegative("g", g))
  return 0.5 * jnp.log1p(g) - g / (2.0 * (1.0 + g)**2)


def _solve_log(fn, target, lo, hi):
  """Root g of the increasing ``fn(g) = target`` in [lo, hi] (elementwise), by Newton and bisection in
  log g, with the implicit-function gradient with respect to ``target`` and what ``fn`` closes over."""
  target = _float(target)
  lo = jnp.broadcast_to(jnp.log(jnp.asarray(lo, target.dtype)), target.shape)
  hi = jnp.broadcast_to(jnp.log(jnp.asarray(hi, target.dtype)), target.shape)
  in_log = _roots.autodiff_slope(lambda u: fn(jnp.exp(u)) - target)
  g = jnp.exp(_roots.increasing_root(in_log, lo, hi, num_iters=_ROOT_STEPS))
  return _roots.implicit_root(g, lambda x: fn(x) - target, _roots.autodiff_slope(fn)(g)[1])


@jax.jit
@_validate.kernel
def _g_star_solve(alpha):
  return _solve_log(tilted_log_count, alpha, 1e-12, 1e12)


@jax.custom_jvp
def _g_star(alpha):
  return _g_star_solve(alpha)


@_g_star.defjvp
def _g_star_jvp(primals, tangents):
  (alpha,), (dalpha,) = primals, tangents
  g = _g_star(alpha)
  slope = g * (g + 3.0) / (2.0 * (1.0 + g)**3)  # S'(g*), implicit function theorem
  return g, dalpha / slope


@_validate.guarded
def g_star(alpha: jax.Array) -> jax.Array:
  r"""The root g*(α) of S(g*) = α for isotropic Gaussian data.

  .. math::  S(g^*(\alpha)) = \alpha,\qquad S(g) = \tfrac12\ln(1+g) - \frac{g}{2(1+g)^2}

  with S the :func:`tilted_log_count`. Bisection in log g on :math:`[10^{-12}, 10^{12}]` (fixed 120
  steps, so it runs under jit/vmap); the derivative comes from the implicit function theorem,
  :math:`dg^*/d\alpha = 1/S'(g^*)`. Limits: :math:`g^*\approx(4\alpha/3)^{1/2}` as α → 0 and :math:`g^*\approx e^{2\alpha}` as α → ∞.

  Args:
    alpha: ``ln(n)/d`` > 0, any shape (values are checked when concrete).

  Returns:
    g*(α), same shape and float dtype.

  Examples:
    The root solves S(g*) = α, which the second line checks:

    >>> from divjax.kde import theory
    >>> g = theory.g_star(0.2)
    >>> print(f"{float(g):.4f} {float(theory.tilted_log_count(g)):.4f}")
    0.9146 0.2000

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  alpha = _validate.positive("alpha", alpha)
  return _g_star(_float(alpha))


@_validate.guarded
def h_g(alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The condensation threshold h_G(α) = σ/√g*(α), below which a few data points dominate the KDE.

  .. math::  h_G(\alpha) = \frac{\sigma}{\sqrt{g^*(\alpha)}}

  Below :math:`h_G` (stable index μ < 1) the KDE at a typical point is dominated by O(1) nearest data
  points (Poisson–Dirichlet weights); above it, :math:`\hat\rho \approx \mathbb E_D\hat\rho`.

  Args:
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation (isotropic), broadcast against ``alpha``.

  Returns:
    :math:`h_G`, broadcast shape.

  Examples:
    h_G = 1/√g*(0.2) = 1/√0.9146, and it scales linearly with σ:

    >>> from divjax.kde import theory
    >>> print(f"{float(theory.h_g(0.2)):.4f} {float(theory.h_g(0.2, sigma=2.0)):.4f}")
    1.0457 2.0913

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  sigma = _validate.positive("sigma", sigma)
  return sigma / jnp.sqrt(g_star(alpha))


@_validate.guarded
def h_clt(alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The CLT threshold h_CLT = √2·h_G, the bandwidth where the stable index μ equals 2.

  .. math::  h_\mathrm{CLT}(\alpha) = \sqrt2\,h_G(\alpha) = \sigma\sqrt{2/g^*(\alpha)}

  Above it the data-set fluctuations of ρ̂(x) are Gaussian; between :math:`h_G` and
  :math:`h_\mathrm{CLT}` they are μ-stable. For a Gaussian kernel the k-th moment at bandwidth h is the
  first moment at h/√k, so μ = (h/h_G)² and the variance of the summands becomes finite exactly at
  :math:`h = \sqrt2 h_G`. The annealed second-moment criterion gives a different, lower threshold,
  :func:`h_var`.

  Args:
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation.

  Returns:
    :math:`h_\mathrm{CLT}`.

  Examples:
    The ratio to :func:`h_g` is √2 at every α:

    >>> from divjax.kde import theory
    >>> print(f"{float(theory.h_clt(0.2)):.4f} {float(theory.h_clt(0.2) / theory.h_g(0.2)):.4f}")
    1.4788 1.4142

  References:
    Biroli & Mézard, arXiv:2408.05807; Bovier, Kurkova & Löwe, Ann. Probab. 30 (2002); the
    derivation is in :doc:`/theory/kde_large_dim`.
  """
  return jnp.sqrt(2.0) * h_g(alpha, sigma=sigma)


def _cumulant(lam_over_h2: jax.Array, sigma2: jax.Array) -> jax.Array:
  """Λ per dimension at g = λσ²/h² (x averaged over ρ): −½ln(1+g) − ½g/(1+g)."""
  g = lam_over_h2 * sigma2
  return -0.5 * jnp.log1p(g) - 0.5 * g / (1.0 + g)


@_validate.guarded
def h_var(alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The second-moment threshold h_var, below which the annealed relative variance of ρ̂ grows with d.

  .. math::  \mathrm{Var}(\hat\rho)/\mathbb E[\hat\rho]^2 = e^{d(\Lambda(2) - 2\Lambda(1) - \alpha)},
             \qquad \Lambda(\lambda) = -\tfrac12\ln(1+G\lambda) - \tfrac12\frac{G\lambda}{1+G\lambda},
             \ G = \sigma^2/h^2,

  so :math:`h_\mathrm{var}` solves :math:`\Lambda(2) - 2\Lambda(1) = \alpha`. It is the analogue of the
  REM's second-moment point :math:`\beta_c/\sqrt2` and lies between :math:`h_G` and
  :math:`h_\mathrm{CLT}`: above it the annealed relative variance vanishes, yet up to
  :math:`h_\mathrm{CLT}` it is set by rare close data points and the typical fluctuations stay μ-stable.

  Args:
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation.

  Returns:
    :math:`h_\mathrm{var}`.

  Examples:
    >>> from divjax.kde import theory
    >>> print(f"{float(theory.h_var(0.2)):.4f}")
    1.2286
    >>> print(float(theory.h_g(0.2)) < float(theory.h_var(0.2)) < float(theory.h_clt(0.2)))
    True

  References:
    Biroli & Mézard, arXiv:2408.05807; Bovier, Kurkova & Löwe, Ann. Probab. 30 (2002); the
    derivation is in :doc:`/theory/kde_large_dim`.
  """
  alpha = _validate.positive("alpha", alpha)
  sigma = _validate.positive("sigma", sigma)
  return sigma / jnp.sqrt(_h_var_solve(_float(alpha)))


def _variance_excess(G):
  return _cumulant(2.0 * G, 1.0) - 2.0 * _cumulant(G, 1.0)  # increasing in G = σ²/h²


@jax.jit
@_validate.kernel
def _h_var_solve(alpha):
  return _solve_log(_variance_excess, alpha, 1e-12, 1e12)


@_validate.guarded
def stable_index(h: jax.Array, alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The stable index μ(h, α) = (h/h_G)², the tail index of the kernel terms at a typical point.

  .. math::  \mu(h,\alpha) = g^*(\alpha)\,\frac{h^2}{\sigma^2} = \Big(\frac{h}{h_G(\alpha)}\Big)^2

  μ > 2: Gaussian fluctuations; 1 < μ < 2: μ-stable; μ < 1: condensed.

  Args:
    h: bandwidth(s) > 0.
    alpha: ``ln(n)/d`` > 0, broadcast against ``h``.
    sigma: the data standard deviation.

  Returns:
    μ, broadcast shape.

  Examples:
    By definition μ = 1 at :func:`h_g` and μ = 2 at :func:`h_clt`:

    >>> from divjax.kde import theory
    >>> mu = [theory.stable_index(h, 0.2) for h in (theory.h_g(0.2), theory.h_clt(0.2))]
    >>> print([round(float(m), 4) for m in mu])
    [1.0, 2.0]

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  h = _validate.positive("h", h)
  return (h / h_g(alpha, sigma=sigma))**2


@_validate.guarded
def u_min(alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The squared nearest-neighbour distance per dimension, u_min(α), from a typical point to the data.

  .. math::  u_\min(\alpha) = \lim_{d\to\infty}\frac1d\min_i|x-y_i|^2
             = \sigma^2\Big[\frac1{1+g^*} + \frac1{(1+g^*)^2}\Big]

  Limits: :math:`u_\min\to2\sigma^2` as α → 0 and :math:`\approx\sigma^2e^{-2\alpha}` as α → ∞.

  Args:
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation.

  Returns:
    :math:`u_\min`.

  Examples:
    The closed form in g* = :func:`g_star`, evaluated by hand on the second line:

    >>> from divjax.kde import theory
    >>> q = 1.0 / (1.0 + float(theory.g_star(0.2)))
    >>> print(f"{float(theory.u_min(0.2)):.4f} {q + q * q:.4f}")
    0.7951 0.7951

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  sigma = _validate.positive("sigma", sigma)
  q = 1.0 / (1.0 + g_star(alpha))
  return sigma**2 * (q + q * q)


@_validate.guarded
def h_star(alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The KL-optimal bandwidth h* = √u_min(α), the minimiser of KL(ρ‖ρ̂_h)/d as d → ∞.

  .. math::  h^*(\alpha) = \sqrt{u_\min(\alpha)},\qquad
             \frac{h^*}{h_G} = \frac{\sqrt{g^*(2+g^*)}}{1+g^*} < 1

  The optimum lies in the condensed (extreme-value) regime, where the KDE width equals the
  nearest-neighbour distance per dimension.

  Args:
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation.

  Returns:
    :math:`h^*`.

  Examples:
    h*² equals :func:`u_min`, and h* < :func:`h_g`:

    >>> from divjax.kde import theory
    >>> h = theory.h_star(0.2)
    >>> print(f"{float(h):.4f} {float(h**2):.4f} {float(h) < float(theory.h_g(0.2))}")
    0.8917 0.7951 True

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  return jnp.sqrt(u_min(alpha, sigma=sigma))


@_validate.guarded
def cross_entropy_per_dim(*, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The per-dimension expected log-density H_× = E ln ρ(x) / d of the data law ρ = N(0, σ²I).

  .. math::  H_\times = \frac1d\,\mathbb E_{x\sim\rho}\ln\rho(x) = -\tfrac12\ln(2\pi\sigma^2) - \tfrac12

  (minus the differential entropy per dimension), so that
  :math:`\mathrm{KL}(\rho\|\hat\rho_h)/d = H_\times - L(h)`.

  Args:
    sigma: the data standard deviation.

  Returns:
    :math:`H_\times` in nats per dimension.

  Examples:
    >>> import math
    >>> from divjax.kde import theory
    >>> print(f"{float(theory.cross_entropy_per_dim()):.4f} {-0.5 * math.log(2 * math.pi) - 0.5:.4f}")
    -1.4189 -1.4189
  """
  sigma = _float(_validate.positive("sigma", sigma))
  return -0.5 * jnp.log(2.0 * jnp.pi) - jnp.log(sigma) - 0.5


@_validate.guarded
def log_likelihood(h: jax.Array, alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The per-dimension typical log-likelihood L(h) of the KDE at a fresh point, as d → ∞.

  .. math::
     L(h) = \lim_{d\to\infty}\frac1d\,\mathbb E_x\ln\hat\rho_h(x)

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

  Examples:
    One bandwidth per branch (h = 0.6 condensed, 1.2 and 1.6 annealed); at h = 1.6 the annealed
    closed form is −½ ln(2π·3.56) − 1/7.12:

    >>> import numpy as np
    >>> from divjax.kde import theory
    >>> print(np.round(np.asarray(theory.log_likelihood(np.array([0.6, 1.2, 1.6]), 0.2)), 4))
    [-1.7124 -1.5699 -1.6943]

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  h = _validate.positive("h", h)
  sigma = _validate.positive("sigma", sigma)
  h = _float(h)
  sigma = jnp.asarray(sigma, h.dtype)
  # In units of σ (r = h/σ, L = L_1(r) − ln σ) and with ln h instead of ln h², so that neither
  # h² nor σ² is formed: tiny h gives −inf (not inf − inf), huge σ stays finite.
  r = h / sigma
  r2 = r * r
  annealed = -0.5 * jnp.log(2.0 * jnp.pi) - 0.5 * jnp.log1p(r2) - 0.5 / (1.0 + r2)
  condensed = (-0.5 * jnp.log(2.0 * jnp.pi) - jnp.log(r) - alpha
               - u_min(alpha) / (2.0 * r2))
  return jnp.where(r >= h_g(alpha), annealed, condensed) - jnp.log(sigma)


@_validate.guarded
def kl_per_dim(h: jax.Array, alpha: jax.Array, *, sigma: jax.Array = 1.0) -> jax.Array:
  r"""The per-dimension divergence KL(ρ‖ρ̂_h)/d of the KDE from the data law, as d → ∞.

  .. math::  \frac1d\mathrm{KL}(\rho\,\|\,\hat\rho_h) = H_\times - L(h)

  with :math:`H_\times` from :func:`cross_entropy_per_dim` and L from :func:`log_likelihood`. At the
  optimum :math:`h^*`: :math:`\mathrm{KL}^*/d = \alpha + \tfrac12\ln(u_\min/\sigma^2)`, which tends to
  ½ ln 2 as α → 0.

  Args:
    h: bandwidth(s) > 0.
    alpha: ``ln(n)/d`` > 0.
    sigma: the data standard deviation.

  Returns:
    KL per dimension in nats.

  Examples:
    At h* the value is α + ½ ln u_min = 0.2 + ½ ln 0.7951:

    >>> from divjax.kde import theory
    >>> print(f"{float(theory.kl_per_dim(theory.h_star(0.2), 0.2)):.4f}")
    0.0854

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  # H_× − L with the common −ln σ cancelled analytically (both are finite in units of σ).
  h, sigma = _validate.positive("h", h), _validate.positive("sigma", sigma)
  h = _float(h)
  r = h / jnp.asarray(sigma, h.dtype)
  return cross_entropy_per_dim(sigma=1.0) - log_likelihood(r, alpha)


@_validate.guarded
def fluctuation_rate(h: jax.Array, alpha: jax.Array) -> jax.Array:
  r"""The decay rate κ in d of the data-set fluctuations of ρ̂(x) at a fixed typical x (σ = 1).

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

  Examples:
    One bandwidth per regime at α = 0.2 (condensed, stable, CLT); at h = 2 the CLT branch is
    0.1 + Λ(1) − Λ(2)/2 with Λ(1) = −½ ln 1.25 − 0.1 and Λ(2) = −½ ln 1.5 − 1/6:

    >>> import numpy as np
    >>> from divjax.kde import theory
    >>> print(np.round(np.asarray(theory.fluctuation_rate(np.array([0.8, 1.3, 2.0]), 0.2)), 4))
    [0.     0.017  0.0731]

  References:
    Biroli & Mézard, arXiv:2408.05807; Bovier, Kurkova & Löwe, Ann. Probab. 30 (2002); the
    derivation is in :doc:`/theory/kde_large_dim`.
  """
  h = _validate.positive("h", h)
  alpha = _validate.positive("alpha", alpha)
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
  """Thresholds and optimal bandwidth for data N(0, Σ) with eigenvalues σ_k².

  Returned by :func:`general_thresholds`.

  Attributes:
    c: the root of (1/d) Σ_k S(c σ_k²) = α; the stable index is μ = c h².
    h_g: the condensation threshold 1/√c.
    h_clt: the CLT threshold √2/√c.
    u_min: the squared nearest-neighbour distance per dimension.
    h_star: the KL-optimal bandwidth √u_min.

  Examples:
    >>> import jax.numpy as jnp
    >>> from divjax.kde import theory
    >>> th = theory.general_thresholds(0.2, jnp.array([0.5, 1.0, 2.0]))
    >>> print(f"{float(th.h_star):.4f} {float(th.h_g):.4f} {float(th.h_clt / th.h_g):.4f}")
    0.9186 1.1146 1.4142
  """
  c: jax.Array        # root of (1/d) Σ_k S(c σ_k²) = α; μ = c h²
  h_g: jax.Array      # 1/√c
  h_clt: jax.Array    # √2/√c
  u_min: jax.Array    # (1/d) Σ_k σ_k² [1/(1+cσ_k²) + 1/(1+cσ_k²)²]
  h_star: jax.Array   # √u_min


@_validate.guarded
def general_thresholds(alpha: jax.Array, variances: jax.Array) -> GeneralThresholds:
  r"""The condensation and CLT thresholds and the optimal bandwidth for data N(0, Σ).

  .. math::  \frac1d\sum_k S(c\,\sigma_k^2) = \alpha,\qquad h_G = c^{-1/2},\quad h_\mathrm{CLT} = \sqrt2\,h_G,
             \quad u_\min = \frac1d\sum_k\sigma_k^2\Big[\frac1{1+c\sigma_k^2} + \frac1{(1+c\sigma_k^2)^2}\Big],
             \quad h^* = \sqrt{u_\min}.

  With :math:`\Sigma = \sigma^2 I` this reduces to the isotropic functions.

  Args:
    alpha: ``ln(n)/d`` > 0, scalar (vmap for several).
    variances: the eigenvalues σ_k² of Σ, shape ``[d]``, positive.

  Returns:
    :class:`GeneralThresholds` of scalars.

  Examples:
    An isotropic spectrum σ_k² = 1 gives back :func:`h_g` and :func:`h_star`:

    >>> import jax.numpy as jnp
    >>> from divjax.kde import theory
    >>> th = theory.general_thresholds(0.2, jnp.ones(5))
    >>> print(f"{float(th.h_g):.4f} {float(th.h_star):.4f}")
    1.0457 0.8917

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  alpha = _validate.positive("alpha", alpha)
  _validate.ndim("variances", variances, 1)
  variances = _validate.positive("variances", variances)
  v = _float(variances)
  return _general_thresholds(jnp.asarray(alpha, v.dtype), v)


@jax.jit
@_validate.kernel
def _general_thresholds(alpha, v):
  mean_s = lambda c: jnp.mean(tilted_log_count(c[..., None] * v), axis=-1)
  c = _solve_log(mean_s, alpha, 1e-12 / jnp.max(v), 1e12 / jnp.min(v))
  q = 1.0 / (1.0 + c * v)
  um = jnp.mean(v * (q + q * q))
  hg = 1.0 / jnp.sqrt(c)
  return GeneralThresholds(c, hg, jnp.sqrt(2.0) * hg, um, jnp.sqrt(um))


@_validate.guarded
def general_log_likelihood(h: jax.Array, alpha: jax.Array, variances: jax.Array) -> jax.Array:
  r"""The per-dimension typical log-likelihood L(h) of the KDE for data N(0, Σ), as d → ∞.

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

  Examples:
    With Σ = I it equals the isotropic :func:`log_likelihood` (here −1.5170 and −1.8237):

    >>> import numpy as np
    >>> from divjax.kde import theory
    >>> L = theory.general_log_likelihood(np.array([0.8, 2.0]), 0.2, np.ones(3))
    >>> print(np.round(np.asarray(L), 4))
    [-1.517  -1.8237]

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  h = _validate.positive("h", h)
  th = general_thresholds(alpha, variances)
  h = _float(h)
  v = jnp.asarray(variances, h.dtype)
  h2 = (h * h)[..., None]
  annealed = jnp.mean(-0.5 * jnp.log(2.0 * jnp.pi * (v + h2)) - 0.5 * v / (v + h2), axis=-1)
  # ln h, not ½ ln h²: a tiny h gives −inf rather than inf − inf.
  condensed = -0.5 * jnp.log(2.0 * jnp.pi) - jnp.log(h) - alpha - th.u_min / (2.0 * h * h)
  return jnp.where(h >= th.h_g, annealed, condensed)


@_validate.guarded
def general_kl_per_dim(h: jax.Array, alpha: jax.Array, variances: jax.Array) -> jax.Array:
  r"""The per-dimension divergence KL(ρ‖ρ̂_h)/d of the KDE for data N(0, Σ), as d → ∞.

  .. math::  \mathrm{KL}/d = H_\times - L(h),\qquad
             H_\times = \frac1d\sum_k\big[-\tfrac12\ln(2\pi\sigma_k^2)\big] - \tfrac12,

  with L from :func:`general_log_likelihood`.

  Args:
    h: bandwidth(s) > 0.
    alpha: ``ln(n)/d`` > 0, scalar.
    variances: eigenvalues of Σ, shape ``[d]``.

  Returns:
    KL per dimension, shape of ``h``.

  Examples:
    The minimum sits at the general h* of :func:`general_thresholds` (the middle value), where it
    equals α + ½ ln u_min − (1/2d) Σ_k ln σ_k² = 0.2 + ½ ln 0.8439:

    >>> import numpy as np
    >>> from divjax.kde import theory
    >>> v = np.array([0.5, 1.0, 2.0])
    >>> h = float(theory.general_thresholds(0.2, v).h_star)
    >>> kl = theory.general_kl_per_dim(np.array([0.9, 1.0, 1.1]) * h, 0.2, v)
    >>> print(np.round(np.asarray(kl), 4))
    [0.1271 0.1151 0.1237]

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  v = _float(variances)
  cross = jnp.mean(-0.5 * jnp.log(2.0 * jnp.pi * v)) - 0.5
  return cross - general_log_likelihood(h, alpha, variances)


# ---------------------------------------------------------------------------------------------------
# The exact finite-(n, d) prediction (isotropic, σ = 1), float64.


@_validate.guarded
def gauss_laguerre(num_nodes: int, a: float) -> tuple[np.ndarray, np.ndarray]:
  r"""The generalized Gauss–Laguerre rule for the Gamma(a + 1) law, by the Golub–Welsch method.

  The rule integrates against the weight :math:`x^a e^{-x}/\Gamma(a+1)`. The nodes are the eigenvalues
  of the symmetric Jacobi matrix with diagonal :math:`2k + a + 1` (k = 0..K−1) and off-diagonal
  :math:`\sqrt{k(k+a)}` (k = 1..K−1); the weights are the squared first components of the
  eigenvectors, so they sum to 1 (a probability rule: E f(X) for X ~ Gamma(a+1)).
  Unlike ``scipy.special.roots_genlaguerre`` it never forms Γ(a+1), so it works for any a (d ≫ 300).

  Args:
    num_nodes: K ≥ 1.
    a: > −1.

  Returns:
    ``(nodes, weights)``, float64 NumPy arrays of shape ``[K]``.

  Examples:
    With a = 0 the law is Exp(1), whose first two moments are 1 and 2; three nodes integrate them
    exactly:

    >>> from divjax.kde import theory
    >>> x, w = theory.gauss_laguerre(3, 0.0)
    >>> print(f"{w.sum():.6f} {(w * x).sum():.6f} {(w * x**2).sum():.6f}")
    1.000000 1.000000 2.000000

  References:
    Golub & Welsch, *Calculation of Gauss quadrature rules*, Math. Comp. 23 (1969).
  """
  K = _validate.integer("num_nodes", num_nodes, minimum=1)
  if not (a > -1 and math.isfinite(a)):
    raise ValueError(f"a must be finite and > -1, got {a!r}.")
  k = np.arange(K, dtype=np.float64)
  diag = 2.0 * k + a + 1.0
  off = np.sqrt(k[1:] * (k[1:] + a))
  jac = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
  nodes, vecs = np.linalg.eigh(jac)
  return nodes, vecs[0]**2


@_validate.guarded
def ncx2_logpdf(D: jax.Array, df: jax.Array, nc: jax.Array, *, num_terms: int = 400) -> jax.Array:
  r"""The log-density of the noncentral χ² law, as a Poisson mixture of central χ² densities.

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

  Examples:
    With λ = 0 it is the central χ²₄ density D e^{−D/2}/4, so log f(3) = ln(3/4) − 3/2:

    >>> import math
    >>> from divjax.kde import theory
    >>> print(f"{float(theory.ncx2_logpdf(3.0, 4.0, 0.0)):.4f} {math.log(3 / 4) - 1.5:.4f}")
    -1.7877 -1.7877

  References:
    Johnson, N. L., Kotz, S. & Balakrishnan, N., *Continuous Univariate Distributions* vol. 2, ch. 29.
  """
  num_terms = _validate.integer("num_terms", num_terms, minimum=1)
  D, df = _validate.positive("D", D), _validate.positive("df", df)
  nc = _validate.nonnegative("nc", nc)
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
  r"""The exact finite-(n, d) prediction at each bandwidth.

  Returned by :func:`finite_d_prediction`.

  Attributes:
    log_likelihood: (1/d) E ln ρ̂_h(x), nats per dimension.
    participation_ratio: E[Σ w_i² / (Σ w_i)²].
    log_z: E ln Z with :math:`Z = \sum_i e^{-|x-y_i|^2/(2h^2)}`, not divided by d.

  Examples:
    With a single data point the weight is exactly 1:

    >>> from divjax.kde import theory
    >>> pred = theory.finite_d_prediction(1.0, n=1, d=10)
    >>> print(f"{float(pred.participation_ratio):.4f}")
    1.0000
  """
  log_likelihood: jax.Array       # (1/d) E ln ρ̂_h(x), nats per dimension
  participation_ratio: jax.Array  # E[Σ w_i² / (Σ w_i)²]
  log_z: jax.Array                # E ln Z (not divided by d)


@functools.partial(jax.jit, static_argnames=("num_terms", "num_grid", "num_tau"))
@_validate.kernel
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
@_validate.kernel
def _finite_d_grid(h, r2, n, d, *, num_terms: int, num_grid: int, num_tau: int):
  # lax.map, not vmap: each (h, r²) pair holds a [num_tau, num_grid] array.
  fn = functools.partial(_finite_d_at_r2.__wrapped__, num_terms=num_terms, num_grid=num_grid,
                         num_tau=num_tau)
  return jax.lax.map(lambda a: fn(a[0], a[1], n, d), (h, r2))


@_validate.guarded
def finite_d_prediction(h: jax.Array, *, n: int, d: int, num_nodes: int = 5,
                        num_terms: int | None = None, num_grid: int = 512,
                        num_tau: int = 256) -> FiniteDPrediction:
  r"""The exact finite-(n, d) prediction of E ln ρ̂_h(x) and of the participation ratio.

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
    num_nodes: Gauss–Laguerre nodes over :math:`|x|^2`.
    num_terms: Poisson terms of the noncentral χ² (default: enough for the largest node).
    num_grid, num_tau: grid sizes in D and in τ = log t.

  Returns:
    :class:`FiniteDPrediction` with fields shaped like ``h`` (float64 NumPy-compatible arrays).

  Examples:
    With n = 1, ln Z = −D/(2h²) and E D = 2d, so E ln Z = −d/h² exactly (−10 and −2.5 at d = 10):

    >>> import numpy as np
    >>> from divjax.kde import theory
    >>> pred = theory.finite_d_prediction(np.array([1.0, 2.0]), n=1, d=10)
    >>> print(np.round(np.asarray(pred.log_z), 4))
    [-10.   -2.5]

  References:
    Biroli & Mézard, arXiv:2408.05807; Golub & Welsch (1969); the derivation is in
    :doc:`/theory/kde_large_dim`.
  """
  n = _validate.integer("n", n, minimum=1)
  d = _validate.integer("d", d, minimum=1)
  num_grid = _validate.integer("num_grid", num_grid, minimum=2)
  num_tau = _validate.integer("num_tau", num_tau, minimum=2)
  if num_terms is not None:
    num_terms = _validate.integer("num_terms", num_terms, minimum=1)
  h = _validate.positive("h", h)
  if not _validate.is_concrete(h):
    raise TypeError("finite_d_prediction runs eagerly (float64 quadrature, NumPy outputs): h must "
                    "be concrete, not traced under jit/vmap/grad.")
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


@_validate.guarded
def clt_relative_sd(h: jax.Array, *, n: int, d: int, r2: jax.Array) -> jax.Array:
  r"""The exact finite-d relative standard deviation of ρ̂(x) over data sets, at a fixed query norm.

  The query x is held at :math:`|x|^2 = r^2`; σ = 1.

  .. math::  \frac{\mathrm{sd}(\hat\rho)}{\mathbb E\hat\rho} = \frac{\sqrt{(\mathbb Ew^2 - (\mathbb Ew)^2)/n}}{\mathbb Ew},
             \qquad \mathbb E w^k = (1+k/h^2)^{-d/2}\exp\Big(-\frac{k r^2}{2(h^2+k)}\Big)

  In the CLT regime the data-set IQR of ln ρ̂ is ≈ 1.349 × this.

  Args:
    h: bandwidths > 0.
    n: data points.
    d: dimension.
    r2: the squared query norm :math:`|x|^2`, broadcast against h.

  Returns:
    The relative SD.

  Examples:
    The moment formula written out by hand at h = 2, d = 30, n = 403, r² = 30:

    >>> import math
    >>> from divjax.kde import theory
    >>> m = lambda k: (1 + k / 4) ** -15 * math.exp(-30 * k / (2 * (4 + k)))  # E w^k
    >>> sd = theory.clt_relative_sd(2.0, n=403, d=30, r2=30.0)
    >>> print(f"{float(sd):.4f} {math.sqrt((m(2) - m(1) ** 2) / 403) / m(1):.4f}")
    0.0998 0.0998

  References:
    Biroli & Mézard, arXiv:2408.05807; the derivation is in :doc:`/theory/kde_large_dim`.
  """
  n = _validate.integer("n", n, minimum=1)
  d = _validate.integer("d", d, minimum=1)
  h = _validate.positive("h", h)
  r2 = _validate.nonnegative("r2", r2)
  h = _float(h)
  h2 = h * h
  # log E w² − 2 log E w. For h ≤ 1, log(1 + k/h²) = log(h² + k) − 2 log h (no k/h² is formed, so a
  # tiny h gives +inf, the diverging ratio, not inf − inf); for h > 1 the log1p form (no h² + k
  # overflow). The double where keeps the unused branch's gradient finite.
  small = h <= 1.0
  hs, hl = jnp.where(small, h, 1.0), jnp.where(small, 2.0, h)
  log_terms = jnp.where(
      small, jnp.log(hs * hs + 2.0) - 2.0 * jnp.log(hs * hs + 1.0) + 2.0 * jnp.log(hs),
      jnp.log1p(2.0 / (hl * hl)) - 2.0 * jnp.log1p(1.0 / (hl * hl)))
  log_ratio = -0.5 * d * log_terms - r2 * (1.0 / (h2 + 2.0) - 1.0 / (h2 + 1.0))
  ratio = jnp.exp(log_ratio)  # E w² / (E w)²
  return jnp.sqrt(jnp.maximum(ratio - 1.0, 0.0) / n)
