"""Input handling shared by the alignment modules (private): one problem (p, r) on a finite space."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from divjax import _validate
from divjax import divergences as dv
from divjax.divergences import FGenerator

Array = jax.Array
ArrayLike = Any

_LOG2 = 0.6931471805599453
# Bracket expansion: at most this many doublings of λ (2^120 ≈ 1e36 fits float32).
_MAX_DOUBLINGS = 120


def _problem(ref_logits: ArrayLike, reward: ArrayLike) -> tuple[Array, Array]:
  """Normalised reference log-probabilities and the reward, both ``[n]``, validated when concrete."""
  _validate.ndim("ref_logits", ref_logits, 1)
  _validate.ndim("reward", reward, 1)
  _validate.same_shape("ref_logits", ref_logits, "reward", reward)
  reward = _validate.finite("reward", reward)
  lp = dv.normalized_log_probs(ref_logits, logits=True, name="ref_logits")
  r = jnp.asarray(reward, dtype=lp.dtype)
  return lp, r


def _scalar(name: str, x: ArrayLike) -> None:
  if np.ndim(x) != 0:
    raise ValueError(f"{name} must be a scalar, got shape {np.shape(x)}.")


def _support_max(lp: Array, r: Array) -> Array:
  """max of r over the support of p."""
  return jnp.max(jnp.where(lp > -jnp.inf, r, -jnp.inf))


def _support_min(lp: Array, r: Array) -> Array:
  return jnp.min(jnp.where(lp > -jnp.inf, r, jnp.inf))


def _mean_var(log_probs: Array, r: Array) -> tuple[Array, Array]:
  w = jnp.exp(log_probs)
  mean = jnp.sum(w * r)
  # Categories of zero weight contribute exactly 0, even where (r − mean)² overflows (no 0·inf).
  d = jnp.where(w > 0, r - mean, 0.0)
  return mean, jnp.sum(w * d**2)


def _check_generator(generator: Any) -> None:
  if not isinstance(generator, FGenerator):
    raise TypeError(f"generator must be an FGenerator, got {type(generator).__name__}.")
