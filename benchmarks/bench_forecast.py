r"""How good is ``--dry-run``'s time estimate? Forecast against measured seconds, per compiled program.

    python -m benchmarks.bench_forecast                       # every experiment at quick scale
    python -m benchmarks.bench_forecast fdiv_modes nash_mp    # some of them
    python -m benchmarks.bench_forecast --out FILE.md         # write the section elsewhere

Each experiment runs at quick scale with the harness recording its programs *and* executing them
(``experiments._harness.dry_run(execute=True)``): every program of every :func:`sweep` and
:func:`call` gets the dry run's loop-aware cost, the time the forecast model gives it at the rates
measured now on this machine (:func:`experiments._forecast.measure_throughput`), and the seconds its
calls actually took. The table reports, per experiment, forecast and measured seconds summed over its
programs and their ratio, and the work outside sweeps and calls (executed eagerly, not forecast).
Nothing is written to ``results/``. The section goes to ``benchmarks/RESULTS.md`` (``bench_forecast``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time

from benchmarks._results import write_section
from experiments import _forecast, _harness


def calibrate(name: str, rates: _forecast.Throughput, *, scale: str = "quick") -> dict:
  module = _harness.load(name)
  config = _harness.config_for(module, scale)
  t0 = time.perf_counter()
  with _harness.dry_run(execute=True) as recording:
    module.run(config, seed=0)
  wall = time.perf_counter() - t0
  programs = recording.programs
  forecast = sum(_forecast.program_seconds(p, rates) for p in programs)
  measured = sum(p.measured_s for p in programs)
  compile_s = sum(p.compile_s for p in programs)
  return {"name": name, "programs": len(programs), "forecast_s": forecast, "measured_s": measured,
          "compile_s": compile_s, "other_s": wall - measured - compile_s - recording.overhead_s,
          "wall_s": wall,
          "lower_bound": any(p.cost.while_loops for p in programs),
          "detail": [(p.name, p.calls, _forecast.program_seconds(p, rates), p.measured_s)
                     for p in programs]}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("names", nargs="*", help="experiments (default: all)")
  parser.add_argument("--scale", default="quick", choices=_harness.SCALES)
  parser.add_argument("--out", default=os.path.join("benchmarks", "RESULTS.md"))
  args = parser.parse_args(argv)
  names = args.names or list(_harness.EXPERIMENTS)
  load0 = os.getloadavg()
  rates = _forecast.measure_throughput()
  print(_forecast.format_rates([rates]), flush=True)
  rows = []
  for name in names:
    r = calibrate(name, rates, scale=args.scale)
    rows.append(r)
    print(f"{name}: forecast {r['forecast_s']:.3g} s, measured {r['measured_s']:.3g} s "
          f"(compile {r['compile_s']:.3g} s, outside sweeps/calls {r['other_s']:.3g} s)", flush=True)
    for pname, calls, f, m in r["detail"]:
      print(f"    {pname:<28} calls {calls:>3}  forecast {f:9.3g} s  measured {m:9.3g} s", flush=True)
  load1 = os.getloadavg()
  lines = [
      "## Dry-run forecast against measured time (`bench_forecast`)",
      "",
      f"{datetime.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, "
      f"load average {load0[0]:.2f} before / {load1[0]:.2f} after; {args.scale} scale; "
      f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '(unset)')!r}.",
      "",
      _forecast.format_rates([rates]),
      "",
      "| experiment | programs | forecast s | measured s | measured / forecast | compile s | "
      "outside sweeps and calls s |",
      "|---|---|---|---|---|---|---|",
  ]
  for r in rows:
    lb = "≥ " if r["lower_bound"] else ""
    ratio = r["measured_s"] / r["forecast_s"] if r["forecast_s"] else float("nan")
    lines.append(f"| `{r['name']}` | {r['programs']} | {lb}{r['forecast_s']:.3g} | {r['measured_s']:.3g} | "
                 f"{ratio:.2g} | {r['compile_s']:.3g} | {r['other_s']:.3g} |")
  lines += ["", "Forecast: the loop-aware model of `experiments/_forecast.py` at the rates above, summed "
            "over the programs that `sweep` and `call` run (≥: a while loop counted once). Measured: the "
            "same programs' execution seconds in the same process. *Outside sweeps and calls*: "
            "tracing, eager JAX and NumPy work that a dry run executes for real instead of forecasting. "
            "A ratio far above 1 is what the uncalibrated model misses: while loops counted once (Newton "
            "solves, Sinkhorn, rejection samplers), small operations' overheads, memory traffic beyond "
            "one pass; `--dry-run` at paper scale multiplies each program's estimate by this ratio, "
            "measured program by program on the quick configuration."]
  write_section("bench_forecast", "\n".join(lines) + "\n", args.out)
  return 0


if __name__ == "__main__":
  sys.exit(main())
