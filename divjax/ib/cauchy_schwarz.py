r"""Cauchy–Schwarz divergence and quadratic mutual information: closed forms and Gram estimators.

Convention (divjax's one CS convention, that of the CS-IB paper): for densities p, q on
:math:`\mathbb R^d`

.. math::  D_{CS}(p\,\|\,q) = -\log\frac{(\int pq)^2}{\int p^2\int q^2}
           = -2\log\!\int pq + \log\!\int p^2 + \log\!\int q^2 \;\ge 0,

zero iff p = q, symmetric, and invariant to rescaling either density. Every CS function of divjax
follows it: :func:`divjax.divergences.cauchy_schwarz_divergence` (discrete),
:func:`divjax.divergences.gaussian_cauchy_schwarz_divergence` (Gaussian closed form) and the functions
below; ``tests/test_conventions.py`` checks that they agree on one pair of Gaussians. It is **twice**
Jenssen et al.'s (2006) and Principe's :math:`-\log(\int pq/\sqrt{\int p^2\int q^2})`; the factor 2
makes :math:`D_{CS} = \mathrm{KL}` for two Gaussians with equal covariance.

Symbols, defined once:

* :math:`\kappa_\sigma(a, b) = \exp(-\|a-b\|^2/(2\sigma^2))`, the *unnormalised* Gaussian kernel of
  width σ; Gram matrices :math:`K_{ij} = \kappa_{\sigma}(x_i, x_j)` are handled as log-kernels
  :math:`\log K_{ij} = -\|x_i - x_j\|^2/(2\sigma^2)` and summed with ``logsumexp``, so small widths never
  underflow to :math:`\log 0`;
* samples are ``[n, d]`` arrays; a ``[n]`` array is one-dimensional data, identical to ``[n, 1]``
  (the upstream CS-IB code broadcasts ``[n]`` targets into constant Gram matrices, which turns its
  loss into SSE/ln 2; here both shapes give the same value);
* every estimator is a V-statistic (diagonal terms included) and converges, as the sample sizes grow
  at fixed σ, to the population quantity between the **Gaussian-smoothed** densities
  :math:`p * \mathcal N(0, \tfrac{\sigma^2}{2}I)` — not to the quantity between p and q themselves.
  The closed forms take ``kernel_width`` to give that limit for Gaussians.

Memory: the Gram routines form ``[n, m, d]`` differences, O(n m d); intended for minibatches and
moderate sample sizes (a few thousand points in low dimension).

Validation: on concrete inputs, kernel widths must be positive finite scalars, samples finite 1-D or
2-D arrays with matching dimensions, and paired arrays must have the same number of samples, else
``ValueError`` naming the argument. Under ``jit``/``vmap``/``grad`` the checks are skipped.

The derivations (the Gaussian closed forms, the smoothed large-sample limits, the two conditional
denominators) and how each is tested are on the theory page :doc:`/theory/information_bottleneck`.

References:
  Yu, Yu, Løkse, Jenssen & Príncipe, *Cauchy–Schwarz divergence information bottleneck for
  regression*, ICLR 2024, arXiv:2404.17951.
  Yu, Li, Løkse, Jenssen & Príncipe, *Conditional Cauchy–Schwarz divergence with applications to
  time-series data and sequential decision making*, arXiv:2301.08970.
  Jenssen, Príncipe, Erdogmus & Eltoft, *The Cauchy–Schwarz divergence and Parzen windowing:
  connections to graph theory and Mercer kernels*, J. Franklin Inst. 343, 2006.
  Príncipe, *Information Theoretic Learning*, Springer, 2010.
"""

from __future__ import annotations

import math
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _deprecation, _validate
from divjax.divergences import gaussian_cauchy_schwarz_divergence

__all__ = [
    "log_gram",
    "cs_divergence",
    "gaussian_cs_divergence",
    "conditional_cs_divergence",
    "cs_qmi",
    "cs_qmi_normalized",
    "gaussian_cs_qmi",
]

Array = jax.Array
ArrayLike = jax.typing.ArrayLike


# ---------------------------------------------------------------------------------------------------
# Shared pieces.


