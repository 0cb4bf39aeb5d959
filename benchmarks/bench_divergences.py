r"""Side-by-side timings of divjax divergences against their scipy, scikit-learn, POT and NumPy peers.

    python -m benchmarks.bench_divergences                 # default sizes, writes benchmarks/RESULTS.md
    python -m benchmarks.bench_divergences --quick         # tiny sizes, a few seconds: a smoke run
    python -m benchmarks.bench_divergences --out FILE.md   # write the table elsewhere

Every case builds its inputs once from a fixed seed and runs divjax and each peer on the same arrays in
one process. For divjax the compile time (``jax.jit(f).lower(*args).compile()``, timed on its own) is
reported apart from the steady-state time of the compiled function (median of at least 5 calls after a
warm-up call, each ended by ``block_until_ready``); the un-jitted public call, which also runs the
argument checks on concrete inputs, is reported as a separate row. For each peer the median time is
reported, the ratio ``peer / divjax`` (> 1: divjax is faster) and ``max |peer - divjax|``. The
implementations of one case and dtype are timed in interleaved rounds, so load changes hit them
alike, except in the kNN cases, where interleaved implementations slowed each other down and each
is timed in rounds of its own (``_KNN_TIMING``). Thread settings (``OPENBLAS_NUM_THREADS`` and
friends) are left as they are and recorded in the header.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import importlib
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import ot
import scipy
import scipy.linalg
import scipy.spatial
import scipy.special
import scipy.stats
import sklearn
import sklearn.neighbors
from sklearn.neighbors import NearestNeighbors

import divjax
from benchmarks._results import write_section
from divjax.divergences import (_knn, gaussian_squared_wasserstein2, js_divergence, kl_divergence,
                                knn_entropy, knn_kl_divergence, ksg_mutual_information)

SEED = 0
# Ratios within 1 ± PARITY are called ties in the headline: on a small shared machine, run-to-run
# noise is of that order.
PARITY = 0.1
DTYPES = (np.float32, np.float64)


@dataclasses.dataclass(frozen=True)
class Sizes:
  """Problem sizes and timing policy."""
  name: str
  batch: int          # B, distributions per batch (cases 1-3)
  categories: int     # K, categories per distribution (cases 1-3)
  knn_points: int     # n = m (cases 4a-4f)
  knn_dim: int        # d (cases 4a-4f; for KSG the joint dimension d_x + d_y)
  knn_dim_high: int   # the second d of cases 4a-4f
  sweep: tuple        # ((n, (d, ...)), ...): the tree / brute-force sweep (case 4g)
  gauss_pairs: int    # pairs of Gaussians (case 5)
  gauss_dim: int      # d (case 5)
  repeats: int        # minimum number of timed calls after the warm-up
  min_total_s: float  # keep repeating fast calls until this much time is spent ...
  max_repeats: int    # ... or this many calls are made


DEFAULT = Sizes("default", batch=4096, categories=1000, knn_points=4000, knn_dim=5, knn_dim_high=10,
                sweep=((1000, (2, 4, 6, 8)), (4000, (4, 6, 8, 10, 12, 14)), (16000, (8, 10, 12))),
                gauss_pairs=512,
                gauss_dim=16, repeats=5, min_total_s=0.3, max_repeats=25)
QUICK = Sizes("quick", batch=64, categories=50, knn_points=200, knn_dim=5, knn_dim_high=10,
              sweep=((200, (2, 8)),), gauss_pairs=16,
              gauss_dim=4, repeats=5, min_total_s=0.0, max_repeats=5)


@dataclasses.dataclass
class Row:
  """One implementation on one case and dtype."""
  case: str
  impl: str
  dtype: str
  run_s: float
  compile_s: float | None = None
  ratio: float | None = None        # this row's time / divjax jit time (same case and dtype)
  max_diff: float | None = None     # max |this result - divjax jit result|
  estimate: float | None = None     # case 4 only
  is_reference: bool = False        # the divjax jit row
  is_divjax: bool = False
  short: str = ""                   # name in the headline


# ---------------------------------------------------------------------------------------------------
# Timing.


def _interleaved_medians(calls: Sequence[Callable[[], Any]], sizes: Sizes) -> list[float]:
  """Median wall time of each call, timed in rounds that run every call once.

  Interleaving makes the ratios robust to slow drifts in machine load (other processes): every
  implementation sees the same conditions. The order within a round is shuffled (fixed seed), so no
  implementation always runs first, after the previous round's last call (on the kNN cases a fixed
  order made the first row up to 1.5× slower than the same program timed later in the round).
  At least ``sizes.repeats`` rounds; more, up to ``sizes.max_repeats``, while the time spent is
  below ``sizes.min_total_s``.
  """
  times: list[list[float]] = [[] for _ in calls]
  order = np.random.default_rng(SEED)
  rounds = 0
  while rounds < sizes.repeats or (sum(map(sum, times)) < sizes.min_total_s
                                   and rounds < sizes.max_repeats):
    for i in order.permutation(len(calls)):
      start = time.perf_counter()
      calls[i]()
      times[i].append(time.perf_counter() - start)
    rounds += 1
  return [statistics.median(t) for t in times]


# Untimed calls for this long before timing each kNN implementation in rounds of its own (see
# _KNN_TIMING).
_SETTLE_S = 1.0


def _settled_median(call: Callable[[], Any], sizes: Sizes) -> float:
  """Median time of ``call`` in rounds of its own, after ``_SETTLE_S`` of untimed calls (at least
  one), which let the previous implementation's after-effects pass (see ``_KNN_TIMING``)."""
  settled = time.perf_counter() + _SETTLE_S * (sizes.name != "quick")
  call()
  while time.perf_counter() < settled:
    call()
  return _interleaved_medians([call], sizes)[0]


def _as_f64(x: Any) -> np.ndarray:
  return np.asarray(x, dtype=np.float64)


def _max_diff(a: Any, b: Any) -> float:
  return float(np.max(np.abs(_as_f64(a) - _as_f64(b))))


class Peer(NamedTuple):
  """A NumPy-side implementation: full name (table), short name (headline), function."""
  impl: str
  short: str
  fn: Callable[..., Any]


