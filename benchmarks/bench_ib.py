r"""Timings of divjax's Cauchy–Schwarz Gram estimators against NumPy/SciPy implementations.

    python -m benchmarks.bench_ib              # default sizes, writes the bench_ib section of RESULTS.md
    python -m benchmarks.bench_ib --quick      # tiny sizes, a smoke run
    python -m benchmarks.bench_ib --out F.md   # write elsewhere

Cases: the CS divergence estimator (``divjax.ib.cs_divergence``), the CS-QMI estimator
(``cs_qmi``) and the conditional CS divergence (``conditional_cs_divergence``). Peers, on the same
arrays: a plain NumPy/SciPy version (``scipy.spatial.distance.cdist`` → ``np.exp`` → means and logs,
the way the formulas are usually written, which underflows at small widths) and a log-space SciPy
version (``scipy.special.logsumexp``, what divjax computes). divjax is timed jitted (compile time
reported apart, ``block_until_ready`` on every call); every time is the median of ≥ 5 calls after a
warm-up, implementations interleaved round by round. Ratio = peer time / divjax time (> 1: divjax
faster); accuracy = |peer − divjax| in float64.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from typing import Any, Callable, Sequence

import jax
import numpy as np
from scipy.spatial.distance import cdist
from scipy.special import logsumexp

from benchmarks._results import write_section
from divjax import ib

SEED = 0


def _log_gram(a, b, sigma):
  return -cdist(a, b, "sqeuclidean") / (2 * sigma**2)


def numpy_cs(x, y, sigma):
  m = lambda a, b: np.exp(-cdist(a, b, "sqeuclidean") / (2 * sigma**2)).mean()
  return np.log(m(x, x)) + np.log(m(y, y)) - 2 * np.log(m(x, y))


def logspace_cs(x, y, sigma):
  lm = lambda a, b: logsumexp(_log_gram(a, b, sigma)) - np.log(len(a) * len(b))
  return lm(x, x) + lm(y, y) - 2 * lm(x, y)


def numpy_qmi(x, t, sx, st):
  n = len(x)
  k, q = np.exp(_log_gram(x, x, sx)), np.exp(_log_gram(t, t, st))
  return (np.log((k * q).sum() / n**2) + np.log(k.sum() * q.sum() / n**4)
          - 2 * np.log((k.sum(1) * q.sum(1)).sum() / n**3))


def logspace_qmi(x, t, sx, st):
  n = len(x)
  lk, lq = _log_gram(x, x, sx), _log_gram(t, t, st)
  return (logsumexp(lk + lq) - 2 * np.log(n) + logsumexp(lk) + logsumexp(lq) - 4 * np.log(n)
          - 2 * (logsumexp(logsumexp(lk, 1) + logsumexp(lq, 1)) - 3 * np.log(n)))


def numpy_conditional(x, y, yp, sx, sy):
  k = np.exp(_log_gram(x, x, sx))
  d = k.sum(1)**2
  term = lambda a, b: np.sum((k * np.exp(_log_gram(a, b, sy))).sum(1) / d)
  return np.log(term(y, y)) + np.log(term(yp, yp)) - 2 * np.log(term(y, yp))


def _median_times(calls: Sequence[Callable[[], Any]], repeats: int) -> list[float]:
  for c in calls:
    c()
  times: list[list[float]] = [[] for _ in calls]
  for _ in range(repeats):
    for i, c in enumerate(calls):
      t0 = time.perf_counter()
      c()
      times[i].append(time.perf_counter() - t0)
  return [statistics.median(t) for t in times]


def _case(title: str, fn: Callable[..., Any], args: tuple, peers: dict[str, Callable[..., Any]],
          repeats: int) -> list[str]:
  rows = []
  for dtype in (np.float32, np.float64):
    with jax.enable_x64(dtype == np.float64):
      jargs = tuple(jax.numpy.asarray(a, dtype) for a in args)
      t0 = time.perf_counter()
      compiled = jax.jit(fn).lower(*jargs).compile()
      compile_s = time.perf_counter() - t0
      ours = lambda: compiled(*jargs).block_until_ready()
      value = float(ours())
      peer_calls = [lambda p=p: p(*(np.asarray(a, np.float64) for a in args)) for p in peers.values()]
      times = _median_times([ours, *peer_calls], repeats)
    for (name, peer), t in zip(peers.items(), times[1:]):
      pv = float(peer(*(np.asarray(a, np.float64) for a in args)))
      acc = abs(pv - value) if np.isfinite(pv) else float("inf")
      rows.append(f"| {title} | {np.dtype(dtype).name} | {times[0] * 1e3:.2f} ms | {compile_s:.2f} s | "
                  f"{name} | {t * 1e3:.2f} ms | **{t / times[0]:.1f}×** | "
                  f"{'non-finite' if not np.isfinite(pv) else f'{acc:.1e}'} |")
  return rows


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
  parser.add_argument("--out", default=os.path.join("benchmarks", "RESULTS.md"))
  args = parser.parse_args(argv)
  n, repeats = (200, 5) if args.quick else (2000, 7)
  rng = np.random.default_rng(SEED)
  load0 = os.getloadavg()
  t_start = time.perf_counter()
  x, y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 1.0
  xq = rng.normal(size=(n // 2, 8))
  tq = np.tanh(xq[:, :4] + 0.5 * rng.normal(size=(n // 2, 4)))
  yc = np.sin(xq[:, :1]) + 0.1 * rng.normal(size=(n // 2, 1))
  ypc = yc + 0.2 * rng.normal(size=(n // 2, 1))
  rows = []
  rows += _case(f"cs_divergence, n = m = {n}, d = 2, σ = 1", lambda a, b: ib.cs_divergence(a, b, sigma=1.0),
                (x, y), {"NumPy cdist→exp": lambda a, b: numpy_cs(a, b, 1.0),
                         "SciPy logsumexp": lambda a, b: logspace_cs(a, b, 1.0)}, repeats)
  rows += _case(f"cs_qmi, n = {n // 2}, d_x = 8, d_t = 4", lambda a, b: ib.cs_qmi(a, b, sigma_x=2.0, sigma_t=1.0),
                (xq, tq), {"NumPy cdist→exp": lambda a, b: numpy_qmi(a, b, 2.0, 1.0),
                           "SciPy logsumexp": lambda a, b: logspace_qmi(a, b, 2.0, 1.0)}, repeats)
  rows += _case(f"conditional_cs, n = {n // 2}, d_x = 8", lambda a, b, c: ib.conditional_cs_divergence(
      a, b, c, sigma_x=2.0, sigma_y=0.5), (xq, yc, ypc),
                {"NumPy cdist→exp": lambda a, b, c: numpy_conditional(a, b, c, 2.0, 0.5)}, repeats)
  with jax.enable_x64(False):
    small = float(ib.cs_divergence(x[:200].astype(np.float32), y[:200].astype(np.float32) + 3.0, sigma=0.01))
  with np.errstate(divide="ignore"):
    naive_small = numpy_cs(x[:200], y[:200] + 3.0, 0.01)
  load1 = os.getloadavg()
  text = "\n".join([
      "## bench_ib: Cauchy–Schwarz Gram estimators (divjax.ib) vs NumPy/SciPy",
      "",
      f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC · {platform.processor() or platform.machine()} · "
      f"{os.cpu_count()} CPUs · jax {jax.__version__} · load average {load0[0]:.2f} → {load1[0]:.2f} "
      f"(1 min) · {'--quick' if args.quick else 'default sizes'} · median of {repeats} after warm-up · "
      f"wall {time.perf_counter() - t_start:.0f} s",
      "",
      "| case | dtype | divjax (jit) | divjax compile | peer (float64) | peer time | ratio | max abs diff |",
      "|---|---|---|---|---|---|---|---|",
      *rows,
      "",
      f"Small widths: at σ = 0.01 with well separated samples the plain NumPy version returns {naive_small} "
      f"(every cross kernel underflows to 0); divjax's log-sum-exp form returns {small:.6g} in float32.",
      "",
  ])
  print(text)
  write_section("bench_ib", text, args.out)
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
