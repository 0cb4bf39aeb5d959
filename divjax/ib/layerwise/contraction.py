r"""Contraction (strong data-processing) coefficients of noisy layers.

For a Markov kernel K,
:math:`\eta_{KL}(K) = \sup_{P\ne Q}\mathrm{KL}(PK\|QK)/\mathrm{KL}(P\|Q) \le \eta_{TV}(K) =
\sup_{x,x'}\mathrm{TV}(K(\cdot|x), K(\cdot|x'))` (Dobrushin). Dropout of width d at rate p:
:math:`1-p^d`; DropConnect of a ``d_in × d_out`` layer: :math:`1-p^{d_{in}d_{out}}`; Gaussian noise
:math:`\mathcal N(0, s^2 I_d)` after an activation bounded in :math:`[-R, R]^d`:
:math:`2\Phi(R\sqrt d/s) - 1`. A chain of layers contracts at least by the product, which is how the
layerwise KL bounds of :mod:`divjax.ib.layerwise.linear_gaussian` tighten with depth
(:doc:`/theory/layerwise_bounds`).

References:
  He, Yu & Goldfeld, *Information-theoretic generalization bounds for deep neural networks*,
  arXiv:2404.03176 (2024).
  Polyanskiy & Wu, *Strong data-processing inequalities for channels and Bayesian networks*, 2017,
  arXiv:1508.06025.
  Dobrushin, *Central limit theorem for nonstationary Markov chains I*, Theory Probab. Appl. 1, 1956.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from divjax import _validate
from divjax.divergences import kl_divergence
from divjax.ib.layerwise._common import _float, _log_rate

__all__ = [
    "dropout_contraction",
    "dropconnect_contraction",
    "gaussian_noise_contraction",
    "contracted_kl_bound",
    "tv_contraction_coefficient",
    "kl_contraction_lower_bound",
]

Array = jax.Array
ArrayLike = jax.typing.ArrayLike


def _check_rate(rate: ArrayLike) -> ArrayLike:
  rate = _validate.finite("rate", rate)
  if _validate.is_concrete(rate):
    r = np.asarray(rate)
    if (r < 0).any() or (r > 1).any():
      raise ValueError(f"rate must be a drop probability in [0, 1], got {r.min()!r}..{r.max()!r}.")
  return _validate.traced_check(rate, lambda r: jnp.all((r >= 0) & (r <= 1)),
                                "rate must be a drop probability in [0, 1].")



# ---------------------------------------------------------------------------------------------------
# Contraction coefficients.


@_validate.guarded
def dropout_contraction(width: ArrayLike, *, rate: ArrayLike) -> Array:
  r"""Contraction coefficient of Dropout on a layer of d units at drop rate p: 1 − p^d.

  .. math::  \eta_{KL} = \eta_{TV} = 1 - p^{d}

  Each unit is zeroed independently with probability p (the inverted-dropout rescaling is a
  bijection and does not matter). The output can be independent of the input only under the
  all-dropped mask, so the Dobrushin coefficient is :math:`\eta_{TV} = 1 - p^d` (two inputs that
  differ in every unit share only that output). With two such inputs as the support of P and Q the
  channel *is* an erasure channel with erasure probability :math:`p^d`, so
  :math:`\eta_{KL} = \eta_{TV} = 1 - p^d`: it does **not** tensorise to 1 − p, and a narrower layer
  contracts more (derived in :doc:`/theory/layerwise_bounds`; η_TV is checked against exact
  enumeration of the channel for d ≤ 3, η_KL against a numerical maximisation at d = 1, 2).

  Args:
    width: number of units d ≥ 1 (any shape; may be a float for smooth interpolation).
    rate: drop probability p ∈ [0, 1], broadcastable against ``width``.

  Returns:
    η, of the broadcast shape.

  References:
    Srivastava et al., *Dropout*, JMLR 15, 2014.
    He, Yu & Goldfeld, arXiv:2404.03176 (SDPI coefficients for Dropout).
    Polyanskiy & Wu, arXiv:1508.06025 (η_KL ≤ η_TV; erasure channels).

  Examples:
    Two units at p = ½: only the all-dropped mask (probability ¼) erases the input:

    >>> from divjax import ib
    >>> print(f"{float(ib.dropout_contraction(2, rate=0.5)):.4f}")
    0.7500
  """
  width = _validate.positive("width", width)
  rate = _check_rate(rate)
  width, rate = _float(width, rate)
  return -jnp.expm1(width * _log_rate(rate))


@_validate.guarded
def dropconnect_contraction(fan_in: ArrayLike, fan_out: ArrayLike, *, rate: ArrayLike) -> Array:
  r"""Contraction coefficient of DropConnect on a fan_in × fan_out layer: 1 − p^(fan_in·fan_out).

  .. math::  \eta_{TV} = 1 - p^{d_{in}d_{out}}

  Each of the :math:`d_{in}d_{out}` weights is zeroed independently with probability p. For generic
  weights two inputs with no zero and no common coordinate give a common output only when every weight
  is dropped, so :math:`\eta_{TV} = 1 - p^{d_{in}d_{out}}` (checked by exact enumeration of the masks).
  DropConnect contracts much less than Dropout of the same layer.

  Args:
    fan_in: input width :math:`d_{in}` ≥ 1.
    fan_out: output width :math:`d_{out}` ≥ 1.
    rate: drop probability p ∈ [0, 1].

  Returns:
    η, of the broadcast shape.

  References:
    Wan, Zeiler, Zhang, LeCun & Fergus, *Regularization of neural networks using DropConnect*,
    ICML 2013.
    He, Yu & Goldfeld, arXiv:2404.03176.

  Examples:
    A 2 × 2 layer at p = ½ has four weights, all dropped with probability 1/16:

    >>> from divjax import ib
    >>> print(f"{float(ib.dropconnect_contraction(2, 2, rate=0.5)):.4f}")
    0.9375
  """
  fan_in = _validate.positive("fan_in", fan_in)
  fan_out = _validate.positive("fan_out", fan_out)
  _validate.broadcastable("fan_in", fan_in, "fan_out", fan_out)
  rate = _check_rate(rate)
  fan_in, fan_out, rate = _float(fan_in, fan_out, rate)
  return -jnp.expm1(fan_in * fan_out * _log_rate(rate))


@_validate.guarded
def gaussian_noise_contraction(width: ArrayLike, *, bound: ArrayLike,
                               noise_scale: ArrayLike) -> Array:
  r"""Dobrushin coefficient of Gaussian noise injection after a bounded activation.

  :math:`T = \varphi(WT_{-1}) + \mathcal N(0, s^2I_d)` with :math:`\varphi\in[-R,R]^d`. TV between
  :math:`\mathcal N(a, s^2I)` and :math:`\mathcal N(b, s^2I)` is :math:`2\Phi(\|a-b\|/(2s)) - 1`, and
  :math:`\|a - b\|\le 2R\sqrt d` on the cube, so

  .. math::  \eta_{KL} \le \eta_{TV} = 2\Phi(R\sqrt d/s) - 1 = \operatorname{erf}\bigl(R\sqrt{d/2}/s\bigr).

  Narrower or noisier layers contract more. Computed as :math:`\operatorname{erf}(R\sqrt{d/2}/s)`,
  so values within machine precision of 1 round to 1.

  Args:
    width: d ≥ 1.
    bound: R > 0, the activation bound.
    noise_scale: s > 0.

  Returns:
    η, of the broadcast shape.

  References:
    He, Yu & Goldfeld, arXiv:2404.03176 (Gaussian noise injection).
    Devroye, Mehrabian & Reddad, *The total variation distance between high-dimensional Gaussians*,
    arXiv:1810.08693 (equal covariances: the TV closed form).

  Examples:
    One unit with R = s = 1: 2Φ(1) − 1, the one-sigma probability of a normal:

    >>> from divjax import ib
    >>> print(f"{float(ib.gaussian_noise_contraction(1, bound=1.0, noise_scale=1.0)):.4f}")
    0.6827
  """
  width = _validate.positive("width", width)
  bound = _validate.positive("bound", bound)
  noise_scale = _validate.positive("noise_scale", noise_scale)
  width, bound, noise_scale = _float(width, bound, noise_scale)
  return jax.scipy.special.erf(bound * jnp.sqrt(width / 2.0) / noise_scale)


@_validate.guarded
def contracted_kl_bound(kl: ArrayLike, etas: ArrayLike, *, axis: int = -1) -> Array:
  r"""The contracted layer KL after each further layer: KL times the running product of the η's.

  Applying the SDPI of each noisy layer in turn,

  .. math::  \mathrm{KL}_{l+j} \le \mathrm{KL}_l\prod_{k=1}^{j}\eta_{l+k},

  so depth multiplies contraction (the composition argument is in
  :doc:`/theory/layerwise_bounds`).

  Args:
    kl: the KL at the starting layer, shape ``[...]``.
    etas: contraction coefficients in [0, 1] of the following layers, shape ``[..., J]`` along ``axis``.
    axis: the layer axis of ``etas``.

  Returns:
    ``[..., J]``: the bound after 1, …, J further layers.

  References:
    Polyanskiy & Wu, arXiv:1508.06025, §2 (sub-multiplicativity of η along Markov chains).

  Examples:
    2 · 0.5 = 1, then 1 · 0.5 = 0.5, then 0.5 · 0.8 = 0.4:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> print(np.round(np.asarray(ib.contracted_kl_bound(2.0, jnp.array([0.5, 0.5, 0.8]))), 4))
    [1.  0.5 0.4]
  """
  kl = _validate.nonnegative("kl", kl)
  etas = _validate.nonnegative("etas", etas)
  etas = _validate.interval("etas", etas, lower=0.0, upper=1.0)
  kl, etas = _float(kl, etas)
  return jnp.expand_dims(kl, axis) * jnp.cumprod(etas, axis=axis)


@_validate.guarded
def tv_contraction_coefficient(channel: ArrayLike) -> Array:
  r"""Dobrushin coefficient of a finite channel: the largest TV distance between two of its rows.

  .. math::  \eta_{TV} = \max_{x,x'}\tfrac12\|K_x - K_{x'}\|_1

  It is an upper bound on :math:`\eta_{KL}` for every channel (and equals it for erasure-type channels).

  Args:
    channel: row-stochastic matrix ``[..., m, k]`` (row x = ``K(·|x)``).

  Returns:
    η_TV, shape ``[...]``.

  Raises:
    ValueError: (concrete inputs only) rows that are not probability vectors.

  References:
    Dobrushin, *Central limit theorem for nonstationary Markov chains I*, 1956.

  Examples:
    The binary symmetric channel with crossover ε = 0.2 has η_TV = 1 − 2ε:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> bsc = jnp.array([[0.8, 0.2], [0.2, 0.8]])
    >>> print(f"{float(ib.tv_contraction_coefficient(bsc)):.4f}")
    0.6000
  """
  channel = _validate.probabilities("channel", _validate.as_array(channel), axis=-1)
  _validate.ndim("channel", channel, tuple(range(2, 8)))
  if np.shape(channel)[-2] == 0:
    raise ValueError(f"channel must have at least one input (row), got shape {np.shape(channel)}.")
  (channel,) = _float(channel)
  diff = jnp.abs(channel[..., :, None, :] - channel[..., None, :, :])
  return 0.5 * jnp.max(jnp.sum(diff, axis=-1), axis=(-2, -1))


@_validate.guarded
def kl_contraction_lower_bound(key: Array, channel: ArrayLike, *, num_restarts: int = 16,
                               num_steps: int = 400, learning_rate: float = 0.1) -> Array:
  r"""A lower bound on the KL contraction coefficient η_KL(K), by maximising the KL ratio.

  Maximises :math:`\mathrm{KL}(PK\|QK)/\mathrm{KL}(P\|Q)` over pairs (P, Q) of input distributions,
  parametrised by logits, with Adam from ``num_restarts`` random starts (``vmap``-ed), and returns the
  best ratio reached. Every evaluated ratio is attained by an explicit pair, so in exact arithmetic
  the value is a lower bound on η_KL; with :func:`tv_contraction_coefficient` it brackets η_KL.
  Rounding in the ratio of two small KLs can push the float32 value slightly *above* η_KL (by about
  1e-3 relative on the example below); use float64 where the bound must be certified.

  Args:
    key: PRNG key for the starts.
    channel: row-stochastic matrix ``[m, k]``.
    num_restarts: random starts.
    num_steps: Adam steps per start.
    learning_rate: Adam learning rate.

  Returns:
    Scalar lower bound on η_KL.

  References:
    Ahlswede & Gács, *Spreading of sets in product spaces and hypercontraction of the Markov
    operator*, Ann. Probab. 4, 1976.
    Polyanskiy & Wu, arXiv:1508.06025.

  Examples:
    For the binary symmetric channel η_KL = (1 − 2ε)² = 0.36 (Ahlswede & Gács), strictly below
    η_TV = 0.6:

    >>> import jax, jax.numpy as jnp
    >>> from divjax import ib
    >>> bsc = jnp.array([[0.8, 0.2], [0.2, 0.8]])
    >>> eta = ib.kl_contraction_lower_bound(jax.random.key(0), bsc, num_restarts=4, num_steps=300)
    >>> print(f"{float(eta):.2f}")
    0.36
  """
  channel = _validate.probabilities("channel", _validate.as_array(channel), axis=-1)
  _validate.ndim("channel", channel, 2)
  if np.shape(channel)[-2] == 0:
    raise ValueError(f"channel must have at least one input (row), got shape {np.shape(channel)}.")
  _validate.integer("num_restarts", num_restarts, minimum=1)
  _validate.integer("num_steps", num_steps, minimum=1)
  learning_rate = _validate.positive_scalar("learning_rate", learning_rate)
  (channel,) = _float(channel)
  return _kl_ratio_search(key, channel, num_restarts, num_steps, learning_rate)


@jax.jit(static_argnums=(2, 3, 4))
@_validate.kernel
def _kl_ratio_search(key: Array, channel: Array, num_restarts: int, num_steps: int,
                     learning_rate: float) -> Array:
  m = channel.shape[0]
  log_k = jnp.log(channel)

  def ratio(params):
    lp, lq = jax.nn.log_softmax(params[0]), jax.nn.log_softmax(params[1])
    out_p = jax.nn.logsumexp(lp[:, None] + log_k, axis=0)
    out_q = jax.nn.logsumexp(lq[:, None] + log_k, axis=0)
    num = kl_divergence(out_p, out_q, logits=True)
    den = kl_divergence(lp, lq, logits=True)
    return num / jnp.maximum(den, 1e-12)

  opt = optax.adam(learning_rate)

  def solve(k):
    params = 3.0 * jax.random.normal(k, (2, m), channel.dtype)

    def step(carry, _):
      params, state, best = carry
      value, grad = jax.value_and_grad(ratio)(params)
      best = jnp.maximum(best, jnp.where(jnp.isfinite(value), value, 0.0))
      updates, state = opt.update(jax.tree_util.tree_map(jnp.negative, grad), state)
      return (optax.apply_updates(params, updates), state, best), None

    init = (params, opt.init(params), jnp.zeros((), channel.dtype))
    (params, _, best), _ = jax.lax.scan(step, init, None, length=num_steps)
    final = ratio(params)
    return jnp.maximum(best, jnp.where(jnp.isfinite(final), final, 0.0))

  return jnp.max(jax.vmap(solve)(jax.random.split(key, num_restarts)))
