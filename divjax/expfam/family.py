r"""Exponential families as pytrees.

A family is :math:`p(x\mid\theta) = h(x)\exp(\theta\cdot T(x) - \psi(\theta))` with natural parameter
:math:`\theta\in\Theta\subset\mathbb R^p`, sufficient statistic :math:`T`, log-partition :math:`\psi` and
log base measure :math:`\log h`. Derivatives of ψ come from autodiff:

* :math:`\eta = \nabla\psi(\theta)` — the mean (expectation) parameter, :math:`\mathbb E_\theta T`;
* :math:`G = \nabla^2\psi(\theta) = \mathrm{Cov}_\theta(T)` — the Fisher information;
* :math:`\psi_{abc}, \psi_{abcd}` — third and fourth cumulants of T under :math:`p_\theta`.

Families are frozen dataclasses whose fields are all static (functions, sizes, names): a family is a
pytree with no leaves, so it passes through ``jit``/``vmap`` as configuration. Families compare and
hash by value: a built-in constructor returns one shared instance per value of its arguments
(``expfam.normal() == expfam.normal()``, ``categorical(3) == categorical(k=np.int64(3))``), so ``jit``
traces once for all of them; :func:`custom` families are equal when built from the same callables
(compared by identity) and settings. ``log_partition`` returns ``nan``/``inf`` outside Θ;
:func:`in_natural_domain` tests membership.

Built-in families: :func:`bernoulli`, :func:`categorical`, :func:`poisson`, :func:`exponential`,
:func:`gamma`, :func:`normal`, :func:`multivariate_normal`, :func:`polynomial` (ψ by quadrature, no
closed form), and :func:`custom` for any (T, ψ).

The role of these quantities in the MLE's risk is described in :doc:`/theory/mle_info_projection`.

References:
  * Barndorff-Nielsen, O., *Information and Exponential Families in Statistical Theory*, Wiley 1978.
  * Amari, S. & Nagaoka, H., *Methods of Information Geometry*, AMS 2000.
  * Sheena, Y., *MLE convergence speed to information projection of exponential family: criterion for
    model dimension and sample size — complete proof version*, arXiv:2105.08947 (2021).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from divjax import _validate

__all__ = [
    "ExponentialFamily",
    "log_prob",
    "mean_parameters",
    "fisher_information",
    "cumulants",
    "in_natural_domain",
    "bernoulli",
    "categorical",
    "poisson",
    "exponential",
    "gamma",
    "normal",
    "multivariate_normal",
    "polynomial",
    "custom",
]

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class ExponentialFamily:
  r"""An exponential family p(x | θ) = h(x) exp(θ·T(x) − ψ(θ)), given by T, ψ and log h.

  .. math::  p(x\mid\theta) = h(x)\exp\big(\theta\cdot T(x) - \psi(\theta)\big)

  Build one with a constructor such as :func:`normal` or :func:`custom`. Two families are equal (and
  hash equal) when every field is: the callables by identity. Built-in constructors return a shared
  instance per argument value, so they compare by value and ``jit`` compiles once for all of them.

  Attributes:
    name: identifier, e.g. ``"normal"``.
    dim: p, the number of natural parameters.
    sufficient_statistic: ``T(x) -> [p]`` for one observation ``x`` of shape ``event_shape``.
    log_partition: ``ψ(θ)`` for ``θ`` of shape ``[p]``; non-finite outside Θ.
    log_base_measure: ``log h(x)``.
    event_shape: shape of one observation (``()`` for scalars, ``(d,)`` for vectors).
    discrete: whether observations are counts/categories (affects MLE existence).
    natural_from_mean: optional closed-form inverse of ∇ψ (``None``: Newton).
    in_support: ``x -> bool``, whether one observation lies in the support.
    mean_interior: ``η -> bool``, whether η is in the interior of the mean space (MLE exists).
    initial_natural: a point of Θ to start Newton from.

  Examples:
    >>> from divjax import expfam
    >>> fam = expfam.normal()
    >>> print(fam.name, fam.dim, fam.event_shape, fam == expfam.normal())
    normal 2 () True
  """

  name: str
  dim: int
  sufficient_statistic: Callable[[Array], Array]
  log_partition: Callable[[Array], Array]
  log_base_measure: Callable[[Array], Array]
  event_shape: tuple[int, ...] = ()
  discrete: bool = False
  natural_from_mean: Callable[[Array], Array] | None = None
  in_support: Callable[[Array], Array] | None = None
  mean_interior: Callable[[Array], Array] | None = None
  initial_natural: tuple[float, ...] | None = None

  def theta0(self) -> Array:
    """The starting point of Newton's method: ``initial_natural``, or zeros when it is None."""
    if self.initial_natural is None:
      return jnp.zeros(self.dim)
    return jnp.asarray(self.initial_natural, dtype=jnp.result_type(float))


