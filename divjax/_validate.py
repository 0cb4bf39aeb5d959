"""Argument checks shared by every divjax module.

On *concrete* values (NumPy arrays, Python scalars, committed ``jax.Array``s) each check raises a
``ValueError``/``TypeError`` whose message names the argument and states what was expected. Shape and
dtype checks are static, so they raise under ``jit`` too.

Value checks cannot raise on a *tracer* (inside ``jit``/``vmap``/``grad``). There they return the
input with every entry replaced by NaN when the check fails, so an invalid value reaching a compiled
program gives NaN, never a plausible number; in checked mode (:mod:`divjax.checks`) they also emit a
``jax.experimental.checkify`` check carrying the same message. Callers must therefore use the value
a check returns::

    p = _validate.probabilities("p", p, axis=axis)

Concrete inputs are returned unchanged (as given). ``same_shape`` returns None, ``broadcastable`` the
broadcast shape and ``integer`` the value as int. Jitted private kernels, whose inputs were checked at
the public entry point, trace under :func:`kernel`, which turns the traced checks off so that one
cached trace serves checked and unchecked callers alike.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from typing import Any, Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify as _checkify

__all__ = [
    "is_concrete",
    "array",
    "ndim",
    "last_dim",
    "same_shape",
    "broadcastable",
    "finite",
    "not_nan",
    "positive",
    "positive_scalar",
    "squares_overflow",
    "nonnegative",
    "integer",
    "probabilities",
    "logits",
    "mask",
    "covariance",
    "traced_check",
    "kernel",
    "checking",
    "recording",
    "guarded",
    "nan_means_overflow",
    "interval",
    "as_array",
]

#: Default tolerance on |sum(p) - 1| for probability vectors (float32-friendly).
SIMPLEX_ATOL = 1e-4


def is_concrete(x: Any) -> bool:
  """True when ``x`` holds values that can be inspected now (not a tracer inside a transform)."""
  leaves = jax.tree_util.tree_leaves(x)
  return not any(isinstance(leaf, jax.core.Tracer) for leaf in leaves)


def _np(x: Any) -> np.ndarray:
  return np.asarray(x)


# What a value check does to a tracer: "nan" (poison the value), "checkify" (poison and emit a
# checkify check) or "off" (nothing: inside a private kernel whose inputs were checked already).
_TRACED_MODE: contextvars.ContextVar[str] = contextvars.ContextVar("divjax_traced_checks",
                                                                   default="nan")


@contextlib.contextmanager
def checking(mode: str) -> Iterator[None]:
  """Sets what traced value checks do (``"nan"``, ``"checkify"`` or ``"off"``) while tracing."""
  if mode not in ("nan", "checkify", "off"):
    raise ValueError(f"mode must be 'nan', 'checkify' or 'off', got {mode!r}.")
  token = _TRACED_MODE.set(mode)
  try:
    yield
  finally:
    _TRACED_MODE.reset(token)


def kernel(fn: Callable[..., Any]) -> Callable[..., Any]:
  """Traces ``fn`` with the traced checks off: for jitted private kernels (put it under ``jax.jit``).

  A ``jax.jit`` cache keys on shapes and static arguments, not on the checking mode, so a kernel
  whose trace held checkify checks would break a later unchecked call. Kernels get inputs the public
  function has checked already, so their traces carry no checks.
  """
  @functools.wraps(fn)
  def wrapper(*args: Any, **kwargs: Any) -> Any:
    with checking("off"):
      return fn(*args, **kwargs)
  return wrapper


# The failed-check flags of the public function being traced (see :func:`guarded`), or None.
_GUARD: contextvars.ContextVar[list | None] = contextvars.ContextVar("divjax_guard", default=None)


@contextlib.contextmanager
def recording(flags: list) -> Iterator[None]:
  """While tracing, every traced value check appends its verdict (a boolean array) to ``flags``.

  For compiled programs that return whether their inputs were valid (the eager path of
  :mod:`divjax.divergences.discrete`) instead of poisoning their outputs (:func:`guarded`).
  """
  token = _GUARD.set(flags)
  try:
    yield
  finally:
    _GUARD.reset(token)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
  """Makes every floating output of ``fn`` NaN when a traced value check inside it failed.

  Poisoning an argument (:func:`traced_check`) does not always reach the output: a NaN can vanish
  through ``where``, ``max`` or a comparison. Under this decorator each traced check also records
  its verdict, and the outputs are ``where(all checks passed, out, NaN)`` — per example under
  ``vmap``. Concrete calls and unchecked traces are unchanged (no check, no cost).
  """
  @functools.wraps(fn)
  def wrapper(*args: Any, **kwargs: Any) -> Any:
    flags: list = []
    with recording(flags):
      out = fn(*args, **kwargs)
    if not flags:
      return out
    good = functools.reduce(jnp.logical_and, flags)

    def guard(leaf: Any) -> Any:
      if isinstance(leaf, (jax.Array, np.ndarray, float)) and jnp.issubdtype(
          jnp.result_type(leaf), jnp.inexact):
        return jnp.where(good, leaf, jnp.nan)
      return leaf

    return jax.tree_util.tree_map(guard, out)
  return wrapper


def nan_means_overflow(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
  """On concrete inputs, a NaN result becomes a ``ValueError`` naming the arguments that set the scale.

  For closed forms whose intermediates (squares, products, exponentials of the inputs) overflow or
  underflow the dtype's range at extreme but valid scales, where a bound on every intermediate would
  restate the computation. Valid inputs of moderate scale never give NaN (the tests check it), so a
  NaN here is the range of the dtype, and the error says so instead of returning it silently.
  Traced calls are unchanged.
  """
  def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
      out = fn(*args, **kwargs)
      leaves = [leaf for leaf in jax.tree_util.tree_leaves(out)
                if isinstance(leaf, (jax.Array, np.ndarray)) and jnp.issubdtype(leaf.dtype,
                                                                                jnp.inexact)]
      if leaves and is_concrete(leaves) and any(np.isnan(np.asarray(leaf)).any() for leaf in leaves):
        raise ValueError(
            f"{fn.__name__}: the result is NaN because an intermediate overflows or underflows "
            f"{leaves[0].dtype} at the scale of {', '.join(names)}; rescale them or compute in "
            "float64 (jax.config.update('jax_enable_x64', True)).")
      return out
    return wrapper
  return decorate


def traced_check(x: Any, ok: Callable[[Any], Any], message: str) -> Any:
  """The traced half of a value check: ``x`` where ``ok(x)`` holds, NaN everywhere otherwise.

  ``ok`` maps the (gradient-stopped) value to a boolean scalar. Concrete inputs, integer or bool
  dtypes and mode ``"off"`` return ``x`` unchanged; in mode ``"checkify"`` a
  ``checkify.check(ok, message)`` is emitted as well.
  """
  mode = _TRACED_MODE.get()
  if mode == "off" or is_concrete(x):
    return x
  x = jnp.asarray(x)
  if not jnp.issubdtype(x.dtype, jnp.inexact):
    return x
  good = ok(jax.lax.stop_gradient(x))
  flags = _GUARD.get()
  if flags is not None:
    flags.append(good)
  if mode == "checkify":
    _checkify.check(good, message.replace("{", "{{").replace("}", "}}"))
  return jnp.where(good, x, jnp.nan)


def array(name: str, x: Any) -> Any:
  """``x`` must be array-like with a numeric (real) dtype."""
  if isinstance(x, (str, bytes)) or x is None:
    raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}.")
  if not is_concrete(x):
    dtype = getattr(x, "dtype", None)
    if dtype is not None and (dtype == np.bool_ or not jnp.issubdtype(dtype, np.number)
                              or jnp.issubdtype(dtype, np.complexfloating)):
      raise TypeError(f"{name} must be a real numeric array, got dtype {dtype}.")
    return x
  try:
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
  except TypeError as err:
    raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}.") from err
  if dtype == np.bool_ or not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
    raise TypeError(f"{name} must be a real numeric array, got dtype {dtype}.")
  return x


def ndim(name: str, x: Any, expected: int | Sequence[int]) -> Any:
  """``x.ndim`` must be ``expected`` (or one of them). Shapes are static, so this also runs under jit."""
  allowed = (expected,) if isinstance(expected, int) else tuple(expected)
  got = np.ndim(x)
  if got not in allowed:
    want = " or ".join(str(a) for a in allowed)
    raise ValueError(f"{name} must have {want} dimension(s), got shape {np.shape(x)}.")
  return x


def last_dim(name: str, x: Any, size: int, *, what: str = "") -> Any:
  """The last axis of ``x`` must have length ``size``."""
  shape = np.shape(x)
  if len(shape) == 0 or shape[-1] != size:
    extra = f" ({what})" if what else ""
    raise ValueError(f"{name} must have last dimension {size}{extra}, got shape {shape}.")
  return x


def same_shape(name_a: str, a: Any, name_b: str, b: Any) -> None:
  """``a`` and ``b`` must have identical shapes (static check)."""
  if np.shape(a) != np.shape(b):
    raise ValueError(
        f"{name_a} and {name_b} must have the same shape, got {np.shape(a)} and {np.shape(b)}.")


def broadcastable(name_a: str, a: Any, name_b: str, b: Any) -> tuple[int, ...]:
  """``a`` and ``b`` must broadcast against each other; returns the broadcast shape."""
  try:
    return tuple(np.broadcast_shapes(np.shape(a), np.shape(b)))
  except ValueError as err:
    raise ValueError(
        f"{name_a} with shape {np.shape(a)} does not broadcast against {name_b} with shape "
        f"{np.shape(b)}.") from err


def not_nan(name: str, x: Any) -> Any:
  """``x`` must contain no NaN (infinities are allowed)."""
  array(name, x)
  if is_concrete(x) and np.isnan(_np(x)).any():
    raise ValueError(f"{name} contains NaN.")
  return traced_check(x, lambda v: ~jnp.any(jnp.isnan(v)), f"{name} contains NaN.")


def finite(name: str, x: Any) -> Any:
  """``x`` must contain only finite values (no NaN, no ±inf)."""
  array(name, x)
  if is_concrete(x):
    not_nan(name, x)
    if not np.isfinite(_np(x)).all():
      raise ValueError(f"{name} must be finite, got an infinite value.")
  return traced_check(x, lambda v: jnp.all(jnp.isfinite(v)),
                      f"{name} must be finite (no NaN or ±inf).")


def positive(name: str, x: Any) -> Any:
  """All entries of ``x`` must be finite and > 0."""
  array(name, x)
  if is_concrete(x):
    finite(name, x)
    if not (_np(x) > 0).all():
      raise ValueError(f"{name} must be positive, got min {np.min(_np(x))!r}.")
  return traced_check(x, lambda v: jnp.all(jnp.isfinite(v) & (v > 0)),
                      f"{name} must be positive and finite.")


def positive_scalar(name: str, x: Any) -> Any:
  """``x`` must be a finite scalar > 0 (bandwidths, temperatures, ε, step sizes)."""
  if np.ndim(x) != 0:
    raise ValueError(f"{name} must be a scalar, got shape {np.shape(x)}.")
  return positive(name, x)


def squares_overflow(scale: float, dtype: Any, count: int = 1) -> bool:
  """True when ``count · scale²`` is not finite in ``dtype``.

  The bound behind every "distances at this scale overflow" check: if each of ``count``
  coordinates of a difference is at most ``scale`` in magnitude, the squared distance is at most
  ``count · scale²``; past the dtype's range it is inf, and a kernel or cost built on it gives NaN.
  """
  with np.errstate(over="ignore"):
    return not np.isfinite(np.asarray(scale, dtype) ** 2 * count)


def nonnegative(name: str, x: Any) -> Any:
  """All entries of ``x`` must be finite and >= 0."""
  array(name, x)
  if is_concrete(x):
    finite(name, x)
    if (_np(x) < 0).any():
      raise ValueError(f"{name} must be non-negative, got min {np.min(_np(x))!r}.")
  return traced_check(x, lambda v: jnp.all(jnp.isfinite(v) & (v >= 0)),
                      f"{name} must be finite and non-negative.")


def interval(name: str, x: Any, *, lower: float | None = None, upper: float | None = None,
             lower_open: bool = False, upper_open: bool = False) -> Any:
  """All entries of ``x`` must be finite and lie in the interval (``None``: unbounded on that side)."""
  x = finite(name, x)
  if upper is None:
    what = f"be {'>' if lower_open else '>='} {lower:g}"
  elif lower is None:
    what = f"be {'<' if upper_open else '<='} {upper:g}"
  else:
    what = (f"lie in {'(' if lower_open else '['}{lower:g}, {upper:g}"
            f"{')' if upper_open else ']'}")

  def inside(v: Any) -> Any:
    ok = True
    if lower is not None:
      ok = ok & ((v > lower) if lower_open else (v >= lower))
    if upper is not None:
      ok = ok & ((v < upper) if upper_open else (v <= upper))
    return ok

  if is_concrete(x):
    v = _np(x)
    if not np.all(inside(v)):
      got = f"{float(v):g}" if v.ndim == 0 else f"values in [{np.min(v):g}, {np.max(v):g}]"
      raise ValueError(f"{name} must {what}, got {got}.")
    return x
  return traced_check(x, lambda v: jnp.all(inside(v)), f"{name} must {what}.")


def as_array(x: Any) -> Any:
  """Python lists and tuples as NumPy arrays (so dtype inference works); anything else as given."""
  return np.asarray(x) if isinstance(x, (list, tuple)) else x


def integer(name: str, x: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
  """``x`` must be a Python/NumPy integer in ``[minimum, maximum]``; returns it as ``int``."""
  if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
    raise TypeError(f"{name} must be an integer, got {type(x).__name__}.")
  x = int(x)
  if minimum is not None and x < minimum:
    raise ValueError(f"{name} must be >= {minimum}, got {x}.")
  if maximum is not None and x > maximum:
    raise ValueError(f"{name} must be <= {maximum}, got {x}.")
  return x


def probabilities(name: str, p: Any, *, axis: int = -1, atol: float = SIMPLEX_ATOL) -> Any:
  """``p`` must be a probability vector along ``axis``: finite, >= 0, summing to 1 within ``atol``."""
  array(name, p)
  if is_concrete(p):
    nonnegative(name, p)
  if np.ndim(p) == 0:
    raise ValueError(f"{name} must have at least one dimension (the category axis), got a scalar.")
  _categories(name, np.shape(p), axis)
  if is_concrete(p):
    total = _np(p).astype(np.float64).sum(axis=axis)
    worst = float(np.max(np.abs(total - 1.0), initial=0.0))
    if worst > atol:
      raise ValueError(
          f"{name} must sum to 1 along axis {axis} (within {atol:g}), but a sum is off by {worst:.3g}. "
          "Normalise it, or pass logits=True for unnormalised log-probabilities.")
  return traced_check(
      p, lambda v: jnp.all(jnp.isfinite(v) & (v >= 0))
      & jnp.all(jnp.abs(jnp.sum(v, axis=axis) - 1.0) <= atol),
      f"{name} must be a probability vector along axis {axis}: finite, >= 0 and summing to 1 "
      f"(within {atol:g}).")


def _categories(name: str, shape: tuple[int, ...], axis: int) -> None:
  """The category axis must exist and hold at least one category (a static check)."""
  if not -len(shape) <= axis < len(shape):
    raise ValueError(f"axis {axis} is out of range for {name} of shape {shape}.")
  if shape[axis] == 0:
    raise ValueError(f"{name} must hold at least one category along axis {axis}, got shape {shape}.")


def logits(name: str, x: Any, *, axis: int = -1) -> Any:
  """``x`` must be logits along ``axis``: no NaN, no +inf, and not all -inf along the axis."""
  array(name, x)
  if is_concrete(x):
    not_nan(name, x)
  if np.ndim(x) == 0:
    raise ValueError(f"{name} must have at least one dimension (the category axis), got a scalar.")
  _categories(name, np.shape(x), axis)
  if is_concrete(x):
    v = _np(x)
    if np.isposinf(v).any():
      raise ValueError(f"{name} contains +inf; logits must be finite or -inf (zero probability).")
    if np.isneginf(v).all(axis=axis).any():
      raise ValueError(f"{name} is -inf for every category along axis {axis}: not a distribution.")
  return traced_check(
      x, lambda v: ~jnp.any(jnp.isnan(v) | (v == jnp.inf))
      & jnp.all(jnp.any(v > -jnp.inf, axis=axis)),
      f"{name} must be logits along axis {axis}: no NaN or +inf, and not -inf for every category.")


def mask(name: str, where: Any, shape: tuple[int, ...], *, axis: int = -1) -> Any:
  """``where`` must be boolean, broadcast against ``shape``, and keep >= 1 category per distribution."""
  if where is None:
    return None
  dtype = where.dtype if hasattr(where, "dtype") else np.asarray(where).dtype   # static
  if dtype != np.bool_:
    raise TypeError(f"{name} must be a boolean mask, got dtype {dtype}.")
  try:
    joint = np.broadcast_shapes(np.shape(where), tuple(shape))
  except ValueError as err:
    raise ValueError(
        f"{name} with shape {np.shape(where)} does not broadcast against the inputs' shape "
        f"{tuple(shape)}.") from err
  if is_concrete(where):
    full = np.broadcast_to(_np(where), joint)
    if not full.any(axis=axis).all():
      raise ValueError(f"{name} masks out every category of some distribution.")
  return where


def covariance(name: str, cov: Any, dim: int | None = None) -> Any:
  """``cov`` must be ``[..., d, d]``, finite, symmetric and positive definite (checked by eigenvalues).

  Traced, the check is finiteness, symmetry and a positive diagonal; the full positive-definiteness
  test needs a factorisation, which the functions that factorise ``cov`` do anyway (a failed
  factorisation is NaN). No factorisation is added here: batched LAPACK calls under a sharded
  ``vmap`` can deadlock on CPU (see :mod:`divjax._linalg`).
  """
  array(name, cov)
  if is_concrete(cov):
    finite(name, cov)
  shape = np.shape(cov)
  if len(shape) < 2 or shape[-1] != shape[-2]:
    raise ValueError(f"{name} must have shape [..., d, d], got {shape}.")
  if dim is not None and shape[-1] != dim:
    raise ValueError(f"{name} must be {dim}x{dim} to match the mean, got shape {shape}.")
  if is_concrete(cov):
    c = _np(cov).astype(np.float64)
    ct = np.swapaxes(c, -1, -2)
    scale = np.maximum(np.abs(c).max(), 1.0)
    if np.abs(c - ct).max() > 1e-5 * scale:
      raise ValueError(f"{name} must be symmetric.")
    eig_min = np.linalg.eigvalsh(0.5 * (c + ct)).min()
    if eig_min <= 0:
      raise ValueError(f"{name} must be positive definite, got smallest eigenvalue {eig_min:.3g}.")
  return traced_check(cov, _symmetric_positive_diagonal,
                      f"{name} must be finite and symmetric with a positive diagonal.")


def _symmetric_positive_diagonal(c: Any) -> Any:
  scale = jnp.maximum(jnp.max(jnp.abs(c)), 1.0)
  symmetric = jnp.max(jnp.abs(c - jnp.swapaxes(c, -1, -2))) <= 1e-5 * scale
  diagonal = jnp.diagonal(c, axis1=-2, axis2=-1)
  return jnp.all(jnp.isfinite(c)) & symmetric & jnp.all(diagonal > 0)
