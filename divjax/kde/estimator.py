r"""The Gaussian kernel density estimator, fast and exact in high dimensions.

.. math::
   \hat\rho_H(x) = \sum_{i=1}^n \pi_i\,\mathcal N(x;\,y_i,\,H),\qquad
   \log\hat\rho_H(x) = \operatorname{logsumexp}_i\big[\log\pi_i - \tfrac12|L^{-1}(x-y_i)|^2\big]
                       - \tfrac d2\log 2\pi - \log\det L,

with :math:`H = LL^\top` the kernel covariance and :math:`\pi_i` the normalised weights (1/n by
default). The bandwidth is given as

* a scalar h: :math:`H = h^2 I` (the isotropic KDE of Biroli & Mézard);
* a vector ``[d]`` of per-dimension standard deviations: :math:`H = \mathrm{diag}(h_k^2)`;
* a ``[d, d]`` matrix: the kernel covariance H itself (as ``scipy.stats.gaussian_kde``'s
  ``covariance``).

Algorithm: centre on the data mean and whiten once (:math:`L^{-1}`), then squared distances by one
matmul, :math:`|x|^2 + |y|^2 - 2x\cdot y` (full float32/float64 precision, ``Precision.HIGHEST``), then a
logsumexp. Queries are processed ``chunk_size`` at a time (``lax.map``) and data ``block_size`` at a time
with an online (streaming) logsumexp (``lax.scan``), so memory is O(chunk_size · block_size), never
O(m · n). Computation runs in the inputs' float dtype: float32 by default, float64 under
``jax.enable_x64(True)`` with float64 inputs.

Every public function runs under ``jit`` and ``vmap`` (over bandwidths, data sets or queries); argument
checks run only on concrete inputs.

References:
  G. Biroli & M. Mézard, *Kernel density estimators in large dimensions*, arXiv:2408.05807 (2024).
  D. W. Scott, *Multivariate Density Estimation* (1992), (6.42).
  B. W. Silverman, *Density Estimation for Statistics and Data Analysis* (1986), (4.14).
  R. P. W. Duin, *On the choice of smoothing parameters for Parzen estimators*, IEEE Trans. Comput.
  (1976) (maximum leave-one-out likelihood).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate
from divjax.kde import theory

__all__ = [
    "log_density",
    "loo_log_likelihood",
    "participation_ratio",
    "scott_bandwidth",
    "silverman_bandwidth",
    "max_loo_bandwidth",
    "kl_optimal_bandwidth",
    "kl_to_reference",
    "KLEstimate",
]

#: Default number of queries per chunk and data rows per block (tile of 512 × 32768 distances).
DEFAULT_CHUNK_SIZE = 512
DEFAULT_BLOCK_SIZE = 32768

_HIGHEST = jax.lax.Precision.HIGHEST


# ---------------------------------------------------------------------------------------------------
# Argument checks and whitening.


def _check_points(x: Any, data: Any, bandwidth: Any, weights: Any) -> None:
  _validate.array("data", data)
  _validate.ndim("data", data, 2)
  if np.shape(data)[0] == 0:
    raise ValueError("data is empty: a KDE needs at least one data point (shape [n >= 1, d]).")
  if np.shape(data)[1] == 0:
    raise ValueError("data must have at least one dimension, got shape [n, 0].")
  _validate.finite("data", data)
  d = np.shape(data)[1]
  if x is not None:
    _validate.array("x", x)
    _validate.ndim("x", x, 2)
    _validate.last_dim("x", x, d, what="the data dimension")
    _validate.finite("x", x)
  _check_bandwidth(bandwidth, d)
  if weights is not None:
    _validate.ndim("weights", weights, 1)
    _validate.finite("weights", weights)
    if np.shape(weights)[0] != np.shape(data)[0]:
      raise ValueError(f"weights must have shape [{np.shape(data)[0]}] (one per data point), got "
                       f"{np.shape(weights)}.")
    _validate.nonnegative("weights", weights)
    if _validate.is_concrete(weights) and not np.asarray(weights).sum() > 0:
      raise ValueError("weights must not all be zero.")


def _check_bandwidth(bandwidth: Any, d: int) -> None:
  _validate.array("bandwidth", bandwidth)
  nd = np.ndim(bandwidth)
  if nd == 0:
    _validate.positive("bandwidth", bandwidth)
  elif nd == 1:
    _validate.last_dim("bandwidth", bandwidth, d, what="per-dimension bandwidths")
    _validate.positive("bandwidth", bandwidth)
  elif nd == 2:
    _validate.covariance("bandwidth", bandwidth, d)
  else:
    raise ValueError(f"bandwidth must be a scalar, a [d] vector or a [d, d] covariance, got shape "
                     f"{np.shape(bandwidth)}.")


def _dtype(*arrays: Any) -> Any:
  return jnp.result_type(*[a for a in arrays if a is not None], float)


def _whiten(x: jax.Array | None, data: jax.Array, bandwidth: jax.Array):
  """Centres on the data mean and maps to kernel coordinates; returns (xw, yw, log det L)."""
  dtype = _dtype(x, data, bandwidth)
  data = jnp.asarray(data, dtype)
  bw = jnp.asarray(bandwidth, dtype)
  center = jnp.mean(data, axis=0)
  xs = None if x is None else jnp.asarray(x, dtype) - center
  ys = data - center
  d = data.shape[1]
  if bw.ndim == 0:
    return (None if xs is None else xs / bw), ys / bw, d * jnp.log(bw)
  if bw.ndim == 1:
    return (None if xs is None else xs / bw), ys / bw, jnp.sum(jnp.log(bw))
  chol = jnp.linalg.cholesky(bw)
  solve = lambda z: jax.scipy.linalg.solve_triangular(chol, z.T, lower=True).T
  return (None if xs is None else solve(xs)), solve(ys), jnp.sum(jnp.log(jnp.diagonal(chol)))


def _log_weights(weights: jax.Array | None, n: int, dtype: Any) -> jax.Array:
  if weights is None:
    return jnp.full((n,), -math.log(n), dtype)
  lw = jnp.log(jnp.asarray(weights, dtype))
  return lw - jax.scipy.special.logsumexp(lw)


# ---------------------------------------------------------------------------------------------------
# The chunked core: streaming logsumexp over data blocks, lax.map over query chunks.


def _pad_rows(a: jax.Array, size: int, value: float = 0.0) -> jax.Array:
  pad = (-a.shape[0]) % size
  if pad == 0:
    return a
  widths = [(0, pad)] + [(0, 0)] * (a.ndim - 1)
  return jnp.pad(a, widths, constant_values=value)


def _sizes(m: int, n: int, chunk_size: int | None, block_size: int | None) -> tuple[int, int]:
  chunk = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
  block = DEFAULT_BLOCK_SIZE if block_size is None else block_size
  chunk = max(1, min(chunk, m))
  num_blocks = -(-n // max(1, min(block, n)))
  block = -(-n // num_blocks)  # equal blocks: at most num_blocks − 1 padded rows
  return chunk, block


@functools.partial(jax.jit, static_argnames=("chunk_size", "block_size", "exclude_self", "second"))
def _kernel_logsumexp(xw: jax.Array, yw: jax.Array, log_w: jax.Array, *, chunk_size: int | None,
                      block_size: int | None, exclude_self: bool = False,
                      second: bool = False) -> tuple[jax.Array, jax.Array | None]:
  r"""For every query row: :math:`\mathrm{lse}_i(\log\pi_i - \tfrac12|x-y_i|^2)` (and of twice it).

  Returns ``(lse1, lse2)``, each ``[m]``; ``lse2`` is None unless ``second``. With ``exclude_self``
  the pair (i, i) is left out (x is then the data itself).
  """
  m, n = xw.shape[0], yw.shape[0]
  chunk, block = _sizes(m, n, chunk_size, block_size)
  dtype = yw.dtype
  yb = _pad_rows(yw, block).reshape(-1, block, yw.shape[1])
  wb = _pad_rows(log_w, block, -jnp.inf).reshape(-1, block)
  y2b = jnp.sum(yb * yb, axis=-1)
  xc = _pad_rows(xw, chunk).reshape(-1, chunk, xw.shape[1])
  neg_inf = jnp.asarray(-jnp.inf, dtype)

  def one_chunk(args):
    xq, q0 = args
    x2 = jnp.sum(xq * xq, axis=-1)
    q_idx = q0 + jnp.arange(chunk)

    def one_block(carry, blk):
      mx, s1, s2 = carry
      yq, y2, lw, b0 = blk
      dot = jnp.matmul(xq, yq.T, precision=_HIGHEST)
      sq = jnp.maximum(x2[:, None] + y2[None, :] - 2.0 * dot, 0.0)
      v = lw[None, :] - 0.5 * sq
      if exclude_self:
        v = jnp.where(q_idx[:, None] == (b0 + jnp.arange(block))[None, :], neg_inf, v)
      new = jnp.maximum(mx, jnp.max(v, axis=1))
      safe = jnp.where(jnp.isfinite(new), new, 0.0)
      s1 = s1 * jnp.exp(mx - safe) + jnp.sum(jnp.exp(v - safe[:, None]), axis=1)
      if second:
        s2 = s2 * jnp.exp(2.0 * (mx - safe)) + jnp.sum(jnp.exp(2.0 * (v - safe[:, None])), axis=1)
      return (new, s1, s2), None

    init = (jnp.full((chunk,), -jnp.inf, dtype), jnp.zeros((chunk,), dtype),
            jnp.zeros((chunk,), dtype))
    starts = jnp.arange(yb.shape[0]) * block
    (mx, s1, s2), _ = jax.lax.scan(one_block, init, (yb, y2b, wb, starts))
    safe = jnp.where(jnp.isfinite(mx), mx, 0.0)
    lse1 = jnp.log(s1) + safe
    lse2 = jnp.log(s2) + 2.0 * safe if second else None
    return lse1, lse2

  q_starts = jnp.arange(xc.shape[0]) * chunk
  if xc.shape[0] == 1:
    lse1, lse2 = one_chunk((xc[0], q_starts[0]))
    lse1, lse2 = lse1[None], (None if lse2 is None else lse2[None])
  else:
    lse1, lse2 = jax.lax.map(one_chunk, (xc, q_starts))
  lse1 = lse1.reshape(-1)[:m]
  lse2 = None if lse2 is None else lse2.reshape(-1)[:m]
  return lse1, lse2


# ---------------------------------------------------------------------------------------------------
# Public estimators.


def log_density(x: jax.Array, data: jax.Array, bandwidth: jax.Array | float, *,
                weights: jax.Array | None = None, chunk_size: int | None = None,
                block_size: int | None = None) -> jax.Array:
  r"""Log of the Gaussian KDE at query points.

  .. math::  \log\hat\rho_H(x_j) = \operatorname{logsumexp}_i\big[\log\pi_i - \tfrac12
             |L^{-1}(x_j - y_i)|^2\big] - \tfrac d2\log2\pi - \log\det L,\qquad H = LL^\top.

  Args:
    x: query points, shape ``[m, d]``.
    data: data points y_i, shape ``[n, d]``, n ≥ 1.
    bandwidth: a scalar h > 0 (H = h²I), per-dimension standard deviations ``[d]`` (H = diag h²), or the
      kernel covariance ``[d, d]`` (symmetric positive definite).
    weights: optional non-negative data weights ``[n]`` (normalised internally); default 1/n each.
    chunk_size: queries per chunk (default 512); memory is O(chunk_size · block_size).
    block_size: data rows per block of the streaming logsumexp (default 32768).

  Returns:
    ``[m]`` log-densities in nats, in the inputs' float dtype. Accurate to ~1e−5 nats in float32 at
    d ≤ 64 against a float64 brute force (the centring on the data mean limits the cancellation in
    :math:`|x|^2 + |y|^2 - 2x\cdot y`).

  Raises:
    ValueError: empty data, mismatched dimensions, non-positive/non-finite bandwidth, bad weights.

  References:
    Biroli & Mézard, arXiv:2408.05807; Silverman (1986).
  """
  _check_points(x, data, bandwidth, weights)
  xw, yw, logdet = _whiten(x, data, bandwidth)
  log_w = _log_weights(weights, yw.shape[0], yw.dtype)
  lse, _ = _kernel_logsumexp(xw, yw, log_w, chunk_size=chunk_size, block_size=block_size)
  d = yw.shape[1]
  return lse - 0.5 * d * math.log(2.0 * math.pi) - logdet


def loo_log_likelihood(data: jax.Array, bandwidth: jax.Array | float, *,
                       weights: jax.Array | None = None, chunk_size: int | None = None,
                       block_size: int | None = None) -> jax.Array:
  r"""Mean leave-one-out log-likelihood of the KDE on its own data.

  .. math::  \ell_\mathrm{LOO}(H) = \frac1n\sum_i\log\Big[\frac{\sum_{j\ne i}\pi_j\,\mathcal N(y_i;y_j,H)}
             {\sum_{j\ne i}\pi_j}\Big]

  (with uniform weights the bracket is :math:`\frac1{n-1}\sum_{j\ne i}\mathcal N(y_i; y_j, H)`).

  Args:
    data: ``[n, d]``, n ≥ 2.
    bandwidth: as in :func:`log_density`.
    weights: optional data weights ``[n]``; the average over i is unweighted.
    chunk_size, block_size: as in :func:`log_density`.

  Returns:
    Scalar, nats per point (not per dimension).

  References:
    Duin (1976); Silverman (1986) §3.4.4.
  """
  _check_points(None, data, bandwidth, weights)
  if np.shape(data)[0] < 2:
    raise ValueError(f"data needs at least 2 points for a leave-one-out likelihood, got "
                     f"{np.shape(data)[0]}.")
  _, yw, logdet = _whiten(None, data, bandwidth)
  n, d = yw.shape
  log_w = _log_weights(weights, n, yw.dtype)
  lse, _ = _kernel_logsumexp(yw, yw, log_w, chunk_size=chunk_size, block_size=block_size,
                             exclude_self=True)
  log_rest = jnp.log1p(-jnp.minimum(jnp.exp(log_w), 1.0))  # log Σ_{j≠i} π_j
  return jnp.mean(lse - log_rest) - 0.5 * d * math.log(2.0 * math.pi) - logdet


def participation_ratio(x: jax.Array, data: jax.Array, bandwidth: jax.Array | float, *,
                        weights: jax.Array | None = None, chunk_size: int | None = None,
                        block_size: int | None = None) -> jax.Array:
  r"""Participation ratio of the kernel weights at each query point.

  .. math::  Y(x) = \frac{\sum_i w_i^2}{(\sum_i w_i)^2},\qquad w_i = \pi_i\,e^{-|L^{-1}(x-y_i)|^2/2}.

  Y ∈ [1/n, 1] (for uniform π): Y ≈ 1 when one data point dominates, Y → 0 when many contribute. It is
  the order parameter of condensation: asymptotically :math:`\mathbb E Y = 1 - (h/h_G)^2` below
  :math:`h_G` and 0 above (:mod:`divjax.kde.theory`).

  Args:
    x: ``[m, d]`` queries.
    data: ``[n, d]``.
    bandwidth: as in :func:`log_density`.
    weights: optional data weights ``[n]``.
    chunk_size, block_size: as in :func:`log_density`.

  Returns:
    ``[m]`` participation ratios.

  References:
    Biroli & Mézard, arXiv:2408.05807; B. Derrida, *Random-energy model*, PRB 24 (1981).
  """
  _check_points(x, data, bandwidth, weights)
  xw, yw, _ = _whiten(x, data, bandwidth)
  log_w = _log_weights(weights, yw.shape[0], yw.dtype)
  lse1, lse2 = _kernel_logsumexp(xw, yw, log_w, chunk_size=chunk_size, block_size=block_size,
                                 second=True)
  return jnp.exp(lse2 - 2.0 * lse1)


# ---------------------------------------------------------------------------------------------------
# Bandwidth rules.


def _pooled_sd(data: jax.Array) -> jax.Array:
  data = jnp.asarray(data, _dtype(data))
  return jnp.sqrt(jnp.mean(jnp.var(data, axis=0, ddof=1)))


def _check_data_for_rule(data: Any) -> None:
  _check_points(None, data, 1.0, None)
  if np.shape(data)[0] < 2:
    raise ValueError(f"data needs at least 2 points to estimate a scale, got {np.shape(data)[0]}.")


def scott_bandwidth(data: jax.Array, *, diagonal: bool = False) -> jax.Array:
  r"""Scott's rule :math:`h = \hat\sigma\,n^{-1/(d+4)}`.

  Args:
    data: ``[n, d]``, n ≥ 2.
    diagonal: if True, per-dimension :math:`\hat\sigma_k n^{-1/(d+4)}` (shape ``[d]``); otherwise a
      scalar with the pooled :math:`\hat\sigma = (\frac1d\sum_k\hat\sigma_k^2)^{1/2}`.

  Returns:
    The bandwidth (scalar or ``[d]``). As n = e^{αd}, d → ∞ it tends to σe^{−α}, inside the condensed
    regime (:func:`divjax.kde.theory.h_g`).

  References:
    D. W. Scott, *Multivariate Density Estimation* (1992), (6.42).
  """
  _check_data_for_rule(data)
  n, d = np.shape(data)
  factor = n**(-1.0 / (d + 4))
  if diagonal:
    return jnp.std(jnp.asarray(data, _dtype(data)), axis=0, ddof=1) * factor
  return _pooled_sd(data) * factor


def silverman_bandwidth(data: jax.Array, *, diagonal: bool = False) -> jax.Array:
  r"""Silverman's rule :math:`h = \hat\sigma\,(4/(d+2))^{1/(d+4)}\,n^{-1/(d+4)}`.

  Args:
    data: ``[n, d]``, n ≥ 2.
    diagonal: per-dimension (``[d]``) instead of pooled scalar, as in :func:`scott_bandwidth`.

  Returns:
    The bandwidth; tends to σe^{−α} as n = e^{αd}, d → ∞.

  References:
    B. W. Silverman, *Density Estimation for Statistics and Data Analysis* (1986), (4.14).
  """
  _check_data_for_rule(data)
  n, d = np.shape(data)
  factor = (4.0 / (d + 2.0))**(1.0 / (d + 4)) * n**(-1.0 / (d + 4))
  if diagonal:
    return jnp.std(jnp.asarray(data, _dtype(data)), axis=0, ddof=1) * factor
  return _pooled_sd(data) * factor


def max_loo_bandwidth(data: jax.Array, *, bounds: tuple[float, float] = (0.05, 5.0),
                      num_steps: int = 40, chunk_size: int | None = None) -> jax.Array:
  r"""Isotropic bandwidth maximising the leave-one-out likelihood, by golden-section search in log h.

  .. math::  \hat h = \arg\max_{h\in[b_0\hat\sigma,\,b_1\hat\sigma]}\ \ell_\mathrm{LOO}(h)

  A fixed number of golden-section steps (``lax.fori_loop``; interval shrinks by 0.618 per step), so it
  runs under jit/vmap; it assumes :math:`\ell_\mathrm{LOO}` is unimodal on the bracket (true for Gaussian
  data; check with a grid when in doubt).

  Args:
    data: ``[n, d]``, n ≥ 2.
    bounds: the bracket in units of the pooled standard deviation :math:`\hat\sigma`.
    num_steps: golden-section steps (40 → bracket ratio 1e−8 of its start in log h).
    chunk_size: as in :func:`log_density`.

  Returns:
    Scalar h.

  References:
    Duin (1976); J. Kiefer, *Sequential minimax search for a maximum*, Proc. AMS (1953).
  """
  _check_data_for_rule(data)
  if not 0 < bounds[0] < bounds[1]:
    raise ValueError(f"bounds must satisfy 0 < lower < upper, got {bounds}.")
  sd = _pooled_sd(data)
  f = lambda log_h: loo_log_likelihood(data, jnp.exp(log_h), chunk_size=chunk_size)
  inv_phi = (math.sqrt(5.0) - 1.0) / 2.0
  a = jnp.log(sd * bounds[0])
  b = jnp.log(sd * bounds[1])
  c = b - inv_phi * (b - a)
  e = a + inv_phi * (b - a)

  def body(_, state):
    a, b, c, e, fc, fe = state
    left = fc > fe  # maximum in [a, e]
    a2, b2 = jnp.where(left, a, c), jnp.where(left, e, b)
    c2 = jnp.where(left, b2 - inv_phi * (b2 - a2), e)
    e2 = jnp.where(left, c, a2 + inv_phi * (b2 - a2))
    new = f(jnp.where(left, c2, e2))
    fc2 = jnp.where(left, new, fe)
    fe2 = jnp.where(left, fc, new)
    return a2, b2, c2, e2, fc2, fe2

  state = jax.lax.fori_loop(0, num_steps, body, (a, b, c, e, f(c), f(e)))
  return jnp.exp(0.5 * (state[0] + state[1]))


def kl_optimal_bandwidth(data: jax.Array, *, isotropic: bool = True) -> jax.Array:
  r"""The random-energy-model KL-optimal bandwidth :math:`h^* = \sqrt{u_\min(\alpha)}` with α = ln n / d.

  Isotropic: :math:`h^* = \hat\sigma\,h^*(\alpha;1)` with the pooled :math:`\hat\sigma`. General: the
  eigenvalues of the sample covariance go into :func:`divjax.kde.theory.general_thresholds`. Both assume
  (approximately) Gaussian data and large d; h* lies below the condensation threshold h_G, so few
  data points dominate the estimate at a typical point.

  Args:
    data: ``[n, d]``, n ≥ 2.
    isotropic: pooled scalar σ̂ (default) or the full sample-covariance spectrum.

  Returns:
    Scalar h*.

  References:
    Biroli & Mézard, arXiv:2408.05807; divjax spec §2.3.
  """
  _check_data_for_rule(data)
  n, d = np.shape(data)
  alpha = math.log(n) / d
  if isotropic:
    return _pooled_sd(data) * theory.h_star(jnp.asarray(alpha, _dtype(data)))
  data = jnp.asarray(data, _dtype(data))
  cov = jnp.cov(data, rowvar=False).reshape(d, d)
  eig = jnp.maximum(jnp.linalg.eigvalsh(cov), jnp.finfo(data.dtype).tiny)
  return theory.general_thresholds(jnp.asarray(alpha, data.dtype), eig).h_star


# ---------------------------------------------------------------------------------------------------
# Monte-Carlo KL to a known reference density.


class KLEstimate(NamedTuple):
  """A Monte-Carlo estimate with its standard error."""
  value: jax.Array   # the estimate, nats
  stderr: jax.Array  # standard error of the mean, nats


def kl_to_reference(key: jax.Array, logpdf_true: Callable[[jax.Array], jax.Array],
                    sampler: Callable[[jax.Array, int], jax.Array], data: jax.Array,
                    bandwidth: jax.Array | float, n_test: int, *,
                    chunk_size: int | None = None) -> KLEstimate:
  r"""Monte-Carlo :math:`\mathrm{KL}(\rho\,\|\,\hat\rho_H)` with fresh test points from ρ.

  .. math::  \widehat{\mathrm{KL}} = \frac1{m}\sum_{j=1}^{m}\big[\log\rho(x_j) - \log\hat\rho_H(x_j)\big],
             \quad x_j\sim\rho,\qquad \mathrm{SE} = \mathrm{sd}_j/\sqrt m.

  The test points are independent of the data, so this is unbiased for the KL of *this* data set's KDE.

  Args:
    key: PRNG key for the test points.
    logpdf_true: ``[m, d] -> [m]`` log-density of ρ.
    sampler: ``(key, m) -> [m, d]`` draws from ρ.
    data: ``[n, d]``.
    bandwidth: as in :func:`log_density`.
    n_test: m ≥ 2 (static).
    chunk_size: as in :func:`log_density`.

  Returns:
    :class:`KLEstimate` (value, stderr), nats (not per dimension).

  References:
    Biroli & Mézard, arXiv:2408.05807.
  """
  n_test = _validate.integer("n_test", n_test, minimum=2)
  x = sampler(key, n_test)
  diff = logpdf_true(x) - log_density(x, data, bandwidth, chunk_size=chunk_size)
  return KLEstimate(jnp.mean(diff), jnp.std(diff, ddof=1) / math.sqrt(n_test))
