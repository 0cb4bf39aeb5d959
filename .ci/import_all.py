"""Imports every module of divjax/, experiments/ and benchmarks/ (not ``__main__``), one by one.

Run from the checkout's root inside CI's fresh virtual environment: an import that only works
because something was installed by hand elsewhere fails here. Prints one line per package and
exits non-zero listing every module that failed to import.
"""

import importlib
import pathlib
import sys
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def modules(package: str) -> list[str]:
  names = []
  for path in sorted((ROOT / package).rglob("*.py")):
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__main__":
      continue
    if parts[-1] == "__init__":
      parts = parts[:-1]
    names.append(".".join(parts))
  return names


failed = []
for package in ("divjax", "experiments", "benchmarks"):
  t0 = time.perf_counter()
  names = modules(package)
  for name in names:
    try:
      importlib.import_module(name)
    except Exception:  # noqa: BLE001 - report every failure, then exit non-zero
      failed.append(name)
      traceback.print_exc()
  print(f"imported {len(names)} modules of {package}/ in {time.perf_counter() - t0:.1f} s")

if failed:
  sys.exit("failed to import: " + ", ".join(failed))