jax.tree_util.register_dataclass(
    ExponentialFamily, data_fields=[],
    meta_fields=[f.name for f in dataclasses.fields(ExponentialFamily)])


def _check_family(family: ExponentialFamily) -> None:
  if not isinstance(family, ExponentialFamily):
    raise TypeError(f"family must be an ExponentialFamily (e.g. expfam.normal()), got "
                    f"{type(family).__name__}.")


def _theta(family: ExponentialFamily, theta: Array, name: str = "theta") -> Array:
  """``theta`` must be a finite ``[p]`` natural parameter of ``family``; returned as a float array."""
  _check_family(family)
  theta = _validate.as_array(theta)
  _validate.array(name, theta)
  if np.shape(theta) != (family.dim,):
    raise ValueError(f"{name} must have shape [{family.dim}] (the natural parameter of the "
                     f"{family.name} family), got {np.shape(theta)}.")
  theta = jnp.asarray(_validate.finite(name, theta))
  return theta if jnp.issubdtype(theta.dtype, jnp.floating) else theta.astype(
      jnp.result_type(float))


@_validate.guarded
def log_prob(family: ExponentialFamily, theta: Array, x: Array) -> Array:
  r"""The log-density log h(x) + θ·T(x) − ψ(θ) of one observation x.

  Args:
    family: the exponential family.
    theta: natural parameter ``[p]``.
    x: one observation of shape ``family.event_shape``.

  Returns:
    The log-density (a scalar).

  Examples:
    The standard normal, θ = (0, −½), at x = 0 has log-density −½ ln 2π:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> print(f"{float(expfam.log_prob(expfam.normal(), jnp.array([0.0, -0.5]), 0.0)):.4f}")
    -0.9189
  """
  theta = _theta(family, theta)
  x = _validate.as_array(x)
  _validate.array("x", x)
  if np.shape(x) != tuple(family.event_shape):
    raise ValueError(f"x must be one observation of shape {tuple(family.event_shape)} for the "
                     f"{family.name} family, got shape {np.shape(x)} (vmap over several).")
  x = jnp.asarray(_validate.finite("x", x))
  return family.log_base_measure(x) + jnp.dot(theta, family.sufficient_statistic(x)) - \
      family.log_partition(theta)


@_validate.guarded
def mean_parameters(family: ExponentialFamily, theta: Array) -> Array:
  r"""The mean (expectation) parameter η = ∇ψ(θ) = E_θ[T].

  Args:
    family: the exponential family.
    theta: natural parameter ``[p]``.

  Returns:
    η, shape ``[p]``.

  Examples:
    N(1, 1) has θ = (μ/σ², −1/(2σ²)) = (1, −½) and η = (E x, E x²) = (1, 2):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import expfam
    >>> eta = expfam.mean_parameters(expfam.normal(), jnp.array([1.0, -0.5]))
    >>> print(np.round(np.asarray(eta), 4))
    [1. 2.]
  """
  return jax.grad(family.log_partition)(_theta(family, theta))


@_validate.guarded
def fisher_information(family: ExponentialFamily, theta: Array) -> Array:
  r"""The Fisher information G = ∇²ψ(θ) = Cov_θ(T) in natural coordinates.

  Args:
    family: the exponential family.
    theta: natural parameter ``[p]``.

  Returns:
    G, shape ``[p, p]``.

  Examples:
    For the Poisson family G is the variance, which equals the mean λ = e^θ = 3:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> G = expfam.fisher_information(expfam.poisson(), jnp.log(jnp.array([3.0])))
    >>> print(f"{float(G[0, 0]):.4f}")
    3.0000
  """
  return jax.hessian(family.log_partition)(_theta(family, theta))


