r"""Information projection, maximum likelihood and KL inside an exponential family.

Symbols: :math:`\psi` the log-partition, :math:`\eta = \nabla\psi(\theta)` the mean parameter, g the
true distribution (a target outside the family in general).

* **Information projection = moment matching** (Csiszár 1975's I-projection in Sheena's naming; the
  M-/moment projection of the ML literature): :math:`\theta^* = \arg\min_\theta \mathrm{KL}(g\,\|\,p_\theta)`
  solves :math:`\nabla\psi(\theta^*) = \mathbb E_g[T]`.
* **MLE = empirical moment matching**: :math:`\nabla\psi(\hat\theta) = \bar T`, which exists iff
  :math:`\bar T` lies in the interior of the mean space.
* **KL is a Bregman divergence**: :math:`\mathrm{KL}(p_{\theta_1}\|p_{\theta_2}) = \psi(\theta_2) -
  \psi(\theta_1) - \eta_1\cdot(\theta_2 - \theta_1)`.

The moment equation is solved by damped Newton on the convex :math:`F(\theta) = \psi(\theta) - \theta\cdot
\eta` (backtracking keeps θ in Θ), or by the family's closed-form inverse when it has one.

The derivations are in :doc:`/theory/mle_info_projection`.

References:
  * Csiszár, I., *I-divergence geometry of probability distributions and minimization problems*,
    Ann. Probab. 3 (1975).
  * Sheena, Y., *MLE convergence speed to information projection of exponential family: criterion for
    model dimension and sample size — complete proof version*, arXiv:2105.08947 (2021).
  * Boyd, S. & Vandenberghe, L., *Convex Optimization*, 2004, §9.5 (damped Newton).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _deprecation, _validate
from divjax.expfam.family import ExponentialFamily, _theta

__all__ = [
    "Moments",
    "Pmf",
    "GridDensity",
    "ProjectionResult",
    "target_moments",
    "information_projection",
    "mle",
    "bregman_kl_divergence",
]

Array = jax.Array


class Moments(NamedTuple):
  """Moments of T under the target g: its mean η*, covariance K and third cumulant κ.

  Attributes:
    mean: η* = E_g T, ``[p]``.
    covariance: K = Cov_g(T), ``[p, p]``; may be ``None`` when only the projection is needed.
    third_cumulant: κ = E_g[(T − η*)^⊗3], ``[p, p, p]``; may be ``None`` likewise.

  Examples:
    A target known only through E_g T: an exponential model fitted to mean 1/2 has rate 2, θ* = −2:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> res = expfam.information_projection(expfam.exponential(), expfam.Moments(jnp.array([0.5])))
    >>> print(f"{float(res.theta[0]):.4f}")
    -2.0000
  """
  mean: Array
  covariance: Array | None = None
  third_cumulant: Array | None = None


class Pmf(NamedTuple):
  """A discrete target law: a finite support with its probabilities.

  Attributes:
    support: the support points, ``[m, *event_shape]``.
    probs: their probabilities, ``[m]``, summing to 1.

  Examples:
    P(1) = 3/4, P(0) = 1/4: the moments of T(x) = x are q = 3/4, q(1 − q) = 3/16 and
    q(1 − q)(1 − 2q) = −3/32:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> m = expfam.target_moments(expfam.bernoulli(), expfam.Pmf(jnp.array([0.0, 1.0]),
    ...                                                          jnp.array([0.25, 0.75])))
    >>> print([round(float(v.ravel()[0]), 5) for v in m])
    [0.75, 0.1875, -0.09375]
  """
  support: Array
  probs: Array


class GridDensity(NamedTuple):
  """A 1-D target density given on a uniform grid, integrated by the trapezoid rule.

  Attributes:
    x: the uniform grid, ``[m]``.
    log_density: the log-density on the grid, ``[m]``; it may be unnormalised.

  Examples:
    An unnormalised N(1, 4) on a grid; its normal projection is θ* = (μ/σ², −1/(2σ²)) = (0.25, −0.125):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import expfam
    >>> x = jnp.linspace(-15.0, 17.0, 3201)
    >>> res = expfam.information_projection(expfam.normal(), expfam.GridDensity(x, -(x - 1) ** 2 / 8))
    >>> print(np.round(np.asarray(res.theta), 4))
    [ 0.25  -0.125]
  """
  x: Array
  log_density: Array


class ProjectionResult(NamedTuple):
  """Output of the information projection: θ*, convergence, iterations and the moment mismatch.

  Returned by :func:`information_projection` and :func:`mle`.

  Attributes:
    theta: θ* ``[p]``.
    converged: whether Newton converged (squared Newton decrement ≤ tol).
    n_iters: Newton iterations (0 for a closed-form inverse).
    grad_norm: the final moment mismatch ‖∇ψ(θ) − η‖.

  Examples:
    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> res = expfam.information_projection(expfam.exponential(), expfam.Moments(jnp.array([0.5])),
    ...                                     method="newton")
    >>> print(bool(res.converged), int(res.n_iters) > 0, float(res.grad_norm) < 1e-5)
    True True True
  """
  theta: Array
  converged: Array
  n_iters: Array
  grad_norm: Array


def _weighted_moments(t: Array, w: Array) -> Moments:
  mean = jnp.einsum("m,ma->a", w, t)
  c = t - mean
  cov = jnp.einsum("m,ma,mb->ab", w, c, c)
  third = jnp.einsum("m,ma,mb,mc->abc", w, c, c, c)
  return Moments(mean, cov, third)


@_validate.guarded
@_validate.nan_means_overflow("target")
def target_moments(family: ExponentialFamily, target: Any) -> Moments:
  r"""Mean, covariance and third cumulant of T(X) under the target.

  Args:
    family: the exponential family (defines T).
    target: :class:`Moments` (returned as is), :class:`Pmf`, :class:`GridDensity`, or an array of
      samples ``[n, *event_shape]`` (empirical moments, normalised by n).

  Returns:
    :class:`Moments` with ``mean`` ``[p]``, ``covariance`` ``[p, p]``, ``third_cumulant`` ``[p, p, p]``.

  Examples:
    For the normal family T = (x, x²): the sample 0, 1, 2, 5 has mean 2 and mean square 30/4:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import expfam
    >>> m = expfam.target_moments(expfam.normal(), jnp.array([0.0, 1.0, 2.0, 5.0]))
    >>> print(np.round(np.asarray(m.mean), 4))
    [2.  7.5]
  """
  if isinstance(target, Moments):
    return target
  if isinstance(target, Pmf):
    probs = _validate.probabilities("target.probs", target.probs)
    t = jax.vmap(family.sufficient_statistic)(jnp.asarray(target.support))
    return _weighted_moments(t, jnp.asarray(probs, t.dtype))
  if isinstance(target, GridDensity):
    x = jnp.asarray(target.x)
    h = x[1] - x[0]
    log_w = jnp.log(jnp.full_like(x, h).at[0].set(h / 2).at[-1].set(h / 2))
    logits = jnp.asarray(target.log_density) + log_w
    w = jax.nn.softmax(logits)
    t = jax.vmap(family.sufficient_statistic)(x)
    return _weighted_moments(t, w)
  samples = _check_samples(family, target, name="target")
  t = jax.vmap(family.sufficient_statistic)(samples)
  n = t.shape[0]
  return _weighted_moments(t, jnp.full((n,), 1.0 / n, t.dtype))


def _check_samples(family: ExponentialFamily, samples: Any, name: str = "samples") -> Array:
  _validate.array(name, samples)
  samples = _validate.finite(name, samples)
  shape = np.shape(samples)
  want = 1 + len(family.event_shape)
  if len(shape) != want or tuple(shape[1:]) != tuple(family.event_shape):
    raise ValueError(f"{name} must have shape [n, {', '.join(map(str, family.event_shape)) or ''}]"
                     .replace(", ]", "]") + f" for the {family.name} family, got {shape}.")
  if shape[0] < 1:
    raise ValueError(f"{name} must hold at least one observation.")
  x = jnp.asarray(samples)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.result_type(float))
  if family.in_support is not None and _validate.is_concrete(samples):
    ok = np.asarray(jax.vmap(family.in_support)(x))
    if not ok.all():
      bad = int(np.argmin(ok))
      raise ValueError(f"{name}[{bad}] = {np.asarray(x[bad])} lies outside the support of the "
                       f"{family.name} family.")
  if _validate.is_concrete(x):
    t = np.asarray(jax.vmap(family.sufficient_statistic)(x))
    # The moments go up to the third cumulant: products of three centred coordinates of T,
    # each at most 2·max|T|, must be finite in the dtype too.
    top = float(np.max(np.abs(t), initial=0.0))
    if not np.isfinite(t).all() or (2.0 * top)**3 >= float(jnp.finfo(x.dtype).max):
      raise ValueError(f"{name}: the sufficient statistic T(x) of the {family.name} family overflows "
                       f"{x.dtype} at this scale (max |x| = {float(jnp.max(jnp.abs(x))):.3g}); "
                       "rescale the data or compute in float64.")
  return x


@functools.partial(jax.jit, static_argnames=("max_iters", "tol"))
@_validate.kernel
def _newton(family: ExponentialFamily, eta: Array, theta0: Array, *, max_iters: int,
            tol: float) -> ProjectionResult:
  psi = family.log_partition

  def F(th):
    v = psi(th) - jnp.dot(th, eta)
    return jnp.where(jnp.isfinite(v), v, jnp.inf)

  def decrement(th, g):
    return jnp.dot(g, jnp.linalg.solve(jax.hessian(psi)(th), g))

  def rounding_level(g):
    # g = ∇ψ(θ) − η is computed to about 16·eps·(|∇ψ| + |η|) per entry; a gradient below that
    # cannot be reduced further, so such an iterate is optimal to rounding even when an
    # ill-conditioned Hessian keeps the decrement above an absolute tol.
    return 16 * jnp.finfo(g.dtype).eps * jnp.linalg.norm(jnp.abs(g + eta) + jnp.abs(eta))

  def cond(state):
    _, it, gnorm, dec, _ = state
    return (it < max_iters) & (dec > tol) & jnp.isfinite(dec)

  def body(state):
    th, it, _, _, _ = state
    g = jax.grad(psi)(th) - eta
    H = jax.hessian(psi)(th)
    step = jnp.linalg.solve(H, g)
    dec = jnp.dot(g, step)  # Newton decrement squared
    f0 = F(th)
    noise = 16 * jnp.finfo(th.dtype).eps * (jnp.abs(psi(th)) + jnp.abs(jnp.dot(th, eta)))

    def shrink(t):
      return (t > 1e-12) & (F(th - t * step) > f0 - 0.25 * t * dec + noise)

    t = jax.lax.while_loop(shrink, lambda t: 0.5 * t, jnp.ones((), th.dtype))
    th_new = th - t * step
    g_new = jax.grad(psi)(th_new) - eta
    return (th_new, it + 1, jnp.linalg.norm(g_new), decrement(th_new, g_new),
            rounding_level(g_new))

  g0 = jax.grad(psi)(theta0) - eta
  th, it, gnorm, dec, level = jax.lax.while_loop(
      cond, body, (theta0, jnp.zeros((), jnp.int32), jnp.linalg.norm(g0), decrement(theta0, g0),
                   rounding_level(g0)))
  converged = jnp.isfinite(dec) & ((dec <= tol) | (gnorm <= level))
  return ProjectionResult(th, converged, it, gnorm)


@_validate.guarded
@_validate.nan_means_overflow("target")
def information_projection(family: ExponentialFamily, target: Any, *, method: str = "auto",
                           max_iters: int = 100, tol: float | None = None) -> ProjectionResult:
  r"""The information projection θ* = argmin_θ KL(g‖p_θ) of a target g onto the family.

  .. math::  \theta^* = \arg\min_\theta \mathrm{KL}(g\,\|\,p_\theta)
             \iff \nabla\psi(\theta^*) = \mathbb E_g[T(X)]

  Solved by damped Newton on :math:`\psi(\theta) - \theta\cdot\eta^*` with backtracking (Armijo, which
  also keeps θ inside Θ), stopping when the squared Newton decrement is below ``tol``.

  Args:
    family: the exponential family.
    target: samples ``[n, *event_shape]``, :class:`Pmf`, :class:`GridDensity` or :class:`Moments`.
    method: ``"newton"`` (generic), ``"closed_form"`` (the family's inverse of ∇ψ), or ``"auto"``
      (closed form when available, then Newton polishing).
    max_iters: Newton iteration budget.
    tol: tolerance on the squared Newton decrement (default 1e-24 in float64, 1e-10 in float32).

  Returns:
    :class:`ProjectionResult` with ``theta`` ``[p]``.

  Raises:
    ValueError: (concrete inputs) if E_g T is not in the interior of the mean space — the projection
      does not exist (e.g. all samples equal for a normal model) — or samples leave the support.

  Examples:
    The Poisson projection of a law with mean 3/4 matches the mean: θ* = ln(3/4):

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> g = expfam.Pmf(jnp.array([0.0, 1.0]), jnp.array([0.25, 0.75]))
    >>> print(f"{float(expfam.information_projection(expfam.poisson(), g).theta[0]):.4f}")
    -0.2877

  References:
    Csiszár, Ann. Probab. 3, 1975; Sheena, arXiv:2105.08947; the derivation is in
    :doc:`/theory/mle_info_projection`.
  """
  if method not in ("auto", "newton", "closed_form"):
    raise ValueError(f"method must be 'auto', 'newton' or 'closed_form', got {method!r}.")
  eta = jnp.asarray(target_moments(family, target).mean)
  if not jnp.issubdtype(eta.dtype, jnp.floating):
    eta = eta.astype(jnp.result_type(float))
  if family.mean_interior is not None and _validate.is_concrete(eta):
    if not bool(family.mean_interior(eta)):
      raise ValueError(
          f"the target's mean of T, {np.asarray(eta)}, is not in the interior of the {family.name} "
          "family's mean space: the information projection (or MLE) does not exist.")
  if tol is None:
    tol = 1e-24 if eta.dtype == jnp.float64 else 1e-10
  if method == "closed_form" or (method == "auto" and family.natural_from_mean is not None):
    if family.natural_from_mean is None:
      raise ValueError(f"the {family.name} family has no closed-form inverse; use method='newton'.")
    theta0 = family.natural_from_mean(eta)
    if method == "closed_form":
      g = jax.grad(family.log_partition)(theta0) - eta
      return ProjectionResult(theta0, jnp.all(jnp.isfinite(theta0)), jnp.zeros((), jnp.int32),
                              jnp.linalg.norm(g))
  else:
    theta0 = family.theta0().astype(eta.dtype)
  return _newton(family, eta, theta0, max_iters=max_iters, tol=tol)


@_validate.guarded
def mle(family: ExponentialFamily, samples: Array, **kwargs) -> ProjectionResult:
  r"""The maximum-likelihood estimate θ̂, which solves ∇ψ(θ̂) = T̄ (empirical moment matching).

  .. math::  \nabla\psi(\hat\theta) = \bar T = \frac1n\sum_{i=1}^n T(X_i)

  Args:
    family: the exponential family.
    samples: ``[n, *event_shape]`` observations, finite and in the support.
    **kwargs: passed to :func:`information_projection`.

  Raises:
    ValueError: if the MLE does not exist (T̄ on the boundary of the mean space: e.g. no successes for
      a Bernoulli, an empty cell for a categorical, n <= d for a d-variate normal), or the samples are
      non-finite, of the wrong shape, or outside the support.

  Returns:
    :class:`ProjectionResult` with ``theta`` ``[p]``.

  Examples:
    The normal MLE of 0, 1, 2, 5 has mean 2 and (1/n) variance 7/2, so θ̂ = (2/3.5, −1/7):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import expfam
    >>> res = expfam.mle(expfam.normal(), jnp.array([0.0, 1.0, 2.0, 5.0]))
    >>> print(np.round(np.asarray(res.theta), 4))
    [ 0.5714 -0.1429]

  References:
    Barndorff-Nielsen, *Information and Exponential Families*, 1978, Thm 9.13 (existence).
  """
  x = _check_samples(family, samples)
  if len(family.event_shape) == 1 and x.shape[0] <= family.event_shape[0] and _validate.is_concrete(x):
    raise ValueError(
        f"the MLE of a {family.event_shape[0]}-variate normal needs n > d samples (the sample "
        f"covariance is singular), got n = {x.shape[0]}.")
  return information_projection(family, x, **kwargs)


@_validate.guarded
def bregman_kl_divergence(family: ExponentialFamily, theta1: Array, theta2: Array) -> Array:
  r"""The KL divergence between two members of the family, as a Bregman divergence of ψ.

  .. math::  \mathrm{KL}(p_{\theta_1}\,\|\,p_{\theta_2}) = \psi(\theta_2) - \psi(\theta_1)
             - \nabla\psi(\theta_1)\cdot(\theta_2 - \theta_1)

  The name says how the divergence is given — by a family and two natural parameters, evaluated as the
  Bregman divergence of ψ — as ``gaussian_kl_divergence`` and ``knn_kl_divergence`` do in
  :mod:`divjax.divergences`, whose :func:`~divjax.divergences.kl_divergence` takes two distributions.
  (This function was ``expfam.kl_divergence``; that name remains as a deprecated alias.)

  Args:
    family: the family.
    theta1, theta2: natural parameters ``[p]``.

  Returns:
    The divergence in nats (a scalar).

  Examples:
    KL(Exp(1)‖Exp(2)) = ln(1/2) + 2 − 1 (rates a, b: ln(a/b) + b/a − 1):

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> kl = expfam.bregman_kl_divergence(expfam.exponential(), jnp.array([-1.0]), jnp.array([-2.0]))
    >>> print(f"{float(kl):.4f}")
    0.3069

  References:
    Banerjee, Merugu, Dhillon & Ghosh, *Clustering with Bregman divergences*, JMLR 6, 2005.
  """
  psi = family.log_partition
  theta1 = _theta(family, theta1, "theta1")
  theta2 = _theta(family, theta2, "theta2")
  eta1 = jax.grad(psi)(theta1)
  return psi(theta2) - psi(theta1) - jnp.dot(eta1, theta2 - theta1)


kl_divergence = _deprecation.alias(bregman_kl_divergence, "expfam.kl_divergence",
                                   "expfam.bregman_kl_divergence")
