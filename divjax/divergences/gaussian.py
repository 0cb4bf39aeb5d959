r"""Closed-form divergences between multivariate Gaussians with full covariances.

Every function compares :math:`p = \mathcal N(\mu_p, \Sigma_p)` and
:math:`q = \mathcal N(\mu_q, \Sigma_q)` on :math:`\mathbb R^d`. Symbols used throughout:

* :math:`\Delta\mu = \mu_q - \mu_p` (only quadratic forms of it appear, so the sign is immaterial);
* :math:`\Sigma_\alpha = \alpha\Sigma_q + (1-\alpha)\Sigma_p`, the covariance that appears in the
  Rényi divergence of order α, and :math:`\bar\Sigma = \Sigma_{1/2} = \tfrac12(\Sigma_p + \Sigma_q)`;
* :math:`L_p L_p^\top = \Sigma_p` and :math:`L_q L_q^\top = \Sigma_q`, lower Cholesky factors;
* :math:`\|x\|^2_{\Sigma} = x^\top \Sigma^{-1} x`, a squared Mahalanobis norm.

Shapes and broadcasting: means are ``[..., d]`` and covariances ``[..., d, d]``; the four leading
("batch") shapes ``mean_p.shape[:-1]``, ``cov_p.shape[:-2]``, ``mean_q.shape[:-1]`` and
``cov_q.shape[:-2]`` broadcast against each other, and every function returns an array of the
broadcast batch shape (``[]`` for a single pair). Only the symmetric part :math:`\tfrac12(\Sigma +
\Sigma^\top)` of a covariance is used, so gradients with respect to a covariance are symmetric.

Numerics: inverses and determinants come from Cholesky factors and triangular solves
(:math:`\log\det\Sigma = 2\sum_i \log L_{ii}`); nothing forms :math:`\Sigma^{-1}`. Divergences are in
nats; :func:`gaussian_squared_wasserstein2` is in squared units of :math:`x`. In float32 the results
are accurate to about :math:`10^{-4}` relative for well-conditioned covariances (condition numbers up to
~10³); enable ``jax_enable_x64`` for ill-conditioned inputs.

Validation: on concrete inputs each function checks that the means are finite ``[..., d]`` arrays, that
the covariances are finite, square, ``d × d``, symmetric and positive definite, and that the batch
shapes broadcast, raising ``ValueError`` naming the offending argument. The checks are skipped under
``jit``/``vmap``/``grad``; there a non-positive-definite covariance gives NaN.

The closed forms and their cancellation-free evaluation are derived in :doc:`/theory/fdivergences`.

References:
  * Pardo, *Statistical Inference Based on Divergence Measures*, Chapman & Hall/CRC, 2006.
  * Gil, Alajaji & Linder, *Rényi divergence measures for commonly used univariate continuous
    distributions*, Information Sciences 249, 2013.
  * Bhattacharyya, *On a measure of divergence between two statistical populations defined by
    their probability distributions*, Bull. Calcutta Math. Soc. 35, 1943.
  * Kampa, Hasanbelliu & Principe, *Closed-form Cauchy–Schwarz PDF divergence for mixture of
    Gaussians*, IJCNN 2011.
  * Dowson & Landau, *The Fréchet distance between multivariate normal distributions*,
    J. Multivariate Anal. 12, 1982.
  * Givens & Shortt, *A class of Wasserstein metrics for probability distributions*, Michigan
    Math. J. 31, 1984.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _linalg, _validate
from divjax.divergences import _numerics
from divjax.divergences._numerics import safe_sqrt as _safe_sqrt

__all__ = [
    "gaussian_kl_divergence",
    "gaussian_renyi_divergence",
    "gaussian_bhattacharyya_distance",
    "gaussian_squared_hellinger_distance",
    "gaussian_hellinger_distance",
    "gaussian_cauchy_schwarz_divergence",
    "gaussian_squared_wasserstein2",
]

Array = jax.Array
ArrayLike = jax.typing.ArrayLike


# ---------------------------------------------------------------------------------------------------
# Shared pieces.


class _GaussianPair(NamedTuple):
  """Two Gaussians as float arrays broadcast to a common batch shape."""
  mean_p: Array  # [..., d]
  cov_p: Array   # [..., d, d], symmetrised
  mean_q: Array  # [..., d]
  cov_q: Array   # [..., d, d], symmetrised


def _gaussian_pair(mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike,
                   cov_q: ArrayLike) -> _GaussianPair:
  """Validates two Gaussians, promotes them to one float dtype and broadcasts the batch shapes."""
  mean_p, cov_p, mean_q, cov_q = (
      np.asarray(x) if isinstance(x, (list, tuple)) else x for x in (mean_p, cov_p, mean_q, cov_q))
  mean_p, mean_q = _validate.finite("mean_p", mean_p), _validate.finite("mean_q", mean_q)
  for name, mean in (("mean_p", mean_p), ("mean_q", mean_q)):
    if np.ndim(mean) == 0:
      raise ValueError(f"{name} must have shape [..., d], got a scalar.")
  d = np.shape(mean_p)[-1]
  if d == 0:
    raise ValueError(f"mean_p must have a non-empty last dimension d, got shape {np.shape(mean_p)}.")
  _validate.last_dim("mean_q", mean_q, d, what="the dimension d of mean_p")
  cov_p = _validate.covariance("cov_p", cov_p, d)
  cov_q = _validate.covariance("cov_q", cov_q, d)
  batch_shapes = (np.shape(mean_p)[:-1], np.shape(cov_p)[:-2], np.shape(mean_q)[:-1],
                  np.shape(cov_q)[:-2])
  try:
    batch = tuple(np.broadcast_shapes(*batch_shapes))
  except ValueError as err:
    raise ValueError(
        "the batch shapes of mean_p, cov_p, mean_q, cov_q must broadcast against each other, got "
        f"{batch_shapes[0]}, {batch_shapes[1]}, {batch_shapes[2]}, {batch_shapes[3]}.") from err
  mean_p, cov_p, mean_q, cov_q = (jnp.asarray(x) for x in (mean_p, cov_p, mean_q, cov_q))
  dtype = jnp.result_type(mean_p, cov_p, mean_q, cov_q, float)  # ints -> the default float

  def as_mean(x):
    return jnp.broadcast_to(x.astype(dtype), batch + (d,))

  def as_cov(x):
    x = x.astype(dtype)
    x = 0.5 * (x + jnp.swapaxes(x, -1, -2))
    return jnp.broadcast_to(x, batch + (d, d))

  return _GaussianPair(as_mean(mean_p), as_cov(cov_p), as_mean(mean_q), as_cov(cov_q))


def _cholesky(cov: Array) -> Array:
  """Lower Cholesky factor; NaN-filled where ``cov`` is not positive definite (no LAPACK call for
  d ≤ 8, see :mod:`divjax._linalg`)."""
  return _linalg.cholesky(cov)


def _log_det(chol: Array) -> Array:
  """log det Σ = 2 Σ_i log L_ii from the Cholesky factor L of Σ."""
  return 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


def _mahalanobis_sq(chol: Array, x: Array) -> Array:
  """x^T Σ^{-1} x = ‖L^{-1} x‖² for Σ = L L^T."""
  z = _linalg.solve_lower_triangular(chol, x[..., None])[..., 0]
  return jnp.sum(z * z, axis=-1)


def _log_affinity(g: _GaussianPair, alpha: Array, *, may_fail: bool) -> tuple[Array, Array]:
  r"""log ∫ p^α q^{1-α} dx and a mask of where Σ_α is not positive definite (the integral is +∞).

  .. math::  \log\!\int p^\alpha q^{1-\alpha}
             = -\tfrac{\alpha(1-\alpha)}{2}\|\Delta\mu\|^2_{\Sigma_\alpha}
               - \tfrac12\left[\log\det\Sigma_\alpha - (1-\alpha)\log\det\Sigma_p
               - \alpha\log\det\Sigma_q\right]

  With ``may_fail`` (α > 1 possible) the Cholesky factor of Σ_α is computed twice: once, without
  gradient, to detect failure (NaNs), and once on Σ_α with failed entries replaced by the identity, so
  that the discarded branch of the final ``where`` cannot leak NaN into gradients.
  """
  d = g.mean_p.shape[-1]
  log_det_p = _log_det(_cholesky(g.cov_p))
  log_det_q = _log_det(_cholesky(g.cov_q))
  a = alpha[..., None, None]
  cov_alpha = a * g.cov_q + (1.0 - a) * g.cov_p
  if may_fail:
    probe = _cholesky(jax.lax.stop_gradient(cov_alpha))
    # A non-positive-definite Σp or Σq (possible only under jit) must give NaN, not +inf.
    failed = jnp.any(jnp.isnan(probe), axis=(-2, -1)) & ~jnp.isnan(log_det_p + log_det_q)
    cov_alpha = jnp.where(failed[..., None, None], jnp.eye(d, dtype=cov_alpha.dtype), cov_alpha)
  else:
    failed = jnp.zeros(cov_alpha.shape[:-2], dtype=bool)
  chol_alpha = _cholesky(cov_alpha)
  mahalanobis = _mahalanobis_sq(chol_alpha, g.mean_q - g.mean_p)
  log_aff = (-0.5 * alpha * (1.0 - alpha) * mahalanobis
             - 0.5 * (_log_det(chol_alpha) - (1.0 - alpha) * log_det_p - alpha * log_det_q))
  return log_aff, failed


def _kl(g: _GaussianPair) -> Array:
  r"""KL(p‖q) in a form whose every term is non-negative.

  With :math:`M = L_q^{-1} L_p` (lower triangular, :math:`M_{ii} = L_{p,ii}/L_{q,ii}`) one has
  :math:`\operatorname{tr}(\Sigma_q^{-1}\Sigma_p) = \|M\|_F^2` and
  :math:`\log\det\Sigma_q - \log\det\Sigma_p = -\sum_i \log M_{ii}^2`, so with
  :math:`t_i = \log M_{ii}^2`

  .. math::  2\,\mathrm{KL} = \sum_{i>j} M_{ij}^2 + \sum_i (e^{t_i} - 1 - t_i)
             + \|\Delta\mu\|^2_{\Sigma_q},

  which avoids the cancellation of :math:`\operatorname{tr} - d + \log\det` when p ≈ q.
  """
  chol_p = _cholesky(g.cov_p)
  chol_q = _cholesky(g.cov_q)
  m = _linalg.solve_lower_triangular(chol_q, chol_p)
  off_diagonal = jnp.sum(jnp.square(jnp.tril(m, -1)), axis=(-2, -1))
  t = 2.0 * (jnp.log(jnp.diagonal(chol_p, axis1=-2, axis2=-1))
             - jnp.log(jnp.diagonal(chol_q, axis1=-2, axis2=-1)))
  diagonal = jnp.sum(jnp.expm1(t) - t, axis=-1)
  mahalanobis = _mahalanobis_sq(chol_q, g.mean_q - g.mean_p)
  return 0.5 * (off_diagonal + diagonal + mahalanobis)


# ---------------------------------------------------------------------------------------------------
# Public functions.


@_validate.guarded
def gaussian_kl_divergence(mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike,
                           cov_q: ArrayLike) -> Array:
  r"""Kullback–Leibler divergence KL(p‖q) between two multivariate Gaussians.

  .. math::  \mathrm{KL}(p\,\|\,q) = \tfrac12\left[\operatorname{tr}(\Sigma_q^{-1}\Sigma_p)
             + (\mu_q-\mu_p)^\top\Sigma_q^{-1}(\mu_q-\mu_p) - d
             + \log\det\Sigma_q - \log\det\Sigma_p\right]

  Computed from :math:`M = L_q^{-1}L_p` as a sum of non-negative terms (see the module docstring), so
  the result is ≥ 0 up to rounding and accurate also when p ≈ q.

  Args:
    mean_p: mean of p, shape ``[..., d]``.
    cov_p: covariance of p, shape ``[..., d, d]``, symmetric positive definite.
    mean_q: mean of q, shape ``[..., d]``.
    cov_q: covariance of q, shape ``[..., d, d]``, symmetric positive definite.

  Returns:
    The divergence in nats, of the broadcast batch shape ``[...]``.

  Raises:
    ValueError: (concrete inputs only) a NaN/inf, mismatched ``d``, a non-square, non-symmetric or
      non-positive-definite covariance, or batch shapes that do not broadcast.

  References:
    * Kullback & Leibler, *On information and sufficiency*, Ann. Math. Statist. 22, 1951.
    * Pardo, *Statistical Inference Based on Divergence Measures*, 2006, §1.

  Examples:
    Unit variances and means one apart give ½ Δμ² = 0.5; N(0, 1) against N(0, 4) gives
    ½ (¼ − 1 + log 4) = 0.3181:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> zero, one, cov = jnp.zeros(1), jnp.ones(1), jnp.eye(1)
    >>> print(f"{float(dv.gaussian_kl_divergence(zero, cov, one, cov)):.4f}")
    0.5000
    >>> print(f"{float(dv.gaussian_kl_divergence(zero, cov, zero, 4 * cov)):.4f}")
    0.3181
  """
  return _kl(_gaussian_pair(mean_p, cov_p, mean_q, cov_q))


@_validate.guarded
def gaussian_renyi_divergence(mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike,
                              cov_q: ArrayLike, *, alpha: ArrayLike) -> Array:
  r"""Rényi divergence of order α between two multivariate Gaussians.

  .. math::  R_\alpha(p\,\|\,q) = \frac{1}{\alpha-1}\log\int p^\alpha q^{1-\alpha}\,dx
             = \frac{\alpha}{2}\,\Delta\mu^\top\Sigma_\alpha^{-1}\Delta\mu
               - \frac{1}{2(\alpha-1)}\log\frac{\det\Sigma_\alpha}
                 {(\det\Sigma_p)^{1-\alpha}(\det\Sigma_q)^{\alpha}},
             \qquad \Sigma_\alpha = \alpha\Sigma_q + (1-\alpha)\Sigma_p.

  Validity: for :math:`0 < \alpha < 1`, :math:`\Sigma_\alpha` is a convex combination of positive
  definite matrices and the divergence is always finite. For :math:`\alpha > 1` the integral is finite
  iff :math:`\Sigma_\alpha \succ 0`, i.e. iff every eigenvalue of :math:`\Sigma_q^{-1}\Sigma_p` is
  below :math:`\alpha/(\alpha-1)`; otherwise the divergence is :math:`+\infty` and ``inf`` is
  returned (detected as NaNs in the Cholesky factor of :math:`\Sigma_\alpha`, so it also works under
  ``jit``; the gradient there is zero, not NaN).

  The limit :math:`\alpha\to1` is :math:`\mathrm{KL}(p\|q)`, reached smoothly (values and gradients,
  also with respect to α): with :math:`\lambda_i` the eigenvalues of
  :math:`L_p^{-1}\Sigma_q L_p^{-\top}` and :math:`y_i = (\alpha-1)(1-1/\lambda_i)`, the log-determinant
  part divided by :math:`\alpha-1` is :math:`\sum_i[(1-1/\lambda_i)\log(1+y_i)/y_i - \log\lambda_i]`,
  free of cancellation.

  Args:
    mean_p: mean of p, shape ``[..., d]``.
    cov_p: covariance of p, shape ``[..., d, d]``, symmetric positive definite.
    mean_q: mean of q, shape ``[..., d]``.
    cov_q: covariance of q, shape ``[..., d, d]``, symmetric positive definite.
    alpha: the order α > 0, a scalar (``α = 1`` gives KL). May be traced, e.g. ``vmap``-ed.

  Returns:
    The divergence in nats, shape ``[...]``; ``+inf`` where α > 1 and :math:`\Sigma_\alpha` is not
    positive definite.

  Raises:
    ValueError: (concrete inputs only) ``alpha`` not a positive finite scalar, or any of the input
      errors of :func:`gaussian_kl_divergence`.

  References:
    * Rényi, *On measures of entropy and information*, Proc. 4th Berkeley Symp. Math. Statist.
      Prob. 1, 1961.
    * Gil, Alajaji & Linder, *Rényi divergence measures for commonly used univariate continuous
      distributions*, Information Sciences 249, 2013 (and Pardo 2006 for the multivariate case).

  Examples:
    With equal covariances the Rényi divergence is α Δμᵀ Σ⁻¹ Δμ / 2, here 2 · 1 / 2 = 1; at α = 1 it
    is the KL divergence:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> zero, one, cov = jnp.zeros(1), jnp.ones(1), jnp.eye(1)
    >>> print(f"{float(dv.gaussian_renyi_divergence(zero, cov, one, cov, alpha=2.0)):.4f}")
    1.0000
    >>> print(f"{float(dv.gaussian_renyi_divergence(zero, cov, one, cov, alpha=1.0)):.4f}")
    0.5000
  """
  alpha = _validate.positive_scalar("alpha", alpha)
  g = _gaussian_pair(mean_p, cov_p, mean_q, cov_q)
  alpha = jnp.asarray(alpha, g.mean_p.dtype)
  # Eigenvalues λ of L_p⁻¹ Σ_q L_p⁻ᵀ: log det Σ_α − (1−α) log det Σ_p − α log det Σ_q
  # = Σ_i [log1p(y_i) − (α−1) log λ_i] with y_i = (α−1)(1 − 1/λ_i), so dividing by α − 1 is exact:
  # Σ_i [(1 − 1/λ_i) log1p(y_i)/y_i − log λ_i], smooth through α = 1 (where it gives KL).
  chol_p = _cholesky(g.cov_p)
  x = _linalg.solve_lower_triangular(chol_p, g.cov_q)
  rel = _linalg.solve_lower_triangular(chol_p, jnp.swapaxes(x, -1, -2))
  lam = jnp.linalg.eigvalsh(0.5 * (rel + jnp.swapaxes(rel, -1, -2)))
  y = (alpha - 1.0) * (1.0 - 1.0 / lam)
  # Σ_α = L_p (I + α(Λ − I)) L_pᵀ is positive definite iff every 1 + y_i > 0.
  failed = jnp.any(y <= -1.0, axis=-1) & ~jnp.any(jnp.isnan(lam), axis=-1)
  y_safe = jnp.where(failed[..., None], 0.0, y)
  log_det_term = jnp.sum((1.0 - 1.0 / lam) * _numerics.log1p_ratio(y_safe) - jnp.log(lam), axis=-1)
  d = g.mean_p.shape[-1]
  a = alpha[..., None, None]
  cov_alpha = a * g.cov_q + (1.0 - a) * g.cov_p
  cov_alpha = jnp.where(failed[..., None, None], jnp.eye(d, dtype=cov_alpha.dtype), cov_alpha)
  mahalanobis = _mahalanobis_sq(_cholesky(cov_alpha), g.mean_q - g.mean_p)
  renyi = 0.5 * alpha * mahalanobis - 0.5 * log_det_term
  return jnp.where(failed, jnp.inf, renyi)


@_validate.guarded
def gaussian_bhattacharyya_distance(mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike,
                                    cov_q: ArrayLike) -> Array:
  r"""Bhattacharyya distance D_B = −log ∫ √(p q) dx between two multivariate Gaussians.

  .. math::  D_B(p, q) = \tfrac18\,\Delta\mu^\top\bar\Sigma^{-1}\Delta\mu
             + \tfrac12\log\frac{\det\bar\Sigma}{\sqrt{\det\Sigma_p\det\Sigma_q}},
             \qquad \bar\Sigma = \tfrac12(\Sigma_p + \Sigma_q).

  It is symmetric, and equals :math:`\tfrac12 R_{1/2}(p\|q)` (half the Rényi divergence of order ½).
  It is not a metric (no triangle inequality); :func:`gaussian_hellinger_distance` is.

  Args:
    mean_p: mean of p, shape ``[..., d]``.
    cov_p: covariance of p, shape ``[..., d, d]``, symmetric positive definite.
    mean_q: mean of q, shape ``[..., d]``.
    cov_q: covariance of q, shape ``[..., d, d]``, symmetric positive definite.

  Returns:
    The distance in nats, ≥ 0, shape ``[...]``.

  Raises:
    ValueError: (concrete inputs only) as for :func:`gaussian_kl_divergence`.

  References:
    * Bhattacharyya, *On a measure of divergence between two statistical populations defined by
      their probability distributions*, Bull. Calcutta Math. Soc. 35, 1943.
    * Pardo, *Statistical Inference Based on Divergence Measures*, 2006.

  Examples:
    With equal covariances only the mean term Δμᵀ Σ⁻¹ Δμ / 8 = 1/8 remains:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> zero, one, cov = jnp.zeros(1), jnp.ones(1), jnp.eye(1)
    >>> print(f"{float(dv.gaussian_bhattacharyya_distance(zero, cov, one, cov)):.4f}")
    0.1250
  """
  g = _gaussian_pair(mean_p, cov_p, mean_q, cov_q)
  log_aff, _ = _log_affinity(g, jnp.asarray(0.5, g.mean_p.dtype), may_fail=False)
  return -log_aff


@_validate.guarded
def gaussian_squared_hellinger_distance(mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike,
                                        cov_q: ArrayLike) -> Array:
  r"""Squared Hellinger distance H² = 1 − ∫ √(p q) dx, in [0, 1], between two Gaussians.

  .. math::  H^2(p, q) = 1 - \int\sqrt{pq}\,dx = 1 - e^{-D_B(p, q)},

  with :math:`D_B` the Bhattacharyya distance, evaluated as ``-expm1(-D_B)`` so that small distances
  keep their relative precision. Convention: this is the f-divergence with
  :math:`f(u) = \tfrac12(\sqrt u - 1)^2` (``generators.SQUARED_HELLINGER``), i.e.
  :math:`\tfrac12\int(\sqrt p - \sqrt q)^2`; some authors omit the ½ and get values in [0, 2].

  Args:
    mean_p: mean of p, shape ``[..., d]``.
    cov_p: covariance of p, shape ``[..., d, d]``, symmetric positive definite.
    mean_q: mean of q, shape ``[..., d]``.
    cov_q: covariance of q, shape ``[..., d, d]``, symmetric positive definite.

  Returns:
    :math:`H^2 \in [0, 1]`, shape ``[...]``.

  Raises:
    ValueError: (concrete inputs only) as for :func:`gaussian_kl_divergence`.

  References:
    * Hellinger, *Neue Begründung der Theorie quadratischer Formen von unendlichvielen
      Veränderlichen*, J. Reine Angew. Math. 136, 1909.
    * Pardo, *Statistical Inference Based on Divergence Measures*, 2006.

  Examples:
    From the Bhattacharyya distance 1/8 of the same pair: 1 − exp(−1/8) = 0.1175:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> zero, one, cov = jnp.zeros(1), jnp.ones(1), jnp.eye(1)
    >>> print(f"{float(dv.gaussian_squared_hellinger_distance(zero, cov, one, cov)):.4f}")
    0.1175
  """
  return -jnp.expm1(-gaussian_bhattacharyya_distance(mean_p, cov_p, mean_q, cov_q))


@_validate.guarded
def gaussian_hellinger_distance(mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike,
                                cov_q: ArrayLike) -> Array:
  r"""Hellinger distance H = √(1 − ∫ √(p q) dx), in [0, 1], between two Gaussians.

  .. math::  H(p, q) = \sqrt{1 - e^{-D_B(p, q)}}

  A metric on distributions. Like any square root of a squared distance it is not differentiable at
  p = q; the gradient returned there is zero (as for the discrete
  :func:`~divjax.divergences.hellinger_distance`). Differentiate
  :func:`gaussian_squared_hellinger_distance` when a smooth objective is needed.

  Args:
    mean_p: mean of p, shape ``[..., d]``.
    cov_p: covariance of p, shape ``[..., d, d]``, symmetric positive definite.
    mean_q: mean of q, shape ``[..., d]``.
    cov_q: covariance of q, shape ``[..., d, d]``, symmetric positive definite.

  Returns:
    :math:`H \in [0, 1]`, shape ``[...]``.

  Raises:
    ValueError: (concrete inputs only) as for :func:`gaussian_kl_divergence`.

  References:
    Hellinger, 1909; Pardo, *Statistical Inference Based on Divergence Measures*, 2006.

  Examples:
    The square root of the squared distance 1 − exp(−1/8):

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> zero, one, cov = jnp.zeros(1), jnp.ones(1), jnp.eye(1)
    >>> print(f"{float(dv.gaussian_hellinger_distance(zero, cov, one, cov)):.4f}")
    0.3428
  """
  squared = gaussian_squared_hellinger_distance(mean_p, cov_p, mean_q, cov_q)
  return _safe_sqrt(squared)


@_validate.guarded
def gaussian_cauchy_schwarz_divergence(mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike,
                                       cov_q: ArrayLike) -> Array:
  r"""Cauchy–Schwarz divergence between two multivariate Gaussians (the CS-IB convention).

  .. math::  D_{CS}(p, q) = -\log\frac{(\int pq\,dx)^2}{\int p^2\,dx\int q^2\,dx}
             = -2\log\int pq\,dx + \log\int p^2\,dx + \log\int q^2\,dx,

  with the Gaussian product integrals

  .. math::  \int \mathcal N(x;\mu_1,\Sigma_1)\,\mathcal N(x;\mu_2,\Sigma_2)\,dx
             = \mathcal N(\mu_1;\mu_2,\Sigma_1+\Sigma_2),
             \qquad \int p^2\,dx = (4\pi)^{-d/2}(\det\Sigma_p)^{-1/2}.

  All three terms are evaluated as log-densities (Cholesky of :math:`\Sigma_p+\Sigma_q`), never as
  densities, so nothing under- or overflows. :math:`D_{CS} \ge 0` by the Cauchy–Schwarz inequality,
  with equality iff p = q; it is symmetric and scale invariant, but not an f-divergence.

  With :math:`\delta = \mu_p - \mu_q` this is
  :math:`\delta^\top(\Sigma_p+\Sigma_q)^{-1}\delta + \log\det\tfrac{\Sigma_p+\Sigma_q}{2}
  - \tfrac12\log\det\Sigma_p - \tfrac12\log\det\Sigma_q`, which equals
  :math:`\mathrm{KL}(p\|q) = \tfrac12\delta^\top\Sigma^{-1}\delta` when :math:`\Sigma_p = \Sigma_q = \Sigma`.

  Convention: divjax's one CS convention (Yu et al., ICLR 2024, arXiv:2404.17951), the same as
  :func:`cauchy_schwarz_divergence` and :func:`divjax.ib.gaussian_cs_divergence` (which adds the
  kernel smoothing of the Gram estimator). It is **twice** Jenssen et al.'s (2006) and Principe's
  :math:`-\log\big(\int pq / \sqrt{\int p^2 \int q^2}\big)`; see the Conventions page.

  Args:
    mean_p: mean of p, shape ``[..., d]``.
    cov_p: covariance of p, shape ``[..., d, d]``, symmetric positive definite.
    mean_q: mean of q, shape ``[..., d]``.
    cov_q: covariance of q, shape ``[..., d, d]``, symmetric positive definite.

  Returns:
    The divergence in nats, ≥ 0, shape ``[...]``.

  Raises:
    ValueError: (concrete inputs only) as for :func:`gaussian_kl_divergence`.

  References:
    * Kampa, Hasanbelliu & Principe, *Closed-form Cauchy–Schwarz PDF divergence for mixture of
      Gaussians*, IJCNN 2011.
    * Jenssen, Principe, Erdogmus & Eltoft, *The Cauchy–Schwarz divergence and Parzen windowing*,
      J. Franklin Inst. 343, 2006.
    * Yu, Yu, Løkse, Jenssen & Príncipe, *Cauchy–Schwarz divergence information bottleneck for
      regression*, ICLR 2024, arXiv:2404.17951.

  Examples:
    With equal covariances the value is the KL divergence ½ Δμᵀ Σ⁻¹ Δμ:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> zero, one, cov = jnp.zeros(1), jnp.ones(1), jnp.eye(1)
    >>> print(f"{float(dv.gaussian_cauchy_schwarz_divergence(zero, cov, one, cov)):.4f}")
    0.5000
    >>> print(f"{float(dv.gaussian_kl_divergence(zero, cov, one, cov)):.4f}")
    0.5000
  """
  g = _gaussian_pair(mean_p, cov_p, mean_q, cov_q)
  d = g.mean_p.shape[-1]
  chol_sum = _cholesky(g.cov_p + g.cov_q)
  log_int_pq = (-0.5 * _mahalanobis_sq(chol_sum, g.mean_q - g.mean_p) - 0.5 * _log_det(chol_sum)
                - 0.5 * d * math.log(2.0 * math.pi))
  log_int_pp = -0.5 * _log_det(_cholesky(g.cov_p)) - 0.5 * d * math.log(4.0 * math.pi)
  log_int_qq = -0.5 * _log_det(_cholesky(g.cov_q)) - 0.5 * d * math.log(4.0 * math.pi)
  return -2.0 * log_int_pq + log_int_pp + log_int_qq


@_validate.guarded
def gaussian_squared_wasserstein2(mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike,
                                  cov_q: ArrayLike) -> Array:
  r"""Squared 2-Wasserstein distance between two multivariate Gaussians (Fréchet / Bures).

  .. math::  W_2^2(p, q) = \|\mu_p - \mu_q\|^2
             + \operatorname{tr}\!\left(\Sigma_p + \Sigma_q
               - 2\,(\Sigma_p^{1/2}\Sigma_q\Sigma_p^{1/2})^{1/2}\right).

  The matrix :math:`\Sigma_p^{1/2}\Sigma_q\Sigma_p^{1/2}` is similar to :math:`C = L_p^\top\Sigma_q L_p`
  (both are similar to :math:`\Sigma_p\Sigma_q`), so only the trace of the square root of the symmetric
  positive semi-definite :math:`C` is needed: :math:`\sum_i\sqrt{\max(\lambda_i(C), 0)}` from
  ``jnp.linalg.eigvalsh``, with eigenvalues clipped at 0 against rounding. No square root of
  :math:`\Sigma_p` is formed, and the result is clipped at 0.

  Gradients: the trace of a square root is a spectral function, and JAX differentiates
  ``eigvalsh`` through eigenvalues only, so gradients are finite and correct also at repeated
  eigenvalues (e.g. :math:`\Sigma_p = \Sigma_q = I`). They are undefined (infinite) only where
  :math:`C` is singular, which cannot happen for positive definite inputs. In float32 the Bures term is
  a difference of traces and loses relative accuracy when p ≈ q (absolute error ~ε·tr Σ).

  Args:
    mean_p: mean of p, shape ``[..., d]``.
    cov_p: covariance of p, shape ``[..., d, d]``, symmetric positive definite.
    mean_q: mean of q, shape ``[..., d]``.
    cov_q: covariance of q, shape ``[..., d, d]``, symmetric positive definite.

  Returns:
    :math:`W_2^2 \ge 0` in squared units of x (not nats), shape ``[...]``.

  Raises:
    ValueError: (concrete inputs only) as for :func:`gaussian_kl_divergence`.

  References:
    * Dowson & Landau, *The Fréchet distance between multivariate normal distributions*,
      J. Multivariate Anal. 12, 1982.
    * Givens & Shortt, *A class of Wasserstein metrics for probability distributions*, Michigan
      Math. J. 31, 1984.

  Examples:
    In one dimension it is (μ_p − μ_q)² + (σ_p − σ_q)²; for N(0, 1) and N(1, 4) that is 1 + 1:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> zero, one, cov = jnp.zeros(1), jnp.ones(1), jnp.eye(1)
    >>> print(f"{float(dv.gaussian_squared_wasserstein2(zero, cov, one, 4 * cov)):.4f}")
    2.0000
  """
  g = _gaussian_pair(mean_p, cov_p, mean_q, cov_q)
  chol_p = _cholesky(g.cov_p)
  c = jnp.swapaxes(chol_p, -1, -2) @ g.cov_q @ chol_p
  eigenvalues = jnp.linalg.eigvalsh(c)  # symmetrises c
  trace_sqrt = jnp.sum(jnp.sqrt(jnp.maximum(eigenvalues, 0.0)), axis=-1)
  mean_term = jnp.sum(jnp.square(g.mean_p - g.mean_q), axis=-1)
  trace_term = (jnp.trace(g.cov_p, axis1=-2, axis2=-1) + jnp.trace(g.cov_q, axis1=-2, axis2=-1)
                - 2.0 * trace_sqrt)
  return jnp.maximum(mean_term + trace_term, 0.0)
