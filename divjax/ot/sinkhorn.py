r"""Entropic optimal transport through ott-jax: Sinkhorn costs and Sinkhorn divergences.

divjax does not re-implement Sinkhorn: every solve below builds an ``ott.geometry`` object and runs
``ott.solvers.linear.sinkhorn.Sinkhorn`` (or ``ott.tools.sinkhorn_divergence``). This module adds the
divergence-theory layer: argument checks, one options object for the solver
(:class:`SinkhornOptions`), one result type with the convergence diagnostics and the two batch paths.
The distillation losses built on it are in :mod:`divjax.ot.distillation`.

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

The problem is given by the arguments (points or histograms, weights, ``cost``, ``epsilon`` and
``relative_epsilon``); *how* it is solved by one :class:`SinkhornOptions` passed as ``options=``.
Convergence check (ott-jax's): every ``options.inner_iterations`` iterations the
``options.norm_error``-norm of the deviation of the plan's column marginal from ``b`` is compared with
``options.threshold``. Small ε needs many iterations (the number grows like 1/ε); a solve that hits
``options.max_iterations`` reports ``converged=False`` and returns its last iterate — check the flag,
never trust the value blindly.

Batches: :func:`batched_sinkhorn_cost` offers ``method="vmap"`` (every problem runs exactly
``max_iterations`` iterations in lock-step: one fused program, the fast path on accelerators) and
``method="loop"`` (a jitted ``lax.map`` over problems, each stopping as soon as it converges: on CPU
this is faster because no work is spent on already-converged problems). ``method=None`` picks
``"loop"`` on CPU, as measured by ``benchmarks/bench_ot.py`` (the loop beat the fixed-budget ``vmap``
even when the budget equals the slowest problem's need, and ``vmap`` of the early-stopping solver was
several times slower still), and ``"vmap"`` on GPU/TPU, where one fused batched program is the
usual winner; that accelerator default has **not** been benchmarked yet (run the benchmark there).

The theory behind the costs and the debiasing, with the tests that check each statement:
:doc:`/theory/sinkhorn_kd`.

References:
  Cuturi, *Sinkhorn distances: lightspeed computation of optimal transport*, NeurIPS 2013,
  arXiv:1306.0895.
  Peyré & Cuturi, *Computational optimal transport*, 2019, arXiv:1803.00567.
  Feydy, Séjourné, Vialard, Amari, Trouvé & Peyré, *Interpolating between optimal transport and MMD
  using Sinkhorn divergences*, AISTATS 2019, arXiv:1810.08278.
  Cuturi, Meng-Papaxanthos, Tian, Bunne, Davis & Teboul, *Optimal transport tools (OTT): a JAX
  toolbox for all things Wasserstein*, 2022, arXiv:2201.12324.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from ott.geometry import costs as ott_costs
from ott.geometry import geometry as ott_geometry
from ott.geometry import pointcloud
from ott.problems.linear import linear_problem
from ott.solvers.linear import implicit_differentiation as implicit_lib
from ott.solvers.linear import sinkhorn as ott_sinkhorn
from ott.tools import sinkhorn_divergence as ott_divergence

from divjax import _deprecation, _validate

__all__ = [
    "SinkhornOptions",
    "SinkhornResult",
    "SinkhornDivergenceResult",
    "sinkhorn_cost",
    "sinkhorn_divergence",
    "histogram_sinkhorn_cost",
    "histogram_sinkhorn_divergence",
    "batched_sinkhorn_cost",
    "default_batch_method",
]

Array = jax.Array
ArrayLike = Any
PointCost = Literal["sqeuclidean", "euclidean", "l1"]

_POINT_COSTS: dict[str, Callable[[], ott_costs.CostFn]] = {
    "sqeuclidean": ott_costs.SqEuclidean,
    "euclidean": ott_costs.Euclidean,
    "l1": lambda: ott_costs.PNormP(1.0),
}


@functools.partial(jax.tree_util.register_dataclass, data_fields=[],
                   meta_fields=["threshold", "norm_error", "inner_iterations", "max_iterations",
                                "min_iterations", "implicit_diff"])
@dataclasses.dataclass(frozen=True)
class SinkhornOptions:
  r"""How a Sinkhorn problem is solved: the stopping rule, the iteration budget, the gradient.

  One frozen object, passed as ``options=`` to every solve of this module (and to
  :func:`divjax.ot.sinkd_loss` when it solves to tolerance). The options never change the problem
  (that is the points, weights, cost and ε), only how ott-jax's ``Sinkhorn`` solver runs: at
  convergence every choice gives the same value. All fields are static pytree metadata, so an
  options object passes through ``jax.jit`` (as an argument or closed over) and two equal objects
  share one compiled program.

  Attributes:
    threshold: convergence tolerance on the marginal error (> 0).
    norm_error: the p of the ℓ_p norm of the marginal error (1 = ott-jax's default, 2 = POT's).
    inner_iterations: the error is checked every this many iterations (POT checks every 10).
    max_iterations: the iteration budget.
    min_iterations: iterations run before the first check (``= max_iterations`` gives a fixed
      budget), in ``[0, max_iterations]``.
    implicit_diff: differentiate by the implicit function theorem at the returned potentials (valid
      at convergence, cheap); ``False`` unrolls the loop (exact for the iterate actually returned).

  Raises:
    ValueError: for a threshold that is not a positive finite number, counts below their minimum
      or ``min_iterations > max_iterations``.
    TypeError: for fields of the wrong type (a traced or array value included: options are static).

  References:
    Cuturi et al., *Optimal transport tools (OTT)*, arXiv:2201.12324 (the solver and its options).

  Examples:
    The defaults, and a tighter solve:

    >>> from divjax import ot
    >>> ot.SinkhornOptions()
    SinkhornOptions(threshold=0.001, norm_error=1, inner_iterations=10, max_iterations=2000, min_iterations=0, implicit_diff=True)
    >>> tight = ot.SinkhornOptions(threshold=1e-8, max_iterations=10_000)
    >>> tight == ot.SinkhornOptions(threshold=1e-8, max_iterations=10_000)
    True
  """
  threshold: float = 1e-3
  norm_error: int = 1
  inner_iterations: int = 10
  max_iterations: int = 2000
  min_iterations: int = 0
  implicit_diff: bool = True

  def __post_init__(self):
    threshold = self.threshold
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
      raise TypeError(f"threshold must be a Python number (options are static), got "
                      f"{type(threshold).__name__}.")
    threshold = float(threshold)
    if not (np.isfinite(threshold) and threshold > 0):
      raise ValueError(f"threshold must be positive and finite, got {threshold!r}.")
    object.__setattr__(self, "threshold", threshold)
    for name, minimum in (("norm_error", 1), ("inner_iterations", 1), ("max_iterations", 1)):
      object.__setattr__(self, name, _validate.integer(name, getattr(self, name), minimum=minimum))
    object.__setattr__(self, "min_iterations", _validate.integer(
        "min_iterations", self.min_iterations, minimum=0, maximum=self.max_iterations))
    if not isinstance(self.implicit_diff, (bool, np.bool_)):
      raise TypeError(f"implicit_diff must be a bool, got {type(self.implicit_diff).__name__}.")
    object.__setattr__(self, "implicit_diff", bool(self.implicit_diff))

  def solver(self) -> ott_sinkhorn.Sinkhorn:
    """The ott-jax ``Sinkhorn`` solver these options describe."""
    return ott_sinkhorn.Sinkhorn(**self._solver_kwargs())

  def _solver_kwargs(self) -> dict[str, Any]:
    """The keyword arguments of ott-jax's ``Sinkhorn`` (also its ``solve_kwargs``)."""
    return dict(threshold=self.threshold, norm_error=self.norm_error,
                inner_iterations=self.inner_iterations, max_iterations=self.max_iterations,
                min_iterations=self.min_iterations,
                implicit_diff=implicit_lib.ImplicitDiff() if self.implicit_diff else None)


