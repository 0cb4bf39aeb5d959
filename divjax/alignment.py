r"""KL-regularised alignment: tilted policies, best-of-N, RL as inference, f-DPO and f-DPG.

Symbols (one finite outcome space :math:`\mathcal Y` of size ``n``; every function takes the single
problem as 1-D arrays over :math:`\mathcal Y` and is batched with ``vmap``):

* :math:`p` — the reference policy (π_ref, π₀), given as logits ``ref_logits`` (unnormalised
  log-probabilities, ``-inf`` for zero-probability outcomes);
* :math:`r` — the reward, a finite vector ``reward``;
* :math:`\Lambda(\lambda) = \log \mathbb E_p e^{\lambda r} = \log Z(\lambda)` — the cumulant generating
  function of the reward under p;
* :math:`\varphi_\lambda = p\,e^{\lambda r}/Z(\lambda)` — the exponentially *tilted* policy, with
  :math:`\mathbb E_{\varphi_\lambda} r = \Lambda'(\lambda)` and
  :math:`\mathrm{KL}(\varphi_\lambda\|p) = \lambda\Lambda'(\lambda) - \Lambda(\lambda)`;
* :math:`\beta = 1/\lambda` — the KL-penalty coefficient; :math:`\Delta` — a KL budget;
* :math:`N` — the number of best-of-N samples; :math:`F` — the reward CDF under p;
* :math:`f` — an f-divergence generator (:class:`divjax.divergences.FGenerator`) with
  :math:`D_f(P\|Q) = \mathbb E_Q f(P/Q)`; in f-DPO / f-DPG the ratio is
  :math:`u = \pi/\pi_\mathrm{ref}` (policy over reference), so divjax's ``KL`` generator
  (:math:`u\log u`) is what those papers call *reverse* KL and ``REVERSE_KL`` (:math:`-\log u`) their
  *forward* KL (:func:`fdpo_generator` maps their names).

What is here:

* :func:`tilt`, :func:`solve_kl_budget`, :func:`solve_expected_reward`, :func:`kl_to_tilted`,
  :func:`tilted_rate_function` — the KL-constrained optimum
  :math:`\varphi_\Delta = \arg\max\{\mathbb E_\varphi r : \mathrm{KL}(\varphi\|p)\le\Delta\}
  = \varphi_{\lambda(\Delta)}` and its large-deviation rate (Yang et al. 2024);
* :func:`best_of_n`, :func:`best_of_n_kl_bound`, :func:`best_of_n_win_rate_bound` — the exact law of
  best-of-N on a discrete space, :math:`F(r_y)^N - F(r_y^-)^N`, and the bounds
  :math:`\mathrm{KL}\le\log N - (N-1)/N`, win rate :math:`\le N/(N+1)` (Beirami et al. 2024);
* :func:`kl_regularized_objective`, :func:`kl_regularized_optimum` —
  :math:`J(\pi) = \mathbb E_\pi r - \beta\,\mathrm{KL}(\pi\|p) = \beta\log Z - \beta\,\mathrm{KL}(\pi\|p^*)`
  with :math:`p^* = \varphi_{1/\beta}` (Korbak, Perez & Buckley 2022);
* :func:`fdpo_generator`, :func:`fdpo_reward`, :func:`fdpo_policy`, :func:`fdpo_loss` — the f-DPO
  reward↔policy maps :math:`r = \beta f'(\pi^*/\pi_\mathrm{ref}) + c` and
  :math:`\pi^* = \pi_\mathrm{ref}\,(f')^{-1}((r-c)/\beta)`, and the pairwise loss (Wang et al. 2024);
* :func:`f_penalty_per_sample`, :func:`k3_per_sample` — DPH-RL's per-token Monte-Carlo divergence
  penalties from samples of the initial policy (Li et al. 2025);
* :func:`fdpg_gradient`, :func:`fdpg_surrogate_loss` — the f-DPG gradient
  :math:`\nabla_\theta D_f(\pi_\theta\|p) = \mathbb E_{\pi_\theta}[f'(\pi_\theta/p)\nabla_\theta\log\pi_\theta]`
  exactly for softmax logits and as a REINFORCE surrogate (Go et al. 2023).

Every function is pure and works under ``jit`` and ``vmap``; the solvers run a fixed number of
safeguarded Newton steps (``lax.fori_loop``) after a ``lax.while_loop`` bracket, and their outputs are
differentiable with respect to the problem data by the implicit-function theorem. Everything is in log
space and nats; float32 by default, float64 under ``jax.enable_x64(True)``. The derivations, and
how each identity is checked, are on :doc:`/theory/alignment`.

References:
  * Yang, Salamatian, Sun, Suresh & Beirami, *Asymptotics of language model alignment*, ISIT 2024,
    arXiv:2404.01730.
  * Beirami, Agarwal, Berant, D'Amour, Eisenstein, Nagpal & Suresh, *Theoretical guarantees on the
    best-of-n alignment policy*, arXiv:2401.01879.
  * Korbak, Perez & Buckley, *RL with KL penalties is better viewed as Bayesian inference*,
    Findings of EMNLP 2022, arXiv:2205.11275.
  * Wang, Jiang, Yang, Liu & Chen, *Beyond reverse KL: generalizing direct preference optimization
    with diverse divergence constraints*, ICLR 2024, arXiv:2309.16240.
  * Go, Korbak, Kruszewski, Rozen, Ryu & Dymetman, *Aligning language models with preferences
    through f-divergence minimization*, ICML 2023, arXiv:2302.08215.
  * Rafailov, Sharma, Mitchell, Ermon, Manning & Finn, *Direct preference optimization*,
    NeurIPS 2023, arXiv:2305.18290.
  * Li et al., *The choice of divergence: a neglected key to mitigating diversity collapse in
    reinforcement learning with verifiable reward*, arXiv:2509.07430 (DPH-RL).

Examples:
  On a fair coin with reward = outcome, best-of-2 picks heads with probability 1 − ¼ = ¾, which is
  also the tilt with λ = log 3; both lie below the best-of-N bound log 2 − ½:

  >>> import math
  >>> import jax.numpy as jnp
  >>> from divjax import alignment
  >>> ref, reward = jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0])
  >>> bon, phi = alignment.best_of_n(ref, reward, n=2), alignment.tilt(ref, reward, math.log(3.0))
  >>> print(f"{float(bon.kl):.4f} {float(phi.kl):.4f} {float(alignment.best_of_n_kl_bound(2)):.4f}")
  0.1308 0.1308 0.1931
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _roots, _validate
from divjax import divergences as dv
from divjax.divergences import FGenerator

__all__ = [
    "Tilt",
    "tilt",
    "KLBudgetSolution",
    "solve_kl_budget",
    "solve_expected_reward",
    "kl_to_tilted",
    "tilted_rate_function",
    "BestOfN",
    "best_of_n",
    "best_of_n_kl_bound",
    "best_of_n_win_rate_bound",
    "kl_regularized_objective",
    "KLRegularizedOptimum",
    "kl_regularized_optimum",
    "fdpo_generator",
    "fdpo_reward",
    "FDPOPolicy",
    "fdpo_policy",
    "fdpo_loss",
    "fdpg_gradient",
    "fdpg_surrogate_loss",
    "f_penalty_per_sample",
    "k3_per_sample",
]

Array = jax.Array
ArrayLike = Any

_LOG2 = 0.6931471805599453
# Bracket expansion: at most this many doublings of λ (2^120 ≈ 1e36 fits float32).
_MAX_DOUBLINGS = 120


# ---------------------------------------------------------------------------------------------------
# Input handling.


def _problem(ref_logits: ArrayLike, reward: ArrayLike) -> tuple[Array, Array]:
  """Normalised reference log-probabilities and the reward, both ``[n]``, validated when concrete."""
  _validate.ndim("ref_logits", ref_logits, 1)
  _validate.ndim("reward", reward, 1)
  _validate.same_shape("ref_logits", ref_logits, "reward", reward)
  reward = _validate.finite("reward", reward)
  lp = dv.normalized_log_probs(ref_logits, logits=True, name="ref_logits")
  r = jnp.asarray(reward, dtype=lp.dtype)
  return lp, r


def _scalar(name: str, x: ArrayLike) -> None:
  if np.ndim(x) != 0:
    raise ValueError(f"{name} must be a scalar, got shape {np.shape(x)}.")


def _support_max(lp: Array, r: Array) -> Array:
  """max of r over the support of p."""
  return jnp.max(jnp.where(lp > -jnp.inf, r, -jnp.inf))


def _support_min(lp: Array, r: Array) -> Array:
  return jnp.min(jnp.where(lp > -jnp.inf, r, jnp.inf))


def _mean_var(log_probs: Array, r: Array) -> tuple[Array, Array]:
  w = jnp.exp(log_probs)
  mean = jnp.sum(w * r)
  # Categories of zero weight contribute exactly 0, even where (r − mean)² overflows (no 0·inf).
  d = jnp.where(w > 0, r - mean, 0.0)
  return mean, jnp.sum(w * d**2)


# ---------------------------------------------------------------------------------------------------
# Tilted policies.


class Tilt(NamedTuple):
  r"""The tilted policy φ_λ = p·exp(λr)/Z(λ) and its moments.

  Attributes:
    lam: the tilt λ (``+inf`` for the limit: p conditioned on the reward's argmax).
    log_probs: :math:`\log\varphi_\lambda`, ``[n]`` (normalised; ``-inf`` off the support).
    log_partition: :math:`\Lambda(\lambda) = \log\sum_y p(y)e^{\lambda r(y)}` (``+inf`` at λ = ∞ when
      max r > 0).
    expected_reward: :math:`\Lambda'(\lambda) = \mathbb E_{\varphi_\lambda} r`.
    reward_variance: :math:`\Lambda''(\lambda) = \mathrm{Var}_{\varphi_\lambda} r`.
    kl: :math:`\mathrm{KL}(\varphi_\lambda\|p) = \lambda\Lambda'(\lambda) - \Lambda(\lambda)`, computed
      cancellation-free by :func:`divjax.divergences.kl_divergence`.

  Examples:
    Tilting a fair coin (reward 0 or 1) by λ = log 3 gives Λ(λ) = log((1 + 3)/2) = log 2 and a
    Bernoulli(¾) policy with variance 3/16:

    >>> import math
    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> t = alignment.tilt(jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]), math.log(3.0))
    >>> print(f"{float(t.log_partition):.4f} {float(t.reward_variance):.4f}")
    0.6931 0.1875
  """

  lam: Array
  log_probs: Array
  log_partition: Array
  expected_reward: Array
  reward_variance: Array
  kl: Array


@jax.jit
@_validate.kernel
def _tilt(lp: Array, r: Array, lam: Array) -> Tilt:
  lam = jnp.asarray(lam, dtype=lp.dtype)
  support = lp > -jnp.inf
  r_max = _support_max(lp, r)
  top = jnp.isposinf(lam)
  lam_safe = jnp.where(jnp.isfinite(lam), lam, 0.0)
  scores = jnp.where(top, jnp.where(r == r_max, 0.0, -jnp.inf), lam_safe * r)
  logits = jnp.where(support, lp + scores, -jnp.inf)
  log_z = jax.nn.logsumexp(logits)
  log_phi = jnp.where(logits > -jnp.inf, logits - log_z, -jnp.inf)
  log_partition = jnp.where(top, jnp.where(r_max > 0, jnp.inf, jnp.where(r_max < 0, -jnp.inf, log_z)),
                            log_z)
  mean, var = _mean_var(log_phi, r)
  kl = dv.kl_divergence(log_phi, lp, logits=True)
  # A NaN λ (e.g. an infeasible solve under jit) makes every output NaN rather than a silent number.
  bad = jnp.isnan(lam)
  nan_if_bad = lambda x: jnp.where(bad, jnp.nan, x)
  return Tilt(lam, nan_if_bad(log_phi), nan_if_bad(log_partition), nan_if_bad(mean), nan_if_bad(var),
              nan_if_bad(kl))


@_validate.guarded
def tilt(ref_logits: ArrayLike, reward: ArrayLike, lam: ArrayLike) -> Tilt:
  r"""The exponentially tilted policy φ_λ ∝ p·exp(λr).

  .. math::  \varphi_\lambda(y) = \frac{p(y)\,e^{\lambda r(y)}}{Z(\lambda)},\qquad
             \mathrm{KL}(\varphi_\lambda\|p) = \lambda\Lambda'(\lambda) - \Lambda(\lambda),\qquad
             \Lambda(\lambda) = \log Z(\lambda).

  For λ ≥ 0 this is the solution of KL-regularised RL with coefficient β = 1/λ, and of the
  KL-constrained problem whose budget is its KL (see :func:`solve_kl_budget`). Any real λ is accepted
  (λ < 0 tilts towards low reward); ``lam = +inf`` gives the limit, p conditioned on the argmax set.

  Args:
    ref_logits: logits of the reference policy p, shape ``[n]``.
    reward: the reward r, shape ``[n]``, finite.
    lam: the tilt λ, a scalar (may be traced; differentiable).

  Returns:
    A :class:`Tilt`.

  Raises:
    ValueError: on concrete inputs of the wrong shape, a non-finite reward, or invalid logits.

  References:
    Yang, Salamatian, Sun, Suresh & Beirami, *Asymptotics of language model alignment*,
    arXiv:2404.01730.
    Csiszár, *I-divergence geometry of probability distributions and minimization problems*,
    Ann. Probab. 3, 1975.

  Examples:
    A fair coin tilted by λ = log 3 becomes (¼, ¾), with KL = ¾ log(3/2) + ¼ log(1/2):

    >>> import math
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import alignment
    >>> t = alignment.tilt(jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]), math.log(3.0))
    >>> print(np.round(np.exp(np.asarray(t.log_probs)), 4), f"{float(t.kl):.4f}")
    [0.25 0.75] 0.1308
  """
  _scalar("lam", lam)
  lam = _validate.not_nan("lam", lam)
  if _validate.is_concrete(lam) and float(lam) == -math.inf:
    raise ValueError("lam must be finite or +inf, got -inf.")
  lp, r = _problem(ref_logits, reward)
  return _tilt(lp, r, lam)


class KLBudgetSolution(NamedTuple):
  r"""The KL-constrained optimum φ_Δ = φ_λ(Δ).

  Attributes:
    lam: λ(Δ) ≥ 0, ``+inf`` when Δ ≥ Δ_max (see :func:`solve_kl_budget`).
    tilt: the :class:`Tilt` at ``lam``.
    max_kl: :math:`\Delta_\max = -\log p(\arg\max r)`, the largest KL any policy on supp p can reach
      while maximising reward (the KL of the limit λ → ∞).
    kl_error: :math:`|\mathrm{KL}(\varphi_\lambda\|p) - \Delta|` (0 when the budget is not active).

  Examples:
    On a fair coin Δ_max = log 2; a budget of 1 nat exceeds it, so the optimum is the argmax:

    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> sol = alignment.solve_kl_budget(jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]), 1.0)
    >>> print(f"{float(sol.max_kl):.4f}", float(sol.lam), f"{float(sol.tilt.expected_reward):.4f}")
    0.6931 inf 1.0000
  """

  lam: Array
  tilt: Tilt
  max_kl: Array
  kl_error: Array


@_validate.guarded
def solve_kl_budget(ref_logits: ArrayLike, reward: ArrayLike, delta: ArrayLike, *,
                    num_iters: int = 60) -> KLBudgetSolution:
  r"""Solves max_φ E_φ[r] subject to KL(φ‖p) ≤ Δ.

  The optimum is the tilted policy :math:`\varphi_{\lambda}` with λ ≥ 0 the root of

  .. math::  g(\lambda) = \mathrm{KL}(\varphi_\lambda\|p) - \Delta
             = \lambda\Lambda'(\lambda) - \Lambda(\lambda) - \Delta,
             \qquad g'(\lambda) = \lambda\,\Lambda''(\lambda) \ge 0,

  found by doubling λ from :math:`\sqrt{2\Delta/\mathrm{Var}_p r}` (the small-Δ solution) until the KL
  exceeds Δ, then ``num_iters`` Newton steps safeguarded by bisection. KL(φ_λ‖p) increases to
  :math:`\Delta_\max = -\log p(\{y: r(y) = \max r\})`; for Δ ≥ Δ_max the constraint is inactive, the
  optimum is p conditioned on the argmax set and ``lam = +inf``.

  Gradients of ``lam`` (and so of the returned tilt) with respect to ``delta``, ``reward`` and
  ``ref_logits`` are those of the exact root (implicit-function theorem,
  :math:`\partial\lambda/\partial\Delta = 1/(\lambda\Lambda''(\lambda))`); at Δ = 0 the derivative is
  infinite and is returned as 0.

  Args:
    ref_logits: logits of the reference policy p, shape ``[n]``.
    reward: the reward, shape ``[n]``.
    delta: the KL budget Δ ≥ 0 in nats, a scalar.
    num_iters: Newton/bisection steps after bracketing (60 reaches float64 round-off).

  Returns:
    A :class:`KLBudgetSolution`.

  Raises:
    ValueError: on concrete invalid inputs (negative or non-scalar ``delta``, bad logits or reward).

  References:
    Yang, Salamatian, Sun, Suresh & Beirami, *Asymptotics of language model alignment*,
    arXiv:2404.01730 (the closed form of the KL-constrained optimum).

  Examples:
    The budget Δ = KL(Bernoulli(¾)‖Bernoulli(½)) on a fair coin is spent by the tilt with
    λ = logit(¾) = log 3:

    >>> import math
    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> delta = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    >>> sol = alignment.solve_kl_budget(jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]), delta)
    >>> print(f"{float(sol.lam):.4f} {math.log(3.0):.4f}")
    1.0986 1.0986
  """
  _scalar("delta", delta)
  delta = _validate.nonnegative("delta", delta)
  num_iters = _validate.integer("num_iters", num_iters, minimum=1)
  lp, r = _problem(ref_logits, reward)
  return _solve_kl_budget(lp, r, jnp.asarray(delta, dtype=lp.dtype), num_iters)


@functools.partial(jax.jit, static_argnames=("num_iters",))
@_validate.kernel
def _solve_kl_budget(lp: Array, r: Array, delta: Array, num_iters: int) -> KLBudgetSolution:
  r_max = _support_max(lp, r)
  max_kl = -jax.nn.logsumexp(jnp.where(r == r_max, lp, -jnp.inf))
  attainable = delta < max_kl
  ds = jax.lax.stop_gradient(delta)
  lps, rs = jax.lax.stop_gradient(lp), jax.lax.stop_gradient(r)

  def g(lam):
    t = _tilt(lps, rs, lam)
    return t.kl - ds, lam * t.reward_variance

  _, var0 = _mean_var(lps, rs)
  lam0 = jnp.sqrt(2.0 * ds / jnp.where(var0 > 0, var0, 1.0))

  def expand(carry):
    lo, hi, k = carry
    return hi, 2.0 * hi, k + 1

  def keep_expanding(carry):
    lo, hi, k = carry
    return attainable & (g(hi)[0] < 0) & (k < _MAX_DOUBLINGS)

  lo, hi, _ = jax.lax.while_loop(keep_expanding, expand, (jnp.zeros_like(lam0), lam0, 0))
  lam = _roots.increasing_root(g, lo, hi, x0=hi, num_iters=num_iters)
  lam = jnp.where(attainable, lam, jnp.inf)
  t_star = _tilt(lps, rs, lam)
  lam = _roots.implicit_root(lam, lambda l: _tilt(lp, r, l).kl - delta, lam * t_star.reward_variance)
  t = _tilt(lp, r, lam)
  kl_error = jnp.where(attainable, jnp.abs(t.kl - delta), 0.0)
  return KLBudgetSolution(lam, t, max_kl, kl_error)


@_validate.guarded
def solve_expected_reward(ref_logits: ArrayLike, reward: ArrayLike, target: ArrayLike, *,
                          num_iters: int = 60) -> Tilt:
  r"""The tilt whose expected reward is ``target``: the root λ of Λ′(λ) = x.

  :math:`\Lambda'` increases from :math:`\min r` to :math:`\max r` (over supp p), so for every x in
  that open interval there is one real root; ``x = max r`` gives λ = +inf. The root is bracketed by
  doubling and polished by safeguarded Newton steps; its gradient is the implicit one,
  :math:`\partial\lambda/\partial x = 1/\Lambda''(\lambda)`.

  Args:
    ref_logits: logits of p, shape ``[n]``.
    reward: the reward, shape ``[n]``.
    target: the expected reward x, a scalar in ``(min r, max r]``.
    num_iters: Newton/bisection steps.

  Returns:
    The :class:`Tilt` at the root (the information projection of p onto
    :math:`\{q: \mathbb E_q r = x\}`).

  Raises:
    ValueError: if a concrete ``target`` lies outside ``(min r, max r]`` over the support of p (under
      ``jit`` the check cannot run and such a target gives NaN).

  References:
    Csiszár, *I-divergence geometry of probability distributions and minimization problems*,
    Ann. Probab. 3, 1975.

  Examples:
    A fair coin reaches expected reward ¾ under the tilt λ = logit(¾) = log 3:

    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> t = alignment.solve_expected_reward(jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]), 0.75)
    >>> print(f"{float(t.lam):.4f}")
    1.0986
  """
  num_iters = _validate.integer("num_iters", num_iters, minimum=1)
  lp, r = _problem(ref_logits, reward)
  x = _reward_level("target", target, lp, r)
  return _solve_expected_reward(lp, r, x, num_iters)


def _reward_level(name: str, x: ArrayLike, lp: Array, r: Array) -> Array:
  """``x`` must be a scalar in (min r, max r] over the support of p (or the single reward level)."""
  _scalar(name, x)
  x = jnp.asarray(_validate.finite(name, x), dtype=lp.dtype)

  def inside(x, lp, r):
    r_max, r_min = _support_max(lp, r), _support_min(lp, r)
    return ((r_min < x) & (x <= r_max)) | ((r_min == r_max) & (x == r_max))

  if _validate.is_concrete((x, lp, r)):
    if not bool(inside(x, lp, r)):
      r_max, r_min = _support_max(lp, r), _support_min(lp, r)
      raise ValueError(f"{name} must lie in (min r, max r] = ({float(r_min):g}, {float(r_max):g}] over "
                       f"the support of the reference policy, got {float(x):g}.")
    return x
  return _validate.traced_check(
      x, lambda v: inside(v, jax.lax.stop_gradient(lp), jax.lax.stop_gradient(r)),
      f"{name} must lie in (min r, max r] over the support of the reference policy.")


@functools.partial(jax.jit, static_argnames=("num_iters",))
@_validate.kernel
def _solve_expected_reward(lp: Array, r: Array, x: Array, num_iters: int) -> Tilt:
  r_max, r_min = _support_max(lp, r), _support_min(lp, r)
  xs = jax.lax.stop_gradient(x)
  lps, rs = jax.lax.stop_gradient(lp), jax.lax.stop_gradient(r)

  def g(lam):
    t = _tilt(lps, rs, lam)
    return t.expected_reward - xs, t.reward_variance

  mean0, var0 = _mean_var(lps, rs)
  h0 = 1.0 / jnp.sqrt(jnp.where(var0 > 0, var0, 1.0))
  interior = (xs < r_max) & (xs > r_min)

  def expand_up(c):
    lo, hi, k = c
    return hi, 2.0 * hi, k + 1

  def expand_down(c):
    lo, hi, k = c
    return 2.0 * lo, lo, k + 1

  up = interior & (xs > mean0)
  lo, hi, _ = jax.lax.while_loop(lambda c: up & (g(c[1])[0] < 0) & (c[2] < _MAX_DOUBLINGS), expand_up,
                                 (jnp.zeros_like(h0), h0, 0))
  lo2, hi2, _ = jax.lax.while_loop(
      lambda c: interior & ~up & (g(c[0])[0] > 0) & (c[2] < _MAX_DOUBLINGS), expand_down,
      (-h0, jnp.zeros_like(h0), 0))
  lo, hi = jnp.where(up, lo, lo2), jnp.where(up, hi, hi2)
  lam = _roots.increasing_root(g, lo, hi, num_iters=num_iters)
  # Out of range (only reachable under jit, where the check above cannot run): NaN, not a guess.
  lam = jnp.where(interior, lam, jnp.where(xs == r_max, jnp.inf, jnp.nan))
  t_star = _tilt(lps, rs, lam)
  lam = _roots.implicit_root(lam, lambda l: _tilt(lp, r, l).expected_reward - x, t_star.reward_variance)
  return _tilt(lp, r, lam)


@_validate.guarded
def kl_to_tilted(policy_logits: ArrayLike, ref_logits: ArrayLike, reward: ArrayLike,
                 lam: ArrayLike) -> Array:
  r"""KL from a policy q to the tilted policy, by the exact identity of Yang et al.

  .. math::  \mathrm{KL}(q\|\varphi_\lambda) = \mathrm{KL}(q\|p) - \lambda\,\mathbb E_q r + \Lambda(\lambda).

  Consequence: if :math:`\mathrm{KL}(q\|p) \le \Delta = \mathrm{KL}(\varphi_\lambda\|p)` and
  :math:`\mathbb E_q r \ge \mathbb E_{\varphi_\lambda} r - \varepsilon` then
  :math:`\mathrm{KL}(q\|\varphi_\lambda) \le \lambda\varepsilon`: any policy with a comparable
  KL–reward trade-off is close to the tilted one.

  Args:
    policy_logits: logits of q, shape ``[n]``.
    ref_logits: logits of p, shape ``[n]``.
    reward: the reward, shape ``[n]``.
    lam: the tilt λ, a finite scalar.

  Returns:
    :math:`\mathrm{KL}(q\|\varphi_\lambda)` in nats (``+inf`` if q leaves the support of p).

  References:
    Yang, Salamatian, Sun, Suresh & Beirami, *Asymptotics of language model alignment*,
    arXiv:2404.01730.

  Examples:
    The identity against the direct KL to the tilted coin φ = (¼, ¾), for q = (0.4, 0.6):

    >>> import math
    >>> import jax.numpy as jnp
    >>> from divjax import alignment, divergences
    >>> ref, reward, q = jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]), jnp.log(jnp.array([0.4, 0.6]))
    >>> direct = divergences.kl_divergence(jnp.array([0.4, 0.6]), jnp.array([0.25, 0.75]))
    >>> print(f"{float(alignment.kl_to_tilted(q, ref, reward, math.log(3.0))):.4f} {float(direct):.4f}")
    0.0541 0.0541
  """
  _scalar("lam", lam)
  lam = _validate.finite("lam", lam)
  lp, r = _problem(ref_logits, reward)
  _validate.ndim("policy_logits", policy_logits, 1)
  _validate.same_shape("policy_logits", policy_logits, "reward", reward)
  lq = dv.normalized_log_probs(policy_logits, logits=True, name="policy_logits")
  t = _tilt(lp, r, lam)
  expected = jnp.sum(jnp.exp(lq) * r)
  return dv.kl_divergence(lq, lp, logits=True) - t.lam * expected + t.log_partition


@_validate.guarded
def tilted_rate_function(ref_logits: ArrayLike, reward: ArrayLike, x: ArrayLike, *,
                         lam: ArrayLike = 0.0, num_iters: int = 60) -> Array:
  r"""Cramér rate of the per-token reward of the memoryless tilted source.

  With tokens drawn i.i.d. from :math:`\varphi_\lambda` and :math:`R_L = \frac1L\sum_{i\le L} r(y_i)`,
  :math:`P(R_L \approx x) = e^{-L I_\lambda(x) + o(L)}` with

  .. math::  I_\lambda(x) = \Lambda^*(x) - \lambda x + \Lambda(\lambda)
             = \min\{\mathrm{KL}(q\|\varphi_\lambda) : \mathbb E_q r = x\}
             = \mathrm{KL}(\varphi_{t(x)}\|\varphi_\lambda),\quad \Lambda'(t(x)) = x,

  evaluated in the last (cancellation-free) form. ``lam = 0`` is the rate under the reference itself.

  Args:
    ref_logits: logits of the per-token reference p, shape ``[n]``.
    reward: the per-token reward, shape ``[n]``.
    x: the per-token reward level, a scalar in ``(min r, max r]``.
    lam: the tilt λ of the source (finite).
    num_iters: Newton steps of the inner :func:`solve_expected_reward`.

  Returns:
    :math:`I_\lambda(x) \ge 0`, zero at :math:`x = \Lambda'(\lambda)`.

  References:
    Yang, Salamatian, Sun, Suresh & Beirami, *Asymptotics of language model alignment*,
    arXiv:2404.01730 (the LDP of the aligned model's reward).
    Dembo & Zeitouni, *Large Deviations Techniques and Applications*, 2nd ed., 1998, Thm 2.2.3.

  Examples:
    For fair-coin tokens the rate of a fraction x = ¾ of ones is KL(Bernoulli(¾)‖Bernoulli(½));
    under the tilt λ = log 3 (mean ¾) it is 0:

    >>> import math
    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> ref, reward = jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0])
    >>> for lam in (0.0, math.log(3.0)):
    ...   print(f"{float(alignment.tilted_rate_function(ref, reward, 0.75, lam=lam)):.4f}")
    0.1308
    0.0000
  """
  _scalar("lam", lam)
  lam = _validate.finite("lam", lam)
  lp, r = _problem(ref_logits, reward)
  x = _reward_level("x", x, lp, r)
  at_x = solve_expected_reward(lp, r, x, num_iters=num_iters)
  source = _tilt(lp, r, lam)
  return dv.kl_divergence(at_x.log_probs, source.log_probs, logits=True)


# ---------------------------------------------------------------------------------------------------
# Best-of-N.


def _log_n(n: ArrayLike | None, log_n: ArrayLike | None, dtype: Any) -> Array:
  """log N from exactly one of ``n`` (>= 1) and ``log_n`` (>= 0), validated when concrete."""
  if (n is None) == (log_n is None):
    raise ValueError("pass exactly one of n and log_n.")
  if n is not None:
    n = _validate.interval("n", n, lower=1.0)
    return jnp.log(jnp.asarray(n, dtype=dtype))
  log_n = _validate.nonnegative("log_n", log_n)
  return jnp.asarray(log_n, dtype=dtype)


class BestOfN(NamedTuple):
  r"""The exact law of best-of-N and its summaries.

  Attributes:
    log_probs: :math:`\log\pi_\mathrm{BoN}`, ``[n]``.
    kl: :math:`\mathrm{KL}(\pi_\mathrm{BoN}\|p)`.
    expected_reward: :math:`\mathbb E_{\pi_\mathrm{BoN}} r`.
    win_rate: :math:`P(r(Y_\mathrm{BoN}) > r(Y)) + \tfrac12 P(r(Y_\mathrm{BoN}) = r(Y))`, Y ~ p.

  Examples:
    Best-of-2 on a fair coin wins against a fresh toss with probability ¾·¾ + ¼·¼ = 5/8, below the
    continuous-reward value N/(N+1) = 2/3 because of ties:

    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> bon = alignment.best_of_n(jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]), n=2)
    >>> print(f"{float(bon.win_rate):.4f} {float(bon.expected_reward):.4f}")
    0.6250 0.7500
  """

  log_probs: Array
  kl: Array
  expected_reward: Array
  win_rate: Array


@_validate.guarded
def best_of_n(ref_logits: ArrayLike, reward: ArrayLike, *, n: ArrayLike | None = None,
              log_n: ArrayLike | None = None) -> BestOfN:
  r"""The exact law of best-of-N sampling on a finite space.

  Draw :math:`Y_1..Y_N` i.i.d. from p and return the one with the highest reward (ties broken
  uniformly at random). With :math:`F(s) = P_p(r \le s)` and :math:`F(s^-) = P_p(r < s)`,

  .. math::  \pi_\mathrm{BoN}(y) = \frac{p(y)}{p(r = r_y)}\,\big[F(r_y)^N - F(r_y^-)^N\big],

  i.e. the reward level has the law of the maximum and within a level the outcome is p-distributed
  (with distinct rewards the prefactor is 1). Evaluated in log space with
  :math:`F^N = \exp(-e^{\log N + \log(-\log F)})`, so N may be astronomically large (pass ``log_n``;
  e.g. :math:`N = e^{2000}`, whose relevant tails :math:`1-F \approx 1/N` lie far below the smallest
  float) or non-integer (the same formula, the law of the maximum of a continuous N). The upper tail
  :math:`1 - F` and the lower :math:`F^-` are accumulated separately as log-cumulative sums, so tiny
  tails keep their relative precision.

  Args:
    ref_logits: logits of p, shape ``[n_outcomes]``.
    reward: the reward, shape ``[n_outcomes]``.
    n: the number of samples N ≥ 1 (scalar), or
    log_n: log N ≥ 0 instead (exactly one of the two).

  Returns:
    A :class:`BestOfN`.

  Raises:
    ValueError: if both or neither of ``n`` and ``log_n`` are given, or a concrete N < 1.

  References:
    Beirami, Agarwal, Berant, D'Amour, Eisenstein, Nagpal & Suresh, *Theoretical guarantees on the
    best-of-n alignment policy*, arXiv:2401.01879.

  Examples:
    Best-of-2 on a fair coin (reward 0 or 1) returns 1 unless both draws are 0, so its law is
    (¼, ¾); with N = e^1000 (``log_n``) it is the argmax:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import alignment
    >>> ref, reward = jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0])
    >>> for bon in (alignment.best_of_n(ref, reward, n=2), alignment.best_of_n(ref, reward, log_n=1000.0)):
    ...   print(np.round(np.exp(np.asarray(bon.log_probs)), 4))
    [0.25 0.75]
    [0. 1.]
  """
  _scalar("n" if log_n is None else "log_n", n if log_n is None else log_n)
  lp, r = _problem(ref_logits, reward)
  log_n = _log_n(n, log_n, lp.dtype)
  return _best_of_n(lp, r, log_n)


@jax.jit
@_validate.kernel
def _best_of_n(lp: Array, r: Array, log_n: Array) -> BestOfN:
  size = r.shape[0]
  support = lp > -jnp.inf
  r_key = jnp.where(support, r, -jnp.inf)  # zero-mass outcomes sort first and carry no mass
  order = jnp.argsort(r_key)
  rs = r_key[order]
  lp_sorted = lp[order]
  new_level = jnp.concatenate([jnp.ones((1,), bool), rs[1:] != rs[:-1]])
  level = jnp.cumsum(new_level) - 1
  # Everything in log space: the tails that matter for large N (≈ 1/N) may lie far below the
  # smallest float. Every edge case (empty level, nothing below, nothing above) goes through a
  # double where, so gradients stay finite.
  seg_max = jax.lax.stop_gradient(jax.ops.segment_max(lp_sorted, level, num_segments=size))
  seg_max = jnp.where(jnp.isfinite(seg_max), seg_max, 0.0)
  ss = jax.ops.segment_sum(jnp.exp(lp_sorted - seg_max[level]), level, num_segments=size)
  has_mass = ss > 0
  lm = jnp.where(has_mass, seg_max + jnp.log(jnp.where(has_mass, ss, 1.0)), -jnp.inf)  # log p(level)
  very_negative = jnp.finfo(lp.dtype).min / 4
  lm_fin = jnp.where(has_mass, lm, very_negative)
  lf = jax.lax.cumlogsumexp(lm_fin)                                       # log F(s)
  lb = jnp.concatenate([jnp.full((1,), very_negative, lp.dtype), lf[:-1]])  # log F(s⁻)
  la = jnp.concatenate([jax.lax.cumlogsumexp(lm_fin, reverse=True)[1:],
                        jnp.full((1,), very_negative, lp.dtype)])          # log(1 − F(s))
  la = jnp.minimum(la, 0.0)
  # log(−log F): ≈ la + e^{la}/2 for a tiny upper tail; log(−log1p(−e^{la})) while F >= ½; log(−log F)
  # from the lower sum when F < ½ (accurate even when the upper tail rounds to 1).
  small = la < -20.0
  upper = ~small & (la <= -_LOG2)
  lower = ~small & ~upper & has_mass
  la_up = jnp.where(upper, la, -1.0)
  lf_low = jnp.minimum(jnp.where(lower, lf, -1.0), -_LOG2)
  log_neg_log_f = jnp.where(small, la + 0.5 * jnp.exp(jnp.where(small, la, -30.0)),
                            jnp.where(upper, jnp.log(-jnp.log1p(-jnp.exp(la_up))),
                                      jnp.log(-lf_low)))
  # Exponents are capped a little below the overflow point: e^{cap} is large enough that e^{-e^{cap}}
  # is exactly 0, and nothing overflows (so gradients stay finite).
  cap = float(np.log(jnp.finfo(lp.dtype).max)) - 4.0
  n_log_f = -jnp.exp(jnp.minimum(log_n + log_neg_log_f, cap))      # N log F (0 at the top)
  # log(N log(F/F⁻)) = log N + log softplus(d), d = log p(level) − log F(s⁻).
  d = jnp.where(has_mass, lm_fin - lb, 0.0)
  tiny = d < -20.0
  log_gap = jnp.where(tiny, d - 0.5 * jnp.exp(jnp.where(tiny, d, -30.0)),
                      jnp.log(jax.nn.softplus(jnp.where(tiny, 0.0, d))))
  n_gap = jnp.exp(jnp.minimum(log_n + log_gap, cap))                 # huge at the bottom
  # log[F^N − F⁻^N] = N log F + log(1 − e^{−N log(F/F⁻)}).
  log_level = jnp.where(has_mass,
                        n_log_f + jnp.log(-jnp.expm1(-jnp.where(has_mass, n_gap, 1.0))), -jnp.inf)
  lm_safe = jnp.where(has_mass, lm, 0.0)
  log_bon_sorted = jnp.where(lp_sorted > -jnp.inf,
                             lp_sorted - lm_safe[level] + log_level[level], -jnp.inf)
  log_bon = jnp.zeros_like(lp).at[order].set(log_bon_sorted)
  bon = jnp.exp(log_bon)
  # Win rate against Y ~ p: E_BoN[F(r⁻) + ½ p(r = r_Y)].
  win_sorted = jnp.exp(lb[level]) + 0.5 * jnp.exp(lm_fin[level])
  win = jnp.sum(bon[order] * win_sorted)
  kl = dv.kl_divergence(log_bon, lp, logits=True)
  return BestOfN(log_bon, kl, jnp.sum(bon * r), win)


@_validate.guarded
def best_of_n_kl_bound(n: ArrayLike | None = None, *, log_n: ArrayLike | None = None) -> Array:
  r"""The best-of-N KL bound KL(π_BoN‖p) ≤ log N − (N − 1)/N.

  Equality holds for a continuous reward (no atoms): :math:`U = F(r(Y))\sim\mathrm{Beta}(N, 1)` and
  :math:`\mathbb E\log(NU^{N-1}) = \log N - (N-1)/N`. The folklore value :math:`\log N - (N-1)/N` was
  long quoted as exact; Beirami et al. show it is only an upper bound on finite spaces.

  Args:
    n: N ≥ 1 (array), or
    log_n: log N (for N beyond the float range; exactly one of the two).

  Returns:
    The bound in nats, elementwise.

  References:
    Beirami, Agarwal, Berant, D'Amour, Eisenstein, Nagpal & Suresh, *Theoretical guarantees on the
    best-of-n alignment policy*, arXiv:2401.01879.

  Examples:
    The bound is log N − 1 + 1/N (0 at N = 1); best-of-4 over m equally likely outcomes with
    distinct rewards approaches it as m grows:

    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> print(f"{float(alignment.best_of_n_kl_bound(4)):.4f}")
    0.6363
    >>> for m in (10, 1000):
    ...   print(f"{float(alignment.best_of_n(jnp.zeros(m), jnp.arange(m, dtype=float), n=4).kl):.4f}")
    0.6288
    0.6363
  """
  log_n = _log_n(n, log_n, jnp.result_type(float))
  # log N − 1 + 1/N, written as log N + expm1(−log N) (accurate near N = 1).
  return log_n + jnp.expm1(-log_n)


@_validate.guarded
def best_of_n_win_rate_bound(n: ArrayLike) -> Array:
  r"""The best-of-N win-rate bound N/(N + 1) (ties counted one half), tight for continuous r.

  Args:
    n: N ≥ 1, any shape.

  Returns:
    :math:`N/(N+1)`, elementwise.

  References:
    Beirami, Agarwal, Berant, D'Amour, Eisenstein, Nagpal & Suresh, *Theoretical guarantees on the
    best-of-n alignment policy*, arXiv:2401.01879.

  Examples:
    Of 5 i.i.d. continuous draws the fifth is the largest with probability 1/5, so the best of the
    other four wins with probability 4/5; 1000 distinct, equally likely rewards come close:

    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> bon = alignment.best_of_n(jnp.zeros(1000), jnp.arange(1000, dtype=float), n=4)
    >>> print(f"{float(alignment.best_of_n_win_rate_bound(4)):.4f} {float(bon.win_rate):.4f}")
    0.8000 0.8000
  """
  n = _validate.interval("n", n, lower=1.0)
  n = jnp.asarray(n, dtype=jnp.result_type(float))
  return n / (n + 1.0)


# ---------------------------------------------------------------------------------------------------
# KL-regularised RL as Bayesian inference.


@_validate.guarded
def kl_regularized_objective(policy_logits: ArrayLike, ref_logits: ArrayLike, reward: ArrayLike, *,
                             beta: ArrayLike) -> Array:
  r"""The KL-regularised RL objective J(π) = E_π[r] − β KL(π‖π₀).

  .. math::  J(\pi) = \mathbb E_\pi r - \beta\,\mathrm{KL}(\pi\|\pi_0).

  Korbak, Perez & Buckley's identity: with the Gibbs posterior
  :math:`p^* = \pi_0 e^{r/\beta}/Z` (:func:`kl_regularized_optimum`),

  .. math::  J(\pi) = \beta\log Z - \beta\,\mathrm{KL}(\pi\|p^*),

  so maximising J is variational inference of p* (prior π₀, evidence :math:`e^{r/\beta}`), with
  maximum :math:`\beta\log Z` at π = p*.

  Args:
    policy_logits: logits of π, shape ``[n]``.
    ref_logits: logits of π₀, shape ``[n]``.
    reward: the reward, shape ``[n]``.
    beta: the KL coefficient β > 0.

  Returns:
    J(π) (``-inf`` if π leaves the support of π₀). Differentiable in ``policy_logits``.

  References:
    Korbak, Perez & Buckley, *RL with KL penalties is better viewed as Bayesian inference*,
    arXiv:2205.11275.

  Examples:
    On a fair coin with reward 0 or 1 and β = 1, J(π₀) = E r = ½, and the maximum, at p*, is
    β log Z = log((1 + e)/2):

    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> ref, reward = jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0])
    >>> star = alignment.kl_regularized_optimum(ref, reward, beta=1.0).log_probs
    >>> for pi in (ref, star):
    ...   print(f"{float(alignment.kl_regularized_objective(pi, ref, reward, beta=1.0)):.4f}")
    0.5000
    0.6201
  """
  beta = _validate.positive_scalar("beta", beta)
  lp, r = _problem(ref_logits, reward)
  _validate.ndim("policy_logits", policy_logits, 1)
  _validate.same_shape("policy_logits", policy_logits, "reward", reward)
  lq = dv.normalized_log_probs(policy_logits, logits=True, name="policy_logits")
  return jnp.sum(jnp.exp(lq) * r) - beta * dv.kl_divergence(lq, lp, logits=True)


class KLRegularizedOptimum(NamedTuple):
  r"""The maximiser of J(π) = E_π[r] − β KL(π‖π₀).

  Attributes:
    log_probs: :math:`\log p^* = \log\pi_0 + r/\beta - \log Z`, ``[n]``.
    value: :math:`\max_\pi J = J(p^*) = \beta\log Z`.

  Examples:
    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> opt = alignment.kl_regularized_optimum(jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]),
    ...                                        beta=1.0)
    >>> print(f"{float(opt.value):.4f}")  # log((1 + e)/2)
    0.6201
  """

  log_probs: Array
  value: Array


@_validate.guarded
def kl_regularized_optimum(ref_logits: ArrayLike, reward: ArrayLike, *,
                           beta: ArrayLike) -> KLRegularizedOptimum:
  r"""The Gibbs posterior p* = π₀·exp(r/β)/Z and the optimal value β log Z.

  .. math::  p^* = \arg\max_\pi \mathbb E_\pi r - \beta\,\mathrm{KL}(\pi\|\pi_0) = \varphi_{1/\beta},
             \qquad Z = \sum_y \pi_0(y)e^{r(y)/\beta}.

  As β → 0, p* tends to π₀ conditioned on the argmax of r (within supp π₀): distribution collapse
  without the KL term.

  Args:
    ref_logits: logits of π₀, shape ``[n]``.
    reward: the reward, shape ``[n]``.
    beta: β > 0.

  Returns:
    A :class:`KLRegularizedOptimum`.

  References:
    Korbak, Perez & Buckley, *RL with KL penalties is better viewed as Bayesian inference*,
    arXiv:2205.11275.

  Examples:
    A fair coin with reward 0 or 1 and β = 1 gives p* = (1, e)/(1 + e):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import alignment
    >>> opt = alignment.kl_regularized_optimum(jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]),
    ...                                        beta=1.0)
    >>> print(np.round(np.exp(np.asarray(opt.log_probs)), 4))
    [0.2689 0.7311]
  """
  beta = _validate.positive_scalar("beta", beta)
  lp, r = _problem(ref_logits, reward)
  t = _tilt(lp, r, 1.0 / jnp.asarray(beta, dtype=lp.dtype))
  return KLRegularizedOptimum(t.log_probs, beta * t.log_partition)


# ---------------------------------------------------------------------------------------------------
# f-DPO.


@_validate.guarded
def fdpo_generator(divergence: str, *, alpha: ArrayLike | None = None) -> FGenerator:
  r"""The generator f of an f-DPO / f-DPG divergence named as in those papers (u = π/π_ref).

  ==================  ===========================================================================  ==========================
  name                f(u)                                                                         divjax generator
  ==================  ===========================================================================  ==========================
  ``"reverse_kl"``    :math:`u\log u` — KL(π‖π_ref), DPO                                           ``KL``
  ``"forward_kl"``    :math:`-\log u` — KL(π_ref‖π)                                                ``REVERSE_KL``
  ``"js"``            :math:`u\log u-(u+1)\log\frac{u+1}{2}` — 2·JS                                ``2 * JENSEN_SHANNON``
  ``"alpha"``         :math:`\frac{u^{1-\alpha}-(1-\alpha)u-\alpha}{\alpha(\alpha-1)}`, α ∈ (0,1)  ``alpha_generator(1 - α)``
  ==================  ===========================================================================  ==========================

  Args:
    divergence: one of the names above.
    alpha: the f-DPO α, required for ``"alpha"`` (α → 0 tends to reverse KL, α → 1 to forward KL).

  Returns:
    An :class:`~divjax.divergences.FGenerator`.

  References:
    Wang, Jiang, Yang, Liu & Chen, *Beyond reverse KL: generalizing direct preference optimization
    with diverse divergence constraints*, arXiv:2309.16240.

  Examples:
    At u = 2, reverse KL gives 2 log 2 and the α = ½ generator (√2 − 1.5)/(−¼) = 6 − 4√2:

    >>> from divjax import alignment
    >>> print(f"{float(alignment.fdpo_generator('reverse_kl').f(2.0)):.4f}")
    1.3863
    >>> print(f"{float(alignment.fdpo_generator('alpha', alpha=0.5).f(2.0)):.4f}")
    0.3431
  """
  if divergence == "reverse_kl":
    return dv.KL
  if divergence == "forward_kl":
    return dv.REVERSE_KL
  if divergence == "js":
    return 2.0 * dv.JENSEN_SHANNON
  if divergence == "alpha":
    if alpha is None:
      raise ValueError("the 'alpha' divergence needs alpha in (0, 1).")
    _scalar("alpha", alpha)
    alpha = _validate.interval("alpha", alpha, lower=0.0, upper=1.0, lower_open=True,
                               upper_open=True)
    return dv.alpha_generator(1.0 - jnp.asarray(alpha, dtype=jnp.result_type(float)))
  raise ValueError(f"divergence must be one of 'reverse_kl', 'forward_kl', 'js', 'alpha'; got "
                   f"{divergence!r}.")


def _check_fdpo_generator(generator: FGenerator) -> None:
  if not isinstance(generator, FGenerator):
    raise TypeError(f"generator must be an FGenerator, got {type(generator).__name__}.")
  if generator.f_prime_inverse_fn is None:
    raise ValueError(f"the {generator.name!r} generator has no invertible derivative: the f-DPO "
                     "reward-policy map does not exist.")
  if _validate.is_concrete(generator):
    with jax.ensure_compile_time_eval():
      at_zero = float(generator.f_prime(jnp.asarray(0.0)))
    if not at_zero == -math.inf:
      raise ValueError(
          f"the f-DPO map needs f'(0+) = -inf so that the positivity constraints are inactive; the "
          f"{generator.name!r} generator has f'(0+) = {at_zero:g} (chi^2, TV and alpha >= 1 in "
          "Cichocki-Amari form fail this).")


@_validate.guarded
def fdpo_reward(policy_logits: ArrayLike, ref_logits: ArrayLike, *, beta: ArrayLike,
                generator: FGenerator) -> Array:
  r"""The f-DPO implicit reward β f′(π(y)/π_ref(y)) (policy → reward map).

  The KKT conditions of :math:`\max_\pi \mathbb E_\pi r - \beta D_f(\pi\|\pi_\mathrm{ref})` give

  .. math::  r(y) = \beta f'\!\left(\frac{\pi^*(y)}{\pi_\mathrm{ref}(y)}\right) + c

  for one constant c (the multiplier of Σπ = 1; it cancels in Bradley–Terry differences). For
  ``generator = KL`` (DPO's reverse KL) this is :math:`\beta\log(\pi/\pi_\mathrm{ref}) + \beta`.

  Args:
    policy_logits: logits of π*, shape ``[..., n]``.
    ref_logits: logits of π_ref, broadcastable against ``policy_logits``.
    beta: β > 0.
    generator: the generator f (see :func:`fdpo_generator`).

  Returns:
    The implicit reward (up to the constant c), shape of the broadcast inputs.

  References:
    Wang, Jiang, Yang, Liu & Chen, *Beyond reverse KL*, arXiv:2309.16240.

  Examples:
    For reverse KL the reward is β log(π/π_ref) + β; with π = (¼, ¾), π_ref uniform and β = 1 it is
    (1 − log 2, 1 + log 1.5):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import alignment
    >>> r = alignment.fdpo_reward(jnp.log(jnp.array([0.25, 0.75])), jnp.log(jnp.array([0.5, 0.5])),
    ...                           beta=1.0, generator=alignment.fdpo_generator("reverse_kl"))
    >>> print(np.round(np.asarray(r), 4))
    [0.3069 1.4055]
  """
  beta = _validate.positive_scalar("beta", beta)
  _check_fdpo_generator(generator)
  _validate.broadcastable("policy_logits", policy_logits, "ref_logits", ref_logits)
  lq = dv.normalized_log_probs(policy_logits, logits=True, name="policy_logits")
  lp = dv.normalized_log_probs(ref_logits, logits=True, name="ref_logits")
  return beta * generator.f_prime(jnp.exp(lq - lp))


class FDPOPolicy(NamedTuple):
  r"""The f-DPO optimal policy and its normaliser.

  Attributes:
    log_probs: :math:`\log\pi^*`, ``[n]``.
    normalizer: the constant c with :math:`\sum_y \pi_\mathrm{ref}(y)(f')^{-1}((r(y)-c)/\beta) = 1`.

  Examples:
    For forward KL, c solves ½/c + ½/(c − 1) = 1 on a fair coin with reward 0 or 1 and β = 1, so
    c = 1 + 1/√2:

    >>> import jax.numpy as jnp
    >>> from divjax import alignment
    >>> pol = alignment.fdpo_policy(jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]), beta=1.0,
    ...                             generator=alignment.fdpo_generator("forward_kl"))
    >>> print(f"{float(pol.normalizer):.4f}")
    1.7071
  """

  log_probs: Array
  normalizer: Array


@_validate.guarded
def fdpo_policy(ref_logits: ArrayLike, reward: ArrayLike, *, beta: ArrayLike, generator: FGenerator,
                num_iters: int = 200) -> FDPOPolicy:
  r"""The f-DPO optimal policy (reward → policy map), the inverse of fdpo_reward.

  .. math::  \pi^*(y) = \pi_\mathrm{ref}(y)\,(f')^{-1}\!\left(\frac{r(y)-c}{\beta}\right)
             = \arg\max_\pi\ \mathbb E_\pi r - \beta D_f(\pi\|\pi_\mathrm{ref}),

  with :math:`(f')^{-1} = (f^*)'` and c the root of :math:`S(c) = \sum_y\pi^*(y) = 1`. S decreases
  in c, and :math:`\pi_\mathrm{ref}(y^*)(f')^{-1}((r_\max - c)/\beta) \le S(c) \le
  (f')^{-1}((r_\max - c)/\beta)` (y* an argmax of r), so the root lies in
  :math:`[r_\max - \beta f'(1/\pi_\mathrm{ref}(y^*)),\ r_\max - \beta f'(1)]`, inside the domain of
  :math:`(f')^{-1}`; ``num_iters`` Newton steps on :math:`\log S`, safeguarded by bisection, find it
  (reverse KL gives the softmax :math:`\pi_\mathrm{ref}e^{r/\beta}/Z` of DPO; forward KL gives
  :math:`\pi_\mathrm{ref}\beta/(c-r)`). Gradients with respect to ``reward``, ``ref_logits`` and
  ``beta`` are those of the exact root c (implicit-function theorem).

  The map is valid when :math:`f'(0^+) = -\infty`, so the positivity constraints are inactive:
  reverse KL, forward KL, JS, α ∈ (0, 1) (and squared Hellinger); χ² and TV are rejected.

  Args:
    ref_logits: logits of π_ref, shape ``[n]``.
    reward: the reward, shape ``[n]``.
    beta: β > 0.
    generator: the generator f (see :func:`fdpo_generator`).
    num_iters: Newton/bisection steps (200 reach round-off in float64 for any bracket).

  Returns:
    An :class:`FDPOPolicy`.

  Raises:
    ValueError: for a generator without the map, or invalid concrete inputs.

  References:
    Wang, Jiang, Yang, Liu & Chen, *Beyond reverse KL*, arXiv:2309.16240.

  Examples:
    Reverse KL gives the softmax (1, e)/(1 + e) of DPO; forward KL gives π_ref·β/(c − r) with
    ½/c + ½/(c − 1) = 1, i.e. c = 1 + 1/√2 and π* = (1 − 1/√2, 1/√2):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import alignment
    >>> ref, reward = jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0])
    >>> for name in ("reverse_kl", "forward_kl"):
    ...   pol = alignment.fdpo_policy(ref, reward, beta=1.0, generator=alignment.fdpo_generator(name))
    ...   print(np.round(np.exp(np.asarray(pol.log_probs)), 4))
    [0.2689 0.7311]
    [0.2929 0.7071]
  """
  beta = _validate.positive_scalar("beta", beta)
  _check_fdpo_generator(generator)
  num_iters = _validate.integer("num_iters", num_iters, minimum=1)
  lp, r = _problem(ref_logits, reward)
  if _validate.is_concrete((lp, r)):
    top = jax.nn.logsumexp(jnp.where((lp > -jnp.inf) & (r == _support_max(lp, r)), lp, -jnp.inf))
    if not np.isfinite(np.exp(-np.asarray(top, np.float64)).astype(lp.dtype)):
      raise ValueError(
          f"ref_logits give the highest-reward responses probability exp({float(top):.3g}), which "
          f"underflows {lp.dtype}: the normaliser's bracket r_max - beta f'(1/p_top) overflows. "
          "Use float64 or a less extreme reference.")
  return _fdpo_policy(lp, r, jnp.asarray(beta, dtype=lp.dtype), generator, num_iters)


@functools.partial(jax.jit, static_argnames=("num_iters",))
@_validate.kernel
def _fdpo_policy(lp: Array, r: Array, beta: Array, generator: FGenerator,
                 num_iters: int) -> FDPOPolicy:
  support = lp > -jnp.inf
  r_max = _support_max(lp, r)
  lp_top = jax.nn.logsumexp(jnp.where(support & (r == r_max), lp, -jnp.inf))
  one = jnp.ones((), lp.dtype)
  c_lo = r_max - beta * generator.f_prime(jnp.exp(-lp_top))
  c_hi = r_max - beta * generator.f_prime(one)

  def log_ratio(c, r, beta):
    u = generator.f_prime_inverse((r - c) / beta)
    return jnp.where(support, jnp.log(u), -jnp.inf)

  def excess(c, lp, r, beta):  # −log Σ_y π_ref(y)(f′)⁻¹((r − c)/β), increasing in c
    return -jax.nn.logsumexp(jnp.where(support, lp + log_ratio(c, r, beta), -jnp.inf))

  data = jax.lax.stop_gradient((lp, r, beta))
  g = _roots.autodiff_slope(lambda c: excess(c, *data))
  c = _roots.increasing_root(g, *jax.lax.stop_gradient((c_lo, c_hi)), num_iters=num_iters)
  c = _roots.implicit_root(c, lambda c: excess(c, lp, r, beta), g(c)[1])
  logits = jnp.where(support, lp + log_ratio(c, r, beta), -jnp.inf)
  # Remove the solver's last-ulp residual of Σπ = 1.
  return FDPOPolicy(logits - jax.nn.logsumexp(logits), c)


@_validate.guarded
def fdpo_loss(policy_chosen_logps: ArrayLike, policy_rejected_logps: ArrayLike,
              ref_chosen_logps: ArrayLike, ref_rejected_logps: ArrayLike, *, beta: ArrayLike,
              generator: FGenerator) -> Array:
  r"""The f-DPO loss of preference pairs (y_w ≻ y_l), elementwise.

  .. math::  \ell = -\log\sigma\!\Big(\beta f'\!\big(\tfrac{\pi_\theta(y_w)}{\pi_\mathrm{ref}(y_w)}\big)
             - \beta f'\!\big(\tfrac{\pi_\theta(y_l)}{\pi_\mathrm{ref}(y_l)}\big)\Big)

  (the normaliser c of :func:`fdpo_reward` cancels). With ``generator = KL`` it is the DPO loss
  :math:`-\log\sigma(\beta\log\frac{\pi_\theta(y_w)\pi_\mathrm{ref}(y_l)}{\pi_\mathrm{ref}(y_w)\pi_\theta(y_l)})`.

  Args:
    policy_chosen_logps: :math:`\log\pi_\theta(y_w)`, any shape (sequence log-probabilities).
    policy_rejected_logps: :math:`\log\pi_\theta(y_l)`, same shape.
    ref_chosen_logps: :math:`\log\pi_\mathrm{ref}(y_w)`, same shape.
    ref_rejected_logps: :math:`\log\pi_\mathrm{ref}(y_l)`, same shape.
    beta: β > 0.
    generator: the generator f (see :func:`fdpo_generator`).

  Returns:
    The per-pair loss (average it yourself), differentiable in the policy log-probabilities.

  References:
    Wang, Jiang, Yang, Liu & Chen, *Beyond reverse KL*, arXiv:2309.16240.
    Rafailov, Sharma, Mitchell, Ermon, Manning & Finn, *Direct preference optimization*,
    arXiv:2305.18290.

  Examples:
    With reverse KL (DPO), β = 1, π_θ(y_w)/π_ref(y_w) = 1.5 and π_θ(y_l)/π_ref(y_l) = 0.5, the
    margin is log 3 and the loss log(1 + 1/3) = log(4/3):

    >>> import math
    >>> from divjax import alignment
    >>> loss = alignment.fdpo_loss(math.log(0.75), math.log(0.25), math.log(0.5), math.log(0.5),
    ...                            beta=1.0, generator=alignment.fdpo_generator("reverse_kl"))
    >>> print(f"{float(loss):.4f}")
    0.2877
  """
  beta = _validate.positive_scalar("beta", beta)
  _check_fdpo_generator(generator)
  args = dict(policy_chosen_logps=policy_chosen_logps, policy_rejected_logps=policy_rejected_logps,
              ref_chosen_logps=ref_chosen_logps, ref_rejected_logps=ref_rejected_logps)
  names = list(args)
  for other in names[1:]:
    _validate.broadcastable(names[0], args[names[0]], other, args[other])
  args = {name: jnp.asarray(_validate.not_nan(name, x)) for name, x in args.items()}
  u_w = jnp.exp(args["policy_chosen_logps"] - args["ref_chosen_logps"])
  u_l = jnp.exp(args["policy_rejected_logps"] - args["ref_rejected_logps"])
  margin = beta * (generator.f_prime(u_w) - generator.f_prime(u_l))
  return -jax.nn.log_sigmoid(margin)


# ---------------------------------------------------------------------------------------------------
# f-DPG.


@_validate.guarded
def fdpg_gradient(policy_logits: ArrayLike, target_logits: ArrayLike, *,
                  generator: FGenerator) -> Array:
  r"""The exact f-DPG gradient of D_f(π_θ‖p) with respect to softmax logits θ.

  .. math::  \nabla_\theta D_f(\pi_\theta\|p)
             = \mathbb E_{y\sim\pi_\theta}\!\big[f'(\pi_\theta(y)/p(y))\,\nabla_\theta\log\pi_\theta(y)\big]
             = \pi_\theta\odot\big(f'(u) - \mathbb E_{\pi_\theta}f'(u)\big),\quad u = \pi_\theta/p,

  since :math:`\nabla_\theta\log\pi_\theta(y) = e_y - \pi_\theta` for a softmax. With ``KL``
  (:math:`u\log u`, RLHF's reverse KL) and :math:`p = p^*` of :func:`kl_regularized_optimum` it is
  :math:`-\nabla_\theta J/\beta`; with ``REVERSE_KL`` it is the forward-KL (DPG/GDC) gradient.

  Args:
    policy_logits: θ, shape ``[n]``.
    target_logits: logits of the target p (any normalisation), shape ``[n]``; p > 0 where π > 0.
    generator: any :class:`~divjax.divergences.FGenerator` (TV uses its subgradient ½ sign(u − 1)).

  Returns:
    The gradient, shape ``[n]`` (sums to zero).

  References:
    Go, Korbak, Kruszewski, Rozen, Ryu & Dymetman, *Aligning language models with preferences
    through f-divergence minimization*, arXiv:2302.08215.

  Examples:
    For KL(π_θ‖p) with π_θ uniform and p = (¼, ¾) the gradient is ±(log 3)/4, as autodiff agrees:

    >>> import jax
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import alignment, divergences
    >>> theta, target = jnp.zeros(2), jnp.log(jnp.array([0.25, 0.75]))
    >>> print(np.round(np.asarray(alignment.fdpg_gradient(theta, target, generator=divergences.KL)), 4))
    [ 0.2747 -0.2747]
    >>> auto = jax.grad(lambda t: divergences.kl_divergence(t, target, logits=True))(theta)
    >>> print(np.round(np.asarray(auto), 4))
    [ 0.2747 -0.2747]
  """
  if not isinstance(generator, FGenerator):
    raise TypeError(f"generator must be an FGenerator, got {type(generator).__name__}.")
  _validate.ndim("policy_logits", policy_logits, 1)
  _validate.ndim("target_logits", target_logits, 1)
  _validate.same_shape("policy_logits", policy_logits, "target_logits", target_logits)
  lq = dv.normalized_log_probs(policy_logits, logits=True, name="policy_logits")
  lp = dv.normalized_log_probs(target_logits, logits=True, name="target_logits")
  q = jnp.exp(lq)
  pos = q > 0
  a = jnp.where(pos, generator.f_prime(jnp.exp(jnp.where(pos, lq - lp, 0.0))), 0.0)
  if _validate.is_concrete(a) and not np.all(np.isfinite(np.asarray(a))):
    raise ValueError("target_logits give (numerically) zero probability where the policy has mass: "
                     "f'(pi/p) is infinite there, D_f(pi || p) is infinite and its gradient undefined.")
  return q * (a - jnp.sum(q * a))


@_validate.guarded
def fdpg_surrogate_loss(policy_logps: ArrayLike, target_logps: ArrayLike, *, generator: FGenerator,
                        log_normalizer: ArrayLike = 0.0, baseline: bool = True) -> Array:
  r"""A REINFORCE surrogate whose gradient is an unbiased f-DPG gradient estimate.

  For samples :math:`y_1..y_B \sim \pi_\theta`,

  .. math::  \mathcal L(\theta) = \frac1B\sum_i \mathrm{sg}\big[a_i - b_i\big]\log\pi_\theta(y_i),\qquad
             a_i = f'\!\big(\pi_\theta(y_i)\,Z/\tilde p(y_i)\big),

  so :math:`\nabla\mathcal L` estimates :math:`\nabla_\theta D_f(\pi_\theta\|p)`; :math:`-a_i` is
  the pseudo-reward. ``baseline=True`` uses the leave-one-out mean
  :math:`b_i = \frac{1}{B-1}\sum_{j\ne i}a_j` (unbiased, lower variance); ``False`` uses b = 0.
  The target may be unnormalised, :math:`p = \tilde p/Z`, e.g. the EBM :math:`\pi_0e^{r/\beta}`: pass
  :math:`\log Z` (estimated, e.g. by importance sampling) as ``log_normalizer``. (For the KL generator
  Z only shifts f' and the baseline removes it.)

  Args:
    policy_logps: :math:`\log\pi_\theta(y_i)` of the sampled outcomes, shape ``[B]``; gradients flow
      through it.
    target_logps: :math:`\log\tilde p(y_i)`, shape ``[B]`` (no gradient).
    generator: the generator f.
    log_normalizer: :math:`\log Z` of the target.
    baseline: whether to subtract the leave-one-out baseline (needs B ≥ 2).

  Returns:
    The scalar surrogate (its value is not a divergence; only its gradient is meaningful).

  References:
    Go, Korbak, Kruszewski, Rozen, Ryu & Dymetman, *Aligning language models with preferences
    through f-divergence minimization*, arXiv:2302.08215.
    Williams, *Simple statistical gradient-following algorithms*, Mach. Learn. 8, 1992.

  Examples:
    From 20 000 samples the estimate is within 0.01 (about 5 standard errors) of the exact
    gradient (±(log 3)/4 = ±0.2747, see :func:`fdpg_gradient`):

    >>> import jax
    >>> import jax.numpy as jnp
    >>> from divjax import alignment, divergences
    >>> theta, target = jnp.zeros(2), jnp.log(jnp.array([0.25, 0.75]))
    >>> y = jax.random.categorical(jax.random.key(0), theta, shape=(20_000,))
    >>> loss = lambda t: alignment.fdpg_surrogate_loss(jax.nn.log_softmax(t)[y], target[y],
    ...                                                generator=divergences.KL)
    >>> print(bool(jnp.max(jnp.abs(jax.grad(loss)(theta) - jnp.array([0.2747, -0.2747]))) < 0.01))
    True
  """
  if not isinstance(generator, FGenerator):
    raise TypeError(f"generator must be an FGenerator, got {type(generator).__name__}.")
  _validate.ndim("policy_logps", policy_logps, 1)
  _validate.same_shape("policy_logps", policy_logps, "target_logps", target_logps)
  # A sampled outcome has positive probability under the policy that drew it.
  policy_logps = _validate.finite("policy_logps", policy_logps)
  target_logps = _validate.not_nan("target_logps", target_logps)
  logq = jnp.asarray(policy_logps)
  size = logq.shape[0]
  if baseline and size < 2:
    raise ValueError("the leave-one-out baseline needs at least 2 samples.")
  log_u = jax.lax.stop_gradient(logq) - jnp.asarray(target_logps) + log_normalizer
  a = jax.lax.stop_gradient(generator.f_prime(jnp.exp(log_u)))
  if _validate.is_concrete(a) and not np.all(np.isfinite(np.asarray(a))):
    raise ValueError("f'(u) at u = pi(y) Z / p~(y) is infinite for some sample: policy_logps and "
                     "target_logps give a ratio that is (numerically) 0 or inf there, where the "
                     "pseudo-reward is undefined.")
  if baseline:
    a = a - (jnp.sum(a) - a) / (size - 1)
  return jnp.mean(a * logq)


# ---------------------------------------------------------------------------------------------------
# DPH-RL per-token penalties.


def _log_ratio(policy_logps: ArrayLike, ref_logps: ArrayLike) -> Array:
  _validate.broadcastable("policy_logps", policy_logps, "ref_logps", ref_logps)
  policy_logps = _validate.not_nan("policy_logps", policy_logps)
  ref_logps = _validate.not_nan("ref_logps", ref_logps)
  return jnp.asarray(policy_logps) - jnp.asarray(ref_logps)


@_validate.guarded
def f_penalty_per_sample(policy_logps: ArrayLike, ref_logps: ArrayLike, *,
                         generator: FGenerator) -> Array:
  r"""Per-sample estimates f(u), u = π_θ(y)/π₀(y), of D_f(π_θ‖π₀).

  For samples :math:`y \sim \pi_0` (pre-drawn from the initial policy, with their stored
  log-probabilities), :math:`\mathbb E_{\pi_0} f(u) = D_f(\pi_\theta\|\pi_0)`: the mean is unbiased and
  needs no online reference model. DPH-RL applies it per token (ratios of token probabilities,
  averaged over tokens) on its "near-perfect" prompts; its ``js_low_var`` penalty is
  ``generator = 2 * JENSEN_SHANNON`` (:func:`fdpo_generator` ``("js")``), its ``alpha`` penalty
  ``fdpo_generator("alpha", alpha=...)``.

  Args:
    policy_logps: :math:`\log\pi_\theta(y)` (token or sequence), any shape; differentiable.
    ref_logps: :math:`\log\pi_0(y)`, broadcastable against ``policy_logps``.
    generator: the generator f.

  Returns:
    :math:`f(u)` elementwise (aggregate with the mean over samples/tokens).

  References:
    Li et al., *The choice of divergence: a neglected key to mitigating diversity collapse in RL with
    verifiable reward*, arXiv:2509.07430.

  Examples:
    Averaging over π₀ = (½, ½) exactly (both outcomes, weight ½) recovers KL((¼, ¾)‖(½, ½)):

    >>> import jax.numpy as jnp
    >>> from divjax import alignment, divergences
    >>> pi, pi0 = jnp.array([0.25, 0.75]), jnp.array([0.5, 0.5])
    >>> f = alignment.f_penalty_per_sample(jnp.log(pi), jnp.log(pi0), generator=divergences.KL)
    >>> print(f"{float(pi0 @ f):.4f} {float(divergences.kl_divergence(pi, pi0)):.4f}")
    0.1308 0.1308
  """
  if not isinstance(generator, FGenerator):
    raise TypeError(f"generator must be an FGenerator, got {type(generator).__name__}.")
  return generator.f(jnp.exp(_log_ratio(policy_logps, ref_logps)))


@_validate.guarded
def k3_per_sample(policy_logps: ArrayLike, ref_logps: ArrayLike, *,
                  clip: float | None = None) -> Array:
  r"""The "k3" per-sample estimate u − log u − 1 of the forward KL(π₀‖π_θ).

  For :math:`y\sim\pi_0` and :math:`u = \pi_\theta(y)/\pi_0(y)`, :math:`\mathbb E_{\pi_0} u = 1`, so
  :math:`\mathbb E_{\pi_0}[u - \log u - 1] = \mathrm{KL}(\pi_0\|\pi_\theta)`, with every term ≥ 0 (lower
  variance than :math:`-\log u`). This is verl's ``low_var_kl`` as DPH-RL's ``forward`` mode calls it
  (samples from π₀, which verl clamps to [−10, 10]: pass ``clip=10.0``; clipping biases the mean).
  Computed as :math:`\operatorname{expm1}(d) - d`, d = log u, without cancellation near u = 1.

  Args:
    policy_logps: :math:`\log\pi_\theta(y)`, any shape; differentiable.
    ref_logps: :math:`\log\pi_0(y)` of the same samples, broadcastable.
    clip: optional symmetric clamp of the per-sample value.

  Returns:
    The per-sample estimates (aggregate with the mean).

  References:
    J. Schulman, *Approximating KL divergence*, 2020 (the k1/k2/k3 estimators).
    Li et al., *The choice of divergence…*, arXiv:2509.07430 (DPH-RL's forward-KL penalty).

  Examples:
    The π₀-average of the per-sample values is the forward KL(π₀‖π_θ):

    >>> import jax.numpy as jnp
    >>> from divjax import alignment, divergences
    >>> pi, pi0 = jnp.array([0.25, 0.75]), jnp.array([0.5, 0.5])
    >>> k3 = alignment.k3_per_sample(jnp.log(pi), jnp.log(pi0))
    >>> print(f"{float(pi0 @ k3):.4f} {float(divergences.kl_divergence(pi0, pi)):.4f}")
    0.1438 0.1438
  """
  d = _log_ratio(policy_logps, ref_logps)
  # u = +inf (π₀(y) = 0) gives +inf; the double where keeps that branch's gradient finite.
  infinite = d == jnp.inf
  d_finite = jnp.where(infinite, 0.0, d)
  value = jnp.where(infinite, jnp.inf, jnp.expm1(d_finite) - d_finite)
  if clip is not None:
    clip = _validate.positive_scalar("clip", clip)
    value = jnp.clip(value, -clip, clip)
  return value
