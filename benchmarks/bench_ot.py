r"""divjax.ot against direct ott-jax calls and POT, on the same entropic OT problems, in one run.

    python -m benchmarks.bench_ot                 # default sizes, writes benchmarks/RESULTS.md (section bench_ot)
    python -m benchmarks.bench_ot --quick         # tiny sizes, a smoke run (timings meaningless)
    python -m benchmarks.bench_ot --out FILE.md   # write the section elsewhere

Cases (float32 for JAX, float64 for POT, inputs from a fixed seed):

1. **Large problem**: 2 000 × 2 000 points in d = 16 (uniform weights), squared cost, ε ∈ {0.1, 0.01} ×
   the mean cost. Same stopping rule everywhere: the L2 norm of the column-marginal error, checked every
   10 iterations, below ``THRESHOLD``, at most ``max_iterations`` iterations. divjax
   (:func:`divjax.ot.sinkhorn_cost`, jitted) vs the same ott-jax ``PointCloud`` → ``LinearProblem`` →
   ``Sinkhorn`` call written directly (the overhead of divjax's layer) vs POT ``ot.sinkhorn(...,
   method="sinkhorn_log")`` on the precomputed cost matrix (POT checks the same L2 column error every 10
   iterations).
2. **Batch**: 64 independent 256 × 256 problems (d = 16, ε = 0.1 × mean cost): divjax's two paths
   (``method="loop"``: jitted ``lax.map`` with early stopping; ``method="vmap"``: fixed budget = the
   largest iteration count the loop needed, rounded up to the check cadence), direct ott-jax ``vmap`` of
   the early-stopping solver, POT ``ot.sinkhorn_log`` in a Python loop (same rule) and POT
   ``ot.batch.solve_batch(method="log_sinkhorn")`` (its own rule: change of the dual variables < tol).
3. **SinKD loss** forward + backward (``jax.value_and_grad`` with respect to the student logits) at
   B ∈ {64, 256, 1 024}, 10 classes: divjax :func:`divjax.ot.sinkd_loss` vs the same 20 unrolled
   ott-jax iterations written directly vs the public code's row/column loop written in ``jax.numpy``.

JAX timings: compile time (``lower().compile()``) apart; run time = median of ≥ 5 calls after a warm-up,
each ended by ``block_until_ready``; the implementations of a case are timed in interleaved rounds.
NumPy peers have no warm-up (nothing to compile). When any call of a case takes longer than ``SLOW_S``
only ``SLOW_RUNS`` rounds are timed (the *runs* column says so), so the default run stays short.
Ratios are peer time / divjax time (> 1: divjax faster). The header records the machine and the load
average before and after.
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
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import ot as pot
from ott.geometry import geometry as ott_geometry
from ott.geometry import pointcloud
from ott.problems.linear import linear_problem
from ott.solvers.linear import sinkhorn as ott_sinkhorn

from benchmarks._results import write_section
from divjax import ot

SEED = 0
THRESHOLD = 1e-3
SLOW_S = 5.0
SLOW_RUNS = 2


@dataclasses.dataclass(frozen=True)
class Sizes:
  name: str
  n_points: int
  dim: int
  eps_rel: tuple[float, ...]
  max_iterations: int
  batch: int
  batch_points: int
  sinkd_batches: tuple[int, ...]
  classes: int
  repeats: int


DEFAULT = Sizes("default", n_points=2000, dim=16, eps_rel=(0.1, 0.01), max_iterations=2000, batch=64,
                batch_points=256, sinkd_batches=(64, 256, 1024), classes=10, repeats=5)
QUICK = Sizes("quick", n_points=200, dim=16, eps_rel=(0.1, 0.01), max_iterations=2000, batch=8,
              batch_points=64, sinkd_batches=(16, 64), classes=10, repeats=5)


def _interleaved(fns: Sequence[Callable[[], Any]], repeats: int, *, warm_up: bool = True
                 ) -> tuple[list[float], int, list[Any]]:
  """Median times of ``fns`` timed in interleaved rounds (load drift hits them alike).

  One warm-up call each (skipped for NumPy peers with ``warm_up=False``, whose first call is then a
  timed round); ``repeats`` rounds, or ``SLOW_RUNS`` when a call takes longer than ``SLOW_S``.
  Returns (medians, rounds, the last outputs).
  """
  outs: list[Any] = [None] * len(fns)
  times: list[list[float]] = [[] for _ in fns]
  slow = False
  for i, fn in enumerate(fns):
    t0 = time.perf_counter()
    outs[i] = jax.block_until_ready(fn())
    dt = time.perf_counter() - t0
    slow |= dt > SLOW_S
    if not warm_up:
      times[i].append(dt)
  rounds = SLOW_RUNS if slow else repeats
  for _ in range(rounds - (0 if warm_up else 1)):
    for i, fn in enumerate(fns):
      t0 = time.perf_counter()
      outs[i] = jax.block_until_ready(fn())
      times[i].append(time.perf_counter() - t0)
  return [statistics.median(t) for t in times], len(times[0]), outs


def _median_time(fn: Callable[[], Any], repeats: int, *, warm_up: bool = True) -> tuple[float, int]:
  (t,), n, _ = _interleaved([fn], repeats, warm_up=warm_up)
  return t, n


def _compiled(fn: Callable[..., Any], *args: Any) -> tuple[Callable[..., Any], float]:
  t0 = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  return compiled, time.perf_counter() - t0


def _ott_direct(x, y, eps, max_iterations):
  geom = pointcloud.PointCloud(x, y, epsilon=eps)
  prob = linear_problem.LinearProblem(geom)
  out = ott_sinkhorn.Sinkhorn(threshold=THRESHOLD, norm_error=2, inner_iterations=10,
                              max_iterations=max_iterations)(prob)
  # The same outputs as divjax: ⟨P, C⟩ from the materialised plan (ott's ``primal_cost`` goes through a
  # low-rank factorisation that is far slower at this size).
  return out.reg_ot_cost, jnp.sum(out.matrix * out.geom.cost_matrix), out.converged, out.n_iters


def _divjax(x, y, eps, max_iterations):
  r = ot.sinkhorn_cost(x, y, epsilon=eps, options=ot.SinkhornOptions(
      threshold=THRESHOLD, norm_error=2, inner_iterations=10, max_iterations=max_iterations))
  return r.value, r.transport_cost, r.converged, r.n_iters


def _pot_log(M, eps, max_iterations):
  n, m = M.shape
  a, b = np.full(n, 1.0 / n), np.full(m, 1.0 / m)
  P, log = pot.sinkhorn(a, b, M, eps, method="sinkhorn_log", stopThr=THRESHOLD, numItermax=max_iterations,
                        log=True, warn=False)
  return float((P * M).sum()), int(log["niter"])


def _row(case, impl, compile_s, run_s, runs, ref_s, cost, ref_cost, iters, converged) -> dict[str, Any]:
  return {"case": case, "impl": impl, "compile_s": compile_s, "run_s": run_s, "runs": runs,
          "ratio": run_s / ref_s if ref_s else None,
          "cost_rel_diff": abs(cost - ref_cost) / abs(ref_cost) if cost is not None else None,
          "iters": iters, "converged": converged}


def case_large(sizes: Sizes, rows: list[dict[str, Any]]) -> None:
  rng = np.random.default_rng(SEED)
  x = rng.normal(size=(sizes.n_points, sizes.dim))
  y = rng.normal(size=(sizes.n_points, sizes.dim)) * 0.8 + 0.5
  M = ((x[:, None, :] - y[None, :, :])**2).sum(-1)
  mean_cost = float(M.mean())
  xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
  for rel in sizes.eps_rel:
    eps = rel * mean_cost
    case = f"{sizes.n_points}×{sizes.n_points}, d={sizes.dim}, ε={rel:g}·mean cost"
    dj, dj_c = _compiled(lambda x, y: _divjax(x, y, eps, sizes.max_iterations), xj, yj)
    od, od_c = _compiled(lambda x, y: _ott_direct(x, y, eps, sizes.max_iterations), xj, yj)
    (dj_t, od_t), dj_n, (dj_out, od_out) = _interleaved([lambda: dj(xj, yj), lambda: od(xj, yj)],
                                                         sizes.repeats)
    od_n = dj_n
    _, dj_cost, dj_conv, dj_it = (np.asarray(v) for v in dj_out)
    _, od_cost, od_conv, od_it = (np.asarray(v) for v in od_out)
    (pot_t,), pot_n, ((pot_cost, pot_it),) = _interleaved([lambda: _pot_log(M, eps, sizes.max_iterations)],
                                                          sizes.repeats, warm_up=False)
    ref = float(dj_cost)
    rows.append(_row(case, "divjax sinkhorn_cost (jit)", dj_c, dj_t, dj_n, dj_t, ref, ref, int(dj_it),
                     bool(dj_conv)))
    rows.append(_row(case, "ott-jax direct (jit)", od_c, od_t, od_n, dj_t, float(od_cost), ref, int(od_it),
                     bool(od_conv)))
    rows.append(_row(case, "POT sinkhorn_log (f64, M precomputed)", None, pot_t, pot_n, dj_t, pot_cost, ref,
                     pot_it, pot_it < sizes.max_iterations))
    for r in rows[-3:]:
      print(r, flush=True)


def case_batch(sizes: Sizes, rows: list[dict[str, Any]]) -> None:
  rng = np.random.default_rng(SEED + 1)
  p, n, d = sizes.batch, sizes.batch_points, sizes.dim
  x = rng.normal(size=(p, n, d))
  y = rng.normal(size=(p, n, d)) * rng.uniform(0.5, 1.5, size=(p, 1, 1)) + rng.uniform(0, 1, (p, 1, 1))
  M = ((x[:, :, None, :] - y[:, None, :, :])**2).sum(-1)
  eps = 0.1 * float(M.mean())
  case = f"{p} × ({n}×{n}), d={d}, ε=0.1·mean cost"
  xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
  def options(budget):
    return ot.SinkhornOptions(threshold=THRESHOLD, norm_error=2, inner_iterations=10,
                              max_iterations=budget)

  loop, loop_c = _compiled(lambda x, y: ot.batched_sinkhorn_cost(
      x, y, epsilon=eps, method="loop", options=options(sizes.max_iterations)), xj, yj)
  out_loop = loop(xj, yj)
  budget = int(np.ceil(int(np.max(out_loop.n_iters)) / 10) * 10)
  vm, vm_c = _compiled(lambda x, y: ot.batched_sinkhorn_cost(
      x, y, epsilon=eps, method="vmap", options=options(budget)), xj, yj)
  od, od_c = _compiled(jax.vmap(lambda x, y: _ott_direct(x, y, eps, sizes.max_iterations)), xj, yj)
  (loop_t, vm_t, od_t), loop_n, (_, out_vm, out_od) = _interleaved(
      [lambda: loop(xj, yj), lambda: vm(xj, yj), lambda: od(xj, yj)], sizes.repeats)
  vm_n = od_n = loop_n
  ref = np.asarray(out_loop.transport_cost, np.float64)
  ref_t = loop_t  # the CPU default path
  rel = lambda c: float(np.max(np.abs(np.asarray(c, np.float64) - ref) / np.abs(ref)))

  def pot_loop():
    return [_pot_log(M[i], eps, sizes.max_iterations) for i in range(p)]

  def pot_batch():
    res = pot.batch.solve_batch(M, reg=eps, max_iter=sizes.max_iterations, tol=THRESHOLD,
                                method="log_sinkhorn", grad="detach")
    return res

  (pl_t, pb_t), pl_n, (pl, pb) = _interleaved([pot_loop, pot_batch], sizes.repeats, warm_up=False)
  pb_n = pl_n
  pb_cost = (np.asarray(pb.plan) * M).sum((1, 2))
  rows.append(_row(case, "divjax batched, method='loop' (jit)", loop_c, loop_t, loop_n, ref_t, 0.0, 1.0,
                   int(np.max(out_loop.n_iters)), bool(np.all(out_loop.converged))))
  rows[-1]["cost_rel_diff"] = 0.0
  rows.append(_row(case, f"divjax batched, method='vmap' (jit, budget {budget})", vm_c, vm_t, vm_n, ref_t,
                   None, None, budget, bool(np.all(out_vm.converged))))
  rows[-1]["cost_rel_diff"] = rel(out_vm.transport_cost)
  rows.append(_row(case, "ott-jax direct vmap (jit, early stop)", od_c, od_t, od_n, ref_t, None, None,
                   int(np.max(np.asarray(out_od[3]))), bool(np.all(np.asarray(out_od[2])))))
  rows[-1]["cost_rel_diff"] = rel(out_od[1])
  rows.append(_row(case, "POT sinkhorn_log, Python loop (f64)", None, pl_t, pl_n, ref_t, None, None,
                   max(i for _, i in pl), all(i < sizes.max_iterations for _, i in pl)))
  rows[-1]["cost_rel_diff"] = rel([c for c, _ in pl])
  rows.append(_row(case, "POT ot.batch log_sinkhorn (f64, own stopping rule)", None, pb_t, pb_n, ref_t, None,
                   None, None, None))
  rows[-1]["cost_rel_diff"] = rel(pb_cost)
  for r in rows[-5:]:
    print(r, flush=True)


def _sinkd_direct(zs, zt):
  s = jax.nn.softmax(zs / 2.0, axis=-1)
  t = jax.nn.softmax(zt / 2.0, axis=-1)
  cost = jnp.sum(jnp.abs(t[:, None, :] - s[None, :, :]), axis=-1)
  B = zs.shape[0]
  geom = ott_geometry.Geometry(cost_matrix=cost, epsilon=0.1)
  prob = linear_problem.LinearProblem(geom)
  out = ott_sinkhorn.Sinkhorn(min_iterations=20, max_iterations=20, inner_iterations=20,
                              implicit_diff=None)(prob)
  return B * jnp.sum(out.matrix * cost)


def _sinkd_loop_jnp(zs, zt):
  """The public code's loop (kernel domain, rows then columns), written in jax.numpy."""
  s = jax.nn.softmax(zs / 2.0, axis=-1)
  t = jax.nn.softmax(zt / 2.0, axis=-1)
  M = jnp.sum(jnp.abs(s[:, None, :] - t[None, :, :]), axis=-1)
  P = jnp.exp(-M / 0.1)

  def body(P, _):
    P = P / jnp.sum(P, axis=1, keepdims=True)
    return P / jnp.sum(P, axis=0, keepdims=True), None

  P, _ = jax.lax.scan(body, P, None, length=20)
  return jnp.sum(P * M)