class Case:
  """Collects the rows of one case; the divjax jit row of each dtype is the reference."""

  def __init__(self, short: str, title: str, sizes: Sizes):
    self.short = short
    self.title = title
    self.sizes = sizes
    self.rows: list[Row] = []
    self.notes: list[str] = []

  def block(self, dtype: Any, fn: Callable[..., Any], args: Sequence[np.ndarray],
            peers: Sequence[Peer], *, eager: bool = True, estimate: bool = False,
            variants: Sequence[tuple[str, Callable[..., Any]]] = (),
            separately: bool = False) -> Any:
    """Times divjax and its peers on ``args`` cast to ``dtype``; returns divjax's executable.

    divjax: ``jax.jit(fn).lower(*args).compile()`` is timed on its own, then the compiled function
    (and, with ``eager``, ``fn`` un-jitted) on device arrays; ``variants`` are further divjax
    functions (name, fn), compiled and timed the same way. Peers run on NumPy arrays. Every
    implementation gets one warm-up call, then all are timed in interleaved rounds; with
    ``separately``, each in rounds of its own instead, one after the other, each after
    ``_SETTLE_S`` of untimed calls (the kNN cases, where the implementations disturb each other:
    see ``_KNN_TIMING``).
    """
    name = np.dtype(dtype).name
    host_args = tuple(np.asarray(a, dtype) for a in args)
    with jax.enable_x64(np.dtype(dtype) == np.float64):
      device_args = jax.block_until_ready(tuple(jax.device_put(a) for a in host_args))
      compiled_fns, compile_times = {}, {}
      for impl, f in (("divjax (jit)", fn), *variants):
        start = time.perf_counter()
        compiled_fns[impl] = jax.jit(f).lower(*device_args).compile()
        compile_times[impl] = time.perf_counter() - start
      compiled = compiled_fns["divjax (jit)"]

      calls = {impl: functools.partial(lambda c: jax.block_until_ready(c(*device_args)), c)
               for impl, c in compiled_fns.items()}
      if eager:
        calls["divjax (no jit)"] = lambda: jax.block_until_ready(fn(*device_args))
      for peer in peers:
        calls[peer.impl] = functools.partial(peer.fn, *host_args)
      outs = {impl: call() for impl, call in calls.items()}  # warm-up
      assert outs["divjax (jit)"].dtype == np.dtype(dtype), (outs["divjax (jit)"].dtype, dtype)
      if separately:
        medians = {}
        for impl, call in calls.items():
          medians[impl] = _settled_median(call, self.sizes)
      else:
        medians = dict(zip(calls, _interleaved_medians(list(calls.values()), self.sizes)))

    ref_s, ref_out = medians["divjax (jit)"], _as_f64(outs["divjax (jit)"])
    shorts = {peer.impl: peer.short for peer in peers}
    for impl, run_s in medians.items():
      is_divjax = impl.startswith("divjax")
      self._add(Row(self.title, impl, name, run_s, compile_s=compile_times.get(impl),
                    ratio=run_s / ref_s, max_diff=_max_diff(outs[impl], ref_out),
                    estimate=float(outs[impl]) if estimate else None,
                    is_reference=impl == "divjax (jit)", is_divjax=is_divjax,
                    short=shorts.get(impl, impl)))
    return compiled

  def _add(self, row: Row) -> None:
    self.rows.append(row)
    compile_s = "" if row.compile_s is None else f"  compile {row.compile_s:.3f}s"
    print(f"  {row.dtype:8s} {row.impl:55s} run {row.run_s:.4g}s{compile_s}  ratio {row.ratio:.3g}  "
          f"max|diff| {row.max_diff:.2g}", flush=True)


# ---------------------------------------------------------------------------------------------------
# Peers written here (the NumPy / scipy / scikit-learn / POT side).


def rel_entr_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
  return scipy.special.rel_entr(p, q).sum(-1)


def entropy_kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
  return scipy.stats.entropy(p, q, axis=-1)


def jensenshannon_js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
  return scipy.spatial.distance.jensenshannon(p, q, axis=-1)**2


def numpy_kl_from_logits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  log_p = scipy.special.log_softmax(a, axis=-1)
  log_q = scipy.special.log_softmax(b, axis=-1)
  return (scipy.special.softmax(a, axis=-1) * (log_p - log_q)).sum(-1)


def _wkv_formula(rho: np.ndarray, nu: np.ndarray, n: int, m: int, d: int) -> float:
  """Wang–Kulkarni–Verdú fixed-k=1 estimate d·mean(log(ν/ρ)) + log(m/(n−1))."""
  return float(d * np.mean(np.log(nu / rho)) + np.log(m / (n - 1)))


def ckdtree_knn_kl(x: np.ndarray, y: np.ndarray, *, workers: int = 1) -> float:
  """kNN KL (k = 1) with scipy KD-trees; trees are built inside the timed call."""
  (n, d), m = x.shape, y.shape[0]
  rho = scipy.spatial.cKDTree(x).query(x, k=2, workers=workers)[0][:, 1]  # column 0 is x_i itself
  nu = scipy.spatial.cKDTree(y).query(x, k=1, workers=workers)[0]
  return _wkv_formula(rho, nu, n, m, d)


def sklearn_knn_kl(x: np.ndarray, y: np.ndarray) -> float:
  """kNN KL (k = 1) with ``sklearn.neighbors.NearestNeighbors`` (algorithm='auto', n_jobs=None)."""
  (n, d), m = x.shape, y.shape[0]
  rho = NearestNeighbors(n_neighbors=2).fit(x).kneighbors(x)[0][:, 1]
  nu = NearestNeighbors(n_neighbors=1).fit(y).kneighbors(x)[0][:, 0]
  return _wkv_formula(rho, nu, n, m, d)


ENTROPY_K = 3
KSG_K = 3


def _log_unit_ball(d: int) -> float:
  return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


def ckdtree_knn_entropy(x: np.ndarray, *, workers: int = 1) -> float:
  """Kozachenko–Leonenko (Euclidean, k = 3) with a scipy KD-tree."""
  n, d = x.shape
  rho = scipy.spatial.cKDTree(x).query(x, k=ENTROPY_K + 1, workers=workers)[0][:, ENTROPY_K]
  return float(scipy.special.digamma(n) - scipy.special.digamma(ENTROPY_K) + _log_unit_ball(d)
               + d * np.mean(np.log(rho)))


def sklearn_knn_entropy(x: np.ndarray) -> float:
  """Kozachenko–Leonenko (Euclidean, k = 3) with ``sklearn.neighbors.NearestNeighbors``."""
  n, d = x.shape
  rho = NearestNeighbors(n_neighbors=ENTROPY_K + 1).fit(x).kneighbors(x)[0][:, ENTROPY_K]
  return float(scipy.special.digamma(n) - scipy.special.digamma(ENTROPY_K) + _log_unit_ball(d)
               + d * np.mean(np.log(rho)))


def ckdtree_ksg(x: np.ndarray, y: np.ndarray, *, workers: int = 1) -> float:
  """KSG estimator 1 (k = 3, max-norms, strict counts) with scipy KD-trees."""
  x, y = x.astype(np.float64), y.astype(np.float64)
  n = x.shape[0]
  z = np.concatenate([x, y], axis=1)
  eps = scipy.spatial.cKDTree(z).query(z, k=KSG_K + 1, p=np.inf, workers=workers)[0][:, KSG_K]
  below = np.nextafter(eps, 0)  # strict: distance < ε
  n_x = scipy.spatial.cKDTree(x).query_ball_point(x, below, p=np.inf, return_length=True,
                                                  workers=workers) - 1
  n_y = scipy.spatial.cKDTree(y).query_ball_point(y, below, p=np.inf, return_length=True,
                                                  workers=workers) - 1
  psi = scipy.special.digamma
  return float(psi(n) + psi(KSG_K) - np.mean(psi(n_x + 1) + psi(n_y + 1)))


