r"""Exact k-nearest-neighbour search for the kNN estimators: a KD-tree on the host, or blocked brute force.

Both searches answer one question for every query point :math:`q_i` against a reference set
:math:`\{r_j\}` (or against the query set itself, :math:`q_i` then left out *by index*):

* ``index[i]``: the index j of a k-th nearest reference point among those at *strictly positive*
  distance from :math:`q_i`, counted with multiplicity (two copies of one point are two neighbours);
  -1 when fewer than k reference points differ from :math:`q_i`;
* ``duplicates[i]``: :math:`\#\{j\,(\ne i) : r_j = q_i\}`, by exact equality of all coordinates.

The norm is the Euclidean norm or the max-norm. Only *which* point is the neighbour comes from here;
the estimators recompute its distance from exact coordinate differences (:func:`log_distance`,
:func:`max_distance`), so both searches give the same estimate up to the order of near-ties (two
candidate distances within one rounding of each other), and bit for bit where the order is
unambiguous.

* ``"tree"`` — :class:`scipy.spatial.cKDTree` on the host through :func:`jax.pure_callback` (works
  under ``jit``; under ``vmap`` it runs once per batch element). Coordinates go to float64 (exact
  for float32 inputs); for the Euclidean norm they are first multiplied by a power of two that brings
  the largest \|coordinate\| into [½, 1), exactly, so squared distances cannot overflow. Exact
  duplicates are grouped with :func:`numpy.unique` and the tree is built on one copy of each point,
  weighted by its multiplicity. Data without duplicates (checked from the tree's own answer) skip
  the grouping. The leaf size grows with d (:func:`leafsize`), and from 1024 query points on the
  queries are split over a persistent pool of threads, one part per core, each in the caller's
  floating-point mode (:func:`_submit`). KSG's marginal counts within a radius use scikit-learn's
  ``KDTree`` (max-norm), about twice as fast as ``cKDTree.query_ball_point`` for them.
* ``"brute"`` — all pairs in tiles of ``chunk_size`` queries × ``block_size`` reference points
  (:func:`jax.lax.map` over query chunks, :func:`jax.lax.scan` over reference blocks with a running
  k-smallest merge), so memory is O(chunk_size · block_size) whatever n and m. Euclidean keys are
  squared distances of the same power-of-two-scaled coordinates; two cases where squares of tiny
  differences could be ordered inexactly — a non-zero coordinate below 2⁻⁵⁰ (float32; 2⁻⁴⁰⁰ in
  float64) of the largest, or a selected squared distance below 2⁻¹⁰⁰ (2⁻⁹⁰⁰) — repeat the search
  with log-domain keys (:math:`\log s + \tfrac12\log\sum_c (v_c/s)^2`, :math:`s = \max_c|v_c|`), which
  are exact at every scale. Under ``vmap`` that repeat is a ``select``, so both run.

The ``"tree"`` path's float64 search orders Euclidean distances exactly unless the data span more
than ~10¹⁵⁰ in float64 (squares of relative differences below 10⁻¹⁵⁴ underflow); float32 data never
do. XLA:CPU flushes subnormal numbers to zero, and the host callback runs on an XLA thread with the
same floating-point mode, so on both paths coordinates below the smallest normal number (1.2e-38 in
float32) count as 0.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import functools
import math
import os
import threading
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.spatial

from divjax import _validate

Array = jax.Array

DEFAULT_CHUNK_SIZE = 128
DEFAULT_BLOCK_SIZE = 8192
METHODS = ("auto", "tree", "brute")
NORMS = ("euclidean", "max")

# cKDTree queries use every core from this many query points on. Measured on 2 cores (k = 4): at
# 1024 points splitting saved 15–30 % (d = 2 and 5), at 512 it won or lost ~0.1 ms depending on d,
# at 256 it lost.
_PARALLEL_QUERIES = 1024
# Up to this dimension the brute-force keys are written coordinate by coordinate over a
# [chunk, block] tile (vectorised across the block); above it, as a reduction over the last axis.
_UNROLL_MAX_DIM = 32
# See the module docstring: below these the squared-distance keys may lose the exact order.
_TINY_COORD = {np.dtype(np.float32): 2.0**-50, np.dtype(np.float64): 2.0**-400}
_TINY_KEY = {np.dtype(np.float32): 2.0**-100, np.dtype(np.float64): 2.0**-900}


class Neighbours(NamedTuple):
  """The k-th positive-distance neighbour of each query and its exact-duplicate count."""
  index: Array       # [nq] int32, -1 where fewer than k reference points differ from the query
  duplicates: Array  # [nq] int32


#: ``method="auto"``: per estimator, (a, b, cap) in d* = min(cap, max(0, ⌊a + b·log₂(n/1000)⌋)).
AUTO_RULES = {"kl": (3.0, 2.0, 10), "entropy": (5.0, 2.5, 12), "ksg": (2.0, 2.0, 10)}


def tree_max_dim(num_points: int, estimator: str = "kl") -> int:
  r"""The largest d at which ``method="auto"`` takes the KD-tree on a CPU backend, for n points.

  :math:`d^* = \min(c, \max(0, \lfloor a + b\log_2(n/1000)\rfloor))` with (a, b, c) from
  :data:`AUTO_RULES`:

  * ``"kl"`` (:func:`knn_kl_divergence`, two searches): 3 at n = 1000, 7 at n = 4000, 10 from
    n = 16000 on;
  * ``"entropy"`` (:func:`knn_entropy`, one search): 5, 10, 12;
  * ``"ksg"`` (:func:`ksg_mutual_information`, a max-norm search and two radius counts; d is the
    joint dimension): 2, 6, 10.

  Measured (``benchmarks/bench_divergences.py``, case 4g: each estimator at its default k, float32,
  2 CPU cores, n = 1000, 4000 and 16000): brute force costs O(n²d) (O(n(n+m)d) for KL) and the
  tree's cost grows quickly with d, so the crossing moves up with n. The caps hold the rule near
  what n = 16000 showed (tree / brute time: KL 0.83–1.09 at d = 10 across runs, entropy 0.93 at
  d = 12, KSG 0.72 at d = 10); no larger n was measured. Below a few hundred points d* = 0: brute
  force at every d (the callback's fixed cost dominates). Both methods give the same estimate; only
  the time differs.
  """
  if estimator not in AUTO_RULES:
    raise ValueError(f"estimator must be one of {tuple(AUTO_RULES)}, got {estimator!r}.")
  a, b, cap = AUTO_RULES[estimator]
  n = max(int(num_points), 1)
  return min(cap, max(0, int(math.floor(a + b * math.log2(n / 1000.0)))))


def resolve_method(method: str, d: int, num_points: int, estimator: str = "kl") -> str:
  """``"tree"`` or ``"brute"`` for ``method`` at dimension ``d`` with ``num_points`` points.

  ``"auto"`` takes the KD-tree on a CPU backend when ``d <= tree_max_dim(num_points, estimator)``
  and brute force otherwise (and on every accelerator backend).
  """
  if not isinstance(method, str) or method not in METHODS:
    raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
  if method != "auto":
    return method
  on_cpu = jax.default_backend() == "cpu"
  return "tree" if on_cpu and d <= tree_max_dim(num_points, estimator) else "brute"


# ---------------------------------------------------------------------------------------------------
# Distances from exact coordinate differences (shared by both searches).


def _inverse_power_of_two(s: Array) -> tuple[Array, Array, Array]:
  """(e, f1, f2) with s = m·2^e, m in [½, 1), and f1·f2 = 2^−e, each factor a normal number.

  For normal s > 0 (the callers pass 1 where s would be 0; XLA:CPU has flushed subnormals to 0).
  Multiplying by 2^−e in two exact steps keeps every intermediate normal: XLA:CPU flushes subnormal
  numbers to zero, so 1/s (subnormal for s > 2^126 in float32) or 2^−e in one step would be 0.
  The exponent and the factors are read and written as bits (half the time of ``jnp.frexp`` and
  ``jnp.ldexp``, which also handle zeros, subnormals and non-finite values); they are piecewise
  constant in s, so no gradient flows through them.
  """
  s = jax.lax.stop_gradient(s)
  if s.dtype == jnp.float64:
    int_type, mantissa_bits, bias = jnp.int64, 52, 1023
  elif s.dtype == jnp.float32:
    int_type, mantissa_bits, bias = jnp.int32, 23, 127
  else:  # the estimators compute in float32 or float64
    raise TypeError(f"expected float32 or float64, got {s.dtype}.")
  e = (jax.lax.bitcast_convert_type(s, int_type) >> mantissa_bits) - (bias - 1)
  half = e // 2

  def power_of_two(k):  # 2^k for a normal exponent k
    return jax.lax.bitcast_convert_type((k + bias) << mantissa_bits, s.dtype)

  return e, power_of_two(-half), power_of_two(half - e)


def _log_norm(v: Array, s: Array) -> Array:
  """log ‖v‖₂ over the last axis, given s = max |v| > 0 (log-domain, exact at every scale)."""
  e, f1, f2 = _inverse_power_of_two(s)
  inner = jnp.sum((v * f1[..., None] * f2[..., None])**2, axis=-1)  # in [¼, d)
  return e.astype(v.dtype) * math.log(2.0) + 0.5 * jnp.log(inner)


def log_distance(a: Array, b: Array) -> Array:
  r"""log ‖a − b‖₂ row by row (``[..., d]`` → ``[...]``), exact at every scale; −inf for equal rows.

  :math:`\log\|v\| = e\log 2 + \tfrac12\log\sum_c (2^{-e}v_c)^2` with :math:`2^{e-1} \le
  \max_c|v_c| < 2^e`: the scaling is exact and the sum lies in [¼, d), so nothing under- or
  overflows. Differentiable wherever the rows differ (the gradient is :math:`v/\|v\|^2`).
  """
  v = a - b
  s = jnp.max(jnp.abs(v), axis=-1)
  equal = s == 0
  out = _log_norm(jnp.where(equal[..., None], 1.0, v), jnp.where(equal, 1.0, s))
  return jnp.where(equal, -jnp.inf, out)


def max_distance(a: Array, b: Array) -> Array:
  """max_c |a_c − b_c| row by row (``[..., d]`` → ``[...]``), in the inputs' dtype."""
  return jnp.max(jnp.abs(a - b), axis=-1)


# ---------------------------------------------------------------------------------------------------
# Brute force: tiles of pair keys, running k smallest.


def _pair_keys(qc: Array, rb: Array, norm: str, exact: bool) -> tuple[Array, Array]:
  """Keys and the duplicate mask for a tile: rows of ``qc`` [c, d] against ``rb`` [d, b] (or [b, d]).

  Keys order the pairs by distance: squared distances (``exact=False``), log distances (``exact``),
  or max-norm distances. ``rb`` is transposed ([d, b]) when d <= _UNROLL_MAX_DIM.
  """
  d = qc.shape[1]
  if d <= _UNROLL_MAX_DIM:
    diffs = [qc[:, c, None] - rb[None, c, :] for c in range(d)]
    if norm == "max":
      key = functools.reduce(jnp.maximum, [jnp.abs(t) for t in diffs])
      return key, key == 0
    if not exact:
      key = functools.reduce(jnp.add, [t * t for t in diffs])
      return key, key == 0
    s = functools.reduce(jnp.maximum, [jnp.abs(t) for t in diffs])
    dup = s == 0
    e, f1, f2 = _inverse_power_of_two(jnp.where(dup, 1.0, s))
    inner = functools.reduce(jnp.add, [(t * f1 * f2)**2 for t in diffs])
    key = e.astype(qc.dtype) * math.log(2.0) + 0.5 * jnp.log(jnp.where(dup, 1.0, inner))
    return key, dup
  v = qc[:, None, :] - rb[None, :, :]
  if norm == "max":
    key = jnp.max(jnp.abs(v), axis=-1)
    return key, key == 0
  if not exact:
    key = jnp.sum(v * v, axis=-1)
    return key, key == 0
  key = log_distance(qc[:, None, :], rb[None, :, :])
  return key, key == -jnp.inf


def _first_min(vals: Array, cols: Array) -> tuple[Array, Array]:
  """Row minima of ``vals`` [c, w] and, for each, the smallest column label attaining it."""
  m = jnp.min(vals, axis=-1)
  big = jnp.iinfo(cols.dtype).max
  j = jnp.min(jnp.where(vals == m[:, None], cols, big), axis=-1)
  return m, j


def _k_smallest(vals: Array, cols: Array, k: int) -> tuple[Array, Array]:
  """The k smallest entries of each row of ``vals`` [c, w] (ascending) and their column labels.

  ``cols`` [c, w] or [w] labels the columns (unique within a row). Ties count with multiplicity.
  """
  cols = jnp.broadcast_to(cols, vals.shape)
  if k == 1:
    m, j = _first_min(vals, cols)
    return m[:, None], j[:, None]
  if vals.dtype == jnp.float32 and vals.shape[1] > 4 * k:
    # XLA:CPU has a TopK kernel for float32 (values and positions); float64 would become a sort.
    neg, pos = jax.lax.top_k(-vals, k)
    return -neg, jnp.take_along_axis(cols, pos, axis=1)
  out_v, out_j = [], []
  for _ in range(k):
    m, j = _first_min(vals, cols)
    out_v.append(m)
    out_j.append(j)
    vals = jnp.where(cols == j[:, None], jnp.inf, vals)
  return jnp.stack(out_v, axis=1), jnp.stack(out_j, axis=1)


def _tiles(q: Array, r: Array, chunk: int, block: int, transpose: bool):
  """Pads and reshapes queries into [num_chunks, chunk, d] and references into blocks."""
  nq, d = q.shape
  nr = r.shape[0]
  chunk = max(1, min(chunk, nq))
  block = max(1, min(block, nr))
  num_chunks, num_blocks = -(-nq // chunk), -(-nr // block)
  qc = jnp.pad(q, ((0, num_chunks * chunk - nq), (0, 0))).reshape(num_chunks, chunk, d)
  rb = jnp.pad(r, ((0, num_blocks * block - nr), (0, 0))).reshape(num_blocks, block, d)
  if transpose:
    rb = jnp.swapaxes(rb, 1, 2)
  q_start = jnp.arange(num_chunks, dtype=jnp.int32) * chunk
  r_start = jnp.arange(num_blocks, dtype=jnp.int32) * block
  return qc, q_start, rb, r_start, chunk, block


def _search_tiles(q: Array, r: Array, *, k: int, norm: str, exact: bool, same: bool, chunk: int,
                  block: int) -> tuple[Array, Array, Array]:
  """(k-th smallest key, its reference index, duplicate count) per query; the key is inf if missing."""
  nq, d = q.shape
  nr = r.shape[0]
  qc, q_start, rb, r_start, chunk, block = _tiles(q, r, chunk, block, d <= _UNROLL_MAX_DIM)
  single_block = rb.shape[0] == 1

  def one_chunk(args):
    qx, q0 = args
    rows = q0 + jnp.arange(chunk, dtype=jnp.int32)

    def one_block(carry, blk):
      vals, idx, dups = carry
      rx, r0 = blk
      cols = r0 + jnp.arange(block, dtype=jnp.int32)
      key, dup = _pair_keys(qx, rx, norm, exact)
      valid = cols[None, :] < nr
      if same:
        valid = valid & (rows[:, None] != cols[None, :])
      dups = dups + jnp.sum(dup & valid, axis=-1, dtype=jnp.int32)
      key = jnp.where(valid & ~dup, key, jnp.inf)
      bv, bj = _k_smallest(key, cols, k)
      if not single_block:
        bv, bj = _k_smallest(jnp.concatenate([vals, bv], 1), jnp.concatenate([idx, bj], 1), k)
      return (bv, bj, dups), None

    init = (jnp.full((chunk, k), jnp.inf, q.dtype), jnp.zeros((chunk, k), jnp.int32),
            jnp.zeros((chunk,), jnp.int32))
    if single_block:
      (vals, idx, dups), _ = one_block(init, (rb[0], r_start[0]))
    else:
      (vals, idx, dups), _ = jax.lax.scan(one_block, init, (rb, r_start))
    return vals[:, k - 1], idx[:, k - 1], dups

  if qc.shape[0] == 1:
    out = one_chunk((qc[0], q_start[0]))
  else:
    out = jax.lax.map(one_chunk, (qc, q_start))
  return tuple(a.reshape(-1)[:nq] for a in out)


def _power_of_two_scale(*arrays: Array) -> tuple[tuple[Array, ...], Array]:
  """The arrays times one power of two that puts the largest |entry| in [1/2, 1), and whether some
  non-zero entry is below ``_TINY_COORD`` times the largest (then the scaled squares may lose the
  order; the scaling itself may even leave subnormals, which XLA:CPU flushes to zero)."""
  top = functools.reduce(jnp.maximum, [jnp.max(jnp.abs(a)) for a in arrays])
  _, e = jnp.frexp(jnp.where(top > 0, top, 1.0))
  inverse_tiny = 1.0 / _TINY_COORD[np.dtype(arrays[0].dtype)]
  small = functools.reduce(jnp.logical_or, [jnp.any((a != 0) & (jnp.abs(a) * inverse_tiny < top))
                                            for a in arrays])
  return tuple(jnp.ldexp(a, -e) for a in arrays), small


def search_brute(q: Array, r: Array, *, k: int, norm: str, same: bool, chunk_size: int,
                 block_size: int) -> Neighbours:
  """Brute-force :class:`Neighbours` of the rows of ``q`` among the rows of ``r`` (traceable)."""
  q, r = jax.lax.stop_gradient(q), jax.lax.stop_gradient(r)
  tiles = functools.partial(_search_tiles, k=k, norm=norm, same=same, chunk=chunk_size,
                            block=block_size)
  if norm == "max":
    kth, idx, dups = tiles(q, r, exact=False)
  else:
    (qs, rs), small = _power_of_two_scale(q, r)
    kth, idx, dups = tiles(qs, rs, exact=False)
    inexact = small | jnp.any(kth < _TINY_KEY[np.dtype(q.dtype)])
    kth, idx, dups = jax.lax.cond(inexact, lambda: tiles(q, r, exact=True),
                                  lambda: (kth, idx, dups))
  return Neighbours(jnp.where(jnp.isinf(kth), -1, idx), dups)


def count_within_brute(a: Array, radius: Array, *, chunk_size: int, block_size: int) -> Array:
  r""":math:`\#\{j \ne i : \max_c |a_{ic} - a_{jc}| < \text{radius}_i\}` for every row i (traceable)."""
  a, radius = jax.lax.stop_gradient(a), jax.lax.stop_gradient(radius)
  n, d = a.shape
  qc, q_start, rb, r_start, chunk, block = _tiles(a, a, chunk_size, block_size, d <= _UNROLL_MAX_DIM)
  rad = jnp.pad(radius, (0, qc.shape[0] * chunk - n)).reshape(-1, chunk)

  def one_chunk(args):
    qx, q0, rq = args
    rows = q0 + jnp.arange(chunk, dtype=jnp.int32)

    def one_block(count, blk):
      rx, r0 = blk
      cols = r0 + jnp.arange(block, dtype=jnp.int32)
      key, _ = _pair_keys(qx, rx, "max", False)
      hit = (key < rq[:, None]) & (cols[None, :] < n) & (rows[:, None] != cols[None, :])
      return count + jnp.sum(hit, axis=-1, dtype=jnp.int32), None

    count, _ = jax.lax.scan(one_block, jnp.zeros((chunk,), jnp.int32), (rb, r_start))
    return count

  return jax.lax.map(one_chunk, (qc, q_start, rad)).reshape(-1)[:n]


# ---------------------------------------------------------------------------------------------------
# KD-tree on the host.


def _tree_coordinates(norm: str, *arrays: np.ndarray) -> list[np.ndarray]:
  """float64 copies for the tree (Euclidean: scaled by a power of two, largest |entry| in [½, 1)).

  The scaling (exact) is skipped where it cannot matter: largest |entry| within 2^±200, so that
  squared distances neither overflow nor lose the scale of the data.
  """
  out = [np.asarray(a, np.float64) for a in arrays]
  if norm == "euclidean":
    top = max((float(np.max(np.abs(a))) if a.size else 0.0) for a in out)
    if top > 0 and not 2.0**-200 < top < 2.0**200:
      e = np.frexp(top)[1]
      out = [np.ldexp(a, -e) for a in out]
  return out


def _num_threads() -> int:
  """The cores this process may run on."""
  try:
    return max(1, len(os.sched_getaffinity(0)))
  except AttributeError:  # not Linux
    return max(1, os.cpu_count() or 1)


_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> concurrent.futures.ThreadPoolExecutor:
  """A persistent pool of (cores − 1) threads; the calling thread is the last worker.

  scipy's ``query(..., workers=-1)`` starts new threads on every call; these start once. Tasks
  given to the pool never wait on the pool. Run work there through :func:`_submit`.
  """
  global _POOL
  with _POOL_LOCK:
    if _POOL is None:
      _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, _num_threads() - 1),
                                                    thread_name_prefix="divjax-knn")
    return _POOL


