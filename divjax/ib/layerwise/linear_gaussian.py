r"""Layerwise KL and W₁ generalisation bounds on a linear-Gaussian instance, in closed form.

Hierarchical bounds (He, Yu & Goldfeld, arXiv:2404.03176) on the expected generalisation error in
terms of the KL divergence or the 1-Wasserstein distance between the *train* and *test* laws of the
internal representation at layer l, evaluated on an instance where every quantity has a closed form.
The instance and the closed forms are divjax's own derivations (:doc:`/theory/layerwise_bounds`).

Symbols, used throughout:

* :math:`Y` uniform on :math:`\{\pm1\}`, :math:`X\mid Y \sim \mathcal N(Y\mu, s^2 I_d)`
  (``mean`` = μ, ``input_scale`` = s), n training samples;
* fixed, data-independent hidden layers :math:`W_1,\dots,W_{L-1}` (``weights``), :math:`W_l` of shape
  ``[d_l, d_{l-1}]``, :math:`A_l = W_l\cdots W_1` (:math:`A_0 = I_d`), :math:`A = A_{L-1}`,
  :math:`B_l = W_{L-1}\cdots W_{l+1}` (so :math:`A = B_l A_l`), :math:`M = A^\top A`,
  :math:`r = \operatorname{rank} A`, :math:`P = A^+ A` (projector on the row space of A);
* the last layer is learned as :math:`w = A\hat\mu`, :math:`\hat\mu = \frac1n\sum_j Y_j X_j`, and
  :math:`\hat y = w^\top T_{L-1}`; :math:`T_l = A_l X` is the layer-l representation.

The layer-l KL of the bound is
:math:`\mathrm{KL}_l = D(P_{T_l^{(i)}, Y_i, w}\,\|\,P_{T_l, Y, w}) = I(T_l^{(i)}; w\mid Y_i)`
(train sample i against an independent test sample, same w), which is

.. math::  \mathrm{KL}_l = -\tfrac r2 \log(1 - 1/n), \qquad l = 0,\dots,L-1,

the same at every hidden layer (only the rank of the bottleneck matters). With Gaussian noise injected
at every hidden layer (:math:`T_l = W_l T_{l-1} + \sigma_l\xi_l`, fresh noise when a representation is
evaluated, and w learned from noisy training features) :math:`\mathrm{KL}_l` is a Gaussian mutual
information that *decreases* strictly with l, by data processing.

References:
  He, Yu & Goldfeld, *Information-theoretic generalization bounds for deep neural networks*,
  arXiv:2404.03176 (2024).
  Bu, Zou & Veeravalli, *Tightening mutual information-based bounds on generalization error*,
  IEEE JSAIT 1, 2020, arXiv:1901.04609.
  Rodríguez-Gálvez, Bassi, Thobaben & Skoglund, *Tighter expected generalization error bounds via
  Wasserstein distance*, NeurIPS 2021, arXiv:2101.09315.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate
from divjax.divergences import gaussian_kl_divergence, kl_divergence
from divjax.ib.layerwise._common import _float

__all__ = [
    "gaussian_w1_1d",
    "network_rank",
    "linear_gaussian_layer_kl",
    "linear_gaussian_noisy_layer_kl",
    "linear_gaussian_output_kl",
    "linear_gaussian_squared_loss_gap",
    "LayerwiseBounds",
    "linear_gaussian_bounds",
]

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

_SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))


# ---------------------------------------------------------------------------------------------------
# Validation helpers.


def _check_weights(weights: Sequence[ArrayLike], dim: int | None = None) -> tuple[Array, ...]:
  if isinstance(weights, (jax.Array, np.ndarray)) or not isinstance(weights, (list, tuple)):
    raise TypeError("weights must be a list or tuple of 2-D arrays [W_1, ..., W_{L-1}], got "
                    f"{type(weights).__name__}.")
  if len(weights) == 0:
    raise ValueError("weights must hold at least one hidden layer W_1.")
  prev = dim
  checked = []
  for k, w in enumerate(weights):
    name = f"weights[{k}]"
    w = _validate.finite(name, w)
    checked.append(w)
    _validate.ndim(name, w, 2)
    if prev is not None and np.shape(w)[1] != prev:
      raise ValueError(f"{name} must have shape [d_{k + 1}, {prev}] to follow the previous layer "
                       f"(input dimension {prev}), got {np.shape(w)}.")
    prev = np.shape(w)[0]
  return tuple(jnp.asarray(w) for w in checked)


def _check_n(n: ArrayLike) -> ArrayLike:
  n = _validate.finite("n", n)
  if np.ndim(n) != 0:
    raise ValueError(f"n must be a scalar sample size, got shape {np.shape(n)}.")
  if _validate.is_concrete(n) and not float(n) > 1:
    raise ValueError(f"n must be > 1 (the KL is -r/2 log(1 - 1/n)), got {float(n)!r}.")
  return _validate.traced_check(n, lambda v: v > 1, "n must be > 1 (the KL is -r/2 log(1 - 1/n)).")


def _check_instance(weights: Sequence[ArrayLike], mean: ArrayLike, n: ArrayLike,
                    input_scale: ArrayLike) -> tuple[tuple[Array, ...], Array, ArrayLike, ArrayLike]:
  """Checks (weights, μ, n, s) of the linear-Gaussian instance; returns them (NaN where traced bad)."""
  mean = _validate.finite("mean", mean)
  _validate.ndim("mean", mean, 1)
  weights = _check_weights(weights, np.shape(mean)[0])
  input_scale = _validate.positive_scalar("input_scale", input_scale)
  return weights, mean, _check_n(n), input_scale




def _chain(weights: Sequence[Array], dim: int) -> list[Array]:
  """[A_0, ..., A_{L-1}] with A_0 = I_d and A_l = W_l A_{l-1}."""
  dtype = jnp.result_type(*weights, float)
  maps = [jnp.eye(dim, dtype=dtype)]
  for w in weights:
    maps.append(w.astype(dtype) @ maps[-1])
  return maps



# ---------------------------------------------------------------------------------------------------
# W1 between one-dimensional Gaussians.


@_validate.guarded
def gaussian_w1_1d(mean_p: ArrayLike, std_p: ArrayLike, mean_q: ArrayLike,
                   std_q: ArrayLike) -> Array:
  r"""1-Wasserstein distance between two univariate Gaussians, in closed form.

  In one dimension the monotone (quantile) coupling is optimal, and the quantile difference of
  :math:`\mathcal N(m_p, s_p^2)` and :math:`\mathcal N(m_q, s_q^2)` is :math:`\delta + \Delta Z` with
  :math:`\delta = m_p - m_q`, :math:`\Delta = |s_p - s_q|`, Z standard normal, so W₁ is the mean of a
  folded normal:

  .. math::  W_1 = \mathbb E|\delta + \Delta Z| = \Delta\sqrt{2/\pi}\,e^{-\delta^2/(2\Delta^2)}
             + \delta\,\bigl(1 - 2\Phi(-\delta/\Delta)\bigr),

  which is :math:`|\delta|` when :math:`\Delta = 0` and :math:`\Delta\sqrt{2/\pi}` when δ = 0. A zero
  standard deviation (a point mass) is allowed, so :math:`W_1(\mathcal N(m, s^2), \delta_c)
  = \mathbb E|m - c + sZ|`, the expected absolute loss of a Gaussian prediction.

  There is no closed form for W₁ between multivariate Gaussians (W₂ has one:
  :func:`divjax.divergences.gaussian_squared_wasserstein2`, and W₁ ≤ W₂).

  Args:
    mean_p, std_p: mean and standard deviation (≥ 0) of p; any broadcastable shapes.
    mean_q, std_q: the same for q.

  Returns:
    W₁ in units of x, of the broadcast shape. Gradients are finite everywhere (at Δ = 0 the
    derivative with respect to the standard deviations is taken as 0 for δ ≠ 0).

  Raises:
    ValueError: (concrete inputs only) non-finite values or a negative standard deviation.

  References:
    Villani, *Optimal Transport: Old and New*, 2009, Remark 2.19 (the 1-D quantile coupling).
    Leone, Nelson & Nottingham, *The folded normal distribution*, Technometrics 3, 1961.

  Examples:
    Equal widths give the absolute mean shift; equal means give :math:`|\Delta|\sqrt{2/\pi}`:

    >>> from divjax import ib
    >>> print(f"{float(ib.gaussian_w1_1d(0.0, 1.0, 1.0, 1.0)):.4f}")
    1.0000
    >>> print(f"{float(ib.gaussian_w1_1d(0.0, 1.0, 0.0, 2.0)):.4f}")
    0.7979
  """
  mean_p, mean_q = _validate.finite("mean_p", mean_p), _validate.finite("mean_q", mean_q)
  std_p, std_q = _validate.nonnegative("std_p", std_p), _validate.nonnegative("std_q", std_q)
  _validate.broadcastable("mean_p", mean_p, "std_p", std_p)
  _validate.broadcastable("mean_q", mean_q, "std_q", std_q)
  mean_p, std_p, mean_q, std_q = _float(mean_p, std_p, mean_q, std_q)
  return _folded_normal_mean(mean_p - mean_q, jnp.abs(std_p - std_q))


def _folded_normal_mean(delta: Array, scale: Array) -> Array:
  """E|δ + scale·Z| for scale ≥ 0 (double-where safe at scale = 0)."""
  pos = scale > 0
  safe = jnp.where(pos, scale, 1.0)
  z = delta / safe
  value = safe * _SQRT_2_OVER_PI * jnp.exp(-0.5 * z * z) + delta * (1.0 - 2.0 * jax.scipy.stats.norm.cdf(-z))
  return jnp.where(pos, value, jnp.abs(delta))


# ---------------------------------------------------------------------------------------------------
# Layer KL on the linear-Gaussian instance.


@_validate.guarded
def network_rank(weights: Sequence[ArrayLike], *, rtol: float | None = None) -> Array:
  r"""Rank r of the end-to-end hidden map W_{L-1} ⋯ W_1 (the network's bottleneck rank).

  The rank of :math:`A_{L-1} = W_{L-1}\cdots W_1`. Counts singular values above ``rtol · σ_max`` (default ``rtol = max(shape) · eps``, NumPy's
  ``matrix_rank`` rule), so it works under ``jit``.

  Args:
    weights: ``[W_1, …, W_{L-1}]``, ``W_l`` of shape ``[d_l, d_{l-1}]``.
    rtol: relative threshold on the singular values.

  Returns:
    The rank as an int32 scalar.

  References:
    Golub & Van Loan, *Matrix Computations*, 4th ed., 2013, §5.4.1.

  Examples:
    An all-ones first layer has rank 1, and so does everything after it:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> int(ib.network_rank([jnp.ones((2, 3)), jnp.eye(2)]))
    1
  """
  weights = _check_weights(weights)
  a = _chain(weights, weights[0].shape[1])[-1]
  sv = jnp.linalg.svd(a, compute_uv=False)
  if rtol is None:
    rtol = max(a.shape) * float(jnp.finfo(a.dtype).eps)
  return jnp.sum(sv > rtol * sv[0]).astype(jnp.int32)


@_validate.guarded
@_validate.nan_means_overflow("weights", "n")
def linear_gaussian_layer_kl(weights: Sequence[ArrayLike], *, n: ArrayLike) -> Array:
  r"""Layer-l KL of the noiseless linear-Gaussian instance, l = 0, …, L−1, in closed form.

  Given :math:`Y_i`, :math:`u = A_l X_i` and :math:`v = n\,w = A X_i + A\sum_{j\ne i} Y_jY_iX_j` are
  jointly Gaussian, and v depends on :math:`X_i` only through :math:`A X_i = B_l u`, so

  .. math::  \mathrm{KL}_l = I(T_l^{(i)}; w\mid Y_i) = I(AZ; AZ + AN), \quad N\sim\mathcal N(0,(n-1)I)
             \;=\; -\tfrac r2\log\Bigl(1-\frac1n\Bigr),\quad r = \operatorname{rank}(A_{L-1}),

  independent of l, of μ and of s (derived in :doc:`/theory/layerwise_bounds`). On the test
  instance it agrees with the log pseudo-determinant Gaussian MI built from the generative model
  at every layer to about 1e-12.

  Args:
    weights: ``[W_1, …, W_{L-1}]``, ``W_l`` of shape ``[d_l, d_{l-1}]``.
    n: training-sample size, > 1 (may be a traced scalar).

  Returns:
    ``[L]`` array: :math:`\mathrm{KL}_0,\dots,\mathrm{KL}_{L-1}` in nats.

  Raises:
    ValueError: (concrete inputs only) n ≤ 1, non-finite or incompatible weights.

  References:
    He, Yu & Goldfeld, arXiv:2404.03176 (the rank dependence of the KL bound for linear networks).
    Cover & Thomas, *Elements of Information Theory*, 2006, §8.5 (Gaussian mutual information).

  Examples:
    A rank-1 network and n = 10: :math:`-\tfrac12\log 0.9 = 0.0527` at every layer:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> kl = ib.linear_gaussian_layer_kl([jnp.ones((2, 3)), jnp.eye(2)], n=10)
    >>> print(np.round(np.asarray(kl), 4))
    [0.0527 0.0527 0.0527]
  """
  weights = _check_weights(weights)
  n = _check_n(n)
  (n,) = _float(n)
  return _rank_kl(weights, n)


def _rank_kl(weights: tuple[Array, ...], n: Array) -> Array:
  r = network_rank(weights)
  kl = -0.5 * r.astype(n.dtype) * jnp.log1p(-1.0 / n)
  return jnp.full((len(weights) + 1,), kl)


@_validate.guarded
@_validate.nan_means_overflow("weights", "noise_scales", "n", "input_scale")
def linear_gaussian_noisy_layer_kl(weights: Sequence[ArrayLike], noise_scales: ArrayLike, *,
                                   n: ArrayLike, input_scale: ArrayLike = 1.0) -> Array:
  r"""Layer-l KL of the linear-Gaussian instance with Gaussian noise injected at every hidden layer.

  Layers :math:`T_l = W_l T_{l-1} + \sigma_l \xi_l` with :math:`\xi_l\sim\mathcal N(0, I_{d_l})`; the
  learned layer is :math:`w = \frac1n\sum_j Y_j T_{L-1}^{(j)}` on *training-time* noise, and a
  representation is evaluated with *fresh* noise (so the layer maps are the same kernel under the
  train and the test law, which is what makes the KL non-increasing in l). Writing
  :math:`N_l = \operatorname{Cov}(\text{noise in } T_l) = W_l N_{l-1}W_l^\top + \sigma_l^2 I`
  (:math:`N_0 = 0`) and :math:`\Sigma = s^2AA^\top + N_{L-1}`,

  .. math::  \mathrm{KL}_l = I(u; v) = \mathrm{KL}\Bigl(\mathcal N\Bigl(0, \begin{bmatrix} C_u & s^2A_lA^\top
             \\ s^2AA_l^\top & n\Sigma\end{bmatrix}\Bigr)\,\Big\|\,\mathcal N(0,
             \operatorname{blockdiag}(C_u, n\Sigma))\Bigr),\quad C_u = s^2A_lA_l^\top + N_l,

  evaluated with :func:`divjax.divergences.gaussian_kl_divergence`. It is non-increasing in l (data
  processing along :math:`w \leftarrow X_i \to T_1 \to \dots`) and tends to
  :func:`linear_gaussian_layer_kl` as every σ_l → 0. Had the training noise been reused in the
  representation, the chain would run the other way and the KL could *grow* with l.

  Args:
    weights: ``[W_1, …, W_{L-1}]``, ``W_l`` of shape ``[d_l, d_{l-1}]``.
    noise_scales: ``[L-1]`` positive noise standard deviations σ_1, …, σ_{L-1}.
    n: training-sample size, > 1.
    input_scale: s, the class-conditional standard deviation of X, > 0.

  Returns:
    ``[L]`` array: :math:`\mathrm{KL}_0,\dots,\mathrm{KL}_{L-1}` in nats.

  Raises:
    ValueError: (concrete inputs only) a non-positive scale, n ≤ 1, a wrong number of noise scales.

  References:
    He, Yu & Goldfeld, arXiv:2404.03176 (Gaussian noise injection between layers).
    Polyanskiy & Wu, arXiv:1508.06025 (data processing along Markov chains).

  Examples:
    Two identity layers with unit noise in d = 2, s = 1: every coordinate is a Gaussian channel
    with squared correlation 1/(3n(l + 1)), so :math:`\mathrm{KL}_l = -\log(1 - 1/(3n(l+1)))`,
    falling with l:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> kl = ib.linear_gaussian_noisy_layer_kl([jnp.eye(2), jnp.eye(2)], jnp.ones(2), n=10)
    >>> print(np.round(np.asarray(kl), 4))
    [0.0339 0.0168 0.0112]
  """
  weights = _check_weights(weights)
  n = _check_n(n)
  noise_scales = _validate.positive("noise_scales", noise_scales)
  _validate.ndim("noise_scales", noise_scales, 1)
  if np.shape(noise_scales)[0] != len(weights):
    raise ValueError(f"noise_scales must have one entry per hidden layer ({len(weights)}), got "
                     f"shape {np.shape(noise_scales)}.")
  input_scale = _validate.positive_scalar("input_scale", input_scale)
  return _noisy_layer_kl(tuple(weights), *_float(noise_scales, n, input_scale))


@jax.jit
@_validate.kernel
def _noisy_layer_kl(weights: tuple[Array, ...], noise_scales: Array, n: Array, s: Array) -> Array:
  d = weights[0].shape[1]
  maps = _chain(weights, d)
  a = maps[-1]
  noise = [jnp.zeros((d, d), s.dtype)]
  for k, w in enumerate(weights):
    noise.append(w @ noise[-1] @ w.T + noise_scales[k]**2 * jnp.eye(w.shape[0], dtype=s.dtype))
  c_v = n * (s**2 * a @ a.T + noise[-1])
  out = []
  for a_l, n_l in zip(maps, noise):
    c_u = s**2 * a_l @ a_l.T + n_l
    cross = s**2 * a_l @ a.T
    joint = jnp.block([[c_u, cross], [cross.T, c_v]])
    zero_u = jnp.zeros((c_u.shape[0], c_v.shape[0]), s.dtype)
    product = jnp.block([[c_u, zero_u], [zero_u.T, c_v]])
    mean = jnp.zeros(joint.shape[0], s.dtype)
    out.append(gaussian_kl_divergence(mean, joint, mean, product))
  return jnp.stack(out)


@_validate.guarded
@_validate.nan_means_overflow("weights", "mean", "n", "input_scale")
def linear_gaussian_output_kl(key: Array, weights: Sequence[ArrayLike], mean: ArrayLike, *,
                              n: ArrayLike, input_scale: ArrayLike = 1.0, num_samples: int = 4096,
                              num_grid: int = 2001) -> Array:
  r"""Output-layer KL between the train and test laws of (ŷ, Y), noiseless instance (Monte Carlo).

  The quantity is :math:`D(P_{\hat y_i, Y_i}\|P_{\hat y, Y})`. The output :math:`\hat y = \hat\mu^\top M X` is a bilinear form in Gaussians, so its law has no
  closed form; both laws are mixtures of Gaussians, though (by symmetry condition on Y = +1 and
  write U = YX):

  * test: :math:`\hat y\mid\hat\mu \sim \mathcal N(\hat\mu^\top M\mu,\ s^2\|M\hat\mu\|^2)`,
    :math:`\hat\mu\sim\mathcal N(\mu, s^2 I/n)`;
  * train: :math:`\hat y_i\mid U_i \sim \mathcal N\bigl(((n-1)\mu + U_i)^\top M U_i/n,\ (n-1)s^2
    \|MU_i\|^2/n^2\bigr)`, :math:`U_i\sim\mathcal N(\mu, s^2 I)`.

  Each density is estimated on a uniform grid as the average of ``num_samples`` Gaussian components
  (Rao–Blackwellised Monte Carlo: unbiased for the density), and
  :math:`\int p\log(p/q)` is taken as the discrete KL of the grid masses with
  :func:`divjax.divergences.kl_divergence`. By data processing the result is at most
  :func:`linear_gaussian_layer_kl`. The density noise biases the KL upward by about
  :math:`\chi^2`-noise / 2 = O(1/num_samples) relative.

  Args:
    key: PRNG key.
    weights: ``[W_1, …, W_{L-1}]``.
    mean: μ, shape ``[d]``.
    n: training-sample size, > 1.
    input_scale: s > 0.
    num_samples: mixture components per law.
    num_grid: grid points (the grid spans both laws' components ± 8 standard deviations).

  Returns:
    Scalar KL in nats.

  References:
    He, Yu & Goldfeld, arXiv:2404.03176.
    Casella & Robert, *Rao–Blackwellisation of sampling schemes*, Biometrika 83, 1996.

  Examples:
    By data processing the output KL lies below the hidden-layer value :math:`-\log 0.9`:

    >>> import jax, jax.numpy as jnp
    >>> from divjax import ib
    >>> weights, mean = [jnp.eye(2)], jnp.array([1.0, 0.0])
    >>> out = ib.linear_gaussian_output_kl(jax.random.key(0), weights, mean, n=10,
    ...                                    num_samples=256, num_grid=129)
    >>> bool(0 < out < ib.linear_gaussian_layer_kl(weights, n=10)[-1])
    True
  """
  weights, mean, n, input_scale = _check_instance(weights, mean, n, input_scale)
  _validate.integer("num_samples", num_samples, minimum=2)
  _validate.integer("num_grid", num_grid, minimum=16)
  return _output_kl(key, tuple(weights), *_float(mean, n, input_scale), num_samples, num_grid)


@jax.jit(static_argnums=(5, 6))
@_validate.kernel
def _output_kl(key: Array, weights: tuple[Array, ...], mean: Array, n: Array, s: Array,
               num_samples: int, num_grid: int) -> Array:
  a = _chain(weights, mean.shape[0])[-1].astype(mean.dtype)
  _, loc_test, sd_test, loc_train, sd_train = _output_laws(key, a, mean, n, s, num_samples)
  lo = jnp.minimum(jnp.min(loc_test - 8 * sd_test), jnp.min(loc_train - 8 * sd_train))
  hi = jnp.maximum(jnp.max(loc_test + 8 * sd_test), jnp.max(loc_train + 8 * sd_train))
  grid = jnp.linspace(lo, hi, num_grid)

  def log_mixture(loc, sd):
    logp = jax.scipy.stats.norm.logpdf(grid[:, None], loc[None, :], sd[None, :])
    return jax.nn.logsumexp(logp, axis=1)

  return kl_divergence(log_mixture(loc_train, sd_train), log_mixture(loc_test, sd_test), logits=True)


def _output_laws(key: Array, a: Array, mean: Array, n: Array, s: Array,
                 num_samples: int) -> tuple[Array, ...]:
  """Mixture components of ŷ (Y = +1): μ̂ draws, test (loc, sd) given μ̂, train (loc, sd) given U_i."""
  d = mean.shape[0]
  m = a.T @ a
  k_test, k_train = jax.random.split(key)
  mu_hat = mean + s / jnp.sqrt(n) * jax.random.normal(k_test, (num_samples, d), mean.dtype)
  loc_test = mu_hat @ (m @ mean)
  sd_test = s * jnp.linalg.norm(mu_hat @ m, axis=-1)
  u = mean + s * jax.random.normal(k_train, (num_samples, d), mean.dtype)
  mu_ = u @ m
  loc_train = jnp.sum(((n - 1.0) * mean + u) * mu_, axis=-1) / n
  sd_train = s * jnp.sqrt(n - 1.0) * jnp.linalg.norm(mu_, axis=-1) / n
  return mu_hat, loc_test, sd_test, loc_train, sd_train


def _quadratic_form_second_moment(q: Array, m: Array, c: Array) -> Array:
  """E[(xᵀQx)²] for x ~ N(m, C), Q symmetric: Var = 2 tr(QCQC) + 4 mᵀQCQm, mean = tr(QC) + mᵀQm."""
  qc = q @ c
  first = jnp.trace(qc) + m @ q @ m
  var = 2.0 * jnp.trace(qc @ qc) + 4.0 * m @ q @ c @ q @ m
  return var + first**2


@_validate.guarded
@_validate.nan_means_overflow("weights", "mean", "n", "input_scale")
def linear_gaussian_squared_loss_gap(weights: Sequence[ArrayLike], mean: ArrayLike, *,
                                     n: ArrayLike, input_scale: ArrayLike = 1.0) -> Array:
  r"""Exact expected generalisation gap of the noiseless instance under the squared loss.

  :math:`\mathrm{gen} = \mathbb E(\hat y - Y)^2 - \mathbb E(\hat y_i - Y_i)^2` with
  :math:`\hat y = \hat\mu^\top M X`. By symmetry take Y = +1; with :math:`a = n\hat\mu` and b the
  evaluated input, :math:`\hat y = a^\top M b/n` is a Gaussian quadratic form
  :math:`x^\top Qx`, :math:`x = (a, b)`, :math:`Q = \tfrac12\begin{bmatrix}0&M\\M&0\end{bmatrix}`,
  whose first two moments are exact: :math:`\mathbb E\,x^\top Qx = \operatorname{tr}(QC)+m^\top Qm`,
  :math:`\operatorname{Var} = 2\operatorname{tr}(QCQC) + 4m^\top QCQm`. Means
  :math:`m = (n\mu, \mu)`; covariances :math:`\begin{bmatrix}ns^2I & s^2I\\ s^2I & s^2I\end{bmatrix}`
  for a training point (b = :math:`X_i`, inside â) and the same with zero off-diagonal blocks for a
  test point. The linear terms give :math:`2s^2\operatorname{tr}(M)/n`.

  Args:
    weights: ``[W_1, …, W_{L-1}]``.
    mean: μ, shape ``[d]``.
    n: training-sample size, > 1.
    input_scale: s > 0.

  Returns:
    The gap (test minus train risk), a scalar.

  References:
    He, Yu & Goldfeld, arXiv:2404.03176 (binary Gaussian classification with linear networks).
    Mathai & Provost, *Quadratic Forms in Random Variables*, 1992, Thm 3.2b.2.

  Examples:
    d = 1, A = 1, μ = s = 1, n = 2: the test risk is :math:`(\mu^2 + s^2/n)(\mu^2+s^2) - 2\mu^2 + 1 = 2`
    and the train risk 3.5 (the fit overshoots on its own samples), so the gap is −1.5:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> gap = ib.linear_gaussian_squared_loss_gap([jnp.ones((1, 1))], jnp.ones(1), n=2)
    >>> print(f"{float(gap):.4f}")
    -1.5000
  """
  weights, mean, n, input_scale = _check_instance(weights, mean, n, input_scale)
  mean, n, s = _float(mean, n, input_scale)
  d = mean.shape[0]
  a = _chain(weights, d)[-1].astype(mean.dtype)
  m = a.T @ a
  zero = jnp.zeros((d, d), mean.dtype)
  eye = jnp.eye(d, dtype=mean.dtype)
  q = 0.5 * jnp.block([[zero, m], [m, zero]])
  loc = jnp.concatenate([n * mean, mean])
  c_train = s**2 * jnp.block([[n * eye, eye], [eye, eye]])
  c_test = s**2 * jnp.block([[n * eye, zero], [zero, eye]])
  quad = (_quadratic_form_second_moment(q, loc, c_test) -
          _quadratic_form_second_moment(q, loc, c_train)) / n**2
  return quad + 2.0 * s**2 * jnp.trace(m) / n


# ---------------------------------------------------------------------------------------------------
# The bounds.


class LayerwiseBounds(NamedTuple):
  """Layerwise bounds on the absolute-loss generalisation gap of the noiseless instance.

  Layers are indexed l = 0 (input), …, L−1 (last hidden), and L (the output ŷ) where stated.

  Attributes:
    gap: scalar, the absolute-loss gap E|ŷ − Y| (test) − E|ŷ_i − Y_i| (train), Rao–Blackwellised
      Monte Carlo.
    gap_se: its standard error.
    kl: ``[L]`` layer KLs, closed form.
    kl_bound: ``[L]`` KL bounds √(2 σ̄² KL_l), σ̄² = s² E‖Aᵀw‖².
    w1_lower: ``[L]`` lower bracket E_w ‖A_l δ‖ on W₁ (not itself a bound on the gap).
    w1_upper: ``[L]`` E_w of the coupling upper bracket on W₁ (≥ W₂ ≥ W₁).
    w1_bound: ``[L+1]`` W₁ bounds E_w[‖B_lᵀw‖ · upper bracket]; entry L uses the exact
      E_w W₁(ŷ_i, ŷ | w).
    w1_bound_opnorm: ``[L+1]`` the same with ‖B_lᵀw‖ replaced by ∏_{k>l}‖W_k‖·‖w‖.
    bound_se: ``[L+1]`` Monte-Carlo standard error of ``w1_bound``.

  Examples:
    One identity hidden layer in d = 2 (rank 2), n = 10: both bounds lie above the gap:

    >>> import jax, jax.numpy as jnp
    >>> from divjax import ib
    >>> b = ib.linear_gaussian_bounds(jax.random.key(0), [jnp.eye(2)], jnp.array([1.0, 0.0]),
    ...                               n=10, num_samples=512)
    >>> b.kl.shape, b.w1_bound.shape
    ((2,), (3,))
    >>> bool(jnp.all(b.kl_bound >= abs(b.gap)) and jnp.all(b.w1_bound >= abs(b.gap)))
    True
  """
  gap: Array            # scalar: E|ŷ−Y|(test) − E|ŷ_i−Y_i|(train), Rao–Blackwellised Monte Carlo
  gap_se: Array         # its standard error
  kl: Array             # [L] KL_l, closed form
  kl_bound: Array       # [L] √(2 σ̄² KL_l), σ̄² = s² E‖Aᵀw‖²
  w1_lower: Array       # [L] E_w W₁-lower bracket ‖δ_l‖ (not itself a bound on |gen|)
  w1_upper: Array       # [L] E_w of the coupling upper bracket on W₁ (≥ W₂ ≥ W₁)
  w1_bound: Array       # [L+1] E_w[‖B_lᵀw‖ · W₁-upper]; entry L is the exact E_w W₁(ŷ_i, ŷ | w)
  w1_bound_opnorm: Array  # [L+1] the same with ‖B_lᵀw‖ replaced by ∏_{k>l}‖W_k‖·‖w‖
  bound_se: Array       # [L+1] Monte-Carlo standard error of ``w1_bound``


@_validate.guarded
@_validate.nan_means_overflow("weights", "mean", "n", "input_scale")
def linear_gaussian_bounds(key: Array, weights: Sequence[ArrayLike], mean: ArrayLike, *,
                           n: ArrayLike, input_scale: ArrayLike = 1.0,
                           num_samples: int = 8192) -> LayerwiseBounds:
  r"""KL and W₁ layerwise bounds against the exact gap, for the absolute loss.

  The loss is :math:`|\hat y - Y|`.

  The absolute loss is 1-Lipschitz in ŷ, which both bounds need (the squared loss is neither
  sub-Gaussian nor Lipschitz). Everything is conditioned on the learned w (by symmetry Y = +1):

  * **gap** — Rao–Blackwellised: given μ̂ (test) or :math:`U_i` (train), ŷ is Gaussian and
    :math:`\mathbb E|\hat y - 1|` is a folded-normal mean (:func:`gaussian_w1_1d` against a point).
  * **KL bound** — given w the loss is a :math:`s\|A^\top w\|`-Lipschitz function of a standard
    Gaussian, hence :math:`s\|A^\top w\|`-sub-Gaussian; Donsker–Varadhan given w and Cauchy–Schwarz
    over w give :math:`|\mathrm{gen}| \le \sqrt{2\bar\sigma^2\,\mathrm{KL}_l}`,
    :math:`\bar\sigma^2 = s^2\,\mathbb E\|M\hat\mu\|^2 = s^2(\mu^\top M^2\mu + s^2\operatorname{tr}(M^2)/n)`.
  * **W₁ bound** — given w, :math:`t\mapsto|w^\top B_l t - 1|` is :math:`\|B_l^\top w\|`-Lipschitz, so
    :math:`|\mathrm{gen}|\le\mathbb E_w[\|B_l^\top w\|\,W_1(P_{T_l^{(i)}\mid w}, P_{T_l})]`. Both laws
    are Gaussian: :math:`T_l^{(i)}\mid w\sim\mathcal N(A_l(\mu+\delta), s^2A_l(I-P/n)A_l^\top)`,
    :math:`\delta = P(\hat\mu-\mu)`, against :math:`\mathcal N(A_l\mu, s^2A_lA_l^\top)`. W₁ between
    d-dimensional Gaussians has no closed form; it is bracketed by
    :math:`\|A_l\delta\| \le W_1 \le \sqrt{\|A_l\delta\|^2 + s^2c^2\|A_lP\|_F^2}`,
    :math:`c = 1-\sqrt{1-1/n}` (the coupling :math:`Z\mapsto (I - cP)Z` plus the mean shift), and the
    upper bracket is used in the bound. At the output (entry L) W₁ between the two 1-D Gaussian laws
    of ŷ given w is exact (:func:`gaussian_w1_1d`) and the Lipschitz constant is 1.
  * ``w1_bound_opnorm`` uses the cruder :math:`\prod_{k>l}\|W_k\|_{op}\|w\|`; since W₁ contracts by a
    layer's operator norm, it is non-increasing in l. An interior minimum ("funnel") can only come
    from the tighter, direction-aware constant :math:`\|B_l^\top w\|`.

  Args:
    key: PRNG key (for the expectations over μ̂ and :math:`U_i`).
    weights: ``[W_1, …, W_{L-1}]``.
    mean: μ, shape ``[d]``.
    n: training-sample size, > 1.
    input_scale: s > 0.
    num_samples: Monte-Carlo samples per expectation.

  Returns:
    A :class:`LayerwiseBounds`.

  References:
    He, Yu & Goldfeld, arXiv:2404.03176.
    Rodríguez-Gálvez et al., arXiv:2101.09315 (individual-sample Wasserstein bounds).
    Bu, Zou & Veeravalli, arXiv:1901.04609 (individual-sample MI bounds).
    Boucheron, Lugosi & Massart, *Concentration Inequalities*, 2013, Thm 5.6 (Gaussian concentration).

  Examples:
    The layer KL is :math:`-\tfrac r2\log(1-1/n) = -\log 0.9` for the rank-2 identity layer, and
    the KL bound :math:`\sqrt{2\bar\sigma^2\mathrm{KL}_l}` lies above the measured gap:

    >>> import jax, jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> b = ib.linear_gaussian_bounds(jax.random.key(0), [jnp.eye(2)], jnp.array([1.0, 0.0]),
    ...                               n=10, num_samples=512)
    >>> print(np.round(np.asarray(b.kl), 4), bool(b.kl_bound[0] >= abs(b.gap)))
    [0.1054 0.1054] True
  """
  weights, mean, n, input_scale = _check_instance(weights, mean, n, input_scale)
  _validate.integer("num_samples", num_samples, minimum=2)
  return _bounds(key, tuple(weights), *_float(mean, n, input_scale), num_samples)


@jax.jit(static_argnums=(5,))
@_validate.kernel
def _bounds(key: Array, weights: tuple[Array, ...], mean: Array, n: Array, s: Array,
            num_samples: int) -> LayerwiseBounds:
  dtype = mean.dtype
  d = mean.shape[0]
  maps = [x.astype(dtype) for x in _chain(weights, d)]
  weights = [w.astype(dtype) for w in weights]
  a = maps[-1]
  m = a.T @ a
  proj = jnp.linalg.pinv(a) @ a

  # The gap (absolute loss), Rao–Blackwellised.
  mu_hat, loc_test, sd_test, loc_train, sd_train = _output_laws(key, a, mean, n, s, num_samples)
  loss_test = _folded_normal_mean(loc_test - 1.0, sd_test)
  loss_train = _folded_normal_mean(loc_train - 1.0, sd_train)
  gap = jnp.mean(loss_test) - jnp.mean(loss_train)
  gap_se = jnp.sqrt((jnp.var(loss_test) + jnp.var(loss_train)) / num_samples)

  # KL bound.
  kl = _rank_kl(tuple(weights), n)
  sigma_bar_sq = s**2 * (mean @ m @ m @ mean + s**2 * jnp.trace(m @ m) / n)
  kl_bound = jnp.sqrt(2.0 * sigma_bar_sq * kl)

  # W1 brackets and bounds, on the same μ̂ draws.
  w = mu_hat @ a.T                              # [S, d_{L-1}]
  delta = (mu_hat - mean) @ proj.T               # [S, d], P(μ̂ − μ)
  c = 1.0 - jnp.sqrt(1.0 - 1.0 / n)
  w_norm = jnp.linalg.norm(w, axis=-1)
  ops = [jnp.linalg.norm(wk, ord=2) for wk in weights]
  lower, upper, bound, bound_op, se = [], [], [], [], []
  for l, a_l in enumerate(maps):
    b_l = _downstream(weights, l, a_l.shape[0], dtype)
    shift = jnp.linalg.norm(delta @ a_l.T, axis=-1)
    cov_term = s**2 * c**2 * jnp.sum((a_l @ proj)**2)
    up = jnp.sqrt(shift**2 + cov_term)
    lip = jnp.linalg.norm(w @ b_l, axis=-1)
    op = w_norm * jnp.prod(jnp.stack(ops[l:])) if l < len(weights) else w_norm
    lower.append(jnp.mean(shift))
    upper.append(jnp.mean(up))
    bound.append(jnp.mean(lip * up))
    bound_op.append(jnp.mean(op * up))
    se.append(jnp.std(lip * up) / jnp.sqrt(num_samples))
  # Output layer: ŷ | w, train N(wᵀAμ + wᵀAδ, s²‖Aᵀw‖²(1−1/n)) vs test N(wᵀAμ, s²‖Aᵀw‖²).
  atw = jnp.linalg.norm(w @ a, axis=-1)
  w1_out = _folded_normal_mean(jnp.sum((w @ a) * delta, axis=-1),
                               s * atw * (1.0 - jnp.sqrt(1.0 - 1.0 / n)))
  bound.append(jnp.mean(w1_out))
  bound_op.append(jnp.mean(w1_out))
  se.append(jnp.std(w1_out) / jnp.sqrt(num_samples))
  return LayerwiseBounds(gap=gap, gap_se=gap_se, kl=kl, kl_bound=kl_bound, w1_lower=jnp.stack(lower),
                         w1_upper=jnp.stack(upper), w1_bound=jnp.stack(bound),
                         w1_bound_opnorm=jnp.stack(bound_op), bound_se=jnp.stack(se))


def _downstream(weights: Sequence[Array], l: int, width: int, dtype) -> Array:
  """B_l = W_{L-1} ⋯ W_{l+1} (the identity for l = L−1)."""
  b = jnp.eye(width, dtype=dtype)
  for w in weights[l:]:
    b = w @ b
  return b
