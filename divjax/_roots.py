r"""Roots of increasing scalar equations, and their implicit-function gradients (private).

One root finder serves every solver in divjax that inverts a monotone function: the KL-budget and
expected-reward tilts and the f-DPO normaliser (:mod:`divjax.alignment`), and g*, h_var and the
anisotropic thresholds (:mod:`divjax.kde.theory`).

:func:`increasing_root` finds :math:`x^*` with :math:`g(x^*) = 0` for an increasing g on a bracket
:math:`[lo, hi]` with :math:`g(lo) \le 0 \le g(hi)`: each step evaluates g and its slope at x, shrinks
the bracket to the side that keeps the sign change, and takes the Newton step when it lands strictly
inside the new bracket (bisection otherwise). A slope that is not positive (pass 0 for plain
bisection) always bisects, so the bracket at least halves on every rejected step and Newton's
quadratic convergence takes over near a simple root. Everything is elementwise over arrays of
brackets, with a fixed step count (``lax.fori_loop``), so it works under ``jit`` and ``vmap``.

:func:`implicit_root` gives the root the gradient of the exact solution (implicit-function theorem),
:math:`\partial x^*/\partial\theta = -(\partial g/\partial\theta)/g'(x^*)`, instead of the gradient of
the iteration (which is zero through bisection's comparisons).

References:
  * Press, Teukolsky, Vetterling & Flannery, *Numerical Recipes*, 3rd ed., 2007, §9.4 (Newton with
    bracketing, ``rtsafe``).
  * Krantz & Parks, *The Implicit Function Theorem*, Birkhäuser, 2002.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def increasing_root(g: Callable[[Array], tuple[Array, Array]], lo: Array, hi: Array, *,
                    num_iters: int, x0: Array | None = None) -> Array:
  """The root of an increasing ``g`` in ``[lo, hi]``, where ``g(lo) <= 0 <= g(hi)`` (elementwise).

  Args:
    g: ``x -> (g(x), g'(x))``, elementwise. A slope that is not positive and finite (e.g. 0 for pure
      bisection) makes that step a bisection. A NaN value counts as positive.
    lo, hi: the bracket, broadcastable.
    num_iters: number of steps (static). Bisection alone needs about log2((hi − lo)/tol) of them.
    x0: the first point (default the midpoint).

  Returns:
    The last iterate: the root to within the final bracket (exactly the root where g hit 0).
  """
  lo, hi = jnp.broadcast_arrays(jnp.asarray(lo), jnp.asarray(hi))
  x0 = 0.5 * (lo + hi) if x0 is None else jnp.asarray(x0, lo.dtype)
  # The iterate has the shape of g's value (a scalar bracket may serve an array of equations).
  shape = jnp.broadcast_shapes(lo.shape, x0.shape, jax.eval_shape(lambda x: g(x)[0], x0).shape)
  lo, hi, x0 = (jnp.broadcast_to(a, shape) for a in (lo, hi, x0))

  def body(_, carry):
    x, lo, hi = carry
    value, slope = g(x)
    lo = jnp.where(value <= 0, x, lo)
    hi = jnp.where((value >= 0) | jnp.isnan(value), x, hi)
    newton = x - value / jnp.where(slope > 0, slope, 1.0)
    ok = (slope > 0) & jnp.isfinite(newton) & (newton > lo) & (newton < hi)
    x = jnp.where(value == 0, x, jnp.where(ok, newton, 0.5 * (lo + hi)))
    return x, lo, hi

  x, _, _ = jax.lax.fori_loop(0, num_iters, body, (x0, lo, hi))
  return x


def autodiff_slope(fn: Callable[[Array], Array]) -> Callable[[Array], tuple[Array, Array]]:
  """``x -> (fn(x), fn'(x))`` for an elementwise ``fn``, the slope by forward-mode autodiff."""
  return lambda x: jax.jvp(fn, (x,), (jnp.ones_like(x),))


def implicit_root(x_star: Array, residual: Callable[[Array], Array], slope: Array) -> Array:
  r"""``x_star`` with the implicit-function gradient of the root of ``residual``.

  Returns :math:`x^* - (r(x^*) - \mathrm{sg}[r(x^*)])/\mathrm{sg}[r'(x^*)]`: the value of ``x_star``,
  and the derivative :math:`-(\partial r/\partial\theta)/r'(x^*)` with respect to whatever ``residual``
  closes over (first order; ``x_star`` and ``slope`` are held fixed). Where ``x_star`` is not finite or
  the slope is not positive the root is returned without gradient.

  Args:
    x_star: the root (its own gradient is discarded).
    residual: ``x -> r(x)``, closing over the differentiable problem data; ``r(x_star) ≈ 0``.
    slope: :math:`r'(x^*)`, the derivative in x at the root.

  Returns:
    ``x_star``, differentiable with respect to the data of ``residual``.
  """
  x_star = jax.lax.stop_gradient(x_star)
  slope = jax.lax.stop_gradient(slope)
  ok = jnp.isfinite(x_star) & (slope > 0)
  r = residual(jnp.where(ok, x_star, 0.0))
  # (r − sg[r]) is exactly 0 in value (even where r/slope would overflow), so x_star is returned as is.
  return jnp.where(ok, x_star - (r - jax.lax.stop_gradient(r)) / jnp.where(ok, slope, 1.0), x_star)
