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
  if args.command == "run":
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