def case_sinkd(sizes: Sizes, rows: list[dict[str, Any]]) -> None:
  rng = np.random.default_rng(SEED + 2)
  for B in sizes.sinkd_batches:
    zs = jnp.asarray(rng.normal(size=(B, sizes.classes)), jnp.float32)
    zt = jnp.asarray(rng.normal(size=(B, sizes.classes)) * 2, jnp.float32)
    case = f"SinKD loss fwd+bwd, B={B}, C={sizes.classes}"
    impls = [("divjax sinkd_loss (jit)", lambda a, b: ot.sinkd_loss(a, b)),
             ("ott-jax direct, 20 unrolled (jit)", _sinkd_direct),
             ("public loop in jax.numpy (jit)", _sinkd_loop_jnp)]
    ref_t = ref_v = None
    for name, f in impls:
      c, c_s = _compiled(jax.value_and_grad(f), zs, zt)
      t, nrun = _median_time(lambda: c(zs, zt), sizes.repeats)
      v = float(c(zs, zt)[0])
      if ref_t is None:
        ref_t, ref_v = t, v
      rows.append(_row(case, name, c_s, t, nrun, ref_t, v, ref_v, 20, None))
      print(rows[-1], flush=True)


def _fmt(x: Any, kind: str) -> str:
  if x is None:
    return "–"
  if kind == "s":
    return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"
  if kind == "ratio":
    return f"{x:.2f}×"
  if kind == "rel":
    return f"{x:.1e}"
  return str(x)


