"""Several processes on JAX's own runtime (``jax.distributed``): the local launcher and sharded sweeps.

``python -m experiments run NAME --processes 2`` starts two processes on 127.0.0.1 (gloo CPU
collectives, a free port chosen at run time), every subprocess under a timeout. Each process has two
CPU devices, so the global mesh has four, as in the single-process runs of the suite
(``--xla_force_host_platform_device_count=4``): the per-device programs are the same and the results
are expected to be equal bit for bit.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from experiments import _distributed
from tests.experiments._quick import subprocess_env

ROOT = pathlib.Path(__file__).resolve().parents[2]

#: The cheapest registered experiment with sweeps (two, over 2304 and 9 problems at quick scale).
NAME = "alignment_asymptotics"


def _env_with_devices(k: int) -> dict[str, str]:
  env = subprocess_env()
  env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={k}"
  return env


def _run_bounded(cmd, *, env, timeout):
  """Runs ``cmd`` in its own session; on timeout the whole session (launcher and children) dies."""
  proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True)
  try:
    out, err = proc.communicate(timeout=timeout)
  except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGKILL)
    out, err = proc.communicate()
    pytest.fail(f"{cmd} did not finish within {timeout} s:\n{out}\n{err}")
  return proc.returncode, out, err


def _comparable(doc: dict) -> dict:
  return {k: doc[k] for k in ("tables", "summary", "gap", "checks")}


@pytest.mark.slow
def test_two_processes_equal_one_process_and_only_process_0_writes(tmp_path):
  out = tmp_path / "two_processes"
  t0 = time.monotonic()
  code, stdout, stderr = _run_bounded(
      [sys.executable, "-m", "experiments", "run", NAME, "--processes", "2", "--timeout", "540",
       "--out", str(out)], env=_env_with_devices(2), timeout=600)
  wall = time.monotonic() - t0
  assert code == 0, stdout + stderr
  assert NAME in stdout and " ok " in stdout, stdout
  assert "process 1: written by process 0" in stderr, stderr
  # Process 0 alone wrote: one result folder (plus the run lock), complete.
  assert sorted(p.name for p in out.iterdir()) == [f".{NAME}.lock", NAME]
  doc = json.loads((out / NAME / "results.json").read_text())
  assert doc["metadata"]["device"]["process_count"] == 2
  assert doc["metadata"]["device"]["device_count"] == 4
  # One process with four devices, run here: the suite's shared results (and CI's main job, which
  # runs with one device) may hold a result of another device count.
  single_out = tmp_path / "one_process"
  code, stdout, stderr = _run_bounded(
      [sys.executable, "-m", "experiments", "run", NAME, "--out", str(single_out)],
      env=_env_with_devices(4), timeout=600)
  assert code == 0, stdout + stderr
  single = json.loads((single_out / NAME / "results.json").read_text())
  assert single["metadata"]["device"]["process_count"] == 1
  assert single["metadata"]["device"]["device_count"] == 4
  assert _comparable(doc) == _comparable(single)  # every number equal, bit for bit
  print(f"two processes: {wall:.1f} s wall")


def test_a_failing_process_stops_the_launch_with_its_status(capfd):
  # Both children reject --scale at argument parsing and exit with status 2.
  t0 = time.monotonic()
  status = _distributed.launch_local([NAME, "--scale", "nonsense"], 2, timeout_s=120,
                                     env=_env_with_devices(1))
  assert status == 2
  assert time.monotonic() - t0 < 120
  assert "invalid choice: 'nonsense'" in capfd.readouterr().err


def test_the_launch_timeout_stops_every_process(tmp_path, capfd):
  t0 = time.monotonic()
  status = _distributed.launch_local([NAME, "--out", str(tmp_path)], 2, timeout_s=0.5,
                                     env=_env_with_devices(1))
  assert status == 124
  assert time.monotonic() - t0 < 60
  assert "--timeout 0.5 s reached; stopping every process" in capfd.readouterr().err


def test_cli_rejects_processes_with_coordinator(capsys):
  from experiments import _cli
  with pytest.raises(SystemExit):
    _cli.main(["run", NAME, "--processes", "2", "--coordinator", "127.0.0.1:1234",
               "--num-processes", "2", "--process-id", "0"])
  assert "--processes launches its own processes" in capsys.readouterr().err


def test_coordinator_needs_process_count_and_index():
  with pytest.raises(ValueError, match="--coordinator needs --num-processes and --process-id"):
    _distributed.initialize("127.0.0.1:1234", None, None)
  with pytest.raises(ValueError, match="HOST:PORT"):
    _distributed.initialize("127.0.0.1", 2, 0)


def test_loopback_gloo_hook_matches_this_jax():
  # The local launcher keeps gloo on 127.0.0.1 through one internal JAX call; a JAX release that
  # changes it must be noticed here rather than silently falling back to the host's address.
  code = ("from experiments import _distributed\n"
          "assert _distributed._use_loopback_gloo()\n")
  proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env_with_devices(1),
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
