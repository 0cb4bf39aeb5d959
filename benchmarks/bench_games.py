r"""Nash mirror prox in divjax against a straightforward NumPy implementation of the same updates.

    python -m benchmarks.bench_games                 # default sizes, writes benchmarks/RESULTS.md
    python -m benchmarks.bench_games --quick         # tiny sizes, seconds: a smoke run
    python -m benchmarks.bench_games --out FILE.md   # write the section elsewhere

Cases (both in float32 and float64, fixed seed):

1. one game, n = 1000 actions, 1000 Nash-MP iterations at η = 2β (2000 preference queries):
   ``divjax.games.run(divjax.games.nash_mp.solver(...), ..., metrics=())`` under ``jax.jit`` against a
   Python loop of NumPy matrix–vector products and log-softmaxes;
2. 64 (β, seed) pairs, n = 100, 1000 iterations: ``jax.vmap`` of the same ``run`` against NumPy
   batched over the 64 problems (``einsum``), and against a Python loop over the 64 problems.

divjax's compile time (``jax.jit(f).lower(*args).compile()``) is reported apart from the steady-state
time (median of at least 5 calls after a warm-up call, ``block_until_ready``); the implementations of
one case are timed in interleaved rounds. Ratio = NumPy time / divjax time (> 1: divjax is faster);
"max |Δ log π|" is the largest difference of the final log-policies. Thread settings are left as found.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._results import write_section
from divjax import games

SEED = 0


@dataclasses.dataclass(frozen=True)
class Sizes:
  name: str
  n_single: int
  n_batch: int
  batch: int
  iterations: int
  repeats: int


DEFAULT = Sizes("default", n_single=1000, n_batch=100, batch=64, iterations=1000, repeats=5)
QUICK = Sizes("quick", n_single=50, n_batch=20, batch=8, iterations=50, repeats=5)


# ---------------------------------------------------------------------------------------------------
# NumPy peers: the Nash-MP updates written plainly.


def _log_softmax(x: np.ndarray) -> np.ndarray:
  m = x.max(axis=-1, keepdims=True)
  return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def numpy_nash_mp(P: np.ndarray, log_ref: np.ndarray, beta: float, iterations: int) -> np.ndarray:
  eta = 2.0 * beta
  lam = eta / (1.0 + eta)
  l = log_ref.copy()
  for _ in range(iterations):
    base = (1.0 - lam) * l + lam * log_ref
    half = _log_softmax(base + (lam / beta) * (P @ np.exp(l)))
    l = _log_softmax(base + (lam / beta) * (P @ np.exp(half)))
  return l


def numpy_nash_mp_batched(P: np.ndarray, log_ref: np.ndarray, beta: np.ndarray,
                          iterations: int) -> np.ndarray:
  eta = 2.0 * beta[:, None]
  lam = eta / (1.0 + eta)
  scale = lam / beta[:, None]
  l = log_ref.copy()
  for _ in range(iterations):
    base = (1.0 - lam) * l + lam * log_ref
    half = _log_softmax(base + scale * np.einsum("bij,bj->bi", P, np.exp(l)))
    l = _log_softmax(base + scale * np.einsum("bij,bj->bi", P, np.exp(half)))
  return l


def numpy_nash_mp_loop(P, log_ref, beta, iterations):
  return np.stack([numpy_nash_mp(P[b], log_ref[b], float(beta[b]), iterations) for b in range(len(beta))])


# ---------------------------------------------------------------------------------------------------
# divjax.


def divjax_single(iterations: int):
  def f(P, log_ref, beta):
    g = games.PreferenceGame(P, beta, log_ref)
    final, _ = games.run(games.nash_mp.solver(step_size=2.0 * beta), g, num_steps=iterations, metrics=())
    return final.log_pi
  return f


def divjax_batched(iterations: int):
  return jax.vmap(divjax_single(iterations))


# ---------------------------------------------------------------------------------------------------
# Timing.


def _median_interleaved(calls: Sequence[Callable[[], Any]], repeats: int) -> list[float]:
  times: list[list[float]] = [[] for _ in calls]
  for c in calls:  # warm-up
    c()
  for _ in range(repeats):
    for i, c in enumerate(calls):
      t0 = time.perf_counter()
      c()
      times[i].append(time.perf_counter() - t0)
  return [statistics.median(t) for t in times]


def _instances(sizes: Sizes, dtype):
  rng = np.random.default_rng(SEED)
  out = {}
  with jax.enable_x64(True):
    g = games.uniform(jax.random.PRNGKey(SEED), sizes.n_single, beta=0.1, reference="dirichlet")
    out["single"] = (np.asarray(g.preference).astype(dtype), np.asarray(g.log_ref).astype(dtype),
                     dtype(0.1))
    keys = jax.random.split(jax.random.PRNGKey(SEED + 1), sizes.batch)
    betas = np.exp(rng.uniform(np.log(0.01), np.log(1.0), sizes.batch))
    gs = [games.uniform(k, sizes.n_batch, beta=float(b), reference="dirichlet") for k, b in zip(keys, betas)]
    out["batch"] = (np.stack([np.asarray(x.preference) for x in gs]).astype(dtype),
                    np.stack([np.asarray(x.log_ref) for x in gs]).astype(dtype), betas.astype(dtype))
  return out


def run_case(label: str, sizes: Sizes, dtype, kind: str) -> list[dict[str, Any]]:
  inst = _instances(sizes, dtype)[kind]
  x64 = dtype == np.float64
  with jax.enable_x64(x64):
    fn = divjax_single(sizes.iterations) if kind == "single" else divjax_batched(sizes.iterations)
    args = tuple(jnp.asarray(a) for a in inst)
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    dj = lambda: jax.block_until_ready(compiled(*args))
    if kind == "single":
      peers = {"NumPy loop": lambda: numpy_nash_mp(inst[0], inst[1], float(inst[2]), sizes.iterations)}
    else:
      peers = {"NumPy batched (einsum)": lambda: numpy_nash_mp_batched(*inst, sizes.iterations),
               "NumPy, loop over problems": lambda: numpy_nash_mp_loop(*inst, sizes.iterations)}
    names = ["divjax", *peers]
    medians = _median_interleaved([dj, *peers.values()], sizes.repeats)
    ours = np.asarray(dj(), np.float64)
    rows = [{"case": label, "dtype": np.dtype(dtype).name, "impl": "divjax (jit" +
             (", vmap" if kind == "batch" else "") + ")", "median_s": medians[0], "compile_s": compile_s,
             "ratio": 1.0, "max_diff": 0.0}]
    for name, med, call in zip(names[1:], medians[1:], peers.values()):
      diff = float(np.max(np.abs(np.asarray(call(), np.float64) - ours)))
      rows.append({"case": label, "dtype": np.dtype(dtype).name, "impl": name, "median_s": med,
                   "compile_s": None, "ratio": med / medians[0], "max_diff": diff})
  for r in rows:
    print(f"  {r['case']:<44} {r['dtype']:<8} {r['impl']:<28} {r['median_s'] * 1e3:9.2f} ms  "
          f"ratio {r['ratio']:6.2f}  max|Δ| {r['max_diff']:.1e}", flush=True)
  return rows


def _machine(load) -> list[str]:
  env = {k: os.environ.get(k, "unset") for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "XLA_FLAGS")}
  cpu = "unknown"
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
  except OSError:
    pass
  return [
      f"- Platform: {platform.platform()}; CPU: {cpu}; `os.cpu_count()` = {os.cpu_count()}; "
      f"JAX device: {jax.devices()[0].device_kind}",
      f"- Versions: python {platform.python_version()}, jax {jax.__version__}, numpy {np.__version__}",
      "- Threads (left as found): " + ", ".join(f"`{k}`={v}" for k, v in env.items()),
      f"- Load average (1, 5, 15 min) before / after: {', '.join(f'{x:.2f}' for x in load[0])} / "
      f"{', '.join(f'{x:.2f}' for x in load[1])} (above the core count: other processes shared the "
      "CPUs and the times are noisy)",
  ]


def render(rows, sizes: Sizes, wall_s: float, load) -> str:
  now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  lines = [
      "## Preference games (`bench_games`)", "",
      f"Generated by `python -m benchmarks.bench_games{' --quick' if sizes.name == 'quick' else ''}` on "
      f"{now} ({sizes.name} sizes; whole script {wall_s:.0f} s). Nash-MP at η = 2β (two preference "
      "queries per iteration), no metrics recorded; the NumPy peers implement the same updates. "
      "Ratio = peer time / divjax time (> 1: divjax is faster).", "",
      "| case | dtype | implementation | median time | ratio | divjax compile | max \\|Δ log π\\| |",
      "|---|---|---|---|---|---|---|",
  ]
  for r in rows:
    comp = f"{r['compile_s']:.2f} s" if r["compile_s"] is not None else ""
    lines.append(f"| {r['case']} | {r['dtype']} | {r['impl']} | {r['median_s'] * 1e3:.1f} ms | "
                 f"{r['ratio']:.2f}× | {comp} | {r['max_diff']:.1e} |")
  lines += ["", "Machine:", "", *_machine(load), ""]
  return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_games",
                                   description=__doc__.split("\n\n")[0])
  parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds): a smoke run")
  parser.add_argument("--out", default=os.path.join("benchmarks", "RESULTS.md"),
                      help="Markdown file whose bench_games section is replaced")
  args = parser.parse_args(argv)
  sizes = QUICK if args.quick else DEFAULT
  load_before = os.getloadavg()
  start = time.perf_counter()
  rows = []
  single = f"1 game, n = {sizes.n_single}, {sizes.iterations} iterations"
  batch = f"{sizes.batch} (β, seed) pairs, n = {sizes.n_batch}, {sizes.iterations} iterations"
  for dtype in (np.float32, np.float64):
    rows += run_case(single, sizes, dtype, "single")
    rows += run_case(batch, sizes, dtype, "batch")
  wall_s = time.perf_counter() - start
  write_section("bench_games", render(rows, sizes, wall_s, (load_before, os.getloadavg())), args.out)
  print(f"\nwrote {args.out} ({wall_s:.1f} s)")
  return 0


if __name__ == "__main__":
  sys.exit(main())
