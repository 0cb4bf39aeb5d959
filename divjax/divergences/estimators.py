r"""Sample-based divergence, entropy and mutual-information estimators.

Two families, all in nats:

* *nonparametric* estimators from samples alone, through k-nearest-neighbour distances:
  KL(P‖Q) (:func:`knn_kl_divergence`), the differential entropy H(P) (:func:`knn_entropy`) and the
  mutual information I(X; Y) (:func:`ksg_mutual_information`), consistent as the sample sizes grow;
  each runs on a KD-tree (CPU) or by blocked brute force (accelerators), with the same result;
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
* :math:`V_d = \pi^{d/2}/\Gamma(d/2+1)`: the volume of the Euclidean unit ball in :math:`\mathbb{R}^d`;
* for paired samples :math:`z_i = (x_i, y_i)`: :math:`\epsilon_i`, the max-norm distance from
  :math:`z_i` to its k-th nearest neighbour, and :math:`n_x(i)`, :math:`n_y(i)`, the numbers of
  other points strictly closer than :math:`\epsilon_i` in each marginal;
* :math:`\psi`: the digamma function;
* :math:`t^P_i = T(x_i)` (``t_p``, shape ``[..., n]``) and :math:`t^Q_j = T(y_j)` (``t_q``, shape
  ``[..., m]``): critic outputs;
* :math:`f^*`: the convex conjugate of an f-divergence generator (see
  :mod:`divjax.divergences.generators`, convention :math:`D_f(P\|Q) = \mathbb{E}_Q f(r)`).

The kNN estimators' duplicate handling and the three bounds are derived in
:doc:`/theory/fdivergences`.

References:
  * Wang, Kulkarni & Verdú, *Divergence estimation for multidimensional densities via
    k-nearest-neighbor distances*, IEEE Trans. IT 55(5):2392–2405, 2009.
  * Kozachenko & Leonenko, *Sample estimate of the entropy of a random vector*, Problems Inform.
    Transmission 23(2), 1987.
  * Kraskov, Stögbauer & Grassberger, *Estimating mutual information*, Phys. Rev. E 69, 066138,
    2004, arXiv:cond-mat/0305641.
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
from divjax.divergences import _knn
from divjax.divergences.generators import FGenerator

__all__ = [
    "knn_kl_divergence",
    "knn_entropy",
    "ksg_mutual_information",
    "donsker_varadhan_bound",
    "nwj_bound",
    "f_gan_bound",
]

Array = jax.Array

# ---------------------------------------------------------------------------------------------------
# k-nearest-neighbour estimators: KL (Wang, Kulkarni & Verdú 2009), entropy (Kozachenko & Leonenko
# 1987), mutual information (Kraskov, Stögbauer & Grassberger 2004).

_METHOD_DOC = """
  Exactness and speed: ``method="tree"`` finds the neighbours with scipy's ``cKDTree`` on the host
  (through :func:`jax.pure_callback`; it works under ``jit`` and ``vmap``, one tree per batch
  element), ``method="brute"`` compares all pairs in tiles of ``chunk_size`` × ``block_size`` points
  (memory :math:`O(\\texttt{chunk\\_size}\\cdot\\texttt{block\\_size})`, time :math:`O(n^2 d)`; for
  accelerators and higher d), and ``method="auto"`` takes the tree on a CPU backend up to a
  dimension that grows with n and depends on the estimator (at n = 4000: d ≤ 7 for KL, 10 for the
  entropy, 6 for KSG; ``divjax.divergences._knn.tree_max_dim``, a rule measured on 2 CPU
  cores, ``benchmarks/RESULTS.md``, case 4g) and brute force otherwise, n being the larger sample.
  The methods select the same neighbours and the distances are then computed once, in JAX, from
  exact coordinate differences, so their estimates agree to rounding (bit for bit unless two
  candidate distances are within one rounding of each other); duplicates are detected by exact
  equality of all coordinates on both paths."""


def _points(name: str, a: Any) -> Any:
  """A 2-D array of samples (lists accepted); shape checks only, values are checked by the caller."""
  a = jnp.asarray(_validate.array(name, a)) if isinstance(a, (list, tuple)) else a
  _validate.array(name, a)
  _validate.ndim(name, a, 2)
  return a


def _search_options(estimator: str, method: Any, d: int, num_points: int, chunk_size: Any,
                    block_size: Any) -> tuple[str, int, int]:
  chunk_size = _validate.integer("chunk_size", chunk_size, minimum=1)
  block_size = _validate.integer("block_size", block_size, minimum=1)
  return _knn.resolve_method(method, d, num_points, estimator), chunk_size, block_size


def _neighbours(q: Array, r: Array | None, *, k: int, norm: str, method: str, chunk_size: int,
                block_size: int) -> _knn.Neighbours:
  """k-th positive-distance neighbours of q among r (None: among the other rows of q)."""
  if method == "tree":
    return _knn.search_tree(q, r, k=k, norm=norm)
  same = r is None
  return _knn.search_brute(q, q if same else r, k=k, norm=norm, same=same, chunk_size=chunk_size,
                           block_size=block_size)


def _log_distance_to(q: Array, r: Array, index: Array) -> Array:
  """log ‖q_i − r_index[i]‖ from exact coordinate differences; +inf where index is −1 (missing)."""
  missing = index < 0
  log_dist = _knn.log_distance(q, r[jnp.where(missing, 0, index)])
  return jnp.where(missing, jnp.inf, log_dist)


def _non_finite(*arrays: Array) -> Array:
  """True if any entry is NaN or ±inf: the estimate is then NaN (a NaN-poisoned input under jit)."""
  return functools.reduce(jnp.logical_or, [~jnp.all(jnp.isfinite(a)) for a in arrays])


def _undefined_error(what: str, count: int, k: int) -> str:
  return (f"{what} has {count} point(s) with fewer than k = {k} other points of {what} at positive "
          "distance (too many exact duplicates): the kNN estimate is undefined. Lower k or remove "
          "duplicates.")


@_validate.guarded
def knn_kl_divergence(x: Array, y: Array, *, k: int = 1, method: str = "auto",
                      chunk_size: int = _knn.DEFAULT_CHUNK_SIZE,
                      block_size: int = _knn.DEFAULT_BLOCK_SIZE) -> Array:
  r"""The k-nearest-neighbour estimator of KL(P‖Q) from samples (Wang, Kulkarni & Verdú).

  .. math::
     \widehat{D} = \frac{d}{n}\sum_{i=1}^n \log\frac{\nu_{k_i}(i)}{\rho_{l_i}(i)}
       + \frac1n\sum_{i=1}^n \bigl[\psi(l_i) - \psi(k_i)\bigr] + \log\frac{m}{n-1},

  with :math:`l_i = k + \#\{j \ne i : x_j = x_i\}` and :math:`k_i = k + \#\{j : y_j = x_i\}`. That is,
  :math:`\rho` and :math:`\nu` are the k-th smallest *strictly positive* Euclidean distances from
  :math:`x_i` (to the other points of x and to y), so exact duplicates never give :math:`\log 0`, and
  the digamma term corrects for the shift in rank; this is Wang, Kulkarni & Verdú's adaptive-(l, k)
  estimator, consistent for fixed offsets. With no duplicates it reduces to their fixed-k estimator
  :math:`\frac dn\sum_i\log\frac{\nu_k(i)}{\rho_k(i)} + \log\frac{m}{n-1}`.

  The estimate is consistent (:math:`n, m \to \infty` with k fixed) but neither a bound nor unbiased
  at finite n, and it can be negative. Its bias grows with the dimension d; a larger k lowers the
  variance at the cost of more bias.

  Distances are computed from exact coordinate differences (never through
  :math:`\|x\|^2 + \|y\|^2 - 2x\cdot y`, which turns duplicates into tiny non-zero distances in
  float32) and in the log domain (:math:`\log\|v\| = \log s + \tfrac12\log\sum_c (v_c/s)^2` with
  :math:`s = \max_c|v_c|`), so neither underflow nor overflow of squared distances matters; two
  points are duplicates when all their coordinates are equal. Self-distances are excluded by index,
  not by value.
  {methods}

  Under ``jit``: ``k``, ``method``, ``chunk_size`` and ``block_size`` are Python values that fix the
  program, so pass them as static arguments, e.g.
  ``jax.jit(knn_kl_divergence, static_argnames=("k", "method"))``. The computation itself is
  already compiled (and cached per static arguments and shapes) on each call.

  Gradients: the estimate is a piecewise-smooth function of the samples (smooth while no neighbour
  changes rank), and ``jax.grad`` returns the gradient of the current piece on both paths; it is
  the derivative of the estimator, not an estimate of the derivative of the divergence.

  Args:
    x: samples of P, shape ``[n, d]``, finite.
    y: samples of Q, shape ``[m, d]`` with the same ``d``, finite.
    k: the neighbour rank, an integer with ``1 <= k <= n - 1`` and ``k <= m``.
    method: ``"auto"`` (default), ``"tree"`` or ``"brute"``; the result does not depend on it.
    chunk_size: brute force: rows of x per tile (``>= 1``); memory and speed only.
    block_size: brute force: reference points per tile (``>= 1``); memory and speed only.

  Returns:
    The estimate in nats, a scalar of the inputs' floating dtype (float32 for integer inputs).

    It is undefined when some :math:`x_i` has fewer than k points at positive distance among the
    other points of x (all but fewer than k of them are copies of :math:`x_i`), or fewer than k
    points of y different from :math:`x_i`. On concrete inputs this raises a ``ValueError``; under
    ``jit``/``vmap`` (where values cannot be inspected) the result is NaN.

  Raises:
    ValueError: if ``x`` or ``y`` is not 2-D, their dimensions differ, they contain NaN or ±inf,
      ``k`` is out of range, ``method`` is unknown, ``chunk_size < 1`` or ``block_size < 1``, or
      (concrete inputs only) the estimate is undefined because of duplicates, as described above.
    TypeError: if ``k``, ``chunk_size`` or ``block_size`` is not an integer.

  References:
    * Wang, Kulkarni & Verdú, *Divergence estimation for multidimensional densities via
      k-nearest-neighbor distances*, IEEE Trans. IT 55(5):2392–2405, 2009 (the adaptive (l, k)
      choice is their Section III).
    * Pérez-Cruz, *Kullback–Leibler divergence estimation of continuous distributions*, ISIT 2008.
    * Bentley, *Multidimensional binary search trees used for associative searching*, CACM 18(9),
      1975 (KD-trees; ``scipy.spatial.cKDTree``).

  Examples:
    For P = N(0, 1) and Q = N(1, 1) the true value is ½; the estimate is random, with an error
    that shrinks as n and m grow. Data with many exact ties (rounded to one decimal) stay finite,
    and both methods give the same number:

    >>> import numpy as np
    >>> from divjax import divergences as dv
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(0.0, 1.0, (2000, 1)), rng.normal(1.0, 1.0, (2000, 1))
    >>> print(f"{float(dv.knn_kl_divergence(x, y, k=3)):.2f}")
    0.50
    >>> x1, y1 = np.round(x, 1), np.round(y, 1)
    >>> print(f"{float(dv.knn_kl_divergence(x1, y1, k=3, method='tree')):.2f}")
    0.48
    >>> print(f"{float(dv.knn_kl_divergence(x1, y1, k=3, method='brute')):.2f}")
    0.48
  """
  x, y = _points("x", x), _points("y", y)
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
  method, chunk_size, block_size = _search_options("kl", method, d, max(n, m), chunk_size,
                                                   block_size)

  estimate, missing_rho, missing_nu = _knn_kl_divergence(x, y, k=k, method=method,
                                                         chunk_size=chunk_size,
                                                         block_size=block_size)
  if _validate.is_concrete((x, y)):
    if int(missing_rho) > 0:
      raise ValueError(_undefined_error("x", int(missing_rho), k))
    if int(missing_nu) > 0:
      raise ValueError(
          f"y has fewer than k = {k} points different from {int(missing_nu)} point(s) of x (too many "
          "exact duplicates): the kNN estimate is undefined. Lower k or remove duplicates.")
  return estimate


knn_kl_divergence.__doc__ = knn_kl_divergence.__doc__.replace("{methods}", _METHOD_DOC.strip())


@functools.partial(jax.jit, static_argnames=("k", "method", "chunk_size", "block_size"))
@_validate.kernel
def _knn_kl_divergence(x: Array, y: Array, *, k: int, method: str, chunk_size: int,
                       block_size: int) -> tuple[Array, Array, Array]:
  """Jitted core of :func:`knn_kl_divergence`: (estimate, #rows without ρ, #rows without ν)."""
  dtype = jnp.result_type(x, y, jnp.float32)
  x = jnp.asarray(x, dtype)
  y = jnp.asarray(y, dtype)
  n, d = x.shape
  m = y.shape[0]
  if method == "tree":
    rho, nu = _knn.search_tree_kl(x, y, k=k)
  else:
    search = functools.partial(_neighbours, k=k, norm="euclidean", method=method,
                               chunk_size=chunk_size, block_size=block_size)
    rho, nu = search(x, None), search(x, y)
  log_rho = _log_distance_to(x, x, rho.index)
  log_nu = _log_distance_to(x, y, nu.index)
  l_i = k + rho.duplicates
  k_i = k + nu.duplicates

  missing_rho = rho.index < 0
  missing_nu = nu.index < 0
  undefined = missing_rho | missing_nu
  psi = jax.scipy.special.digamma
  terms = d * (log_nu - log_rho) + psi(l_i.astype(dtype)) - psi(k_i.astype(dtype))
  terms = jnp.where(undefined, 0.0, terms)
  estimate = jnp.mean(terms) + math.log(m / (n - 1))
  invalid = jnp.any(undefined) | _non_finite(x, y)
  estimate = jnp.where(invalid, jnp.nan, estimate).astype(dtype)
  return estimate, jnp.sum(missing_rho), jnp.sum(missing_nu & ~missing_rho)


@_validate.guarded
def knn_entropy(x: Array, *, k: int = 1, method: str = "auto",
                chunk_size: int = _knn.DEFAULT_CHUNK_SIZE,
                block_size: int = _knn.DEFAULT_BLOCK_SIZE) -> Array:
  r"""The Kozachenko–Leonenko k-nearest-neighbour estimator of the differential entropy H(P).

  .. math::
     \widehat{H} = \psi(n) - \frac1n\sum_{i=1}^n \psi(l_i) + \log V_d
       + \frac{d}{n}\sum_{i=1}^n \log\rho_{l_i}(i),
     \qquad V_d = \frac{\pi^{d/2}}{\Gamma(d/2 + 1)},

  in nats, with :math:`\rho` the Euclidean distance to the k-th nearest *other* point at strictly
  positive distance, :math:`l_i = k + \#\{j \ne i : x_j = x_i\}` its rank among all other points,
  and :math:`V_d` the volume of the Euclidean unit ball. Without duplicates :math:`l_i = k`, and this
  is Kraskov, Stögbauer & Grassberger's eq. (20) with the Euclidean norm (their :math:`c_d` is the
  volume of the unit-*diameter* ball and their :math:`\epsilon` twice the distance, which gives the
  same number); it is consistent as :math:`n \to \infty` with k fixed. NPEET's ``entropy`` uses the
  max-norm (:math:`V_d = 2^d`) and bits; scipy and ``bmi`` use this Euclidean form. Duplicates are
  handled as in :func:`knn_kl_divergence` (the same adaptive rank), so data with ties stay finite.

  The estimate is random, biased at finite n (more so as d grows), and can be negative (differential
  entropy can be).
  {methods}

  Under ``jit``, pass ``k``, ``method``, ``chunk_size`` and ``block_size`` as static arguments.
  Gradients: as in :func:`knn_kl_divergence`, ``jax.grad`` differentiates the current piecewise-
  smooth piece of the estimator.

  Args:
    x: samples of P, shape ``[n, d]``, finite.
    k: the neighbour rank, an integer with ``1 <= k <= n - 1``.
    method: ``"auto"`` (default), ``"tree"`` or ``"brute"``; the result does not depend on it.
    chunk_size: brute force: rows of x per tile (``>= 1``); memory and speed only.
    block_size: brute force: reference points per tile (``>= 1``); memory and speed only.

  Returns:
    The estimate in nats, a scalar of the input's floating dtype (float32 for integer inputs). It is
    undefined (``ValueError`` on concrete inputs, NaN under ``jit``/``vmap``) when some point has
    fewer than k other points at positive distance.

  Raises:
    ValueError: if ``x`` is not 2-D or contains NaN or ±inf, ``k`` is out of range, ``method`` is
      unknown, ``chunk_size < 1`` or ``block_size < 1``, or (concrete inputs only) the estimate is
      undefined because of duplicates.
    TypeError: if ``k``, ``chunk_size`` or ``block_size`` is not an integer.

  References:
    * Kozachenko & Leonenko, *Sample estimate of the entropy of a random vector*, Problems Inform.
      Transmission 23(2):95–101, 1987.
    * Kraskov, Stögbauer & Grassberger, *Estimating mutual information*, Phys. Rev. E 69, 066138,
      2004, arXiv:cond-mat/0305641 (eq. 20).
    * Singh, Misra, Hnizdo, Fedorowicz & Demchuk, *Nearest neighbor estimates of entropy*, Amer. J.
      Math. Management Sci. 23, 2003 (the k-th neighbour form).

  Examples:
    The entropy of N(0, I₂) is 1 + log 2π ≈ 2.8379 nats; a sample of 4000 points gets close:

    >>> import numpy as np
    >>> from divjax import divergences as dv
    >>> x = np.random.default_rng(0).normal(size=(4000, 2))
    >>> print(f"{float(dv.knn_entropy(x, k=3)):.2f}")
    2.84
  """
  x = _points("x", x)
  n, d = np.shape(x)
  x = _validate.finite("x", x)
  k = _validate.integer("k", k, minimum=1)
  if k > n - 1:
    raise ValueError(
        f"k must be <= n - 1 = {n - 1} (the number of other points in x, shape {np.shape(x)}), "
        f"got {k}.")
  method, chunk_size, block_size = _search_options("entropy", method, d, n, chunk_size, block_size)
  estimate, missing = _knn_entropy(x, k=k, method=method, chunk_size=chunk_size,
                                   block_size=block_size)
  if _validate.is_concrete(x) and int(missing) > 0:
    raise ValueError(_undefined_error("x", int(missing), k))
  return estimate


knn_entropy.__doc__ = knn_entropy.__doc__.replace("{methods}", _METHOD_DOC.strip())


@functools.partial(jax.jit, static_argnames=("k", "method", "chunk_size", "block_size"))
@_validate.kernel
def _knn_entropy(x: Array, *, k: int, method: str, chunk_size: int,
                 block_size: int) -> tuple[Array, Array]:
  """Jitted core of :func:`knn_entropy`: (estimate, #rows without ρ)."""
  dtype = jnp.result_type(x, jnp.float32)
  x = jnp.asarray(x, dtype)
  n, d = x.shape
  rho = _neighbours(x, None, k=k, norm="euclidean", method=method, chunk_size=chunk_size,
                    block_size=block_size)
  log_rho = _log_distance_to(x, x, rho.index)
  missing = rho.index < 0
  psi = jax.scipy.special.digamma
  terms = d * log_rho - psi((k + rho.duplicates).astype(dtype))
  terms = jnp.where(missing, 0.0, terms)
  estimate = jnp.mean(terms) + psi(jnp.asarray(n, dtype)) + _knn.unit_ball_log_volume(d)
  estimate = jnp.where(jnp.any(missing) | _non_finite(x), jnp.nan, estimate).astype(dtype)
  return estimate, jnp.sum(missing)


@_validate.guarded
def ksg_mutual_information(x: Array, y: Array, *, k: int = 3, method: str = "auto",
                           chunk_size: int = _knn.DEFAULT_CHUNK_SIZE,
                           block_size: int = _knn.DEFAULT_BLOCK_SIZE) -> Array:
  r"""The Kraskov–Stögbauer–Grassberger estimator of the mutual information I(X; Y) (their estimator 1).

  .. math::
     \widehat{I} = \psi(n) + \frac1n\sum_{i=1}^n\bigl[\psi(k_i) - \psi(n_x(i) + 1)
       - \psi(n_y(i) + 1)\bigr],

  in nats, from paired samples :math:`z_i = (x_i, y_i)`. All norms are max-norms (as in KSG and
  NPEET): :math:`\epsilon_i = \max(\|x_i - x_j\|_\infty, \|y_i - y_j\|_\infty)` for the k-th nearest
  neighbour :math:`z_j` of :math:`z_i` at strictly positive joint distance, and the marginal counts
  are *strict*, :math:`n_x(i) = \#\{j \ne i : \|x_i - x_j\|_\infty < \epsilon_i\}` (likewise
  :math:`n_y`), as in KSG's estimator 1 (eq. 8). :math:`k_i = k + \#\{j \ne i : z_j = z_i\}` is that
  neighbour's rank: without duplicates :math:`k_i = k` and this is exactly KSG's estimator 1; with
  exact duplicates it is the adaptive-rank convention of :func:`knn_kl_divergence` (not the
  mixed discrete–continuous estimator of Gao et al. 2017), so ties never give :math:`\epsilon_i = 0`.
  No noise is added (NPEET adds 10⁻¹⁰ noise to break ties; here ties are handled exactly).

  The estimate is random and can be slightly negative for independent X and Y; its bias is small
  for k = 3 to 10 (KSG recommend k = 2–4 for small bias, larger k for low variance).
  {methods}
  For this estimator the brute-force path compares the marginal distances with :math:`\epsilon_i`
  in the inputs' dtype and the tree path counts the same points exactly with scikit-learn's KD-tree
  (max-norm distances of float32 points are exact in float64, and the radius is the largest float64
  whose rounding lies below :math:`\epsilon_i`), so the two paths agree bit for bit.

  Under ``jit``, pass ``k``, ``method``, ``chunk_size`` and ``block_size`` as static arguments.
  Gradients: the estimate depends on the samples only through integer counts, so it is piecewise
  constant and ``jax.grad`` returns zeros.

  Args:
    x: samples of X, shape ``[n, d_x]``, finite (a 1-D sample is ``x[:, None]``).
    y: samples of Y paired with x, shape ``[n, d_y]``, finite.
    k: the neighbour rank in the joint space, ``1 <= k <= n - 1`` (default 3).
    method: ``"auto"`` (default; decided by n and the joint dimension ``d_x + d_y``), ``"tree"`` or
      ``"brute"``; the result does not depend on it.
    chunk_size: brute force: rows per tile (``>= 1``); memory and speed only.
    block_size: brute force: reference points per tile (``>= 1``); memory and speed only.

  Returns:
    The estimate in nats, a scalar of the inputs' floating dtype (float32 for integer inputs). It
    is undefined (``ValueError`` on concrete inputs, NaN under ``jit``/``vmap``) when some
    :math:`z_i` has fewer than k other points at positive joint distance.

  Raises:
    ValueError: if ``x`` or ``y`` is not 2-D, they hold different numbers of samples, contain NaN
      or ±inf, ``k`` is out of range, ``method`` is unknown, ``chunk_size < 1`` or
      ``block_size < 1``, or (concrete inputs only) the estimate is undefined because of
      duplicates.
    TypeError: if ``k``, ``chunk_size`` or ``block_size`` is not an integer.

  References:
    * Kraskov, Stögbauer & Grassberger, *Estimating mutual information*, Phys. Rev. E 69, 066138,
      2004, arXiv:cond-mat/0305641 (estimator 1, eq. 8).
    * Gao, Kannan, Oh & Viswanath, *Estimating mutual information for discrete-continuous
      mixtures*, NeurIPS 2017, arXiv:1709.06212 (a different treatment of ties).
    * Czyż, Grabowski, Vogt, Beerenwinkel & Marx, *Beyond normal: on the evaluation of mutual
      information estimators*, NeurIPS 2023, arXiv:2306.11078 (``bmi``).

  Examples:
    For a bivariate Gaussian with correlation ρ = 0.8 the mutual information is
    −½ log(1 − ρ²) ≈ 0.5108 nats; 4000 pairs give an estimate within its standard error (≈ 0.016):

    >>> import numpy as np
    >>> from divjax import divergences as dv
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4000, 1))
    >>> y = 0.8 * x + 0.6 * rng.normal(size=(4000, 1))
    >>> print(f"{float(dv.ksg_mutual_information(x, y, k=3)):.2f}")
    0.52
  """
  x, y = _points("x", x), _points("y", y)
  n, d_x = np.shape(x)
  if np.shape(y)[0] != n:
    raise ValueError(f"x and y must hold the same number of (paired) samples, got shapes "
                     f"{np.shape(x)} and {np.shape(y)}.")
  x = _validate.finite("x", x)
  y = _validate.finite("y", y)
  k = _validate.integer("k", k, minimum=1)
  if k > n - 1:
    raise ValueError(
        f"k must be <= n - 1 = {n - 1} (the number of other samples in x and y, shape "
        f"{np.shape(x)}), got {k}.")
  method, chunk_size, block_size = _search_options("ksg", method, d_x + np.shape(y)[1], n,
                                                   chunk_size, block_size)
  estimate, missing = _ksg_mutual_information(x, y, k=k, method=method, chunk_size=chunk_size,
                                              block_size=block_size)
  if _validate.is_concrete((x, y)) and int(missing) > 0:
    raise ValueError(
        f"(x, y) has {int(missing)} sample(s) with fewer than k = {k} other samples at positive "
        "joint distance (too many exact duplicates): the KSG estimate is undefined. Lower k or "
        "remove duplicates.")
  return estimate


ksg_mutual_information.__doc__ = ksg_mutual_information.__doc__.replace("{methods}",
                                                                        _METHOD_DOC.strip())


@functools.partial(jax.jit, static_argnames=("k", "method", "chunk_size", "block_size"))
@_validate.kernel
def _ksg_mutual_information(x: Array, y: Array, *, k: int, method: str, chunk_size: int,
                            block_size: int) -> tuple[Array, Array]:
  """Jitted core of :func:`ksg_mutual_information`: (estimate, #samples without ε)."""
  dtype = jnp.result_type(x, y, jnp.float32)
  x = jnp.asarray(x, dtype)
  y = jnp.asarray(y, dtype)
  n = x.shape[0]
  if method == "tree":
    dups, n_x, n_y = _knn.ksg_counts_tree(x, y, k=k)
  else:
    dups, n_x, n_y = _knn.ksg_counts_brute(x, y, k=k, chunk_size=chunk_size, block_size=block_size)
  missing = n_x < 0
  psi = lambda c: jax.scipy.special.digamma(c.astype(dtype))
  terms = psi(k + dups) - psi(n_x + 1) - psi(n_y + 1)
  terms = jnp.where(missing, 0.0, terms)
  estimate = jnp.mean(terms) + psi(jnp.asarray(n))
  estimate = jnp.where(jnp.any(missing) | _non_finite(x, y), jnp.nan, estimate).astype(dtype)
  return estimate, jnp.sum(missing)


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
