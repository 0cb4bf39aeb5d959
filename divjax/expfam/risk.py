r"""The risk of the MLE with respect to the information projection, to order n⁻² (Sheena 2021).

With θ* the information projection of the true g and :math:`\hat\theta` the MLE from n iid draws,

.. math::  R_n = \mathbb E_g\big[\mathrm{KL}(p_{\theta^*}\,\|\,p_{\hat\theta})\big]
               = \frac{R_1}{n} + \frac{R_2}{n^2} + O(n^{-3}).

Symbols at θ* (indices a, b, … ∈ 1..p, repeated indices summed, raised indices contracted with
:math:`G^{-1}`): :math:`G = \nabla^2\psi` (Fisher information), :math:`\psi_{abc}, \psi_{abcd}` (cumulants
of T under :math:`p_{\theta^*}`); under g: :math:`K = \mathrm{Cov}_g(T)`, :math:`\kappa_{abc}` its third
cumulant. Then (derived in :doc:`/theory/mle_info_projection`)

* :math:`R_1 = \tfrac12\mathrm{tr}(G^{-1}K)` (:math:`p_\mathrm{eff} = \mathrm{tr}(G^{-1}K)`, = p for a
  correct model);
* natural coordinates, with :math:`\tilde K = G^{-1}KG^{-1}`, :math:`\tilde\kappa^{abc} =
  G^{ai}G^{bj}G^{ck}\kappa_{ijk}`:
  :math:`R_2 = -\tfrac13\psi_{abc}\tilde\kappa^{abc} - \tfrac38\psi_{abcd}\tilde K^{ab}\tilde K^{cd}
  + \tfrac38 G^{cd}\psi_{abc}\psi_{efd}(\tilde K^{ab}\tilde K^{ef} + 2\tilde K^{ae}\tilde K^{bf})`;
* expectation coordinates: :math:`R_2 = \tfrac13\varphi_{abc}\kappa_{abc} + \tfrac38\varphi_{abcd}
  K_{ab}K_{cd}` with :math:`\varphi_{abc} = -\psi^{abc}`, :math:`\varphi_{abcd} = -\psi^{abcd} +
  \psi^{abe}G_{ef}\psi^{fcd} + \psi^{ace}G_{ef}\psi^{fbd} + \psi^{ade}G_{ef}\psi^{fbc}`;
* the reverse direction :math:`\mathbb E\,\mathrm{KL}(p_{\hat\theta}\|p_{\theta^*}) = R_1/n + R_2'/n^2`,
  :math:`R_2' = \tfrac16\varphi_{abc}\kappa_{abc} + \tfrac18\varphi_{abcd}K_{ab}K_{cd}`.

Exact finite-n risks (closed forms, exact enumeration) and a vmapped Monte-Carlo risk with its
standard error serve as references.

Work in float64 for the n⁻² term (``with jax.enable_x64(True):``); the examples below run in float32,
which resolves the coefficients to about four digits.

References:
  * Sheena, Y., *MLE convergence speed to information projection of exponential family: criterion for
    model dimension and sample size — complete proof version*, arXiv:2105.08947 (2021).
  * Takeuchi, K., *Distribution of informational statistics and a criterion of model fitting*,
    Suri-Kagaku (Mathematical Sciences) 153 (1976), in Japanese (TIC).
  * McCullagh, P., *Tensor Methods in Statistics*, Chapman & Hall, 1987.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special, stats

from divjax import _validate
from divjax.expfam.family import ExponentialFamily, _theta, cumulants
from divjax.expfam.projection import bregman_kl_divergence

__all__ = [
    "RiskExpansion",
    "risk_expansion",
    "exact_risk_exponential_gamma",
    "exact_risk_normal",
    "exact_risk_categorical",
    "exact_risk_poisson_negative_binomial",
    "MonteCarloRisk",
    "monte_carlo_risk",
]

Array = jax.Array


class RiskExpansion(NamedTuple):
  r"""The coefficients of the risk expansion R_n = R₁/n + R₂/n² + O(n⁻³), and of the reverse risk.

  Returned by :func:`risk_expansion`.

  Attributes:
    R1: :math:`R_1 = \tfrac12\mathrm{tr}(G^{-1}K)`.
    R2: the n⁻² coefficient of :math:`\mathbb E\,\mathrm{KL}(p_{\theta^*}\|p_{\hat\theta})`.
    R2_reverse: the n⁻² coefficient of :math:`\mathbb E\,\mathrm{KL}(p_{\hat\theta}\|p_{\theta^*})`.
    p_eff: the effective dimension :math:`\mathrm{tr}(G^{-1}K) = 2R_1`.

  Examples:
    >>> from divjax.expfam import RiskExpansion
    >>> r = RiskExpansion(R1=1.0, R2=61 / 12, R2_reverse=0.0, p_eff=2.0)
    >>> print(f"{r.first_order(50):.5f} {r.risk(50):.5f}")
    0.02000 0.02203
  """
  R1: Array
  R2: Array
  R2_reverse: Array
  p_eff: Array

  def risk(self, n) -> Array:
    """The second-order prediction R₁/n + R₂/n² at sample size n."""
    return self.R1 / n + self.R2 / n**2

  def first_order(self, n) -> Array:
    """The first-order prediction R₁/n at sample size n."""
    return self.R1 / n


@_validate.guarded
@_validate.nan_means_overflow("theta_star")
def risk_expansion(family: ExponentialFamily, theta_star: Array, cov_T: Array,
                   third_cumulant_T: Array, *, coordinates: str = "natural") -> RiskExpansion:
  r"""The coefficients R₁ and R₂ of the MLE risk expansion, by autodiff of ψ.

  .. math::  \mathbb E_g\,\mathrm{KL}(p_{\theta^*}\,\|\,p_{\hat\theta}) = \frac{R_1}{n} + \frac{R_2}{n^2}
             + O(n^{-3}),\qquad R_1 = \tfrac12\mathrm{tr}(G^{-1}K)

  The module docstring of :mod:`divjax.expfam.risk` gives R₂ in both coordinate systems; the derivation
  is in :doc:`/theory/mle_info_projection`.

  Args:
    family: the exponential family (its ψ is differentiated four times by autodiff).
    theta_star: the information projection θ* ``[p]``.
    cov_T: :math:`K = \mathrm{Cov}_g(T)` ``[p, p]``.
    third_cumulant_T: :math:`\kappa = \mathbb E_g[(T-\eta)^{\otimes 3}]` ``[p, p, p]``.
    coordinates: ``"natural"`` or ``"expectation"``: the two forms of R₂, equal to rounding (the
      second serves as an oracle for the first).

  Returns:
    :class:`RiskExpansion` (R1, R2, R2_reverse, p_eff).

  Raises:
    ValueError: unknown ``coordinates``, or moment shapes that do not match the family.

  Examples:
    The exponential model fitted to Gamma(k, 1) data (K = k, κ = 2k, θ* = −1/k) has the closed forms
    R₁ = 1/(2k) and R₂ = 11/(12k²); at k = 2 these are 0.25 and 11/48:

    >>> import jax.numpy as jnp
    >>> from divjax import expfam
    >>> r = expfam.risk_expansion(expfam.exponential(), jnp.array([-0.5]), jnp.array([[2.0]]),
    ...                           jnp.array([[[4.0]]]))
    >>> print(f"{float(r.R1):.4f} {float(r.R2):.4f} {11 / 48:.4f}")
    0.2500 0.2292 0.2292

  References:
    Sheena, arXiv:2105.08947, §2 (expansion to n⁻²); the derivation of R₂ is in
    :doc:`/theory/mle_info_projection`.
  """
  if coordinates not in ("natural", "expectation"):
    raise ValueError(f"coordinates must be 'natural' or 'expectation', got {coordinates!r}.")
  theta_star = _theta(family, theta_star, "theta_star")
  p = family.dim
  cov_T, third_cumulant_T = _validate.as_array(cov_T), _validate.as_array(third_cumulant_T)
  for name, x, shape in (("cov_T", cov_T, (p, p)), ("third_cumulant_T", third_cumulant_T, (p, p, p))):
    _validate.array(name, x)
    if np.shape(x) != shape:
      raise ValueError(f"{name} must have shape {list(shape)} for the {family.name} family, got "
                       f"{np.shape(x)}.")
  K = jnp.asarray(_validate.covariance("cov_T", cov_T, p))
  kappa = jnp.asarray(_validate.finite("third_cumulant_T", third_cumulant_T))
  G, psi3, psi4 = cumulants(family, theta_star)
  Gi = jnp.linalg.inv(G)
  R1 = 0.5 * jnp.trace(Gi @ K)
  # φ-derivatives (expectation coordinates).
  up3 = jnp.einsum("ai,bj,ck,ijk->abc", Gi, Gi, Gi, psi3)
  up4 = jnp.einsum("ai,bj,ck,dl,ijkl->abcd", Gi, Gi, Gi, Gi, psi4)
  phi3 = -up3
  phi4 = (-up4 + jnp.einsum("abe,ef,fcd->abcd", up3, G, up3) +
          jnp.einsum("ace,ef,fbd->abcd", up3, G, up3) + jnp.einsum("ade,ef,fbc->abcd", up3, G, up3))
  phi3_kappa = jnp.einsum("abc,abc->", phi3, kappa)
  phi4_KK = jnp.einsum("abcd,ab,cd->", phi4, K, K)
  R2_reverse = phi3_kappa / 6.0 + phi4_KK / 8.0
  if coordinates == "expectation":
    R2 = phi3_kappa / 3.0 + 3.0 * phi4_KK / 8.0
  else:
    Kt = Gi @ K @ Gi
    kt = jnp.einsum("ai,bj,ck,ijk->abc", Gi, Gi, Gi, kappa)
    R2 = (-jnp.einsum("abc,abc->", psi3, kt) / 3.0 -
          3.0 * jnp.einsum("abcd,ab,cd->", psi4, Kt, Kt) / 8.0 +
          3.0 / 8.0 * jnp.einsum("cd,abc,efd,ab,ef->", Gi, psi3, psi3, Kt, Kt) +
          3.0 / 4.0 * jnp.einsum("cd,abc,efd,ae,bf->", Gi, psi3, psi3, Kt, Kt))
  return RiskExpansion(R1, R2, R2_reverse, 2.0 * R1)


# ---------------------------------------------------------------------------------------------------
# Exact finite-n risks.


@_validate.guarded
def exact_risk_exponential_gamma(shape: float, n: int) -> float:
  r"""The exact risk R_n of the exponential model fitted to Gamma(shape, 1) data.

  .. math::  R_n = \psi_0(nk) - \log(nk) + \frac{1}{nk - 1}\qquad (nk > 1)

  with k the Gamma shape and :math:`\psi_0` the digamma function (R₁ = 1/(2k), R₂ = 11/(12k²)).

  Args:
    shape: the Gamma shape k > 0.
    n: sample size, with n·k > 1.

  Returns:
    R_n as a Python float.

  Raises:
    ValueError: if n·k ≤ 1.

  Examples:
    At k = 2, n = 50 the two-term expansion 0.25/50 + (11/48)/2500 = 0.0050917 is within 2e−6:

    >>> from divjax import expfam
    >>> print(f"{expfam.exact_risk_exponential_gamma(2.0, 50):.7f}")
    0.0050927
  """
  shape = float(_validate.positive_scalar("shape", shape))
  n = _validate.integer("n", n, minimum=1)
  nk = n * shape
  if nk <= 1:
    raise ValueError(f"the exact risk needs n·shape > 1 (the MLE's mean is finite), got {nk}.")
  return float(special.digamma(nk) - math.log(nk) + 1.0 / (nk - 1.0))


@_validate.guarded
def exact_risk_normal(n: int) -> float:
  r"""The exact risk R_n of the normal model fitted to normal data (correct model, p = 2).

  .. math::  R_n = \tfrac12\big[\psi_0(\tfrac{n-1}{2}) + \log\tfrac2n\big] + \frac{2}{n-3}
             \qquad (n > 3)

  Coefficients R₁ = 1, R₂ = 61/12.

  Args:
    n: sample size > 3.

  Returns:
    R_n as a Python float.

  Raises:
    ValueError: if n ≤ 3.

  Examples:
    At n = 50: first order 1/50 = 0.02, second order 0.02 + (61/12)/2500 = 0.02203:

    >>> from divjax import expfam
    >>> print(f"{expfam.exact_risk_normal(50):.5f}")
    0.02218
  """
  n = _validate.integer("n", n, minimum=1)
  if n <= 3:
    raise ValueError(f"the exact normal risk is finite for n > 3, got n = {n}.")
  return float(0.5 * (special.digamma((n - 1) / 2) + math.log(2.0 / n)) + 2.0 / (n - 3))


def _compositions(n: int, k: int):
  if k == 1:
    yield (n,)
    return
  for first in range(n + 1):
    for rest in _compositions(n - first, k - 1):
      yield (first, *rest)


@_validate.guarded
def exact_risk_categorical(probs, n: int) -> tuple[float, float]:
  r"""The exact categorical risk E[KL(p‖p̂); all cells > 0], by enumeration of the counts.

  .. math::  \mathbb E\big[\mathrm{KL}(p\,\|\,\hat p);\ \text{all cells} > 0\big],\qquad \hat p = N/n

  The risk itself is +inf for every n (an empty cell has positive probability and makes the KL
  infinite); the expansion describes the risk restricted to interior outcomes, returned here with the
  probability of the boundary event.

  Args:
    probs: the true (and model) cell probabilities ``[k]``.
    n: sample size.

  Returns:
    ``(risk_on_interior, boundary_probability)``.

  Examples:
    For p = (0.2, 0.3, 0.5) the expansion has R₁ = 1, R₂ = 26/9, so at n = 100 it predicts 0.010289;
    an empty cell has probability 2e−10:

    >>> from divjax import expfam
    >>> risk, boundary = expfam.exact_risk_categorical([0.2, 0.3, 0.5], 100)
    >>> print(f"{risk:.5f} {boundary:.1e}")
    0.01031 2.0e-10
  """
  probs = _validate.probabilities("probs", _validate.as_array(probs))
  _validate.ndim("probs", probs, 1)
  probs = np.asarray(probs, np.float64)
  n = _validate.integer("n", n, minimum=1)
  k = len(probs)
  counts = np.array(list(_compositions(n, k)), dtype=np.float64)
  logpmf = stats.multinomial.logpmf(counts, n, probs)
  interior = np.all(counts > 0, axis=1)
  c = counts[interior] / n
  # 0 log 0 = 0 (a zero-probability cell: then no count vector is interior and the risk is 0).
  kl = np.sum(special.xlogy(probs, probs) - special.xlogy(probs, c), axis=1)
  risk = float(np.sum(np.exp(logpmf[interior]) * kl))
  boundary = float(np.exp(special.logsumexp(logpmf[~interior]))) if (~interior).any() else 0.0
  return risk, boundary


#: The most support points :func:`exact_risk_poisson_negative_binomial` sums (memory O(terms)).
_MAX_TERMS = 1e7


@_validate.guarded
def exact_risk_poisson_negative_binomial(mean: float, dispersion: float | None, n: int,
                                         *, tail: float = 1e-16) -> tuple[float, float]:
  r"""The exact risk of the Poisson model on Poisson or negative-binomial data, on the event S > 0.

  With :math:`S = \sum X_i`, :math:`\hat\lambda = S/n` and :math:`\lambda^* = \mathbb E X`,
  :math:`\mathrm{KL}(\mathrm{Poi}(\lambda^*)\|\mathrm{Poi}(\hat\lambda)) = \lambda^*\log(\lambda^*/\hat\lambda)
  - \lambda^* + \hat\lambda`; S is Poisson(nλ*) for Poisson data and negative binomial with size
  n·r for NB(size r, mean λ*) data. The S = 0 event (MLE on the boundary, infinite KL) is excluded
  and its probability returned.

  Args:
    mean: λ* = E X.
    dispersion: the NB size r (variance λ* + λ*²/r), or ``None`` for Poisson data.
    n: sample size.
    tail: truncation mass of the sum over S.

  Returns:
    ``(risk_on_S_positive, probability_S_zero)``.

  Examples:
    Correct Poisson model, λ = 2, n = 50: close to p/(2n) = 0.01, and P(S = 0) = e⁻¹⁰⁰ is negligible:

    >>> from divjax import expfam
    >>> risk, p0 = expfam.exact_risk_poisson_negative_binomial(2.0, None, 50)
    >>> print(f"{risk:.5f} {p0 < 1e-40}")
    0.01008 True
  """
  lam = float(_validate.positive_scalar("mean", mean))
  if dispersion is not None:
    dispersion = float(_validate.positive_scalar("dispersion", dispersion))
  n = _validate.integer("n", n, minimum=1)
  tail = float(_validate.interval("tail", tail, lower=0.0, upper=1.0, lower_open=True,
                                  upper_open=True))
  if dispersion is None:
    dist = stats.poisson(n * lam)
  else:
    r = float(dispersion) * n
    dist = stats.nbinom(r, r / (r + n * lam))
  top = float(dist.isf(tail))
  if not top < _MAX_TERMS:
    raise ValueError(f"the exact sum over the support of the sample total needs {top:.3g} terms "
                     f"(more than {_MAX_TERMS:.0e}) at mean = {lam:g}, dispersion = {dispersion}, "
                     f"n = {n}; use risk_expansion or monte_carlo_risk.")
  s = np.arange(1, int(top) + 2, dtype=np.float64)
  lam_hat = s / n
  kl = lam * np.log(lam / lam_hat) - lam + lam_hat
  return float(np.sum(dist.pmf(s) * kl)), float(dist.pmf(0))


# ---------------------------------------------------------------------------------------------------
# Monte Carlo.


class MonteCarloRisk(NamedTuple):
  """A Monte-Carlo estimate of R_n over the replications where the MLE exists.

  Returned by :func:`monte_carlo_risk`.

  Attributes:
    mean: the mean KL over the replications whose MLE exists.
    standard_error: its standard error.
    boundary_fraction: the fraction of replications with T̄ on the boundary (no MLE), left out.
    num_replications: the number of replications drawn.

  Examples:
    >>> from divjax.expfam import MonteCarloRisk
    >>> mc = MonteCarloRisk(mean=0.060, standard_error=0.002, boundary_fraction=0.0,
    ...                     num_replications=4000)
    >>> print(f"{mc.mean:.3f} ± {2 * mc.standard_error:.3f}")
    0.060 ± 0.004
  """
  mean: Array
  standard_error: Array
  boundary_fraction: Array
  num_replications: int


@_validate.guarded
def monte_carlo_risk(key: Array, family: ExponentialFamily, theta_star: Array,
                     sampler: Callable[[Array, tuple[int, ...]], Array], *, n: int,
                     num_replications: int, batch_size: int = 4096) -> MonteCarloRisk:
  r"""A Monte-Carlo estimate of the risk R_n = E_g KL(p_θ*‖p_θ̂), with its standard error.

  .. math::  R_n = \mathbb E_g\,\mathrm{KL}(p_{\theta^*}\,\|\,p_{\hat\theta})

  Each replication draws n observations with ``sampler(key, (n,))``, forms :math:`\bar T`, maps it to
  :math:`\hat\theta` with the family's closed-form inverse (required), and evaluates the Bregman KL.
  Replications are ``vmap``-ed in batches of ``batch_size`` (``lax.map`` over batches, so memory is
  O(batch_size · n)). Replications whose :math:`\bar T` is on the boundary (no MLE) are excluded and
  counted in ``boundary_fraction``.

  Args:
    key: PRNG key.
    family: the model family (with ``natural_from_mean``).
    theta_star: the information projection ``[p]``.
    sampler: ``(key, shape) -> samples`` of shape ``shape + event_shape`` from g.
    n: sample size.
    num_replications: number of replications.
    batch_size: replications per vectorised batch.

  Returns:
    :class:`MonteCarloRisk`.

  Raises:
    ValueError: if the family has no closed-form inverse of ∇ψ, or n / num_replications are invalid.

  Examples:
    The exponential model on its own data (rate 1) at n = 10, against the exact risk of
    :func:`exact_risk_exponential_gamma`:

    >>> import jax, jax.numpy as jnp
    >>> from divjax import expfam
    >>> mc = expfam.monte_carlo_risk(jax.random.key(0), expfam.exponential(), jnp.array([-1.0]),
    ...                              jax.random.exponential, n=10, num_replications=1000)
    >>> exact = expfam.exact_risk_exponential_gamma(1.0, 10)
    >>> print(abs(float(mc.mean) - exact) < 4 * float(mc.standard_error))
    True
  """
  if family.natural_from_mean is None:
    raise ValueError(f"monte_carlo_risk needs a closed-form inverse of ∇ψ; the {family.name} family "
                     "has none.")
  n = _validate.integer("n", n, minimum=1)
  num_replications = _validate.integer("num_replications", num_replications, minimum=2)
  batch_size = _validate.integer("batch_size", batch_size, minimum=1)
  theta_star = _theta(family, theta_star, "theta_star")
  batch = min(batch_size, num_replications)
  num_batches = -(-num_replications // batch)
  theta_star = jnp.asarray(theta_star)

  def one(k):
    x = sampler(k, (n,))
    t_bar = jnp.mean(jax.vmap(family.sufficient_statistic)(x), axis=0)
    ok = family.mean_interior(t_bar) if family.mean_interior is not None else True
    theta_hat = family.natural_from_mean(jnp.where(ok, t_bar, jax.grad(family.log_partition)(
        theta_star)))
    kl = bregman_kl_divergence(family, theta_star, theta_hat)
    return jnp.where(ok, kl, 0.0), ok

  keys = jax.random.split(key, num_batches * batch)
  keys = keys.reshape(num_batches, batch, *keys.shape[1:])
  kls, oks = jax.lax.map(jax.vmap(one), keys)
  kls = kls.reshape(-1)[:num_replications]
  oks = oks.reshape(-1)[:num_replications]
  m = jnp.sum(oks)
  mean = jnp.sum(kls) / m
  var = jnp.sum(jnp.where(oks, (kls - mean)**2, 0.0)) / (m - 1)
  return MonteCarloRisk(mean, jnp.sqrt(var / m), 1.0 - m / num_replications, num_replications)