def render(rows: Sequence[dict[str, Any]], sizes: Sizes, wall: float, load0, load1) -> str:
  now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
  out = [f"_`python -m benchmarks.bench_ot{' --quick' if sizes.name == 'quick' else ''}` — {now}, "
         f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, backend "
         f"{jax.default_backend()} ({jax.devices()[0].device_kind}), jax {jax.__version__}, POT "
         f"{pot.__version__}; load average before {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, after "
         f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}; wall {wall:.0f} s. Stopping rule: L2 column-"
         f"marginal error < {THRESHOLD:g}, checked every 10 iterations. Ratio = time / the case's first "
         f"divjax row (> 1: divjax faster); cost diff = relative difference of the transport cost "
         f"⟨P, C⟩ from that row._", ""]
  by_case: dict[str, list[dict[str, Any]]] = {}
  for r in rows:
    by_case.setdefault(r["case"], []).append(r)
  for case, rs in by_case.items():
    out += [f"**{case}**", "",
            "| implementation | compile | run (median) | runs | ratio | iterations | converged | cost diff |",
            "|---|---|---|---|---|---|---|---|"]
    for r in rs:
      out.append(f"| {r['impl']} | {_fmt(r['compile_s'], 's')} | {_fmt(r['run_s'], 's')} | {r['runs']} | "
                 f"{_fmt(r['ratio'], 'ratio')} | {_fmt(r['iters'], '')} | {_fmt(r['converged'], '')} | "
                 f"{_fmt(r['cost_rel_diff'], 'rel')} |")
    out.append("")
  return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--quick", action="store_true")
  parser.add_argument("--out", default=os.path.join("benchmarks", "RESULTS.md"))
  parser.add_argument("--cases", default="large,batch,sinkd")
  args = parser.parse_args(argv)
  sizes = QUICK if args.quick else DEFAULT
  load0 = os.getloadavg()
  t0 = time.perf_counter()
  rows: list[dict[str, Any]] = []
  cases = args.cases.split(",")
  if "large" in cases:
    case_large(sizes, rows)
  if "batch" in cases:
    case_batch(sizes, rows)
  if "sinkd" in cases:
    case_sinkd(sizes, rows)
  text = render(rows, sizes, time.perf_counter() - t0, load0, os.getloadavg())
  write_section("bench_ot", text, args.out)
  print(text)
  return 0


if __name__ == "__main__":
  sys.exit(main())
