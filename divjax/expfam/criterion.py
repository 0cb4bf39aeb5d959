r"""The p–n criterion: is n large enough for a model with p parameters? (after Sheena 2021, §3).

Requirement: the estimative density is practically indistinguishable from the information projection,
:math:`\mathbb E[\mathrm{BE}(p_{\theta^*}, p_{\hat\theta})] \ge \tfrac12 - \varepsilon`, where
:math:`\mathrm{BE}(f_1, f_2) = \tfrac12\int\min(f_1, f_2) = \tfrac12(1 - \mathrm{TV})` is the Bayes error of
telling the two apart from one observation with equal priors. Pinsker (:math:`\mathrm{TV}\le
\sqrt{\mathrm{KL}/2}`), Bretagnolle–Huber (:math:`\mathrm{TV}\le\sqrt{1-e^{-\mathrm{KL}}}`) and Jensen give

.. math::  \mathbb E[\mathrm{BE}] \ge \max\big(\tfrac12 - \sqrt{R_n/8},\ \tfrac12(1 - \sqrt{1 - e^{-R_n}})\big),

so a sufficient condition is :math:`R_n \le D^*(\varepsilon) = \max(8\varepsilon^2, -\log(1 - 4\varepsilon^2))`
and, with :math:`R_n \approx R_1/n + R_2/n^2`, the criterion accepts (p, n) iff
:math:`R_1/n + R_2/n^2 \le D^*(\varepsilon)`, i.e. :math:`n \ge n_{\min} = [R_1 + \sqrt{R_1^2 +
4D^*R_2}]/(2D^*)`. To first order :math:`n_{\min}/p_\mathrm{eff} = 1/(2D^*(\varepsilon))` (25 at ε = 0.05).

For the d-variate normal model, :math:`p_\mathrm{eff} = d + (\beta_2 - d)/2` with Mardia's kurtosis
:math:`\beta_2 = \mathbb E[(z^\top z)^2]` of the standardised data (= p for normal data).

Sheena (2021) turns a Bayes-error requirement into a sufficient condition on the risk and combines it
with the risk expansion; the particular calibration above (Pinsker and Bretagnolle–Huber with Jensen)
is divjax's own. Both are written out in :doc:`/theory/mle_info_projection`.

References:
  * Sheena, Y., *MLE convergence speed to information projection of exponential family: criterion for
    model dimension and sample size — complete proof version*, arXiv:2105.08947 (2021), §3.
  * Tsybakov, A. B., *Introduction to Nonparametric Estimation*, Springer 2009, Lemma 2.5 (Pinsker)
    and (2.25) (Bretagnolle–Huber).
  * Mardia, K. V., *Measures of multivariate skewness and kurtosis with applications*, Biometrika 57
    (1970).

:func:`normal_bayes_error` is the exact BE between two univariate normals, the quantity the bound
replaces (the mle_risk experiment compares the two).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from divjax import _validate

__all__ = [
    "normal_bayes_error",
    "bayes_error_lower_bound",
    "critical_risk",
    "PNCriterion",
    "pn_criterion",
    "mardia_kurtosis",
    "normal_model_p_eff",
    "CompressionStep",
    "compress_normal_model",
]

Array = jax.Array


@_validate.guarded
@_validate.nan_means_overflow("mean1", "var1", "mean2", "var2")
def normal_bayes_error(mean1: Array, var1: Array, mean2: Array, var2: Array) -> Array:
  r"""The Bayes error BE = ½∫min(f₁, f₂) = ½(1 − TV) between N(mean1, var1) and N(mean2, var2).

  With :math:`\log f_1(x) - \log f_2(x) = ax^2 + bx + c`,

  .. math::  a = \frac1{2v_2} - \frac1{2v_1},\quad b = \frac{m_1}{v_1} - \frac{m_2}{v_2},\quad
             c = \frac{m_2^2}{2v_2} - \frac{m_1^2}{2v_1} + \tfrac12\log\frac{v_2}{v_1},

  the set where one density exceeds the other is bounded by the real roots :math:`r_1 \le r_2` of the
  quadratic, and :math:`\mathrm{TV} = |P_1(r_1 < X < r_2) - P_2(r_1 < X < r_2)|` with the normal CDF.
  The roots are computed in the cancellation-free form :math:`q = -\tfrac12(b + \mathrm{sign}(b)
  \sqrt{b^2 - 4ac})`, roots :math:`q/a` and :math:`c/q`; equal variances (a = 0) leave one root and
  an infinite other end; identical laws give exactly ½.

  Args:
    mean1, var1: mean and variance > 0 of the first normal (arrays broadcast together).
    mean2, var2: the same for the second.

  Returns:
    BE ∈ (0, ½], of the broadcast shape.

  Raises:
    ValueError: on concrete non-finite means or non-positive variances (traced: NaN), and where
      :math:`b^2` or :math:`m^2/v` overflow the dtype (e.g. a variance of 1e-30 in float32).

  References:
    * Devroye, Györfi & Lugosi, *A Probabilistic Theory of Pattern Recognition*, Springer 1996, §2
      (the Bayes error as ½(1 − TV) for equal priors).
    * Sheena, Y., arXiv:2105.08947 (2021), §3 (BE as the practical-indistinguishability criterion).

  Examples:
    Unit variances one standard deviation apart: the densities cross at ½, so BE = Φ(−½);
    identical laws give ½:

    >>> from divjax import expfam
    >>> print(f"{float(expfam.normal_bayes_error(0.0, 1.0, 1.0, 1.0)):.4f}")  # Φ(−½)
    0.3085
    >>> print(float(expfam.normal_bayes_error(0.3, 2.0, 0.3, 2.0)))
    0.5
  """
  args = list({"mean1": mean1, "var1": var1, "mean2": mean2, "var2": var2}.items())
  for i, (name, x) in enumerate(args):
    _validate.array(name, x)
    for other, y in args[:i]:
      _validate.broadcastable(other, y, name, x)
  mean1, mean2 = _validate.finite("mean1", mean1), _validate.finite("mean2", mean2)
  var1, var2 = _validate.positive("var1", var1), _validate.positive("var2", var2)
  m1, v1, m2, v2 = jnp.broadcast_arrays(*(jnp.asarray(x) for x in (mean1, var1, mean2, var2)))
  dtype = jnp.result_type(m1, v1, m2, v2, float)
  m1, v1, m2, v2 = (x.astype(dtype) for x in (m1, v1, m2, v2))
  # Identical laws: BE = ½ exactly (TV has a kink there; its gradient is taken as 0). Elsewhere the
  # quadratic has distinct real roots (b² − 4ac > 0), so the formulas below run on a safe stand-in.
  same = (m1 == m2) & (v1 == v2)
  m2 = jnp.where(same, m1 + 1.0, m2)
  a = 0.5 / v2 - 0.5 / v1
  b = m1 / v1 - m2 / v2
  c = 0.5 * m2**2 / v2 - 0.5 * m1**2 / v1 + 0.5 * jnp.log(v2 / v1)
  disc = jnp.maximum(b * b - 4.0 * a * c, 0.0)
  q = -0.5 * (b + jnp.where(b >= 0, 1.0, -1.0) * jnp.sqrt(disc))
  one_root = a == 0.0  # equal variances: the other end is ±inf (on the side of q's sign)
  r1 = jnp.where(one_root, 0.0, q / jnp.where(one_root, 1.0, a))
  r2 = c / q
  lo, hi = jnp.minimum(r1, r2), jnp.maximum(r1, r2)
  lo_inf = one_root & (q < 0)   # the infinite end is −inf: (−inf, r2)
  hi_inf = one_root & (q > 0)   # +inf: (r2, inf)
  lo, hi = jnp.where(one_root, r2, lo), jnp.where(one_root, r2, hi)

  def mass(m, v):
    s = jnp.sqrt(v)
    upper = jnp.where(hi_inf, 1.0, ndtr((hi - m) / s))
    lower = jnp.where(lo_inf, 0.0, ndtr((lo - m) / s))
    return upper - lower

  return jnp.where(same, 0.5, 0.5 * (1.0 - jnp.abs(mass(m1, v1) - mass(m2, v2))))


@_validate.guarded
def bayes_error_lower_bound(risk: Array) -> Array:
  r"""A lower bound on the expected Bayes error E[BE(p_θ*, p_θ̂)] from the risk R = E KL.

  .. math::  \mathbb E[\mathrm{BE}(p_{\theta^*}, p_{\hat\theta})]
             \ge \max\big(\tfrac12 - \sqrt{R/8},\ \tfrac12(1 - \sqrt{1 - e^{-R}})\big)

  Args:
    risk: R ≥ 0, any shape.

  Returns:
    The bound, same shape.

  Examples:
    At R = 0 the two laws coincide (BE = ½); at R = D*(ε) (0.02 for ε = 0.05, 0.08 for ε = 0.1) the
    bound is ½ − ε:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import expfam
    >>> print(np.round(np.asarray(expfam.bayes_error_lower_bound(jnp.array([0.0, 0.02, 0.08]))), 4))
    [0.5  0.45 0.4 ]
  """
  risk = _validate.as_array(risk)
  _validate.array("risk", risk)
  risk = _validate.not_nan("risk", risk)
  if _validate.is_concrete(risk) and np.any(np.asarray(risk) < 0):
    raise ValueError(f"risk must be >= 0 (an expected KL), got min {np.min(np.asarray(risk)):g}.")
  risk = jnp.asarray(_validate.traced_check(risk, lambda r: jnp.all(r >= 0), "risk must be >= 0."))
  risk = risk.astype(jnp.result_type(risk, float))
  return jnp.maximum(0.5 - jnp.sqrt(risk / 8.0), 0.5 * (1.0 - jnp.sqrt(-jnp.expm1(-risk))))


@_validate.guarded
def critical_risk(eps: Array) -> Array:
  r"""The critical risk D*(ε): the largest risk that guarantees E[BE] ≥ ½ − ε, for 0 < ε < ½.

  .. math::  D^*(\varepsilon) = \max\big(8\varepsilon^2,\ -\log(1 - 4\varepsilon^2)\big)

  Args:
    eps: ε in (0, ½), any shape.

  Returns:
    D*(ε), same shape.

  Raises:
    ValueError: (concrete inputs) if ε ≤ 0 or ε ≥ ½.

  Examples:
    8ε² (Pinsker) is the larger term here: D*(0.05) = 0.02 and D*(0.2) = 0.32:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import expfam
    >>> print(np.round(np.asarray(expfam.critical_risk(jnp.array([0.05, 0.2]))), 4))
    [0.02 0.32]
  """
  eps = _validate.interval("eps", eps, lower=0.0, upper=0.5, lower_open=True, upper_open=True)
  eps = jnp.asarray(eps, dtype=jnp.result_type(float))
  return jnp.maximum(8.0 * eps**2, -jnp.log1p(-4.0 * eps**2))


class PNCriterion(NamedTuple):
  """The verdict of the p–n criterion.

  Returned by :func:`pn_criterion`.

  Attributes:
    n_min: the smallest n with R₁/n + R₂/n² ≤ D*(ε).
    d_star: D*(ε).
    n_min_first_order: R₁/D*.
    accepted: whether the given n passes (None when no n was given).
    risk_at_n: R₁/n + R₂/n² at the given n (None when no n was given).

  Examples:
    >>> from divjax import expfam
    >>> verdict = expfam.pn_criterion(1.0, 0.0, 0.05, n=60)
    >>> print(bool(verdict.accepted), f"{float(verdict.risk_at_n):.4f}")
    True 0.0167
  """
  n_min: Array          # smallest n with R1/n + R2/n² <= D*(ε)
  d_star: Array         # D*(ε)
  n_min_first_order: Array  # R1 / D*
  accepted: Array | None    # whether the given n passes (None when no n was given)
  risk_at_n: Array | None   # R1/n + R2/n² at the given n


@_validate.guarded
def pn_criterion(R1: Array, R2: Array, eps: Array, n: int | None = None) -> PNCriterion:
  r"""The p–n criterion: accept (p, n) iff R₁/n + R₂/n² ≤ D*(ε).

  .. math::  \frac{R_1}n + \frac{R_2}{n^2} \le D^*(\varepsilon)
             \iff n \ge n_{\min} = \frac{R_1 + \sqrt{R_1^2 + 4D^*R_2}}{2D^*}

  Args:
    R1, R2: the risk-expansion coefficients (see :func:`divjax.expfam.risk_expansion`).
    eps: the tolerated loss of Bayes error, 0 < ε < ½.
    n: optional sample size to judge.

  Returns:
    :class:`PNCriterion` with ``n_min``, the larger root of :math:`D^* n^2 - R_1 n - R_2 = 0`: every
    n >= n_min is accepted. (When R₂ < 0 the truncated expansion can also dip below D* at some smaller
    n, where it is not trustworthy; n_min is then conservative.) Given n, the verdict and the risk.

  Examples:
    The correct normal model (p = 2, R₁ = 1, R₂ = 61/12) at ε = 0.05: 25 samples per parameter to
    first order (n = 50), about 55 with the n⁻² term; n = 40 is rejected:

    >>> from divjax import expfam
    >>> v = expfam.pn_criterion(1.0, 61 / 12, 0.05, n=40)
    >>> print(f"{float(v.n_min_first_order):.2f} {float(v.n_min):.2f} {bool(v.accepted)}")
    50.00 54.65 False

  References:
    Sheena, arXiv:2105.08947, §3; the calibration is derived in :doc:`/theory/mle_info_projection`.
  """
  d_star = critical_risk(eps)
  R1 = jnp.asarray(_validate.positive("R1", R1), dtype=jnp.result_type(float))
  R2 = jnp.asarray(_validate.finite("R2", R2), dtype=jnp.result_type(float))
  disc = jnp.maximum(R1**2 + 4.0 * d_star * R2, 0.0)
  n_min = (R1 + jnp.sqrt(disc)) / (2.0 * d_star)
  if n is None:
    return PNCriterion(n_min, d_star, R1 / d_star, None, None)
  n = _validate.integer("n", n, minimum=1)
  risk = R1 / n + R2 / n**2
  return PNCriterion(n_min, d_star, R1 / d_star, risk <= d_star, risk)


def _check_sample_covariance(x: Any, dtype: Any) -> None:
  """Concrete values only: the sample covariance of x must be non-singular in ``dtype``."""
  if not _validate.is_concrete(x):
    return
  c = np.asarray(x, dtype) - np.asarray(x, dtype).mean(0)
  eig = np.linalg.eigvalsh((c.T @ c / c.shape[0]).astype(np.float64))
  if not eig[-1] > 0 or eig[0] <= c.shape[1] * np.finfo(dtype).eps * eig[-1]:
    raise ValueError(f"x has a singular sample covariance in {np.dtype(dtype).name} (eigenvalues "
                     f"from {eig[0]:.3g} to {eig[-1]:.3g}): duplicated or collinear columns, or "
                     "values too small for the dtype. Drop or rescale those columns.")


@_validate.guarded
def mardia_kurtosis(x: Array) -> Array:
  r"""Mardia's multivariate sample kurtosis b₂ of data x (rows are observations).

  .. math::  b_2 = \frac1n\sum_i\big[(x_i-\bar x)^\top\hat S^{-1}(x_i-\bar x)\big]^2

  with :math:`\hat S` the MLE (1/n) covariance; :math:`\mathbb E b_2 \to d(d+2)` for normal data.

  Args:
    x: data ``[n, d]`` with n > d, finite.

  Returns:
    b₂ (a scalar).

  Raises:
    ValueError: if x is not a finite matrix with more rows than columns.

  Examples:
    The four corners (±1, ±1) have Ŝ = I and every squared distance equal to 2, so b₂ = 4 (light tails:
    a normal sample would give about d(d + 2) = 8):

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> x = jnp.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    >>> print(f"{float(expfam.mardia_kurtosis(x)):.4f}")
    4.0000
  """
  _validate.ndim("x", x, 2)
  x = _validate.finite("x", x)
  n, d = np.shape(x)
  if n <= d:
    raise ValueError(f"x needs more rows than columns (n > d) for a non-singular covariance, got "
                     f"shape {np.shape(x)}.")
  _check_sample_covariance(x, jnp.result_type(float))
  x = jnp.asarray(x, dtype=jnp.result_type(float))
  c = x - x.mean(0)
  S = c.T @ c / n
  z = jax.scipy.linalg.solve(S, c.T, assume_a="pos").T
  return jnp.mean(jnp.sum(c * z, axis=1)**2)


@_validate.guarded
def normal_model_p_eff(x: Array) -> Array:
  r"""The plug-in effective dimension p_eff = d + (b₂ − d)/2 of the d-variate normal model on data x.

  .. math::  p_\mathrm{eff} = \mathrm{tr}(G^{-1}K) = d + \frac{b_2 - d}2

  with b₂ from :func:`mardia_kurtosis`; p_eff = p = d + d(d+1)/2 when the data are normal.

  Args:
    x: data ``[n, d]`` with n > d, finite.

  Returns:
    The estimate of p_eff (a scalar).

  Examples:
    For the corners (±1, ±1), b₂ = 4, so p_eff = 2 + 1 = 3, below p = 5 (light tails):

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> x = jnp.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    >>> print(f"{float(expfam.normal_model_p_eff(x)):.4f}")
    3.0000
  """
  b2 = mardia_kurtosis(x)
  d = np.shape(x)[1]
  return d + (b2 - d) / 2.0


class CompressionStep(NamedTuple):
  """One model of the compression path: the kept variables and the criterion's verdict.

  Returned (as a list) by :func:`compress_normal_model`.

  Attributes:
    variables: the indices of the kept columns.
    p: the model's number of parameters k + k(k+1)/2 for k kept variables.
    p_eff: the plug-in effective dimension.
    n_min: the first-order smallest sample size p_eff/(2D*).
    accepted: whether the data's n ≥ n_min.

  Examples:
    >>> from divjax.expfam import CompressionStep
    >>> step = CompressionStep(variables=(0, 1), p=5, p_eff=3.5, n_min=87.5, accepted=True)
    >>> print(step.p, step.accepted)
    5 True
  """
  variables: tuple[int, ...]
  p: int
  p_eff: float
  n_min: float
  accepted: bool


def _mardia_kurtosis_host(x: np.ndarray) -> float:
  """:func:`mardia_kurtosis` in NumPy float64, for the host-side greedy search (no per-shape compiles)."""
  c = x - x.mean(0)
  S = c.T @ c / x.shape[0]
  z = np.linalg.solve(S, c.T).T
  return float(np.mean(np.sum(c * z, axis=1)**2))


@_validate.guarded
def compress_normal_model(x: Array, eps: float) -> list[CompressionStep]:
  r"""Model compression for the multivariate normal: drop variables until the criterion accepts.

  Starting from all d columns, greedily remove the variable whose removal lowers
  :math:`p_\mathrm{eff} = k + (b_2 - k)/2` (k kept variables) the most, until
  :math:`n \ge n_{\min} = p_\mathrm{eff}/(2D^*(\varepsilon))`. The criterion is used to first order:
  the plug-in error of R̂₁ is :math:`O_p(n^{-1/2})` relative, i.e. :math:`O_p(n^{-3/2})` on the risk,
  larger than the n⁻² term R̂₂ would add (:doc:`/theory/mle_info_projection`). The search is a
  host-side loop over column subsets, so it runs in NumPy float64 (the same b₂ as
  :func:`mardia_kurtosis`, without a JAX compile per column count).

  Args:
    x: data ``[n, d]`` with n > d, finite.
    eps: the criterion's ε.

  Returns:
    The path of :class:`CompressionStep`, from the full model to the first accepted one (or to a
    single variable).

  Raises:
    ValueError: if x is not a finite matrix with more rows than columns, or ε is outside (0, ½).

  Examples:
    n = 40 rows, three columns, the third heavy-tailed (t⁵). At ε = 0.1 (n_min = 6.25 p_eff) the full
    model (p = 9) is rejected; dropping the third column is accepted:

    >>> import numpy as np
    >>> from divjax import expfam
    >>> t = np.linspace(-1.0, 1.0, 40)
    >>> path = expfam.compress_normal_model(np.stack([t, np.sin(7 * t), t**5], axis=1), eps=0.1)
    >>> print([(s.variables, s.p, s.accepted) for s in path])
    [((0, 1, 2), 9, False), ((0, 1), 5, True)]

  References:
    Sheena, arXiv:2105.08947, §3 (model compression); Mardia, Biometrika 57, 1970.
  """
  _validate.ndim("x", x, 2)
  x = _validate.finite("x", x)
  x = np.asarray(x, dtype=np.float64)
  n, d = x.shape
  if n <= d:
    raise ValueError(f"x needs more rows than columns (n > d) for a non-singular covariance, got "
                     f"shape {x.shape}.")
  _check_sample_covariance(x, np.float64)
  d_star = float(critical_risk(eps))
  if d_star == 0.0:
    raise ValueError(f"eps = {eps!r} is so small that D*(eps) = 8 eps^2 underflows to 0: no sample "
                     "size passes the criterion.")
  keep = list(range(d))

  def step(cols):
    k = len(cols)
    pe = k + (_mardia_kurtosis_host(x[:, cols]) - k) / 2.0
    n_min = pe / (2.0 * d_star)
    return CompressionStep(tuple(cols), k + k * (k + 1) // 2, pe, n_min, n >= n_min)

  path = [step(keep)]
  while not path[-1].accepted and len(keep) > 1:
    candidates = [[c for c in keep if c != drop] for drop in keep]
    best = min((step(c) for c in candidates), key=lambda s: s.p_eff)
    keep = list(best.variables)
    path.append(best)
  return path