def _samples(name: str, x: ArrayLike) -> Array:
  """Validates samples and returns them as a float ``[n, d]`` array (``[n]`` → ``[n, 1]``)."""
  x = np.asarray(x) if isinstance(x, (list, tuple)) else x
  x = _validate.finite(name, x)
  _validate.ndim(name, x, (1, 2))
  if np.shape(x)[0] == 0:
    raise ValueError(f"{name} must hold at least one sample, got shape {np.shape(x)}.")
  x = jnp.asarray(x)
  x = x.astype(jnp.result_type(x, float))
  return x[:, None] if x.ndim == 1 else x


def _width(name: str, sigma: ArrayLike) -> Array:
  sigma = _validate.positive_scalar(name, sigma)
  sigma = jnp.asarray(sigma)
  if _validate.is_concrete(sigma):
    dtype = jnp.result_type(sigma, float)
    if float(jnp.asarray(sigma, dtype)) ** 2 < float(jnp.finfo(dtype).tiny):
      raise ValueError(f"{name} must be at least {float(np.sqrt(jnp.finfo(dtype).tiny)):.3g} in "
                       f"{dtype} (its square underflows: every kernel value would be 0/0), got "
                       f"{float(sigma)!r}.")
  return sigma


def _same_count(name_a: str, a: Array, name_b: str, b: Array) -> None:
  if a.shape[0] != b.shape[0]:
    raise ValueError(f"{name_a} and {name_b} must have the same number of samples, got "
                     f"{a.shape[0]} and {b.shape[0]}.")


def _same_dim(name_a: str, a: Array, name_b: str, b: Array) -> None:
  if a.shape[1] != b.shape[1]:
    raise ValueError(f"{name_a} and {name_b} must have the same dimension, got {a.shape[1]} and "
                     f"{b.shape[1]}.")


def _log_gram(x: Array, y: Array, sigma: Array) -> Array:
  diff = x[:, None, :] - y[None, :, :]
  dtype = jnp.result_type(x, y, sigma)
  return (-jnp.sum(diff * diff, axis=-1) / (2.0 * sigma**2)).astype(dtype)


def _log_mean(log_k: Array) -> Array:
  """log of the mean of exp(log_k) over all entries."""
  return jax.nn.logsumexp(log_k) - math.log(log_k.size)


# ---------------------------------------------------------------------------------------------------
# Public functions.


@_validate.guarded
def log_gram(x: ArrayLike, y: ArrayLike, *, sigma: ArrayLike) -> Array:
  r"""Log of the Gaussian Gram matrix between two sample sets.

  .. math::  \log K_{ij} = \log\kappa_\sigma(x_i, y_j) = -\frac{\|x_i - y_j\|^2}{2\sigma^2}

  Args:
    x: samples, shape ``[n, d]`` or ``[n]``.
    y: samples, shape ``[m, d]`` or ``[m]``.
    sigma: kernel width σ > 0 (scalar).

  Returns:
    ``[n, m]`` log-kernel values (≤ 0).

  References:
    Jenssen et al., *The Cauchy–Schwarz divergence and Parzen windowing*, J. Franklin Inst. 2006.

  Examples:
    The entries are :math:`-\|x_i - y_j\|^2/(2\sigma^2)`:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> log_k = ib.log_gram(jnp.array([0.0, 1.0]), jnp.array([2.0, 3.0]), sigma=1.0)
    >>> print(np.round(np.asarray(log_k), 4))
    [[-2.  -4.5]
     [-0.5 -2. ]]
  """
  x, y = _samples("x", x), _samples("y", y)
  _same_dim("x", x, "y", y)
  return _log_gram(x, y, _width("sigma", sigma))


