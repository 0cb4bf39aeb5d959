r"""f-DPO: the reward ↔ policy maps of f-divergence-regularised preference optimisation, and its loss.

The KKT conditions of :math:`\max_\pi \mathbb E_\pi r - \beta D_f(\pi\|\pi_\mathrm{ref})` give

.. math::  r(y) = \beta f'\!\Big(\frac{\pi^*(y)}{\pi_\mathrm{ref}(y)}\Big) + c,\qquad
           \pi^*(y) = \pi_\mathrm{ref}(y)\,(f')^{-1}\!\Big(\frac{r(y) - c}{\beta}\Big),

valid when :math:`f'(0^+) = -\infty`. The ratio is :math:`u = \pi/\pi_\mathrm{ref}`, so divjax's ``KL``
generator (:math:`u\log u`) is what the papers call *reverse* KL (DPO) and ``REVERSE_KL`` their
*forward* KL; :func:`~divjax.alignment.fdpo_generator` maps their names.

* :func:`~divjax.alignment.fdpo_generator` — the generator of a divergence named as in the papers;
* :func:`~divjax.alignment.fdpo_reward`, :func:`~divjax.alignment.fdpo_policy` — the two maps (the
  normaliser c by Newton steps safeguarded by bisection, with its implicit gradient);
* :func:`~divjax.alignment.fdpo_loss` — the pairwise Bradley–Terry loss, in which c cancels.

References:
  * Wang, Jiang, Yang, Liu & Chen, *Beyond reverse KL: generalizing direct preference optimization
    with diverse divergence constraints*, ICLR 2024, arXiv:2309.16240.
  * Rafailov, Sharma, Mitchell, Ermon, Manning & Finn, *Direct preference optimization*,
    NeurIPS 2023, arXiv:2305.18290.

Examples:
  The reward → policy map inverts the policy → reward map:

  >>> import jax.numpy as jnp
  >>> import numpy as np
  >>> from divjax import alignment
  >>> ref, gen = jnp.log(jnp.array([0.2, 0.3, 0.5])), alignment.fdpo_generator("forward_kl")
  >>> pi = alignment.fdpo_policy(ref, jnp.array([0.0, 1.0, 0.5]), beta=1.0, generator=gen).log_probs
  >>> r = alignment.fdpo_reward(pi, ref, beta=1.0, generator=gen)
  >>> print(np.round(np.asarray(r - r[0]), 4))
  [0.  1.  0.5]
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _roots, _validate
from divjax import divergences as dv
from divjax.divergences import FGenerator
from divjax.alignment._common import Array, ArrayLike, _check_generator, _problem, _scalar, _support_max

__all__ = [
    "fdpo_generator",
    "fdpo_reward",
    "FDPOPolicy",
    "fdpo_policy",
    "fdpo_loss",
]


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
  _check_generator(generator)
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