def _forget_pool_in_child() -> None:
  """After ``os.fork`` the child has the pool object but none of its threads: start afresh."""
  global _POOL, _POOL_LOCK
  _POOL, _POOL_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
  os.register_at_fork(after_in_child=_forget_pool_in_child)


def _libc_fenv() -> tuple[Callable[[Any], int], Callable[[Any], int]] | None:
  try:
    libc = ctypes.CDLL(None)
    return libc.fegetenv, libc.fesetenv
  except (OSError, AttributeError, TypeError):  # no C library with fenv (Windows)
    return None


_FENV = _libc_fenv()
_FENV_BYTES = 256  # > sizeof(fenv_t) on every platform (32 bytes on x86-64 glibc)


def _submit(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> concurrent.futures.Future:
  """``fn(*args, **kwargs)`` on the pool, in the calling thread's floating-point environment.

  A thread inherits the floating-point mode (flush-to-zero, denormals-are-zero, rounding) of the
  thread that started it, and the pool's threads start in whichever thread first used the pool: a
  JAX callback runs on an XLA thread, which flushes subnormals to zero. cKDTree's order among
  equally distant neighbours depends on that mode (measured: 348 of 4100 grid-data rows differed),
  so each task runs in the caller's environment, as the caller's own share of the work does, and
  the answer does not depend on the history of the process.
  """
  if _FENV is None:
    return _pool().submit(fn, *args, **kwargs)
  get, put = _FENV
  env = ctypes.create_string_buffer(_FENV_BYTES)
  get(env)

  def task():
    saved = ctypes.create_string_buffer(_FENV_BYTES)
    get(saved)
    put(env)
    try:
      return fn(*args, **kwargs)
    finally:
      put(saved)

  return _pool().submit(task)


def _concurrently(first: Callable[[int], Any], second: Callable[[int], Any]) -> tuple[Any, Any]:
  """``first(workers)`` and ``second(workers)``: on two threads (one core each) when there are
  several cores, else one after the other. cKDTree releases the GIL while it builds and queries,
  so two independent searches overlap."""
  if _num_threads() < 2:
    return first(1), second(1)
  later = _submit(second, 1)
  return first(1), later.result()


def leafsize(d: int) -> int:
  """The cKDTree leaf size for dimension d: 16 up to d = 3, 32 up to d = 7, 64 above.

  Measured (build + a k = 4 self-query, one thread, n = 1000, 4000 and 16000 Gaussian points): the
  best of {8, 16, 32, 64, 128} moves up with d, and scipy's default (16) is 1.1–1.4× slower than
  64 at d = 10.
  """
  return 16 if d <= 3 else 32 if d <= 7 else 64


def _query(tree: scipy.spatial.cKDTree, points: np.ndarray, k: int, p: float,
           workers: int | None = None):
  """The k nearest neighbours' distances and indices, [nq, k] each.

  ``workers=None``: from ``_PARALLEL_QUERIES`` query points on, split into contiguous parts, one
  per core, the calling thread taking the first.
  """
  ks = list(range(1, k + 1))
  parts = _num_threads() if workers is None and len(points) >= _PARALLEL_QUERIES else 1
  if parts == 1:
    dist, nb = tree.query(points, k=ks, p=p, workers=1)
  else:
    bounds = np.linspace(0, len(points), parts + 1).astype(int)
    jobs = [_submit(tree.query, points[a:b], ks, p=p, workers=1)
            for a, b in zip(bounds[1:-1], bounds[2:])]
    first = tree.query(points[:bounds[1]], k=ks, p=p, workers=1)
    results = [first] + [job.result() for job in jobs]
    dist = np.concatenate([r[0] for r in results])
    nb = np.concatenate([r[1] for r in results])
  return dist.reshape(len(points), k), nb.reshape(len(points), k)


def _tree_kth(q: np.ndarray, r: np.ndarray, k: int, norm: str, same: bool,
              workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Host :class:`Neighbours` (``index``, ``duplicates``) by cKDTree; ``q is r`` when ``same``."""
  p = 2.0 if norm == "euclidean" else np.inf
  q64, r64 = _tree_coordinates(norm, q, r)
  nq, nr = q.shape[0], r.shape[0]
  kq = k + 1 if same else k
  if kq <= nr:
    dist, nb = _query(scipy.spatial.cKDTree(r64, leafsize=leafsize(r64.shape[1])), q64, kq, p, workers)
    # Without any zero distance beyond a point's own, there are no duplicates and the k-th
    # neighbour is column k (same: column 0 is the point itself) or k - 1.
    if np.all(dist[:, 1 if same else 0] > 0):
      return nb[:, kq - 1].astype(np.int32), np.zeros(nq, np.int32)
  return _tree_kth_grouped(q, r, q64, r64, k, p, same, workers)


def _tree_kth_grouped(q, r, q64, r64, k, p, same, workers):
  """The general case: exact duplicates grouped, the tree built on one copy of each point."""
  nq, nr = q.shape[0], r.shape[0]
  rows = np.asarray(r, np.float64) if same else np.concatenate([np.asarray(r, np.float64),
                                                                np.asarray(q, np.float64)])
  _, group = np.unique(rows + 0.0, axis=0, return_inverse=True)  # + 0.0: −0.0 equals 0.0
  group = group.reshape(-1)
  group_r, group_q = group[:nr], (group[:nr] if same else group[nr:])
  num_groups = int(group.max()) + 1
  count_r = np.bincount(group_r, minlength=num_groups)
  present, rep = np.unique(group_r, return_index=True)  # groups with a point in r, first row of each
  weight = count_r[present]
  # One query per distinct query point.
  query_groups, first_q, query_of = np.unique(group_q, return_index=True, return_inverse=True)
  kq = min(k + 1, len(rep))
  _, nb = _query(scipy.spatial.cKDTree(r64[rep], leafsize=leafsize(r64.shape[1])), q64[first_q], kq, p, workers)
  found = nb < len(rep)
  nb = np.where(found, nb, 0)
  # Neighbours in the query's own group are its duplicates, not neighbours.
  usable = found & (present[nb] != query_groups[:, None])
  cum = np.cumsum(np.where(usable, weight[nb], 0), axis=1)
  reached = cum[:, -1] >= k
  pos = np.argmax(cum >= k, axis=1)
  index = np.where(reached, rep[nb[np.arange(len(nb)), pos]], -1)
  duplicates = count_r[query_groups] - (1 if same else 0)
  query_of = query_of.reshape(-1)
  return index[query_of].astype(np.int32), duplicates[query_of].astype(np.int32)


def _strictly_below(eps: np.ndarray, dtype: Any) -> np.ndarray:
  """The largest float64 t with round_dtype(t) < eps, elementwise (eps > 0 in ``dtype``).

  A max-norm distance D between float32 points is exact in float64, and the brute-force path
  compares its float32 rounding with eps; ``D <= t`` is the same test.
  """
  if np.dtype(dtype) == np.float64:
    return np.nextafter(eps.astype(np.float64), 0.0)
  eps = eps.astype(np.float32)
  prev = np.nextafter(eps, np.float32(0))
  mid = (prev.astype(np.float64) + eps.astype(np.float64)) / 2  # exact in float64
  even = (prev.view(np.uint32) & 1) == 0  # a tie at mid rounds to the even neighbour
  return np.where(even, mid, np.nextafter(mid, 0.0))


def _for_tree(a: Array) -> Array:
  """No gradient, and non-finite entries (NaN-poisoned inputs under jit) as 0: cKDTree rejects them.

  The estimators return NaN for such inputs themselves.
  """
  a = jax.lax.stop_gradient(a)
  return jnp.where(jnp.isfinite(a), a, 0)


def search_tree(q: Array, r: Array | None, *, k: int, norm: str) -> Neighbours:
  """KD-tree :class:`Neighbours` of ``q`` among ``r`` (``None``: among the other rows of ``q``)."""
  same = r is None
  q = _for_tree(q)
  args = (q,) if same else (q, _for_tree(r))
  shape = jax.ShapeDtypeStruct((q.shape[0],), jnp.int32)

  def host(*arrays):
    a = np.asarray(arrays[0])
    return _tree_kth(a, np.asarray(arrays[-1]), k, norm, same)

  index, dups = jax.pure_callback(host, (shape, shape), *args, vmap_method="sequential")
  return Neighbours(index, dups)


def search_tree_kl(x: Array, y: Array, *, k: int) -> tuple[Neighbours, Neighbours]:
  """Euclidean :class:`Neighbours` of x among the other points of x and among y, in one callback."""
  x, y = _for_tree(x), _for_tree(y)
  shape = jax.ShapeDtypeStruct((x.shape[0],), jnp.int32)

  def host(a, b):
    a, b = np.asarray(a), np.asarray(b)
    rho, nu = _concurrently(lambda w: _tree_kth(a, a, k, "euclidean", True, w),
                            lambda w: _tree_kth(a, b, k, "euclidean", False, w))
    return (*rho, *nu)

  rho_i, rho_d, nu_i, nu_d = jax.pure_callback(host, (shape,) * 4, x, y, vmap_method="sequential")
  return Neighbours(rho_i, rho_d), Neighbours(nu_i, nu_d)


def _host_ksg(x: np.ndarray, y: np.ndarray, *, k: int):
  """Host KSG counts: joint duplicates, n_x and n_y (strictly inside ε_i), −1 counts if undefined."""
  x, y = np.asarray(x), np.asarray(y)
  z = np.concatenate([x, y], axis=1)
  index, dups = _tree_kth(z, z, k, "max", True)
  missing = index < 0
  # ε_i in the inputs' dtype, exactly as the brute-force path computes it.
  eps = np.max(np.abs(z - z[np.where(missing, 0, index)]), axis=1)
  radius = np.where(missing, 0.0, _strictly_below(np.where(missing, 1, eps), z.dtype))

  def count(a, workers):
    # scikit-learn's KDTree counts within a radius about twice as fast as cKDTree's
    # query_ball_point (n = 4000, d ≤ 3); both count the points with max-norm distance <= radius.
    from sklearn.neighbors import KDTree  # pylint: disable=import-outside-toplevel
    del workers  # one thread per count
    a64 = np.asarray(a, np.float64)
    c = KDTree(a64, metric="chebyshev").query_radius(a64, radius, count_only=True)
    return np.where(missing, -1, np.asarray(c) - 1).astype(np.int32)  # − the point itself

  n_x, n_y = _concurrently(lambda w: count(x, w), lambda w: count(y, w))
  return dups.astype(np.int32), n_x, n_y


def ksg_counts_tree(x: Array, y: Array, *, k: int) -> tuple[Array, Array, Array]:
  """(joint duplicates, n_x, n_y) by KD-trees; n_x = n_y = −1 where ε_i is undefined."""
  x, y = _for_tree(x), _for_tree(y)
  shape = jax.ShapeDtypeStruct((x.shape[0],), jnp.int32)
  return jax.pure_callback(functools.partial(_host_ksg, k=k), (shape,) * 3, x, y,
                           vmap_method="sequential")


def ksg_counts_brute(x: Array, y: Array, *, k: int, chunk_size: int,
                     block_size: int) -> tuple[Array, Array, Array]:
  """(joint duplicates, n_x, n_y) by brute force; n_x = n_y = −1 where ε_i is undefined."""
  z = jnp.concatenate([x, y], axis=1)
  nb = search_brute(z, z, k=k, norm="max", same=True, chunk_size=chunk_size, block_size=block_size)
  missing = nb.index < 0
  eps = max_distance(z, z[jnp.where(missing, 0, nb.index)])
  eps = jnp.where(missing, 0.0, eps)
  counts = [jnp.where(missing, -1, count_within_brute(a, eps, chunk_size=chunk_size,
                                                      block_size=block_size)) for a in (x, y)]
  return nb.duplicates, counts[0], counts[1]


def unit_ball_log_volume(d: int) -> float:
  r""":math:`\log V_d`, :math:`V_d = \pi^{d/2}/\Gamma(d/2 + 1)` the volume of the Euclidean unit ball."""
  return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)
