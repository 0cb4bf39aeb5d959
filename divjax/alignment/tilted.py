r"""Tilted policies: the KL-constrained optimum, its solvers and the large-deviation rate.

For a reference policy p and a reward r on a finite space (symbols as in :mod:`divjax.alignment`),
the exponentially tilted policy :math:`\varphi_\lambda = p\,e^{\lambda r}/Z(\lambda)` is the solution of
KL-regularised RL with coefficient β = 1/λ and of the KL-constrained problem

.. math::  \varphi_\Delta = \arg\max\{\mathbb E_\varphi r : \mathrm{KL}(\varphi\|p)\le\Delta\}
           = \varphi_{\lambda(\Delta)},\qquad
           \mathrm{KL}(\varphi_\lambda\|p) = \lambda\Lambda'(\lambda) - \Lambda(\lambda).

* :func:`~divjax.alignment.tilt` — φ_λ and its moments;
* :func:`~divjax.alignment.solve_kl_budget`, :func:`~divjax.alignment.solve_expected_reward` — λ for a
  KL budget Δ or a target expected reward, bracketed by doubling and polished by Newton steps
  safeguarded by bisection, with implicit-function gradients;
* :func:`~divjax.alignment.kl_to_tilted` — Yang et al.'s identity for KL(q‖φ_λ);
* :func:`~divjax.alignment.tilted_rate_function` — the Cramér rate of the per-token reward.

References:
  * Yang, Salamatian, Sun, Suresh & Beirami, *Asymptotics of language model alignment*, ISIT 2024,
    arXiv:2404.01730.
  * Csiszár, *I-divergence geometry of probability distributions and minimization problems*,
    Ann. Probab. 3, 1975.

Examples:
  The budget Δ = KL(φ_λ‖p) of a tilt is spent by that same tilt:

  >>> import math
  >>> import jax.numpy as jnp
  >>> from divjax import alignment
  >>> ref, reward = jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0])
  >>> delta = alignment.tilt(ref, reward, math.log(3.0)).kl
  >>> print(f"{float(alignment.solve_kl_budget(ref, reward, delta).lam):.4f}")
  1.0986
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from divjax import _roots, _validate
from divjax import divergences as dv
from divjax.alignment._common import (Array, ArrayLike, _MAX_DOUBLINGS, _mean_var, _problem, _scalar,
                                      _support_max, _support_min)

__all__ = [
    "Tilt",
    "tilt",
    "KLBudgetSolution",
    "solve_kl_budget",
    "solve_expected_reward",
    "kl_to_tilted",
    "tilted_rate_function",
]


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