@_validate.guarded
def cumulants(family: ExponentialFamily, theta: Array) -> tuple[Array, Array, Array]:
  r"""The second, third and fourth cumulants of T under p_θ: the derivatives of ψ, by autodiff.

  .. math::  G_{ab} = \partial_a\partial_b\psi,\qquad \psi_{abc} = \partial_a\partial_b\partial_c\psi,
             \qquad \psi_{abcd} = \partial_a\partial_b\partial_c\partial_d\psi

  Compiled (the family is static configuration): once per family object and shape.

  Args:
    family: the exponential family.
    theta: natural parameter ``[p]``.

  Returns:
    ``G`` ``[p, p]``, ``psi3`` ``[p, p, p]``, ``psi4`` ``[p, p, p, p]``.

  Examples:
    The exponential law with rate 2 (θ = −2) has cumulants (k − 1)!/2^k: 1/4, 1/4, 3/8:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> G, psi3, psi4 = expfam.cumulants(expfam.exponential(), jnp.array([-2.0]))
    >>> print([round(float(c.ravel()[0]), 4) for c in (G, psi3, psi4)])
    [0.25, 0.25, 0.375]
  """
  return _cumulants(family, _theta(family, theta))


@jax.jit
@_validate.kernel
def _cumulants(family: ExponentialFamily, theta: Array) -> tuple[Array, Array, Array]:
  psi = family.log_partition
  G = jax.hessian(psi)(theta)
  psi3 = jax.jacfwd(jax.hessian(psi))(theta)
  psi4 = jax.jacfwd(jax.jacfwd(jax.hessian(psi)))(theta)
  return G, psi3, psi4


@_validate.guarded
def in_natural_domain(family: ExponentialFamily, theta: Array) -> Array:
  """Whether θ lies in the natural parameter space Θ, i.e. whether ψ(θ) is finite.

  Args:
    family: the exponential family.
    theta: natural parameter ``[p]``.

  Returns:
    A boolean scalar array.

  Examples:
    The exponential family's θ is minus the rate, so it must be negative:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> fam = expfam.exponential()
    >>> print(bool(expfam.in_natural_domain(fam, jnp.array([-1.0]))),
    ...       bool(expfam.in_natural_domain(fam, jnp.array([1.0]))))
    True False
  """
  return jnp.isfinite(family.log_partition(_theta(family, theta)))


# ---------------------------------------------------------------------------------------------------
# Built-in families.


def _nan_outside(inside: Array, value: Array) -> Array:
  return jnp.where(inside, value, jnp.nan)


def _zero_log_base_measure(x: Array) -> Array:
  """log h(x) = 0 (h = 1): one function, so families built with it compare equal."""
  del x
  return jnp.zeros(())


def bernoulli() -> ExponentialFamily:
  r"""The Bernoulli family: T(x) = x ∈ {0, 1}, ψ(θ) = log(1 + e^θ), θ = logit q.

  .. math::  T(x) = x,\qquad \psi(\theta) = \log(1+e^\theta),\qquad \theta = \log\frac q{1-q}

  Returns:
    The :class:`ExponentialFamily` (p = 1).

  Examples:
    θ = ln 3 is the success probability q = 3/4:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> q = expfam.mean_parameters(expfam.bernoulli(), jnp.log(jnp.array([3.0])))
    >>> print(f"{float(q[0]):.4f}")
    0.7500
  """
  return _bernoulli()


@functools.cache
def _bernoulli() -> ExponentialFamily:
  return ExponentialFamily(
      name="bernoulli", dim=1,
      sufficient_statistic=lambda x: jnp.atleast_1d(jnp.asarray(x, jnp.result_type(float))),
      log_partition=lambda th: jax.nn.softplus(th[0]),
      log_base_measure=_zero_log_base_measure,
      discrete=True,
      natural_from_mean=lambda eta: jnp.log(eta) - jnp.log1p(-eta),
      in_support=lambda x: (x == 0) | (x == 1),
      mean_interior=lambda eta: (eta[0] > 0) & (eta[0] < 1),
  )