def _optional(module: str) -> Any:
  try:
    return importlib.import_module(module)
  except ImportError:
    return None


# The packages themselves when installed (pip install npeet-plus universal-divergence; NPEET's
# original is not on PyPI, npeet_plus is a fork of its code); otherwise their algorithms written
# here with scipy trees, labelled as re-implementations.
NPEET = _optional("npeet_plus.estimators")
UNIVERSAL = _optional("universal_divergence")


def _version(dist: str) -> str:
  try:
    import importlib.metadata  # pylint: disable=import-outside-toplevel
    return importlib.metadata.version(dist)
  except Exception:  # noqa: BLE001
    return "?"


def _chebyshev_tree(points: np.ndarray):
  return sklearn.neighbors.KDTree(points, metric="chebyshev")


def npeet_style_kl(x: np.ndarray, y: np.ndarray) -> float:
  """NPEET's ``kldiv`` (k = 1, nats): max-norm kNN distances, trees built in the call."""
  if NPEET is not None:
    return float(NPEET.kldiv(x, y, k=1, base=np.e))
  (n, d), m = x.shape, y.shape[0]
  nn = scipy.spatial.cKDTree(x).query(x, k=2, p=np.inf)[0][:, 1]
  nnp = scipy.spatial.cKDTree(y).query(x, k=1, p=np.inf)[0]
  return float(np.log(m) - np.log(n - 1) + d * (np.mean(np.log(nnp)) - np.mean(np.log(nn))))


def npeet_style_entropy(x: np.ndarray) -> float:
  """NPEET's ``entropy`` (k = 3, nats): max-norm, 1e-10 noise added, ψ(n) − ψ(k) + d log 2 + …"""
  if NPEET is not None:
    return float(NPEET.entropy(x, k=ENTROPY_K, base=np.e))
  n, d = x.shape
  x = x + 1e-10 * np.random.random_sample(x.shape)
  nn = scipy.spatial.cKDTree(x).query(x, k=ENTROPY_K + 1, p=np.inf)[0][:, ENTROPY_K]
  return float(scipy.special.digamma(n) - scipy.special.digamma(ENTROPY_K) + d * np.log(2)
               + d * np.mean(np.log(nn)))


def npeet_style_mi(x: np.ndarray, y: np.ndarray) -> float:
  """NPEET's ``mi`` (KSG estimator 1, k = 3, nats): 1e-10 noise, radius ε − 1e-15 for strictness."""
  if NPEET is not None:
    return float(NPEET.mi(x, y, k=KSG_K, base=np.e))
  x = x + 1e-10 * np.random.random_sample(x.shape)
  y = y + 1e-10 * np.random.random_sample(y.shape)
  z = np.concatenate([x, y], axis=1)
  eps = scipy.spatial.cKDTree(z).query(z, k=KSG_K + 1, p=np.inf)[0][:, KSG_K] - 1e-15
  psi = scipy.special.digamma
  avg = [np.mean(psi(scipy.spatial.cKDTree(a).query_ball_point(a, eps, p=np.inf,
                                                               return_length=True)))
         for a in (x, y)]
  return float(-avg[0] - avg[1] + psi(KSG_K) + psi(len(x)))


def universal_style_kl(x: np.ndarray, y: np.ndarray) -> float:
  """universal-divergence's ``estimate(X, Y, k=1)``: one KD-tree query per point, in Python."""
  if UNIVERSAL is not None:
    return float(UNIVERSAL.estimate(x, y, k=1))
  (n, d), m = x.shape, y.shape[0]
  tx, ty = scipy.spatial.KDTree(x), scipy.spatial.KDTree(y)
  total = 0.0
  for a in x:
    rho = tx.query([a], 2)[0][0][-1]
    nu = ty.query([a], 1)[0][0]
    total += np.log(nu / rho)
  return float(d / n * total + np.log(m / (n - 1)))


def _peer_label(package: Any, name: str, dist: str, what: str) -> str:
  if package is not None:
    return f"{name} {_version(dist)} ({what})"
  return f"{name}-style (re-implemented with scipy trees; {what})"


def pot_loop_w2(mean_p, cov_p, mean_q, cov_q) -> np.ndarray:
  """Squared ``ot.gaussian.bures_wasserstein_distance(ms, mt, Cs, Ct)``, one pair per call."""
  return np.array([
      ot.gaussian.bures_wasserstein_distance(mean_p[i], mean_q[i], cov_p[i], cov_q[i])**2
      for i in range(len(mean_p))
  ])


def pot_batched_w2(mean_p, cov_p, mean_q, cov_q) -> np.ndarray:
  """POT's own batched form: ``bures_wasserstein_distance(..., paired=True)**2``."""
  return ot.gaussian.bures_wasserstein_distance(mean_p, mean_q, cov_p, cov_q, paired=True)**2


def sqrtm_loop_w2(mean_p, cov_p, mean_q, cov_q) -> np.ndarray:
  r"""‖μp − μq‖² + tr(Σp + Σq − 2 (Σp^½ Σq Σp^½)^½) with ``scipy.linalg.sqrtm``, one pair at a time."""
  out = np.empty(len(mean_p), dtype=np.result_type(mean_p, cov_p))
  for i in range(len(mean_p)):
    root_p = scipy.linalg.sqrtm(cov_p[i])
    cross = scipy.linalg.sqrtm(root_p @ cov_q[i] @ root_p)
    out[i] = (np.sum((mean_p[i] - mean_q[i])**2) + np.trace(cov_p[i]) + np.trace(cov_q[i])
              - 2.0 * np.trace(cross).real)
  return out


def gaussian_kl_numpy(mean_p, cov_p, mean_q, cov_q) -> float:
  """KL(N(μp, Σp) ‖ N(μq, Σq)) in float64, written out (for the kNN case's ground truth)."""
  d = len(mean_p)
  inv_q = np.linalg.inv(cov_q)
  diff = mean_q - mean_p
  logdet = np.linalg.slogdet(cov_q)[1] - np.linalg.slogdet(cov_p)[1]
  return 0.5 * (np.trace(inv_q @ cov_p) + diff @ inv_q @ diff - d + logdet)


# ---------------------------------------------------------------------------------------------------
# Cases.


