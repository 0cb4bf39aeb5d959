r"""The Gaussian information bottleneck: optimal linear projections, critical β's and the IB curve.

For jointly Gaussian :math:`X \in \mathbb R^{n_x}` and Y, and encoders :math:`T = AX + \xi`,
:math:`\xi \sim \mathcal N(0, I)`, the IB problem :math:`\min_A I(X;T) - \beta I(T;Y)` is solved in
closed form by Chechik, Globerson, Tishby & Weiss (2005). Symbols, defined once:

* :math:`\Sigma_x, \Sigma_y, \Sigma_{xy}`: the (cross-)covariances;
  :math:`\Sigma_{x|y} = \Sigma_x - \Sigma_{xy}\Sigma_y^{-1}\Sigma_{xy}^\top`;
* :math:`\lambda_1 \le \dots \le \lambda_{n_x}` in [0, 1]: the eigenvalues of
  :math:`\Sigma_{x|y}\Sigma_x^{-1}`, with left eigenvectors :math:`v_i` (rows), normalised here so that
  :math:`r_i = v_i^\top\Sigma_x v_i = 1`;
* :math:`\beta_i^c = 1/(1-\lambda_i)`: the critical β at which component i switches on
  (λ = 1 components, present when :math:`n_x > n_y`, never do: :math:`\beta^c = \infty`);
* for a linear-Gaussian encoder :math:`I(T;X) = \tfrac12\log\det(A\Sigma_xA^\top + I)` and
  :math:`I(T;Y) = I(T;X) - \tfrac12\log\det(A\Sigma_{x|y}A^\top + I)` (nats).

The optimal encoder has rows :math:`\alpha_i v_i^\top` with
:math:`\alpha_i = \sqrt{(\beta(1-\lambda_i) - 1)/(\lambda_i r_i)}` for :math:`\beta > \beta_i^c`, else 0.
With n(β) active components

.. math::  I(T;X) = \tfrac12\sum_{i\le n(\beta)}\log\frac{(\beta-1)(1-\lambda_i)}{\lambda_i},\qquad
           I(T;Y) = I(T;X) - \tfrac12\sum_{i\le n(\beta)}\log\bigl(\beta(1-\lambda_i)\bigr),

and eliminating β on the segment with :math:`n_I` active components gives the IB curve

.. math::  I_Y = I_X - \frac{n_I}{2}\log\Bigl(\prod_{i\le n_I}(1-\lambda_i)^{1/n_I}
           + e^{2I_X/n_I}\prod_{i\le n_I}\lambda_i^{1/n_I}\Bigr),

which rises to :math:`I(X;Y) = -\tfrac12\sum_i\log\lambda_i`. No encoder (linear-Gaussian or not,
for Gaussian data) lies above it.

Validation: covariances must be symmetric positive definite with matching shapes, and the joint
covariance of (X, Y) positive definite (so every λ > 0 and I(X;Y) < ∞); β must be ≥ 0. Checks run on
concrete inputs only; everything is ``jit``/``vmap``/``grad``-able.

Derivation sketch, the numerical checks and the VIB comparison: :doc:`/theory/information_bottleneck`.

References:
  Chechik, Globerson, Tishby & Weiss, *Information bottleneck for Gaussian variables*, JMLR 6, 2005.
  Tishby, Pereira & Bialek, *The information bottleneck method*, 1999, arXiv:physics/0004057.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from divjax import _validate

__all__ = [
    "GaussianIBSpectrum",
    "gaussian_ib_spectrum",
    "critical_betas",
    "linear_encoder_information",
    "optimal_encoder",
    "ib_point",
    "ib_curve",
]

Array = jax.Array
ArrayLike = jax.typing.ArrayLike

#: Eigenvalues within this of 1 are components that never activate (β^c = ∞).
_ONE_TOL = 1e-9


class GaussianIBSpectrum(NamedTuple):
  """The spectral data of a Gaussian IB problem (a pytree).

  Attributes:
    eigenvalues: λ ascending, ``[n_x]``, in (0, 1].
    eigenvectors: the left eigenvectors v_i as rows, ``[n_x, n_x]``, with v_iᵀ Σ_x v_i = 1.
    cov_x: Σ_x, ``[n_x, n_x]``.
    cov_x_given_y: Σ_{x|y}, ``[n_x, n_x]``.

  Examples:
    Unit variances and canonical correlations 0.9 and 0.5: Σ_{x|y} = I − diag(0.81, 0.25):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> s = ib.gaussian_ib_spectrum(jnp.eye(2), jnp.diag(jnp.array([0.9, 0.5])), jnp.eye(2))
    >>> print(np.round(np.asarray(s.cov_x_given_y), 4))
    [[0.19 0.  ]
     [0.   0.75]]
  """
  eigenvalues: Array
  eigenvectors: Array
  cov_x: Array
  cov_x_given_y: Array


def _sym(a: Array) -> Array:
  return 0.5 * (a + jnp.swapaxes(a, -1, -2))


@_validate.guarded
def gaussian_ib_spectrum(cov_x: ArrayLike, cov_xy: ArrayLike, cov_y: ArrayLike) -> GaussianIBSpectrum:
  r"""Eigen-decomposition behind the Gaussian IB: the left eigenvectors of Σ_{x|y} Σ_x⁻¹.

  The eigenproblem :math:`v^\top\Sigma_{x|y}\Sigma_x^{-1} = \lambda v^\top` is solved as the symmetric generalised problem :math:`\Sigma_{x|y}v = \lambda\Sigma_x v` through the
  Cholesky factor :math:`\Sigma_x = LL^\top` (:math:`v = L^{-\top}w`), so :math:`r_i = 1`.

  Args:
    cov_x: ``[n_x, n_x]`` covariance of X.
    cov_xy: ``[n_x, n_y]`` cross-covariance.
    cov_y: ``[n_y, n_y]`` covariance of Y.

  Returns:
    A :class:`GaussianIBSpectrum`.

  Raises:
    ValueError: (concrete inputs) shapes that do not match, covariances or the joint covariance not
      symmetric positive definite.

  References:
    Chechik, Globerson, Tishby & Weiss, *Information bottleneck for Gaussian variables*, JMLR 2005.

  Examples:
    With unit variances and canonical correlations ρ = (0.9, 0.5), λ_i = 1 − ρ_i²:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> s = ib.gaussian_ib_spectrum(jnp.eye(2), jnp.diag(jnp.array([0.9, 0.5])), jnp.eye(2))
    >>> print(np.round(np.asarray(s.eigenvalues), 4))
    [0.19 0.75]
  """
  cov_x = _validate.covariance("cov_x", cov_x)
  cov_y = _validate.covariance("cov_y", cov_y)
  nx, ny = np.shape(cov_x)[-1], np.shape(cov_y)[-1]
  if np.shape(cov_xy) != (nx, ny):
    raise ValueError(f"cov_xy must have shape ({nx}, {ny}) to match cov_x and cov_y, got "
                     f"{np.shape(cov_xy)}.")
  cov_xy = _validate.finite("cov_xy", cov_xy)
  if _validate.is_concrete((cov_x, cov_xy, cov_y)):
    joint = np.block([[np.asarray(cov_x, np.float64), np.asarray(cov_xy, np.float64)],
                      [np.asarray(cov_xy, np.float64).T, np.asarray(cov_y, np.float64)]])
    _validate.covariance("the joint covariance [[cov_x, cov_xy], [cov_xy^T, cov_y]]", joint)
  cov_x, cov_xy, cov_y = (jnp.asarray(a) for a in (cov_x, cov_xy, cov_y))
  dtype = jnp.result_type(cov_x, cov_xy, cov_y, float)
  cov_x, cov_xy, cov_y = (a.astype(dtype) for a in (cov_x, cov_xy, cov_y))
  cov_x, cov_y = _sym(cov_x), _sym(cov_y)
  cov_x_given_y = _sym(cov_x - cov_xy @ jnp.linalg.solve(cov_y, cov_xy.T))
  chol = jnp.linalg.cholesky(cov_x)
  m = jsl.solve_triangular(chol, jsl.solve_triangular(chol, cov_x_given_y, lower=True).T, lower=True)
  lam, w = jnp.linalg.eigh(_sym(m))
  v = jsl.solve_triangular(chol.T, w, lower=False).T  # rows v_i
  return GaussianIBSpectrum(jnp.clip(lam, 0.0, 1.0), v, cov_x, cov_x_given_y)


@_validate.guarded
def critical_betas(spectrum: GaussianIBSpectrum) -> Array:
  r"""Critical trade-off values β_i = 1/(1 − λ_i), ascending; infinite for λ = 1.

  .. math::  \beta_i^c = \frac{1}{1-\lambda_i}

  Args:
    spectrum: from :func:`gaussian_ib_spectrum`.

  Returns:
    ``[n_x]`` array.

  References:
    Chechik et al., JMLR 2005, Theorem 3.1.

  Examples:
    λ = (0.19, 0.75) gives β^c = (1/0.81, 1/0.25):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> s = ib.gaussian_ib_spectrum(jnp.eye(2), jnp.diag(jnp.array([0.9, 0.5])), jnp.eye(2))
    >>> print(np.round(np.asarray(ib.critical_betas(s)), 4))
    [1.2346 4.    ]
  """
  one_minus = 1.0 - spectrum.eigenvalues
  safe = jnp.where(one_minus > _ONE_TOL, one_minus, 1.0)
  return jnp.where(one_minus > _ONE_TOL, 1.0 / safe, jnp.inf)


@_validate.guarded
@_validate.nan_means_overflow("a")
def linear_encoder_information(spectrum: GaussianIBSpectrum, a: ArrayLike) -> tuple[Array, Array]:
  r"""Exact mutual informations (I(T;X), I(T;Y)) of the encoder T = AX + ξ with ξ ~ N(0, I).

  .. math::  I(T;X) = \tfrac12\log\det(A\Sigma_xA^\top + I),\qquad
             I(T;Y) = I(T;X) - \tfrac12\log\det(A\Sigma_{x|y}A^\top + I).

  Args:
    spectrum: from :func:`gaussian_ib_spectrum` (only Σ_x and Σ_{x|y} are used).
    a: encoder matrix ``[n_t, n_x]`` (any n_t ≥ 1).

  Returns:
    ``(i_tx, i_ty)`` in nats, scalars.

  References:
    Cover & Thomas, *Elements of Information Theory*, 2006, §8.5; Chechik et al., JMLR 2005.

  Examples:
    The identity encoder: :math:`I(T;X) = \tfrac12\log\det 2I = \log 2` and
    :math:`I(T;Y) = \log 2 - \tfrac12\log(1.19 \cdot 1.75)`:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> s = ib.gaussian_ib_spectrum(jnp.eye(2), jnp.diag(jnp.array([0.9, 0.5])), jnp.eye(2))
    >>> i_tx, i_ty = ib.linear_encoder_information(s, jnp.eye(2))
    >>> print(f"{float(i_tx):.4f} {float(i_ty):.4f}")
    0.6931 0.3264
  """
  a = _validate.finite("a", _validate.as_array(a))
  _validate.ndim("a", a, 2)
  _validate.last_dim("a", a, spectrum.cov_x.shape[-1], what="n_x")
  a = jnp.asarray(a, dtype=jnp.result_type(a, spectrum.cov_x))
  eye = jnp.eye(a.shape[0], dtype=a.dtype)
  logdet = lambda c: jnp.linalg.slogdet(_sym(a @ c @ a.T) + eye)[1]
  i_tx = 0.5 * logdet(spectrum.cov_x)
  return i_tx, i_tx - 0.5 * logdet(spectrum.cov_x_given_y)


def _beta(beta: ArrayLike) -> Array:
  beta = _validate.not_nan("beta", beta)
  if _validate.is_concrete(beta) and (np.asarray(beta) < 0).any():
    raise ValueError(f"beta must be >= 0, got {beta!r}.")
  return jnp.asarray(_validate.traced_check(beta, lambda b: jnp.all(b >= 0), "beta must be >= 0."))


def _active(spectrum: GaussianIBSpectrum, beta: Array) -> tuple[Array, Array]:
  lam = spectrum.eigenvalues
  one_minus = 1.0 - lam
  active = (one_minus > _ONE_TOL) & (beta * one_minus > 1.0)
  return active, one_minus


@_validate.guarded
def optimal_encoder(spectrum: GaussianIBSpectrum, *, beta: ArrayLike) -> Array:
  r"""The optimal linear projection A(β) of the Gaussian IB.

  .. math::  A = \operatorname{diag}(\alpha_i)\,[v_1,\dots,v_{n_x}]^\top,\qquad
             \alpha_i = \sqrt{\frac{\beta(1-\lambda_i)-1}{\lambda_i r_i}}\;\text{if }\beta>\beta_i^c,
             \text{ else } 0.

  Args:
    spectrum: from :func:`gaussian_ib_spectrum`.
    beta: trade-off β ≥ 0 (scalar); A = 0 for β ≤ β_1^c.

  Returns:
    ``[n_x, n_x]`` encoder matrix (rows of inactive components are zero).

  Raises:
    ValueError: (concrete inputs) β < 0 or NaN.

  References:
    Chechik et al., JMLR 2005, Theorem 3.1.

  Examples:
    At β = 2 only the first component (β^c = 1.2346) is on, with
    :math:`\alpha_1 = \sqrt{(2\cdot 0.81 - 1)/0.19} = 1.8064` (row norms; the rows' signs are
    arbitrary):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ib
    >>> s = ib.gaussian_ib_spectrum(jnp.eye(2), jnp.diag(jnp.array([0.9, 0.5])), jnp.eye(2))
    >>> a = ib.optimal_encoder(s, beta=2.0)
    >>> print(np.round(np.linalg.norm(np.asarray(a), axis=1), 4))
    [1.8064 0.    ]
  """
  beta = _beta(beta)
  active, one_minus = _active(spectrum, beta)
  lam = spectrum.eigenvalues
  r = jnp.einsum("ij,jk,ik->i", spectrum.eigenvectors, spectrum.cov_x, spectrum.eigenvectors)
  num = jnp.where(active, beta * one_minus - 1.0, 0.0)
  alpha = jnp.where(active, jnp.sqrt(num / jnp.where(active, lam * r, 1.0)), 0.0)
  return alpha[:, None] * spectrum.eigenvectors


@_validate.guarded
def ib_point(spectrum: GaussianIBSpectrum, *, beta: ArrayLike) -> tuple[Array, Array]:
  r"""Closed-form (I(T;X), I(T;Y)) of the optimal encoder at β.

  .. math::  I(T;X) = \tfrac12\sum_{i\le n(\beta)}\log\frac{(\beta-1)(1-\lambda_i)}{\lambda_i},\qquad
             I(T;Y) = I(T;X) - \tfrac12\sum_{i\le n(\beta)}\log\bigl(\beta(1-\lambda_i)\bigr).

  Args:
    spectrum: from :func:`gaussian_ib_spectrum`.
    beta: β ≥ 0, scalar.

  Returns:
    ``(i_tx, i_ty)`` in nats; both 0 below the first critical β.

  References:
    Chechik et al., JMLR 2005, §4.

  Examples:
    At β = 5 both components are on; the closed form equals the exact information of the
    constructed encoder:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> s = ib.gaussian_ib_spectrum(jnp.eye(2), jnp.diag(jnp.array([0.9, 0.5])), jnp.eye(2))
    >>> print(" ".join(f"{float(v):.4f}" for v in ib.ib_point(s, beta=5.0)))
    1.5620 0.7511
    >>> a = ib.optimal_encoder(s, beta=5.0)
    >>> print(" ".join(f"{float(v):.4f}" for v in ib.linear_encoder_information(s, a)))
    1.5620 0.7511
  """
  beta = _beta(beta)
  active, one_minus = _active(spectrum, beta)
  lam = spectrum.eigenvalues
  safe_beta = jnp.where(beta > 1.0, beta, 2.0)
  safe_lam = jnp.where(active, lam, 1.0)
  safe_om = jnp.where(active, one_minus, 1.0)
  i_tx = 0.5 * jnp.sum(jnp.where(active, jnp.log((safe_beta - 1.0) * safe_om / safe_lam), 0.0))
  i_ty = i_tx - 0.5 * jnp.sum(jnp.where(active, jnp.log(safe_beta * safe_om), 0.0))
  return i_tx, i_ty


@_validate.guarded
def ib_curve(spectrum: GaussianIBSpectrum, i_tx: ArrayLike) -> Array:
  r"""The Gaussian IB curve: the largest I(T;Y) reachable at a given I(T;X).

  .. math::  I_Y = I_X - \frac{n_I}{2}\log\Bigl(\prod_{i\le n_I}(1-\lambda_i)^{1/n_I}
             + e^{2I_X/n_I}\prod_{i\le n_I}\lambda_i^{1/n_I}\Bigr),

  with :math:`n_I` the number of components active at that :math:`I_X`: component k+1 switches on at
  the breakpoint :math:`I_X = \tfrac12\sum_{i\le k}\log\frac{(\beta^c_{k+1}-1)(1-\lambda_i)}{\lambda_i}`.
  Concave, increasing, 0 at 0, and tends to :math:`I(X;Y) = -\tfrac12\sum_i\log\lambda_i`.

  Args:
    spectrum: from :func:`gaussian_ib_spectrum`.
    i_tx: :math:`I(T;X) \ge 0` in nats, any shape.

  Returns:
    :math:`I_Y` on the curve, same shape as ``i_tx``.

  References:
    Chechik et al., JMLR 2005, eq. (15).

  Examples:
    The optimal encoder at β = 5 (:func:`ib_point`: I(T;X) = 1.5620) lies on the curve, which
    rises to :math:`I(X;Y) = -\tfrac12\log(0.19\cdot 0.75) = 0.9742`:

    >>> import jax.numpy as jnp
    >>> from divjax import ib
    >>> s = ib.gaussian_ib_spectrum(jnp.eye(2), jnp.diag(jnp.array([0.9, 0.5])), jnp.eye(2))
    >>> print(f"{float(ib.ib_curve(s, 1.5620)):.4f}")
    0.7511
    >>> print(f"{float(ib.ib_curve(s, 60.0)):.4f}")
    0.9742
  """
  i_tx = _validate.nonnegative("i_tx", i_tx)
  i_tx = jnp.asarray(i_tx, dtype=jnp.result_type(i_tx, spectrum.cov_x))
  lam = spectrum.eigenvalues
  one_minus = 1.0 - lam
  usable = one_minus > _ONE_TOL
  n = lam.shape[0]
  beta_c = critical_betas(spectrum)
  safe_lam = jnp.where(usable, lam, 0.5)
  safe_om = jnp.where(usable, one_minus, 0.5)
  # Breakpoint k (k = 1..n-1): I_X at β^c_{k+1} with the first k components active.
  idx = jnp.arange(n)
  bc_next = jnp.concatenate([beta_c[1:], jnp.array([jnp.inf], dtype=beta_c.dtype)])
  finite_next = jnp.isfinite(bc_next) & usable
  safe_bc = jnp.where(finite_next, bc_next, 2.0)
  terms = jnp.log((safe_bc[:, None] - 1.0) * safe_om[None, :] / safe_lam[None, :])
  mask = idx[None, :] <= idx[:, None]
  breaks = 0.5 * jnp.sum(jnp.where(mask, terms, 0.0), axis=1)
  breaks = jnp.where(finite_next, breaks, jnp.inf)  # breaks[k-1]: where component k+1 starts
  n_active = 1 + jnp.sum(i_tx[..., None] > breaks, axis=-1)
  n_active = jnp.minimum(n_active, jnp.maximum(jnp.sum(usable), 1))
  sel = idx < n_active[..., None]
  n_f = n_active.astype(i_tx.dtype)
  mean_log_om = jnp.sum(jnp.where(sel, jnp.log(safe_om), 0.0), axis=-1) / n_f
  mean_log_lam = jnp.sum(jnp.where(sel, jnp.log(safe_lam), 0.0), axis=-1) / n_f
  inner = jnp.logaddexp(mean_log_om, 2.0 * i_tx / n_f + mean_log_lam)
  return i_tx - 0.5 * n_f * inner