def categorical(k: int) -> ExponentialFamily:
  r"""The categorical family on k cells (the full family, p = k − 1).

  :math:`T(x) = (1[x=1],\dots,1[x=k-1])` for :math:`x\in\{0,\dots,k-1\}` (cell 0 is the reference),
  :math:`\psi(\theta) = \log(1 + \sum_j e^{\theta_j})`, so :math:`\theta_j = \log(q_j/q_0)`.

  Args:
    k: number of cells, ≥ 2.

  Returns:
    The :class:`ExponentialFamily` (p = k − 1).

  Raises:
    ValueError: if k < 2.

  Examples:
    T is one-hot without the reference cell; θ = log(q_j/q_0) maps back to the cell probabilities:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import expfam
    >>> fam = expfam.categorical(3)
    >>> q = expfam.mean_parameters(fam, jnp.log(jnp.array([0.3, 0.5]) / 0.2))
    >>> print(np.asarray(fam.sufficient_statistic(2)), np.round(np.asarray(q), 4))
    [0. 1.] [0.3 0.5]
  """
  return _categorical(_validate.integer("k", k, minimum=2))


@functools.cache
def _categorical(k: int) -> ExponentialFamily:
  def T(x):
    return (jnp.arange(1, k) == x).astype(jnp.result_type(float))

  def psi(th):
    return jax.nn.logsumexp(jnp.concatenate([jnp.zeros(1, th.dtype), th]))

  def natural_from_mean(eta):
    return jnp.log(eta) - jnp.log1p(-jnp.sum(eta))

  return ExponentialFamily(
      name=f"categorical{k}", dim=k - 1, sufficient_statistic=T, log_partition=psi,
      log_base_measure=_zero_log_base_measure, discrete=True, natural_from_mean=natural_from_mean,
      in_support=lambda x: (x >= 0) & (x < k) & (x == jnp.round(x)),
      mean_interior=lambda eta: jnp.all(eta > 0) & (jnp.sum(eta) < 1))


def poisson() -> ExponentialFamily:
  r"""The Poisson family: T(x) = x, h(x) = 1/x!, ψ(θ) = e^θ, θ = log λ.

  .. math::  p(x\mid\theta) = \frac1{x!}\exp(\theta x - e^\theta)

  Returns:
    The :class:`ExponentialFamily` (p = 1).

  Examples:
    P(X = 2) for λ = 3 is 9 e⁻³/2 = 0.2240:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> lp = expfam.log_prob(expfam.poisson(), jnp.log(jnp.array([3.0])), 2.0)
    >>> print(f"{float(jnp.exp(lp)):.4f}")
    0.2240
  """
  return _poisson()


@functools.cache
def _poisson() -> ExponentialFamily:
  return ExponentialFamily(
      name="poisson", dim=1,
      sufficient_statistic=lambda x: jnp.atleast_1d(jnp.asarray(x, jnp.result_type(float))),
      log_partition=lambda th: jnp.exp(th[0]),
      log_base_measure=lambda x: -gammaln(jnp.asarray(x, jnp.result_type(float)) + 1.0),
      discrete=True,
      natural_from_mean=lambda eta: jnp.log(eta),
      in_support=lambda x: (x >= 0) & (x == jnp.round(x)),
      mean_interior=lambda eta: eta[0] > 0)

def exponential() -> ExponentialFamily:
  r"""The exponential family: T(x) = x > 0, ψ(θ) = −log(−θ), θ = −rate < 0.

  .. math::  p(x\mid\theta) = \exp(\theta x + \log(-\theta)),\qquad x > 0

  Returns:
    The :class:`ExponentialFamily` (p = 1).

  Examples:
    Rate 2 (θ = −2): ψ = −ln 2 and the mean is 1/2:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> fam, theta = expfam.exponential(), jnp.array([-2.0])
    >>> eta = expfam.mean_parameters(fam, theta)
    >>> print(f"{float(fam.log_partition(theta)):.4f} {float(eta[0]):.4f}")
    -0.6931 0.5000
  """
  return _exponential()


@functools.cache
def _exponential() -> ExponentialFamily:
  return ExponentialFamily(
      name="exponential", dim=1,
      sufficient_statistic=lambda x: jnp.atleast_1d(jnp.asarray(x, jnp.result_type(float))),
      log_partition=lambda th: _nan_outside(th[0] < 0, -jnp.log(-jnp.where(th[0] < 0, th[0], -1.0))),
      log_base_measure=_zero_log_base_measure,
      natural_from_mean=lambda eta: -1.0 / eta,
      in_support=lambda x: x > 0,
      mean_interior=lambda eta: eta[0] > 0,
      initial_natural=(-1.0,))