#: The fields of :class:`SinkhornOptions`: once keywords of every solve, now deprecated there.
_OPTION_FIELDS = tuple(f.name for f in dataclasses.fields(SinkhornOptions))


def _options(fn_name: str, options: SinkhornOptions | None, default: SinkhornOptions,
             old: dict[str, Any]) -> SinkhornOptions:
  """``options`` (or ``default``), or one built from the deprecated keywords ``old``."""
  if options is not None and not isinstance(options, SinkhornOptions):
    raise TypeError(f"{fn_name}: options must be a SinkhornOptions, got {type(options).__name__}.")
  if not old:
    return default if options is None else options
  if options is not None:
    raise TypeError(f"{fn_name}: pass the solver options as options=SinkhornOptions(...) only, not "
                    f"also as the deprecated keywords {', '.join(old)}.")
  _deprecation.warn(
      f"{fn_name}({', '.join(f'{k}=...' for k in old)}) is deprecated: pass "
      f"options=divjax.ot.SinkhornOptions({', '.join(f'{k}=...' for k in old)}) instead.")
  return dataclasses.replace(default, **old)


def _accepts_solver_keywords(default: SinkhornOptions = SinkhornOptions()):
  """Lets a solve take the deprecated solver keywords, turning them into its ``options``.

  The keywords once repeated in five signatures (``threshold``, ``norm_error``,
  ``inner_iterations``, ``max_iterations``, ``min_iterations``, ``implicit_diff``) keep working
  for one minor version: they start from ``default`` (the function's own defaults) and warn.
  """
  def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
      old = {k: kwargs.pop(k) for k in _OPTION_FIELDS if k in kwargs}
      kwargs["options"] = _options(fn.__name__, kwargs.get("options"), default, old)
      return fn(*args, **kwargs)
    return wrapper
  return decorate


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