@_validate.guarded
def cs_divergence(x: ArrayLike, y: ArrayLike, *, sigma: ArrayLike) -> Array:
  r"""Gram-matrix (Parzen) estimator of the Cauchy–Schwarz divergence from samples.

  With :math:`x_1..x_n \sim p`, :math:`y_1..y_m \sim q` and :math:`\kappa_\sigma` as in the module
  docstring,

  .. math::  \hat D_{CS} = \log\frac{1}{n^2}\sum_{ij}\kappa(x_i,x_j)
             + \log\frac{1}{m^2}\sum_{ij}\kappa(y_i,y_j) - 2\log\frac{1}{nm}\sum_{ij}\kappa(x_i,y_j)
             = -2\log\cos\angle(\mu_P, \mu_Q),

  the angle between the kernel mean embeddings (MMD² is :math:`\|\mu_P-\mu_Q\|^2`). A V-statistic, ≥ 0
  for every sample (the kernel is positive definite), independent of the kernel's normalising
  constant. As n, m → ∞ it converges to :math:`D_{CS}(p * \mathcal N(0,\tfrac{\sigma^2}{2}I),\,
  q * \mathcal N(0,\tfrac{\sigma^2}{2}I))`; see :func:`gaussian_cs_divergence` with
  ``kernel_width=sigma`` for Gaussians.

  Args:
    x: samples of p, ``[n, d]`` (or ``[n]`` for d = 1).
    y: samples of q, ``[m, d]`` (or ``[m]``).
    sigma: kernel width σ > 0.

  Returns:
    The estimate in nats, a scalar. Computed from log-sum-exp Gram sums: finite with finite
    gradients for any σ > 0.

  Raises:
    ValueError: (concrete inputs) non-finite samples, mismatched dimensions, σ ≤ 0.

  References:
    Jenssen et al., J. Franklin Inst. 343, 2006; Yu et al., *Cauchy–Schwarz divergence information
    bottleneck for regression*, ICLR 2024, arXiv:2404.17951.

  Examples:
    With one sample on each side the estimate is :math:`\|x - y\|^2/\sigma^2`; identical samples
    give 0:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> print(f"{float(ib.cs_divergence(jnp.array([[0.0]]), jnp.array([[1.0]]), sigma=1.0)):.4f}")
    1.0000
    >>> x = jnp.array([0.0, 0.5, 2.0])
    >>> print(f"{float(ib.cs_divergence(x, x, sigma=1.0)):.4f}")
    0.0000
  """
  x, y = _samples("x", x), _samples("y", y)
  _same_dim("x", x, "y", y)
  sigma = _width("sigma", sigma)
  return (_log_mean(_log_gram(x, x, sigma)) + _log_mean(_log_gram(y, y, sigma))
          - 2.0 * _log_mean(_log_gram(x, y, sigma)))


@_validate.guarded
def gaussian_cs_divergence(mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike,
                           cov_q: ArrayLike, *, kernel_width: ArrayLike | None = None) -> Array:
  r"""Closed-form Cauchy–Schwarz divergence between two Gaussians, optionally kernel-smoothed.

  With :math:`\delta = \mu_p - \mu_q`,

  .. math::  D_{CS} = \delta^\top(\Sigma_p+\Sigma_q)^{-1}\delta
             + \log\det\tfrac{\Sigma_p+\Sigma_q}{2} - \tfrac12\log\det\Sigma_p
             - \tfrac12\log\det\Sigma_q,

  from :math:`\int pq = \mathcal N(\mu_p;\mu_q,\Sigma_p+\Sigma_q)` and
  :math:`\int p^2 = (4\pi)^{-d/2}\det\Sigma_p^{-1/2}`. Equals KL when :math:`\Sigma_p = \Sigma_q` and
  is at most :math:`\tfrac12(\mathrm{KL}(p\|q)+\mathrm{KL}(q\|p))` in general; it is *not* bounded by
  the one-sided KL (p = N(3, 0.01), q = N(0, 1): :math:`D_{CS} = 10.53 > \mathrm{KL} = 6.31`).

  With ``kernel_width=σ`` both covariances get :math:`+\tfrac{\sigma^2}{2}I`: the large-sample limit
  of :func:`cs_divergence` with that kernel width.

  Args:
    mean_p, cov_p, mean_q, cov_q: as in :func:`divjax.divergences.gaussian_cauchy_schwarz_divergence`
      (means ``[..., d]``, covariances ``[..., d, d]``, batch shapes broadcast).
    kernel_width: optional σ > 0 of the Gram estimator whose limit is wanted.

  Returns:
    The divergence in nats, shape ``[...]``. Without ``kernel_width`` it is
    :func:`divjax.divergences.gaussian_cauchy_schwarz_divergence` (the same convention).

  References:
    Kampa, Hasanbelliu & Príncipe, *Closed-form Cauchy–Schwarz PDF divergence for mixture of
    Gaussians*, IJCNN 2011; Yu et al., ICLR 2024, arXiv:2404.17951.

  Examples:
    N(0, 1) against N(1.5, 0.7²): :math:`2.25/1.49 + \log 0.745 - \tfrac12\log 0.49 = 1.5724` (the
    tests check it against quadrature), the value of the divergences closed form:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences, ib
    >>> args = (jnp.zeros(1), jnp.eye(1), jnp.array([1.5]), jnp.array([[0.49]]))
    >>> print(f"{float(ib.gaussian_cs_divergence(*args)):.4f}")
    1.5724
    >>> print(f"{float(divergences.gaussian_cauchy_schwarz_divergence(*args)):.4f}")
    1.5724
  """
  if kernel_width is not None:
    sigma = _width("kernel_width", kernel_width)
    d = np.shape(mean_p)[-1] if np.ndim(mean_p) else 1
    cov_p = _validate.covariance("cov_p", cov_p, d)
    cov_q = _validate.covariance("cov_q", cov_q, d)
    smooth = 0.5 * sigma**2 * jnp.eye(d)
    cov_p = jnp.asarray(cov_p) + smooth
    cov_q = jnp.asarray(cov_q) + smooth
  return gaussian_cauchy_schwarz_divergence(mean_p, cov_p, mean_q, cov_q)