def gamma() -> ExponentialFamily:
  r"""The Gamma family (shape k, rate β): T(x) = (log x, x), θ = (k − 1, −β), h = 1.

  .. math::  \psi(\theta) = \log\Gamma(\theta_1+1) - (\theta_1+1)\log(-\theta_2)

  Returns:
    The :class:`ExponentialFamily` (p = 2).

  Examples:
    Shape 3, rate 1: η = (E log x, E x) = (ψ₀(3), 3) with ψ₀(3) = 3/2 − γ = 0.9228 (digamma):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import expfam
    >>> eta = expfam.mean_parameters(expfam.gamma(), jnp.array([2.0, -1.0]))
    >>> print(np.round(np.asarray(eta), 4))
    [0.9228 3.    ]
  """
  return _gamma()


@functools.cache
def _gamma() -> ExponentialFamily:

  def psi(th):
    inside = (th[0] > -1) & (th[1] < 0)
    a = jnp.where(inside, th[0] + 1.0, 1.0)
    b = jnp.where(inside, -th[1], 1.0)
    return _nan_outside(inside, gammaln(a) - a * jnp.log(b))

  return ExponentialFamily(
      name="gamma", dim=2,
      sufficient_statistic=lambda x: jnp.stack([jnp.log(x), jnp.asarray(x, jnp.result_type(float))]),
      log_partition=psi, log_base_measure=_zero_log_base_measure,
      in_support=lambda x: x > 0,
      # E log x < log E x (Jensen) is the interior of the mean space.
      mean_interior=lambda eta: (eta[1] > 0) & (eta[0] < jnp.log(jnp.maximum(eta[1], 1e-300))),
      initial_natural=(0.0, -1.0))

def normal() -> ExponentialFamily:
  r"""The univariate normal family: T(x) = (x, x²), θ = (μ/σ², −1/(2σ²)), h(x) = (2π)^(−1/2).

  .. math::  \psi(\theta) = -\frac{\theta_1^2}{4\theta_2} - \tfrac12\log(-2\theta_2)

  Returns:
    The :class:`ExponentialFamily` (p = 2).

  Examples:
    N(2, 4) has θ = (2/4, −1/8) and η = (μ, μ² + σ²) = (2, 8):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import expfam
    >>> eta = expfam.mean_parameters(expfam.normal(), jnp.array([0.5, -0.125]))
    >>> print(np.round(np.asarray(eta), 4))
    [2. 8.]
  """
  return _normal()


@functools.cache
def _normal() -> ExponentialFamily:

  def psi(th):
    inside = th[1] < 0
    t2 = jnp.where(inside, th[1], -0.5)
    return _nan_outside(inside, -th[0]**2 / (4 * t2) - 0.5 * jnp.log(-2 * t2))

  def natural_from_mean(eta):
    var = eta[1] - eta[0]**2
    return jnp.stack([eta[0] / var, -0.5 / var])

  return ExponentialFamily(
      name="normal", dim=2,
      sufficient_statistic=lambda x: jnp.stack([x, x * x]).astype(jnp.result_type(float)),
      log_partition=psi, log_base_measure=lambda x: jnp.full((), -0.5 * math.log(2 * math.pi)),
      natural_from_mean=natural_from_mean, in_support=lambda x: jnp.isfinite(x),
      mean_interior=lambda eta: eta[1] - eta[0]**2 > 0, initial_natural=(0.0, -0.5))

