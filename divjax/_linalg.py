"""Dense linear solves written in plain JAX operations (private).

Why not ``jnp.linalg.solve``: on CPU, jaxlib 0.10's LAPACK kernels split a *batched* call over the
intra-op thread pool (``ParallelBatchMap``) and block a pool thread until the pieces finish. When
several CPU devices run such a call at once — a ``vmap``-ed solve inside a loop, sharded over a
multi-device mesh (``--xla_force_host_platform_device_count=2`` is enough) — every pool thread can
end up waiting and the program deadlocks. Minimal repro: ``jax.jit(jax.vmap(f))`` with
``f(a, b) = lax.fori_loop(0, 20, lambda i, x: jnp.linalg.solve(a, x), b)`` on a ``[16, 101, 101]``
float64 batch sharded over 2 CPU devices hangs in ``lapack_dgetrf_ffi``; on one device it runs.

:func:`solve` is Gaussian elimination with partial pivoting in ``lax.fori_loop`` row operations, so
``vmap`` batches it into ordinary elementwise and reduction ops (masks, not scatters, so it also
works on explicitly sharded inputs): no custom call, no thread-pool
hand-off, the same answer as LAPACK's ``getrf``/``getrs`` to rounding. It costs O(n³) flops like
LAPACK and is meant for the small systems (n ≲ a few hundred) of the solvers that use it.

:func:`cholesky` and :func:`solve_lower_triangular` are unrolled formulas (Cholesky–Banachiewicz,
forward substitution) for matrices up to :data:`UNROLL_MAX` × :data:`UNROLL_MAX`, elementwise over the
batch axes, and LAPACK's ``potrf``/``trsm`` above: the closed-form Gaussian divergences, vmapped over
a sweep sharded across CPU devices, thus make no LAPACK call for the small d of such sweeps.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl

#: Largest matrix size factorised by unrolled formulas (no LAPACK call).
UNROLL_MAX = 8


def solve(a: jax.Array, b: jax.Array) -> jax.Array:
  """Solves a x = b for one square system by Gaussian elimination with partial pivoting.

  Args:
    a: the matrix, shape ``[n, n]``.
    b: the right-hand side, shape ``[n]``.

  Returns:
    x, shape ``[n]``. A singular ``a`` gives non-finite entries (as LAPACK does), never an error.
  """
  n = a.shape[-1]
  rows = jnp.arange(n)
  m = jnp.concatenate([a, b[:, None]], axis=1).astype(jnp.result_type(a, b))

  def eliminate(k, m):
    candidates = jnp.where(rows >= k, jnp.abs(m[:, k]), -1.0)
    p = jnp.argmax(candidates)
    row_k, row_p = m[k], m[p]
    m = jnp.where((rows == k)[:, None], row_p, jnp.where((rows == p)[:, None], row_k, m))
    factors = jnp.where(rows > k, m[:, k] / m[k, k], 0.0)
    return m - factors[:, None] * m[k][None, :]

  m = jax.lax.fori_loop(0, n, eliminate, m)

  def substitute(i, x):
    k = n - 1 - i
    return jnp.where(rows == k, (m[k, n] - m[k, :n] @ x) / m[k, k], x)

  return jax.lax.fori_loop(0, n, substitute, jnp.zeros(n, m.dtype))


def cholesky(a: jax.Array) -> jax.Array:
  """Lower Cholesky factor L (L Lᵀ = a) of symmetric positive-definite matrices ``[..., d, d]``.

  Reads the lower triangle of ``a``. For d ≤ :data:`UNROLL_MAX`, the unrolled Cholesky–Banachiewicz
  recursion; above, ``jnp.linalg.cholesky``. Like LAPACK's, the factor of a matrix that is not
  positive definite is all NaN (never an error).
  """
  d = a.shape[-1]
  if d > UNROLL_MAX:
    return jnp.linalg.cholesky(a, symmetrize_input=False)
  zero = jnp.zeros_like(a[..., 0, 0])
  rows = [[zero] * d for _ in range(d)]
  for i in range(d):
    for j in range(i + 1):
      s = a[..., i, j] - sum((rows[i][k] * rows[j][k] for k in range(j)), zero)
      rows[i][j] = jnp.sqrt(s) if i == j else s / rows[j][j]
  factor = jnp.stack([jnp.stack(row, axis=-1) for row in rows], axis=-2)
  failed = jnp.any(jnp.isnan(jnp.diagonal(factor, axis1=-2, axis2=-1)), axis=-1)
  return jnp.where(failed[..., None, None], jnp.nan, factor)


def solve_lower_triangular(l: jax.Array, b: jax.Array) -> jax.Array:
  """X with L X = B for lower-triangular ``l`` ``[..., d, d]`` and ``b`` ``[..., d, k]`` (batch axes
  broadcast). For d ≤ :data:`UNROLL_MAX`, unrolled forward substitution; above,
  ``jax.scipy.linalg.solve_triangular``."""
  d = l.shape[-1]
  if d > UNROLL_MAX:
    batch = jnp.broadcast_shapes(l.shape[:-2], b.shape[:-2])
    return jsl.solve_triangular(jnp.broadcast_to(l, batch + l.shape[-2:]),
                                jnp.broadcast_to(b, batch + b.shape[-2:]), lower=True)
  x = []
  for i in range(d):
    s = b[..., i, :] - sum((l[..., i, j, None] * x[j] for j in range(i)), jnp.zeros_like(b[..., i, :]))
    x.append(s / l[..., i, i, None])
  return jnp.stack(x, axis=-2)