@_validate.guarded
def conditional_cs_divergence(x: ArrayLike, y: ArrayLike, y_pred: ArrayLike, *,
                              sigma_x: ArrayLike, sigma_y: ArrayLike,
                              denominator: Literal["kde", "code"] = "kde") -> Array:
  r"""Estimator of the conditional CS divergence between p(y|x) and q(ŷ|x), CS-IB's prediction term.

  It estimates :math:`D_{CS}(p(y|x)\,\|\,q(\hat y|x))`. Population quantity:
  :math:`-2\log\iint p(y|x)q(y|x) + \log\iint p(y|x)^2 + \log\iint q(y|x)^2`. With
  :math:`K_{ji} = \kappa_{\sigma_x}(x_j, x_i)`, :math:`L^1_{ji} = \kappa_{\sigma_y}(y_j, y_i)`,
  :math:`L^2_{ji} = \kappa_{\sigma_y}(\hat y_j, \hat y_i)` and the cross kernel
  :math:`L^{21}_{ji} = \kappa_{\sigma_y}(y_j, \hat y_i)`,

  .. math::  \hat D_{CS} = \log\sum_j\frac{\sum_i K_{ji}L^1_{ji}}{d_j}
             + \log\sum_j\frac{\sum_i K_{ji}L^2_{ji}}{d_j}
             - 2\log\sum_j\frac{\sum_i K_{ji}L^{21}_{ji}}{d_j}.

  ``denominator="kde"`` (default) uses :math:`d_j = (\sum_i K_{ji})^2`, the plug-in of
  :math:`\iint p(y|x)q(y|x) = \mathbb E_{p(x,y)}[q(x,y)/p(x)^2]` with kernel density estimates;
  ``"code"`` uses :math:`d_j = \sum_i K_{ji}^2`, what the public CS-IB code computes (for fidelity
  runs). The two differ at finite widths.

  Properties: exactly 0 when :math:`\hat y = y`; invariant to permuting the samples jointly; can be
  slightly negative at finite n. As :math:`\sigma_x \to 0`, K → I and the estimator becomes the
  correntropy loss :math:`-2\log\frac1n\sum_j\kappa_{\sigma_y}(y_j - \hat y_j)`, to second order
  :math:`\mathrm{MSE}/\sigma_y^2` (for scalar targets).

  Args:
    x: inputs, ``[n, d_x]`` or ``[n]``.
    y: targets, ``[n, d_y]`` or ``[n]`` (same value for ``[n]`` and ``[n, 1]``).
    y_pred: predictions, same shape rules as ``y``.
    sigma_x: kernel width on x, > 0.
    sigma_y: kernel width on y and ŷ, > 0.
    denominator: ``"kde"`` or ``"code"``, see above.

  Returns:
    The estimate in nats, a scalar (log-sum-exp throughout: finite gradients for small widths).

  Raises:
    ValueError: (concrete inputs) widths ≤ 0, different sample counts, ``y`` and ``y_pred`` of
      different dimension, an unknown ``denominator``.

  References:
    Yu et al., *Cauchy–Schwarz divergence information bottleneck for regression*, ICLR 2024,
    arXiv:2404.17951 (Proposition 1); Yu et al., *Conditional Cauchy–Schwarz divergence*,
    arXiv:2301.08970.

  Examples:
    Perfect predictions give 0. With a tiny σ_x the estimate is the correntropy loss, here
    :math:`-2\log e^{-0.1^2/2} = 0.01` for a constant residual 0.1 and σ_y = 1:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> x, y = jnp.array([0.0, 1.0, 2.0, 3.0]), jnp.array([0.0, 1.0, 4.0, 9.0])
    >>> print(f"{float(ib.conditional_cs_divergence(x, y, y, sigma_x=1.0, sigma_y=1.0)):.4f}")
    0.0000
    >>> print(f"{float(ib.conditional_cs_divergence(x, y, y + 0.1, sigma_x=1e-3, sigma_y=1.0)):.4f}")
    0.0100
  """
  if denominator not in ("kde", "code"):
    raise ValueError(f"denominator must be 'kde' or 'code', got {denominator!r}.")
  x, y, y_pred = _samples("x", x), _samples("y", y), _samples("y_pred", y_pred)
  _same_count("x", x, "y", y)
  _same_count("y", y, "y_pred", y_pred)
  _same_dim("y", y, "y_pred", y_pred)
  sigma_x, sigma_y = _width("sigma_x", sigma_x), _width("sigma_y", sigma_y)
  log_k = _log_gram(x, x, sigma_x)
  if denominator == "kde":
    log_d = 2.0 * jax.nn.logsumexp(log_k, axis=1)
  else:
    log_d = jax.nn.logsumexp(2.0 * log_k, axis=1)

  def log_term(log_l):
    return jax.nn.logsumexp(jax.nn.logsumexp(log_k + log_l, axis=1) - log_d)

  return (log_term(_log_gram(y, y, sigma_y)) + log_term(_log_gram(y_pred, y_pred, sigma_y))
          - 2.0 * log_term(_log_gram(y, y_pred, sigma_y)))