def multivariate_normal(d: int) -> ExponentialFamily:
  r"""The d-variate normal family with full covariance, p = d + d(d+1)/2.

  :math:`T(x) = (x, \mathrm{vech}(xx^\top))` (lower triangle, row-major), natural parameter
  :math:`\theta = (\Sigma^{-1}\mu, \mathrm{vech}(\Lambda))` with the quadratic term
  :math:`\sum_{i\ge j}\Lambda_{ij}x_ix_j = -\tfrac12 x^\top\Sigma^{-1}x`, i.e. :math:`\Lambda_{ii} =
  -\tfrac12(\Sigma^{-1})_{ii}` and :math:`\Lambda_{ij} = -(\Sigma^{-1})_{ij}` for i > j;
  :math:`\psi = \tfrac12\mu^\top\Sigma^{-1}\mu + \tfrac12\log\det\Sigma`.

  Args:
    d: dimension of one observation.

  Returns:
    The :class:`ExponentialFamily` with ``event_shape = (d,)``.

  Examples:
    In d = 2 the statistic is (x₁, x₂, x₁², x₂x₁, x₂²):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import expfam
    >>> fam = expfam.multivariate_normal(2)
    >>> print(fam.dim, np.asarray(fam.sufficient_statistic(jnp.array([1.0, 2.0]))))
    5 [1. 2. 1. 2. 4.]
  """
  return _multivariate_normal(_validate.integer("d", d, minimum=1))


@functools.cache
def _multivariate_normal(d: int) -> ExponentialFamily:
  # Python ints, not NumPy int64 index arrays: this family is shared across jax_enable_x64 settings,
  # and jax 0.10 caches gathers by NumPy index arrays with the dtype of the first setting.
  rows, cols = (tuple(int(i) for i in a) for a in np.tril_indices(d))
  off = np.not_equal(rows, cols)
  p = d + len(rows)

  def T(x):
    return jnp.concatenate([x, jnp.outer(x, x)[rows, cols]])

  def psi(th):
    P = _symmetrize_lower(th[d:], rows, cols, off, d)
    chol = jnp.linalg.cholesky(P)
    ok = jnp.all(jnp.isfinite(chol))
    chol = jnp.where(ok, chol, jnp.eye(d, dtype=th.dtype))
    h = th[:d]
    z = jax.scipy.linalg.solve_triangular(chol, h, lower=True)
    value = 0.5 * jnp.dot(z, z) - jnp.sum(jnp.log(jnp.diagonal(chol)))
    return _nan_outside(ok, value)

  def natural_from_mean(eta):
    mu = eta[:d]
    second = jnp.zeros((d, d), eta.dtype).at[rows, cols].set(eta[d:])
    second = second + jnp.tril(second, -1).T
    cov = second - jnp.outer(mu, mu)
    P = jnp.linalg.inv(cov)
    lam = jnp.where(off, -P[rows, cols], -0.5 * P[rows, cols])
    return jnp.concatenate([P @ mu, lam])

  def mean_interior(eta):
    mu = eta[:d]
    second = jnp.zeros((d, d), eta.dtype).at[rows, cols].set(eta[d:])
    second = second + jnp.tril(second, -1).T
    return jnp.linalg.eigvalsh(second - jnp.outer(mu, mu))[0] > 0

  theta0 = tuple([0.0] * d + [(-0.5 if r == c else 0.0) for r, c in zip(rows, cols)])
  return ExponentialFamily(
      name=f"mvn{d}", dim=p, sufficient_statistic=T, log_partition=psi,
      log_base_measure=lambda x: jnp.full((), -0.5 * d * math.log(2 * math.pi)), event_shape=(d,),
      natural_from_mean=natural_from_mean, in_support=lambda x: jnp.all(jnp.isfinite(x)),
      mean_interior=mean_interior, initial_natural=theta0)


def _symmetrize_lower(lam: Array, rows, cols, off, d: int) -> Array:
  """The precision Σ⁻¹ from the vech quadratic coefficients Λ: P_ii = −2Λ_ii, P_ij = P_ji = −Λ_ij."""
  low = jnp.zeros((d, d), lam.dtype).at[rows, cols].set(jnp.where(off, -lam, -2.0 * lam))
  return low + jnp.tril(low, -1).T


