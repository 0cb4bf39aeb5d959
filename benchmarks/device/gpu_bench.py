r"""The measurements of the device script (``benchmarks/device/run.sh``), one section each.

    python -m benchmarks.device.gpu_bench --out DIR            # GPU sizes; writes DIR/RESULTS-gpu.md
    python -m benchmarks.device.gpu_bench --smoke --out DIR    # tiny sizes, any backend, < 1 min
    python -m benchmarks.device.gpu_bench --sections sinkhorn --out DIR   # some sections only

Sections (each timed with ``block_until_ready``, compile apart, median of the timed calls after a
warm-up call; inputs from a fixed seed):

* ``peak``: float32 matmul at ``Precision.HIGHEST`` and ``DEFAULT`` (TF32-class on NVIDIA GPUs) and a
  bfloat16 matmul, in TFLOP/s — the peaks the other sections are compared with, measured in the same
  run — plus the forecast model's rates for this device (:func:`experiments._forecast.measure_throughput`);
* ``kde``: :func:`divjax.kde.log_density` at n data points, m queries, d dimensions, as a fraction of
  the float32 HIGHEST matmul peak (its matmul does 2·m·n·d flops), with its error against a float64
  NumPy oracle on the first queries;
* ``sinkhorn``: :func:`divjax.ot.batched_sinkhorn_cost` ``method="loop"`` against ``"vmap"`` over a grid of
  batch sizes, problem sizes and ε mixes (a mix makes iteration counts differ within a batch); the
  faster method per case and the rule it supports (needs ott-jax; skipped without it);
* ``nash``: Nash-MP on B games vmapped against one game (per-game time), the batch the experiments use;
* ``paper``: paper-scale experiment runs that fit the time left (``python -m experiments run NAME
  --scale paper``, each under its own timeout), with their gap, checks and timings.

Every section is written to ``DIR/RESULTS-gpu.md`` as soon as it finishes (a later failure or timeout
keeps the earlier sections), and the paper-scale summaries to ``DIR/paper-summaries.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

import numpy as np

SEED = 0
SECTIONS = ("peak", "kde", "sinkhorn", "nash", "paper")


@dataclasses.dataclass(frozen=True)
class Sizes:
  matmul: int
  kde: tuple[int, int, int]                    # n data, m queries, d
  sinkhorn: tuple[tuple[int, int], ...]        # (batch, points per cloud)
  nash: tuple[int, int, int]                   # batch, actions, iterations
  repeats: int
  paper: tuple[tuple[str, float], ...]         # (experiment, timeout seconds), in priority order


GPU = Sizes(matmul=8192, kde=(1_000_000, 10_000, 64), sinkhorn=((16, 1024), (64, 256), (256, 128)),
            nash=(256, 100, 1000), repeats=5,
            paper=(("kde_regimes", 200.0), ("alignment_asymptotics", 90.0), ("gaussian_ib", 120.0),
                   ("layerwise_bounds", 120.0), ("sinkhorn_kd", 150.0)))
CPU = Sizes(matmul=1024, kde=(20_000, 1_000, 32), sinkhorn=((16, 256), (64, 128), (64, 64)),
            nash=(64, 100, 1000), repeats=5, paper=())
SMOKE = Sizes(matmul=128, kde=(500, 50, 4), sinkhorn=((4, 16),), nash=(4, 10, 20), repeats=2, paper=())


def _median_seconds(fn: Callable[[], Any], repeats: int) -> float:
  import jax
  jax.block_until_ready(fn())  # warm-up
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return statistics.median(times)


def _compile_seconds(jitted, *args) -> tuple[Any, float]:
  t0 = time.perf_counter()
  compiled = jitted.lower(*args).compile()
  return compiled, time.perf_counter() - t0


def have_ott() -> bool:
  try:
    import ott  # noqa: F401
    return True
  except ImportError:
    return False


# ---------------------------------------------------------------------------------------------------
# Sections.


def peak(sizes: Sizes) -> tuple[str, dict[str, Any]]:
  import jax
  import jax.numpy as jnp
  from experiments import _forecast
  n = sizes.matmul
  key = jax.random.PRNGKey(SEED)
  a32 = jax.random.normal(key, (n, n), jnp.float32)
  rows, out = [], {}
  for label, x, precision in (("float32, Precision.HIGHEST", a32, jax.lax.Precision.HIGHEST),
                              ("float32, Precision.DEFAULT", a32, jax.lax.Precision.DEFAULT),
                              ("bfloat16", a32.astype(jnp.bfloat16), None)):
    compiled, c = _compile_seconds(jax.jit(lambda u, p=precision: jnp.matmul(u, u, precision=p)), x)
    t = _median_seconds(lambda: compiled(x), sizes.repeats)
    tflops = 2.0 * n**3 / t / 1e12
    out[label] = tflops
    rows.append(f"| {label} | {n} | {t * 1e3:.3g} ms | {tflops:.3g} | {c:.2f} s |")
  small = dict(matmul_size=128, elementwise_size=1 << 14, loop_length=100, repeats=2) if n <= 256 else {}
  rates = _forecast.measure_throughput(label=f"{jax.devices()[0].device_kind} (measured)", **small)
  out["rates"] = rates._asdict()
  text = ["## Matmul peak (measured in this run)", "",
          "| dtype and precision | n | time | TFLOP/s | compile |", "|---|---|---|---|---|", *rows, "",
          "The forecast model's rates measured on this device (`experiments._forecast.measure_throughput`), "
          "to set beside the assumed H100 floor (`experiments._forecast.H100`):", "",
          "```", _forecast.format_rates([rates, _forecast.H100]), "```"]
  return "\n".join(text), out


def kde_section(sizes: Sizes, peak_tflops: float | None) -> tuple[str, dict[str, Any]]:
  import jax
  import jax.numpy as jnp
  from divjax import kde
  n, m, d = sizes.kde
  rng = np.random.default_rng(SEED)
  y = jnp.asarray(rng.standard_normal((n, d)), jnp.float32)
  x = jnp.asarray(rng.standard_normal((m, d)), jnp.float32)
  h = 1.0
  fn = jax.jit(lambda x, y: kde.log_density(x, y, h))
  compiled, c = _compile_seconds(fn, x, y)
  t = _median_seconds(lambda: compiled(x, y), sizes.repeats)
  got = np.asarray(compiled(x, y))[:8].astype(np.float64)
  # float64 NumPy oracle on the first 8 queries (chunks of data points).
  xs, ys = np.asarray(x[:8], np.float64), np.asarray(y, np.float64)
  acc = np.full(8, -np.inf)
  for s in range(0, n, 100_000):
    blk = ys[s:s + 100_000]
    sq = ((xs[:, None, :] - blk[None, :, :])**2).sum(-1)
    acc = np.logaddexp(acc, np.logaddexp.reduce(-sq / (2 * h * h), axis=1))
  want = acc - math.log(n) - d * math.log(h) - 0.5 * d * math.log(2 * math.pi)
  err = float(np.max(np.abs(got - want)))
  tflops = 2.0 * m * n * d / t / 1e12
  frac = tflops / peak_tflops if peak_tflops else float("nan")
  text = ["## KDE log-density at GPU sizes", "",
          "| n | m | d | time | matmul TFLOP/s | fraction of the float32 HIGHEST peak | max error vs float64 (8 queries) | compile |",
          "|---|---|---|---|---|---|---|---|",
          f"| {n} | {m} | {d} | {t * 1e3:.3g} ms | {tflops:.3g} | {frac:.2%} | {err:.1e} nats | {c:.2f} s |", "",
          "The matmul flops are 2·m·n·d (the whitened |x|²+|y|²−2x·y distances at Precision.HIGHEST); "
          "the streaming logsumexp around them is extra work, so the fraction is a lower bound on how "
          "busy the matmul units are."]
  return "\n".join(text), {"n": n, "m": m, "d": d, "seconds": t, "tflops": tflops, "fraction": frac,
                           "max_error": err}


def sinkhorn_section(sizes: Sizes) -> tuple[str, dict[str, Any]]:
  if not have_ott():
    return ("## Sinkhorn: loop vs vmap\n\nSkipped: ott-jax is not installed here (carry its wheel in "
            "`.whl/`, see `benchmarks/device/run.sh`).", {"skipped": "ott-jax missing"})
  import jax
  import jax.numpy as jnp
  from divjax import ot
  rng = np.random.default_rng(SEED)
  rows, cases = [], []
  for batch, npts in sizes.sinkhorn:
    for mix in ("equal ε", "mixed scales"):
      x = rng.standard_normal((batch, npts, 8)).astype(np.float32)
      y = rng.standard_normal((batch, npts, 8)).astype(np.float32)
      if mix == "mixed scales":  # clouds at different scales: iteration counts differ in the batch
        scale = np.geomspace(0.3, 3.0, batch).astype(np.float32)[:, None, None]
        x, y = x * scale, y * scale
      x, y = jnp.asarray(x), jnp.asarray(y)
      loop = jax.jit(lambda x, y: ot.batched_sinkhorn_cost(
          x, y, epsilon=0.5, method="loop", options=ot.SinkhornOptions(max_iterations=2000)))
      c_loop, comp_loop = _compile_seconds(loop, x, y)
      res = c_loop(x, y)
      budget = int(np.max(np.asarray(res.n_iters)))
      budget = max(10, int(math.ceil(budget / 10) * 10))
      vmap = jax.jit(lambda x, y, b=budget: ot.batched_sinkhorn_cost(
          x, y, epsilon=0.5, method="vmap", options=ot.SinkhornOptions(max_iterations=b)))
      c_vmap, comp_vmap = _compile_seconds(vmap, x, y)
      t_loop = _median_seconds(lambda: c_loop(x, y), sizes.repeats)
      t_vmap = _median_seconds(lambda: c_vmap(x, y), sizes.repeats)
      diff = float(np.max(np.abs(np.asarray(c_vmap(x, y).value) - np.asarray(res.value))))
      its = np.asarray(res.n_iters)
      faster = "loop" if t_loop < t_vmap else "vmap"
      cases.append({"batch": batch, "points": npts, "mix": mix, "loop_s": t_loop, "vmap_s": t_vmap,
                    "iterations_min": int(its.min()), "iterations_max": int(its.max()),
                    "faster": faster, "max_abs_diff": diff})
      rows.append(f"| {batch} | {npts} | {mix} | {its.min()}–{its.max()} | {t_loop * 1e3:.3g} ms | "
                  f"{t_vmap * 1e3:.3g} ms (budget {budget}) | {t_vmap / t_loop:.2f} | {faster} | "
                  f"{diff:.1e} | {comp_loop:.1f} / {comp_vmap:.1f} s |")
  wins = {m: sum(c["faster"] == m for c in cases) for m in ("loop", "vmap")}
  verdict = max(wins, key=wins.get)
  backend = jax.default_backend()
  text = ["## Sinkhorn: `batched_sinkhorn_cost` loop vs vmap", "",
          f"Backend `{backend}`; d = 8, ε = 0.5 (absolute), threshold 1e-3. `loop`: `lax.map` of the "
          "early-stopping solver; `vmap`: a fixed budget equal to the largest iteration count the loop "
          "needed, rounded up to 10 (so both return converged values).", "",
          "| batch | points | clouds | loop iterations | loop | vmap | vmap / loop | faster | max |Δ value| | compile loop / vmap |",
          "|---|---|---|---|---|---|---|---|---|---|", *rows, "",
          f"Faster in {wins['loop']} of {len(cases)} cases: loop; {wins['vmap']}: vmap. "
          f"Measured default for `{backend}`: **{verdict}** (the current `default_batch_method('{backend}')` "
          f"is `{ot.default_batch_method(backend)}`)."]
  return "\n".join(text), {"backend": backend, "cases": cases, "verdict": verdict}


def nash_section(sizes: Sizes) -> tuple[str, dict[str, Any]]:
  import jax
  import jax.numpy as jnp
  from divjax import games
  batch, n, iters = sizes.nash
  keys = jax.random.split(jax.random.PRNGKey(SEED), batch)
  game_list = [games.uniform(k, n, beta=0.1) for k in keys]
  stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *game_list)

  def one(g):
    final, _ = games.run(games.nash_mp.solver(step_size=2.0 * g.beta), g, num_steps=iters, metrics=())
    return final.log_pi

  single, c1 = _compile_seconds(jax.jit(one), game_list[0])
  batched, cb = _compile_seconds(jax.jit(jax.vmap(one)), stacked)
  t1 = _median_seconds(lambda: single(game_list[0]), sizes.repeats)
  tb = _median_seconds(lambda: batched(stacked), sizes.repeats)
  text = ["## Nash-MP vmapped", "",
          "| games | actions | iterations | one game | batch (vmap) | per game in the batch | speed-up per game | compile one / batch |",
          "|---|---|---|---|---|---|---|---|",
          f"| {batch} | {n} | {iters} | {t1 * 1e3:.3g} ms | {tb * 1e3:.3g} ms | {tb / batch * 1e3:.3g} ms | "
          f"{t1 * batch / tb:.1f}× | {c1:.2f} / {cb:.2f} s |"]
  return "\n".join(text), {"batch": batch, "n": n, "iterations": iters, "one_s": t1, "batch_s": tb}


def paper_section(sizes: Sizes, out: pathlib.Path, deadline: float) -> tuple[str, dict[str, Any]]:
  import tempfile
  if not sizes.paper:
    return "## Paper-scale runs that fit\n\nNone in this mode (GPU sizes only).", {}
  rows, summaries = [], {}
  root = pathlib.Path(__file__).resolve().parents[2]
  # The full results stay in a temporary folder (the device tool returns only a few files from $OUT).
  results = pathlib.Path(tempfile.mkdtemp(prefix="divjax-paper-"))
  for name, timeout in sizes.paper:
    left = deadline - time.monotonic()
    if name in ("sinkhorn_kd", "fdiv_modes") and not have_ott():
      rows.append(f"| `{name}` | skipped: ott-jax missing | | | |")
      continue
    if left < timeout:
      rows.append(f"| `{name}` | skipped: {left:.0f} s left, needs up to {timeout:.0f} s | | | |")
      continue
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "experiments", "run", name, "--scale", "paper", "--out", str(results)]
    try:
      proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout)
      status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
      tail = (proc.stdout + proc.stderr)[-300:]
    except subprocess.TimeoutExpired:
      status, tail = f"timeout ({timeout:.0f} s)", ""
    wall = time.monotonic() - t0
    path = results / name / "results.json"
    if path.exists():
      doc = json.loads(path.read_text())
      gap = doc.get("gap", {})
      summaries[name] = {"status": doc["metadata"]["status"], "gap": gap, "checks": doc.get("checks"),
                         "timings": doc["metadata"]["timings"], "device": doc["metadata"]["device"],
                         "wall_s": wall}
      rows.append(f"| `{name}` | {doc['metadata']['status']} | {gap.get('metric', '')}: "
                  f"{gap.get('value')} (tol {gap.get('tolerance')}) | {wall:.0f} s | "
                  f"{doc['metadata']['timings'].get('compile_s', '')} s |")
    else:
      summaries[name] = {"status": status, "wall_s": wall, "output_tail": tail}
      rows.append(f"| `{name}` | {status} | | {wall:.0f} s | |")
  text = ["## Paper-scale runs that fit", "",
          "| experiment | status | gap | wall | compile |", "|---|---|---|---|---|", *rows, "",
          f"Full summaries (gap, checks, timings, device) in `paper-summaries.json`; the runs' own "
          f"folders were written to `{results}` on the machine that ran them."]
  (out / "paper-summaries.json").write_text(json.dumps(summaries, indent=2, default=str) + "\n")
  return "\n".join(text), summaries


# ---------------------------------------------------------------------------------------------------


def _header(smoke: bool) -> str:
  import jax
  dev = jax.devices()[0]
  return "\n".join([
      "# divjax on an accelerator" + (" (smoke run: tiny sizes, timings meaningless)" if smoke else ""),
      "",
      f"Written by `benchmarks/device/run.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: "
      f"{dev.device_kind} ({jax.default_backend()}, {jax.device_count()} device(s)), jax {jax.__version__}, "
      f"Python {platform.python_version()}, ott-jax {'present' if have_ott() else 'missing'}.", ""])


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--out", required=True, help="folder for RESULTS-gpu.md and paper-summaries.json")
  parser.add_argument("--smoke", action="store_true", help="tiny sizes, any backend, < 1 min")
  parser.add_argument("--sections", default=",".join(SECTIONS),
                      help=f"comma-separated subset of {','.join(SECTIONS)}")
  parser.add_argument("--budget", type=float, default=300.0,
                      help="seconds this driver may take; paper runs stop starting when it is spent")
  args = parser.parse_args(argv)
  import jax
  deadline = time.monotonic() + args.budget
  sizes = SMOKE if args.smoke else (GPU if jax.default_backend() != "cpu" else CPU)
  out = pathlib.Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  wanted = [s.strip() for s in args.sections.split(",") if s.strip()]
  unknown = set(wanted) - set(SECTIONS)
  if unknown:
    parser.error(f"unknown sections {sorted(unknown)}; known: {SECTIONS}")
  parts = [_header(args.smoke)]
  data: dict[str, Any] = {}

  def write():
    (out / "RESULTS-gpu.md").write_text("\n\n".join(parts) + "\n")
    (out / "measurements.json").write_text(json.dumps(data, indent=2, default=str) + "\n")

  peak_tflops = None
  for section in wanted:
    t0 = time.monotonic()
    print(f"[gpu_bench] {section} ...", flush=True)
    try:
      if section == "peak":
        text, data["peak"] = peak(sizes)
        peak_tflops = data["peak"]["float32, Precision.HIGHEST"]
      elif section == "kde":
        text, data["kde"] = kde_section(sizes, peak_tflops)
      elif section == "sinkhorn":
        text, data["sinkhorn"] = sinkhorn_section(sizes)
      elif section == "nash":
        text, data["nash"] = nash_section(sizes)
      else:
        text, data["paper"] = paper_section(sizes, out, deadline)
    except Exception as err:  # one failing section must not lose the others
      text = f"## {section}\n\nFailed: `{type(err).__name__}: {err}`"
      data[section] = {"error": f"{type(err).__name__}: {err}"}
    parts.append(text)
    write()
    print(f"[gpu_bench] {section} done in {time.monotonic() - t0:.1f} s", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