def _cs_qmi_from_log_grams(log_k: Array, log_q: Array) -> Array:
  n = log_k.shape[0]
  log_joint = jax.nn.logsumexp(log_k + log_q) - 2.0 * math.log(n)
  log_marginals = jax.nn.logsumexp(log_k) + jax.nn.logsumexp(log_q) - 4.0 * math.log(n)
  log_cross = (jax.nn.logsumexp(jax.nn.logsumexp(log_k, axis=1) + jax.nn.logsumexp(log_q, axis=1))
               - 3.0 * math.log(n))
  return log_joint + log_marginals - 2.0 * log_cross


@_validate.guarded
def cs_qmi(x: ArrayLike, t: ArrayLike, *, sigma_x: ArrayLike, sigma_t: ArrayLike) -> Array:
  r"""Gram-matrix estimator of the Cauchy–Schwarz quadratic mutual information of x and t.

  :math:`I_{CS}(x;t) = D_{CS}(p(x,t)\,\|\,p(x)p(t))`, zero iff x ⫫ t. With
  :math:`K = [\kappa_{\sigma_x}(x_i,x_j)]`, :math:`Q = [\kappa_{\sigma_t}(t_i,t_j)]` and
  :math:`\mathbf 1` = ones(n),

  .. math::  \hat I_{CS} = \log\frac{\operatorname{tr}(KQ)}{n^2}
             + \log\frac{\mathbf 1^\top K\mathbf 1\;\mathbf 1^\top Q\mathbf 1}{n^4}
             - 2\log\frac{\mathbf 1^\top KQ\mathbf 1}{n^3},

  O(n²) per term (:math:`\operatorname{tr}(KQ) = \sum_{ij}K_{ij}Q_{ij}`,
  :math:`\mathbf 1^\top KQ\mathbf 1 = \sum_i (K\mathbf 1)_i(Q\mathbf 1)_i`): the HSIC terms
  :math:`V_J, V_M, V_c`, so :math:`\hat I_{CS} = -2\log\cos\angle(\mu_{XT}, \mu_X\otimes\mu_T)`. As
  n → ∞ it converges to :func:`gaussian_cs_qmi` of the joint law smoothed by
  :math:`\operatorname{diag}(\tfrac{\sigma_x^2}{2}I, \tfrac{\sigma_t^2}{2}I)` (for Gaussians).

  Args:
    x: ``[n, d_x]`` or ``[n]``.
    t: ``[n, d_t]`` or ``[n]``, paired with ``x``.
    sigma_x: kernel width on x, > 0.
    sigma_t: kernel width on t, > 0.

  Returns:
    The estimate in nats, a scalar, ≥ 0 up to rounding.

  Raises:
    ValueError: (concrete inputs) widths ≤ 0, different sample counts, non-finite samples.

  References:
    Yu et al., ICLR 2024, arXiv:2404.17951 (Proposition 2); Príncipe, *Information Theoretic
    Learning*, 2010, ch. 2; Gretton et al., *Measuring statistical dependence with Hilbert–Schmidt
    norms*, ALT 2005.

  Examples:
    t is a copy of x, which takes two well-separated values: the joint law is a fair bit paired
    with itself, and :math:`-2\log\tfrac14 + \log\tfrac12 + \log\tfrac14 = \log 2`:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> x = jnp.array([0.0, 10.0])
    >>> print(f"{float(ib.cs_qmi(x, x, sigma_x=1.0, sigma_t=1.0)):.4f}")
    0.6931
  """
  x, t = _samples("x", x), _samples("t", t)
  _same_count("x", x, "t", t)
  sigma_x, sigma_t = _width("sigma_x", sigma_x), _width("sigma_t", sigma_t)
  return _cs_qmi_from_log_grams(_log_gram(x, x, sigma_x), _log_gram(t, t, sigma_t))


