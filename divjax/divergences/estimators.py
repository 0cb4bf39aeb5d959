r"""Sample-based divergence estimators.

Two families, both in nats:

* a *nonparametric* estimator of :math:`\mathrm{KL}(P\,\|\,Q)` from samples alone, through
  k-nearest-neighbour distances (:func:`knn_kl_divergence`), consistent as the sample sizes grow;
* *variational lower bounds* from the outputs of a critic :math:`T` evaluated on samples of P and of Q
  (:func:`donsker_varadhan_bound`, :func:`nwj_bound`, :func:`f_gan_bound`). They hold for every critic
  and are tight at the optimal one, so maximising them over T both estimates the divergence and
  learns the density ratio (MINE, f-GAN).

Symbols, defined once:

* :math:`x_1,\dots,x_n \sim P` and :math:`y_1,\dots,y_m \sim Q`, points of :math:`\mathbb{R}^d`;
* :math:`r = dP/dQ`, the density ratio;
* :math:`\rho_l(i)`: the Euclidean distance from :math:`x_i` to its l-th nearest neighbour among
  :math:`\{x_j : j \ne i\}`; :math:`\nu_k(i)`: the distance from :math:`x_i` to its k-th nearest
  neighbour among :math:`\{y_j\}`;
* :math:`\psi`: the digamma function;
* :math:`t^P_i = T(x_i)` (``t_p``, shape ``[..., n]``) and :math:`t^Q_j = T(y_j)` (``t_q``, shape
  ``[..., m]``): critic outputs;
* :math:`f^*`: the convex conjugate of an f-divergence generator (see
  :mod:`divjax.divergences.generators`, convention :math:`D_f(P\|Q) = \mathbb{E}_Q f(r)`).

The estimator's duplicate handling and the three bounds are derived in :doc:`/theory/fdivergences`.

References:
  * Wang, Kulkarni & Verdú, *Divergence estimation for multidimensional densities via
    k-nearest-neighbor distances*, IEEE Trans. IT 55(5):2392–2405, 2009.
  * Donsker & Varadhan, *Asymptotic evaluation of certain Markov process expectations for large
    time IV*, Comm. Pure Appl. Math. 36, 1983.
  * Nguyen, Wainwright & Jordan, *Estimating divergence functionals and the likelihood ratio by
    convex risk minimization*, IEEE Trans. IT 56, 2010, arXiv:0809.0853.
  * Nowozin, Cseke & Tomioka, *f-GAN: training generative neural samplers using variational
    divergence minimization*, NeurIPS 2016, arXiv:1606.00709.
  * Belghazi et al., *Mutual information neural estimation*, ICML 2018, arXiv:1801.04062.
  * Poole, Ozair, van den Oord, Alemi & Tucker, *On variational bounds of mutual information*,
    ICML 2019, arXiv:1905.06922.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate
from divjax.divergences.generators import FGenerator

__all__ = [
    "knn_kl_divergence",
    "donsker_varadhan_bound",
    "nwj_bound",
    "f_gan_bound",
]

Array = jax.Array

# ---------------------------------------------------------------------------------------------------
# k-nearest-neighbour KL estimator (Wang, Kulkarni & Verdú 2009).


@_validate.guarded
def knn_kl_divergence(x: Array, y: Array, *, k: int = 1, chunk_size: int = 256) -> Array:
  r"""The k-nearest-neighbour estimator of KL(P‖Q) from samples (Wang, Kulkarni & Verdú).

  .. math::
     \widehat{D} = \frac{d}{n}\sum_{i=1}^n \log\frac{\nu_{k_i}(i)}{\rho_{l_i}(i)}
       + \frac1n\sum_{i=1}^n \bigl[\psi(l_i) - \psi(k_i)\bigr] + \log\frac{m}{n-1},

  with :math:`l_i = k + \#\{j \ne i : x_j = x_i\}` and :math:`k_i = k + \#\{j : y_j = x_i\}`. That is,
  :math:`\rho` and :math:`\nu` are the k-th smallest *strictly positive* distances from :math:`x_i`
  (to the other points of x and to y), so exact duplicates never give :math:`\log 0`, and the digamma
  term corrects for the shift in rank; this is Wang, Kulkarni & Verdú's adaptive-(l, k) estimator,
  consistent for fixed offsets. With no duplicates it reduces to their fixed-k estimator
  :math:`\frac dn\sum_i\log\frac{\nu_k(i)}{\rho_k(i)} + \log\frac{m}{n-1}`.

  The estimate is consistent (:math:`n, m \to \infty` with k fixed) but neither a bound nor unbiased
  at finite n, and it can be negative. Its bias grows with the dimension d; a larger k lowers the
  variance at the cost of more bias.

  Distances are computed from exact coordinate differences (never through
  :math:`\|x\|^2 + \|y\|^2 - 2x\cdot y`, which turns duplicates into tiny non-zero distances in
  float32) and in the log domain (:math:`\log\|v\| = \log s + \tfrac12\log\sum_c (v_c/s)^2` with
  :math:`s = \max_c|v_c|`), so neither underflow nor overflow of squared distances matters; two
  points are duplicates when all their coordinates are equal. Self-distances are excluded by index,
  not by value. Rows of x are processed ``chunk_size`` at a time with :func:`jax.lax.map`, so memory
  is :math:`O(\texttt{chunk\_size}\cdot\max(n, m)\cdot d)` and time :math:`O(n (n + m) d)`.

  Under ``jit``: ``k`` and ``chunk_size`` fix shapes, so pass them as static arguments, e.g.
  ``jax.jit(knn_kl_divergence, static_argnames=("k", "chunk_size"))``. The computation itself is
  already compiled (and cached per ``(k, chunk_size)`` and shapes) on each call.

  Args:
    x: samples of P, shape ``[n, d]``, finite.
    y: samples of Q, shape ``[m, d]`` with the same ``d``, finite.
    k: the neighbour rank, an integer with ``1 <= k <= n - 1`` and ``k <= m``.
    chunk_size: how many rows of x are processed at once (``>= 1``); it changes memory and speed, not
      the result.

  Returns:
    The estimate in nats, a scalar of the inputs' floating dtype (float32 for integer inputs).

    It is undefined when some :math:`x_i` has fewer than k points at positive distance among the
    other points of x (all but fewer than k of them are copies of :math:`x_i`), or fewer than k
    points of y different from :math:`x_i`. On concrete inputs this raises a ``ValueError``; under
    ``jit``/``vmap`` (where values cannot be inspected) the result is NaN.

  Raises:
    ValueError: if ``x`` or ``y`` is not 2-D, their dimensions differ, they contain NaN or ±inf,
      ``k`` is out of range, ``chunk_size < 1``, or (concrete inputs only) the estimate is undefined
      because of duplicates, as described above.
    TypeError: if ``k`` or ``chunk_size`` is not an integer.

  References:
    * Wang, Kulkarni & Verdú, *Divergence estimation for multidimensional densities via
      k-nearest-neighbor distances*, IEEE Trans. IT 55(5):2392–2405, 2009 (the adaptive (l, k)
      choice is their Section III).
    * Pérez-Cruz, *Kullback–Leibler divergence estimation of continuous distributions*, ISIT 2008.

  Examples:
    For P = N(0, 1) and Q = N(1, 1) the true value is ½; the estimate is random, with an error
    that shrinks as n and m grow. Data with many exact ties (rounded to one decimal) stay finite:

    >>> import numpy as np
    >>> from divjax import divergences as dv
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(0.0, 1.0, (2000, 1)), rng.normal(1.0, 1.0, (2000, 1))
    >>> print(f"{float(dv.knn_kl_divergence(x, y, k=3)):.2f}")
    0.50
    >>> print(f"{float(dv.knn_kl_divergence(np.round(x, 1), np.round(y, 1), k=3)):.2f}")
    0.48
  """
  x = jnp.asarray(_validate.array("x", x)) if isinstance(x, (list, tuple)) else x
  y = jnp.asarray(_validate.array("y", y)) if isinstance(y, (list, tuple)) else y
  _validate.ndim("x", x, 2)
  _validate.ndim("y", y, 2)
  n, d = np.shape(x)
  m = np.shape(y)[0]
  _validate.last_dim("y", y, d, what="the dimension d of x")
  x = _validate.finite("x", x)
  y = _validate.finite("y", y)
  k = _validate.integer("k", k, minimum=1)
  if k > n - 1:
    raise ValueError(
        f"k must be <= n - 1 = {n - 1} (the number of other points in x, shape {np.shape(x)}), "
        f"got {k}.")
  if k > m:
    raise ValueError(f"k must be <= m = {m} (the number of points in y, shape {np.shape(y)}), got {k}.")
  chunk_size = _validate.integer("chunk_size", chunk_size, minimum=1)

  estimate, missing_rho, missing_nu = _knn_kl_divergence(x, y, k=k, chunk_size=chunk_size)

  if _validate.is_concrete((x, y)):
    if int(missing_rho) > 0:
      raise ValueError(
          f"x has {int(missing_rho)} point(s) with fewer than k = {k} other points of x at positive "
          "distance (too many exact duplicates): the kNN estimate is undefined. Lower k or remove "
          "duplicates.")
    if int(missing_nu) > 0:
      raise ValueError(
          f"y has fewer than k = {k} points different from {int(missing_nu)} point(s) of x (too many "
          "exact duplicates): the kNN estimate is undefined. Lower k or remove duplicates.")
  return estimate


def _log_distances(a: Array, b: Array) -> tuple[Array, Array]:
  """Log Euclidean distances between rows of ``a`` [c, d] and ``b`` [n, d], and the duplicate mask.

  Returns ``(log_dist, dup)`` of shape [c, n]: ``dup`` marks exactly equal rows, whose ``log_dist`` is
  ``+inf`` so that ``top_k`` on the negation only ever picks positive distances.
  """
  diff = a[:, None, :] - b[None, :, :]
  scale = jnp.max(jnp.abs(diff), axis=-1)  # 0 iff the rows are equal
  dup = scale == 0
  safe = jnp.where(dup, 1.0, scale)
  # sum((diff/scale)^2) lies in [1, d]: its log never under- or overflows.
  log_dist = jnp.log(safe) + 0.5 * jnp.log(jnp.sum((diff / safe[..., None])**2, axis=-1))
  return jnp.where(dup, jnp.inf, log_dist), dup


def _kth_smallest(log_dist: Array, k: int) -> Array:
  """The k-th smallest entry of each row (``+inf`` when a row has fewer than k finite entries)."""
  if k == 1:
    return jnp.min(log_dist, axis=-1)
  if log_dist.dtype == jnp.float32:
    neg, _ = jax.lax.top_k(-log_dist, k)
    # The smallest of the top k, not ``neg[:, k - 1]``: XLA's CPU TopK rewriter only recognises a
    # prefix of the sorted values, and a single-column slice turns top_k back into a full sort.
    return -jnp.min(neg, axis=-1)
  # XLA:CPU has no float64 TopK kernel (top_k becomes a full sort, ~10x slower): remove the current
  # minimum k − 1 times instead (one occurrence at a time, so ties count with multiplicity).
  rows = jnp.arange(log_dist.shape[0])

  def drop_min(_, d):
    return d.at[rows, jnp.argmin(d, axis=-1)].set(jnp.inf)

  return jnp.min(jax.lax.fori_loop(0, k - 1, drop_min, log_dist), axis=-1)


@functools.partial(jax.jit, static_argnames=("k", "chunk_size"))
@_validate.kernel
def _knn_kl_divergence(x: Array, y: Array, *, k: int,
                       chunk_size: int) -> tuple[Array, Array, Array]:
  """Jitted core of :func:`knn_kl_divergence`: (estimate, #rows without ρ, #rows without ν)."""
  dtype = jnp.result_type(x, y, jnp.float32)
  x = jnp.asarray(x, dtype)
  y = jnp.asarray(y, dtype)
  n, d = x.shape
  m = y.shape[0]

  c = min(chunk_size, n)
  num_chunks = -(-n // c)
  pad = num_chunks * c - n
  # Padded rows copy the last point (finite results) and are dropped below.
  x_rows = jnp.pad(x, ((0, pad), (0, 0)), mode="edge").reshape(num_chunks, c, d)
  rows = jnp.arange(num_chunks * c).reshape(num_chunks, c)
  cols = jnp.arange(n)

  def chunk_terms(args):
    xc, idx = args
    log_dxx, dup_xx = _log_distances(xc, x)
    is_self = idx[:, None] == cols[None, :]
    log_dxx = jnp.where(is_self, jnp.inf, log_dxx)
    l_i = k + jnp.sum(dup_xx & ~is_self, axis=-1)
    log_dxy, dup_xy = _log_distances(xc, y)
    k_i = k + jnp.sum(dup_xy, axis=-1)
    log_rho = _kth_smallest(log_dxx, k)
    log_nu = _kth_smallest(log_dxy, k)
    return log_rho, log_nu, l_i, k_i

  log_rho, log_nu, l_i, k_i = jax.lax.map(chunk_terms, (x_rows, rows))
  log_rho, log_nu, l_i, k_i = (a.reshape(-1)[:n] for a in (log_rho, log_nu, l_i, k_i))

  missing_rho = jnp.isinf(log_rho)
  missing_nu = jnp.isinf(log_nu)
  undefined = missing_rho | missing_nu
  psi = jax.scipy.special.digamma
  terms = d * (log_nu - log_rho) + psi(l_i.astype(dtype)) - psi(k_i.astype(dtype))
  terms = jnp.where(undefined, 0.0, terms)
  estimate = jnp.mean(terms) + math.log(m / (n - 1))
  estimate = jnp.where(jnp.any(undefined), jnp.nan, estimate).astype(dtype)
  return estimate, jnp.sum(missing_rho), jnp.sum(missing_nu & ~missing_rho)


# ---------------------------------------------------------------------------------------------------
# Variational lower bounds from critic outputs.


def _critic_values(t_p: Any, t_q: Any) -> tuple[Array, Array]:
  """Checks critic outputs ``[..., n]`` and ``[..., m]`` and returns them as float arrays."""
  for name, t in (("t_p", t_p), ("t_q", t_q)):
    _validate.array(name, t)
    if np.ndim(t) == 0:
      raise ValueError(f"{name} must have at least one dimension (the sample axis), got a scalar.")
    if np.shape(t)[-1] == 0:
      raise ValueError(f"{name} must hold at least one sample on its last axis, got shape "
                       f"{np.shape(t)}.")
  try:
    np.broadcast_shapes(np.shape(t_p)[:-1], np.shape(t_q)[:-1])
  except ValueError as err:
    raise ValueError(
        f"the leading (batch) axes of t_p {np.shape(t_p)} and t_q {np.shape(t_q)} do not "
        "broadcast.") from err
  return _as_float(_validate.finite("t_p", t_p)), _as_float(_validate.finite("t_q", t_q))


def _as_float(t: Any) -> Array:
  t = jnp.asarray(t)
  if not jnp.issubdtype(t.dtype, jnp.floating):
    t = t.astype(jnp.result_type(float))
  return t


@_validate.guarded
def donsker_varadhan_bound(t_p: Array, t_q: Array) -> Array:
  r"""The Donsker–Varadhan lower bound on KL(P‖Q) from critic values (the MINE objective).

  .. math::
     \mathrm{KL}(P\,\|\,Q) \;\ge\; \frac1n\sum_{i=1}^n t^P_i
       - \log\Bigl(\frac1m\sum_{j=1}^m e^{t^Q_j}\Bigr),

  the sample version of :math:`\mathbb{E}_P[T] - \log\mathbb{E}_Q[e^T]`, computed with a stable
  ``logsumexp``. The population bound holds for every critic T and is tight exactly at
  :math:`T^* = \log\frac{dP}{dQ} + c` for any constant c (the bound is invariant to shifts of T).
  It is never looser than :func:`nwj_bound` with the same T: NWJ maximised over shifts of T equals
  DV. The sample estimate is biased (the log of a mean), slightly upwards for fixed T.

  Args:
    t_p: critic values on samples of P, shape ``[..., n]``, finite.
    t_q: critic values on samples of Q, shape ``[..., m]``, finite; leading axes broadcast against
      those of ``t_p``.

  Returns:
    The bound in nats, shape ``[...]`` (the broadcast leading axes).

  Raises:
    ValueError: if an input is a scalar, has an empty sample axis, contains NaN or ±inf, or the
      leading axes do not broadcast.

  References:
    * Donsker & Varadhan, *Asymptotic evaluation of certain Markov process expectations for large
      time IV*, Comm. Pure Appl. Math. 36, 1983.
    * Belghazi et al., *Mutual information neural estimation*, ICML 2018, arXiv:1801.04062.

  Examples:
    For P = N(1, 1) and Q = N(0, 1) the optimal critic is log dP/dQ(z) = z − ½ and KL(P‖Q) = ½;
    shifting the critic changes nothing:

    >>> import numpy as np
    >>> from divjax import divergences as dv
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(1.0, 1.0, 10_000), rng.normal(0.0, 1.0, 10_000)
    >>> print(f"{float(dv.donsker_varadhan_bound(x - 0.5, y - 0.5)):.4f}")
    0.5094
    >>> print(f"{float(dv.donsker_varadhan_bound(x + 2.5, y + 2.5)):.4f}")
    0.5094
  """
  t_p, t_q = _critic_values(t_p, t_q)
  m = t_q.shape[-1]
  return jnp.mean(t_p, axis=-1) - (jax.nn.logsumexp(t_q, axis=-1) - math.log(m))


@_validate.guarded
def nwj_bound(t_p: Array, t_q: Array) -> Array:
  r"""The Nguyen–Wainwright–Jordan lower bound on KL(P‖Q) from critic values (f-GAN with KL).

  .. math::
     \mathrm{KL}(P\,\|\,Q) \;\ge\; \frac1n\sum_{i=1}^n t^P_i - \frac1m\sum_{j=1}^m e^{t^Q_j - 1},

  the sample version of :math:`\mathbb{E}_P[T] - \mathbb{E}_Q[e^{T-1}]`. It holds for every critic
  and is tight exactly at :math:`T^* = 1 + \log\frac{dP}{dQ}`. Unlike Donsker–Varadhan, both terms
  are plain means, so the sample estimate is unbiased for a fixed critic (at the price of a higher
  variance when :math:`e^{T}` is heavy-tailed under Q).

  Args:
    t_p: critic values on samples of P, shape ``[..., n]``, finite.
    t_q: critic values on samples of Q, shape ``[..., m]``, finite; leading axes broadcast against
      those of ``t_p``.

  Returns:
    The bound in nats, shape ``[...]``.

  Raises:
    ValueError: if an input is a scalar, has an empty sample axis, contains NaN or ±inf, or the
      leading axes do not broadcast.

  References:
    * Nguyen, Wainwright & Jordan, *Estimating divergence functionals and the likelihood ratio by
      convex risk minimization*, IEEE Trans. IT 56, 2010, arXiv:0809.0853.
    * Poole et al., *On variational bounds of mutual information*, ICML 2019, arXiv:1905.06922.

  Examples:
    For P = N(1, 1) and Q = N(0, 1) the optimal critic is 1 + log dP/dQ(z) = z + ½ and KL(P‖Q) = ½;
    the critic without the + 1 gives a looser bound:

    >>> import numpy as np
    >>> from divjax import divergences as dv
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(1.0, 1.0, 10_000), rng.normal(0.0, 1.0, 10_000)
    >>> print(f"{float(dv.nwj_bound(x + 0.5, y + 0.5)):.4f}")
    0.5094
    >>> print(f"{float(dv.nwj_bound(x - 0.5, y - 0.5)):.4f}")
    0.1396
  """
  t_p, t_q = _critic_values(t_p, t_q)
  return jnp.mean(t_p, axis=-1) - jnp.mean(jnp.exp(t_q - 1.0), axis=-1)


@_validate.guarded
def f_gan_bound(generator: FGenerator, t_p: Array, t_q: Array) -> Array:
  r"""The variational (f-GAN) lower bound on an f-divergence D_f(P‖Q) from critic values.

  .. math::
     D_f(P\,\|\,Q) \;\ge\; \frac1n\sum_{i=1}^n t^P_i - \frac1m\sum_{j=1}^m f^*\bigl(t^Q_j\bigr),

  the sample version of :math:`\mathbb{E}_P[T] - \mathbb{E}_Q[f^*(T)]`, with :math:`f^*` the convex
  conjugate of the generator. It holds for every critic and is tight at
  :math:`T^* = f'\bigl(\frac{dP}{dQ}\bigr)`. With ``generators.KL`` it is :func:`nwj_bound`.

  :math:`f^*` is ``+inf`` outside its domain (e.g. :math:`t \ge \tfrac12` for squared Hellinger,
  :math:`t \ge \tfrac12\log 2` for Jensen–Shannon, :math:`t \ge 0` for reverse KL), so the bound is
  ``-inf`` as soon as one value of ``t_q`` lies outside :math:`\mathrm{dom}\,f^*`. Map raw network
  outputs into the domain first (Nowozin et al.'s output activation :math:`g_f`, Table 2), e.g.
  :math:`T = \tfrac12\log2 - \tfrac12\log(1 + e^{-v})` for Jensen–Shannon.

  Args:
    generator: an :class:`~divjax.divergences.generators.FGenerator` (a pytree: an α-family
      generator may be traced).
    t_p: critic values on samples of P, shape ``[..., n]``, finite.
    t_q: critic values on samples of Q, shape ``[..., m]``, finite; leading axes broadcast against
      those of ``t_p``.

  Returns:
    The bound in nats, shape ``[...]``; ``-inf`` where some ``t_q`` is outside the conjugate's
    domain.

  Raises:
    TypeError: if ``generator`` is not an ``FGenerator``.
    ValueError: if an input is a scalar, has an empty sample axis, contains NaN or ±inf, or the
      leading axes do not broadcast.

  References:
    * Nowozin, Cseke & Tomioka, *f-GAN: Training generative neural samplers using variational
      divergence minimization*, NeurIPS 2016, arXiv:1606.00709.
    * Nguyen, Wainwright & Jordan, IEEE Trans. IT 56, 2010, arXiv:0809.0853.

  Examples:
    For P = N(1, 1) and Q = N(0, 1) the optimal critic is f'(dP/dQ) and the squared Hellinger
    distance is 1 − exp(−1/8) = 0.1175; a critic value outside the domain of f* gives −inf:

    >>> import numpy as np
    >>> from divjax import divergences as dv
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(1.0, 1.0, 10_000), rng.normal(0.0, 1.0, 10_000)
    >>> critic = lambda z: dv.SQUARED_HELLINGER.f_prime(np.exp(z - 0.5))
    >>> print(f"{float(dv.f_gan_bound(dv.SQUARED_HELLINGER, critic(x), critic(y))):.4f}")
    0.1188
    >>> print(float(dv.f_gan_bound(dv.SQUARED_HELLINGER, np.array([0.0]), np.array([0.6]))))
    -inf
  """
  if not isinstance(generator, FGenerator):
    raise TypeError(f"generator must be an FGenerator, got {type(generator).__name__}.")
  t_p, t_q = _critic_values(t_p, t_q)
  return jnp.mean(t_p, axis=-1) - jnp.mean(generator.conjugate(t_q), axis=-1)
