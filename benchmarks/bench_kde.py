r"""High-dimensional Gaussian KDE: divjax against scipy, scikit-learn and jax.scipy, plus a scale row.

    python -m benchmarks.bench_kde                 # n = 20 000, m = 2 000, d = 50 + the scale row
    python -m benchmarks.bench_kde --quick         # tiny sizes, seconds: a smoke run (no scale row)
    python -m benchmarks.bench_kde --out FILE.md   # write the section elsewhere

One process, one fixed-seed data set ``y ~ N(0, I_d)`` (n points), queries ``x ~ N(0, I_d)`` (m points)
and one isotropic bandwidth h (Silverman's rule) shared by every implementation:

* divjax ``kde.log_density(x, y, h)`` (float32 and float64), jitted; compile time timed apart;
* ``scipy.stats.gaussian_kde(y.T).logpdf`` with its covariance set to h²I (float64, Cython loop);
* ``sklearn.neighbors.KernelDensity(bandwidth=h).fit(y).score_samples`` (default tree, rtol = 0);
* ``jax.scipy.stats.gaussian_kde`` with covariance h²I, jitted (float32 and float64).

Times are medians of ≥ 5 interleaved rounds after a warm-up; ratio = peer time / divjax float32 time.
Accuracy: max |log ρ̂ − reference| over the queries, the reference a float64 NumPy brute force (centred
data, distances by matmul, scipy logsumexp, in chunks). The roofline is 2·m·n·d matmul flops plus m·n
exponentials at this machine's float32 matmul rate (a 2048³ matmul) and exp rate, both measured with
XLA on all cores in the same interleaved rounds as the implementations (their fastest round: the
best rate the machine delivers; the implementations' times are medians, so the fraction is
conservative). A profile in the same run splits divjax's float32 time between the matmul passes
and the exp-and-sum passes and times a plain matmul of the problem's own shape. The scale row (n = 10⁶, m = 10⁴, d = 64, float32) runs in a fresh subprocess that
reports its wall time and peak RSS (``resource.getrusage``), including JAX's own footprint.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy
import scipy.stats
import sklearn
from scipy.special import logsumexp
from sklearn.neighbors import KernelDensity

from benchmarks._results import write_section
from divjax import kde

SEED = 0


@dataclasses.dataclass(frozen=True)
class Sizes:
  name: str
  n: int
  m: int
  d: int
  rounds: int
  scale_row: bool


DEFAULT = Sizes("default", n=20_000, m=2_000, d=50, rounds=5, scale_row=True)
QUICK = Sizes("quick", n=2_000, m=200, d=50, rounds=5, scale_row=False)
SCALE = dict(n=1_000_000, m=10_000, d=64)


def brute_force_f64(x: np.ndarray, y: np.ndarray, h: float, chunk: int = 250) -> np.ndarray:
  """log ρ̂(x) in float64: centred data, squared distances by matmul, scipy logsumexp."""
  c = y.mean(0)
  x, y = (x - c) / h, (y - c) / h
  y2 = (y * y).sum(1)
  d = y.shape[1]
  out = []
  for i in range(0, len(x), chunk):
    xc = x[i:i + chunk]
    sq = np.maximum((xc * xc).sum(1)[:, None] + y2[None] - 2.0 * xc @ y.T, 0.0)
    out.append(logsumexp(-0.5 * sq, axis=1))
  return np.concatenate(out) - np.log(len(y)) - 0.5 * d * np.log(2 * np.pi) - d * np.log(h)


def _interleaved(calls: dict[str, Callable[[], Any]], rounds: int,
                 best: tuple[str, ...] = ()) -> dict[str, float]:
  """Median time of each call over interleaved rounds (the fastest round for the names in ``best``)."""
  times: dict[str, list[float]] = {k: [] for k in calls}
  for _ in range(rounds):
    for k, call in calls.items():
      t0 = time.perf_counter()
      call()
      times[k].append(time.perf_counter() - t0)
  return {k: (min(v) if k in best else statistics.median(v)) for k, v in times.items()}


def _jax_scipy_kde(y: np.ndarray, h: float, dtype) -> Any:
  base = jax.scipy.stats.gaussian_kde(jnp.asarray(y.T, dtype))
  leaves, treedef = jax.tree_util.tree_flatten(base)
  d = y.shape[1]
  eye = jnp.eye(d, dtype=dtype)
  # Replace the (d, d) leaves: covariance then inverse covariance, in field order.
  square = [i for i, leaf in enumerate(leaves) if np.shape(leaf) == (d, d)]
  assert len(square) == 2, [np.shape(leaf) for leaf in leaves]
  leaves[square[0]], leaves[square[1]] = h * h * eye, eye / (h * h)
  return jax.tree_util.tree_unflatten(treedef, leaves)


def _scipy_kde(y: np.ndarray, h: float) -> scipy.stats.gaussian_kde:
  k = scipy.stats.gaussian_kde(y.T)
  d = y.shape[1]
  k.covariance = h * h * np.eye(d)
  k.cho_cov = h * np.eye(d)
  k.log_det = 2 * d * np.log(h * np.sqrt(2 * np.pi))
  return k


def peak_calls() -> dict[str, Callable[[], Any]]:
  """A float32 2048³ matmul and 2²⁴ exponentials summed (XLA, all cores), compiled and warm.

  Timed in the same interleaved rounds as the implementations, so the roofline they give sees the
  same machine load as the run times it is compared with.
  """
  k = 2048
  a = jnp.ones((k, k), jnp.float32)
  mm = jax.jit(lambda a: jnp.matmul(a, a, precision=jax.lax.Precision.HIGHEST)).lower(a).compile()
  # 2²⁴ exponentials as 16 passes over a 4 MB vector, which stays in cache like the kernel's tiles
  # (one pass over 64 MB would time memory, not the exponential).
  v = jnp.linspace(-5.0, 0.0, 1 << 20, dtype=jnp.float32)

  def exp_sum(v):
    return jax.lax.fori_loop(0, 16, lambda i, acc: acc + jnp.sum(jnp.exp(v - 1e-6 * i)), 0.0)

  ex = jax.jit(exp_sum).lower(v).compile()
  jax.block_until_ready(mm(a))
  jax.block_until_ready(ex(v))
  return {PEAK_MM: lambda: jax.block_until_ready(mm(a)), PEAK_EXP: lambda: jax.block_until_ready(ex(v))}


PEAK_MM, PEAK_EXP = "peak: 2048³ matmul", "peak: 2²⁴ exponentials"


def peaks_from(medians: dict[str, float]) -> dict[str, float]:
  """float32 matmul flop/s and exp/s from the fastest rounds of :func:`peak_calls` (a roofline is
  the best the machine delivers; with other processes on the cores the medians fall far below)."""
  return {"flops": 2.0 * 2048**3 / medians.pop(PEAK_MM), "exps": float(1 << 24) / medians.pop(PEAK_EXP)}


def profile_divjax(x: np.ndarray, y: np.ndarray, h: float, rounds: int) -> dict[str, float]:
  """Where divjax's float32 time goes, on the whitened data (interleaved medians, seconds).

  * ``kernel``: divjax's streaming-logsumexp kernel alone (no whitening or checks);
  * ``matmul_max``: the same tiles with the exponential and the sum left out (matmul, bias, max);
  * ``matmul_shape``: one plain ``x @ y.T`` of the problem's shape, [m, d] × [d, n], output
    materialised: the matmul at this shape (inner dimension d) rather than at 2048³.
  """
  from divjax.kde import estimator  # pylint: disable=import-outside-toplevel
  c = y.mean(0)
  xw = jnp.asarray((x - c) / h, jnp.float32)
  yw = jnp.asarray((y - c) / h, jnp.float32)
  log_w = jnp.full((y.shape[0],), -np.log(y.shape[0]), jnp.float32)
  # The kernel's own tile sizes (equal blocks), and its structure: no scan for a single block.
  chunk, block = estimator._sizes(x.shape[0], y.shape[0], None, None)  # pylint: disable=protected-access
  kernel = jax.jit(lambda a, b, w: estimator._kernel_logsumexp(  # pylint: disable=protected-access
      a, b, w, chunk_size=None, block_size=None)[0])

  def matmul_max(a, b, w):
    cb = w - 0.5 * jnp.sum(b * b, -1)
    pad = (-b.shape[0]) % block
    bb = jnp.pad(b, ((0, pad), (0, 0))).reshape(-1, block, b.shape[1])
    cbb = jnp.pad(cb, (0, pad), constant_values=-jnp.inf).reshape(-1, block)
    ab = jnp.pad(a, ((0, (-a.shape[0]) % chunk), (0, 0))).reshape(-1, chunk, a.shape[1])

    def one_chunk(q):
      def one_block(mx, blk):
        u = jnp.matmul(q, blk[0].T, precision=jax.lax.Precision.HIGHEST) + blk[1][None, :]
        return jnp.maximum(mx, jnp.max(u, axis=1)), None
      init = jnp.full((chunk,), -jnp.inf, jnp.float32)
      if bb.shape[0] == 1:
        return one_block(init, (bb[0], cbb[0]))[0]
      return jax.lax.scan(one_block, init, (bb, cbb))[0]

    return one_chunk(ab[0]) if ab.shape[0] == 1 else jax.lax.map(one_chunk, ab)

  mm_max = jax.jit(matmul_max)
  shape = jax.jit(lambda a, b: jnp.matmul(a, b.T, precision=jax.lax.Precision.HIGHEST))
  calls = {"kernel": lambda: jax.block_until_ready(kernel(xw, yw, log_w)),
           "matmul_max": lambda: jax.block_until_ready(mm_max(xw, yw, log_w)),
           "matmul_shape": lambda: jax.block_until_ready(shape(xw, yw))}
  for call in calls.values():
    call()
  return _interleaved(calls, rounds)


def scale_row_worker() -> None:
  """Runs in a subprocess: the n = 10⁶, m = 10⁴, d = 64 float32 KDE; prints JSON."""
  n, m, d = SCALE["n"], SCALE["m"], SCALE["d"]
  ky, kx = jax.random.split(jax.random.key(SEED))
  y = jax.random.normal(ky, (n, d), jnp.float32)
  x = jax.random.normal(kx, (m, d), jnp.float32)
  jax.block_until_ready((x, y))
  t0 = time.perf_counter()
  compiled = jax.jit(lambda x, y: kde.log_density(x, y, 0.6)).lower(x, y).compile()
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  out = jax.block_until_ready(compiled(x, y))
  run_s = time.perf_counter() - t0
  rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # before the check below
  # Spot-check 20 queries against a float64 brute force (after the peak-RSS reading: it copies y).
  xs, ys = np.asarray(x[:20], np.float64), np.asarray(y, np.float64)
  err = float(np.max(np.abs(np.asarray(out[:20], np.float64) - brute_force_f64(xs, ys, 0.6, 5))))
  print(json.dumps(dict(n=n, m=m, d=d, compile_s=compile_s, run_s=run_s, peak_rss_mb=rss_mb,
                        max_err_20=err, finite=bool(np.all(np.isfinite(np.asarray(out)))))))


def main(argv: list[str] | None = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--out", default=os.path.join("benchmarks", "RESULTS.md"))
  parser.add_argument("--scale-row-worker", action="store_true", help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.scale_row_worker:
    scale_row_worker()
    return
  sizes = QUICK if args.quick else DEFAULT
  load_before = os.getloadavg()
  started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  rng = np.random.default_rng(SEED)
  y = rng.standard_normal((sizes.n, sizes.d))
  x = rng.standard_normal((sizes.m, sizes.d))
  h = float(kde.silverman_bandwidth(y))
  t0 = time.perf_counter()
  ref = brute_force_f64(x, y, h)
  ref_s = time.perf_counter() - t0
  print(f"sizes {sizes}, h = {h:.4f}; float64 brute-force reference {ref_s:.2f}s", flush=True)

  rows: list[dict[str, Any]] = []
  outs: dict[str, np.ndarray] = {}
  calls: dict[str, Callable[[], Any]] = {}
  compile_s: dict[str, float] = {}

  for dtype in (np.float32, np.float64):
    name = np.dtype(dtype).name
    with jax.enable_x64(dtype == np.float64):
      xd, yd = jax.device_put(x.astype(dtype)), jax.device_put(y.astype(dtype))
      t0 = time.perf_counter()
      c = jax.jit(lambda a, b: kde.log_density(a, b, h)).lower(xd, yd).compile()
      compile_s[f"divjax ({name})"] = time.perf_counter() - t0
      outs[f"divjax ({name})"] = np.asarray(c(xd, yd))
      calls[f"divjax ({name})"] = (lambda c=c, xd=xd, yd=yd: jax.block_until_ready(c(xd, yd)))
      jk = _jax_scipy_kde(y.astype(dtype), h, dtype)
      t0 = time.perf_counter()
      cj = jax.jit(lambda k, a: k.logpdf(a.T)).lower(jk, xd).compile()
      compile_s[f"jax.scipy gaussian_kde ({name})"] = time.perf_counter() - t0
      outs[f"jax.scipy gaussian_kde ({name})"] = np.asarray(cj(jk, xd))
      calls[f"jax.scipy gaussian_kde ({name})"] = (
          lambda cj=cj, jk=jk, xd=xd: jax.block_until_ready(cj(jk, xd)))
  sk = _scipy_kde(y, h)
  calls["scipy.stats.gaussian_kde (float64)"] = lambda: sk.logpdf(x.T)
  outs["scipy.stats.gaussian_kde (float64)"] = sk.logpdf(x.T)
  kd = KernelDensity(kernel="gaussian", bandwidth=h).fit(y)
  calls["sklearn KernelDensity (float64, tree)"] = lambda: kd.score_samples(x)
  outs["sklearn KernelDensity (float64, tree)"] = kd.score_samples(x)
  print("warm-up done; timing", flush=True)
  calls.update(peak_calls())
  medians = _interleaved(calls, sizes.rounds, best=(PEAK_MM, PEAK_EXP))
  peaks = peaks_from(medians)
  base = medians["divjax (float32)"]
  roofline_s = 2.0 * sizes.m * sizes.n * sizes.d / peaks["flops"] + sizes.m * sizes.n / peaks["exps"]
  profile = profile_divjax(x, y, h, sizes.rounds)
  print(f"  profile (float32): {profile}", flush=True)
  for impl, t in medians.items():
    err = float(np.max(np.abs(outs[impl].astype(np.float64) - ref)))
    rows.append(dict(impl=impl, run_s=t, compile_s=compile_s.get(impl), ratio=t / base, max_err=err,
                     roofline=roofline_s / t))
    print(f"  {impl:42s} run {t:.4g}s  ratio {t / base:.3g}  max err {err:.2g}  "
          f"roofline {roofline_s / t:.1%}", flush=True)

  scale = None
  if sizes.scale_row:
    print("scale row (subprocess) ...", flush=True)
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_kde", "--scale-row-worker"],
                          capture_output=True, text=True, timeout=1200, env=os.environ.copy())
    if proc.returncode == 0:
      scale = json.loads(proc.stdout.strip().splitlines()[-1])
      print("  ", scale, flush=True)
    else:
      scale = {"error": (proc.stderr or proc.stdout)[-500:]}
      print("  scale row failed:", scale["error"], flush=True)

  load_after = os.getloadavg()
  text = _markdown(sizes, h, rows, peaks, roofline_s, scale, started, load_before, load_after, ref_s,
                   profile)
  write_section("bench_kde", text, args.out)
  print(f"wrote section bench_kde of {args.out}")


def _markdown(sizes, h, rows, peaks, roofline_s, scale, started, load_before, load_after,
              ref_s, profile) -> str:
  by = {r["impl"]: r for r in rows}
  sp = by["scipy.stats.gaussian_kde (float64)"]["ratio"]
  jx = by["jax.scipy gaussian_kde (float32)"]["ratio"]
  sk = by["sklearn KernelDensity (float64, tree)"]
  lines = [
      "## bench_kde — Gaussian KDE log-density, high dimension",
      "",
      f"**Headline** (n = {sizes.n:,}, m = {sizes.m:,}, d = {sizes.d}, float32 divjax): "
      f"{sp:.1f}× faster than `scipy.stats.gaussian_kde`, {jx:.1f}× faster than "
      f"`jax.scipy.stats.gaussian_kde` (float32), {sk['ratio']:.1f}× faster than scikit-learn's "
      f"tree KDE, which is off by up to {sk['max_err']:.3g} nats; divjax reaches "
      f"{by['divjax (float32)']['roofline']:.0%} of the matmul + exp roofline.",
      "",
      f"Run {started} on {platform.machine()} / {os.cpu_count()} CPUs ({platform.platform()}), "
      f"JAX device {jax.devices()[0].device_kind} ({jax.default_backend()}), "
      f"jax {jax.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}. "
      f"Load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
      f"(above {os.cpu_count()} the times are noisy; ratios are interleaved medians and more robust). "
      f"Sizes: `{sizes.name}`; y, x ~ N(0, I_d), fixed seed, isotropic h = {h:.4f} (Silverman) for "
      f"every implementation; median of {sizes.rounds} interleaved rounds after a warm-up.",
      "",
      "| implementation | run s | compile s | ratio (peer / divjax f32) | max \\|error\\| vs float64 "
      "brute force (nats) | roofline fraction |",
      "|---|---|---|---|---|---|",
  ]
  for r in rows:
    c = "" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
    lines.append(f"| {r['impl']} | {r['run_s']:.4g} | {c} | {r['ratio']:.2f}× | {r['max_err']:.2g} | "
                 f"{r['roofline']:.1%} |")
  lines += [
      "",
      f"Roofline: 2·m·n·d = {2 * sizes.m * sizes.n * sizes.d:.3g} flops at the measured float32 "
      f"matmul rate {peaks['flops'] / 1e9:.1f} GFLOP/s plus m·n = {sizes.m * sizes.n:.3g} "
      f"exponentials at the measured {peaks['exps'] / 1e9:.2f} G exp/s (XLA, all cores; both timed in "
      f"the same interleaved rounds as the rows above, fastest round) = "
      f"{roofline_s:.3g} s; fraction = roofline time / run time. The float64 brute-force reference "
      f"itself took {ref_s:.2f} s (NumPy, chunked).",
      "",
      f"Where the float32 time goes (same run, interleaved medians): divjax's kernel alone "
      f"{profile['kernel']:.4g} s; the same tiles with the exponentials and sums left out (matmul "
      f"+ bias + running max) {profile['matmul_max']:.4g} s "
      f"({profile['matmul_max'] / profile['kernel']:.0%} of the kernel), so the exp-and-sum passes "
      f"take about {1 - profile['matmul_max'] / profile['kernel']:.0%}. One plain `x @ y.T` of the "
      f"problem's shape ([{sizes.m}, {sizes.d}] × [{sizes.d}, {sizes.n}], output materialised) takes "
      f"{profile['matmul_shape']:.4g} s = "
      f"{2.0 * sizes.m * sizes.n * sizes.d / profile['matmul_shape'] / 1e9:.1f} GFLOP/s: with inner "
      f"dimension d = {sizes.d} the matmul runs below the 2048³ rate the roofline assumes.",
      "",
  ]
  if scale is None:
    lines.append("Scale row skipped (`--quick`).")
  elif "error" in scale:
    lines.append(f"Scale row **failed**: `{scale['error'][-200:]}`")
  else:
    lines.append(
        f"**Scale row** (fresh subprocess, float32): n = {scale['n']:,}, m = {scale['m']:,}, "
        f"d = {scale['d']}: run {scale['run_s']:.1f} s (compile {scale['compile_s']:.2f} s), "
        f"peak RSS {scale['peak_rss_mb']:.0f} MB (target < 2048 MB; includes the 256 MB data set "
        f"and JAX itself), max error on 20 queries vs float64 brute force "
        f"{scale['max_err_20']:.2g} nats.")
  if jax.default_backend() == "cpu":
    lines += ["", "No GPU row: this run had no accelerator (the JAX rows above ran on the CPU)."]
  return "\n".join(lines) + "\n"


if __name__ == "__main__":
  main()