@_validate.guarded
def cs_qmi_normalized(x: ArrayLike, t: ArrayLike, *, sigma_x: ArrayLike,
                      sigma_t: ArrayLike) -> Array:
  r"""The normalised CS-QMI that the public CS-IB code penalises (fidelity runs only).

  .. math::  \frac{\hat I_{CS}(x;t)}{\sqrt{\hat I_{CS}(x;x)\,\hat I_{CS}(t;t)}}

  with the same width on both copies of a variable. Unit-free (the code's log base 2 cancels) but
  **not bounded by 1**: values above 1 occur.

  Args:
    x, t, sigma_x, sigma_t: as in :func:`cs_qmi`.

  Returns:
    A scalar.

  References:
    Yu et al., ICLR 2024, arXiv:2404.17951; public code SJYuCNEL/Cauchy-Schwarz-Information-
    Bottleneck, ``loss_cs.py``.

  Examples:
    A variable against itself (same width) gives exactly 1:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> x = jnp.array([0.0, 1.0, 3.0])
    >>> print(f"{float(ib.cs_qmi_normalized(x, x, sigma_x=1.0, sigma_t=1.0)):.4f}")
    1.0000
  """
  x, t = _samples("x", x), _samples("t", t)
  _same_count("x", x, "t", t)
  sigma_x, sigma_t = _width("sigma_x", sigma_x), _width("sigma_t", sigma_t)
  log_k, log_q = _log_gram(x, x, sigma_x), _log_gram(t, t, sigma_t)
  i_xt = _cs_qmi_from_log_grams(log_k, log_q)
  i_xx = _cs_qmi_from_log_grams(log_k, log_k)
  i_tt = _cs_qmi_from_log_grams(log_q, log_q)
  # A variable that is constant at its kernel's resolution (all Gram entries ~1) carries no
  # information: I(·;·) is 0 up to rounding and the ratio is 0/0; it is defined as 0 there.
  tol = 64 * jnp.finfo(i_xt.dtype).eps
  degenerate = (i_xx <= tol) | (i_tt <= tol)
  return jnp.where(degenerate, 0.0, i_xt / jnp.sqrt(jnp.where(degenerate, 1.0, i_xx * i_tt)))


