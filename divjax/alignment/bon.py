r"""Best-of-N (BoN): the exact law of best-of-N sampling on a finite space and its bounds.

Draw N responses from p and keep the one with the highest reward. With :math:`F(s) = P_p(r\le s)`,

.. math::  \pi_\mathrm{BoN}(y) = \frac{p(y)}{p(r = r_y)}\big[F(r_y)^N - F(r_y^-)^N\big],\qquad
           \mathrm{KL}(\pi_\mathrm{BoN}\|p) \le \log N - \frac{N-1}{N},\qquad
           \text{win rate} \le \frac{N}{N+1}.

* :func:`~divjax.alignment.best_of_n` — the law (N may be astronomically large: pass ``log_n``), its
  KL, expected reward and win rate;
* :func:`~divjax.alignment.best_of_n_kl_bound`, :func:`~divjax.alignment.best_of_n_win_rate_bound` —
  the two bounds, equalities for a continuous reward.

References:
  Beirami, Agarwal, Berant, D'Amour, Eisenstein, Nagpal & Suresh, *Theoretical guarantees on the
  best-of-n alignment policy*, arXiv:2401.01879.

Examples:
  On a fair coin with reward = outcome, best-of-2 picks heads with probability ¾, below the bound:

  >>> import jax.numpy as jnp
  >>> from divjax import alignment
  >>> bon = alignment.best_of_n(jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0]), n=2)
  >>> print(f"{float(bon.kl):.4f} {float(alignment.best_of_n_kl_bound(2)):.4f}")
  0.1308 0.1931
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate
from divjax import divergences as dv
from divjax.alignment._common import Array, ArrayLike, _LOG2, _problem, _scalar

__all__ = [
    "BestOfN",
    "best_of_n",
    "best_of_n_kl_bound",
    "best_of_n_win_rate_bound",
]


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
