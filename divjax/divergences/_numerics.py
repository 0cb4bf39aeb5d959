"""Small numerically careful pieces shared by the divergence modules.

Every function is elementwise, finite-valued where its mathematical value is finite, and has a finite
gradient at the special points (0 for the safe log/sqrt, the removable singularities of the ratios),
using the "double where" pattern: the unused branch only ever sees a harmless input.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array

# Series switch for the removable singularities; with the terms kept below the truncation error is
# < 1e-13 relative in float64, and float32 never evaluates a cancelling difference.
_SERIES = 1e-2


def safe_log(x: Array) -> Array:
  """log x for x > 0 and -inf at x = 0, with a zero (not NaN) gradient at 0."""
  pos = x > 0
  return jnp.where(pos, jnp.log(jnp.where(pos, x, 1.0)), -jnp.inf)


def xlogx(x: Array) -> Array:
  """x log x with 0 log 0 = 0 (gradient at 0 taken from the 0 branch)."""
  pos = x > 0
  safe = jnp.where(pos, x, 1.0)
  return jnp.where(pos, safe * jnp.log(safe), 0.0)


def safe_sqrt(x: Array) -> Array:
  """√x for x > 0, 0 at x <= 0 (NaN stays NaN), with a zero gradient at 0 (instead of +inf)."""
  pos = x > 0
  return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), jnp.where(jnp.isnan(x), jnp.nan, 0.0))


def phi(x: Array) -> Array:
  """φ(x) = (eˣ − 1 − x)/x, smooth through x = 0 (φ(0) = 0, φ'(0) = ½)."""
  small = jnp.abs(x) < _SERIES
  xs = jnp.where(small, 1.0, x)
  series = x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x * (1 / 120 + x / 720))))
  return jnp.where(small, series, (jnp.expm1(xs) - xs) / xs)


def log1p_ratio(y: Array) -> Array:
  """log(1 + y)/y for y > -1, smooth through y = 0 (value 1)."""
  small = jnp.abs(y) < _SERIES
  ys = jnp.where(small, 1.0, y)
  series = 1.0 - y * (1 / 2 - y * (1 / 3 - y * (1 / 4 - y / 5)))
  return jnp.where(small, series, jnp.log1p(ys) / ys)


def expm1_ratio(x: Array) -> Array:
  """(eˣ − 1)/x, smooth through x = 0 (value 1)."""
  small = jnp.abs(x) < _SERIES
  xs = jnp.where(small, 1.0, x)
  series = 1.0 + x * (1 / 2 + x * (1 / 6 + x * (1 / 24 + x / 120)))
  return jnp.where(small, series, jnp.expm1(xs) / xs)
