r"""f-divergence generators as data.

An f-divergence between distributions :math:`P \ll Q` is

.. math::  D_f(P\,\|\,Q) = \mathbb{E}_Q\!\left[f\!\left(\tfrac{dP}{dQ}\right)\right]
           = \sum_i q_i\, f(p_i / q_i),

for a convex :math:`f:(0,\infty)\to\mathbb{R}` with :math:`f(1) = 0`. Each generator below carries

* ``f(u)``, its derivative ``f_prime(u)``,
* the inverse of the derivative ``f_prime_inverse(t)`` :math:`= (f')^{-1}(t) = (f^*)'(t)`,
* the convex conjugate ``conjugate(t)`` :math:`f^*(t) = \sup_{u \ge 0} \{t u - f(u)\}` (``+inf``
  outside its domain), which variational bounds :math:`D_f \ge \mathbb{E}_P[T] - \mathbb{E}_Q[f^*(T)]`
  need,
* ``h(u)`` :math:`= u^2 f''(u)`, the density-ratio weight of f-distill gradients,
* the boundary values ``f(0) = lim_{u→0} f(u)`` and ``f'(∞) = lim_{u→∞} f(u)/u``, which fix the
  conventions :math:`q f(0/q) = q f(0)` and :math:`0 \cdot f(p/0) = p f'(\infty)`.

Generators are frozen dataclasses registered as pytrees: the functions are static, the parameters
(only ``alpha`` for the α-family) are leaves, so a generator passes through ``jit`` and an α can be
``vmap``-ed or differentiated.

Conventions (all in nats):

.. list-table::
   :header-rows: 1

   * - name
     - f(u)
     - divergence
   * - ``KL``
     - :math:`u\log u`
     - :math:`\mathrm{KL}(P\|Q)`
   * - ``REVERSE_KL``
     - :math:`-\log u`
     - :math:`\mathrm{KL}(Q\|P)`
   * - ``JENSEN_SHANNON``
     - :math:`\tfrac12[u\log u-(u+1)\log\tfrac{u+1}{2}]`
     - :math:`\tfrac12\mathrm{KL}(P\|M)+\tfrac12\mathrm{KL}(Q\|M)`, :math:`M = \tfrac12(P+Q)`
   * - ``TOTAL_VARIATION``
     - :math:`\tfrac12|u-1|`
     - :math:`\tfrac12\sum|p-q|`
   * - ``SQUARED_HELLINGER``
     - :math:`\tfrac12(\sqrt u-1)^2`
     - :math:`1-\sum\sqrt{pq}\in[0,1]`
   * - ``PEARSON_CHI2``
     - :math:`(u-1)^2`
     - :math:`\sum (p-q)^2/q`
   * - ``NEYMAN_CHI2``
     - :math:`(u-1)^2/u`
     - :math:`\sum (p-q)^2/p`
   * - ``JEFFREYS``
     - :math:`(u-1)\log u`
     - :math:`\mathrm{KL}(P\|Q)+\mathrm{KL}(Q\|P)`
   * - ``alpha_generator(α)``
     - :math:`\frac{u^\alpha-\alpha u-(1-\alpha)}{\alpha(\alpha-1)}`
     - α-divergence

The α-family is Cichocki & Amari's parametrisation: :math:`\alpha\to1` gives
:math:`u\log u-u+1` (KL(P‖Q)), :math:`\alpha\to0` gives :math:`-\log u+u-1` (KL(Q‖P)),
:math:`\alpha=\tfrac12` gives :math:`2(\sqrt u-1)^2` (4× the squared Hellinger above), :math:`\alpha=2`
gives :math:`\tfrac12(u-1)^2` (½ Pearson χ²) and :math:`\alpha=-1` gives ½ Neyman χ². Amari's own α is
:math:`\alpha_A = 2\alpha-1`; the f-DPO and DPH-RL papers write the same family with their α equal to
:math:`1-\alpha` here. The "JS" generator :math:`u\log u-(u+1)\log\frac{u+1}{2}` of f-DPG and DPH-RL,
which gives :math:`\mathrm{KL}(P\|M)+\mathrm{KL}(Q\|M)`, is ``2 * JENSEN_SHANNON``. The conventions,
their derivations and the tests that check them are collected in :doc:`/theory/fdivergences`.

References:
  * Csiszár, *Information-type measures of difference of probability distributions and indirect
    observations*, Studia Sci. Math. Hungar. 2, 1967.
  * Ali & Silvey, *A general class of coefficients of divergence of one distribution from another*,
    JRSS-B 28, 1966.
  * Nguyen, Wainwright & Jordan, *Estimating divergence functionals and the likelihood ratio by
    convex risk minimization*, IEEE Trans. IT 56, 2010, arXiv:0809.0853.
  * Nowozin, Cseke & Tomioka, *f-GAN: training generative neural samplers using variational
    divergence minimization*, NeurIPS 2016, arXiv:1606.00709.
  * Cichocki & Amari, *Families of alpha- beta- and gamma-divergences: flexible and robust measures
    of similarities*, Entropy 12, 2010, doi:10.3390/e12061532.
  * Wang, Jiang, Yang, Liu & Chen, *Beyond reverse KL: generalizing direct preference optimization
    with diverse divergence constraints*, ICLR 2024, arXiv:2309.16240 (f-DPO).
  * Go, Korbak, Kruszewski, Rozen, Ryu & Dymetman, *Aligning language models with preferences
    through f-divergence minimization*, ICML 2023, arXiv:2302.08215 (f-DPG).
  * Li et al., *The choice of divergence: a neglected key to mitigating diversity collapse in
    reinforcement learning with verifiable reward*, arXiv:2509.07430 (DPH-RL).
  * Xu, Nie & Vahdat, *One-step diffusion models with f-divergence distribution matching*,
    arXiv:2502.15681 (the weight h).

Examples:
  Every generator vanishes at u = 1, and the KL generator at u = 2 is 2 log 2:

  >>> from divjax import divergences as dv
  >>> print(f"{float(dv.KL.f(2.0)):.4f}")
  1.3863
  >>> all(float(g.f(1.0)) == 0.0 for g in dv.GENERATORS.values())
  True
  >>> sorted(dv.GENERATORS)
  ['jeffreys', 'jensen_shannon', 'kl', 'neyman_chi2', 'pearson_chi2', 'reverse_kl',
   'squared_hellinger', 'total_variation']
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp

from divjax import _validate
from divjax.divergences import _numerics

__all__ = [
    "FGenerator",
    "KL",
    "REVERSE_KL",
    "JENSEN_SHANNON",
    "TOTAL_VARIATION",
    "SQUARED_HELLINGER",
    "PEARSON_CHI2",
    "NEYMAN_CHI2",
    "JEFFREYS",
    "alpha_generator",
    "GENERATORS",
]

Array = jax.Array
_LOG2 = 0.6931471805599453


@dataclasses.dataclass(frozen=True)
class FGenerator:
  """A convex generator f with f(1) = 0, and what divergence theory needs of it.

  The callables take the array argument first and the generator's ``params`` after it, so that
  parametrised families stay pytrees (``params`` are leaves). Call the methods, not the fields.

  Attributes:
    name: a short identifier, e.g. ``"kl"``.
    f_fn: ``f(u, *params)`` for ``u >= 0`` (``u = 0`` gives the limit ``f(0)``).
    f_prime_fn: ``f'(u, *params)``.
    conjugate_fn: ``f*(t, *params)``, ``+inf`` outside the domain.
    f_prime_inverse_fn: ``(f')^{-1}(t, *params)`` or ``None`` where f' is not invertible (TV).
    h_fn: ``u^2 f''(u)``.
    f_at_zero_fn: ``lim_{u→0} f(u)``, possibly ``+inf``.
    f_prime_at_infinity_fn: ``lim_{u→∞} f(u)/u``, possibly ``+inf``.
    params: tuple of array leaves (``(alpha,)`` for the α-family, ``()`` otherwise).

  Examples:
    The Fenchel–Young equality f*(f'(u)) = u f'(u) − f(u); for KL at u = 2 it is
    2 (log 2 + 1) − 2 log 2 = 2:

    >>> from divjax import divergences as dv
    >>> slope = dv.KL.f_prime(2.0)
    >>> print(f"{float(dv.KL.conjugate(slope)):.4f}")
    2.0000
  """

  name: str = dataclasses.field(metadata=dict(static=True))
  f_fn: Callable[..., Array] = dataclasses.field(metadata=dict(static=True))
  f_prime_fn: Callable[..., Array] = dataclasses.field(metadata=dict(static=True))
  conjugate_fn: Callable[..., Array] = dataclasses.field(metadata=dict(static=True))
  f_prime_inverse_fn: Callable[..., Array] | None = dataclasses.field(metadata=dict(static=True))
  h_fn: Callable[..., Array] = dataclasses.field(metadata=dict(static=True))
  f_at_zero_fn: Callable[..., Array] = dataclasses.field(metadata=dict(static=True))
  f_prime_at_infinity_fn: Callable[..., Array] = dataclasses.field(metadata=dict(static=True))
  params: tuple = ()

  def f(self, u: Array) -> Array:
    """The generator f(u), elementwise; u = 0 gives the limit f(0).

    Examples:
      For KL, f(u) = u log u, so f(2) = 2 log 2 and f(0) = 0:

      >>> from divjax import divergences as dv
      >>> print(f"{float(dv.KL.f(2.0)):.4f}", f"{float(dv.KL.f(0.0)):.4f}")
      1.3863 0.0000
    """
    return self.f_fn(jnp.asarray(u), *self.params)

  def f_prime(self, u: Array) -> Array:
    """The derivative f'(u).

    Examples:
      For KL, f'(u) = log u + 1:

      >>> from divjax import divergences as dv
      >>> print(f"{float(dv.KL.f_prime(1.0)):.4f}")
      1.0000
    """
    return self.f_prime_fn(jnp.asarray(u), *self.params)

  def conjugate(self, t: Array) -> Array:
    """The convex conjugate f*(t) = sup over u >= 0 of (t u − f(u)); +inf outside its domain.

    Examples:
      For KL, f*(t) = exp(t − 1); for reverse KL the domain is t < 0:

      >>> from divjax import divergences as dv
      >>> print(f"{float(dv.KL.conjugate(1.0)):.4f}")
      1.0000
      >>> print(float(dv.REVERSE_KL.conjugate(0.5)))
      inf
    """
    return self.conjugate_fn(jnp.asarray(t), *self.params)

  def f_prime_inverse(self, t: Array) -> Array:
    """(f')⁻¹(t) = (f*)'(t): the density ratio at which f' equals t.

    Raises:
      ValueError: for a generator whose derivative is not invertible (total variation).

    Examples:
      The inverse undoes f':

      >>> from divjax import divergences as dv
      >>> print(f"{float(dv.KL.f_prime_inverse(dv.KL.f_prime(3.0))):.4f}")
      3.0000
      >>> dv.TOTAL_VARIATION.f_prime_inverse(0.0)
      Traceback (most recent call last):
      ...
      ValueError: the 'total_variation' generator has no invertible derivative.
    """
    if self.f_prime_inverse_fn is None:
      raise ValueError(f"the {self.name!r} generator has no invertible derivative.")
    return self.f_prime_inverse_fn(jnp.asarray(t), *self.params)

  def h(self, u: Array) -> Array:
    """The f-distill weight h(u) = u² f''(u).

    Examples:
      For the α-family h(u) = u^α, so at α = ½ and u = 4 it is 2:

      >>> from divjax import divergences as dv
      >>> print(f"{float(dv.alpha_generator(0.5).h(4.0)):.4f}")
      2.0000
    """
    return self.h_fn(jnp.asarray(u), *self.params)

  def f_at_zero(self) -> Array:
    """The limit of f(u) as u → 0+ (+inf for reverse KL).

    Examples:
      Jensen–Shannon has f(0) = ½ log 2; reverse KL, f(u) = −log u, has none:

      >>> from divjax import divergences as dv
      >>> print(f"{float(dv.JENSEN_SHANNON.f_at_zero()):.4f}", float(dv.REVERSE_KL.f_at_zero()))
      0.3466 inf
    """
    return jnp.asarray(self.f_at_zero_fn(*self.params))

  def f_prime_at_infinity(self) -> Array:
    """The limit of f(u)/u as u → ∞: the cost per unit of P-mass where Q = 0 (+inf for KL).

    Examples:
      Total variation charges ½ per unit of mass off the support of Q; KL charges +inf:

      >>> from divjax import divergences as dv
      >>> print(float(dv.TOTAL_VARIATION.f_prime_at_infinity()), float(dv.KL.f_prime_at_infinity()))
      0.5 inf
    """
    return jnp.asarray(self.f_prime_at_infinity_fn(*self.params))

  def __mul__(self, c: float) -> "FGenerator":
    """Scales the divergence by a constant c > 0, as in 2 * KL (c becomes a parameter leaf).

    Raises:
      ValueError: if ``c`` is not a finite positive Python number.

    Examples:
      Twice the Jensen–Shannon generator gives twice the divergence (the "JS" of f-DPG and DPH-RL):

      >>> import jax.numpy as jnp
      >>> from divjax import divergences as dv
      >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
      >>> print(f"{float(dv.f_divergence(2 * dv.JENSEN_SHANNON, p, q)):.4f}")
      0.2035
      >>> print(f"{2 * float(dv.js_divergence(p, q)):.4f}")
      0.2035
    """
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or c <= 0:
      raise ValueError(f"a generator can only be scaled by a finite positive Python number, got {c!r}.")
    inv = self.f_prime_inverse_fn
    return FGenerator(
        name=f"scaled_{self.name}",
        f_fn=_Scaled(self.f_fn, "value"),
        f_prime_fn=_Scaled(self.f_prime_fn, "value"),
        conjugate_fn=_Scaled(self.conjugate_fn, "conjugate"),
        f_prime_inverse_fn=None if inv is None else _Scaled(inv, "inverse"),
        h_fn=_Scaled(self.h_fn, "value"),
        f_at_zero_fn=_Scaled(self.f_at_zero_fn, "constant"),
        f_prime_at_infinity_fn=_Scaled(self.f_prime_at_infinity_fn, "constant"),
        params=(jnp.asarray(float(c)), *self.params),
    )

  __rmul__ = __mul__


jax.tree_util.register_dataclass(
    FGenerator,
    data_fields=["params"],
    meta_fields=[
        "name", "f_fn", "f_prime_fn", "conjugate_fn", "f_prime_inverse_fn", "h_fn", "f_at_zero_fn",
        "f_prime_at_infinity_fn"
    ],
)


@dataclasses.dataclass(frozen=True)
class _Scaled:
  """A generator's function for c·f, with c the first parameter; equal when built from the same
  function, so scaled generators with different c share one jit trace."""

  fn: Callable[..., Array]
  kind: str  # "value": c·g(x), "conjugate": c·g(x/c), "inverse": g(x/c), "constant": c·g()

  def __call__(self, *args):
    if self.kind == "constant":
      c, *params = args
      return c * self.fn(*params)
    x, c, *params = args
    if self.kind == "value":
      return c * self.fn(x, *params)
    if self.kind == "conjugate":
      return c * self.fn(x / c, *params)
    return self.fn(x / c, *params)


# ---------------------------------------------------------------------------------------------------
# Safe elementary pieces (finite values and gradients at u = 0).


_safe_log = _numerics.safe_log
_xlogx = _numerics.xlogx


def _inf_outside(t: Array, inside: Array, value: Array) -> Array:
  return jnp.where(inside, value, jnp.inf)


def _const(value: float) -> Callable[..., Array]:
  return lambda *params: jnp.asarray(value)


# ---------------------------------------------------------------------------------------------------
# KL(P||Q): f(u) = u log u.

KL = FGenerator(
    name="kl",
    f_fn=_xlogx,
    f_prime_fn=lambda u: _safe_log(u) + 1.0,
    conjugate_fn=lambda t: jnp.exp(t - 1.0),
    f_prime_inverse_fn=lambda t: jnp.exp(t - 1.0),
    h_fn=lambda u: u,
    f_at_zero_fn=_const(0.0),
    f_prime_at_infinity_fn=_const(jnp.inf),
)

# KL(Q||P): f(u) = -log u.


def _reverse_kl_conjugate(t: Array) -> Array:
  inside = t < 0
  safe = jnp.where(inside, t, -1.0)
  return _inf_outside(t, inside, -1.0 - jnp.log(-safe))


def _reverse_kl_f_prime_inverse(t: Array) -> Array:
  inside = t < 0
  return jnp.where(inside, -1.0 / jnp.where(inside, t, -1.0), jnp.inf)


REVERSE_KL = FGenerator(
    name="reverse_kl",
    f_fn=lambda u: -_safe_log(u),
    f_prime_fn=lambda u: -1.0 / u,
    conjugate_fn=_reverse_kl_conjugate,
    f_prime_inverse_fn=_reverse_kl_f_prime_inverse,
    h_fn=lambda u: jnp.ones_like(u),
    f_at_zero_fn=_const(jnp.inf),
    f_prime_at_infinity_fn=_const(0.0),
)

# Jensen–Shannon: f(u) = ½[u log u − (u+1) log((u+1)/2)].


def _js_f(u: Array) -> Array:
  return 0.5 * (_xlogx(u) - (u + 1.0) * (jnp.log1p(u) - _LOG2))


def _js_conjugate(t: Array) -> Array:
  # f*(t) = -½ log(2 - e^{2t}) for t < ½ log 2.
  inside = t < 0.5 * _LOG2
  safe = jnp.where(inside, t, 0.0)
  return _inf_outside(t, inside, -0.5 * jnp.log(2.0 - jnp.exp(2.0 * safe)))


def _js_f_prime_inverse(t: Array) -> Array:
  inside = t < 0.5 * _LOG2
  e = jnp.exp(2.0 * jnp.where(inside, t, 0.0))
  return jnp.where(inside, e / (2.0 - e), jnp.inf)


JENSEN_SHANNON = FGenerator(
    name="jensen_shannon",
    f_fn=_js_f,
    f_prime_fn=lambda u: 0.5 * (_LOG2 + _safe_log(u) - jnp.log1p(u)),
    conjugate_fn=_js_conjugate,
    f_prime_inverse_fn=_js_f_prime_inverse,
    h_fn=lambda u: 0.5 * u / (1.0 + u),
    f_at_zero_fn=_const(0.5 * _LOG2),
    f_prime_at_infinity_fn=_const(0.5 * _LOG2),
)

# Total variation: f(u) = ½|u − 1|.

TOTAL_VARIATION = FGenerator(
    name="total_variation",
    f_fn=lambda u: 0.5 * jnp.abs(u - 1.0),
    f_prime_fn=lambda u: 0.5 * jnp.sign(u - 1.0),
    # f*(t) = t for |t| <= ½, -½ for t < -½ (the sup is attained at u = 0), +inf for t > ½.
    conjugate_fn=lambda t: jnp.where(t > 0.5, jnp.inf, jnp.maximum(t, -0.5)),
    f_prime_inverse_fn=None,
    h_fn=lambda u: jnp.zeros_like(u),
    f_at_zero_fn=_const(0.5),
    f_prime_at_infinity_fn=_const(0.5),
)

# Squared Hellinger: f(u) = ½(√u − 1)², D = 1 − Σ √(pq).


def _hellinger_conjugate(t: Array) -> Array:
  # sup_u tu − ½(√u−1)²: for t < ½ the maximiser is √u = 1/(1−2t), f*(t) = t/(1−2t).
  inside = t < 0.5
  safe = jnp.where(inside, t, 0.0)
  return _inf_outside(t, inside, safe / (1.0 - 2.0 * safe))


def _hellinger_f_prime_inverse(t: Array) -> Array:
  inside = t < 0.5
  return jnp.where(inside, 1.0 / (1.0 - 2.0 * jnp.where(inside, t, 0.0))**2, jnp.inf)


SQUARED_HELLINGER = FGenerator(
    name="squared_hellinger",
    f_fn=lambda u: 0.5 * (jnp.sqrt(u) - 1.0)**2,
    f_prime_fn=lambda u: 0.5 * (1.0 - 1.0 / jnp.sqrt(u)),
    conjugate_fn=_hellinger_conjugate,
    f_prime_inverse_fn=_hellinger_f_prime_inverse,
    h_fn=lambda u: 0.25 * jnp.sqrt(u),
    f_at_zero_fn=_const(0.5),
    f_prime_at_infinity_fn=_const(0.5),
)

# Pearson χ²: f(u) = (u − 1)².

PEARSON_CHI2 = FGenerator(
    name="pearson_chi2",
    f_fn=lambda u: (u - 1.0)**2,
    f_prime_fn=lambda u: 2.0 * (u - 1.0),
    # sup_{u>=0} tu − (u−1)²: u* = 1 + t/2 when t >= −2, else u* = 0.
    conjugate_fn=lambda t: jnp.where(t >= -2.0, t + 0.25 * t**2, -1.0),
    f_prime_inverse_fn=lambda t: jnp.maximum(1.0 + 0.5 * t, 0.0),
    h_fn=lambda u: 2.0 * u**2,
    f_at_zero_fn=_const(1.0),
    f_prime_at_infinity_fn=_const(jnp.inf),
)

# Neyman χ²: f(u) = (u − 1)²/u.


def _neyman_conjugate(t: Array) -> Array:
  # f(u) = u − 2 + 1/u; sup tu − f(u) for t <= 1: u* = 1/√(1−t), f*(t) = 2 − 2√(1−t) (at t = 1 the
  # sup is the limit 2, not attained).
  inside = t <= 1.0
  safe = jnp.where(inside, t, 0.0)
  return _inf_outside(t, inside, 2.0 - 2.0 * jnp.sqrt(1.0 - safe))


def _neyman_f_prime_inverse(t: Array) -> Array:
  inside = t < 1.0
  return jnp.where(inside, 1.0 / jnp.sqrt(1.0 - jnp.where(inside, t, 0.0)), jnp.inf)


NEYMAN_CHI2 = FGenerator(
    name="neyman_chi2",
    f_fn=lambda u: (u - 1.0)**2 / u,
    f_prime_fn=lambda u: 1.0 - 1.0 / u**2,
    conjugate_fn=_neyman_conjugate,
    f_prime_inverse_fn=_neyman_f_prime_inverse,
    h_fn=lambda u: 2.0 / u,
    f_at_zero_fn=_const(jnp.inf),
    f_prime_at_infinity_fn=_const(1.0),
)

# Jeffreys: f(u) = (u − 1) log u.


def _jeffreys_conjugate(t: Array) -> Array:
  # No elementary closed form: at the root s = log u* of f'(u) = t, i.e. t = s + 1 − e^{−s},
  # f*(t) = t u* − (u* − 1) s = u* − 1 + s = expm1(s) + s (no inf − inf for large t).
  s = _jeffreys_log_f_prime_inverse(t)
  return jnp.expm1(s) + s


def _jeffreys_f(u: Array) -> Array:
  return (u - 1.0) * _safe_log(u)


def _jeffreys_log_f_prime_inverse(t: Array) -> Array:
  # f'(u) = log u + 1 − 1/u is increasing from −inf to +inf: Newton on s = log u (g(s) = s + 1 − e^{−s}
  # − t is concave and increasing, so the iterates approach the root monotonically after one step),
  # started from the tangent of the dominant term; 40 steps reach float64 round-off.
  t = jnp.asarray(t)
  s0 = jnp.where(t > 1.0, t - 1.0, -jnp.log(jnp.maximum(1.0 - t, 1e-30)))

  def body(_, s):
    g = s + 1.0 - jnp.exp(-s) - t
    dg = 1.0 + jnp.exp(-s)
    return s - g / dg

  return jax.lax.fori_loop(0, 40, body, s0)


def _jeffreys_f_prime_inverse(t: Array) -> Array:
  return jnp.exp(_jeffreys_log_f_prime_inverse(t))


JEFFREYS = FGenerator(
    name="jeffreys",
    f_fn=_jeffreys_f,
    f_prime_fn=lambda u: _safe_log(u) + 1.0 - 1.0 / u,
    conjugate_fn=_jeffreys_conjugate,
    f_prime_inverse_fn=_jeffreys_f_prime_inverse,
    h_fn=lambda u: u + 1.0,
    f_at_zero_fn=_const(jnp.inf),
    f_prime_at_infinity_fn=_const(jnp.inf),
)

# ---------------------------------------------------------------------------------------------------
# The α-family (Cichocki–Amari): f_α(u) = (u^α − α u − (1 − α)) / (α(α − 1)).
#
# Written without cancellation: with L = log u and φ(x) = (eˣ − 1 − x)/x,
#   f_α(u) = [u L φ((α−1) L) + (u L − u + 1)] / α                     (stable near α = 1),
# and the symmetry f_α(u) = u f_{1−α}(1/u) moves α < ½ to 1 − α > ½ (stable near α = 0).

def _alpha_f_upper(u: Array, alpha: Array) -> Array:
  """f_α(u) for α >= ½ and u > 0."""
  L = jnp.log(u)
  return (u * L * _numerics.phi((alpha - 1.0) * L) + (u * L - u + 1.0)) / alpha


def _alpha_f(u: Array, alpha: Array) -> Array:
  u, alpha = jnp.broadcast_arrays(jnp.asarray(u), jnp.asarray(alpha, dtype=jnp.result_type(u, 1.0)))
  pos = u > 0
  su = jnp.where(pos, u, 1.0)
  upper = alpha >= 0.5
  a_up = jnp.where(upper, alpha, 1.0 - alpha)
  value = jnp.where(upper, _alpha_f_upper(su, a_up), su * _alpha_f_upper(1.0 / su, a_up))
  return jnp.where(pos, value, _alpha_f_at_zero(alpha))


def _alpha_f_at_zero(alpha: Array) -> Array:
  # f(0) = −(1 − α)/(α(α−1)) = 1/α for α > 0, +inf for α <= 0.
  alpha = jnp.asarray(alpha)
  return jnp.where(alpha > 0, 1.0 / jnp.where(alpha > 0, alpha, 1.0), jnp.inf)


def _alpha_f_prime_at_infinity(alpha: Array) -> Array:
  # f(u)/u → 1/(1−α) for α < 1, +inf for α >= 1.
  alpha = jnp.asarray(alpha)
  return jnp.where(alpha < 1, 1.0 / jnp.where(alpha < 1, 1.0 - alpha, 1.0), jnp.inf)


def _alpha_f_prime(u: Array, alpha: Array) -> Array:
  # f'(u) = (u^{α−1} − 1)/(α − 1) = L · expm1((α−1)L)/((α−1)L), L = log u; at u = 0 the one-sided limit
  # −1/(α−1) for α > 1 and −inf otherwise.
  u, alpha = jnp.broadcast_arrays(jnp.asarray(u), jnp.asarray(alpha, dtype=jnp.result_type(u, 1.0)))
  pos = u > 0
  L = jnp.log(jnp.where(pos, u, 1.0))
  at_zero = jnp.where(alpha > 1.0, -1.0 / jnp.where(alpha > 1.0, alpha - 1.0, 1.0), -jnp.inf)
  return jnp.where(pos, L * _numerics.expm1_ratio((alpha - 1.0) * L), at_zero)


def _alpha_log_ratio(t: Array, alpha: Array) -> tuple[Array, Array]:
  """(L, inside) with L = log(s)/(α−1), s = 1 + (α−1)t, i.e. log (f')⁻¹(t); inside = s > 0."""
  y = (alpha - 1.0) * t
  inside = y > -1.0
  return t * _numerics.log1p_ratio(jnp.where(inside, y, 0.0)), inside


def _alpha_f_prime_inverse(t: Array, alpha: Array) -> Array:
  # (f')^{-1}(t) = s^{1/(α−1)}; for s <= 0 it is 0 (α > 1: t below f'(0)) or +inf (α < 1).
  t, alpha = jnp.broadcast_arrays(jnp.asarray(t), jnp.asarray(alpha, dtype=jnp.result_type(t, 1.0)))
  L, inside = _alpha_log_ratio(t, alpha)
  return jnp.where(inside, jnp.exp(L), jnp.where(alpha > 1.0, 0.0, jnp.inf))


def _alpha_conjugate(t: Array, alpha: Array) -> Array:
  # f*(t) = (s^{α/(α−1)} − 1)/α = expm1(α L)/α = L · expm1_ratio(α L): smooth through α = 0 (−log(1−t))
  # and α = 1 (e^t − 1). Where s <= 0 the sup sits at u = 0 for α > 1 (f* = −f(0) = −1/α) and is
  # +inf for α < 1, except at the edge s = 0 for α < 0, where it is the finite limit −1/α.
  t, alpha = jnp.broadcast_arrays(jnp.asarray(t), jnp.asarray(alpha, dtype=jnp.result_type(t, 1.0)))
  L, inside = _alpha_log_ratio(t, alpha)
  safe_alpha = jnp.where(alpha == 0, 1.0, alpha)
  edge = ((alpha > 1.0) & ~inside) | ((alpha < 0.0) & (1.0 + (alpha - 1.0) * t == 0.0))
  return jnp.where(inside, L * _numerics.expm1_ratio(alpha * L),
                   jnp.where(edge, -1.0 / safe_alpha, jnp.inf))


def _alpha_h(u: Array, alpha: Array) -> Array:
  # h(u) = u² f''(u) = u^α, with 0^0 = 1 and 0^α = +inf for α < 0.
  u, alpha = jnp.broadcast_arrays(jnp.asarray(u), jnp.asarray(alpha, dtype=jnp.result_type(u, 1.0)))
  pos = u > 0
  at_zero = jnp.where(alpha > 0, 0.0, jnp.where(alpha == 0, 1.0, jnp.inf))
  return jnp.where(pos, jnp.exp(alpha * jnp.log(jnp.where(pos, u, 1.0))), at_zero)


def alpha_generator(alpha: float | Array) -> FGenerator:
  r"""The α-divergence generator f_α(u) = (u^α − α u − (1 − α)) / (α (α − 1)) (Cichocki–Amari).

  .. math::  f_\alpha(u) = \frac{u^\alpha - \alpha u - (1-\alpha)}{\alpha(\alpha-1)}

  Defined for every real α, with the limits handled without cancellation:
  :math:`\alpha\to1` is :math:`\mathrm{KL}(P\|Q)` and :math:`\alpha\to0` is :math:`\mathrm{KL}(Q\|P)`.
  Swapping arguments maps α to 1 − α: :math:`D_\alpha(P\|Q) = D_{1-\alpha}(Q\|P)`. The f-DPO and
  DPH-RL papers' α-divergence with their parameter α is ``alpha_generator(1 - α)``; see
  :doc:`/theory/fdivergences`.

  Args:
    alpha: the order, a scalar (may be traced: the generator is a pytree with ``alpha`` as a leaf).

  Returns:
    An :class:`FGenerator`.

  References:
    * Cichocki & Amari, *Families of alpha- beta- and gamma-divergences: flexible and robust
      measures of similarities*, Entropy 12, 2010, doi:10.3390/e12061532.
    * Amari, *Information Geometry and Its Applications*, Springer, 2016.

  Examples:
    At α = ½ the generator is 2(√u − 1)², four times ``SQUARED_HELLINGER``; at u = 4 that is 2:

    >>> from divjax import divergences as dv
    >>> print(f"{float(dv.alpha_generator(0.5).f(4.0)):.4f}")
    2.0000
    >>> print(f"{float(dv.SQUARED_HELLINGER.f(4.0)):.4f}")
    0.5000
  """
  alpha = _validate.as_array(alpha)
  if jnp.ndim(alpha) != 0:
    raise ValueError(f"alpha must be a scalar, got shape {jnp.shape(alpha)}.")
  alpha = _validate.finite("alpha", alpha)
  return FGenerator(
      name="alpha",
      f_fn=_alpha_f,
      f_prime_fn=_alpha_f_prime,
      conjugate_fn=_alpha_conjugate,
      f_prime_inverse_fn=_alpha_f_prime_inverse,
      h_fn=_alpha_h,
      f_at_zero_fn=_alpha_f_at_zero,
      f_prime_at_infinity_fn=_alpha_f_prime_at_infinity,
      params=(jnp.asarray(alpha, dtype=jnp.result_type(float)),),
  )


#: The built-in generators by name.
GENERATORS: dict[str, FGenerator] = {
    g.name: g for g in (KL, REVERSE_KL, JENSEN_SHANNON, TOTAL_VARIATION, SQUARED_HELLINGER,
                        PEARSON_CHI2, NEYMAN_CHI2, JEFFREYS)
}
