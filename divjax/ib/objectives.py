r"""Information-bottleneck training objectives: variational IB and Cauchy–Schwarz IB.

Both are pure functions of arrays (plus, for VIB, a decoder callable), so they sit inside any
``loss_fn(params, ...)`` built with flax and differentiated with ``jax.grad`` for optax. Each returns
``(loss, IBLossInfo)``, the info carrying the two terms separately for logging and information planes.

Symbols: x inputs, y targets, t the bottleneck representation, ŷ = g(t) the decoder output, β ≥ 0 the
weight of the compression term.

* **VIB** (Alemi et al. 2017): encoder :math:`p(t|x) = \mathcal N(\mu(x), \operatorname{diag}\sigma^2(x))`,
  prior :math:`r(t) = \mathcal N(0, I)`; per sample
  :math:`\mathbb E_\varepsilon[-\log q(y\,|\,t = \mu + \sigma\odot\varepsilon)]
  + \beta\,\mathrm{KL}(p(t|x)\,\|\,r(t))`. Since :math:`I(X;T) \le \mathbb E_x\mathrm{KL}(p(t|x)\|r)`
  and :math:`I(T;Y) \ge H(Y) + \mathbb E\log q(y|t)`, it upper-bounds :math:`H(Y) + \beta I(X;T) -
  I(T;Y)`: Tishby's Lagrangian with :math:`\beta_{\text{Tishby}} = 1/\beta`.
* **CS-IB** (Yu et al. 2024): :math:`\hat D_{CS}(p(y|x)\,\|\,q(\hat y|x)) + \beta\,\hat I_{CS}(x;t)`,
  the conditional CS divergence as prediction term and the CS quadratic mutual information as
  compression term (:mod:`divjax.ib.cauchy_schwarz`); no variational bound, no sampling.

Why the VIB optimum with a fixed N(0, I) prior lies below the Gaussian IB curve, and how both
losses are checked against that curve: :doc:`/theory/information_bottleneck`.

References:
  Alemi, Fischer, Dillon & Murphy, *Deep variational information bottleneck*, ICLR 2017,
  arXiv:1612.00410.
  Yu, Yu, Løkse, Jenssen & Príncipe, *Cauchy–Schwarz divergence information bottleneck for
  regression*, ICLR 2024, arXiv:2404.17951.
"""

from __future__ import annotations

from typing import Callable, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate
from divjax.ib import cauchy_schwarz as _cs

__all__ = [
    "IBLossInfo",
    "diagonal_gaussian_kl_to_standard_normal",
    "reparameterize",
    "vib_loss",
    "cs_ib_loss",
]

Array = jax.Array
ArrayLike = jax.typing.ArrayLike


class IBLossInfo(NamedTuple):
  """The two terms of an IB loss (scalars, batch means).

  Attributes:
    prediction: the prediction term (VIB: mean negative log-likelihood; CS-IB: conditional CS).
    compression: the compression term before weighting (VIB: mean KL to the prior, an upper bound on
      I(X;T); CS-IB: the CS-QMI estimate of I_CS(x;t)).

  Examples:
    Perfect predictions and a representation that copies a two-valued input: prediction 0,
    compression log 2 (one bit):

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> x = jnp.array([[0.0], [10.0]])
    >>> _, info = ib.cs_ib_loss(x, x, x, x, beta=0.5, sigma_x=1.0, sigma_y=1.0, sigma_t=1.0)
    >>> print(f"{float(info.prediction):.4f} {float(info.compression):.4f}")
    0.0000 0.6931
  """
  prediction: Array
  compression: Array


def _beta(beta: ArrayLike) -> Array:
  beta = _validate.not_nan("beta", beta)
  if np.ndim(beta) != 0:
    raise ValueError(f"beta must be a scalar, got shape {np.shape(beta)}.")
  if _validate.is_concrete(beta) and float(np.asarray(beta)) < 0:
    raise ValueError(f"beta must be >= 0, got {float(np.asarray(beta))!r}.")
  return jnp.asarray(_validate.traced_check(beta, lambda b: b >= 0, "beta must be >= 0."))


