r"""KL-regularised RL as Bayesian inference: the objective and its Gibbs-posterior optimum.

.. math::  J(\pi) = \mathbb E_\pi r - \beta\,\mathrm{KL}(\pi\|p) = \beta\log Z - \beta\,\mathrm{KL}(\pi\|p^*),
           \qquad p^* = p\,e^{r/\beta}/Z = \varphi_{1/\beta},

so maximising J is variational inference of the posterior p* (prior p, evidence :math:`e^{r/\beta}`).

* :func:`~divjax.alignment.kl_regularized_objective` — J(π);
* :func:`~divjax.alignment.kl_regularized_optimum` — p* and the optimal value β log Z.

References:
  Korbak, Perez & Buckley, *RL with KL penalties is better viewed as Bayesian inference*, Findings of
  EMNLP 2022, arXiv:2205.11275.

Examples:
  The optimum is the tilt by λ = 1/β (:func:`~divjax.alignment.tilt`):

  >>> import jax.numpy as jnp
  >>> import numpy as np
  >>> from divjax import alignment
  >>> ref, reward = jnp.log(jnp.array([0.5, 0.5])), jnp.array([0.0, 1.0])
  >>> opt = alignment.kl_regularized_optimum(ref, reward, beta=0.5)
  >>> print(np.allclose(opt.log_probs, alignment.tilt(ref, reward, 2.0).log_probs))
  True
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from divjax import _validate
from divjax import divergences as dv
from divjax.alignment._common import Array, ArrayLike, _problem
from divjax.alignment.tilted import _tilt

__all__ = [
    "kl_regularized_objective",
    "KLRegularizedOptimum",
    "kl_regularized_optimum",
]


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
