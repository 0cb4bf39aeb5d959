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
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


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
