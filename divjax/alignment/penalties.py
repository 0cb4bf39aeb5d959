r"""DPH-RL's per-sample divergence penalties from samples of the initial policy.

For samples :math:`y\sim\pi_0` drawn once (with their stored log-probabilities) and
:math:`u = \pi_\theta(y)/\pi_0(y)`,

.. math::  \mathbb E_{\pi_0} f(u) = D_f(\pi_\theta\|\pi_0),\qquad
           \mathbb E_{\pi_0}[u - \log u - 1] = \mathrm{KL}(\pi_0\|\pi_\theta),

unbiased penalties that need no online reference model.

* :func:`~divjax.alignment.f_penalty_per_sample` — f(u) for any generator;
* :func:`~divjax.alignment.k3_per_sample` — the "k3" estimate of the forward KL.

References:
  * Li et al., *The choice of divergence: a neglected key to mitigating diversity collapse in
    reinforcement learning with verifiable reward*, arXiv:2509.07430 (DPH-RL).
  * J. Schulman, *Approximating KL divergence*, 2020 (the k1/k2/k3 estimators).

Examples:
  Every k3 value is non-negative, zero where the two policies agree:

  >>> import jax.numpy as jnp
  >>> import numpy as np
  >>> from divjax import alignment
  >>> print(np.round(np.asarray(alignment.k3_per_sample(jnp.log(jnp.array([0.5, 0.25])),
  ...                                                   jnp.log(jnp.array([0.5, 0.5])))), 4))
  [0.     0.1931]
"""

from __future__ import annotations

import jax.numpy as jnp

from divjax import _validate
from divjax.divergences import FGenerator
from divjax.alignment._common import Array, ArrayLike, _check_generator

__all__ = [
    "f_penalty_per_sample",
    "k3_per_sample",
]


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
  _check_generator(generator)
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