@_validate.guarded
def diagonal_gaussian_kl_to_standard_normal(mean: ArrayLike, log_var: ArrayLike) -> Array:
  r"""KL of a diagonal Gaussian to the standard normal, per sample.

  .. math::  \mathrm{KL}(\mathcal N(\mu, \operatorname{diag}e^{s})\,\|\,\mathcal N(0, I))
             = \tfrac12\sum_k\bigl(\mu_k^2 + e^{s_k} - 1 - s_k\bigr),

  with :math:`e^{s}-1-s` computed as ``expm1(s) - s`` (no cancellation near s = 0).

  Args:
    mean: μ, ``[..., k]``.
    log_var: s = log σ², broadcastable against ``mean``.

  Returns:
    ``[...]`` KL in nats, ≥ 0.

  References:
    Kingma & Welling, *Auto-encoding variational Bayes*, ICLR 2014, arXiv:1312.6114, appendix B.

  Examples:
    A unit mean shift gives ½; a variance of 2 gives ½(2 − 1 − log 2):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> mean = jnp.array([[1.0, 0.0], [0.0, 0.0]])
    >>> log_var = jnp.log(jnp.array([[1.0, 1.0], [2.0, 1.0]]))
    >>> print(np.round(np.asarray(ib.diagonal_gaussian_kl_to_standard_normal(mean, log_var)), 4))
    [0.5    0.1534]
  """
  mean = _validate.finite("mean", mean)
  log_var = _validate.finite("log_var", log_var)
  _validate.broadcastable("mean", mean, "log_var", log_var)
  mean, log_var = jnp.asarray(mean), jnp.asarray(log_var)
  return 0.5 * jnp.sum(mean**2 + jnp.expm1(log_var) - log_var, axis=-1)


@_validate.guarded
def reparameterize(key: Array, mean: ArrayLike, log_var: ArrayLike, *,
                   num_samples: int = 1) -> Array:
  r"""Reparameterised Gaussian samples t = μ + σ ⊙ ε with ε ~ N(0, I).

  .. math::  t = \mu + e^{s/2}\odot\varepsilon,\qquad s = \log\sigma^2.

  Args:
    key: PRNG key.
    mean: μ, ``[..., k]``.
    log_var: log σ², broadcastable against ``mean``.
    num_samples: number of draws S ≥ 1.

  Returns:
    ``[S, ..., k]`` samples, differentiable in ``mean`` and ``log_var``.

  References:
    Kingma & Welling, ICLR 2014, arXiv:1312.6114.

  Examples:
    Sample moments of 10 000 draws from N(1, 0.5²) and N(−2, 2²):

    >>> import jax, jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> t = ib.reparameterize(jax.random.key(0), jnp.array([1.0, -2.0]),
    ...                       jnp.log(jnp.array([0.25, 4.0])), num_samples=10_000)
    >>> t.shape
    (10000, 2)
    >>> print(np.round(np.asarray(t.mean(axis=0)), 1), np.round(np.asarray(t.std(axis=0)), 1))
    [ 1. -2.] [0.5 2. ]
  """
  num_samples = _validate.integer("num_samples", num_samples, minimum=1)
  mean, log_var = _validate.as_array(mean), _validate.as_array(log_var)
  _validate.broadcastable("mean", mean, "log_var", log_var)
  mean = jnp.asarray(_validate.finite("mean", mean))
  log_var = jnp.asarray(_validate.finite("log_var", log_var))
  shape = (num_samples,) + jnp.broadcast_shapes(mean.shape, log_var.shape)
  eps = jax.random.normal(key, shape, dtype=jnp.result_type(mean, log_var, float))
  return mean + jnp.exp(0.5 * log_var) * eps