def _solve(geom: ott_geometry.Geometry, a: Array, b: Array, options: SinkhornOptions) -> SinkhornResult:
  with _highest_precision():
    prob = linear_problem.LinearProblem(geom, a=a, b=b)
    return _result(options.solver()(prob))


_DOC_OPTIONS = """
    epsilon: the entropic regularisation ε > 0 (absolute unless ``relative_epsilon`` is set).
    relative_epsilon: ``None`` (ε is absolute), ``"mean"`` or ``"std"`` (ε is multiplied by the
      mean / standard deviation of the cost matrix, ott-jax's convention).
    options: a :class:`SinkhornOptions` (stopping rule, budget, gradient); ``None`` for the defaults.
      The former keywords ``threshold``, ``norm_error``, ``inner_iterations``, ``max_iterations``,
      ``min_iterations`` and ``implicit_diff`` still work, with a ``DeprecationWarning``."""


def _with_options(fn):
  """Inserts the shared solver-option docs at ``{options}``."""
  fn.__doc__ = fn.__doc__.replace("    {options}\n", _DOC_OPTIONS.lstrip("\n") + "\n")
  return fn


@_validate.guarded
@_accepts_solver_keywords()
@_with_options
def sinkhorn_cost(x: ArrayLike,
                  y: ArrayLike,
                  a: ArrayLike | None = None,
                  b: ArrayLike | None = None,
                  *,
                  epsilon: float,
                  cost: str | ott_costs.CostFn = "sqeuclidean",
                  relative_epsilon: str | None = None,
                  options: SinkhornOptions | None = None) -> SinkhornResult:
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
  dtype = jnp.result_type(x.dtype, y.dtype)
  a = _weights("a", a, x.shape[0], dtype)
  b = _weights("b", b, y.shape[0], dtype)
  geom = pointcloud.PointCloud(x, y, cost_fn=_point_cost(cost), epsilon=epsilon,
                               relative_epsilon=relative_epsilon)
  if _validate.is_concrete((x, y, epsilon)):
    _check_epsilon_scale(epsilon, geom.cost_matrix, relative_epsilon)
  return _solve(geom, a, b, options)


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
@_accepts_solver_keywords()
@_with_options
def histogram_sinkhorn_cost(a: ArrayLike,
                            b: ArrayLike,
                            cost_matrix: ArrayLike,
                            *,
                            epsilon: float,
                            relative_epsilon: str | None = None,
                            options: SinkhornOptions | None = None) -> SinkhornResult:
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
  _check_epsilon_scale(epsilon, c, relative_epsilon)
  geom = ott_geometry.Geometry(cost_matrix=c, epsilon=epsilon, relative_epsilon=relative_epsilon)
  return _solve(geom, a.astype(c.dtype), b.astype(c.dtype), options)


def _divergence_result(out: Any) -> SinkhornDivergenceResult:
  return SinkhornDivergenceResult(value=out.divergence,
                                  converged=jnp.all(jnp.stack([jnp.asarray(c) for c in out.converged])),
                                  n_iters=jnp.stack([jnp.asarray(n) for n in out.n_iters]))


