"""The prepared accelerator run, ``benchmarks/device/run.sh``, in its ``--smoke`` mode (tiny sizes, any backend)."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_smoke_mode_writes_every_section_to_its_own_folder_only(tmp_path):
  real = ROOT / "benchmarks" / "RESULTS-gpu.md"
  before = real.read_bytes() if real.exists() else None
  # The smoke mode's own 50 s budget is for a quiet machine; a loaded CI machine (two test workers
  # on two cores) gets a generous one, since the test checks what is written, not how fast.
  env = {**os.environ, "PYTHON": sys.executable, "DIVJAX_DEVICE_BUDGET": "300"}
  env.pop("XLA_FLAGS", None)  # the script passes the caller's flags on as given; use XLA's defaults
  proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "device" / "run.sh"), "--smoke", "--out",
                         str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=420)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  text = (tmp_path / "RESULTS-gpu.md").read_text()
  assert text.startswith("# divjax on an accelerator (smoke run")
  for heading in ("## Matmul peak", "## KDE log-density", "## Sinkhorn", "## Nash-MP vmapped",
                  "## Paper-scale runs"):
    assert heading in text, heading
  assert "Failed:" not in text, text
  assert "== tests exit status: 0" in (tmp_path / "device-run.log").read_text()
  assert (real.read_bytes() if real.exists() else None) == before  # the real file is untouched
