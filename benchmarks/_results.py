"""Writes one benchmark's section of ``benchmarks/RESULTS.md`` without touching the others.

Each benchmark script owns the text between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``;
re-running one script replaces only its own section, so the file always holds the latest run of every
benchmark. Sections are kept in the order of :data:`ORDER` (unknown names go last).
"""

from __future__ import annotations

import os
import re
import tempfile

ORDER = ("bench_divergences", "bench_kde", "bench_games", "bench_ot", "bench_ib", "bench_forecast",
         "gpu_bench_sinkhorn_cpu")

TITLE = ("# divjax benchmarks\n\n"
         "Each section below is written by one script in `benchmarks/` (see `benchmarks/README.md`); "
         "re-running a script replaces only its own section. Ratios are peer time / divjax time "
         "(> 1: divjax is faster); compile time is reported separately.\n")


def _sections(text: str) -> dict[str, str]:
  pattern = re.compile(r"<!-- begin (\S+) -->\n(.*?)<!-- end \1 -->\n?", re.S)
  return {m.group(1): m.group(2) for m in pattern.finditer(text)}


def write_section(name: str, body: str, path: str | os.PathLike = os.path.join("benchmarks",
                                                                                "RESULTS.md")) -> None:
  """Replaces (or adds) the section ``name`` of ``path`` with ``body``, atomically."""
  path = os.fspath(path)
  try:
    with open(path, encoding="utf-8") as f:
      sections = _sections(f.read())
  except FileNotFoundError:
    sections = {}
  sections[name] = body.rstrip("\n") + "\n"
  names = sorted(sections, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
  text = TITLE + "".join(f"\n<!-- begin {n} -->\n{sections[n]}<!-- end {n} -->\n" for n in names)
  folder = os.path.dirname(path) or "."
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".RESULTS.", suffix=".tmp")
  try:
    with os.fdopen(fd, "w", encoding="utf-8") as f:
      f.write(text)
    os.replace(tmp, path)
  except BaseException:
    os.unlink(tmp)
    raise