@_validate.guarded
def gaussian_cs_qmi(cov: ArrayLike, *, dim_x: int,
                    kernel_widths: tuple[ArrayLike, ArrayLike] | None = None) -> Array:
  r"""Closed-form CS-QMI of a jointly Gaussian (x, t).

  With joint covariance Σ (total dimension d) and :math:`D = \operatorname{blockdiag}(\Sigma_x,
  \Sigma_t)`,

  .. math::  I_{CS}(x;t) = D_{CS}(\mathcal N(0,\Sigma)\,\|\,\mathcal N(0,D))
             = \log\det(\Sigma + D) - \tfrac12\log\det\Sigma - \tfrac12\log\det D - d\log 2.

  Bivariate with unit variances and correlation ρ: :math:`\log(1-\rho^2/4) - \tfrac12\log(1-\rho^2)`,
  always below the Shannon :math:`-\tfrac12\log(1-\rho^2)`. With ``kernel_widths=(σ_x, σ_t)`` Σ gets
  :math:`+\operatorname{diag}(\tfrac{\sigma_x^2}{2}I, \tfrac{\sigma_t^2}{2}I)`: the large-sample limit
  of :func:`cs_qmi`.

  Args:
    cov: joint covariance ``[..., d, d]`` with x first, symmetric positive definite.
    dim_x: the dimension of x (1 ≤ dim_x < d).
    kernel_widths: optional ``(σ_x, σ_t)`` of the estimator whose limit is wanted.

  Returns:
    :math:`I_{CS}` in nats, shape ``[...]``, ≥ 0, 0 iff the cross-covariance vanishes.

  References:
    Yu et al., ICLR 2024, arXiv:2404.17951; Kampa, Hasanbelliu & Príncipe, IJCNN 2011.

  Examples:
    Correlation ρ = 0.6: :math:`\log(1-0.09) - \tfrac12\log 0.64 = 0.1288` (Shannon: 0.2231). The
    estimator's limit at σ_x = σ_t = 0.5 is the same formula at the correlation
    ρ/(1 + σ²/2) = 0.533:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> cov = jnp.array([[1.0, 0.6], [0.6, 1.0]])
    >>> print(f"{float(ib.gaussian_cs_qmi(cov, dim_x=1)):.4f}")
    0.1288
    >>> print(f"{float(ib.gaussian_cs_qmi(cov, dim_x=1, kernel_widths=(0.5, 0.5))):.4f}")
    0.0936
  """
  cov = _validate.covariance("cov", cov)
  d = np.shape(cov)[-1]
  dim_x = _validate.integer("dim_x", dim_x, minimum=1, maximum=d - 1)
  cov = jnp.asarray(cov)
  cov = cov.astype(jnp.result_type(cov, float))
  if kernel_widths is not None:
    sx, st = kernel_widths
    sx, st = _width("kernel_widths[0]", sx), _width("kernel_widths[1]", st)
    smooth = jnp.concatenate([jnp.full((dim_x,), 0.5 * sx**2), jnp.full((d - dim_x,), 0.5 * st**2)])
    cov = cov + jnp.diag(smooth.astype(cov.dtype))
  block = jnp.zeros((d, d), dtype=bool).at[:dim_x, :dim_x].set(True).at[dim_x:, dim_x:].set(True)
  marginal = jnp.where(block, cov, 0.0)
  zero = jnp.zeros(cov.shape[:-1], dtype=cov.dtype)
  return gaussian_cauchy_schwarz_divergence(zero, cov, zero, marginal)


# ---------------------------------------------------------------------------------------------------
# Deprecated names (not in __all__).

cs_divergence_gaussian = _deprecation.alias(gaussian_cs_divergence, "divjax.ib.cs_divergence_gaussian",
                                            "divjax.ib.gaussian_cs_divergence")
cs_qmi_gaussian = _deprecation.alias(gaussian_cs_qmi, "divjax.ib.cs_qmi_gaussian",
                                     "divjax.ib.gaussian_cs_qmi")