def polynomial(k: int, *, lower: float = -10.0, upper: float = 10.0,
               num_points: int = 4001) -> ExponentialFamily:
  r"""The 1-D polynomial family T(x) = (x, x², …, x^k), whose ψ is computed by quadrature.

  .. math::  \psi(\theta) = \log\int_{\text{lower}}^{\text{upper}} \exp\Big(\sum_{j=1}^k \theta_j x^j\Big)\,dx

  evaluated with the trapezoid rule in log space. ψ has no closed form: the family illustrates
  Sheena's remark that the p–n criterion needs no explicit normalising constant. The support is
  truncated to ``[lower, upper]``; with k even and :math:`\theta_k < 0` the truncation error is
  negligible once the density is tiny at the ends. Derivatives of ψ are autodiff through the
  quadrature (exact cumulants of the discretised density). With k = 2 it agrees with :func:`normal`
  (``log h`` differs by the constant :math:`-\tfrac12\log 2\pi`, absorbed in ψ here since h = 1).

  Args:
    k: the degree, ≥ 1.
    lower, upper: the truncated support.
    num_points: quadrature points.

  Returns:
    The :class:`ExponentialFamily` (p = k).

  Raises:
    ValueError: if k < 1.

  Examples:
    At θ = (0, −½) the integrand is e^(−x²/2), so ψ = ½ ln 2π:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> print(f"{float(expfam.polynomial(2).log_partition(jnp.array([0.0, -0.5]))):.4f}")
    0.9189
  """
  k = _validate.integer("k", k, minimum=1)
  num_points = _validate.integer("num_points", num_points, minimum=2)
  if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
    raise ValueError(f"lower and upper must be finite with lower < upper, got {lower}, {upper}.")
  return _polynomial(k, float(lower), float(upper), num_points)


@functools.cache
def _polynomial(k: int, lower: float, upper: float, num_points: int) -> ExponentialFamily:
  xs = np.linspace(lower, upper, num_points)
  w = np.full(num_points, xs[1] - xs[0])
  w[0] = w[-1] = 0.5 * (xs[1] - xs[0])
  log_w = np.log(w)
  powers = np.stack([xs**j for j in range(1, k + 1)], axis=-1)  # [m, k]

  def psi(th):
    return jax.nn.logsumexp(jnp.asarray(powers, th.dtype) @ th + jnp.asarray(log_w, th.dtype))

  theta0 = tuple([0.0] * (k - 1) + [-0.5]) if k % 2 == 0 else tuple([0.0] * k)
  return ExponentialFamily(
      name=f"polynomial{k}", dim=k,
      sufficient_statistic=lambda x: jnp.stack([x**j for j in range(1, k + 1)]).astype(
          jnp.result_type(float)),
      log_partition=psi, log_base_measure=_zero_log_base_measure,
      in_support=lambda x: (x >= lower) & (x <= upper), initial_natural=theta0)


def custom(name: str, dim: int, sufficient_statistic: Callable[[Array], Array],
           log_partition: Callable[[Array], Array],
           log_base_measure: Callable[[Array], Array] | None = None, *,
           event_shape: tuple[int, ...] = (), initial_natural: tuple[float, ...] | None = None,
           in_support: Callable[[Array], Array] | None = None) -> ExponentialFamily:
  """A user-defined family from T and ψ (ψ's derivatives by autodiff, Newton for the inverse).

  Args:
    name: identifier.
    dim: p, the number of natural parameters.
    sufficient_statistic: ``T(x) -> [p]``.
    log_partition: ``ψ(θ)``, non-finite outside Θ.
    log_base_measure: ``log h(x)`` (default 0).
    event_shape: shape of one observation.
    initial_natural: a point of Θ to start Newton from (default zeros).
    in_support: optional ``x -> bool`` support check.

  Returns:
    The :class:`ExponentialFamily`; two calls with the same callables (the same objects) and settings
    give equal families, which share ``jit`` compilations.

  Examples:
    The exponential law written by hand; at θ = −4 (rate 4) the mean is 1/4:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> fam = expfam.custom("rate", 1, jnp.atleast_1d, lambda th: -jnp.log(-th[0]),
    ...                     initial_natural=(-1.0,))
    >>> print(f"{float(expfam.mean_parameters(fam, jnp.array([-4.0]))[0]):.4f}")
    0.2500
  """
  dim = _validate.integer("dim", dim, minimum=1)
  for arg, fn in (("sufficient_statistic", sufficient_statistic), ("log_partition", log_partition)):
    if not callable(fn):
      raise TypeError(f"{arg} must be callable, got {type(fn).__name__}.")
  return ExponentialFamily(
      name=name, dim=dim, sufficient_statistic=sufficient_statistic, log_partition=log_partition,
      log_base_measure=log_base_measure or _zero_log_base_measure, event_shape=tuple(event_shape),
      initial_natural=None if initial_natural is None else tuple(float(v) for v in initial_natural),
      in_support=in_support)