@_validate.guarded
def vib_loss(key: Array, mean: ArrayLike, log_var: ArrayLike,
             negative_log_likelihood: Callable[[Array], Array], *, beta: ArrayLike,
             num_samples: int = 1) -> tuple[Array, IBLossInfo]:
  r"""The variational information bottleneck loss (batch mean).

  .. math::  \mathcal L = \frac1n\sum_{i}\Bigl[\frac1S\sum_{s}-\log q(y_i\,|\,t_i^{(s)})
             + \beta\,\mathrm{KL}\bigl(\mathcal N(\mu_i,\operatorname{diag}\sigma_i^2)\,\|\,
             \mathcal N(0,I)\bigr)\Bigr],\qquad t_i^{(s)} = \mu_i + \sigma_i\odot\varepsilon^{(s)}_i.

  Args:
    key: PRNG key for the reparameterised draws.
    mean: encoder means μ(x), ``[n, k]``.
    log_var: encoder log-variances log σ²(x), ``[n, k]``.
    negative_log_likelihood: maps sampled representations ``[S, n, k]`` to per-sample
      :math:`-\log q(y_i|t)` of shape ``[S, n]`` (a closure over the decoder parameters and the
      targets, so gradients reach the decoder).
    beta: weight β ≥ 0 of the compression term.
    num_samples: S, reparameterised draws per input.

  Returns:
    ``(loss, IBLossInfo(prediction=mean NLL, compression=mean KL))``.

  Raises:
    ValueError: (concrete inputs) β < 0, non-finite encoder outputs, S < 1.

  References:
    Alemi, Fischer, Dillon & Murphy, *Deep variational information bottleneck*, ICLR 2017,
    arXiv:1612.00410.

  Examples:
    Encoder N(±1, 1): the KL to N(0, I) is ½ per sample. A Gaussian decoder centred on μ has
    expected NLL :math:`\mathbb E\,\tfrac12\varepsilon^2 = \tfrac12` (here a Monte-Carlo mean):

    >>> import jax, jax.numpy as jnp
    >>> from divjax import ib
    >>> mean, log_var = jnp.array([[1.0], [-1.0]]), jnp.zeros((2, 1))
    >>> nll = lambda t: 0.5 * jnp.sum((t - mean) ** 2, axis=-1)
    >>> loss, info = ib.vib_loss(jax.random.key(0), mean, log_var, nll, beta=0.1, num_samples=1000)
    >>> print(f"{float(info.compression):.4f} {float(info.prediction):.1f}")
    0.5000 0.5
  """
  beta = _beta(beta)
  kl = diagonal_gaussian_kl_to_standard_normal(mean, log_var)
  t = reparameterize(key, mean, log_var, num_samples=num_samples)
  nll = jnp.mean(negative_log_likelihood(t))
  compression = jnp.mean(kl)
  return nll + beta * compression, IBLossInfo(nll, compression)


@_validate.guarded
def cs_ib_loss(x: ArrayLike, y: ArrayLike, y_pred: ArrayLike, t: ArrayLike, *, beta: ArrayLike,
               sigma_x: ArrayLike, sigma_y: ArrayLike, sigma_t: ArrayLike,
               denominator: Literal["kde", "code"] = "kde") -> tuple[Array, IBLossInfo]:
  r"""The Cauchy–Schwarz information bottleneck loss on one batch.

  .. math::  \mathcal L = \hat D_{CS}\bigl(p(y|x)\,\|\,q(\hat y|x)\bigr) + \beta\,\hat I_{CS}(x;t),

  :func:`~divjax.ib.conditional_cs_divergence` (conditioned on the *input* x, as in the
  paper's code) plus β times :func:`~divjax.ib.cs_qmi`. Targets ``[n]`` and ``[n, 1]``
  give the same value (the upstream script's ``[n]`` targets turn its prediction term into SSE/ln 2).

  Args:
    x: inputs ``[n, d_x]``.
    y: targets ``[n, d_y]`` or ``[n]``.
    y_pred: decoder outputs, same shape rules as ``y``.
    t: representations ``[n, k]``.
    beta: β ≥ 0.
    sigma_x, sigma_y, sigma_t: kernel widths > 0 (σ_x is used by both terms).
    denominator: ``"kde"`` (the plug-in) or ``"code"`` (the public code's), see
      :func:`~divjax.ib.conditional_cs_divergence`.

  Returns:
    ``(loss, IBLossInfo(prediction=D̂_CS, compression=Î_CS))``.

  Raises:
    ValueError: (concrete inputs) β < 0, widths ≤ 0, different sample counts.

  References:
    Yu, Yu, Løkse, Jenssen & Príncipe, *Cauchy–Schwarz divergence information bottleneck for
    regression*, ICLR 2024, arXiv:2404.17951.

  Examples:
    Perfect predictions (prediction term 0) and t a copy of a two-valued x (CS-QMI log 2):
    the loss is β log 2:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> x = jnp.array([[0.0], [10.0]])
    >>> loss, _ = ib.cs_ib_loss(x, x, x, x, beta=0.5, sigma_x=1.0, sigma_y=1.0, sigma_t=1.0)
    >>> print(f"{float(loss):.4f}")
    0.3466
  """
  beta = _beta(beta)
  prediction = _cs.conditional_cs_divergence(x, y, y_pred, sigma_x=sigma_x, sigma_y=sigma_y,
                                             denominator=denominator)
  compression = _cs.cs_qmi(x, t, sigma_x=sigma_x, sigma_t=sigma_t)
  return prediction + beta * compression, IBLossInfo(prediction, compression)
