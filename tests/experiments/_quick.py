"""The end-to-end fixture every experiment's tests share: README command 1 for one experiment."""

import json
import os
import pathlib
import subprocess
import sys
from typing import Any


def run_quick(name: str, tmp_path_factory: Any, *, timeout: float = 900) -> tuple[pathlib.Path, dict]:
  """Runs ``python -m experiments run NAME --out ROOT`` at quick scale; returns (folder, results).

  ROOT is ``$DIVJAX_RESULTS`` when set (CI points it at its main job's folder, so a run whose config
  hash matches is reused, not recomputed), else a fresh temporary folder. The command runs from the
  checkout's root, where ``experiments`` (not installed with divjax) is importable.
  """
  out = pathlib.Path(os.environ.get("DIVJAX_RESULTS") or tmp_path_factory.mktemp("results"))
  proc = subprocess.run([sys.executable, "-m", "experiments", "run", name, "--out", str(out)],
                        capture_output=True, text=True, timeout=timeout, env=os.environ.copy(),
                        cwd=pathlib.Path(__file__).resolve().parents[2])
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert name in proc.stdout and (" ok " in proc.stdout or " cached " in proc.stdout), proc.stdout
  return out / name, json.loads((out / name / "results.json").read_text())