@_validate.guarded
@_accepts_solver_keywords()
@_with_options
def sinkhorn_divergence(x: ArrayLike,
                        y: ArrayLike,
                        a: ArrayLike | None = None,
                        b: ArrayLike | None = None,
                        *,
                        epsilon: float,
                        cost: str | ott_costs.CostFn = "sqeuclidean",
                        relative_epsilon: str | None = None,
                        options: SinkhornOptions | None = None) -> SinkhornDivergenceResult:
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
    >>> d = ot.sinkhorn_divergence(x, x + 2.0, epsilon=1.0,
    ...                            options=ot.SinkhornOptions(threshold=1e-6))
    >>> print(f"{float(d.value):.4f} {bool(d.converged)}")
    4.0000 True
  """
  x, y = _points("x", x), _points("y", y)
  if x.shape[1] != y.shape[1]:
    raise ValueError(f"x and y must have the same dimension d, got shapes {x.shape} and {y.shape}.")
  _check_scale(x, y)
  epsilon = _check_epsilon(epsilon)
  _check_relative(relative_epsilon)
  dtype = jnp.result_type(x.dtype, y.dtype)
  a = _weights("a", a, x.shape[0], dtype)
  b = _weights("b", b, y.shape[0], dtype)
  solve_kwargs = options._solver_kwargs()
  with _highest_precision():
    if _validate.is_concrete((x, y, epsilon)):
      _check_epsilon_scale(epsilon, pointcloud.PointCloud(x, y, cost_fn=_point_cost(cost)).cost_matrix,
                           relative_epsilon)
    _, out = ott_divergence.sinkhorn_divergence(
        pointcloud.PointCloud, x, y, a=a, b=b, cost_fn=_point_cost(cost), epsilon=epsilon,
        relative_epsilon=relative_epsilon, solve_kwargs=solve_kwargs)
  return _divergence_result(out)


@_validate.guarded
@_accepts_solver_keywords()
@_with_options
def histogram_sinkhorn_divergence(a: ArrayLike,
                                  b: ArrayLike,
                                  cost_matrix: ArrayLike,
                                  *,
                                  epsilon: float,
                                  relative_epsilon: str | None = None,
                                  options: SinkhornOptions | None = None) -> SinkhornDivergenceResult:
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
  _check_epsilon_scale(epsilon, c, relative_epsilon)
  solve_kwargs = options._solver_kwargs()
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
@_accepts_solver_keywords()
def batched_sinkhorn_cost(x: ArrayLike,
                          y: ArrayLike,
                          a: ArrayLike | None = None,
                          b: ArrayLike | None = None,
                          *,
                          epsilon: float,
                          method: Literal["vmap", "loop"] | None = None,
                          cost: str | ott_costs.CostFn = "sqeuclidean",
                          relative_epsilon: str | None = None,
                          options: SinkhornOptions | None = None) -> SinkhornResult:
  r"""Entropic OT costs of a batch of independent point-cloud problems (leading axis of every input).

  The batched form of :func:`sinkhorn_cost`, with two paths:

  * ``method="vmap"``: ``jax.vmap`` with a **fixed iteration budget** — every problem runs exactly
    ``options.max_iterations`` iterations (``inner_iterations`` and ``min_iterations`` are set to it:
    the marginal error is checked once, at the end, to set ``converged``). One fused program with no
    data-dependent control flow; the fast path on GPU/TPU. Pick ``max_iterations`` for the hardest
    problem: a budget too small gives ``converged=False``.
  * ``method="loop"``: a jitted ``lax.map`` over problems, each with ott-jax's early stopping
    (checks every ``options.inner_iterations``). On CPU the loop is faster: it spends no iterations on
    problems that have already converged, and a CPU gains little from batching the kernel
    applications. (``jax.vmap`` of the early-stopping solver, which runs every problem until the
    slowest has converged, was slower than both paths on CPU in the benchmark.)

  ``method=None`` uses :func:`default_batch_method` (``"loop"`` on CPU, ``"vmap"`` otherwise).

  Args:
    x: source points ``[p, n, d]``.
    y: target points ``[p, m, d]``.
    a, b: weights ``[p, n]``, ``[p, m]`` or ``None`` (uniform).
    method: the batch path.
    epsilon, cost, relative_epsilon, options: as in :func:`sinkhorn_cost` (the deprecated solver
      keywords too).

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
  # Check one problem's arguments eagerly (shapes, ε) so errors name the argument.
  epsilon = _check_epsilon(epsilon)
  _check_relative(relative_epsilon)
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
  if fixed:
    options = dataclasses.replace(options, inner_iterations=options.max_iterations,
                                  min_iterations=options.max_iterations)

  def one(args):
    xi, yi, ai, bi = args
    geom = pointcloud.PointCloud(xi, yi, cost_fn=cost_fn, epsilon=epsilon,
                                 relative_epsilon=relative_epsilon)
    return _solve(geom, ai, bi, options)

  if fixed:
    return jax.vmap(lambda *args: one(args))(x, y, a, b)
  return jax.lax.map(one, (x, y, a, b))
