"""The end-to-end fixture every experiment's tests share: README command 1 for one experiment."""

import json
import os
import pathlib
import subprocess
import sys
from typing import Any


def subprocess_env() -> dict[str, str]:
  """This process's environment with XLA's default compiler settings, as README command 1 runs.

  The test processes compile with cheap settings (root conftest.py); a quick run or a notebook
  executes long sweeps, so its subprocess gets ``DIVJAX_SUBPROCESS_XLA_FLAGS`` instead.
  """
  env = os.environ.copy()
  if "DIVJAX_SUBPROCESS_XLA_FLAGS" in env:
    env["XLA_FLAGS"] = env["DIVJAX_SUBPROCESS_XLA_FLAGS"]
  return env


def run_quick(name: str, tmp_path_factory: Any, *, timeout: float = 900) -> tuple[pathlib.Path, dict]:
  """Runs ``python -m experiments run NAME --out ROOT`` at quick scale; returns (folder, results).

  ROOT is ``$DIVJAX_RESULTS`` when set (CI points it at its main job's folder, so a run whose config
  hash matches is reused, not recomputed), else a fresh temporary folder. The command runs from the
  checkout's root, where ``experiments`` (not installed with divjax) is importable, with XLA's
  default compiler settings (``subprocess_env``).
  """
  out = pathlib.Path(os.environ.get("DIVJAX_RESULTS") or tmp_path_factory.mktemp("results"))
  proc = subprocess.run([sys.executable, "-m", "experiments", "run", name, "--out", str(out)],
                        capture_output=True, text=True, timeout=timeout, env=subprocess_env(),
                        cwd=pathlib.Path(__file__).resolve().parents[2])
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert name in proc.stdout and (" ok " in proc.stdout or " cached " in proc.stdout), proc.stdout
  return out / name, json.loads((out / name / "results.json").read_text())
