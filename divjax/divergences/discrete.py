r"""Divergences between discrete distributions, from probabilities or from logits.

Every function takes two arrays ``p`` and ``q`` that broadcast against each other and reduces over
the category ``axis``; leading dimensions are batch dimensions. With ``logits=False`` (default) the
inputs are probabilities: finite, non-negative and summing to one within
:data:`divjax._validate.SIMPLEX_ATOL` along ``axis`` (checked on concrete inputs). With
``logits=True`` they are unnormalised log-probabilities (``-inf`` marks a zero-probability category),
normalised internally with a log-softmax.

Three boolean masks, each ``True`` = keep, each with one meaning (the Conventions page compares them
with ``optax.losses``' ``where``):

* ``condition_on`` (categories, broadcastable against the inputs): the masked categories are removed
  from *both* distributions and each is renormalised over the kept ones, so the result is the
  divergence between the two **conditional** distributions — always a divergence (≥ 0, zero iff the
  conditionals agree). This is what ``optax.losses.softmax_cross_entropy(logits, labels, where=…)``
  does to its logits.
* ``sum_where`` (categories; the divergences that are sums of per-category terms,
  :math:`\sum_i q_i f(p_i/q_i)`): the distributions are normalised over **all** categories and only
  the terms where ``sum_where`` holds are summed, ``jnp.sum(terms, axis, where=sum_where)`` — a partial
  sum, which can be negative. This is ``optax.losses.kl_divergence(log_q, p, where=…)``.
* ``row_mask`` (the output's shape, e.g. ``[batch]``): a padding mask over rows. A row where it is
  ``False`` is neither checked nor used (padding may hold anything, NaN included) and its result is
  exactly 0 with a zero gradient; reduce with ``jnp.sum(d) / jnp.sum(row_mask)`` or
  ``jnp.mean(d, where=row_mask)``.

The former ``where=`` is ``condition_on=`` (deprecated name, with a ``DeprecationWarning``).

Under ``jax.jit`` (or any transformation) the values cannot be inspected, so an input that is not a
distribution — negative, NaN, or a sum off by more than ``SIMPLEX_ATOL`` (probabilities); NaN or
``+inf`` (logits) — gives ``NaN`` for that distribution instead of raising; it never gives a plausible
number. ``axis`` and ``logits`` select the computation and must be Python values: tracing them raises
a ``TypeError`` that says to mark them static (``jax.jit(f, static_argnames="logits")``). Every
function runs as one compiled program (cached per shape), also when called eagerly: an eager call is
one dispatch of a program that computes the value and whether every input was valid, and only a
failed check goes back to the NumPy checks for the error message.

All computations run in log space on normalised log-probabilities :math:`\ell_p, \ell_q`, with
:math:`\delta = \ell_p - \ell_q`, in forms free of cancellation when :math:`p \approx q` (each summand
is non-negative), for example

.. math::  \mathrm{KL}(p\,\|\,q) = \sum_i p_i\,\big(\operatorname{expm1}(-\delta_i) + \delta_i\big).

Conventions (nats): :math:`0 \log 0 = 0`; a category with :math:`q_i = 0 < p_i` makes
:math:`\mathrm{KL}(p\|q)`, Pearson χ² and Rényi of order α ≥ 1 equal to ``+inf`` (that is the value,
not an error). Gradients are finite wherever the value is finite: at an exact zero of a probability
the one-sided derivative of :math:`p \log p` is :math:`-\infty`, and divjax returns the derivative of
the :math:`0 \log 0 = 0` branch instead (optimise logits, not probabilities, when this matters).
Because inputs are renormalised, the gradient with respect to probabilities is the gradient on the
simplex; it differs from the naive partial derivatives by a constant along ``axis``.

The cancellation-free forms and the zero conventions are derived in :doc:`/theory/fdivergences`.

References:
  * Cover & Thomas, *Elements of Information Theory*, 2nd ed., Wiley, 2006.
  * Lin, *Divergence measures based on the Shannon entropy*, IEEE Trans. IT 37, 1991
    (Jensen–Shannon).
  * van Erven & Harremoës, *Rényi divergence and Kullback–Leibler divergence*, IEEE Trans. IT 60,
    2014, arXiv:1206.2459.
  * Cichocki & Amari, *Families of alpha- beta- and gamma-divergences*, Entropy 12, 2010,
    doi:10.3390/e12061532.
  * Jenssen, Principe, Erdogmus & Eltoft, *The Cauchy–Schwarz divergence and Parzen windowing*,
    J. Franklin Inst. 343, 2006.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _deprecation, _validate
from divjax.divergences import _numerics
from divjax.divergences.generators import (JENSEN_SHANNON, KL, PEARSON_CHI2, REVERSE_KL,
                                           SQUARED_HELLINGER, TOTAL_VARIATION, FGenerator,
                                           alpha_generator)

__all__ = [
    "normalized_log_probs",
    "kl_divergence",
    "reverse_kl_divergence",
    "js_divergence",
    "total_variation",
    "squared_hellinger_distance",
    "hellinger_distance",
    "chi2_divergence",
    "renyi_divergence",
    "alpha_divergence",
    "cauchy_schwarz_divergence",
    "f_divergence",
]

Array = jax.Array
ArrayLike = Any
_LOG2 = 0.6931471805599453
# Above this value of (α − 1)·δ the expm1 forms would overflow; switch to logsumexp.
_EXP_SAFE = 30.0


# ---------------------------------------------------------------------------------------------------
# Input handling.


_safe_log = _numerics.safe_log
_safe_sqrt = _numerics.safe_sqrt


def _check_log_probs(x: ArrayLike, *, axis: int, condition_on: ArrayLike | None, logits: bool,
                     name: str, **_: Any) -> None:
  """The input checks of :func:`normalized_log_probs`; value checks only on concrete inputs."""
  _validate.array(name, x)
  # Traced, these only emit checked-mode checks: _log_probs itself gives NaN rows for bad inputs.
  if logits:
    _validate.logits(name, x, axis=axis)
  else:
    _validate.probabilities(name, x, axis=axis)
  if condition_on is not None:
    _validate.mask("condition_on", condition_on, np.shape(x), axis=axis)
    if _validate.is_concrete((x, condition_on)):
      v = np.asarray(x)
      positive = (v > -np.inf) if logits else (v > 0)
      if not np.any(positive & np.asarray(condition_on), axis=axis).all():
        raise ValueError(f"{name} has no probability mass on the categories kept by condition_on: "
                         "the conditional distribution is undefined.")


def _log_probs(x: ArrayLike, *, axis: int, condition_on: ArrayLike | None, logits: bool) -> Array:
  """The computation of :func:`normalized_log_probs`, without checks (traceable).

  Inputs that are not distributions give NaN rows, so that invalid values reaching a compiled
  program yield NaN rather than a plausible number: probabilities that are negative, NaN or whose
  sum is off by more than :data:`divjax._validate.SIMPLEX_ATOL`; logits that are NaN or +inf.
  """
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.result_type(float))
  if logits:
    invalid = jnp.any(jnp.isnan(x) | (x == jnp.inf), axis=axis, keepdims=True)
    lx = x if condition_on is None else jnp.where(condition_on, x, -jnp.inf)
    finite = jnp.isfinite(lx)
    has_mass = jnp.any(finite, axis=axis, keepdims=True)
    log_norm = jax.nn.logsumexp(jnp.where(finite, lx, -jnp.inf), axis=axis, keepdims=True)
  else:
    total = jnp.sum(x, axis=axis, keepdims=True)
    invalid = (jnp.any(jnp.isnan(x) | (x < 0), axis=axis, keepdims=True)
               | ~(jnp.abs(total - 1.0) <= _validate.SIMPLEX_ATOL))
    x = jnp.where(invalid, 1.0, x)
    if condition_on is not None:
      x = jnp.where(condition_on, x, 0.0)
      total = jnp.sum(x, axis=axis, keepdims=True)
    # For probabilities log Σ x is the log-normaliser: one reduction, no exponentials.
    lx = _safe_log(x)
    finite = lx > -jnp.inf
    has_mass = total > 0
    log_norm = _safe_log(total)
  out = jnp.where(finite, lx - jnp.where(has_mass, log_norm, 0.0),
                  jnp.where(has_mass, -jnp.inf, jnp.nan))
  return jnp.where(invalid, jnp.nan, out)


#: The static arguments and the Python types they must have.
_STATIC_TYPES = {"axis": ((int, np.integer), "an int"), "logits": ((bool, np.bool_), "a bool"),
                 "name": ((str,), "a str")}


def _static_flags(fn_name: str, arguments: dict[str, Any]) -> None:
  """``axis``, ``logits`` (and ``name``) select the program: they must be Python values."""
  for arg, (types, what) in _STATIC_TYPES.items():
    if arg not in arguments:
      continue
    value = arguments[arg]
    if isinstance(value, jax.core.Tracer):
      raise TypeError(
          f"{fn_name}: {arg} is a static argument (it selects the computation) and cannot be a "
          f"traced value. Pass it as {what}; under jax.jit mark it static, e.g. "
          f"jax.jit(f, static_argnames=({arg!r},)).")
    if not isinstance(value, types) or (arg == "axis" and isinstance(value, bool)):
      raise TypeError(f"{fn_name}: {arg} must be {what}, got {type(value).__name__}.")


#: The masks every function may take, and the deprecated name of ``condition_on``.
_MASKS = ("condition_on", "sum_where", "row_mask")
_WHERE_DEPRECATION = (
    "where= is deprecated: divjax's where conditioned on the kept categories (both distributions "
    "renormalised over them), which is now condition_on=. For optax.losses' where (a partial sum of "
    "the per-category terms, no renormalisation) use sum_where=; to drop padding rows use row_mask=.")


def _distributions(arguments: dict[str, Any]) -> list[str]:
  """The names of the distribution arguments (``p``, ``q``; ``x`` for normalized_log_probs)."""
  return [name for name in ("p", "q", "x") if name in arguments]


def _check_masks(fn_name: str, arguments: dict[str, Any]) -> None:
  """The static checks of the masks: boolean dtype, and shapes that fit the inputs (or the output)."""
  if all(arguments.get(name) is None for name in _MASKS):
    return
  if "q" in arguments:
    shape = _validate.broadcastable("p", arguments["p"], "q", arguments["q"])
  else:
    shape = np.shape(arguments["x"])
  axis = arguments["axis"]
  for name in _MASKS:
    mask = arguments.get(name)
    if mask is None:
      continue
    dtype = getattr(mask, "dtype", None) or np.asarray(mask).dtype
    if dtype != np.bool_:
      raise TypeError(f"{fn_name}: {name} must be a boolean mask, got dtype {dtype}.")
    if name == "row_mask":
      if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} is out of range for inputs of shape {shape}.")
      rows = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
      try:
        fits = np.broadcast_shapes(np.shape(mask), rows) == rows
      except ValueError:
        fits = False
      if not fits:
        raise ValueError(f"{fn_name}: row_mask with shape {np.shape(mask)} must broadcast to the "
                         f"output's shape {rows} (the inputs' shape {shape} without axis {axis}).")
    else:
      try:
        np.broadcast_shapes(np.shape(mask), shape)
      except ValueError as err:
        raise ValueError(f"{fn_name}: {name} with shape {np.shape(mask)} does not broadcast against "
                         f"the inputs' shape {shape}.") from err


def _fill_padding(arguments: dict[str, Any]) -> dict[str, Any]:
  """The arguments with every padding row (``row_mask`` False) replaced by a valid placeholder.

  The placeholder is the uniform distribution (zero logits) with every category kept, so the checks
  pass and the computation stays finite there; the output at those rows is zeroed afterwards.
  ``jnp.where`` gives the padding entries a zero gradient, whatever they hold.
  """
  row_mask = arguments.get("row_mask")
  if row_mask is None:
    return arguments
  names = _distributions(arguments)
  shape = np.broadcast_shapes(*(np.shape(arguments[n]) for n in names))
  axis = arguments["axis"] % len(shape) - len(shape)          # negative: counts from the end
  rows = shape[:len(shape) + axis] + shape[len(shape) + axis + 1:]
  keep = jnp.expand_dims(jnp.broadcast_to(jnp.asarray(row_mask), rows), axis)
  filled = dict(arguments)
  for name in names:
    x = jnp.asarray(arguments[name])
    if not jnp.issubdtype(x.dtype, jnp.inexact):
      x = x.astype(jnp.result_type(float))
    placeholder = 0.0 if arguments.get("logits") else 1.0 / shape[axis]
    filled[name] = jnp.where(keep, x, jnp.asarray(placeholder, x.dtype))
  if arguments.get("condition_on") is not None:
    filled["condition_on"] = jnp.where(keep, jnp.asarray(arguments["condition_on"]), True)
  return filled


def _binder(signature: inspect.Signature) -> Callable[[tuple, dict], dict[str, Any]]:
  """``signature.bind(...).arguments`` with defaults applied, without ``inspect``'s cost per call."""
  params = signature.parameters
  positional = [n for n, p in params.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
  defaults = {n: p.default for n, p in params.items() if p.default is not p.empty}

  def bind(args: tuple, kwargs: dict) -> dict[str, Any]:
    if (len(args) > len(positional) or not kwargs.keys() <= params.keys()
        or not kwargs.keys().isdisjoint(positional[:len(args)])):
      bound = signature.bind(*args, **kwargs)      # raises the TypeError Python would
      bound.apply_defaults()
      return dict(bound.arguments)
    arguments = {**defaults, **dict(zip(positional, args)), **kwargs}
    if len(arguments) != len(params):
      signature.bind(*args, **kwargs)              # a required argument is missing: TypeError
    return arguments

  return bind


def _compiled(check: Callable[..., None]) -> Callable[[Callable[..., Array]], Callable[..., Array]]:
  """Runs ``fn`` as one cached XLA program, with ``check``'s errors on concrete inputs.

  ``check`` raises the named errors for concrete inputs (NumPy work on the host); traced, it emits
  checked-mode checks and records its verdicts for :func:`divjax._validate.guarded` callers.
  ``axis``/``logits``/``name`` are static. One compiled program per function and static arguments:

  * concrete inputs (an eager call): one dispatch of the compiled program, then a look at the value
    on the host. Every function of this module gives NaN for an invalid input (a distribution that
    is not one, an empty conditioning, a non-finite or out-of-range order), so a NaN-free value needs
    no further check; only a NaN sends the call to ``check``, which raises the named error (a NaN
    from valid inputs is returned as it is). An eager call therefore costs one dispatch and the
    transfer of its result, not a host pass over every input.
  * traced inputs (inside a user's ``jit``/``vmap``/``grad``): ``check`` emits checked-mode checks as
    everywhere in divjax, then the same program (inlined into the user's).

  ``row_mask`` rows are replaced by a placeholder inside the program (:func:`_fill_padding`) and
  their output is set to 0; the deprecated ``where=`` is mapped to ``condition_on=`` with a warning.
  """

  def decorate(fn: Callable[..., Array]) -> Callable[..., Array]:
    signature = inspect.signature(fn)
    bind = _binder(signature)
    static = tuple(a for a in _STATIC_TYPES if a in signature.parameters)

    @functools.partial(jax.jit, static_argnames=static)
    @_validate.kernel
    def compiled(**arguments: Any) -> Array:
      arguments = _fill_padding(arguments)
      row_mask = arguments.pop("row_mask", None)
      out = fn(**arguments)
      if row_mask is None:
        return out
      return jnp.where(row_mask, out, jnp.zeros((), out.dtype))

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Array:
      if "where" in kwargs:
        if kwargs.get("condition_on") is not None:
          raise TypeError(f"{fn.__name__}: pass condition_on= only (where= is its deprecated name).")
        _deprecation.warn(f"{fn.__name__}: {_WHERE_DEPRECATION}")
        kwargs["condition_on"] = kwargs.pop("where")
      arguments = bind(args, kwargs)
      _static_flags(fn.__name__, arguments)
      for key, value in arguments.items():
        if isinstance(value, (list, tuple)):
          arguments[key] = np.asarray(value)
      for name in _distributions(arguments):
        if not isinstance(arguments[name], jax.Array):   # a jax.Array's dtype is checked when traced
          _validate.array(arguments["name"] if name == "x" else name, arguments[name])
      _check_masks(fn.__name__, arguments)
      if "generator" in arguments and not isinstance(arguments["generator"], FGenerator):
        raise TypeError(f"generator must be an FGenerator, got {type(arguments['generator']).__name__}.")
      if _validate.is_concrete(tuple(arguments.values())):
        out = compiled(**arguments)
        # Concrete inputs inside an outer jit trace give a traced output: check them on the host then.
        if isinstance(out, jax.core.Tracer) or np.isnan(np.asarray(out)).any():
          check(**_fill_padding(arguments))   # raises the named error for an invalid input
        return out
      check(**_fill_padding(arguments))
      return compiled(**arguments)

    return wrapper

  return decorate


@_compiled(_check_log_probs)
def normalized_log_probs(x: ArrayLike,
                         *,
                         axis: int = -1,
                         condition_on: ArrayLike | None = None,
                         logits: bool = False,
                         name: str = "p") -> Array:
  r"""Normalised log-probabilities along an axis, with masked and empty categories at −inf.

  .. math::  \ell_i = \log x_i - \log\sum_j x_j \quad\text{(probabilities)},\qquad
             \ell_i = x_i - \log\sum_j e^{x_j} \quad\text{(logits)},

  the sums running over the categories kept by ``condition_on``.

  Args:
    x: probabilities (``logits=False``) or unnormalised log-probabilities (``logits=True``).
    axis: the category axis.
    condition_on: optional boolean mask of kept categories; the others get ``-inf`` and are excluded
      from the normalisation (the former ``where=``, deprecated).
    logits: whether ``x`` is in log space.
    name: the argument name used in error messages.

  Returns:
    Log-probabilities of ``x``'s shape (broadcast with ``condition_on``), ``-inf`` on zero-probability or
    masked categories. Finite gradients everywhere.

  Raises:
    TypeError: if ``x`` is not a real numeric array or ``condition_on`` is not boolean.
    ValueError: on concrete inputs that are not probabilities (or logits), a mask that does not
      broadcast, or a mask that keeps only zero-probability categories.

  Examples:
    Logits go through a log-softmax; a mask drops a category and renormalises the others
    (0.2 and 0.5 become 2/7 and 5/7):

    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from divjax import divergences as dv
    >>> lp = dv.normalized_log_probs(jnp.log(jnp.array([1.0, 3.0])), logits=True)
    >>> print(np.round(np.exp(np.asarray(lp)), 4))
    [0.25 0.75]
    >>> keep = jnp.array([True, False, True])
    >>> lp = dv.normalized_log_probs(jnp.array([0.2, 0.3, 0.5]), condition_on=keep)
    >>> print(np.round(np.exp(np.asarray(lp)), 4))
    [0.2857 0.     0.7143]
  """
  _check_log_probs(x, axis=axis, condition_on=condition_on, logits=logits, name=name)
  return _log_probs(x, axis=axis, condition_on=condition_on, logits=logits)


def _guard(value: Array, lp: Array, lq: Array, axis: int) -> Array:
  """NaN where an input distribution is undefined (NaN log-probabilities, e.g. an empty mask under jit)."""
  bad = jnp.any(jnp.isnan(lp) | jnp.isnan(lq), axis=axis)
  return jnp.where(bad, jnp.nan, value)


def _check_pair(p: ArrayLike, q: ArrayLike, *, axis: int = -1,
                condition_on: ArrayLike | None = None, logits: bool = False,
                alpha: ArrayLike | None = None, positive_alpha: bool = False, **_: Any) -> None:
  """The input checks every divergence of this module shares (values only when concrete).

  ``sum_where`` and ``row_mask`` (in ``**_``) need no value check: padding rows were replaced by a
  placeholder before this runs, and the masks' dtypes and shapes are static checks.
  """
  _validate.broadcastable("p", p, "q", q)
  _check_log_probs(p, axis=axis, condition_on=condition_on, logits=logits, name="p")
  _check_log_probs(q, axis=axis, condition_on=condition_on, logits=logits, name="q")
  if alpha is not None:
    _check_order("alpha", alpha, positive=positive_alpha)


def _check_renyi(p: ArrayLike, q: ArrayLike, *, alpha: ArrayLike, **kwargs: Any) -> None:
  _check_pair(p, q, alpha=alpha, positive_alpha=True, **kwargs)


def _check_f(generator: Any, p: ArrayLike, q: ArrayLike, **kwargs: Any) -> None:
  if not isinstance(generator, FGenerator):
    raise TypeError(f"generator must be an FGenerator, got {type(generator).__name__}.")
  _check_pair(p, q, **kwargs)


def _prepare(p: ArrayLike, q: ArrayLike, axis: int, condition_on: ArrayLike | None,
             logits: bool) -> tuple[Array, Array]:
  _check_pair(p, q, axis=axis, condition_on=condition_on, logits=logits)
  lp = _log_probs(p, axis=axis, condition_on=condition_on, logits=logits)
  lq = _log_probs(q, axis=axis, condition_on=condition_on, logits=logits)
  lp, lq = jnp.broadcast_arrays(lp, lq)
  return lp, lq


class _Pair:
  """Normalised log-probabilities of two distributions and their safe pieces."""

  def __init__(self, lp: Array, lq: Array):
    self.lp, self.lq = lp, lq
    self.p_pos = lp > -jnp.inf
    self.q_pos = lq > -jnp.inf
    self.both = self.p_pos & self.q_pos
    self.p = jnp.exp(lp)
    self.q = jnp.exp(lq)
    # δ = ℓp − ℓq where both are positive, 0 elsewhere (a safe value for the unused branches).
    self.delta = jnp.where(self.both, jnp.where(self.both, lp, 0.0) - jnp.where(self.both, lq, 0.0),
                           0.0)

  def q_minus_p(self, scale: float = 1.0) -> Array:
    """q^s − p^s = p^s expm1(−s δ) on ``both`` entries, s = ``scale``, without cancellation or overflow.

    Where q ≫ p (s δ < −1) the expm1 form would overflow and the direct difference has no
    cancellation, so it is used there.
    """
    sd = scale * self.delta
    moderate = sd >= -1.0
    ps = jnp.exp(scale * jnp.where(self.p_pos, self.lp, 0.0))
    qs = jnp.exp(scale * jnp.where(self.q_pos, self.lq, 0.0))
    return jnp.where(moderate, ps * jnp.expm1(-jnp.where(moderate, sd, -1.0)), qs - ps)


def _kl_terms(pair: _Pair) -> Array:
  # p (expm1(−δ) + δ) = (q − p) + p δ >= 0 for every category.
  return jnp.where(pair.both, pair.q_minus_p() + pair.p * pair.delta,
                   jnp.where(pair.p_pos, jnp.inf, pair.q))


def _kl_from_log_probs(lp: Array, lq: Array, axis: int) -> Array:
  return jnp.sum(_kl_terms(_Pair(lp, lq)), axis=axis)


# ---------------------------------------------------------------------------------------------------
# KL family.


@_compiled(_check_pair)
def kl_divergence(p: ArrayLike,
                  q: ArrayLike,
                  *,
                  axis: int = -1,
                  condition_on: ArrayLike | None = None,
                  sum_where: ArrayLike | None = None,
                  row_mask: ArrayLike | None = None,
                  logits: bool = False) -> Array:
  r"""Kullback–Leibler divergence KL(p‖q) between discrete distributions.

  .. math::  \mathrm{KL}(p\,\|\,q) = \sum_i p_i \log\frac{p_i}{q_i}
             = \sum_i p_i\big(\operatorname{expm1}(\ell_{q,i}-\ell_{p,i}) + \ell_{p,i}-\ell_{q,i}\big)

  The second form (valid for normalised p, q) sums non-negative terms, so the rounding error of KL
  between nearby distributions shrinks with the divergence instead of staying at the rounding level
  of the entropies (in float32, a KL of about 5e-7 comes out within about 1e-4 relative, where the
  textbook sum is off by about 10%; see :doc:`/theory/fdivergences`).

  Args:
    p: probabilities (or logits with ``logits=True``), shape ``[..., k]``.
    q: same for q, broadcastable against ``p``.
    axis: the category axis.
    condition_on: optional boolean mask of kept categories, broadcastable against the inputs: the
      divergence between p and q conditioned on them (each renormalised over the kept categories).
      The former ``where=`` (deprecated).
    sum_where: optional boolean mask, broadcastable against the inputs: p and q stay normalised over
      all categories and only the terms :math:`p_i\log(p_i/q_i)` where it holds are summed (a
      partial sum, possibly negative): ``optax.losses.kl_divergence(log q, p, where=sum_where)``.
    row_mask: optional boolean mask of the output's shape (broadcastable to it): rows where it is
      ``False`` are padding, neither checked nor used, and give exactly 0 (zero gradient).
    logits: interpret ``p`` and ``q`` as unnormalised log-probabilities.

  Returns:
    The divergence in nats with ``axis`` reduced. ``+inf`` when some :math:`q_i = 0 < p_i`.

  Raises:
    ValueError: on concrete inputs that are not distributions (negative, unnormalised, NaN), that do
      not broadcast, or a ``condition_on`` that keeps no probability mass of a row.
    TypeError: for a mask that is not boolean.

  References:
    Kullback & Leibler, *On information and sufficiency*, Ann. Math. Statist. 22, 1951.

  Examples:
    ½ log(0.5/0.9) + ½ log(0.5/0.1) = 0.5108; a category with q = 0 < p makes KL infinite:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    >>> print(f"{float(dv.kl_divergence(p, q)):.4f}")
    0.5108
    >>> print(float(dv.kl_divergence(p, jnp.array([1.0, 0.0]))))
    inf

    The three masks on p = (0.5, 0.3, 0.2), q = (0.2, 0.3, 0.5), keeping the first two categories:
    conditioning gives KL((⅝, ⅜) ‖ (0.4, 0.6)); summing the kept terms gives
    0.5 log(0.5/0.2) + 0.3 log(0.3/0.3); a padding row gives 0:

    >>> p, q = jnp.array([0.5, 0.3, 0.2]), jnp.array([0.2, 0.3, 0.5])
    >>> keep = jnp.array([True, True, False])
    >>> print(f"{float(dv.kl_divergence(p, q, condition_on=keep)):.4f}")
    0.1027
    >>> print(f"{float(dv.kl_divergence(p, q, sum_where=keep)):.4f}")
    0.4581
    >>> batch = jnp.stack([p, jnp.zeros(3)])            # the second row is padding
    >>> print(dv.kl_divergence(batch, q, row_mask=jnp.array([True, False])))
    [0.2749 0.    ]
  """
  lp, lq = _prepare(p, q, axis, condition_on, logits)
  if sum_where is not None:
    return _guard(_partial_sum(KL, lp, lq, axis, sum_where), lp, lq, axis)
  return _guard(_kl_from_log_probs(lp, lq, axis), lp, lq, axis)


@_compiled(_check_pair)
def reverse_kl_divergence(p: ArrayLike,
                          q: ArrayLike,
                          *,
                          axis: int = -1,
                          condition_on: ArrayLike | None = None,
                          sum_where: ArrayLike | None = None,
                          row_mask: ArrayLike | None = None,
                          logits: bool = False) -> Array:
  r"""Reverse Kullback–Leibler divergence KL(q‖p), the KL divergence with arguments swapped.

  .. math::  \mathrm{KL}(q\,\|\,p) = \sum_i q_i \log\frac{q_i}{p_i}

  The mode-seeking direction when ``q`` is the fitted model and ``p`` the target. Arguments and
  return value as in :func:`kl_divergence` (``sum_where`` sums the terms :math:`q_i\log(q_i/p_i)`);
  ``+inf`` when some :math:`p_i = 0 < q_i`.

  References:
    Minka, *Divergence measures and message passing*, MSR-TR-2005-173, 2005.

  Examples:
    0.9 log 1.8 + 0.1 log 0.2 = 0.3681, the KL with the arguments swapped:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    >>> print(f"{float(dv.reverse_kl_divergence(p, q)):.4f}", f"{float(dv.kl_divergence(q, p)):.4f}")
    0.3681 0.3681
  """
  lp, lq = _prepare(p, q, axis, condition_on, logits)
  if sum_where is not None:
    return _guard(_partial_sum(REVERSE_KL, lp, lq, axis, sum_where), lp, lq, axis)
  return _guard(_kl_from_log_probs(lq, lp, axis), lp, lq, axis)


@_compiled(_check_pair)
def js_divergence(p: ArrayLike,
                  q: ArrayLike,
                  *,
                  axis: int = -1,
                  condition_on: ArrayLike | None = None,
                  sum_where: ArrayLike | None = None,
                  row_mask: ArrayLike | None = None,
                  logits: bool = False) -> Array:
  r"""Jensen–Shannon divergence, in nats (bounded by log 2).

  .. math::  \mathrm{JS}(p, q) = \tfrac12 \mathrm{KL}(p\,\|\,m) + \tfrac12 \mathrm{KL}(q\,\|\,m),
             \qquad m = \tfrac12 (p + q).

  ``scipy.spatial.distance.jensenshannon`` returns :math:`\sqrt{\mathrm{JS}}`. Symmetric, always
  finite. Arguments as in :func:`kl_divergence` (``sum_where`` sums the terms
  :math:`\tfrac12 p_i\log(p_i/m_i) + \tfrac12 q_i\log(q_i/m_i)`).

  References:
    Lin, *Divergence measures based on the Shannon entropy*, IEEE Trans. IT 37(1), 1991.

  Examples:
    Distributions with disjoint supports reach the upper bound log 2:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
    >>> print(f"{float(dv.js_divergence(p, q)):.4f}")
    0.6931
  """
  lp, lq = _prepare(p, q, axis, condition_on, logits)
  if sum_where is not None:
    return _guard(_partial_sum(JENSEN_SHANNON, lp, lq, axis, sum_where), lp, lq, axis)
  any_pos = (lp > -jnp.inf) | (lq > -jnp.inf)
  lm = jnp.where(any_pos,
                 jnp.logaddexp(jnp.where(any_pos, lp, 0.0), jnp.where(any_pos, lq, 0.0)) - _LOG2,
                 -jnp.inf)
  js = 0.5 * (_kl_from_log_probs(lp, lm, axis) + _kl_from_log_probs(lq, lm, axis))
  return _guard(js, lp, lq, axis)


# ---------------------------------------------------------------------------------------------------
# Metrics and χ².


@_compiled(_check_pair)
def total_variation(p: ArrayLike,
                    q: ArrayLike,
                    *,
                    axis: int = -1,
                    condition_on: ArrayLike | None = None,
                    sum_where: ArrayLike | None = None,
                    row_mask: ArrayLike | None = None,
                    logits: bool = False) -> Array:
  r"""Total-variation distance TV(p, q), half the ℓ¹ distance between p and q, in [0, 1].

  .. math::  \mathrm{TV}(p, q) = \tfrac12 \sum_i |p_i - q_i|

  Computed as :math:`\tfrac12\sum_i p_i\,|\operatorname{expm1}(\ell_{q,i}-\ell_{p,i})|`. Arguments as
  in :func:`kl_divergence` (``sum_where`` sums the terms :math:`\tfrac12|p_i - q_i|`).

  References:
    Tsybakov, *Introduction to Nonparametric Estimation*, Springer, 2009, §2.4.

  Examples:
    Half the ℓ¹ distance, ½ (0.4 + 0.4) = 0.4:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    >>> print(f"{float(dv.total_variation(p, q)):.4f}")
    0.4000
  """
  pair = _Pair(*_prepare(p, q, axis, condition_on, logits))
  terms = jnp.where(pair.both, jnp.abs(pair.q_minus_p()), pair.p + pair.q)
  return _guard(0.5 * _sum(terms, axis, sum_where), pair.lp, pair.lq, axis)


@_compiled(_check_pair)
def squared_hellinger_distance(p: ArrayLike,
                               q: ArrayLike,
                               *,
                               axis: int = -1,
                               condition_on: ArrayLike | None = None,
                               sum_where: ArrayLike | None = None,
                               row_mask: ArrayLike | None = None,
                               logits: bool = False) -> Array:
  r"""Squared Hellinger distance H²(p, q) = ½ Σ_i (√p_i − √q_i)², with values in [0, 1].

  .. math::  H^2(p, q) = \tfrac12 \sum_i \big(\sqrt{p_i} - \sqrt{q_i}\big)^2
             = 1 - \sum_i \sqrt{p_i q_i}

  One minus the Bhattacharyya coefficient, computed as
  :math:`\tfrac12 \sum_i p_i \operatorname{expm1}(-\delta_i/2)^2` without cancellation. This is the
  f-divergence of ``SQUARED_HELLINGER``, f(u) = ½(√u − 1)². Arguments as in :func:`kl_divergence`
  (``sum_where`` sums the terms :math:`\tfrac12(\sqrt{p_i} - \sqrt{q_i})^2`).

  References:
    * Hellinger, *Neue Begründung der Theorie quadratischer Formen von unendlichvielen
      Veränderlichen*, J. Reine Angew. Math. 136, 1909.
    * Le Cam & Yang, *Asymptotics in Statistics*, 2nd ed., Springer, 2000.

  Examples:
    It equals one minus the Bhattacharyya coefficient Σ √(p q):

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    >>> print(f"{float(dv.squared_hellinger_distance(p, q)):.4f}")
    0.1056
    >>> print(f"{1 - float(jnp.sum(jnp.sqrt(p * q))):.4f}")
    0.1056
  """
  pair = _Pair(*_prepare(p, q, axis, condition_on, logits))
  terms = jnp.where(pair.both, pair.q_minus_p(0.5)**2, pair.p + pair.q)
  return _guard(0.5 * _sum(terms, axis, sum_where), pair.lp, pair.lq, axis)


@_compiled(_check_pair)
def hellinger_distance(p: ArrayLike,
                       q: ArrayLike,
                       *,
                       axis: int = -1,
                       condition_on: ArrayLike | None = None,
                       row_mask: ArrayLike | None = None,
                       logits: bool = False) -> Array:
  r"""Hellinger distance H(p, q), the square root of H²(p, q): a metric with values in [0, 1].

  .. math::  H(p, q) = \Big(\tfrac12\sum_i (\sqrt{p_i} - \sqrt{q_i})^2\Big)^{1/2}

  See :func:`squared_hellinger_distance`. At :math:`p = q` the distance is not differentiable; the
  gradient returned there is zero.

  Args:
    p, q, axis, condition_on, row_mask, logits: as in :func:`kl_divergence`.

  Returns:
    The distance with ``axis`` reduced.

  References:
    Le Cam & Yang, *Asymptotics in Statistics*, 2nd ed., Springer, 2000, §3.

  Examples:
    The square root of the squared distance 0.1056:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    >>> print(f"{float(dv.hellinger_distance(p, q)):.4f}")
    0.3249
  """
  return _safe_sqrt(squared_hellinger_distance(p, q, axis=axis, condition_on=condition_on,
                                               logits=logits))


@_compiled(_check_pair)
def chi2_divergence(p: ArrayLike,
                    q: ArrayLike,
                    *,
                    axis: int = -1,
                    condition_on: ArrayLike | None = None,
                    sum_where: ArrayLike | None = None,
                    row_mask: ArrayLike | None = None,
                    logits: bool = False) -> Array:
  r"""Pearson χ² divergence χ²(p‖q) = Σ_i (p_i − q_i)² / q_i.

  .. math::  \chi^2(p\,\|\,q) = \sum_i \frac{(p_i - q_i)^2}{q_i}

  Computed as :math:`\sum_i q_i \operatorname{expm1}(\delta_i)^2`, switching to
  :math:`\exp(2\ell_p - \ell_q)(1 - e^{-\delta})^2` for large δ so that huge ratios do not overflow
  in intermediate steps. ``+inf`` when some :math:`q_i = 0 < p_i`. Neyman's χ² is
  ``chi2_divergence(q, p)``. Arguments as in :func:`kl_divergence` (``sum_where`` sums the terms
  :math:`(p_i - q_i)^2/q_i`).

  References:
    * Pearson, *On the criterion that a given system of deviations from the probable in the case of
      a correlated system of variables is such that it can be reasonably supposed to have arisen
      from random sampling*, Phil. Mag. 50, 1900.
    * Nielsen & Nock, *On the chi square and higher-order chi distances for approximating
      f-divergences*, IEEE Signal Process. Lett. 21, 2014, arXiv:1309.3029.

  Examples:
    0.4²/0.9 + 0.4²/0.1 = 1.7778:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    >>> print(f"{float(dv.chi2_divergence(p, q)):.4f}")
    1.7778
  """
  pair = _Pair(*_prepare(p, q, axis, condition_on, logits))
  d = pair.delta
  big = d > _EXP_SAFE
  small_d = jnp.where(big, 0.0, d)
  big_d = jnp.where(big, d, _EXP_SAFE)
  lp_safe = jnp.where(pair.both, pair.lp, 0.0)
  lq_safe = jnp.where(pair.both, pair.lq, 0.0)
  term_big = jnp.exp(2.0 * lp_safe - lq_safe) * (-jnp.expm1(-big_d))**2
  term_small = pair.q * jnp.expm1(small_d)**2
  terms = jnp.where(pair.both, jnp.where(big, term_big, term_small),
                    jnp.where(pair.p_pos, jnp.inf, pair.q))
  return _guard(_sum(terms, axis, sum_where), pair.lp, pair.lq, axis)


# ---------------------------------------------------------------------------------------------------
# Rényi and α: both built on T_α = (Σ p^α q^{1−α} − 1)/(α − 1), computed without cancellation.


def _power_sum(pair: _Pair, alpha: Array, axis: int) -> tuple[Array, Array, Array]:
  """Pieces of S_α = Σ p^α q^{1−α} for α > 0.

  Returns (T, log_S, use_T). T = (S − 1)/(α − 1) is computed as

      T = Σ p (expm1(−δ) + δ) + Σ p δ φ((α−1)δ),      φ(x) = (eˣ − 1 − x)/x,

  whose first sum is KL(p‖q) with non-negative terms and whose second has terms of one sign (that
  of α − 1): exact at α = 1 and accurate to relative precision as p → q. It is used (``use_T``)
  when no (α−1)δ exceeds the overflow guard and |(α−1)T| < ½, i.e. S is within a factor 2 of 1;
  otherwise the two sums would cancel (α < 1, nearly disjoint supports) or overflow, and
  log_S = logsumexp(α ℓp + (1 − α) ℓq) is used instead — no cancellation there, since S is far from 1.
  """
  a = alpha - 1.0
  d = pair.delta
  ad = jnp.where(pair.both, a * d, -jnp.inf)
  stable = jnp.max(ad, axis=axis) <= _EXP_SAFE
  d_clipped = jnp.where(a * d > _EXP_SAFE, _EXP_SAFE / jnp.where(a == 0, 1.0, a), d)
  both_terms = _kl_terms(pair) + pair.p * d_clipped * _numerics.phi(a * d_clipped)
  # Entries with p = 0 < q contribute q (the KL form's bookkeeping); p > 0 = q contributes
  # p α/(1 − α) for α < 1 and +inf for α >= 1.
  zero_q = jnp.where(alpha < 1.0, pair.p * alpha / jnp.where(alpha < 1.0, 1.0 - alpha, 1.0), jnp.inf)
  terms = jnp.where(pair.both, both_terms, jnp.where(pair.p_pos, zero_q, pair.q))
  T = jnp.sum(terms, axis=axis)
  lp_safe = jnp.where(pair.both, pair.lp, 0.0)
  lq_safe = jnp.where(pair.both, pair.lq, 0.0)
  e = jnp.where(pair.both, alpha * lp_safe + (1.0 - alpha) * lq_safe,
                jnp.where(pair.p_pos & (alpha > 1.0), jnp.inf, -jnp.inf))
  log_S = jax.nn.logsumexp(e, axis=axis)
  use_T = stable & (jnp.abs(a * T) < 0.5)
  return T, log_S, use_T


def _check_order(name: str, alpha: ArrayLike, *, positive: bool) -> Array:
  if jnp.ndim(alpha) != 0:
    raise ValueError(f"{name} must be a scalar, got shape {jnp.shape(alpha)}.")
  alpha = _validate.finite(name, alpha)
  if positive:
    if _validate.is_concrete(alpha) and not float(alpha) > 0:
      raise ValueError(f"{name} must be > 0 for the Rényi divergence, got {float(alpha)!r}.")
    alpha = _validate.traced_check(alpha, lambda a: a > 0,
                                   f"{name} must be > 0 for the Rényi divergence.")
  alpha = jnp.asarray(alpha, dtype=jnp.result_type(float))
  return jnp.where(jnp.isfinite(alpha), alpha, jnp.nan)   # a traced ±inf order: NaN


@_compiled(_check_renyi)
def renyi_divergence(p: ArrayLike,
                     q: ArrayLike,
                     *,
                     alpha: float | Array,
                     axis: int = -1,
                     condition_on: ArrayLike | None = None,
                     row_mask: ArrayLike | None = None,
                     logits: bool = False) -> Array:
  r"""Rényi divergence of order α > 0.

  .. math::  R_\alpha(p\,\|\,q) = \frac{1}{\alpha - 1} \log \sum_i p_i^\alpha q_i^{1-\alpha},
             \qquad R_1 = \mathrm{KL}(p\,\|\,q).

  Computed as :math:`T\,\log(1 + y)/y` with :math:`T = (\sum_i p_i^\alpha q_i^{1-\alpha} - 1)/(\alpha-1)
  = \mathrm{KL}(p\|q) + \sum_i p_i \delta_i \varphi((\alpha-1)\delta_i)`,
  :math:`\varphi(x) = (e^x - 1 - x)/x`, and :math:`y = (\alpha-1)T`: exact at α = 1 (T = KL) and
  free of cancellation for p ≈ q; extreme ratios fall back to a logsumexp. ``alpha`` may be traced
  (vmap over orders; the α → 1 limit is smooth). Non-decreasing in α;
  :math:`R_{1/2} = -2\log\sum_i\sqrt{p_i q_i}`.
  ``+inf`` for α >= 1 when some :math:`q_i = 0 < p_i`, and for disjoint supports.

  Args:
    p, q, axis, condition_on, row_mask, logits: as in :func:`kl_divergence` (no ``sum_where``: the
      logarithm of a sum has no per-category terms).
    alpha: the order, a scalar > 0.

  Returns:
    The divergence in nats with ``axis`` reduced.

  Raises:
    ValueError: if ``alpha`` is not a finite scalar > 0 (concrete values), or on the input errors
      of :func:`kl_divergence`.

  References:
    * Rényi, *On measures of entropy and information*, Proc. 4th Berkeley Symp. Math. Statist.
      Prob. 1, 1961.
    * van Erven & Harremoës, *Rényi divergence and Kullback–Leibler divergence*, IEEE Trans. IT 60,
      2014, arXiv:1206.2459.

  Examples:
    Order 2 is log Σ p²/q = log(25/9); order 1 is the KL divergence:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    >>> print(f"{float(dv.renyi_divergence(p, q, alpha=2.0)):.4f}")
    1.0217
    >>> print(f"{float(dv.renyi_divergence(p, q, alpha=1.0)):.4f}")
    0.5108
  """
  alpha = _check_order("alpha", alpha, positive=True)
  alpha = jnp.where(alpha > 0, alpha, jnp.nan)   # a traced α <= 0: NaN
  pair = _Pair(*_prepare(p, q, axis, condition_on, logits))
  T, log_S, use_T = _power_sum(pair, alpha, axis)
  a = alpha - 1.0
  T_safe = jnp.where(use_T, T, 0.0)
  via_T = T_safe * _numerics.log1p_ratio(a * T_safe)
  via_lse = jnp.where(use_T, 0.0, log_S) / jnp.where(a == 0, 1.0, a)
  return _guard(jnp.where(use_T, via_T, via_lse), pair.lp, pair.lq, axis)


@_compiled(_check_pair)
def alpha_divergence(p: ArrayLike,
                     q: ArrayLike,
                     *,
                     alpha: float | Array,
                     axis: int = -1,
                     condition_on: ArrayLike | None = None,
                     sum_where: ArrayLike | None = None,
                     row_mask: ArrayLike | None = None,
                     logits: bool = False) -> Array:
  r"""α-divergence (Cichocki–Amari parametrisation) for any real α.

  .. math::  D_\alpha(p\,\|\,q) = \frac{1}{\alpha(\alpha - 1)}
             \Big(\sum_i p_i^\alpha q_i^{1-\alpha} - 1\Big)
             = \frac{e^{(\alpha-1) R_\alpha(p\|q)} - 1}{\alpha(\alpha-1)},

  the f-divergence of :func:`~divjax.divergences.alpha_generator`. Limits: α → 1 gives KL(p‖q),
  α → 0 gives KL(q‖p); α = ½ gives 4 H²(p, q); α = 2 gives ½ χ²(p‖q); α = −1 gives ½ χ²(q‖p).
  Swapping the arguments maps α to 1 − α, which is how α < ½ is evaluated (so both limits are
  computed without cancellation). ``alpha`` may be traced.

  Args:
    p, q, axis, condition_on, sum_where, row_mask, logits: as in :func:`kl_divergence`;
      ``sum_where`` sums the terms :math:`q_i f_\alpha(p_i/q_i)` of :func:`alpha_generator`.
    alpha: the order, any real scalar.

  Returns:
    The divergence in nats with ``axis`` reduced.

  Raises:
    ValueError: if ``alpha`` is not a finite scalar, or on the input errors of
      :func:`kl_divergence`.

  References:
    * Cichocki & Amari, *Families of alpha- beta- and gamma-divergences*, Entropy 12, 2010,
      doi:10.3390/e12061532.
    * Amari, *α-divergence is unique, belonging to both f-divergence and Bregman divergence
      classes*, IEEE Trans. IT 55, 2009.
    * The conventions and their relation to Rényi and to the f-DPO α: :doc:`/theory/fdivergences`.

  Examples:
    α = ½ gives 4 H²(p, q) = 4 × 0.10557, and α = 2 gives ½ χ²(p‖q) = ½ × 1.7778:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    >>> print(f"{float(dv.alpha_divergence(p, q, alpha=0.5)):.4f}")
    0.4223
    >>> print(f"{float(dv.alpha_divergence(p, q, alpha=2.0)):.4f}")
    0.8889
  """
  alpha = _check_order("alpha", alpha, positive=False)
  lp, lq = _prepare(p, q, axis, condition_on, logits)
  if sum_where is not None:
    return _guard(_partial_sum(alpha_generator(alpha), lp, lq, axis, sum_where), lp, lq, axis)
  upper = alpha >= 0.5
  # D_α(p‖q) = D_{1−α}(q‖p): evaluate with an order >= ½.
  b = jnp.where(upper, alpha, 1.0 - alpha)
  pair = _Pair(jnp.where(upper, lp, lq), jnp.where(upper, lq, lp))
  T, log_S, use_T = _power_sum(pair, b, axis)
  a = b - 1.0
  via_lse = jnp.expm1(jnp.where(use_T, 0.0, log_S)) / jnp.where(a == 0, 1.0, a)
  return _guard(jnp.where(use_T, jnp.where(use_T, T, 0.0), via_lse) / b, lp, lq, axis)


# ---------------------------------------------------------------------------------------------------
# Cauchy–Schwarz.


@_compiled(_check_pair)
def cauchy_schwarz_divergence(p: ArrayLike,
                              q: ArrayLike,
                              *,
                              axis: int = -1,
                              condition_on: ArrayLike | None = None,
                              row_mask: ArrayLike | None = None,
                              logits: bool = False) -> Array:
  r"""Cauchy–Schwarz divergence between discrete distributions (the CS-IB convention).

  .. math::  D_{\mathrm{CS}}(p, q) = -\log \frac{\big(\sum_i p_i q_i\big)^2}{\sum_i p_i^2 \sum_i q_i^2}
             = -2\log\Big(1 - \tfrac12 \|\hat p - \hat q\|_2^2\Big),
             \qquad \hat p = p / \|p\|_2,

  i.e. :math:`-2\log\cos\angle(p, q)`, the second form being the one computed (no cancellation near
  p = q). Symmetric, zero iff p = q, ``+inf`` for disjoint supports; not an f-divergence. Arguments as
  in :func:`kl_divergence`, without ``sum_where`` (a log of sums has no per-category terms).

  divjax's one Cauchy–Schwarz convention, shared by every CS function (this one,
  :func:`gaussian_cauchy_schwarz_divergence`, :func:`divjax.ib.cs_divergence`,
  :func:`divjax.ib.gaussian_cs_divergence`, the CS-QMI and the CS-IB loss) is that of Yu et al.
  (arXiv:2404.17951). It is **twice** Jenssen et al.'s (2006) and Principe's
  :math:`-\log\big(\sum p q/\sqrt{\sum p^2 \sum q^2}\big)`: divide by 2 for theirs. See the
  Conventions page.

  References:
    * Jenssen, Principe, Erdogmus & Eltoft, *The Cauchy–Schwarz divergence and Parzen windowing:
      connections to graph theory and Mercer kernels*, J. Franklin Inst. 343, 2006.
    * Yu, Yu, Løkse, Jenssen & Príncipe, *Cauchy–Schwarz divergence information bottleneck for
      regression*, ICLR 2024, arXiv:2404.17951.
    * Principe, *Information Theoretic Learning: Renyi's Entropy and Kernel Perspectives*,
      Springer, 2010, ch. 2.

  Examples:
    Σ p q = 0.5, Σ p² = 0.5 and Σ q² = 0.82, so the value is −log(0.25 / 0.41):

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    >>> print(f"{float(dv.cauchy_schwarz_divergence(p, q)):.4f}")
    0.4947
  """
  lp, lq = _prepare(p, q, axis, condition_on, logits)
  # Unit-norm log-vectors.
  lp_hat = lp - 0.5 * _lse_finite(2.0 * lp, axis)
  lq_hat = lq - 0.5 * _lse_finite(2.0 * lq, axis)
  pair = _Pair(lp_hat, lq_hat)
  terms = jnp.where(pair.both, pair.q_minus_p()**2, pair.p**2 + pair.q**2)
  sq = jnp.sum(terms, axis=axis)
  # D = −2 log cos θ. Near p = q the log1p form is exact; for nearly orthogonal p, q (cos θ < ½) it would
  # underflow, and the direct log-space form −2 log Σ p̂ q̂ has no cancellation there.
  near = sq < 1.0
  via_sq = -2.0 * jnp.log1p(-0.5 * jnp.where(near, sq, 0.0))
  cross = jnp.where(pair.both, jnp.where(pair.both, lp_hat, 0.0) + jnp.where(pair.both, lq_hat, 0.0),
                    -jnp.inf)
  far = ~near & jnp.any(pair.both, axis=axis)
  via_log = -2.0 * jax.nn.logsumexp(jnp.where(jnp.expand_dims(far, axis), cross, 0.0), axis=axis)
  return _guard(jnp.where(near, via_sq, jnp.where(far, via_log, jnp.inf)), lp, lq, axis)


def _lse_finite(x: Array, axis: int) -> Array:
  finite = jnp.isfinite(x)
  return jax.nn.logsumexp(jnp.where(finite, x, -jnp.inf), axis=axis, keepdims=True)


# ---------------------------------------------------------------------------------------------------
# Generic f-divergence.


@_compiled(_check_f)
def f_divergence(generator: FGenerator,
                 p: ArrayLike,
                 q: ArrayLike,
                 *,
                 axis: int = -1,
                 condition_on: ArrayLike | None = None,
                 sum_where: ArrayLike | None = None,
                 row_mask: ArrayLike | None = None,
                 logits: bool = False) -> Array:
  r"""The f-divergence of a generator between discrete distributions.

  .. math::  D_f(p\,\|\,q) = \sum_{i:\,q_i>0} q_i f\!\left(\frac{p_i}{q_i}\right)
             + f'(\infty) \sum_{i:\,q_i = 0} p_i,
             \qquad f'(\infty) = \lim_{u\to\infty} f(u)/u.

  Terms with :math:`p_i > q_i` are evaluated in perspective form :math:`p_i\, f(u_i)/u_i`, so ratios
  within the dtype's normal range (about :math:`e^{\pm 87}` in float32) are exact; more extreme ratios
  are clipped to it. Works with any :class:`~divjax.divergences.FGenerator`, including user-defined ones
  (the generator is a pytree, so its parameters may be traced). Prefer the dedicated functions
  (:func:`kl_divergence`, :func:`alpha_divergence`, …) for the built-in divergences: they are exact
  for any ratio and cancellation-free near p = q.

  Args:
    generator: the :class:`~divjax.divergences.FGenerator`.
    p, q, axis, condition_on, sum_where, row_mask, logits: as in :func:`kl_divergence`;
      ``sum_where`` sums the terms :math:`q_i f(p_i/q_i)` (:math:`p_i f'(\infty)` where
      :math:`q_i = 0`) shown above.

  Returns:
    :math:`D_f(p\|q)` with ``axis`` reduced.

  Raises:
    TypeError: if ``generator`` is not an ``FGenerator``.
    ValueError: on the input errors of :func:`kl_divergence`.

  References:
    Csiszár, *Information-type measures of difference of probability distributions and indirect
    observations*, Studia Sci. Math. Hungar. 2, 1967.

  Examples:
    The KL generator reproduces :func:`kl_divergence`, and the α-generator at α = 2 gives ½ χ²:

    >>> import jax.numpy as jnp
    >>> from divjax import divergences as dv
    >>> p, q = jnp.array([0.5, 0.5]), jnp.array([0.9, 0.1])
    >>> print(f"{float(dv.f_divergence(dv.KL, p, q)):.4f}")
    0.5108
    >>> print(f"{float(dv.f_divergence(dv.alpha_generator(2.0), p, q)):.4f}")
    0.8889
  """
  if not isinstance(generator, FGenerator):
    raise TypeError(f"generator must be an FGenerator, got {type(generator).__name__}.")
  lp, lq = _prepare(p, q, axis, condition_on, logits)
  return _guard(_partial_sum(generator, lp, lq, axis, sum_where), lp, lq, axis)


def _f_terms(generator: FGenerator, pair: _Pair) -> Array:
  """The per-category terms q_i f(p_i/q_i) of D_f (p_i f'(∞) where q_i = 0), in perspective form."""
  info = jnp.finfo(pair.delta.dtype)
  # Ratios are kept within the normal range [tiny, max/e], so u and 1/u never under- or overflow.
  d = jnp.clip(pair.delta, jnp.log(info.tiny) + 1.0, jnp.log(info.max) - 1.0)
  u = jnp.exp(d)
  below = d <= 0
  u_below = jnp.where(below, u, 1.0)
  u_above = jnp.where(below, 1.0, u)
  term_both = jnp.where(below, pair.q * generator.f(u_below),
                        pair.p * generator.f(u_above) / u_above)
  f0 = generator.f_at_zero()
  f_inf = generator.f_prime_at_infinity()
  # q f(0) where p = 0 < q (0 when q = 0 too); p f'(∞) where q = 0 < p.
  # Double-where: the multiplications by a possibly infinite constant only see the entries they serve.
  q_safe = jnp.where(pair.q_pos & ~pair.p_pos, pair.q, 1.0)
  p_safe = jnp.where(pair.p_pos & ~pair.q_pos, pair.p, 1.0)
  only_q = jnp.where(pair.q_pos, q_safe * f0, 0.0)
  only_p = jnp.where(pair.p_pos, p_safe * f_inf, 0.0)
  return jnp.where(pair.both, term_both, jnp.where(pair.p_pos, only_p, only_q))


def _sum(terms: Array, axis: int, sum_where: ArrayLike | None) -> Array:
  """Σ over ``axis`` of the terms where ``sum_where`` holds (all of them when it is None)."""
  if sum_where is None:
    return jnp.sum(terms, axis=axis)
  return jnp.sum(jnp.where(sum_where, terms, jnp.zeros((), terms.dtype)), axis=axis)


def _partial_sum(generator: FGenerator, lp: Array, lq: Array, axis: int,
                 sum_where: ArrayLike | None) -> Array:
  """Σ_i q_i f(p_i/q_i) over ``axis``, where ``sum_where`` holds: the textbook terms of D_f."""
  return _sum(_f_terms(generator, _Pair(lp, lq)), axis, sum_where)