def _categorical_inputs(sizes: Sizes) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Logits a, b and probabilities p = softmax(a), q = softmax(b), all strictly positive, float64."""
  rng = np.random.default_rng(SEED)
  a = 2.0 * rng.standard_normal((sizes.batch, sizes.categories))
  b = a + rng.standard_normal((sizes.batch, sizes.categories))
  return a, b, scipy.special.softmax(a, axis=-1), scipy.special.softmax(b, axis=-1)


def _float64_slowdowns(case: Case) -> tuple[float, list[float]] | None:
  """float64 / float32 run time of divjax (jit) and of each peer, where both dtypes ran."""
  times = {(r.impl, r.dtype): r.run_s for r in case.rows}
  impls = dict.fromkeys(r.impl for r in case.rows if r.is_reference or not r.is_divjax)
  slowdown = {i: times[(i, "float64")] / times[(i, "float32")] for i in impls
              if (i, "float32") in times and (i, "float64") in times}
  if "divjax (jit)" not in slowdown or len(slowdown) < 2:
    return None
  return slowdown.pop("divjax (jit)"), list(slowdown.values())


def _range(values: Sequence[float]) -> str:
  low, high = f"{min(values):.1f}", f"{max(values):.1f}"
  return f"{low}×" if low == high else f"{low}–{high}×"


def _precision_note(case: Case) -> None:
  """States how much dearer float64 is than float32, for divjax and for the peers."""
  slowdowns = _float64_slowdowns(case)
  if slowdowns is not None:
    case.notes.append(f"float64 / float32 run time: divjax (jit) {slowdowns[0]:.1f}×, peers "
                      f"{_range(slowdowns[1])}.")


def case_kl(sizes: Sizes) -> Case:
  case = Case("KL", f"1. KL, probabilities [B, K] = [{sizes.batch}, {sizes.categories}]", sizes)
  _, _, p, q = _categorical_inputs(sizes)
  peers = [Peer("scipy.special.rel_entr(p, q).sum(-1)", "rel_entr", rel_entr_kl),
           Peer("scipy.stats.entropy(p, q, axis=-1)", "entropy", entropy_kl)]
  for dtype in DTYPES:
    case.block(dtype, kl_divergence, (p, q), peers)
  case.notes.append("p = softmax(2·z₁), q = softmax(2·z₁ + z₂) with z standard normal, cast to the "
                    "dtype after normalising in float64 (so float32 rows sum to 1 only to ~1e-7; "
                    "divjax and `entropy` renormalise, `rel_entr` does not).")
  _precision_note(case)
  return case


def case_js(sizes: Sizes) -> Case:
  case = Case("JS", f"2. Jensen–Shannon, probabilities [B, K] = [{sizes.batch}, {sizes.categories}]",
              sizes)
  _, _, p, q = _categorical_inputs(sizes)
  peers = [Peer("scipy.spatial.distance.jensenshannon(p, q, axis=-1)**2", "jensenshannon²",
                jensenshannon_js)]
  for dtype in DTYPES:
    case.block(dtype, js_divergence, (p, q), peers)
  case.notes.append("Same inputs as case 1. scipy's `jensenshannon` returns √JS, hence the square.")
  _precision_note(case)
  return case


def case_kl_logits(sizes: Sizes) -> Case:
  case = Case("KL from logits", f"3. KL from logits [B, K] = [{sizes.batch}, {sizes.categories}]",
              sizes)
  a, b, _, _ = _categorical_inputs(sizes)
  peers = [Peer("NumPy: (softmax(a) * (log_softmax(a) - log_softmax(b))).sum(-1)",
                "NumPy/scipy.special reference", numpy_kl_from_logits)]
  for dtype in DTYPES:
    case.block(dtype, functools.partial(kl_divergence, logits=True), (a, b), peers)
  case.notes.append("Logits a = 2·z₁, b = a + z₂ (the ones behind case 1); softmax/log_softmax from "
                    "scipy.special.")
  _precision_note(case)
  return case


def _method_variants(fn: Callable[..., Any]) -> list[tuple[str, Callable[..., Any]]]:
  return [(f"divjax method='{m}' (jit)", functools.partial(fn, method=m)) for m in ("tree", "brute")]


_KNN_TIMING = (
    "Each implementation is timed in rounds of its own, one after another, after 1 s of untimed "
    "calls, not interleaved with the others as in the other cases: interleaved, they "
    "disturbed each other on 2 cores. A brute-force call leaves XLA:CPU's threads spinning, and a "
    "divjax tree-path call right after it took 12.3 ms instead of 7.4 ms (n = 4000, d = 5); after a "
    "scikit-learn call (the scikit-learn and NPEET peers; divjax's KSG counts use scikit-learn's "
    "KDTree too), `cKDTree.query(workers=-1)`, whose threads are started anew in every call, ran at "
    "its one-worker speed (10.8 ms instead of 7.2 ms) for a few hundred milliseconds, while "
    "divjax's persistent threads kept their speed. Right after compilation the brute-force "
    "program sometimes ran 3× slower for about a second (85–93 ms instead of 26–28 ms, n = 4000, "
    "d = 10, not reproducible at will); the untimed second lets that pass too.")


def _auto_note(d: int, n: int, estimator: str) -> str:
  return (f"**divjax (jit)** is `method=\"auto\"`, which here (backend {jax.default_backend()}, "
          f"n = {n}, d = {d}) runs `method=\"{_knn.resolve_method('auto', d, n, estimator)}\"` "
          f"(tree on CPU up to d = {_knn.tree_max_dim(n, estimator)} at this n for this "
          "estimator, see case 4g); the tree and brute-force rows are the same estimator forced to "
          "each search. Peers build their trees inside the timed call, as divjax's tree path does. "
          + _KNN_TIMING)


def case_knn_kl(sizes: Sizes, d: int, label: str) -> Case:
  n = sizes.knn_points
  case = Case(f"kNN KL (d = {d})", f"{label}. kNN KL estimator (k = 1), n = m = {n}, d = {d}", sizes)
  rng = np.random.default_rng(SEED)
  shift, scale = 0.5, 1.2
  x = rng.standard_normal((n, d))
  y = shift + scale * rng.standard_normal((n, d))
  truth = gaussian_kl_numpy(np.zeros(d), np.eye(d), np.full(d, shift), scale**2 * np.eye(d))
  estimator = functools.partial(knn_kl_divergence, k=1)
  peers = [Peer("scipy cKDTree (query workers=1)", "cKDTree", ckdtree_knn_kl),
           Peer("scipy cKDTree (query workers=-1, all cores)", "cKDTree (all cores)",
                functools.partial(ckdtree_knn_kl, workers=-1)),
           Peer("sklearn NearestNeighbors (auto → kd_tree)", "sklearn NearestNeighbors",
                sklearn_knn_kl),
           Peer(_peer_label(NPEET, "NPEET kldiv: npeet_plus", "npeet-plus",
                            "sklearn KDTree, max-norm"), "NPEET", npeet_style_kl),
           Peer(_peer_label(UNIVERSAL, "universal-divergence", "universal-divergence",
                            "scipy KDTree, a query per point"), "universal-divergence",
                universal_style_kl)]
  for dtype in DTYPES:
    # No un-jitted row: the public function already runs a jitted core (same time, see README).
    case.block(dtype, estimator, (x, y), peers, eager=False, estimate=True,
               variants=_method_variants(estimator), separately=True)
  case.notes.append(
      f"x ~ N(0, I), y ~ N({shift}·1, {scale}²·I); the true KL(P‖Q) is {truth:.4f} nats. The "
      "cKDTree, scikit-learn and universal-divergence peers compute WKV's fixed-k estimator, "
      "d·mean(log(ν/ρ)) + log(m/(n−1)), which equals divjax's on data without duplicates; NPEET "
      "uses the max-norm, a different (also consistent) estimator, hence its different estimate. "
      "KD-trees and scikit-learn work in float64 whatever the input dtype.")
  case.notes.append(_auto_note(d, n, "kl"))
  _precision_note(case)
  return case


def case_knn_entropy(sizes: Sizes, d: int, label: str) -> Case:
  n = sizes.knn_points
  case = Case(f"kNN entropy (d = {d})",
              f"{label}. kNN entropy (Kozachenko–Leonenko, k = {ENTROPY_K}), n = {n}, d = {d}", sizes)
  rng = np.random.default_rng(SEED)
  cov = 0.5 * np.eye(d) + 0.5 * np.full((d, d), 0.3)
  x = rng.multivariate_normal(np.zeros(d), cov, n)
  truth = 0.5 * np.log((2 * np.pi * np.e)**d * np.linalg.det(cov))
  estimator = functools.partial(knn_entropy, k=ENTROPY_K)
  peers = [Peer("scipy cKDTree (query workers=1)", "cKDTree", ckdtree_knn_entropy),
           Peer("scipy cKDTree (query workers=-1, all cores)", "cKDTree (all cores)",
                functools.partial(ckdtree_knn_entropy, workers=-1)),
           Peer("sklearn NearestNeighbors (auto → kd_tree)", "sklearn NearestNeighbors",
                sklearn_knn_entropy),
           Peer(_peer_label(NPEET, "NPEET entropy: npeet_plus", "npeet-plus",
                            "sklearn KDTree, max-norm"), "NPEET", npeet_style_entropy)]
  for dtype in DTYPES:
    case.block(dtype, estimator, (x,), peers, eager=False, estimate=True,
               variants=_method_variants(estimator), separately=True)
  case.notes.append(
      f"x ~ N(0, Σ) with Σ = 0.5·I + 0.15·11ᵀ; the true entropy is {truth:.4f} nats. The cKDTree and "
      "scikit-learn peers compute ψ(n) − ψ(k) + log V_d + d·mean(log ρ_k) (Euclidean, as divjax); "
      "NPEET uses the max-norm (log V_d → d log 2) and adds 1e-10 noise, a different estimate of "
      "the same entropy.")
  case.notes.append(_auto_note(d, n, "entropy"))
  _precision_note(case)
  return case


def case_ksg(sizes: Sizes, d: int, label: str) -> Case:
  n = sizes.knn_points
  d_x, d_y = (d + 1) // 2, d // 2
  case = Case(f"KSG MI (d = {d})",
              f"{label}. KSG mutual information (k = {KSG_K}), n = {n}, d_x + d_y = {d_x} + {d_y}",
              sizes)
  rng = np.random.default_rng(SEED)
  rho = 0.6
  x = rng.standard_normal((n, d_x))
  y = rng.standard_normal((n, d_y))
  y = rho * x[:, :d_y] + math.sqrt(1 - rho**2) * y
  truth = -0.5 * d_y * math.log(1 - rho**2)
  estimator = functools.partial(ksg_mutual_information, k=KSG_K)
  peers = [Peer("scipy cKDTree (query workers=1)", "cKDTree", ckdtree_ksg),
           Peer("scipy cKDTree (query workers=-1, all cores)", "cKDTree (all cores)",
                functools.partial(ckdtree_ksg, workers=-1)),
           Peer(_peer_label(NPEET, "NPEET mi: npeet_plus", "npeet-plus",
                            "sklearn KDTree, max-norm"), "NPEET", npeet_style_mi)]
  for dtype in DTYPES:
    case.block(dtype, estimator, (x, y), peers, eager=False, estimate=True,
               variants=_method_variants(estimator), separately=True)
  case.notes.append(
      f"y_j = {rho}·x_j + √(1 − {rho}²)·ε_j for j < d_y, so I(X; Y) = −½·d_y·log(1 − ρ²) = "
      f"{truth:.4f} nats. All rows are KSG's estimator 1 with max-norms and strict marginal counts "
      "(the cKDTree peer: query_ball_point at the float64 just below ε; NPEET: ε − 1e-15 and 1e-10 "
      "noise on the data, hence its small differences). scikit-learn is not a separate row: NPEET "
      "runs on scikit-learn's KDTree. `bmi` (Czyż et al.) needs its own JAX/TensorFlow stack and is "
      "not included.")
  case.notes.append(_auto_note(d, n, "ksg"))
  _precision_note(case)
  return case


def _sweep_problem(estimator: str, n: int, d: int) -> tuple[Callable[..., Any], tuple]:
  """The estimator (partial, without ``method``) and its float32 inputs for one sweep point."""
  rng = np.random.default_rng(SEED)
  if estimator == "kl":
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = (0.5 + 1.2 * rng.standard_normal((n, d))).astype(np.float32)
    return functools.partial(knn_kl_divergence, k=1), (x, y)
  if estimator == "entropy":
    return (functools.partial(knn_entropy, k=ENTROPY_K),
            (rng.standard_normal((n, d)).astype(np.float32),))
  d_x = (d + 1) // 2
  z = rng.standard_normal((n, d)).astype(np.float32)
  z[:, d_x:] = 0.6 * z[:, :d - d_x] + 0.8 * z[:, d_x:]
  return functools.partial(ksg_mutual_information, k=KSG_K), (z[:, :d_x], z[:, d_x:])


_SWEEP_ESTIMATORS = (("kl", "kNN KL, k = 1"), ("entropy", f"kNN entropy, k = {ENTROPY_K}"),
                     ("ksg", f"KSG MI, k = {KSG_K}, d = d_x + d_y"))


def case_knn_sweep(sizes: Sizes) -> Case:
  """Tree against brute force over n and d (float32), per estimator: where method="auto" switches."""
  case = Case("kNN method sweep", "4g. kNN search: tree against brute force over n and d, per "
              "estimator (float32) — the `method=\"auto\"` thresholds", sizes)
  lines = ["| estimator | n (= m) | d | tree (jit) s | brute force (jit) s | tree / brute | "
           "auto picks |", "|---|---:|---:|---:|---:|---:|---|"]
  crossings = []
  for estimator, title in _SWEEP_ESTIMATORS:
    for n, dims in sizes.sweep:
      last_tree_wins = None
      for d in dims:
        make, args = _sweep_problem(estimator, n, d)
        dev = [jax.device_put(a) for a in args]
        fns = [jax.jit(functools.partial(make, method=m)).lower(*dev).compile()
               for m in ("tree", "brute")]
        calls = [lambda f=f: jax.block_until_ready(f(*dev)) for f in fns]
        # Each method in rounds of its own after untimed calls: interleaved, a tree call after a
        # brute-force call shares the cores with XLA's still-spinning threads (see _KNN_TIMING).
        t_tree, t_brute = (_settled_median(call, sizes) for call in calls)
        if t_tree <= t_brute:
          last_tree_wins = d
        lines.append(f"| {title} | {n} | {d} | {_fmt(t_tree, 's')} | {_fmt(t_brute, 's')} | "
                     f"{t_tree / t_brute:.2f} | {_knn.resolve_method('auto', d, n, estimator)} |")
        print(f"  sweep {estimator} n={n} d={d}: tree {t_tree:.4g}s brute {t_brute:.4g}s",
              flush=True)
      crossings.append(f"{estimator}, n = {n}: the tree is faster up to d = {last_tree_wins} "
                       f"(auto: {_knn.tree_max_dim(n, estimator)})")
  case.table_text = "\n".join(lines)
  rules = "; ".join(f"{name}: a = {a:g}, b = {b:g}, cap {cap}"
                    for name, (a, b, cap) in _knn.AUTO_RULES.items())
  case.notes.append(
      "Both methods give the same estimate; only the time differs. " + "; ".join(crossings)
      + ". `method=\"auto\"` uses the tree on a CPU backend for d ≤ min(cap, max(0, "
      "⌊a + b·log₂(n/1000)⌋)) (`divjax.divergences._knn.tree_max_dim`; " + rules
      + ") and brute force otherwise and on accelerators; the rules were set from this sweep. "
      "Brute force costs O(n·(n+m)·d) and the tree about O(n log n) at small d, growing quickly "
      "with d, so the crossing moves to larger d as n grows; it differs by estimator because KL runs "
      "two searches, KSG a max-norm search plus two radius counts, and the brute-force k-smallest "
      "merge costs more at k = 3 than at k = 1.")
  return case


def _spd_batch(rng: np.random.Generator, batch: int, d: int) -> np.ndarray:
  a = rng.standard_normal((batch, d, d))
  return a @ np.swapaxes(a, -1, -2) / d + 0.5 * np.eye(d)


def case_gaussian_w2(sizes: Sizes) -> Case:
  batch, d = sizes.gauss_pairs, sizes.gauss_dim
  case = Case("Gaussian W₂²",
              f"5. Gaussian squared 2-Wasserstein, {batch} pairs, d = {d}, full covariances", sizes)
  rng = np.random.default_rng(SEED)
  mean_p, mean_q = rng.standard_normal((batch, d)), rng.standard_normal((batch, d))
  cov_p, cov_q = _spd_batch(rng, batch, d), _spd_batch(rng, batch, d)
  args = (mean_p, cov_p, mean_q, cov_q)
  peers = [Peer("POT bures_wasserstein_distance(ms, mt, Cs, Ct)**2, Python loop", "POT loop",
                pot_loop_w2),
           Peer("POT bures_wasserstein_distance(..., paired=True)**2, batched", "POT batched",
                pot_batched_w2),
           Peer("scipy.linalg.sqrtm formula, Python loop", "scipy sqrtm loop", sqrtm_loop_w2)]
  for dtype in DTYPES:
    case.block(dtype, gaussian_squared_wasserstein2, args, peers)
  cond = np.linalg.cond(np.concatenate([cov_p, cov_q]))
  case.notes.append(
      f"Σ = A Aᵀ/d + 0.5·I with A standard normal (condition numbers {cond.min():.0f}–"
      f"{cond.max():.0f}). divjax: Cholesky of Σp, then eigvalsh of Lpᵀ Σq Lp, batched. POT "
      f"{ot.__version__} takes square roots by eigh on the NumPy backend (`paired=True` is its own "
      "batched path, added beside the loop the issue names); `scipy.linalg.sqrtm` uses a Schur "
      "decomposition.")
  _precision_note(case)
  return case


#: The eager case's batch: the [32, 10] KL of the issue that asked for eager calls within 2× of optax.
EAGER_SHAPE = (32, 10)


def case_kl_eager(sizes: Sizes) -> Case:
  """An eager (un-jitted) KL on a small batch, divjax beside optax: the notebook use.

  The calls are on device arrays, one call per round, many rounds (each call is ~0.1 ms). Ratios in
  this case are against divjax in the same mode: an eager call against **divjax's eager call** of the
  same input kind, a jitted one against divjax's jitted one.
  """
  b, k = EAGER_SHAPE
  case = Case("eager KL", f"6. Eager KL calls, [B, K] = [{b}, {k}], float32 (ratios vs divjax in the "
              "same mode: eager vs eager, jit vs jit)", sizes)
  rng = np.random.default_rng(SEED)
  z1, z2 = rng.standard_normal((2, b, k))
  a, c = (2 * z1).astype(np.float32), (2 * z1 + z2).astype(np.float32)
  lp, lq = jax.device_put(a), jax.device_put(c)
  p, q = jax.block_until_ready((jax.nn.softmax(lp), jax.nn.softmax(lq)))
  log_q = jax.block_until_ready(jnp.log(q))
  optax_kl = jax.jit(optax.losses.kl_divergence)
  divjax_kl = jax.jit(kl_divergence)
  groups = {  # reference first
      "probabilities": {
          "divjax (no jit): kl_divergence(p, q)": lambda: kl_divergence(p, q),
          "optax (no jit): optax.losses.kl_divergence(log q, p)":
              lambda: optax.losses.kl_divergence(log_q, p),
          "divjax (jit)": lambda: divjax_kl(p, q),
          "optax (jit)": lambda: optax_kl(log_q, p)},
      "logits": {
          "divjax (no jit): kl_divergence(a, b, logits=True)":
              lambda: kl_divergence(lp, lq, logits=True),
          "optax (no jit): kl_divergence(log_softmax(b), softmax(a))":
              lambda: optax.losses.kl_divergence(jax.nn.log_softmax(lq), jax.nn.softmax(lp))},
  }
  rounds = dataclasses.replace(sizes, repeats=200 if sizes.name == "quick" else 3000,
                               max_repeats=0, min_total_s=0.0)
  for kind, group in groups.items():
    calls = {impl: (lambda f=f: jax.block_until_ready(f())) for impl, f in group.items()}
    outs = {impl: _as_f64(call()) for impl, call in calls.items()}   # warm-up (and compile)
    medians = dict(zip(calls, _interleaved_medians(list(calls.values()), rounds)))
    ref_impl = next(iter(calls))
    for impl, run_s in medians.items():
      # Each row against divjax in the same mode: eager against eager, jit against jit.
      mode = "divjax (jit)" if "(jit)" in impl else ref_impl
      case._add(Row(case.title, impl, "float32", run_s, ratio=run_s / medians[mode],
                    max_diff=_max_diff(outs[impl], outs[ref_impl]), is_reference=impl == ref_impl,
                    is_divjax=impl.startswith("divjax"), short=f"{impl.split(':')[0]}, {kind}"))
  eager = [r for r in case.rows if "no jit" in r.impl]
  case.notes.append(
      "The eager divjax call is one dispatch of the compiled program followed by a host look at the "
      "result for NaN (every invalid input gives NaN; only then do the NumPy checks run to name the "
      f"error). optax eager / divjax eager: {eager[1].run_s / eager[0].run_s:.2f}× on probabilities, "
      f"{eager[3].run_s / eager[2].run_s:.2f}× on logits (< 1: optax is faster; the goal was divjax "
      "within 2× of optax, i.e. ≥ 0.5×). Before this path the eager divjax call ran NumPy checks over "
      "every input first (2.35 ms against optax's 0.087 ms in the issue that asked for it).")
  return case




def _knn_case(make: Callable[..., Case], dim: str, label: str) -> Callable[[Sizes], Case]:
  """``make`` at the dimension ``sizes.<dim>``, named ``<make>_<label>`` for ``--case``."""
  def case(sizes: Sizes) -> Case:
    return make(sizes, getattr(sizes, dim), label)
  case.__name__ = f"{make.__name__}_{label}"
  return case


CASES = (case_kl, case_js, case_kl_logits,
         _knn_case(case_knn_kl, "knn_dim", "4a"), _knn_case(case_knn_kl, "knn_dim_high", "4b"),
         _knn_case(case_knn_entropy, "knn_dim", "4c"),
         _knn_case(case_knn_entropy, "knn_dim_high", "4d"),
         _knn_case(case_ksg, "knn_dim", "4e"), _knn_case(case_ksg, "knn_dim_high", "4f"),
         case_knn_sweep, case_gaussian_w2, case_kl_eager)

# ---------------------------------------------------------------------------------------------------
# Report.

# Why a peer can beat divjax; printed only when the measurements show a peer ahead.
_WHY_SLOWER = {
    "KSG": ("on the tree path divjax runs the same cKDTree queries as the scipy peer plus a "
            "`jax.pure_callback` round trip; on the brute-force path it compares all n² pairs twice "
            "(the joint search, then the marginal counts)"),
    "KL": ("divjax renormalises both inputs in log space (log, logsumexp, masks for zeros) and sums a "
           "cancellation-free p·(expm1(−δ) + δ) form, several transcendental evaluations per element "
           "where `rel_entr` does one log and a product"),
    "JS": ("divjax renormalises both inputs and evaluates the mixture with logaddexp and two "
           "cancellation-free KL sums"),
    "KL from logits": ("divjax masks −inf logits and uses the cancellation-free expm1 form on top of "
                       "the two log-softmaxes"),
    "kNN": ("on the tree path divjax runs the same cKDTree queries as the scipy peer plus a "
            "`jax.pure_callback` round trip, the duplicate check and the distance recomputation in "
            "JAX; on the brute-force path it does O(n(n+m)d) work where a tree does less at small d"),
    "eager KL": ("optax's eager KL is a few un-fused primitives on already-normalised inputs; divjax's "
                 "eager call is one compiled program that renormalises both inputs, sums the "
                 "cancellation-free form and checks for NaN, plus the transfer of its result"),
    "Gaussian W₂²": ("divjax runs a batched Cholesky, two matrix products and a batched eigvalsh per "
                     "pair; POT's batched path runs two batched eigh calls in LAPACK, so at small "
                     "batches the fixed per-call costs decide"),
}
_WHY_FLOAT64 = {
    "kNN": "XLA:CPU's float64 arithmetic is dearer",
    "KSG": "XLA:CPU's float64 arithmetic is dearer",
}


def _lookup(table: dict[str, str], short: str, default: str) -> str:
  return next((v for k, v in table.items() if short.startswith(k)), default)


def _why(case: Case, where: Sequence[str]) -> str:
  text = _lookup(_WHY_SLOWER, case.short, "see the table")
  slowdowns = _float64_slowdowns(case)
  if "float64" in where and slowdowns is not None and slowdowns[0] > 1.5 * max(slowdowns[1]):
    reason = _lookup(_WHY_FLOAT64, case.short, "XLA:CPU's float64 elementwise code is dearer")
    text += (f"; in float64 divjax takes {slowdowns[0]:.1f}× its float32 time, the peers "
             f"{_range(slowdowns[1])} ({reason})")
  return text


def _fmt(x: float | None, kind: str) -> str:
  if x is None:
    return "—"
  if kind == "s":
    return f"{x:.3g}" if x >= 1e-3 else f"{x:.2e}"
  if kind == "ratio":
    if x >= 100:
      return f"{x:.0f}×"
    return f"{x:.2f}×" if x >= 0.01 else f"{x:.4f}×"
  if kind == "diff":
    return "0" if x == 0 else f"{x:.1e}"
  if kind == "est":
    return f"{x:.4f}"
  raise ValueError(kind)


def _table(case: Case) -> str:
  with_estimate = any(r.estimate is not None for r in case.rows)
  header = ["case", "implementation", "dtype", "compile s", "run s (median)", "ratio vs divjax",
            r"max \|diff\|"]
  if with_estimate:
    header.append("estimate (nats)")
  lines = ["| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] * 3 + ["---:"] * (len(header) - 3)) + "|"]
  for r in case.rows:
    impl = f"**{r.impl}**" if r.is_reference else r.impl
    cells = [case.short, impl, r.dtype, _fmt(r.compile_s, "s"), _fmt(r.run_s, "s"),
             _fmt(r.ratio, "ratio"), _fmt(r.max_diff, "diff")]
    if with_estimate:
      cells.append(_fmt(r.estimate, "est"))
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def _by_dtype(rows: Sequence[Row], kind: str) -> str:
  return " / ".join(_fmt(r.compile_s if kind == "s" else r.ratio, kind) for r in rows)


def _headline(cases: Sequence[Case], sizes: Sizes) -> str:
  dtypes = " / ".join(np.dtype(t).name for t in DTYPES)
  sentences = []
  behind: list[str] = []
  tied: list[str] = []
  for case in cases:
    if not case.rows:
      continue
    refs = [r for r in case.rows if r.is_reference]
    peers: dict[str, list[Row]] = {}
    for r in case.rows:
      if not r.is_divjax:
        peers.setdefault(r.short, []).append(r)
    ratios = ", ".join(f"{short} {_by_dtype(rows, 'ratio')}" for short, rows in peers.items())
    sentences.append(f"**{case.short}** — compile {_by_dtype(refs, 's')} s; {ratios}.")
    faster = [r for r in case.rows if not r.is_divjax and r.ratio < 1.0 - PARITY]
    tied.extend(f"{r.short} in {case.short} ({r.dtype}, {_fmt(r.ratio, 'ratio')})"
                for r in case.rows if not r.is_divjax and abs(r.ratio - 1.0) <= PARITY)
    if faster:
      worst = min(faster, key=lambda r: r.ratio)
      where = sorted({r.dtype for r in faster})
      behind.append(
          f"{case.short} ({', '.join(where)}; worst {worst.short} {worst.dtype}, divjax "
          f"{1 / worst.ratio:.1f}× slower): {_why(case, where)}")
  text = (f"Numbers are peer time / divjax jitted steady-state time on the same inputs, {dtypes}; "
          "> 1 means divjax is faster. Compile time (jit, once per shape and dtype) is reported "
          "separately and is not in the ratios. " + " ".join(sentences))
  if behind:
    text += (f" **Where a peer is faster** (by more than {PARITY:.0%}) — " + "; ".join(behind)
             + ".")
  else:
    text += f" No peer is faster than divjax's steady state by more than {PARITY:.0%}."
  if tied:
    text += f" Within {PARITY:.0%} (a tie at this noise level): " + ", ".join(tied) + "."
  if sizes.name == "quick":
    text += (" *Quick sizes: these timings are dominated by dispatch overhead and say nothing about "
             "speed; run the default sizes for numbers.*")
  return text


def _threading() -> list[str]:
  env = {k: os.environ.get(k, "unset")
         for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")}
  lines = [", ".join(f"`{k}`={v}" for k, v in env.items())]
  try:
    import threadpoolctl  # pylint: disable=import-outside-toplevel
    pools = threadpoolctl.threadpool_info()
    lines.append("; ".join(f"{p.get('internal_api')} {p.get('version')} "
                           f"({p.get('num_threads')} threads, {os.path.basename(p.get('filepath', ''))})"
                           for p in pools) or "no native thread pools reported")
  except ImportError:
    lines.append("threadpoolctl not installed: BLAS thread count not reported")
  return lines


def _cpu_model() -> str:
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or "unknown"


def _machine(load: tuple[tuple[float, ...], tuple[float, ...]]) -> list[str]:
  device = jax.devices()[0]
  versions = {
      "python": platform.python_version(), "divjax": getattr(divjax, "__version__", "editable"),
      "jax": jax.__version__, "jaxlib": getattr(jax.lib, "__version__", None) or _jaxlib_version(),
      "numpy": np.__version__, "scipy": scipy.__version__, "POT": ot.__version__,
      "scikit-learn": sklearn.__version__,
  }
  threads = _threading()
  return [
      f"- Platform: {platform.platform()}; CPU: {_cpu_model()}; `os.cpu_count()` = {os.cpu_count()}",
      f"- JAX backend: {jax.default_backend()}, device kind: {device.device_kind} "
      f"({jax.device_count()} device(s))",
      "- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
      f"- Threads (left as found; not changed by the benchmark): {threads[0]}",
      f"- Native thread pools after the run (threadpoolctl): {threads[1]}",
      f"- Load average (1, 5, 15 min) before / after the run: "
      f"{', '.join(f'{x:.2f}' for x in load[0])} / {', '.join(f'{x:.2f}' for x in load[1])} "
      "(a load above the core count means other processes shared the CPUs and the times are noisier)",
  ]


def _jaxlib_version() -> str:
  try:
    import jaxlib  # pylint: disable=import-outside-toplevel
    return jaxlib.__version__
  except (ImportError, AttributeError):
    return "unknown"


def render(cases: Sequence[Case], sizes: Sizes, wall_s: float,
           load: tuple[tuple[float, ...], tuple[float, ...]]) -> str:
  now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  parts = [
      "## Divergences (`bench_divergences`)",
      "",
      f"Generated by `python -m benchmarks.bench_divergences{' --quick' if sizes.name == 'quick' else ''}`"
      f" on {now} ({sizes.name} sizes; whole script {wall_s:.0f} s). See `benchmarks/README.md` for "
      "what each case measures.",
      "",
      "### Headline",
      "",
      _headline(cases, sizes),
      "",
      "### Machine",
      "",
      *_machine(load),
      "",
      "Threading caveat: XLA:CPU runs jitted divjax code on its own intra-op thread pool (all cores); "
      "NumPy/SciPy elementwise code (`rel_entr`, `softmax`, the formula arithmetic) is single-threaded, "
      "their BLAS/LAPACK calls go through OpenBLAS with whatever thread count it picked at start-up, "
      "and `cKDTree.query` uses one thread unless `workers` says otherwise (both are shown in "
      "case 4). No thread-related environment variable is set or changed by this script, so numbers "
      "from a run with different `OPENBLAS_NUM_THREADS` / `XLA_FLAGS` are not comparable.",
      "",
      "Columns: *compile s* is `jax.jit(f).lower(*args).compile()` for the divjax row (— for peers, "
      "which have no compile step); *run s* is the median of ≥ "
      f"{sizes.repeats} calls after one warm-up call (`block_until_ready` for JAX), the implementations "
      "of a case and dtype timed in interleaved rounds; *ratio vs divjax* "
      "is this row's run time / the **divjax (jit)** run time of the same case and dtype (> 1: divjax "
      "is faster); *max |diff|* is the largest absolute difference from the divjax (jit) result. "
      "The *no jit* row is the public function called directly on device arrays: op-by-op dispatch "
      "plus the argument checks that run on concrete inputs.",
      "",
  ]
  for case in cases:
    parts += [f"### {case.title}", "", getattr(case, "table_text", None) or _table(case), ""]
    parts += [f"- {note}" for note in case.notes]
    parts.append("")
  return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_divergences",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds): a smoke run")
  parser.add_argument("--case", action="append", default=None, metavar="NAME",
                      help="run only the case function NAME (e.g. case_kl_eager; repeatable)")
  parser.add_argument("--out", default=os.path.join("benchmarks", "RESULTS.md"),
                      help="the Markdown file whose bench_divergences section is replaced (default: benchmarks/RESULTS.md)")
  args = parser.parse_args(argv)
  sizes = QUICK if args.quick else DEFAULT
  load_before = os.getloadavg()
  start = time.perf_counter()
  cases = []
  for make_case in CASES:
    if args.case and make_case.__name__ not in args.case:
      continue
    print(f"{make_case.__name__} ({sizes.name})", flush=True)
    cases.append(make_case(sizes))
  wall_s = time.perf_counter() - start
  text = render(cases, sizes, wall_s, (load_before, os.getloadavg()))
  write_section("bench_divergences", text, args.out)
  print(f"\nwrote {args.out} ({wall_s:.1f} s)\n\n{_headline(cases, sizes)}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
