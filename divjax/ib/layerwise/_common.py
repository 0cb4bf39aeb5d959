"""Helpers shared by the layerwise modules (private)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from divjax import _validate

Array = jax.Array
ArrayLike = jax.typing.ArrayLike


def _float(*xs: ArrayLike) -> tuple[Array, ...]:
  """The arguments as arrays of one common floating dtype (lists and tuples accepted)."""
  xs = tuple(_validate.as_array(x) for x in xs)
  dtype = jnp.result_type(*xs, float)
  return tuple(jnp.asarray(x, dtype) for x in xs)


def _log_rate(rate: Array) -> Array:
  """log p with log 0 = −inf and a finite (zero) gradient at 0."""
  pos = rate > 0
  return jnp.where(pos, jnp.log(jnp.where(pos, rate, 1.0)), -jnp.inf)
