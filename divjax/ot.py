r"""Entropic optimal transport through ott-jax: Sinkhorn costs, Sinkhorn divergences, SinKD.

divjax does not re-implement Sinkhorn: every solve below builds an ``ott.geometry`` object and runs
``ott.solvers.linear.sinkhorn.Sinkhorn`` (or ``ott.tools.sinkhorn_divergence``). This module adds the
divergence-theory layer: argument checks, one result type with the convergence diagnostics, the two
batch paths, the batch-wise Sinkhorn distillation loss of SinKD and the combined distillation
objective built from :mod:`divjax.divergences`.

Symbols (nats throughout):

* :math:`a \in \Delta^{n-1}, b \in \Delta^{m-1}` — the two weight vectors (histograms);
* :math:`C \in \mathbb R^{n\times m}` — the ground cost, :math:`C_{ij} = c(x_i, y_j)`;
* :math:`\varepsilon > 0` — the entropic regularisation (absolute, or relative to the mean cost with
  ``relative_epsilon="mean"``);
* :math:`P^\star_\varepsilon` — the entropic plan, the minimiser of

  .. math::  \mathrm{OT}_\varepsilon(a, b) = \min_{P \in U(a,b)} \langle P, C\rangle
             + \varepsilon\,\mathrm{KL}(P\,\|\,a b^\top);

* the debiased Sinkhorn divergence

  .. math::  S_\varepsilon(a, b) = \mathrm{OT}_\varepsilon(a, b)
             - \tfrac12\mathrm{OT}_\varepsilon(a, a) - \tfrac12\mathrm{OT}_\varepsilon(b, b),

  which is zero for identical inputs and positive otherwise (for the squared-Euclidean and other
  positive-kernel costs, Feydy et al. 2019) and tends to the unregularised OT cost as ε → 0.

Convergence check (ott-jax's): every ``inner_iterations`` iterations the ``norm_error``-norm of the
deviation of the plan's column marginal from ``b`` is compared with ``threshold``. Small ε needs
many iterations (the number grows like 1/ε); a solve that hits ``max_iterations`` reports
``converged=False`` and returns its last iterate — check the flag, never trust the value blindly.

Batches: :func:`batched_sinkhorn_cost` offers ``method="vmap"`` (every problem runs exactly
``max_iterations`` iterations in lock-step: one fused program, the fast path on accelerators) and
``method="loop"`` (a jitted ``lax.map`` over problems, each stopping as soon as it converges: on CPU
this is faster because no work is spent on already-converged problems). ``method=None`` picks
``"loop"`` on CPU, as measured by ``benchmarks/bench_ot.py`` (the loop beat the fixed-budget ``vmap``
even when the budget equals the slowest problem's need, and ``vmap`` of the early-stopping solver was
several times slower still), and ``"vmap"`` on GPU/TPU, where one fused batched program is the
usual winner; that accelerator default has **not** been benchmarked yet (run the benchmark there).

The theory behind the costs, the debiasing, SinKD's batch loss and the distillation divergences, with
the tests that check each statement: :doc:`/theory/sinkhorn_kd`.

References:
  Cuturi, *Sinkhorn distances: lightspeed computation of optimal transport*, NeurIPS 2013,
  arXiv:1306.0895.
  Peyré & Cuturi, *Computational optimal transport*, 2019, arXiv:1803.00567.
  Feydy, Séjourné, Vialard, Amari, Trouvé & Peyré, *Interpolating between optimal transport and MMD
  using Sinkhorn divergences*, AISTATS 2019, arXiv:1810.08278.
  Cuturi, Meng-Papaxanthos, Tian, Bunne, Davis & Teboul, *Optimal transport tools (OTT): a JAX
  toolbox for all things Wasserstein*, 2022, arXiv:2201.12324.
  Cui, Ge, Xu, Ruan, Pan & Zhang, *SinKD: Sinkhorn distance minimization for knowledge
  distillation*, LREC-COLING 2024 / TNNLS 2025, arXiv:2402.17110.
  Amara, Sepahvand, Meyer, Gross & Clark, *BD-KD: balancing the divergences for online knowledge
  distillation*, arXiv:2212.12965.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from ott.geometry import costs as ott_costs
from ott.geometry import geometry as ott_geometry
from ott.geometry import pointcloud
from ott.problems.linear import linear_problem
from ott.solvers.linear import implicit_differentiation as implicit_lib
from ott.solvers.linear import sinkhorn as ott_sinkhorn
from ott.tools import sinkhorn_divergence as ott_divergence

from divjax import _validate
from divjax import divergences as dv

__all__ = [
    "SinkhornResult",
    "SinkhornDivergenceResult",
    "sinkhorn_cost",
    "sinkhorn_divergence",
    "histogram_sinkhorn_cost",
    "histogram_sinkhorn_divergence",
    "batched_sinkhorn_cost",
    "default_batch_method",
    "pairwise_cost",
    "sinkd_loss",
    "entropy_gap_weights",
    "equal_weights",
    "kd_divergence",
    "DistillationLoss",
    "distillation_loss",
]

Array = jax.Array
ArrayLike = Any
PointCost = Literal["sqeuclidean", "euclidean", "l1"]
GroundCost = Literal["l1", "sqeuclidean", "euclidean"]

_POINT_COSTS: dict[str, Callable[[], ott_costs.CostFn]] = {
    "sqeuclidean": ott_costs.SqEuclidean,
    "euclidean": ott_costs.Euclidean,
    "l1": lambda: ott_costs.PNormP(1.0),
}


class SinkhornResult(NamedTuple):
  r"""The outcome of one entropic OT solve (or a batch of them, with a leading axis).

  Attributes:
    value: the regularised cost :math:`\mathrm{OT}_\varepsilon(a, b) = \langle P, C\rangle +
      \varepsilon\,\mathrm{KL}(P\|ab^\top)` (ott-jax's ``reg_ot_cost``, the dual objective).
    transport_cost: :math:`\langle P, C\rangle` at the returned plan (what POT's
      ``ot.sinkhorn2`` returns), computed from the materialised n × m plan and cost.
    converged: whether the last checked marginal error was below ``threshold``.
    n_iters: iterations run (a multiple of ``inner_iterations``).
    error: the last recorded marginal error.

  Examples:
    One point on each side: the only coupling is P = 1, so both fields equal
    c(x, y) = ‖(1, 1)‖² = 2:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> r = ot.sinkhorn_cost(jnp.array([[0.0, 0.0]]), jnp.array([[1.0, 1.0]]), epsilon=0.1)
    >>> print(f"{float(r.value):.4f} {float(r.transport_cost):.4f} {bool(r.converged)}")
    2.0000 2.0000 True
  """
  value: Array
  transport_cost: Array
  converged: Array
  n_iters: Array
  error: Array


class SinkhornDivergenceResult(NamedTuple):
  r"""The debiased Sinkhorn divergence and the diagnostics of its three solves (xy, xx, yy).

  Attributes:
    value: :math:`S_\varepsilon = \mathrm{OT}_\varepsilon(a,b) -
      \tfrac12\mathrm{OT}_\varepsilon(a,a) - \tfrac12\mathrm{OT}_\varepsilon(b,b)`.
    converged: all three solves converged.
    n_iters: iterations of the three solves, shape ``[3]``.

  Examples:
    Identical histograms give 0:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> a, cost = jnp.array([0.5, 0.5]), jnp.array([[0.0, 1.0], [1.0, 0.0]])
    >>> d = ot.histogram_sinkhorn_divergence(a, a, cost, epsilon=0.1)
    >>> print(f"{float(d.value):.4f} {bool(d.converged)} {d.n_iters.shape}")
    0.0000 True (3,)
  """
  value: Array
  converged: Array
  n_iters: Array


# ---------------------------------------------------------------------------------------------------
# Argument checks.


def _check_epsilon(epsilon: Any) -> Any:
  if epsilon is None:
    raise ValueError("epsilon must be a positive scalar, got None.")
  return _validate.positive_scalar("epsilon", epsilon)


def _check_options(threshold: Any, norm_error: Any, inner_iterations: Any, max_iterations: Any,
                   min_iterations: Any) -> None:
  _validate.positive_scalar("threshold", threshold)
  _validate.integer("norm_error", norm_error, minimum=1)
  _validate.integer("inner_iterations", inner_iterations, minimum=1)
  _validate.integer("max_iterations", max_iterations, minimum=1)
  _validate.integer("min_iterations", min_iterations, minimum=0, maximum=max_iterations)


def _weights(name: str, w: ArrayLike | None, n: int, dtype: Any) -> Array:
  if w is None:
    return jnp.full((n,), 1.0 / n, dtype=dtype)
  _validate.array(name, w)
  _validate.ndim(name, w, 1)
  if np.shape(w)[0] != n:
    raise ValueError(f"{name} must have one weight per point ({n}), got shape {np.shape(w)}.")
  w = _validate.probabilities(name, w)
  return jnp.asarray(w, dtype=dtype)


def _points(name: str, x: ArrayLike) -> Array:
  _validate.array(name, x)
  _validate.ndim(name, x, 2)
  x = _validate.finite(name, x)
  if np.shape(x)[0] == 0:
    raise ValueError(f"{name} must hold at least one point (shape [n >= 1, d]), got {np.shape(x)}.")
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.result_type(float))
  return x


def _check_scale(x: Array, y: Array) -> None:
  """Concrete values only: squared distances between x and y must not overflow their dtype."""
  if not _validate.is_concrete((x, y)) or not x.size or not y.size:
    return
  # Per coordinate |x_i − y_j| ≤ max|x| + max|y| = top, so ‖x_i − y_j‖² ≤ d·top².
  top = float(jnp.max(jnp.abs(x))) + float(jnp.max(jnp.abs(y)))
  dtype = jnp.result_type(x.dtype, y.dtype)
  if _validate.squares_overflow(top, dtype, x.shape[1]):
    raise ValueError(
        f"x and y are too large for {dtype}: coordinates up to {top:.3g} give squared distances "
        "that overflow (the cost would be inf and the transport NaN). Rescale the points or enable "
        "float64 (jax_enable_x64).")


#: ε·eps(dtype) may be at most this fraction of the largest cost: beyond it the entropic term's
#: rounding (ε times a KL of order eps) swamps the transport cost (measured: at cost scale 4 in
#: float32 the value is off by 8 % at ε = 1e6 and is noise beyond).
_EPSILON_ROUNDING = 1e-2


def _check_epsilon_scale(epsilon: Any, cost: Any, relative_epsilon: str | None) -> None:
  """Concrete values only: ε must not be so large that the result is rounding noise."""
  if not _validate.is_concrete((epsilon, cost)):
    return
  c = np.abs(np.asarray(cost))
  scale = float(c.max()) if c.size else 0.0
  if scale == 0.0:
    return  # a zero cost: the transport cost is 0 for every ε
  eps = float(jnp.finfo(jnp.result_type(cost, float)).eps)
  absolute = float(epsilon) * (1.0 if relative_epsilon is None else scale)
  if absolute * eps > _EPSILON_ROUNDING * scale:
    raise ValueError(
        f"epsilon = {float(epsilon):.3g}{' (relative)' if relative_epsilon else ''} is too large for "
        f"costs up to {scale:.3g} in {jnp.result_type(cost, float)}: the entropic term's rounding "
        f"(epsilon x machine epsilon) exceeds {_EPSILON_ROUNDING:g} of the cost, so the result would "
        "be rounding noise. Use a smaller epsilon (the OT cost tends to <a b^T, C> as epsilon "
        "grows) or float64.")


def _point_cost(cost: str | ott_costs.CostFn) -> ott_costs.CostFn:
  if isinstance(cost, ott_costs.CostFn):
    return cost
  if cost not in _POINT_COSTS:
    raise ValueError(f"cost must be one of {sorted(_POINT_COSTS)} or an ott CostFn, got {cost!r}.")
  return _POINT_COSTS[cost]()


def _check_relative(relative_epsilon: Any) -> None:
  if relative_epsilon not in (None, "mean", "std"):
    raise ValueError(f"relative_epsilon must be None, 'mean' or 'std', got {relative_epsilon!r}.")


# ---------------------------------------------------------------------------------------------------
# The solver.


def _solver(*, threshold: float, norm_error: int, inner_iterations: int, max_iterations: int,
            min_iterations: int, implicit_diff: bool) -> ott_sinkhorn.Sinkhorn:
  return ott_sinkhorn.Sinkhorn(
      threshold=threshold, norm_error=norm_error, inner_iterations=inner_iterations,
      max_iterations=max_iterations, min_iterations=min_iterations,
      implicit_diff=implicit_lib.ImplicitDiff() if implicit_diff else None)


def _result(out: ott_sinkhorn.SinkhornOutput) -> SinkhornResult:
  errors = out.errors
  recorded = jnp.where(errors >= 0, errors, jnp.inf)
  # The last error actually computed: the last entry that is neither "not run" (-1) nor inf.
  finite = jnp.isfinite(recorded)
  idx = jnp.where(jnp.any(finite), jnp.max(jnp.where(finite, jnp.arange(errors.shape[0]), -1)), 0)
  # ⟨P, C⟩ from the materialised plan and cost: ott-jax's ``primal_cost`` goes through a low-rank
  # factorisation of point-cloud costs that was ~30× slower than the whole solve at 2 000 × 2 000.
  transport = jnp.sum(out.matrix * out.geom.cost_matrix)
  return SinkhornResult(value=out.reg_ot_cost, transport_cost=transport,
                        converged=jnp.asarray(out.converged), n_iters=jnp.asarray(out.n_iters),
                        error=recorded[idx])


def _highest_precision():
  """Traces ott-jax's dots (point-cloud cost matrices, kernel products) at ``Precision.HIGHEST``.

  ott-jax calls ``jnp.vdot``/``jnp.dot`` without a precision, and a float32 dot at ``DEFAULT``
  precision may run at reduced (TF32-class) precision on NVIDIA GPUs; on CPU nothing changes.
  """
  return jax.default_matmul_precision("highest")


def _solve(geom: ott_geometry.Geometry, a: Array, b: Array, options: dict[str, Any]) -> SinkhornResult:
  with _highest_precision():
    prob = linear_problem.LinearProblem(geom, a=a, b=b)
    return _result(_solver(**options)(prob))


_DOC_OPTIONS = """
    epsilon: the entropic regularisation ε > 0 (absolute unless ``relative_epsilon`` is set).
    relative_epsilon: ``None`` (ε is absolute), ``"mean"`` or ``"std"`` (ε is multiplied by the
      mean / standard deviation of the cost matrix, ott-jax's convention).
    threshold: convergence tolerance on the marginal error.
    norm_error: the p of the ℓ_p norm of the marginal error (1 = ott-jax's default, 2 = POT's).
    inner_iterations: the error is checked every this many iterations (POT checks every 10).
    max_iterations: the iteration budget.
    min_iterations: iterations run before the first check (``= max_iterations`` gives a fixed budget).
    implicit_diff: differentiate by the implicit function theorem at the returned potentials (valid at
      convergence, cheap); ``False`` unrolls the loop (exact for the iterate actually returned)."""


def _with_options(fn):
  """Inserts the shared solver-option docs at ``{options}``."""
  fn.__doc__ = fn.__doc__.replace("    {options}\n", _DOC_OPTIONS.lstrip("\n") + "\n")
  return fn


@_validate.guarded
@_with_options
def sinkhorn_cost(x: ArrayLike,
                  y: ArrayLike,
                  a: ArrayLike | None = None,
                  b: ArrayLike | None = None,
                  *,
                  epsilon: float,
                  cost: str | ott_costs.CostFn = "sqeuclidean",
                  relative_epsilon: str | None = None,
                  threshold: float = 1e-3,
                  norm_error: int = 1,
                  inner_iterations: int = 10,
                  max_iterations: int = 2000,
                  min_iterations: int = 0,
                  implicit_diff: bool = True) -> SinkhornResult:
  r"""Entropic OT cost between two weighted point clouds (an ott-jax point-cloud Sinkhorn solve).

  .. math::  \mathrm{OT}_\varepsilon(\alpha, \beta) = \min_{P\in U(a,b)} \sum_{ij} P_{ij}\,c(x_i, y_j)
             + \varepsilon\,\mathrm{KL}(P\,\|\,ab^\top),
             \qquad \alpha = \textstyle\sum_i a_i\delta_{x_i},\ \beta = \sum_j b_j\delta_{y_j}.

  The geometry is an ott-jax ``PointCloud`` and the solver ott-jax's ``Sinkhorn``.

  Args:
    x: source points, shape ``[n, d]``.
    y: target points, shape ``[m, d]``.
    a: source weights ``[n]`` (non-negative, summing to 1); uniform if ``None``.
    b: target weights ``[m]``; uniform if ``None``.
    cost: ``"sqeuclidean"`` (‖x−y‖², the default), ``"euclidean"``, ``"l1"`` or an ott ``CostFn``.
    {options}

  Returns:
    A :class:`SinkhornResult` (scalars). Differentiable in ``x``, ``y``, ``a``, ``b``.

  Raises:
    ValueError: for ε ≤ 0, weights that are negative, unnormalised or of the wrong length, points
      that are not ``[n, d]`` / ``[m, d]`` with the same ``d``, or bad solver options (concrete inputs).

  References:
    Cuturi, NeurIPS 2013, arXiv:1306.0895; Cuturi et al. (OTT), arXiv:2201.12324.

  Examples:
    Two points shifted by 1: the plan is the identity coupling up to :math:`e^{-1/\varepsilon}`,
    with cost 1 and :math:`\mathrm{KL}(P\|ab^\top) = \log 2`, so the value is 1 + ε log 2:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> x = jnp.array([[0.0], [1.0]])
    >>> print(f"{float(ot.sinkhorn_cost(x, x + 1.0, epsilon=0.1).value):.4f}")
    1.0693
  """
  x, y = _points("x", x), _points("y", y)
  if x.shape[1] != y.shape[1]:
    raise ValueError(f"x and y must have the same dimension d, got shapes {x.shape} and {y.shape}.")
  _check_scale(x, y)
  epsilon = _check_epsilon(epsilon)
  _check_relative(relative_epsilon)
  _check_options(threshold, norm_error, inner_iterations, max_iterations, min_iterations)
  dtype = jnp.result_type(x.dtype, y.dtype)
  a = _weights("a", a, x.shape[0], dtype)
  b = _weights("b", b, y.shape[0], dtype)
  geom = pointcloud.PointCloud(x, y, cost_fn=_point_cost(cost), epsilon=epsilon,
                               relative_epsilon=relative_epsilon)
  if _validate.is_concrete((x, y, epsilon)):
    _check_epsilon_scale(epsilon, geom.cost_matrix, relative_epsilon)
  return _solve(geom, a, b, dict(threshold=threshold, norm_error=norm_error,
                                 inner_iterations=inner_iterations, max_iterations=max_iterations,
                                 min_iterations=min_iterations, implicit_diff=implicit_diff))


def _cost_matrix(cost_matrix: ArrayLike, n: int | None, m: int | None) -> Array:
  _validate.array("cost_matrix", cost_matrix)
  _validate.ndim("cost_matrix", cost_matrix, 2)
  cost_matrix = _validate.finite("cost_matrix", cost_matrix)
  shape = np.shape(cost_matrix)
  if (n is not None and shape[0] != n) or (m is not None and shape[1] != m):
    raise ValueError(f"cost_matrix must have shape [len(a), len(b)] = [{n}, {m}], got {shape}.")
  c = jnp.asarray(cost_matrix)
  if not jnp.issubdtype(c.dtype, jnp.floating):
    c = c.astype(jnp.result_type(float))
  return c


def _histogram(name: str, h: ArrayLike) -> Array:
  _validate.array(name, h)
  _validate.ndim(name, h, 1)
  h = _validate.probabilities(name, h)
  h = jnp.asarray(h)
  if not jnp.issubdtype(h.dtype, jnp.floating):
    h = h.astype(jnp.result_type(float))
  return h


@_validate.guarded
@_with_options
def histogram_sinkhorn_cost(a: ArrayLike,
                            b: ArrayLike,
                            cost_matrix: ArrayLike,
                            *,
                            epsilon: float,
                            relative_epsilon: str | None = None,
                            threshold: float = 1e-3,
                            norm_error: int = 1,
                            inner_iterations: int = 10,
                            max_iterations: int = 2000,
                            min_iterations: int = 0,
                            implicit_diff: bool = True) -> SinkhornResult:
  r"""Entropic OT cost between histograms with a given cost matrix (an ott-jax Geometry solve).

  .. math::  \mathrm{OT}_\varepsilon(a, b) = \min_{P\in U(a,b)} \langle P, C\rangle
             + \varepsilon\,\mathrm{KL}(P\,\|\,ab^\top)

  Args:
    a: histogram ``[n]`` (non-negative, summing to 1).
    b: histogram ``[m]``.
    cost_matrix: ``C``, shape ``[n, m]``, finite.
    {options}

  Returns:
    A :class:`SinkhornResult`. Differentiable in ``a``, ``b`` and ``cost_matrix``.

  Raises:
    ValueError: for ε ≤ 0, bad histograms, or a cost matrix whose shape does not match.

  References:
    Cuturi, NeurIPS 2013, arXiv:1306.0895; Peyré & Cuturi, arXiv:1803.00567, §4.

  Examples:
    A one-point source admits a single coupling, which ships b as it is: the value is
    ⟨b, C⟩ = 0.75 for every ε:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> r = ot.histogram_sinkhorn_cost(jnp.array([1.0]), jnp.array([0.25, 0.75]),
    ...                                jnp.array([[0.0, 1.0]]), epsilon=0.1)
    >>> print(f"{float(r.value):.4f}")
    0.7500
  """
  a, b = _histogram("a", a), _histogram("b", b)
  c = _cost_matrix(cost_matrix, a.shape[0], b.shape[0])
  epsilon = _check_epsilon(epsilon)
  _check_relative(relative_epsilon)
  _check_options(threshold, norm_error, inner_iterations, max_iterations, min_iterations)
  _check_epsilon_scale(epsilon, c, relative_epsilon)
  geom = ott_geometry.Geometry(cost_matrix=c, epsilon=epsilon, relative_epsilon=relative_epsilon)
  return _solve(geom, a.astype(c.dtype), b.astype(c.dtype),
                dict(threshold=threshold, norm_error=norm_error, inner_iterations=inner_iterations,
                     max_iterations=max_iterations, min_iterations=min_iterations,
                     implicit_diff=implicit_diff))


def _divergence_result(out: Any) -> SinkhornDivergenceResult:
  return SinkhornDivergenceResult(value=out.divergence,
                                  converged=jnp.all(jnp.stack([jnp.asarray(c) for c in out.converged])),
                                  n_iters=jnp.stack([jnp.asarray(n) for n in out.n_iters]))


@_validate.guarded
@_with_options
def sinkhorn_divergence(x: ArrayLike,
                        y: ArrayLike,
                        a: ArrayLike | None = None,
                        b: ArrayLike | None = None,
                        *,
                        epsilon: float,
                        cost: str | ott_costs.CostFn = "sqeuclidean",
                        relative_epsilon: str | None = None,
                        threshold: float = 1e-3,
                        norm_error: int = 1,
                        inner_iterations: int = 10,
                        max_iterations: int = 2000,
                        min_iterations: int = 0,
                        implicit_diff: bool = True) -> SinkhornDivergenceResult:
  r"""Debiased Sinkhorn divergence between weighted point clouds (ott-jax's sinkhorn_divergence).

  .. math::  S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
             - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha) - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta)

  Zero when α = β; positive otherwise for the squared-Euclidean cost (a positive universal kernel
  :math:`e^{-c/\varepsilon}`). As ε → 0 it tends to the OT cost (W₂² for the squared cost); as
  ε → ∞ to half the MMD² with kernel −c. The three solves share ε (that of the (x, y) problem, so
  ``relative_epsilon`` is resolved on the cross cost). The symmetric terms use ott-jax's symmetric
  (averaged) updates.

  Args:
    x, y, a, b, cost: as in :func:`sinkhorn_cost`.
    {options}

  Returns:
    A :class:`SinkhornDivergenceResult`.

  Raises:
    ValueError: as in :func:`sinkhorn_cost`.

  References:
    Feydy et al., AISTATS 2019, arXiv:1810.08278; Genevay, Peyré & Cuturi, *Learning generative
    models with Sinkhorn divergences*, AISTATS 2018, arXiv:1706.00292.

  Examples:
    For the squared cost a copy translated by t gives exactly ‖t‖², at every ε: the cross term
    −2⟨x − y, t⟩ of the cost is separable, so it adds the same constant to every coupling, and
    that constant is 0 because the two clouds had the same mean before the shift:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> x = jnp.array([[0.0], [1.0], [3.0]])
    >>> d = ot.sinkhorn_divergence(x, x + 2.0, epsilon=1.0, threshold=1e-6)
    >>> print(f"{float(d.value):.4f} {bool(d.converged)}")
    4.0000 True
  """
  x, y = _points("x", x), _points("y", y)
  if x.shape[1] != y.shape[1]:
    raise ValueError(f"x and y must have the same dimension d, got shapes {x.shape} and {y.shape}.")
  _check_scale(x, y)
  epsilon = _check_epsilon(epsilon)
  _check_relative(relative_epsilon)
  _check_options(threshold, norm_error, inner_iterations, max_iterations, min_iterations)
  dtype = jnp.result_type(x.dtype, y.dtype)
  a = _weights("a", a, x.shape[0], dtype)
  b = _weights("b", b, y.shape[0], dtype)
  solve_kwargs = dict(threshold=threshold, norm_error=norm_error, inner_iterations=inner_iterations,
                      max_iterations=max_iterations, min_iterations=min_iterations,
                      implicit_diff=implicit_lib.ImplicitDiff() if implicit_diff else None)
  with _highest_precision():
    if _validate.is_concrete((x, y, epsilon)):
      _check_epsilon_scale(epsilon, pointcloud.PointCloud(x, y, cost_fn=_point_cost(cost)).cost_matrix,
                           relative_epsilon)
    _, out = ott_divergence.sinkhorn_divergence(
        pointcloud.PointCloud, x, y, a=a, b=b, cost_fn=_point_cost(cost), epsilon=epsilon,
        relative_epsilon=relative_epsilon, solve_kwargs=solve_kwargs)
  return _divergence_result(out)


@_validate.guarded
@_with_options
def histogram_sinkhorn_divergence(a: ArrayLike,
                                  b: ArrayLike,
                                  cost_matrix: ArrayLike,
                                  *,
                                  epsilon: float,
                                  relative_epsilon: str | None = None,
                                  threshold: float = 1e-3,
                                  norm_error: int = 1,
                                  inner_iterations: int = 10,
                                  max_iterations: int = 2000,
                                  min_iterations: int = 0,
                                  implicit_diff: bool = True) -> SinkhornDivergenceResult:
  r"""Debiased Sinkhorn divergence between two histograms on one shared support.

  .. math::  S_\varepsilon(a, b) = \mathrm{OT}_\varepsilon(a, b) - \tfrac12\mathrm{OT}_\varepsilon(a, a)
             - \tfrac12\mathrm{OT}_\varepsilon(b, b),

  all three with the same cost matrix ``C`` over the shared support (so ``C`` is square).

  Args:
    a, b: histograms ``[n]`` on the same n support points.
    cost_matrix: ``[n, n]`` ground cost between the support points.
    {options}

  Returns:
    A :class:`SinkhornDivergenceResult`.

  Raises:
    ValueError: as in :func:`histogram_sinkhorn_cost`, or when ``a`` and ``b`` differ in length.

  References:
    Feydy et al., AISTATS 2019, arXiv:1810.08278.

  Examples:
    Two point masses at distance 1 on a two-point support: the self-terms vanish (a point mass
    has one coupling, of cost 0) and the cross term costs 1:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> cost = jnp.array([[0.0, 1.0], [1.0, 0.0]])
    >>> d = ot.histogram_sinkhorn_divergence(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]), cost,
    ...                                      epsilon=0.1)
    >>> print(f"{float(d.value):.4f}")
    1.0000
  """
  a, b = _histogram("a", a), _histogram("b", b)
  if a.shape != b.shape:
    raise ValueError(f"a and b must live on the same support (same length), got shapes {a.shape} "
                     f"and {b.shape}.")
  c = _cost_matrix(cost_matrix, a.shape[0], b.shape[0])
  epsilon = _check_epsilon(epsilon)
  _check_relative(relative_epsilon)
  _check_options(threshold, norm_error, inner_iterations, max_iterations, min_iterations)
  _check_epsilon_scale(epsilon, c, relative_epsilon)
  solve_kwargs = dict(threshold=threshold, norm_error=norm_error, inner_iterations=inner_iterations,
                      max_iterations=max_iterations, min_iterations=min_iterations,
                      implicit_diff=implicit_lib.ImplicitDiff() if implicit_diff else None)
  with _highest_precision():
    _, out = ott_divergence.sinkhorn_divergence(
        ott_geometry.Geometry, c, c, c, a=a.astype(c.dtype), b=b.astype(c.dtype), epsilon=epsilon,
        relative_epsilon=relative_epsilon, solve_kwargs=solve_kwargs)
  return _divergence_result(out)


# ---------------------------------------------------------------------------------------------------
# Batches.


@_validate.guarded
def default_batch_method(backend: str | None = None) -> str:
  """The default batch path: "loop" on CPU (measured), "vmap" on GPU/TPU (not yet measured).

  CPU (2 cores, measured): ``"loop"`` was faster in 5 of 6 cases of ``benchmarks/device/gpu_bench.py``'s
  Sinkhorn section (batches of 16–64 clouds of 64–256 points) and in ``benchmarks/bench_ot.py``'s
  64 × 256² batch: 1.4–4.4× where iteration counts differ within the batch, since the loop stops each
  problem at its own count. ``"vmap"`` won (2.2×) one case, 16 clouds of 256 points whose counts
  were nearly equal (30–50). GPU/TPU: ``"vmap"`` is an assumption that no measurement backs yet;
  ``benchmarks/device/run.sh`` times both paths there and writes its verdict to
  ``benchmarks/RESULTS-gpu.md``, which should decide this default. See :func:`batched_sinkhorn_cost`.

  Args:
    backend: a JAX backend name; ``None`` uses ``jax.default_backend()``.

  Returns:
    ``"loop"`` or ``"vmap"``.

  Examples:
    >>> from divjax import ot
    >>> ot.default_batch_method("cpu"), ot.default_batch_method("gpu")
    ('loop', 'vmap')
  """
  backend = backend or jax.default_backend()
  return "loop" if backend == "cpu" else "vmap"


@_validate.guarded
def batched_sinkhorn_cost(x: ArrayLike,
                          y: ArrayLike,
                          a: ArrayLike | None = None,
                          b: ArrayLike | None = None,
                          *,
                          epsilon: float,
                          method: Literal["vmap", "loop"] | None = None,
                          cost: str | ott_costs.CostFn = "sqeuclidean",
                          relative_epsilon: str | None = None,
                          threshold: float = 1e-3,
                          norm_error: int = 1,
                          inner_iterations: int = 10,
                          max_iterations: int = 2000,
                          implicit_diff: bool = True) -> SinkhornResult:
  r"""Entropic OT costs of a batch of independent point-cloud problems (leading axis of every input).

  The batched form of :func:`sinkhorn_cost`, with two paths:

  * ``method="vmap"``: ``jax.vmap`` with a **fixed iteration budget** — every problem runs exactly
    ``max_iterations`` iterations (the marginal error is checked once, at the end, to set
    ``converged``). One fused program with no data-dependent control flow; the fast path on GPU/TPU.
    Pick ``max_iterations`` for the hardest problem: a budget too small gives ``converged=False``.
  * ``method="loop"``: a jitted ``lax.map`` over problems, each with ott-jax's early stopping
    (checks every ``inner_iterations``). On CPU the loop is faster: it spends no iterations on
    problems that have already converged, and a CPU gains little from batching the kernel
    applications. (``jax.vmap`` of the early-stopping solver, which runs every problem until the
    slowest has converged, was slower than both paths on CPU in the benchmark.)

  ``method=None`` uses :func:`default_batch_method` (``"loop"`` on CPU, ``"vmap"`` otherwise).

  Args:
    x: source points ``[p, n, d]``.
    y: target points ``[p, m, d]``.
    a, b: weights ``[p, n]``, ``[p, m]`` or ``None`` (uniform).
    method: the batch path.
    epsilon, cost, relative_epsilon, threshold: as in :func:`sinkhorn_cost`.
    norm_error, inner_iterations, max_iterations, implicit_diff: as in :func:`sinkhorn_cost`.

  Returns:
    A :class:`SinkhornResult` whose fields have leading axis ``p``.

  Raises:
    ValueError: as in :func:`sinkhorn_cost`, for inputs without the batch axis or with different
      batch sizes, and for an unknown ``method``.

  References:
    Cuturi, NeurIPS 2013, arXiv:1306.0895; Cuturi et al. (OTT), arXiv:2201.12324.

  Examples:
    Two one-point problems: each value is the squared distance, on either path:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ot
    >>> x, y = jnp.zeros((2, 1, 1)), jnp.array([[[1.0]], [[2.0]]])
    >>> for method in ("loop", "vmap"):
    ...     r = ot.batched_sinkhorn_cost(x, y, epsilon=0.1, method=method)
    ...     print(np.round(np.asarray(r.value), 4))
    [1. 4.]
    [1. 4.]
  """
  method = default_batch_method() if method is None else method
  if method not in ("vmap", "loop"):
    raise ValueError(f"method must be 'vmap', 'loop' or None, got {method!r}.")
  _validate.ndim("x", x, 3)
  _validate.ndim("y", y, 3)
  p = np.shape(x)[0]
  if np.shape(y)[0] != p:
    raise ValueError(f"x and y must have the same batch size, got shapes {np.shape(x)} and "
                     f"{np.shape(y)}.")
  for name, w, n in (("a", a, np.shape(x)[1]), ("b", b, np.shape(y)[1])):
    if w is not None:
      _validate.ndim(name, w, 2)
      if np.shape(w) != (p, n):
        raise ValueError(f"{name} must have shape [{p}, {n}], got {np.shape(w)}.")
  a = None if a is None else _validate.probabilities("a", a)
  b = None if b is None else _validate.probabilities("b", b)
  # Check one problem's arguments eagerly (shapes, ε, options) so errors name the argument.
  epsilon = _check_epsilon(epsilon)
  _check_relative(relative_epsilon)
  _check_options(threshold, norm_error, inner_iterations, max_iterations, 0)
  x = _validate.finite("x", x)
  y = _validate.finite("y", y)
  x, y = jnp.asarray(x), jnp.asarray(y)
  if x.shape[2] != y.shape[2]:
    raise ValueError(f"x and y must have the same dimension d, got shapes {x.shape} and {y.shape}.")
  _check_scale(x.reshape(-1, x.shape[2]), y.reshape(-1, y.shape[2]))
  if _validate.is_concrete((x, y, epsilon)) and x.size and y.size:
    costs = jax.vmap(lambda xi, yi: pointcloud.PointCloud(xi, yi, cost_fn=_point_cost(cost))
                     .cost_matrix)(x, y)
    _check_epsilon_scale(epsilon, costs, relative_epsilon)
  dtype = jnp.result_type(x.dtype, y.dtype, float)
  a = jnp.full(x.shape[:2], 1.0 / x.shape[1], dtype) if a is None else jnp.asarray(a, dtype)
  b = jnp.full(y.shape[:2], 1.0 / y.shape[1], dtype) if b is None else jnp.asarray(b, dtype)
  cost_fn = _point_cost(cost)
  fixed = method == "vmap"
  options = dict(threshold=threshold, norm_error=norm_error,
                 inner_iterations=max_iterations if fixed else inner_iterations,
                 max_iterations=max_iterations, min_iterations=max_iterations if fixed else 0,
                 implicit_diff=implicit_diff)

  def one(args):
    xi, yi, ai, bi = args
    geom = pointcloud.PointCloud(xi, yi, cost_fn=cost_fn, epsilon=epsilon,
                                 relative_epsilon=relative_epsilon)
    return _solve(geom, ai, bi, options)

  if fixed:
    return jax.vmap(lambda *args: one(args))(x, y, a, b)
  return jax.lax.map(one, (x, y, a, b))


# ---------------------------------------------------------------------------------------------------
# SinKD: the batch-wise Sinkhorn distillation loss.


@_validate.guarded
def pairwise_cost(p: Array, q: Array, *, ground_cost: GroundCost | Callable[[Array, Array], Array] = "l1"
                  ) -> Array:
  r"""Cost matrix C_ij = c(p_i, q_j) between the rows of p and the rows of q.

  ``"l1"``: :math:`\|p_i - q_j\|_1` (SinKD's ``torch.cdist(p=1)``); ``"sqeuclidean"``:
  :math:`\|p_i - q_j\|_2^2`; ``"euclidean"``: :math:`\|p_i-q_j\|_2` (gradient 0 at coincident
  points instead of NaN); or a callable ``c(u, v) -> scalar`` applied pairwise.

  Args:
    p: ``[n, k]``.
    q: ``[m, k]``.
    ground_cost: ``"l1"``, ``"sqeuclidean"``, ``"euclidean"`` or a callable, see above.

  Returns:
    ``[n, m]`` cost matrix.

  Raises:
    ValueError: for an unknown ``ground_cost`` name, inputs that are not 2-D, rows of different
      lengths or non-finite entries.

  References:
    Cui et al., arXiv:2402.17110 (public code, ``loss.py``).

  Examples:
    ℓ₁ distances between one-hot rows: 2 between different classes, 0 within a class:

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ot
    >>> cost = ot.pairwise_cost(jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> print(np.asarray(cost))
    [[2. 0.]]
  """
  p, q = _validate.as_array(p), _validate.as_array(q)
  for name, z in (("p", p), ("q", q)):
    _validate.array(name, z)
    _validate.ndim(name, z, 2)
  _validate.last_dim("q", q, np.shape(p)[1], what="the row length k of p")
  p, q = jnp.asarray(_validate.finite("p", p)), jnp.asarray(_validate.finite("q", q))
  diff = p[:, None, :] - q[None, :, :]
  if callable(ground_cost):
    return jax.vmap(jax.vmap(ground_cost, (None, 0)), (0, None))(p, q)
  if ground_cost == "l1":
    return jnp.sum(jnp.abs(diff), axis=-1)
  sq = jnp.sum(diff**2, axis=-1)
  if ground_cost == "sqeuclidean":
    return sq
  if ground_cost == "euclidean":
    safe = jnp.where(sq > 0, sq, 1.0)
    return jnp.where(sq > 0, jnp.sqrt(safe), 0.0)
  raise ValueError(f"ground_cost must be 'l1', 'sqeuclidean', 'euclidean' or a callable, got "
                   f"{ground_cost!r}.")


def _check_logits_pair(student_logits: ArrayLike, teacher_logits: ArrayLike) -> tuple[Array, Array]:
  for name, z in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
    _validate.array(name, z)
    _validate.ndim(name, z, 2)
  _validate.same_shape("student_logits", student_logits, "teacher_logits", teacher_logits)
  zs = jnp.asarray(_validate.finite("student_logits", student_logits))
  zt = jnp.asarray(_validate.finite("teacher_logits", teacher_logits))
  dtype = jnp.result_type(zs.dtype, zt.dtype, float)
  return zs.astype(dtype), zt.astype(dtype)


@_validate.guarded
def sinkd_loss(student_logits: ArrayLike,
               teacher_logits: ArrayLike,
               *,
               temperature: float = 2.0,
               epsilon: float = 0.1,
               num_iterations: int | None = 20,
               ground_cost: GroundCost | Callable[[Array, Array], Array] = "l1",
               threshold: float = 1e-6,
               max_iterations: int = 5000) -> Array:
  r"""SinKD's batch-wise Sinkhorn distillation loss, without SinKD's 0.001 factor.

  Put that factor into the ``beta`` of :func:`distillation_loss`.

  With :math:`s_i = \mathrm{softmax}(z^S_i/T)`, :math:`t_j = \mathrm{softmax}(z^T_j/T)` and the
  :math:`B\times B` cost :math:`M_{ij} = c(s_i, t_j)` (ℓ₁ by default) across the **samples** of
  the batch,

  .. math::  \mathcal L_{\mathrm{SinKD}} = B\,\langle P_\varepsilon, M\rangle
             = \sum_{ij} (B P_\varepsilon)_{ij} M_{ij},

  where :math:`P_\varepsilon` is the entropic plan between uniform marginals :math:`\mathbf 1/B`.
  With ``num_iterations=n`` (default 20) ``P`` is the n-th Sinkhorn iterate started from the
  kernel :math:`e^{-M/\varepsilon}`, each iteration normalising rows then columns, exactly the
  public code's loop, and gradients flow through the unrolled iterations; ``num_iterations=None``
  runs to ``threshold`` (or ``max_iterations``) and differentiates implicitly. The solves are
  ott-jax's (log-domain).

  Properties (tested): invariant to permuting the batch (the loss matches the batch as a *set*;
  per-sample supervision must come from KD and CE terms); **not zero when student = teacher**
  (entropic blur: the plan is not the identity); for B = 1 it is the ℓ₁ distance of that sample.

  Args:
    student_logits: ``[B, C]``, differentiable.
    teacher_logits: ``[B, C]``.
    temperature: T (SinKD's code fixes T = 2).
    epsilon: ε > 0, absolute (SinKD: 0.1).
    num_iterations: unrolled iterations (SinKD: 20), or ``None`` to solve to ``threshold``.
    ground_cost: see :func:`pairwise_cost`.
    threshold, max_iterations: the stopping rule when ``num_iterations`` is ``None``.

  Returns:
    The scalar loss (a sum over the B×B plan, as in the paper's code).

  Raises:
    ValueError: for non-finite or mis-shaped logits, ε ≤ 0, T ≤ 0, num_iterations < 1.

  References:
    Cui et al., *SinKD*, arXiv:2402.17110 (and the public code ``2018cx/SinKD``, ``loss.py``).

  Examples:
    B = 1: the ℓ₁ distance between softmax(z/2) = (½, ½) and (¾, ¼). Student = teacher with two
    samples at ℓ₁ distance m gives the entropic blur :math:`2m/(1 + e^{m/\varepsilon}) > 0`
    (here m = 0.2449):

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> teacher = jnp.array([[2 * jnp.log(3.0), 0.0]])
    >>> print(f"{float(ot.sinkd_loss(jnp.zeros((1, 2)), teacher)):.4f}")
    0.5000
    >>> z = jnp.array([[0.0, 0.0], [1.0, 0.0]])
    >>> print(f"{float(ot.sinkd_loss(z, z)):.4f}")
    0.0389
  """
  zs, zt = _check_logits_pair(student_logits, teacher_logits)
  epsilon = _check_epsilon(epsilon)
  temperature = _validate.positive_scalar("temperature", temperature)
  if num_iterations is not None:
    num_iterations = _validate.integer("num_iterations", num_iterations, minimum=1)
  s = jax.nn.softmax(zs / temperature, axis=-1)
  t = jax.nn.softmax(zt / temperature, axis=-1)
  B = zs.shape[0]
  # ott updates the column potential first; transposing (rows = teacher, columns = student) makes
  # its first half-step the code's row (student) normalisation.
  cost = pairwise_cost(t, s, ground_cost=ground_cost)
  geom = ott_geometry.Geometry(cost_matrix=cost, epsilon=epsilon)
  uniform = jnp.full((B,), 1.0 / B, dtype=cost.dtype)
  if num_iterations is None:
    options = dict(threshold=threshold, norm_error=1, inner_iterations=10,
                   max_iterations=max_iterations, min_iterations=0, implicit_diff=True)
  else:
    options = dict(threshold=threshold, norm_error=1, inner_iterations=num_iterations,
                   max_iterations=num_iterations, min_iterations=num_iterations, implicit_diff=False)
  return B * _solve(geom, uniform, uniform, options).transport_cost


# ---------------------------------------------------------------------------------------------------
# The distillation objective.


@_validate.guarded
def equal_weights(h_teacher: Array, h_student: Array) -> tuple[Array, Array]:
  """(w_F, w_R) = (½, ½): the balanced objective becomes half the Jeffreys divergence.

  Args:
    h_teacher: teacher entropies ``[B]``.
    h_student: student entropies ``[B]``.

  Returns:
    ``(w_F, w_R)``, each ½ with the broadcast shape of the entropies.

  Examples:
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ot
    >>> w_f, w_r = ot.equal_weights(jnp.array([0.5, 1.0]), jnp.array([1.0, 0.5]))
    >>> print(np.asarray(w_f), np.asarray(w_r))
    [0.5 0.5] [0.5 0.5]
  """
  h_teacher, h_student = _entropies(h_teacher, h_student)
  half = jnp.full(jnp.broadcast_shapes(h_teacher.shape, h_student.shape), 0.5,
                  jnp.result_type(h_teacher, h_student, float))
  return half, half


def _entropies(h_teacher: ArrayLike, h_student: ArrayLike) -> tuple[Array, Array]:
  """Per-example entropies: finite, broadcastable; returned as float arrays."""
  h_teacher, h_student = _validate.as_array(h_teacher), _validate.as_array(h_student)
  _validate.broadcastable("h_teacher", h_teacher, "h_student", h_student)
  h_teacher = jnp.asarray(_validate.finite("h_teacher", h_teacher))
  h_student = jnp.asarray(_validate.finite("h_student", h_student))
  dtype = jnp.result_type(h_teacher, h_student, float)
  return h_teacher.astype(dtype), h_student.astype(dtype)


@_validate.guarded
def entropy_gap_weights(h_teacher: Array, h_student: Array) -> tuple[Array, Array]:
  r"""A BD-KD-style weighting rule: a hard switch on the sign of the entropy gap.

  .. math::  (w_F, w_R) = \begin{cases} (0, 1) & H(s) > H(t)\ \text{(student less confident: sharpen
             with mode-seeking reverse KL)}\\ (1, 0) & \text{otherwise (mass-covering forward KL)}
             \end{cases}

  BD-KD weights forward and reverse KL per sample by the teacher–student entropy gap; this hard
  switch is divjax's choice of such a rule, not one taken from the paper (see
  :doc:`/theory/sinkhorn_kd`). Pass your own ``weights_fn`` to :func:`kd_divergence` for another.

  Args:
    h_teacher: teacher entropies ``[B]``.
    h_student: student entropies ``[B]``.

  Returns:
    ``(w_F, w_R)``, each ``[B]`` with entries 0 or 1.

  References:
    Amara et al., *BD-KD*, arXiv:2212.12965.

  Examples:
    The first student is less confident than its teacher (reverse KL), the second more (forward):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import ot
    >>> w_f, w_r = ot.entropy_gap_weights(jnp.array([0.5, 1.0]), jnp.array([1.0, 0.5]))
    >>> print(np.asarray(w_f), np.asarray(w_r))
    [0. 1.] [1. 0.]
  """
  h_teacher, h_student = _entropies(h_teacher, h_student)
  less_confident = (h_student > h_teacher).astype(h_student.dtype)
  return 1.0 - less_confident, less_confident


def _entropy(log_p: Array) -> Array:
  p = jnp.exp(log_p)
  return -jnp.sum(jnp.where(p > 0, p * log_p, 0.0), axis=-1)


KDKind = Literal["forward_kl", "reverse_kl", "js", "alpha", "balanced"]
_KD_KINDS = ("forward_kl", "reverse_kl", "js", "alpha", "balanced")


@_validate.guarded
def kd_divergence(student_logits: ArrayLike,
                  teacher_logits: ArrayLike,
                  *,
                  kind: KDKind = "forward_kl",
                  temperature: float = 1.0,
                  order: float = 0.5,
                  weights_fn: Callable[[Array, Array], tuple[Array, Array]] = entropy_gap_weights
                  ) -> Array:
  r"""Per-sample distillation divergence between teacher t and student s.

  With :math:`t = \mathrm{softmax}(z^T/\tau)` and :math:`s = \mathrm{softmax}(z^S/\tau)`:

  .. math::
     \texttt{forward\_kl}: \mathrm{KL}(t\|s) \quad
     \texttt{reverse\_kl}: \mathrm{KL}(s\|t) \quad
     \texttt{js}: \mathrm{JS}(t, s) \quad
     \texttt{alpha}: D_\alpha(t\|s) \quad
     \texttt{balanced}: w_F\,\mathrm{KL}(t\|s) + w_R\,\mathrm{KL}(s\|t),

  with :math:`(w_F, w_R) = \texttt{weights\_fn}(H(t), H(s))` evaluated per sample and treated as
  constants (``stop_gradient``). All divergences are :mod:`divjax.divergences`' (in nats, from
  logits). Forward KL differs from SinKD's code's soft cross-entropy only by the teacher entropy, a
  constant in the student: the gradients agree. No τ² factor is applied (SinKD's code has none;
  multiply ``alpha`` by τ² for Hinton's scaling).

  Args:
    student_logits, teacher_logits: ``[B, C]``.
    kind: one of ``"forward_kl"``, ``"reverse_kl"``, ``"js"``, ``"alpha"``, ``"balanced"``.
    temperature: τ > 0.
    order: α of the α-divergence (Cichocki–Amari; → KL(t‖s) as α → 1, → KL(s‖t) as α → 0).
    weights_fn: ``(H_teacher [B], H_student [B]) -> (w_F [B], w_R [B])`` for ``"balanced"``.

  Returns:
    ``[B]`` divergences.

  References:
    Hinton, Vinyals & Dean, arXiv:1503.02531; Cui et al. (SinKD), arXiv:2402.17110; Amara et al.
    (BD-KD), arXiv:2212.12965; Xu, Nie & Vahdat (f-distill), arXiv:2502.15681.

  Examples:
    Teacher (¾, ¼), uniform student: KL(t‖s) = ¾ log 1.5 + ¼ log 0.5 and
    KL(s‖t) = ½ log(2/3) + ½ log 2. The student is less confident, so the default balanced
    weighting picks the reverse KL:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> zs, zt = jnp.zeros((1, 2)), jnp.array([[jnp.log(3.0), 0.0]])
    >>> for kind in ("forward_kl", "reverse_kl", "balanced"):
    ...     print(kind, f"{float(ot.kd_divergence(zs, zt, kind=kind)[0]):.4f}")
    forward_kl 0.1308
    reverse_kl 0.1438
    balanced 0.1438
  """
  zs, zt = _check_logits_pair(student_logits, teacher_logits)
  temperature = _validate.positive_scalar("temperature", temperature)
  if kind not in _KD_KINDS:
    raise ValueError(f"kind must be one of {_KD_KINDS}, got {kind!r}.")
  ls = jax.nn.log_softmax(zs / temperature, axis=-1)
  lt = jax.nn.log_softmax(zt / temperature, axis=-1)
  if kind == "forward_kl":
    return dv.kl_divergence(lt, ls, logits=True)
  if kind == "reverse_kl":
    return dv.reverse_kl_divergence(lt, ls, logits=True)
  if kind == "js":
    return dv.js_divergence(lt, ls, logits=True)
  if kind == "alpha":
    return dv.alpha_divergence(lt, ls, alpha=order, logits=True)
  w_f, w_r = weights_fn(_entropy(lt), _entropy(ls))
  w_f, w_r = jax.lax.stop_gradient(w_f), jax.lax.stop_gradient(w_r)
  return w_f * dv.kl_divergence(lt, ls, logits=True) + w_r * dv.reverse_kl_divergence(lt, ls, logits=True)


class DistillationLoss(NamedTuple):
  """The combined distillation objective and its parts (batch means; the Sinkhorn term is a sum).

  Attributes:
    total: α·kd + (1 − α)·ce + β·sinkhorn.
    kd: mean distillation divergence.
    ce: mean cross-entropy with the labels.
    sinkhorn: :func:`sinkd_loss`, SinKD's sum over the plan (0 when β = 0 and it is skipped).

  Examples:
    Student = teacher = uniform over 2 classes: kd = 0, ce = log 2, total = (1 − α) log 2:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> z, labels = jnp.zeros((2, 2)), jnp.array([0, 1])
    >>> out = ot.distillation_loss(z, z, labels, alpha=0.9)
    >>> print(f"{float(out.kd):.4f} {float(out.ce):.4f} {float(out.total):.4f}")
    0.0000 0.6931 0.0693
  """
  total: Array
  kd: Array
  ce: Array
  sinkhorn: Array


@_validate.guarded
def distillation_loss(student_logits: ArrayLike,
                      teacher_logits: ArrayLike,
                      labels: ArrayLike,
                      *,
                      kd: KDKind = "forward_kl",
                      alpha: float = 0.9,
                      beta: float = 0.0,
                      temperature: float = 1.0,
                      order: float = 0.5,
                      weights_fn: Callable[[Array, Array], tuple[Array, Array]] = entropy_gap_weights,
                      sinkhorn_temperature: float = 2.0,
                      sinkhorn_epsilon: float = 0.1,
                      sinkhorn_iterations: int | None = 20,
                      ground_cost: GroundCost | Callable[[Array, Array], Array] = "l1"
                      ) -> DistillationLoss:
  r"""The SinKD / BD-KD distillation objective.

  .. math::  \mathcal L = \alpha\,\overline{\mathrm{KD}_\tau(t, s)} + (1-\alpha)\,\overline{\mathrm{CE}(y, s)}
             + \beta\,\mathcal L_{\mathrm{SinKD}}

  (bars are batch means). SinKD's GLUE scripts use α ∈ [0.8, 1], τ ∈ [2, 4], and β = 0.8 × 0.001
  (the code multiplies the Sinkhorn sum by 0.001), i.e. ``beta=8e-4``.

  Args:
    student_logits: ``[B, C]`` (differentiate with respect to these).
    teacher_logits: ``[B, C]``.
    labels: integer class labels ``[B]`` in ``[0, C)``.
    kd, temperature, order, weights_fn: the KD term, see :func:`kd_divergence`.
    alpha: weight of KD against CE, in [0, 1].
    beta: weight of the Sinkhorn term, ≥ 0 (skipped when 0 and concrete).
    sinkhorn_temperature, sinkhorn_epsilon, sinkhorn_iterations, ground_cost: see :func:`sinkd_loss`.

  Returns:
    A :class:`DistillationLoss`.

  Raises:
    ValueError: for α outside [0, 1], β < 0, labels of the wrong shape or out of range, and the
      errors of :func:`kd_divergence` / :func:`sinkd_loss`.

  References:
    Cui et al., *SinKD*, arXiv:2402.17110; Amara et al., *BD-KD*, arXiv:2212.12965; Hinton, Vinyals
    & Dean, *Distilling the knowledge in a neural network*, arXiv:1503.02531.

  Examples:
    Student = teacher: kd = 0, ce = ½(log 2 + log(1 + e⁻¹)) = 0.5032, the Sinkhorn term is the
    entropic blur 0.0389 of the :func:`sinkd_loss` example, and the total is
    0.1 · 0.5032 + 0.5 · 0.0389:

    >>> import jax.numpy as jnp
    >>> from divjax import ot
    >>> z, labels = jnp.array([[0.0, 0.0], [1.0, 0.0]]), jnp.array([0, 0])
    >>> out = ot.distillation_loss(z, z, labels, alpha=0.9, beta=0.5)
    >>> print(" ".join(f"{float(v):.4f}" for v in (out.kd, out.ce, out.sinkhorn, out.total)))
    0.0000 0.5032 0.0389 0.0698
  """
  zs, zt = _check_logits_pair(student_logits, teacher_logits)
  _validate.array("labels", labels)
  _validate.ndim("labels", labels, 1)
  if np.shape(labels)[0] != zs.shape[0]:
    raise ValueError(f"labels must have shape [{zs.shape[0]}], got {np.shape(labels)}.")
  if _validate.is_concrete(labels):
    lab = np.asarray(labels)
    if not np.issubdtype(lab.dtype, np.integer):
      raise TypeError(f"labels must be integers, got dtype {lab.dtype}.")
    if lab.size and (lab.min() < 0 or lab.max() >= zs.shape[1]):
      raise ValueError(f"labels must lie in [0, {zs.shape[1]}), got range [{lab.min()}, {lab.max()}].")
  alpha = _validate.interval("alpha", alpha, lower=0.0, upper=1.0)
  beta = _validate.nonnegative("beta", beta)
  kd_value = jnp.mean(kd_divergence(zs, zt, kind=kd, temperature=temperature, order=order,
                                    weights_fn=weights_fn))
  ce = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(zs, jnp.asarray(labels)))
  skip = _validate.is_concrete(beta) and float(beta) == 0.0
  sink = (jnp.zeros((), zs.dtype) if skip else
          sinkd_loss(zs, zt, temperature=sinkhorn_temperature, epsilon=sinkhorn_epsilon,
                     num_iterations=sinkhorn_iterations, ground_cost=ground_cost))
  total = alpha * kd_value + (1.0 - alpha) * ce + beta * sink
  return DistillationLoss(total=total, kd=kd_value, ce=ce, sinkhorn=sink)
