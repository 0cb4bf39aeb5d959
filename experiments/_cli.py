"""The ``python -m experiments`` command line."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from experiments import _harness


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="python -m experiments",
      description="Reproduce divjax's experiments: results.json, tidy CSVs and a figure each.")
  sub = parser.add_subparsers(dest="command", required=True)

  sub.add_parser("list", help="list the registered experiments")

  run = sub.add_parser("run", help="run experiments and write results/<name>/")
  run.add_argument("names", nargs="*", help="experiments to run")
  run.add_argument("--all", action="store_true", help="run every registered experiment")
  run.add_argument("--scale", choices=_harness.SCALES, default="quick",
                   help="quick: about a minute on a laptop CPU; paper: accelerator scale")
  run.add_argument("--seed", type=int, default=0, help="root PRNG seed (default 0)")
  run.add_argument("--out", default="results", help="results root (default results/)")
  run.add_argument("--force", action="store_true", help="re-run even if a matching result exists")
  run.add_argument("--figures", default=None, metavar="DIR",
                   help="also copy each figure.png to DIR/<name>.png (e.g. docs/figures)")
  run.add_argument("--dry-run", action="store_true",
                   help="compile every program at --scale and print its memory, flops and an "
                        "estimated time here and on one GPU; execute and write nothing")
  multi = run.add_argument_group(
      "several processes (jax.distributed; see docs/scaling.md)",
      "sweeps are sharded over the devices of every process; process 0 writes the results")
  multi.add_argument("--processes", type=int, default=None, metavar="N",
                     help="launch N processes on this host (loopback only) and wait for them")
  multi.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                     help="with --processes: stop every process after this long (default: none)")
  multi.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                     help="this is one process of a multi-process run; process 0's coordinator")
  multi.add_argument("--num-processes", type=int, default=None, metavar="N")
  multi.add_argument("--process-id", type=int, default=None, metavar="I")
  multi.add_argument("--distributed", action="store_true",
                     help="one process of a multi-process run whose coordinator, size and index JAX "
                          "detects (SLURM, Cloud TPU, Open MPI)")

  plot = sub.add_parser("plot", help="redraw figures from stored results")
  plot.add_argument("names", nargs="*")
  plot.add_argument("--all", action="store_true")
  plot.add_argument("--out", default="results")
  plot.add_argument("--figures", default=None, metavar="DIR")
  return parser


def _selected(args: argparse.Namespace, parser: argparse.ArgumentParser) -> list[str]:
  if args.all and args.names:
    parser.error("give experiment names or --all, not both")
  names = list(_harness.EXPERIMENTS) if args.all else args.names
  if not names:
    parser.error("name at least one experiment, or pass --all")
  unknown = [n for n in names if n not in _harness.EXPERIMENTS]
  if unknown:
    parser.error(f"unknown experiment(s): {', '.join(unknown)}; "
                 f"known: {', '.join(_harness.EXPERIMENTS)}")
  return names


def main(argv: Sequence[str] | None = None) -> int:
  parser = _parser()
  args = parser.parse_args(argv)
  if args.command == "list":
    for name in _harness.EXPERIMENTS:
      module = _harness.load(name)
      print(f"{name:<20} {getattr(module, 'DESCRIPTION', '')}")
    return 0

  names = _selected(args, parser)
  if args.command == "run" and args.dry_run:
    return _dry_run(names, args, parser)
  if args.command == "run" and args.processes is not None:
    return _launch(names, args, parser)
  if args.command == "run" and (args.coordinator or args.distributed):
    # Before any other JAX use: the backend must see every process.
    from experiments import _distributed
    try:
      _distributed.initialize(None if args.distributed else args.coordinator, args.num_processes,
                              args.process_id)
    except ValueError as err:
      parser.error(str(err))
  if args.command == "run" and _main_process(args):
    try:
      _harness.writable_folder(args.out, what="--out")
    except ValueError as err:
      parser.error(str(err))
  from tqdm.auto import tqdm
  records = []
  progress = tqdm(names, desc=args.command, unit="exp", disable=len(names) < 2, file=sys.stderr)
  for name in progress:
    progress.set_postfix_str(name)
    if args.command == "run":
      record = _harness.run_experiment(name, scale=args.scale, seed=args.seed, out=args.out,
                                       force=args.force, figures=args.figures)
    else:
      record = _harness.replot(name, out=args.out, figures=args.figures)
    records.append(record)
  print()
  print(_harness.format_table(records))
  failed = [r for r in records if r.status.startswith(("error", "check failed"))]
  return 1 if failed else 0


def _main_process(args: argparse.Namespace) -> bool:
  if not (args.coordinator or args.distributed):
    return True
  import jax
  return jax.process_index() == 0


def _launch(names: list[str], args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
  """--processes N: the same command as N local processes (experiments._distributed.launch_local)."""
  from experiments import _distributed
  if args.coordinator or args.distributed:
    parser.error("--processes launches its own processes; drop --coordinator/--distributed")
  if args.processes < 1:
    parser.error(f"--processes must be >= 1, got {args.processes}")
  try:
    _harness.writable_folder(args.out, what="--out")
  except ValueError as err:
    parser.error(str(err))
  child = [*(["--all"] if args.all else names), "--scale", args.scale, "--seed", str(args.seed),
           "--out", str(args.out)]
  child += ["--force"] if args.force else []
  child += ["--figures", str(args.figures)] if args.figures else []
  return _distributed.launch_local(child, args.processes, timeout_s=args.timeout)


def _dry_run(names: list[str], args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
  """--dry-run: compile, report memory, flops and estimated times; run and write nothing."""
  from experiments import _forecast
  if args.processes is not None or args.coordinator or args.distributed:
    parser.error("--dry-run runs in one process; drop --processes/--coordinator/--distributed")
  rates = [_forecast.measure_throughput(), _forecast.H100]
  print(_forecast.format_rates(rates))
  if args.scale != "quick":
    print("each experiment's quick configuration also runs (for real, nothing written) to calibrate "
          "the model on this machine")
  rows, failed = [], False
  for name in names:
    try:
      result = _harness.forecast(name, scale=args.scale, seed=args.seed, rates=rates[0])
    except Exception as err:  # one failing experiment must not stop the others
      print(f"\n{name}: dry run failed: {type(err).__name__}: {err}")
      failed = True
      continue
    print()
    print(_forecast.format_report(name, args.scale, result.programs, rates, result.calibration,
                                  result.outside_s, result.compile_s))
    if result.message:
      print(f"note: the dry run {result.message}; programs after that point are not counted.")
      failed = True
    print(f"(dry run of {name}: {result.seconds:.1f} s, of which compiling {result.compile_s:.1f} s)")
    rows.append((name, _forecast.summarize(result.programs, rates, result.calibration,
                                           result.outside_s, result.compile_s)))
  print()
  print(_forecast.format_summary(rows, rates))
  return 1 if failed else 0
